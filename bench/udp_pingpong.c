/* udp_pingpong.c -- round-trip time of one UDP datagram between two
 * processes over loopback.
 *
 *   udp_pingpong [-s SIZE] [-n ROUNDTRIPS] [-W WARMUP] [-t MAXSECONDS] [-p same|split]
 *
 * Two UDP sockets on 127.0.0.1, connected to each other; the process forks
 * and the child echoes every datagram back.  The parent sends one SIZE-byte
 * datagram (default 556: a full STCP segment), waits (blocking recv, as a
 * sleeping transport would) for the echo, and times each round trip with
 * CLOCK_MONOTONIC.  After WARMUP untimed round trips, it times ROUNDTRIPS of
 * them, or as many as fit in MAXSECONDS, and prints
 *
 *   pingpong: size=556 n=N median_us=.. p10_us=.. p90_us=.. mean_us=.. min_us=..
 *
 * By default the scheduler places the two processes as it likes.  -p same
 * pins both to the first CPU this process may use, -p split each to its
 * own CPU (for context: a wake-up on the same CPU is a direct switch, one on
 * another CPU an inter-processor wake-up, and the two differ severalfold).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("bind");
    socklen_t len = sizeof *addr;
    if (getsockname(fd, (struct sockaddr *)addr, &len) < 0)
        die("getsockname");
    return fd;
}

/* The index-th CPU this process may run on, or -1. */
static int nth_cpu(int index)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set) && index-- == 0)
            return cpu;
    return -1;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

static void set_timeout(int fd, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        die("SO_RCVTIMEO");
}

/* The echo: send back what arrives; a 1-byte datagram ends it. */
static void echo(int fd)
{
    char buf[65536];
    set_timeout(fd, 5000);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0)
            _exit(errno == EAGAIN ? 0 : 1); /* the parent went away */
        if (n == 1)
            _exit(0);
        if (send(fd, buf, (size_t)n, 0) < 0)
            _exit(1);
    }
}

int main(int argc, char **argv)
{
    size_t size = 556;
    long n = 20000, warmup = 1000;
    double max_s = 5.0;
    const char *placement = NULL;
    int c;
    while ((c = getopt(argc, argv, "s:n:W:t:p:")) != -1) {
        switch (c) {
        case 's':
            size = (size_t)parse_size(optarg);
            break;
        case 'n':
            n = (long)parse_size(optarg);
            break;
        case 'W':
            warmup = (long)parse_size(optarg);
            break;
        case 't':
            max_s = atof(optarg);
            break;
        case 'p':
            placement = optarg;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [-s SIZE] [-n ROUNDTRIPS] [-W WARMUP] [-t MAXSECONDS] "
                    "[-p same|split]\n",
                    argv[0]);
            return 2;
        }
    }
    if (size < 2 || size > 65000 || n < 1 || n > 10000000 || max_s <= 0 ||
        (placement && strcmp(placement, "same") && strcmp(placement, "split"))) {
        fprintf(stderr, "udp_pingpong: bad arguments\n");
        return 2;
    }
    int cpu_parent = -1, cpu_child = -1;
    if (placement) {
        cpu_parent = nth_cpu(0);
        cpu_child = strcmp(placement, "same") ? nth_cpu(1) : cpu_parent;
        if (cpu_parent < 0 || cpu_child < 0) {
            fprintf(stderr, "udp_pingpong: -p %s needs more CPUs\n", placement);
            return 2;
        }
    }
    struct sockaddr_in a_addr, b_addr;
    int a = udp_socket(&a_addr), b = udp_socket(&b_addr);
    if (connect(a, (struct sockaddr *)&b_addr, sizeof b_addr) < 0 ||
        connect(b, (struct sockaddr *)&a_addr, sizeof a_addr) < 0)
        die("connect");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(a);
        if (cpu_child >= 0)
            pin(cpu_child);
        echo(b);
    }
    close(b);
    if (cpu_parent >= 0)
        pin(cpu_parent);
    set_timeout(a, 1000);

    char *buf = calloc(1, size), *rbuf = malloc(65536);
    double *rtt = malloc((size_t)n * sizeof *rtt);
    if (!buf || !rbuf || !rtt)
        die("malloc");
    memset(buf, 0x5a, size);
    long done = 0, lost = 0;
    double deadline = now_s() + max_s;
    for (long i = 0; i < warmup + n && done < n; i++) {
        if ((i & 255) == 0 && now_s() > deadline)
            break;
        uint64_t t0 = now_ns();
        if (send(a, buf, size, 0) < 0)
            die("send");
        ssize_t got = recv(a, rbuf, 65536, 0);
        uint64_t t1 = now_ns();
        if (got != (ssize_t)size) {
            lost++; /* loopback does not lose, but never hang */
            if (lost > 10) {
                errno = 0;
                die("udp_pingpong: %ld echoes missing", lost);
            }
            continue;
        }
        if (i >= warmup)
            rtt[done++] = (double)(t1 - t0) / 1e3;
    }
    char one = 1;
    send(a, &one, 1, 0);
    int status;
    waitpid(pid, &status, 0);
    if (done == 0) {
        errno = 0;
        die("udp_pingpong: no round trips timed");
    }
    double sum = 0;
    for (long i = 0; i < done; i++)
        sum += rtt[i];
    qsort(rtt, (size_t)done, sizeof *rtt, cmp_double);
    printf("pingpong: size=%zu n=%ld median_us=%.2f p10_us=%.2f p90_us=%.2f mean_us=%.2f "
           "min_us=%.2f\n",
           size, done, rtt[done / 2], rtt[done / 10], rtt[done * 9 / 10], sum / (double)done,
           rtt[0]);
    return 0;
}
