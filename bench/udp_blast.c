/* udp_blast.c -- one-way UDP datagram rate over loopback, counted by the
 * receiver: the packet-rate ceiling of one datagram per system call.
 *
 *   udp_blast [-s SIZE] [-t SECONDS]       (SIZE 2..65507, the largest UDP payload)
 *
 * The receiver (this process) binds 127.0.0.1; a forked sender connects to
 * it and send()s SIZE-byte datagrams (default 556: a full STCP segment) as
 * fast as it can for SECONDS (default 1), then a few 1-byte end markers.
 * The receiver recv()s one datagram per call (blocking, as a transport
 * would) and counts the SIZE-byte ones; the rate is the number received
 * between the first and the last, over that time.  Datagrams the receiver
 * was too slow for are dropped by the kernel and simply not counted.
 *
 *   blast: size=556 sent=N received=M seconds=S rate_pps=R mbps=MB/s-of-payload-536
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define STCP_HEADER 20

int main(int argc, char **argv)
{
    size_t size = 556;
    double seconds = 1.0;
    int c;
    while ((c = getopt(argc, argv, "s:t:")) != -1) {
        switch (c) {
        case 's':
            size = (size_t)parse_size(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-s SIZE] [-t SECONDS]\n", argv[0]);
            return 2;
        }
    }
    if (size < 2 || size > 65507 || seconds <= 0 || seconds > 60) {
        fprintf(stderr, "udp_blast: bad arguments\n");
        return 2;
    }
    int r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (r < 0 || bind(r, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        getsockname(r, (struct sockaddr *)&sin, &len) < 0)
        die("receiver socket");
    struct timeval tv = {0, 300000}; /* the sender is gone if silent this long */
    if (setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        die("SO_RCVTIMEO");
    int report[2];
    if (pipe(report) < 0)
        die("pipe");

    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(r);
        close(report[0]);
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof sin) < 0)
            _exit(1);
        char *buf = calloc(1, size);
        if (!buf)
            _exit(1);
        long sent = 0;
        double end = now_s() + seconds;
        for (;;) {
            if ((sent & 63) == 0 && now_s() >= end)
                break;
            if (send(s, buf, size, 0) == (ssize_t)size)
                sent++;
        }
        struct timespec gap = {0, 2000000};
        for (int i = 0; i < 8; i++) { /* end markers */
            nanosleep(&gap, NULL);
            send(s, buf, 1, 0);
        }
        if (write(report[1], &sent, sizeof sent) != (ssize_t)sizeof sent)
            _exit(1);
        _exit(0);
    }
    close(report[1]);

    char *buf = malloc(65536);
    if (!buf)
        die("malloc");
    long received = 0;
    double first = 0, last = 0, give_up = now_s() + seconds + 10;
    for (;;) {
        ssize_t n = recv(r, buf, 65536, 0);
        if (n == (ssize_t)size) {
            last = now_s();
            if (!received++)
                first = last;
        } else if (n == 1 || (n < 0 && received > 0) || now_s() > give_up) {
            break; /* end marker, or a silent sender */
        }
    }
    long sent = 0;
    if (read(report[0], &sent, sizeof sent) != (ssize_t)sizeof sent)
        sent = -1;
    int status;
    waitpid(pid, &status, 0);
    if (received < 2 || last <= first) {
        errno = 0;
        die("udp_blast: only %ld datagrams received", received);
    }
    double span = last - first, rate = (double)(received - 1) / span;
    printf("blast: size=%zu sent=%ld received=%ld seconds=%.3f rate_pps=%.0f "
           "payload_mbps=%.2f\n",
           size, sent, received, span, rate, rate * (double)(size - STCP_HEADER) / 1e6);
    return 0;
}
