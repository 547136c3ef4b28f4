/* bench.h -- small helpers shared by the benchmark programs (header only).
 *
 * Every program prints one result line, "TAG: key=value key=value ...", that
 * bench/run.sh picks apart.  Times come from CLOCK_MONOTONIC; CPU times from
 * getrusage (this process, all threads) or wait4 (a child).
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The data pattern: byte i of a stream is pattern[i % PATTERN_PERIOD].  The
 * period is prime, so a slipped, repeated or lost piece of the stream shows
 * up as a mismatch.  pattern[] is PATTERN_PERIOD + CHUNK long, so any chunk
 * starting at offset (i % PATTERN_PERIOD) is contiguous. */
#define PATTERN_PERIOD 65521u
#define CHUNK          65536u

static uint8_t pattern[PATTERN_PERIOD + CHUNK];

static inline void pattern_init(void)
{
    for (size_t i = 0; i < sizeof pattern; i++) {
        size_t j = i % PATTERN_PERIOD;
        pattern[i] = (uint8_t)((j * 131u + (j >> 8) * 7u + 1u) & 0xffu);
    }
}

/* The n bytes at stream offset off, for writing. */
static inline const uint8_t *pattern_at(uint64_t off)
{
    return pattern + off % PATTERN_PERIOD;
}

/* Whether buf holds the n (<= CHUNK) stream bytes at offset off. */
static inline int pattern_check(const void *buf, size_t n, uint64_t off)
{
    return memcmp(buf, pattern_at(off), n) == 0;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double ru_cpu_s(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1e-6;
}

static inline double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru_cpu_s(&ru);
}

/* Context switches, voluntary and not, of all the threads a rusage covers. */
static inline long ru_switches(const struct rusage *ru)
{
    return ru->ru_nvcsw + ru->ru_nivcsw;
}

static inline long self_switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru_switches(&ru);
}

static inline void die(const char *fmt, ...)
{
    va_list ap;
    int err = errno;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (err)
        fprintf(stderr, ": %s", strerror(err));
    fputc('\n', stderr);
    exit(1);
}

/* A number with an optional K/M/G (binary) suffix; exits on nonsense. */
static inline unsigned long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        die("bad number: %s", s);
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    default:
        break;
    }
    if (*end) {
        errno = 0;
        die("bad number: %s", s);
    }
    return v;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif /* BENCH_H */
