/* udp_window.c -- the least a window-limited transfer over UDP can cost:
 * a yardstick for STCP's own, with no reliability machinery at all.
 *
 *   udp_window [-w WINDOW] [-n BYTES] [-m MSS] [-a ACKEVERY]
 *
 * Two processes (fork), one thread each, one datagram per system call, on
 * 127.0.0.1.  The sender keeps at most WINDOW (default 3072) bytes
 * unacknowledged, in datagrams of a 20-byte header (sequence number) and up
 * to MSS (default 536) bytes; when the window is full it blocks in recv()
 * for an acknowledgement.  The receiver acknowledges cumulatively every
 * ACKEVERY (default 2) datagrams and whenever it has nothing more to read
 * (as STCP does: at least every second segment, and at the end of a batch).
 * Loopback does not lose datagrams that fit the socket buffers, and a
 * 64 KiB window always fits, so there are no timers and no retransmissions.
 * The receiver times from the first datagram to the last byte:
 *
 *   udpwindow: bytes=N window=W seconds=S mbps=MB/s cpu_sender=S cpu_receiver=S
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define HDR 20

struct hdr {
    uint64_t seq; /* first byte of the payload; in an ACK, the next byte wanted */
    uint8_t pad[HDR - 8];
};

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0)
        die("bind");
    struct timeval tv = {5, 0}; /* nothing is lost on loopback: 5 s of silence is a bug */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        die("SO_RCVTIMEO");
    return fd;
}

static void sender(int fd, uint64_t bytes, uint32_t window, uint32_t mss)
{
    uint8_t buf[HDR + 65536];
    struct hdr ack;
    uint64_t next = 0, acked = 0;
    while (acked < bytes) {
        while (next < bytes && next - acked < window) {
            uint64_t len = window - (next - acked);
            if (len > mss)
                len = mss;
            if (len > bytes - next)
                len = bytes - next;
            memcpy(buf, &next, sizeof next);
            memcpy(buf + HDR, pattern_at(next), (size_t)len);
            if (send(fd, buf, HDR + (size_t)len, 0) < 0)
                _exit(1);
            next += len;
        }
        ssize_t n = recv(fd, &ack, sizeof ack, 0); /* the window is full: wait */
        if (n < (ssize_t)sizeof ack.seq)
            _exit(1);
        if (ack.seq > acked)
            acked = ack.seq;
    }
}

static void receiver(int fd, uint64_t bytes, unsigned ack_every, double *seconds)
{
    uint8_t buf[HDR + 65536];
    struct hdr ack;
    memset(&ack, 0, sizeof ack);
    uint64_t got = 0;
    unsigned unacked = 0;
    double t0 = 0;
    while (got < bytes) {
        ssize_t n = recv(fd, buf, sizeof buf, unacked ? MSG_DONTWAIT : 0);
        if (n < 0 && unacked && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ack.seq = got; /* nothing more to read now: acknowledge */
            if (send(fd, &ack, sizeof ack, 0) < 0)
                die("send");
            unacked = 0;
            continue;
        }
        if (n < HDR)
            die("recv");
        if (!t0)
            t0 = now_s();
        uint64_t seq;
        memcpy(&seq, buf, sizeof seq);
        size_t len = (size_t)n - HDR;
        if (seq != got || !pattern_check(buf + HDR, len, seq)) {
            errno = 0;
            die("udp_window: datagram out of order or damaged at %llu", (unsigned long long)got);
        }
        got += len;
        if (++unacked >= ack_every || got == bytes) {
            ack.seq = got;
            if (send(fd, &ack, sizeof ack, 0) < 0)
                die("send");
            unacked = 0;
        }
    }
    *seconds = now_s() - t0;
}

int main(int argc, char **argv)
{
    uint64_t bytes = 16u << 20;
    uint32_t window = 3072, mss = 536;
    unsigned ack_every = 2;
    int c;
    while ((c = getopt(argc, argv, "w:n:m:a:")) != -1) {
        switch (c) {
        case 'w':
            window = (uint32_t)parse_size(optarg);
            break;
        case 'n':
            bytes = parse_size(optarg);
            break;
        case 'm':
            mss = (uint32_t)parse_size(optarg);
            break;
        case 'a':
            ack_every = (unsigned)parse_size(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-w WINDOW] [-n BYTES] [-m MSS] [-a ACKEVERY]\n", argv[0]);
            return 2;
        }
    }
    if (window < 1 || window > 65535 || mss < 1 || mss > 65000 || bytes < 1 || ack_every < 1) {
        fprintf(stderr, "udp_window: bad arguments\n");
        return 2;
    }
    pattern_init();
    struct sockaddr_in sa, ra;
    int s = udp_socket(&sa), r = udp_socket(&ra);
    if (connect(s, (struct sockaddr *)&ra, sizeof ra) < 0 ||
        connect(r, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(r);
        sender(s, bytes, window, mss);
        _exit(0);
    }
    close(s);
    double seconds = 0;
    receiver(r, bytes, ack_every, &seconds);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = 0;
        die("udp_window: the sender failed");
    }
    printf("udpwindow: bytes=%llu window=%u seconds=%.6f mbps=%.2f cpu_sender=%.4f "
           "cpu_receiver=%.4f\n",
           (unsigned long long)bytes, window, seconds, (double)bytes / seconds / 1e6, ru_cpu_s(&ru),
           self_cpu_s());
    return 0;
}
