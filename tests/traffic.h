/* traffic.h -- what the test traffic generators (synflood, garbage) share:
 * HOST:PORT parsing, the loopback-only rule, pacing by absolute deadlines,
 * and a small seeded random generator.  Header-only: each tool is a single
 * source file plus libstcp.a. */
#ifndef TRAFFIC_H
#define TRAFFIC_H

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A decimal in [lo, hi]; false if s is anything else. */
static inline bool traffic_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* HOST:PORT, HOST a dotted quad or a name with an IPv4 address. */
static inline int traffic_parse_addr(const char *arg, struct sockaddr_in *out)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return -1;
    char host[256];
    size_t hlen = (size_t)(colon - arg);
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, arg, hlen);
    host[hlen] = '\0';
    long port;
    if (!traffic_parse_long(colon + 1, 1, 65535, &port))
        return -1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    memcpy(out, res->ai_addr, sizeof *out);
    freeaddrinfo(res);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return 0;
}

/* These tools send only to and from 127.0.0.0/8: anything else ends the
 * program with exit status 2. */
static inline void traffic_need_loopback(const char *prog, const char *what, const char *arg,
                                         const struct sockaddr_in *sin)
{
    if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
        return;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
    fprintf(stderr,
            "%s: refusing %s %s (%s): only addresses in 127.0.0.0/8 (loopback) are allowed\n", prog,
            what, arg, a);
    exit(2);
}

static inline uint64_t traffic_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Sleep until the monotonic time deadline, unless *stop becomes set. */
static inline void traffic_sleep_until(uint64_t deadline, const volatile sig_atomic_t *stop)
{
    struct timespec ts = {(time_t)(deadline / 1000000000ULL), (long)(deadline % 1000000000ULL)};
    while (!*stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Sending at a rate: batches of about a millisecond's worth (at least one
 * datagram, at most batch_max), each at an absolute deadline.  A late
 * batch slips the schedule instead of causing a burst to catch up. */
struct traffic_pace {
    int per_batch;
    uint64_t interval; /* ns between batches */
    uint64_t deadline;
};

static inline void traffic_pace_init(struct traffic_pace *p, long rate, int batch_max)
{
    long n = rate / 1000;
    p->per_batch = (int)(n < 1 ? 1 : n > batch_max ? batch_max : n);
    p->interval = (uint64_t)p->per_batch * 1000000000ULL / (uint64_t)rate;
    p->deadline = traffic_now_ns();
}

/* The next batch is due one interval after this one (now: after sending). */
static inline void traffic_pace_next(struct traffic_pace *p, uint64_t now)
{
    p->deadline += p->interval;
    if (p->deadline + p->interval < now)
        p->deadline = now; /* behind schedule: slip, do not burst */
}

/* xorshift64*: fast, seedable, and good enough for test traffic. */
static inline uint32_t traffic_rng(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545f4914f6cdd1dULL) >> 32);
}

#endif /* TRAFFIC_H */
