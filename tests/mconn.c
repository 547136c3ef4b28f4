/* mconn.c -- many concurrent connections to one file server from one
 * process, with few threads, using only mysock.h.
 *
 *   mconn [-w WINDOW] HOST:PORT NAME EXPECTED COUNT THREADS [HOLD_S]
 *
 * Opens COUNT connections, spread over THREADS threads.  Each thread
 * connects its share and sends the request line "NAME\r\n" on each; then
 * every thread waits until all COUNT connections are open and asked (so
 * they are all open at once), and reads its connections one after the
 * other, each to the server's FIN, comparing the bytes after the reply line
 * with the file EXPECTED.  While a thread reads one connection, the others'
 * transports keep receiving into their queues, so few threads serve many
 * connections (each has room for the whole reply: no window closes).  With HOLD_S, every connection
 * is first opened, then all are held idle for HOLD_S seconds (prints "mconn: all N open, idle" at
 * its start, so a script can measure the server), then asked.  Prints one line per failure and a
 * summary; exit 0 if every fetch was byte-exact, 1 otherwise, 2 on misuse. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"
#include "fileproto.h"

struct worker {
    pthread_t thread;
    int first, count; /* its connections: sds[first .. first+count) */
    int ok;
};

static struct sockaddr_in server;
static const char *name;
static unsigned char *expected;
static long expected_len;
static mysocket_t *sds;
static pthread_barrier_t all_open, all_connected;
static int hold_s, total_count;
static double start_s;
static long window; /* -w: MYSO_WINDOW, 0 for the default */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static mysocket_t open_one(void)
{
    mysocket_t sd = mysocket(TRUE);
    if (sd < 0) {
        fprintf(stderr, "mconn: mysocket: %s\n", strerror(errno));
        return -1;
    }
    /* Room for the whole reply, as a kernel's default receive buffer (128 KiB)
     * would have: a connection whose turn to be read has not come finishes
     * its transfer instead of probing a closed window meanwhile. */
    if (mysetsockopt(sd, MYSO_RCVBUF, MAX(65536L, expected_len + 2048)) < 0) {
        fprintf(stderr, "mconn: MYSO_RCVBUF: %s\n", strerror(errno));
        myclose(sd);
        return -1;
    }
    if (window && mysetsockopt(sd, MYSO_WINDOW, window) < 0) {
        fprintf(stderr, "mconn: MYSO_WINDOW: %s\n", strerror(errno));
        myclose(sd);
        return -1;
    }
    if (myconnect(sd, (struct sockaddr *)&server, sizeof server) < 0) {
        fprintf(stderr, "mconn: connect: %s\n", strerror(errno));
        myclose(sd);
        return -1;
    }
    return sd;
}

static mysocket_t ask(mysocket_t sd)
{
    char req[1100];
    int len = snprintf(req, sizeof req, "%s\r\n", name);
    if (sd >= 0 && mywrite(sd, req, (size_t)len) != len) {
        fprintf(stderr, "mconn: request: %s\n", strerror(errno));
        myclose(sd);
        return -1;
    }
    return sd;
}

/* 1 if sd delivered the reply line, then exactly the expected bytes, then FIN. */
static int fetch_exact(mysocket_t sd)
{
    long long length = -1;
    if (fileproto_read_reply(sd, &length) < 0 || length != expected_len) {
        int err = errno;
        struct sockaddr_in me = {0};
        socklen_t len = sizeof me;
        mygetsockname(sd, (struct sockaddr *)&me, &len);
        fprintf(stderr, "mconn: sd %d (port %u): bad reply (length %lld, %s)\n", sd,
                ntohs(me.sin_port), length, length < 0 ? strerror(err) : "wrong length");
        return 0;
    }
    unsigned char buf[16384];
    long got = 0;
    int n;
    while ((n = myread(sd, buf, sizeof buf)) > 0) {
        if (got + n > expected_len || memcmp(buf, expected + got, (size_t)n) != 0) {
            fprintf(stderr, "mconn: sd %d: bytes differ near offset %ld\n", sd, got);
            return 0;
        }
        got += n;
    }
    if (n < 0 || got != expected_len) {
        fprintf(stderr, "mconn: sd %d: %ld of %ld bytes (%s)\n", sd, got, expected_len,
                n < 0 ? strerror(errno) : "early FIN");
        return 0;
    }
    return 1;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = w->first; i < w->first + w->count; i++)
        sds[i] = hold_s ? open_one() : ask(open_one());
    if (hold_s) {
        /* NOLINTNEXTLINE(bugprone-posix-return): it returns the serial marker */
        if (pthread_barrier_wait(&all_connected) == PTHREAD_BARRIER_SERIAL_THREAD) {
            printf("mconn: all %d open, idle after %.1f s\n", total_count, now_s() - start_s);
            fflush(stdout);
        }
        sleep((unsigned)hold_s); /* the measurement window, not synchronisation */
        for (int i = w->first; i < w->first + w->count; i++)
            sds[i] = ask(sds[i]);
    }
    /* NOLINTNEXTLINE(bugprone-posix-return): it returns the serial marker */
    if (pthread_barrier_wait(&all_open) == PTHREAD_BARRIER_SERIAL_THREAD) {
        printf("mconn: all %d open and asked after %.1f s\n", total_count, now_s() - start_s);
        fflush(stdout);
    }
    for (int i = w->first; i < w->first + w->count; i++) {
        if (sds[i] < 0)
            continue;
        w->ok += fetch_exact(sds[i]);
        myclose(sds[i]);
    }
    return NULL;
}

static int load_expected(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    expected_len = ftell(f);
    rewind(f);
    expected = malloc(expected_len > 0 ? (size_t)expected_len : 1);
    int rc =
        expected && fread(expected, 1, (size_t)expected_len, f) == (size_t)expected_len ? 0 : -1;
    fclose(f);
    return rc;
}

static int parse_server(const char *arg)
{
    char host[64];
    const char *colon = strrchr(arg, ':');
    if (!colon || (size_t)(colon - arg) >= sizeof host)
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &server.sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *prog = argv[0];
    if (argc >= 3 && !strcmp(argv[1], "-w")) {
        char *end;
        window = strtol(argv[2], &end, 10);
        if (*end || window < 1 || window > MYSO_WINDOW_MAX)
            argc = 0; /* usage */
        argc -= 2;
        argv += 2;
    }
    int count = argc >= 6 ? atoi(argv[4]) : 0, threads = argc >= 6 ? atoi(argv[5]) : 0;
    if (argc == 7)
        hold_s = atoi(argv[6]);
    total_count = count;
    if (argc < 6 || argc > 7 || hold_s < 0 || count < 1 || threads < 1 || threads > count ||
        parse_server(argv[1]) < 0) {
        fprintf(stderr, "usage: %s [-w WINDOW] HOST:PORT NAME EXPECTED COUNT THREADS [HOLD_S]\n",
                prog);
        return 2;
    }
    name = argv[2];
    if (load_expected(argv[3]) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, argv[3], strerror(errno));
        return 2;
    }
    sds = calloc((size_t)count, sizeof *sds);
    struct worker *w = calloc((size_t)threads, sizeof *w);
    if (!sds || !w) {
        free(sds);
        free(w);
        return 1;
    }
    pthread_barrier_init(&all_open, NULL, (unsigned)threads);
    pthread_barrier_init(&all_connected, NULL, (unsigned)threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started = 0;
    start_s = now_s();
    for (int i = 0; i < threads; i++) {
        w[i].first = (int)((long)count * i / threads);
        w[i].count = (int)((long)count * (i + 1) / threads) - w[i].first;
        if (pthread_create(&w[i].thread, &attr, work, &w[i]) != 0)
            break;
        started++;
    }
    if (started < threads) {
        fprintf(stderr, "%s: could not start %d threads\n", prog, threads);
        return 1; /* the barrier would never open */
    }
    int ok = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
    }
    free(w);
    free(sds);
    free(expected);
    printf("mconn: %d of %d concurrent fetches byte-exact in %.1f s\n", ok, count,
           now_s() - start_s);
    return ok == count ? 0 : 1;
}
