/* synflood.c -- a bounded SYN flood against an STCP server, for tests.
 *
 *   synflood -c COUNT -r RATE [-s SOURCES] [-p FIRSTPORT] [-P SOCKETS] [-w MSEC] [-v]
 *            HOST:PORT
 *
 * Sends COUNT STCP SYN segments (one UDP datagram each: a 20-byte TCP header
 * with a valid checksum, TH_SYN only, a random sequence number, window 3072)
 * to HOST:PORT, at most RATE a second, and never completes a handshake.
 *
 * Sources: SOURCES addresses 127.1.0.1, 127.1.0.2, ... (all of 127.0.0.0/8,
 * which Linux treats as local), times a pool of SOCKETS UDP sockets bound to
 * the wildcard address on distinct ports (FIRSTPORT, FIRSTPORT+1, ... or
 * ports the kernel picks).  Each datagram leaves through one socket of the
 * pool with sendmmsg(); an IP_PKTINFO control message (ipi_spec_dst) sets
 * its source address.  Because the sockets are bound to the wildcard
 * address, whatever the server answers to any 127.1.x.y:port arrives on
 * them; it is read without blocking and counted, never answered.
 *
 * Pacing: batches of up to 64 datagrams, each batch sent at an absolute
 * deadline (clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME).  A late batch
 * does not make later ones burst: the schedule slips instead.
 *
 * Only 127.0.0.0/8 targets are accepted.  At the end it prints how many
 * SYNs it sent, from how many sources, over what time, at what rate, and
 * how many SYN-ACKs (and other segments) came back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "network.h"
#include "traffic.h"
#include "transport.h"

#define SRC_BASE    0x7f010001u /* 127.1.0.1, the first source address */
#define SOURCES_MAX 65534u      /* 127.1.0.1 .. 127.1.255.254 */
#define BATCH_MAX   64          /* datagrams per sendmmsg() and per deadline */
#define RECV_BATCH  64          /* datagrams per recvmmsg() */
#define SYN_WINDOW  3072
#define STALL_LIMIT 5000 /* ms without any progress before giving up */
#define COUNT_MAX   100000000L
#define RATE_MAX    10000000L
#define SOCKETS_MAX 1024
#define LINGER_MAX  60000

struct options {
    long count;
    long rate;
    unsigned sources;
    unsigned first_port; /* 0: the kernel picks */
    unsigned sockets;
    long linger_ms;
    int verbose;
    struct sockaddr_in target;
    const char *target_arg;
};

struct pool {
    int *fd;
    uint16_t *port; /* network byte order */
    unsigned n;
};

struct counters {
    long sent;
    long synacks;      /* SYN|ACK from the target with a good checksum */
    long other;        /* any other valid segment from the target */
    long bad;          /* not from the target, malformed or a bad checksum */
    long eagain;       /* sends that found a socket buffer full */
    unsigned distinct; /* distinct source addresses used */
    uint64_t last_reply_ns;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s -c COUNT -r RATE [-s SOURCES] [-p FIRSTPORT] [-P SOCKETS] [-w MSEC] [-v]"
            " HOST:PORT\n"
            "  -c COUNT      SYNs to send in total (1..%ld)\n"
            "  -r RATE       at most RATE SYNs per second (1..%ld)\n"
            "  -s SOURCES    distinct source addresses 127.1.0.1... (1..%u, default 1000)\n"
            "  -p FIRSTPORT  source ports FIRSTPORT.. (default: ports the kernel picks)\n"
            "  -P SOCKETS    source ports (sockets in the pool), 1..%d (default 64)\n"
            "  -w MSEC       wait this long for replies after the last SYN (default 500)\n"
            "  -v            print progress once a second\n"
            "  HOST:PORT     the server; must be in 127.0.0.0/8\n",
            prog, COUNT_MAX, RATE_MAX, SOURCES_MAX, SOCKETS_MAX);
    exit(2);
}

/* A number in [lo, hi] from the command line, or usage and exit 2. */
static long parse_num(const char *s, long lo, long hi, const char *prog)
{
    long v;
    if (!traffic_parse_long(s, lo, hi, &v))
        usage(prog);
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.sources = 1000, .sockets = 64, .linger_ms = 500};
    int c;
    while ((c = getopt(argc, argv, "c:r:s:p:P:w:vh")) != -1) {
        switch (c) {
        case 'c':
            o->count = parse_num(optarg, 1, COUNT_MAX, argv[0]);
            break;
        case 'r':
            o->rate = parse_num(optarg, 1, RATE_MAX, argv[0]);
            break;
        case 's':
            o->sources = (unsigned)parse_num(optarg, 1, SOURCES_MAX, argv[0]);
            break;
        case 'p':
            o->first_port = (unsigned)parse_num(optarg, 1, 65535, argv[0]);
            break;
        case 'P':
            o->sockets = (unsigned)parse_num(optarg, 1, SOCKETS_MAX, argv[0]);
            break;
        case 'w':
            o->linger_ms = parse_num(optarg, 0, LINGER_MAX, argv[0]);
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (o->count == 0 || o->rate == 0 || optind != argc - 1)
        usage(argv[0]);
    if (o->first_port && o->first_port + o->sockets - 1 > 65535) {
        fprintf(stderr, "%s: ports %u..%u do not fit below 65536\n", argv[0], o->first_port,
                o->first_port + o->sockets - 1);
        exit(2);
    }
    o->target_arg = argv[optind];
    if (traffic_parse_addr(o->target_arg, &o->target) < 0) {
        fprintf(stderr, "%s: bad target %s (want HOST:PORT)\n", argv[0], o->target_arg);
        usage(argv[0]);
    }
    traffic_need_loopback(argv[0], "to flood", o->target_arg, &o->target);
}

/* ---- Random numbers (sequence numbers): xorshift64*, seeded by the OS ---- */

static uint64_t rng_state;

/* ---- The socket pool ---- */

static int pool_open(struct pool *p, const struct options *o)
{
    p->n = o->sockets;
    p->fd = calloc(p->n, sizeof *p->fd);
    p->port = calloc(p->n, sizeof *p->port);
    if (!p->fd || !p->port) {
        perror("synflood: calloc");
        return -1;
    }
    for (unsigned i = 0; i < p->n; i++)
        p->fd[i] = -1;
    for (unsigned i = 0; i < p->n; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("synflood: socket");
            return -1;
        }
        p->fd[i] = fd;
        int one = 1;
        /* Learn each reply's destination address, to verify its checksum. */
        if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) {
            perror("synflood: IP_PKTINFO");
            return -1;
        }
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_ANY),
                                  .sin_port =
                                      htons((uint16_t)(o->first_port ? o->first_port + i : 0))};
        if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
            fprintf(stderr, "synflood: bind port %u: %s\n", ntohs(sin.sin_port), strerror(errno));
            return -1;
        }
        socklen_t len = sizeof sin;
        if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
            perror("synflood: getsockname");
            return -1;
        }
        p->port[i] = sin.sin_port;
    }
    return 0;
}

static void pool_close(struct pool *p)
{
    for (unsigned i = 0; p->fd && i < p->n; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    free(p->fd);
    free(p->port);
}

/* ---- Replies ---- */

static void classify(const struct options *o, struct counters *ctr, const uint8_t *buf, size_t len,
                     const struct sockaddr_in *from, uint32_t dst_ip)
{
    const STCPHeader *h = (const STCPHeader *)buf;
    if (from->sin_addr.s_addr != o->target.sin_addr.s_addr ||
        from->sin_port != o->target.sin_port || len < sizeof *h || h->th_off < 5 ||
        (size_t)h->th_off * 4 > len || h->th_sport != from->sin_port ||
        net_tcp_checksum(from->sin_addr.s_addr, dst_ip, buf, len) != 0) {
        ctr->bad++;
        return;
    }
    if ((h->th_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
        ctr->synacks++;
    else
        ctr->other++;
}

/* Read whatever one socket holds, without blocking. */
static void drain_fd(int fd, const struct options *o, struct counters *ctr)
{
    static uint8_t buf[RECV_BATCH][NET_MAX_SEGMENT + 1];
    static union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf[RECV_BATCH];
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_in from[RECV_BATCH];
    for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < RECV_BATCH; i++) {
            iov[i] = (struct iovec){buf[i], sizeof buf[i]};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                              .msg_namelen = sizeof from[i],
                                              .msg_iov = &iov[i],
                                              .msg_iovlen = 1,
                                              .msg_control = cbuf[i].buf,
                                              .msg_controllen = sizeof cbuf[i].buf};
        }
        int n = recvmmsg(fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN: empty; an error report is no concern of ours */
        ctr->last_reply_ns = traffic_now_ns();
        for (int i = 0; i < n; i++) {
            struct msghdr *m = &msgs[i].msg_hdr;
            uint32_t dst_ip = 0;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
                if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                    struct in_pktinfo pi;
                    memcpy(&pi, CMSG_DATA(cm), sizeof pi);
                    dst_ip = pi.ipi_addr.s_addr;
                }
            }
            if (m->msg_flags & MSG_TRUNC)
                ctr->bad++;
            else
                classify(o, ctr, buf[i], msgs[i].msg_len, &from[i], dst_ip);
        }
        if (n < RECV_BATCH)
            return;
    }
}

/* Read every socket of the pool that has something; wait up to timeout_ms
 * for the first.  Returns the number of readable sockets. */
static int drain(struct pool *p, struct pollfd *pfd, const struct options *o, struct counters *ctr,
                 int timeout_ms)
{
    for (unsigned i = 0; i < p->n; i++)
        pfd[i] = (struct pollfd){p->fd[i], POLLIN, 0};
    int ready = poll(pfd, p->n, timeout_ms);
    if (ready <= 0)
        return 0;
    for (unsigned i = 0; i < p->n; i++)
        if (pfd[i].revents & (POLLIN | POLLERR))
            drain_fd(p->fd[i], o, ctr);
    return ready;
}

/* ---- Sending ---- */

struct batch {
    uint8_t seg[BATCH_MAX][sizeof(STCPHeader)];
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    struct mmsghdr msgs[BATCH_MAX];
};

/* Fill n SYNs, numbers first..first+n-1, all leaving through port sport. */
static void batch_fill(struct batch *b, const struct options *o, long first, int n, uint16_t sport,
                       uint8_t *used, struct counters *ctr)
{
    memset(b->msgs, 0, sizeof b->msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)((first + i) % o->sources);
        uint32_t src_ip = htonl(SRC_BASE + idx);
        if (!(used[idx / 8] & (1u << (idx % 8)))) {
            used[idx / 8] |= (uint8_t)(1u << (idx % 8));
            ctr->distinct++;
        }
        STCPHeader h;
        memset(&h, 0, sizeof h);
        h.th_sport = sport;
        h.th_dport = o->target.sin_port;
        h.th_seq = htonl(traffic_rng(&rng_state));
        h.th_ack = 0;
        h.th_off = 5;
        h.th_flags = TH_SYN;
        h.th_win = htons(SYN_WINDOW);
        h.th_sum = 0;
        h.th_sum = net_tcp_checksum(src_ip, o->target.sin_addr.s_addr, &h, sizeof h);
        memcpy(b->seg[i], &h, sizeof h);

        memset(&b->cbuf[i], 0, sizeof b->cbuf[i]);
        b->iov[i] = (struct iovec){b->seg[i], sizeof h};
        struct msghdr *m = &b->msgs[i].msg_hdr;
        m->msg_name = (void *)&o->target;
        m->msg_namelen = sizeof o->target;
        m->msg_iov = &b->iov[i];
        m->msg_iovlen = 1;
        m->msg_control = b->cbuf[i].buf;
        m->msg_controllen = sizeof b->cbuf[i].buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(m);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        pi.ipi_spec_dst.s_addr = src_ip; /* the source address of this datagram */
        memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    }
}

/* Send a filled batch through fd.  Returns 0, or -1 on an error (reported)
 * or when the socket stayed full for STALL_LIMIT ms. */
static int batch_send(struct batch *b, int n, int fd, struct pool *p, struct pollfd *pfd,
                      const struct options *o, struct counters *ctr)
{
    int done = 0;
    uint64_t stalled_since = 0;
    while (done < n && !interrupted) {
        int r = sendmmsg(fd, b->msgs + done, (unsigned)(n - done), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            done += r;
            ctr->sent += r;
            stalled_since = 0;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        int err = r < 0 ? errno : EAGAIN;
        if (err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) {
            fprintf(stderr, "synflood: sendmmsg: %s\n", strerror(err));
            return -1;
        }
        /* The socket buffer is full: read replies meanwhile, then wait
         * (not spin) for room. */
        ctr->eagain++;
        uint64_t now = traffic_now_ns();
        if (!stalled_since)
            stalled_since = now;
        else if (now - stalled_since > STALL_LIMIT * 1000000ULL) {
            fprintf(stderr, "synflood: no room to send for %d ms, giving up\n", STALL_LIMIT);
            return -1;
        }
        drain(p, pfd, o, ctr, 0);
        if (err == ENOBUFS) {
            /* No queue space below the socket: poll cannot tell when. */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        } else {
            struct pollfd w = {fd, POLLOUT, 0};
            poll(&w, 1, 10);
        }
    }
    return 0;
}

static void ip_str(uint32_t host_order, char *buf, size_t len)
{
    struct in_addr a = {htonl(host_order)};
    inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);

    if (getrandom(&rng_state, sizeof rng_state, 0) != (ssize_t)sizeof rng_state)
        rng_state = traffic_now_ns();
    rng_state |= 1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct pool pool = {0};
    struct batch *b = calloc(1, sizeof *b);
    uint8_t *used = calloc((o.sources + 7) / 8, 1);
    struct pollfd *pfd = calloc(o.sockets, sizeof *pfd);
    if (!b || !used || !pfd) {
        perror("synflood: calloc");
        free(b);
        free(used);
        free(pfd);
        return 1;
    }
    if (pool_open(&pool, &o) < 0) {
        pool_close(&pool);
        free(b);
        free(used);
        free(pfd);
        return 1;
    }

    struct traffic_pace pace;
    traffic_pace_init(&pace, o.rate, BATCH_MAX);

    struct counters ctr = {0};
    int rc = 0;
    uint64_t start = pace.deadline;
    uint64_t next_report = start + 1000000000ULL;
    long report_sent = 0, report_synacks = 0;
    long batch_no = 0;
    while (ctr.sent < o.count && !interrupted) {
        traffic_sleep_until(pace.deadline, &interrupted);
        if (interrupted)
            break;
        int n = (int)(o.count - ctr.sent < pace.per_batch ? o.count - ctr.sent : pace.per_batch);
        unsigned s = (unsigned)(batch_no % pool.n);
        batch_fill(b, &o, ctr.sent, n, pool.port[s], used, &ctr);
        if (batch_send(b, n, pool.fd[s], &pool, pfd, &o, &ctr) < 0) {
            rc = 1;
            break;
        }
        batch_no++;
        drain(&pool, pfd, &o, &ctr, 0);

        uint64_t now = traffic_now_ns();
        traffic_pace_next(&pace, now);
        if (o.verbose && now >= next_report) {
            fprintf(stderr, "synflood: %.1f s: %ld sent (%ld/s), %ld SYN-ACKs (%ld/s)\n",
                    (double)(now - start) / 1e9, ctr.sent, ctr.sent - report_sent, ctr.synacks,
                    ctr.synacks - report_synacks);
            report_sent = ctr.sent;
            report_synacks = ctr.synacks;
            next_report += 1000000000ULL;
        }
    }
    uint64_t end = traffic_now_ns();

    /* Late replies. */
    uint64_t linger_end = end + (uint64_t)o.linger_ms * 1000000ULL;
    for (uint64_t now = traffic_now_ns(); now < linger_end && !interrupted;
         now = traffic_now_ns()) {
        int ms = (int)((linger_end - now + 999999) / 1000000);
        drain(&pool, pfd, &o, &ctr, ms);
    }

    double secs = (double)(end - start) / 1e9;
    char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    ip_str(SRC_BASE, first, sizeof first);
    ip_str(SRC_BASE + (o.sources - 1), last, sizeof last);
    inet_ntop(AF_INET, &o.target.sin_addr, dst, sizeof dst);
    unsigned ports = batch_no < (long)pool.n ? (unsigned)batch_no : pool.n;
    printf("synflood: sent %ld SYNs to %s:%u from %u source addresses (%s-%s) and %u source "
           "ports in %.3f s: %.0f SYN/s\n",
           ctr.sent, dst, ntohs(o.target.sin_port), ctr.distinct, first, last, ports, secs,
           secs > 0 ? (double)ctr.sent / secs : 0.0);
    double reply_secs = ctr.last_reply_ns > start ? (double)(ctr.last_reply_ns - start) / 1e9 : 0;
    printf("synflood: received %ld SYN-ACKs (%.0f/s), %ld other segments, %ld bad datagrams; "
           "%ld sends found a full buffer\n",
           ctr.synacks, reply_secs > 0 ? (double)ctr.synacks / reply_secs : 0.0, ctr.other, ctr.bad,
           ctr.eagain);
    printf("synflood-result: sent=%ld sources=%u ports=%u seconds=%.3f rate=%.0f synacks=%ld "
           "synack_rate=%.0f other=%ld bad=%ld%s\n",
           ctr.sent, ctr.distinct, ports, secs, secs > 0 ? (double)ctr.sent / secs : 0.0,
           ctr.synacks, reply_secs > 0 ? (double)ctr.synacks / reply_secs : 0.0, ctr.other, ctr.bad,
           interrupted ? " interrupted=1" : "");
    fflush(stdout);

    pool_close(&pool);
    free(b);
    free(used);
    free(pfd);
    if (interrupted)
        return 130;
    return rc;
}
