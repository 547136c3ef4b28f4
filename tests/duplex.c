/* duplex.c -- a full-duplex exchange through libstcp.a, using only mysock.h.
 *
 *   duplex [-U] [-n BYTES] [-w WINDOW] [-s] [-r RUNS] [-W WRITERS]
 *       Both ends of one connection (in this process) write BYTES while
 *       reading the other's BYTES, check every byte, then close: one end
 *       after the other, or with -s both at the same moment (simultaneous
 *       close).  -r repeats the whole exchange.  -W: each end's BYTES are
 *       written by WRITERS threads (2-4) at once, on the same socket, in
 *       pieces of 8 KiB, 32 KiB, 128 KiB and 512 KiB; each byte says whose
 *       it is (its low 2 bits), and the reader checks every writer's bytes
 *       arrive whole and in their order.  Exit 0 if all was well.
 *   duplex -i SECONDS
 *       Open a connection, leave it idle, and print the CPU time the
 *       process used while idle: "idle: S s, cpu U ms".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"

#define MAX_WRITERS 4

struct end {
    const char *name;
    mysocket_t sd;
    unsigned tag; /* which pattern this end writes */
    size_t bytes;
    int write_err, read_err;
    size_t got;
    size_t got_of[MAX_WRITERS]; /* -W: bytes read of each of the peer's writers */
};

static unsigned writers = 1; /* -W */

/* One writer thread of an end: with -W, number k of them. */
struct writer_arg {
    struct end *e;
    unsigned k;
};

static pthread_barrier_t close_barrier;
static bool_t simultaneous;

static uint8_t pattern(unsigned tag, size_t i)
{
    return (uint8_t)((i * 131 + (i >> 9) + tag * 17) & 0xff);
}

/* Writer k's share of an end's bytes. */
static size_t share(size_t bytes, unsigned k)
{
    return bytes / writers + (k + 1 == writers ? bytes % writers : 0);
}

/* Byte i of writer k's share: the end's pattern, and with -W, k in the low
 * two bits. */
static uint8_t writer_byte(unsigned tag, unsigned k, size_t i)
{
    return writers > 1 ? (uint8_t)((pattern(tag, i) & ~3u) | k) : pattern(tag, i);
}

static void *writer(void *arg)
{
    const struct writer_arg *wa = arg;
    struct end *e = wa->e;
    size_t cap = writers > 1 ? (size_t)8192 << (2 * wa->k) : 8192;
    uint8_t *buf = malloc(cap);
    size_t sent = 0, bytes = share(e->bytes, wa->k);
    while (buf && sent < bytes) {
        size_t n = bytes - sent < cap ? bytes - sent : cap;
        for (size_t i = 0; i < n; i++)
            buf[i] = writer_byte(e->tag, wa->k, sent + i);
        int w = mywrite(e->sd, buf, n);
        if (w <= 0) {
            e->write_err = errno ? errno : EIO;
            break;
        }
        sent += (size_t)w;
    }
    if (!buf)
        e->write_err = ENOMEM;
    free(buf);
    return NULL;
}

/* Is b the next byte of the peer's (with -W: of its writer's) bytes? */
static bool byte_expected(struct end *e, uint8_t b)
{
    unsigned k = writers > 1 ? b & 3u : 0;
    if (k >= writers || b != writer_byte(e->tag ^ 1, k, e->got_of[k]))
        return false;
    e->got_of[k]++;
    return true;
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
            if (!byte_expected(e, buf[i])) {
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
    pthread_t w[MAX_WRITERS], r;
    struct writer_arg wa[MAX_WRITERS];
    for (unsigned k = 0; k < writers; k++) {
        wa[k] = (struct writer_arg){e, k};
        pthread_create(&w[k], NULL, writer, &wa[k]);
    }
    pthread_create(&r, NULL, reader, e);
    for (unsigned k = 0; k < writers; k++)
        pthread_join(w[k], NULL);
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
    struct end ends[2] = {{.name = "client", .sd = -1, .tag = 0, .bytes = bytes},
                          {.name = "server", .sd = -1, .tag = 1, .bytes = bytes}};
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
        bool shares_whole = true;
        for (unsigned k = 0; k < writers; k++)
            shares_whole = shares_whole && e->got_of[k] == share(bytes, k);
        if (e->write_err || e->read_err || e->got != bytes || !shares_whole) {
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
    fprintf(stderr,
            "usage: %s [-U] [-n BYTES] [-w WINDOW] [-s] [-r RUNS] [-W WRITERS] | -i SECONDS\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    bool_t reliable = TRUE;
    size_t bytes = 4u << 20;
    long window = 3072, runs = 1, idle_s = -1;
    int c;
    while ((c = getopt(argc, argv, "Un:w:sr:i:W:")) != -1) {
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
        case 'W':
            writers = (unsigned)strtoul(optarg, NULL, 0);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc || runs < 1 || window < 1 || window > 65535 || writers < 1 ||
        writers > MAX_WRITERS)
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
