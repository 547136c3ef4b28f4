/* duplex.c -- a full-duplex exchange through libstcp.a, using only mysock.h.
 *
 *   duplex [-U] [-n BYTES] [-w WINDOW] [-s] [-r RUNS]
 *       Both ends of one connection (in this process) write BYTES while
 *       reading the other's BYTES, check every byte, then close: one end
 *       after the other, or with -s both at the same moment (simultaneous
 *       close).  -r repeats the whole exchange.  Exit 0 if all was well.
 *   duplex -i SECONDS
 *       Open a connection, leave it idle, and print the CPU time the
 *       process used while idle: "idle: S s, cpu U ms".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"

struct end {
    const char *name;
    mysocket_t sd;
    unsigned tag; /* which pattern this end writes */
    size_t bytes;
    int write_err, read_err;
    size_t got;
};

static pthread_barrier_t close_barrier;
static bool_t simultaneous;

static uint8_t pattern(unsigned tag, size_t i)
{
    return (uint8_t)((i * 131 + (i >> 9) + tag * 17) & 0xff);
}

static void *writer(void *arg)
{
    struct end *e = arg;
    uint8_t buf[8192];
    size_t sent = 0;
    while (sent < e->bytes) {
        size_t n = e->bytes - sent < sizeof buf ? e->bytes - sent : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(e->tag, sent + i);
        int w = mywrite(e->sd, buf, n);
        if (w <= 0) {
            e->write_err = errno ? errno : EIO;
            return NULL;
        }
        sent += (size_t)w;
    }
    return NULL;
}

/* Read the peer's bytes (written with tag ^ 1) and then EOF. */
static void *reader(void *arg)
{
    struct end *e = arg;
    uint8_t buf[8192];
    for (;;) {
        int n = myread(e->sd, buf, sizeof buf);
        if (n < 0) {
            e->read_err = errno;
            return NULL;
        }
        if (n == 0)
            return NULL;
        for (int i = 0; i < n; i++) {
            if (buf[i] != pattern(e->tag ^ 1, e->got + (size_t)i)) {
                fprintf(stderr, "%s: byte %zu differs\n", e->name, e->got + (size_t)i);
                e->read_err = EILSEQ;
                return NULL;
            }
        }
        e->got += (size_t)n;
        if (e->got == e->bytes)
            return NULL; /* all there: EOF comes after the peer closes */
    }
}

static void *run_end(void *arg)
{
    struct end *e = arg;
    pthread_t w, r;
    pthread_create(&w, NULL, writer, e);
    pthread_create(&r, NULL, reader, e);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    if (simultaneous)
        pthread_barrier_wait(&close_barrier);
    if (myclose(e->sd) < 0)
        fprintf(stderr, "%s: close: %s\n", e->name, strerror(errno));
    return NULL;
}

static int open_pair(bool_t reliable, long window, mysocket_t *a, mysocket_t *b)
{
    mysocket_t ls = mysocket(reliable);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (ls < 0 || mysetsockopt(ls, MYSO_WINDOW, window) < 0 ||
        mybind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 || mylisten(ls, 4) < 0 ||
        mygetsockname(ls, (struct sockaddr *)&sin, &len) < 0) {
        perror("listen");
        return -1;
    }
    *a = mysocket(reliable);
    if (*a < 0 || mysetsockopt(*a, MYSO_WINDOW, window) < 0 ||
        myconnect(*a, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("connect");
        return -1;
    }
    *b = myaccept(ls, NULL, NULL);
    if (*b < 0) {
        perror("accept");
        return -1;
    }
    myclose(ls);
    return 0;
}

static int exchange(bool_t reliable, long window, size_t bytes)
{
    struct end ends[2] = {{"client", -1, 0, bytes, 0, 0, 0}, {"server", -1, 1, bytes, 0, 0, 0}};
    if (open_pair(reliable, window, &ends[0].sd, &ends[1].sd) < 0)
        return -1;
    pthread_barrier_init(&close_barrier, NULL, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, run_end, &ends[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&close_barrier);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        struct end *e = &ends[i];
        if (e->write_err || e->read_err || e->got != bytes) {
            fprintf(stderr, "%s: wrote %s, read %zu of %zu bytes (%s)\n", e->name,
                    e->write_err ? strerror(e->write_err) : "all", e->got, bytes,
                    e->read_err ? strerror(e->read_err) : "no read error");
            rc = -1;
        }
    }
    return rc;
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int idle(long seconds)
{
    mysocket_t a, b;
    if (open_pair(TRUE, 3072, &a, &b) < 0)
        return 1;
    double before = cpu_ms();
    struct timespec ts = {seconds, 0};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    double used = cpu_ms() - before;
    printf("idle: %ld s, cpu %.1f ms\n", seconds, used);
    myclose(a);
    myclose(b);
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-U] [-n BYTES] [-w WINDOW] [-s] [-r RUNS] | -i SECONDS\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    bool_t reliable = TRUE;
    size_t bytes = 4u << 20;
    long window = 3072, runs = 1, idle_s = -1;
    int c;
    while ((c = getopt(argc, argv, "Un:w:sr:i:")) != -1) {
        switch (c) {
        case 'U':
            reliable = FALSE;
            break;
        case 'n':
            bytes = strtoull(optarg, NULL, 0);
            break;
        case 'w':
            window = strtol(optarg, NULL, 0);
            break;
        case 's':
            simultaneous = TRUE;
            break;
        case 'r':
            runs = strtol(optarg, NULL, 0);
            break;
        case 'i':
            idle_s = strtol(optarg, NULL, 0);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc || runs < 1 || window < 1 || window > 65535)
        usage(argv[0]);
    if (idle_s >= 0)
        return idle(idle_s);
    for (long r = 0; r < runs; r++) {
        if (exchange(reliable, window, bytes) < 0) {
            fprintf(stderr, "duplex: run %ld of %ld failed\n", r + 1, runs);
            return 1;
        }
    }
    printf("duplex: %ld run(s) of %zu bytes each way: ok\n", runs, bytes);
    return 0;
}
