/* halfclose.c -- myshutdown end to end, through libstcp.a and mysock.h only.
 *
 *   halfclose [-U] [-n BYTES]
 *
 * Runs each case on a fresh connection pair in this process and prints
 * "ok - CASE" or "not ok - CASE: why".  Exit 0 if every case passed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysock.h"

static bool_t reliable = TRUE;
static size_t big = 1u << 20;
static int failures;

static uint8_t pattern(int tag, size_t i)
{
    return (uint8_t)((i * 131u + (size_t)tag * 7u + (i >> 9)) & 0xff);
}

/* Write n pattern bytes; 0 or -1 with errno. */
static int send_pattern(mysocket_t sd, int tag, size_t n)
{
    uint8_t buf[8192];
    size_t sent = 0;
    while (sent < n) {
        size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(tag, sent + i);
        int w = mywrite(sd, buf, k);
        if (w <= 0)
            return -1;
        sent += (size_t)w;
    }
    return 0;
}

/* Read until the end of the peer's data, checking the pattern.  Returns
 * the byte count, or -1 (errno EILSEQ for a wrong byte). */
static long recv_from(mysocket_t sd, int tag, size_t got);

static long recv_to_eof(mysocket_t sd, int tag)
{
    return recv_from(sd, tag, 0);
}

/* recv_to_eof for a stream whose first `from` bytes were already read;
 * returns the count of the rest. */
static long recv_from(mysocket_t sd, int tag, size_t from)
{
    uint8_t buf[8192];
    size_t got = from;
    for (;;) {
        int n = myread(sd, buf, sizeof buf);
        if (n < 0)
            return -1;
        if (n == 0)
            return (long)(got - from);
        for (int i = 0; i < n; i++) {
            if (buf[i] != pattern(tag, got + (size_t)i)) {
                errno = EILSEQ;
                return -1;
            }
        }
        got += (size_t)n;
    }
}

/* A connected pair; window 0 keeps the default. */
static int open_pair_window(mysocket_t *client, mysocket_t *server, long window)
{
    mysocket_t ls = mysocket(reliable);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (ls < 0 || (window && mysetsockopt(ls, MYSO_WINDOW, window) < 0) ||
        mybind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 || mylisten(ls, 4) < 0 ||
        mygetsockname(ls, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    *client = mysocket(reliable);
    if (*client < 0 || (window && mysetsockopt(*client, MYSO_WINDOW, window) < 0) ||
        myconnect(*client, (struct sockaddr *)&sin, sizeof sin) < 0)
        return -1;
    *server = myaccept(ls, NULL, NULL);
    myclose(ls);
    return *server < 0 ? -1 : 0;
}

static int open_pair(mysocket_t *client, mysocket_t *server)
{
    return open_pair_window(client, server, 0);
}

static void result(const char *name, const char *why)
{
    if (why) {
        printf("not ok - %s: %s (%s)\n", name, why, strerror(errno));
        failures++;
    } else {
        printf("ok - %s\n", name);
    }
    fflush(stdout);
}

/* ---- The far side of each case runs in a thread ---- */

struct far {
    mysocket_t sd;
    const char *why; /* NULL: all went as expected */
    long got;
};

/* Reads the request to its end, then answers with big bytes and closes. */
static void *answer_after_eof(void *arg)
{
    struct far *f = arg;
    f->got = recv_to_eof(f->sd, 1);
    if (f->got != 10000)
        f->why = "server: request not read whole";
    else if (send_pattern(f->sd, 2, big) < 0)
        f->why = "server: answer not written";
    if (myclose(f->sd) < 0 && !f->why)
        f->why = "server: close failed";
    return NULL;
}

/* Half-closes at once, then reads what the peer still sends. */
static void *shut_then_read(void *arg)
{
    struct far *f = arg;
    if (myshutdown(f->sd, SHUT_WR) < 0)
        f->why = "server: shutdown failed";
    f->got = recv_to_eof(f->sd, 3);
    if (f->got != (long)big && !f->why)
        f->why = "server: data after its half-close not read whole";
    if (myclose(f->sd) < 0 && !f->why)
        f->why = "server: close failed";
    return NULL;
}

/* Sends big bytes and half-closes, while reading the peer's to their end. */
static void *send_and_shut(void *arg)
{
    struct far *f = arg;
    if (send_pattern(f->sd, 4, big) < 0 || myshutdown(f->sd, SHUT_WR) < 0)
        f->why = "writer failed";
    return NULL;
}

/* ---- Cases ---- */

/* The client sends a request and half-closes (as an HTTP/1.0 client may);
 * the server reads it to the end, answers, closes. */
static void case_client_half_closes(void)
{
    const char *name = "client half-closes, server answers after EOF";
    mysocket_t c, s;
    if (open_pair(&c, &s) < 0) {
        result(name, "no connection");
        return;
    }
    struct far f = {s, NULL, 0};
    pthread_t t;
    pthread_create(&t, NULL, answer_after_eof, &f);
    const char *why = NULL;
    if (send_pattern(c, 1, 10000) < 0 || myshutdown(c, SHUT_WR) < 0)
        why = "request or shutdown failed";
    else if (mywrite(c, "x", 1) != -1 || errno != EPIPE)
        why = "write after SHUT_WR did not fail with EPIPE";
    else if (recv_to_eof(c, 2) != (long)big)
        why = "answer not read whole after our half-close";
    else if (myclose(c) < 0)
        why = "close after shutdown failed";
    pthread_join(t, NULL);
    result(name, why ? why : f.why);
}

/* The server half-closes first; the client reads EOF, then sends a lot. */
static void case_server_half_closes(void)
{
    const char *name = "server half-closes, client keeps sending";
    mysocket_t c, s;
    if (open_pair(&c, &s) < 0) {
        result(name, "no connection");
        return;
    }
    struct far f = {s, NULL, 0};
    pthread_t t;
    pthread_create(&t, NULL, shut_then_read, &f);
    const char *why = NULL;
    char b;
    if (myread(c, &b, 1) != 0)
        why = "client did not see the server's FIN";
    else if (send_pattern(c, 3, big) < 0)
        why = "client could not send after the server's half-close";
    else if (myclose(c) < 0)
        why = "client close failed";
    pthread_join(t, NULL);
    result(name, why ? why : f.why);
}

/* Both send, half-close when done, and read the other's data to its end. */
static void case_both_half_close(void)
{
    const char *name = "both sides half-close";
    mysocket_t c, s;
    if (open_pair(&c, &s) < 0) {
        result(name, "no connection");
        return;
    }
    struct far wc = {c, NULL, 0}, ws = {s, NULL, 0};
    pthread_t tc, ts;
    pthread_create(&tc, NULL, send_and_shut, &wc);
    pthread_create(&ts, NULL, send_and_shut, &ws);
    long got_c = recv_to_eof(c, 4), got_s = recv_to_eof(s, 4);
    pthread_join(tc, NULL);
    pthread_join(ts, NULL);
    const char *why = wc.why ? wc.why : ws.why;
    if (!why && (got_c != (long)big || got_s != (long)big))
        why = "data not read whole";
    if (myclose(c) < 0 && !why)
        why = "client close failed";
    if (myclose(s) < 0 && !why)
        why = "server close failed";
    result(name, why);
}

/* SHUT_RD: reads return 0 at once; what the peer sends is acknowledged
 * (its close completes) and discarded. */
static void case_shut_rd(void)
{
    const char *name = "SHUT_RD: reads end, arrivals discarded";
    mysocket_t c, s;
    if (open_pair(&c, &s) < 0) {
        result(name, "no connection");
        return;
    }
    const char *why = NULL;
    char buf[16];
    if (myshutdown(s, SHUT_RD) < 0)
        why = "shutdown failed";
    else if (myread(s, buf, sizeof buf) != 0)
        why = "read after SHUT_RD did not return 0";
    else if (send_pattern(c, 5, big) < 0 || myclose(c) < 0)
        why = "peer's data or close not acknowledged";
    else if (myread(s, buf, sizeof buf) != 0)
        why = "data delivered after SHUT_RD";
    else if (mywrite(s, "ok", 2) != 2)
        why = "write after SHUT_RD failed";
    if (myclose(s) < 0 && !why)
        why = "close failed";
    result(name, why);
}

/* Errors as POSIX shutdown. */
/* Writes 4 MiB calls until mywrite refuses, counting what it accepted. */
struct eager_writer {
    mysocket_t sd;
    size_t accepted;
    int last_errno; /* of the call that returned -1 */
};

static void *write_until_refused(void *arg)
{
    struct eager_writer *w = arg;
    size_t cap = 4u << 20;
    uint8_t *buf = malloc(cap);
    for (size_t round = 0; buf && round < 8; round++) { /* at most 32 MiB */
        for (size_t i = 0; i < cap; i++)
            buf[i] = pattern(5, w->accepted + i);
        int n = mywrite(w->sd, buf, cap);
        if (n < 0) {
            w->last_errno = errno;
            break;
        }
        w->accepted += (size_t)n;
    }
    free(buf);
    return NULL;
}

/* SHUT_WR while another thread's mywrite is copying into a 3 MiB send
 * queue (mywrite copies without the lock): the peer must get exactly the
 * bytes mywrite said it took -- a piece copied when the shutdown came is
 * neither sent nor counted -- and the writer's next call fails with
 * EPIPE.  Repeated, so the shutdown lands at different points. */
static void case_shut_wr_during_write(void)
{
    const char *name = "SHUT_WR during another thread's mywrite: the peer gets what it accepted";
    const char *why = NULL;
    for (int round = 0; round < 10 && !why; round++) {
        mysocket_t c, s;
        if (open_pair_window(&c, &s, 1 << 20) < 0) {
            why = "no connection";
            break;
        }
        struct eager_writer w = {.sd = c};
        pthread_t t;
        pthread_create(&t, NULL, write_until_refused, &w);
        /* The first bytes arrive while the writer is still filling the
         * queue (its first touch of 3 MiB takes milliseconds here); the
         * shutdown then comes at a different point of that each round. */
        uint8_t first[1024];
        long got = 0;
        size_t want = 1 + (size_t)round * 100; /* at most 1000 */
        while ((size_t)got < want) {
            int n = myread(s, first, want - (size_t)got);
            if (n <= 0)
                break;
            for (int i = 0; i < n; i++)
                if (first[i] != pattern(5, (size_t)got + (size_t)i))
                    why = "the first bytes differ";
            got += n;
        }
        if (myshutdown(c, SHUT_WR) < 0)
            why = "SHUT_WR failed";
        long rest = recv_from(s, 5, (size_t)got);
        got = rest < 0 ? -1 : got + rest;
        pthread_join(t, NULL);
        if (got < 0 && !why)
            why = "the peer's bytes differ from what was written";
        else if (got != (long)w.accepted && !why)
            why = "the peer got other than what mywrite accepted";
        else if (w.last_errno != EPIPE && !why)
            why = "the writer was not refused with EPIPE";
        myclose(c);
        myclose(s);
    }
    result(name, why);
}

static void case_errors(void)
{
    const char *name = "errors: EBADF, EINVAL, ENOTCONN";
    const char *why = NULL;
    mysocket_t fresh = mysocket(reliable);
    mysocket_t ls = mysocket(reliable);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || mybind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 || mylisten(ls, 1) < 0)
        why = "no listener";
    else if (myshutdown(-1, SHUT_WR) != -1 || errno != EBADF)
        why = "bad descriptor";
    else if (myshutdown(MAX_NUM_CONNECTIONS - 1, SHUT_WR) != -1 || errno != EBADF)
        why = "unused descriptor";
    else if (myshutdown(fresh, 7) != -1 || errno != EINVAL)
        why = "bad how";
    else if (myshutdown(fresh, SHUT_WR) != -1 || errno != ENOTCONN)
        why = "unconnected socket";
    else if (myshutdown(ls, SHUT_RDWR) != -1 || errno != ENOTCONN)
        why = "listening socket";
    myclose(fresh);
    myclose(ls);
    if (!why) {
        mysocket_t c, s;
        if (open_pair(&c, &s) < 0)
            why = "no connection";
        else if (myshutdown(c, SHUT_WR) < 0)
            why = "SHUT_WR failed";
        else if (myshutdown(c, SHUT_WR) < 0)
            why = "a second SHUT_WR failed";
        else if (myclose(c) < 0 || myshutdown(c, SHUT_RD) != -1 || errno != EBADF)
            why = "shutdown after close";
        else if (myclose(s) < 0)
            why = "server close";
    }
    result(name, why);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "Un:")) != -1) {
        if (opt == 'U')
            reliable = FALSE;
        else if (opt == 'n')
            big = strtoull(optarg, NULL, 0);
        else {
            fprintf(stderr, "usage: %s [-U] [-n BYTES]\n", argv[0]);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: %s [-U] [-n BYTES]\n", argv[0]);
        return 2;
    }
    case_client_half_closes();
    case_server_half_closes();
    case_both_half_close();
    case_shut_rd();
    case_shut_wr_during_write();
    case_errors();
    return failures ? 1 : 0;
}
