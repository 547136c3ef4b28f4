/* tcp_kernel.c -- the kernel's own TCP over loopback, as a yardstick.
 *
 *   tcp_kernel xfer [-n BYTES]
 *       The process listens on 127.0.0.1 and forks a child that connects
 *       and reads; the parent accepts and writes BYTES (default 16 MiB) of
 *       the bench pattern in 64 KiB writes and closes.  The child checks
 *       every byte and times from before connect() to end of file.  Default
 *       socket buffers (autotuning), TCP_NODELAY off: the kernel as shipped.
 *       Prints
 *         tcpxfer: bytes=N seconds=S mbps=MB/s cpu_writer=S cpu_reader=S
 *                  csw_writer=N csw_reader=N   (context switches)
 *
 *   tcp_kernel conn [-t SECONDS] [-c MAXCOUNT]
 *       Connection rate: the child, in a loop, connects, writes one byte,
 *       reads the one-byte reply and closes; the parent accepts, reads the
 *       byte, writes it back and closes.  Runs for SECONDS (default 2) or
 *       MAXCOUNT connections (default 100000), whichever ends first.
 *         tcpconn: conns=N failed=F seconds=S rate=conn/s p50_us=.. p99_us=.. max_us=..
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int listen_loopback(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0)
        die("listen");
    return fd;
}

static int connect_to(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- xfer ---- */

struct xfer_result {
    double seconds;
    uint64_t got;
    int ok;
};

static int xfer(uint64_t bytes)
{
    pattern_init();
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    int res[2];
    if (pipe(res) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(lfd);
        close(res[0]);
        struct xfer_result r = {0, 0, 1};
        static uint8_t buf[CHUNK];
        double t0 = now_s();
        int fd = connect_to(&addr);
        if (fd < 0)
            _exit(1);
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (!pattern_check(buf, (size_t)n, r.got))
                r.ok = 0;
            r.got += (uint64_t)n;
        }
        r.seconds = now_s() - t0;
        close(fd);
        _exit(write(res[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    close(res[1]);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept");
    for (uint64_t sent = 0; sent < bytes;) {
        size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
        if (write_all(fd, pattern_at(sent), n) < 0)
            die("write");
        sent += n;
    }
    close(fd);
    struct xfer_result r;
    if (read(res[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.ok = 0;
    int status;
    struct rusage child;
    wait4(pid, &status, 0, &child);
    if (!r.ok || r.got != bytes) {
        errno = 0;
        die("tcpxfer: read %llu of %llu bytes, %s", (unsigned long long)r.got,
            (unsigned long long)bytes, r.ok ? "intact" : "CORRUPT");
    }
    printf("tcpxfer: bytes=%llu seconds=%.6f mbps=%.2f cpu_writer=%.4f cpu_reader=%.4f "
           "csw_writer=%ld csw_reader=%ld\n",
           (unsigned long long)bytes, r.seconds, (double)bytes / r.seconds / 1e6, self_cpu_s(),
           ru_cpu_s(&child), self_switches(), ru_switches(&child));
    return 0;
}

/* ---- conn ---- */

struct conn_result {
    long conns, failed;
    double seconds;
    double p50_us, p99_us, max_us; /* one connection's time */
};

static int conn_rate(double seconds, long max_count)
{
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    int res[2];
    if (pipe(res) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(lfd);
        close(res[0]);
        struct conn_result r = {0};
        double *took = malloc((size_t)max_count * sizeof *took);
        if (!took)
            _exit(1);
        double t0 = now_s(), end = t0 + seconds;
        while (r.conns < max_count && now_s() < end) {
            char ch = 'x', reply = 0;
            double c0 = now_s();
            int fd = connect_to(&addr);
            if (fd < 0 || write(fd, &ch, 1) != 1 || read(fd, &reply, 1) != 1 || reply != ch) {
                r.failed++;
                if (fd >= 0)
                    close(fd);
                if (r.failed > 100)
                    break;
                continue;
            }
            close(fd);
            took[r.conns++] = (now_s() - c0) * 1e6;
        }
        r.seconds = now_s() - t0;
        if (r.conns > 0) {
            qsort(took, (size_t)r.conns, sizeof *took, cmp_double);
            r.p50_us = took[r.conns / 2];
            r.p99_us = took[r.conns * 99 / 100];
            r.max_us = took[r.conns - 1];
        }
        _exit(write(res[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    close(res[1]);
    /* Serve until the child reports (its end of the pipe closes). */
    for (;;) {
        struct pollfd pfd[2] = {{lfd, POLLIN, 0}, {res[0], POLLIN, 0}};
        if (poll(pfd, 2, 10000) <= 0)
            break;
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                char ch;
                if (read(fd, &ch, 1) == 1)
                    write_all(fd, &ch, 1);
                close(fd);
            }
            continue;
        }
        if (pfd[1].revents)
            break;
    }
    struct conn_result r = {0};
    if (read(res[0], &r, sizeof r) != (ssize_t)sizeof r)
        r.seconds = 0;
    int status;
    waitpid(pid, &status, 0);
    if (r.seconds <= 0 || r.conns == 0) {
        errno = 0;
        die("tcpconn: no connections completed (%ld failed)", r.failed);
    }
    printf("tcpconn: conns=%ld failed=%ld seconds=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f "
           "max_us=%.0f\n",
           r.conns, r.failed, r.seconds, (double)r.conns / r.seconds, r.p50_us, r.p99_us, r.max_us);
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s xfer [-n BYTES] | conn [-t SECONDS] [-c MAXCOUNT]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage(argv[0]);
    const char *mode = argv[1];
    uint64_t bytes = 16u << 20;
    double seconds = 2;
    long max_count = 100000;
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "n:t:c:")) != -1) {
        switch (c) {
        case 'n':
            bytes = parse_size(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        case 'c':
            max_count = (long)parse_size(optarg);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc || seconds <= 0 || seconds > 60 || max_count < 1 || bytes < 1)
        usage(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(mode, "xfer"))
        return xfer(bytes);
    if (!strcmp(mode, "conn"))
        return conn_rate(seconds, max_count);
    usage(argv[0]);
    return 2;
}
