/* garbage.c -- random and malformed STCP datagrams at a live endpoint, for tests.
 *
 *   garbage -c COUNT -r RATE -t DST_IP:DST_PORT [-f SRC_IP:SRC_PORT] [-m MIX] [-S SEED]
 *           [-P SOCKETS] [-v]
 *
 * Sends COUNT UDP datagrams to DST, at most RATE a second, each one of these
 * categories, chosen at random (MIX, a comma-separated list, selects which;
 * default all):
 *
 *   short     0..19 random bytes (sometimes starting with the right ports)
 *   badsum    a plausible header (right ports, th_off 5..), maybe payload,
 *             and a wrong th_sum (or a bit flipped after the checksum)
 *   badoff    th_off below 5, or pointing past the end; correct checksum
 *   flags     any of the 8 flag bits (RST, URG, PSH too), random seq/ack,
 *             window and urgent pointer, maybe payload; correct checksum
 *   seq       right ports, ACK set, random seq and ack, 1..536 bytes of
 *             payload; correct checksum
 *   oversize  more than 20+40+536 bytes (597..1400), larger than the classic
 *             largest segment; correct checksum
 *   ports     th_sport or th_dport not the datagram's; correct checksum
 *
 * What the receiver's network layer should count: short, badsum, badoff
 * and ports are dropped ("bad checksum" for badsum, "malformed" for the
 * rest); flags, seq and oversize pass it (a segment that fits the carrier
 * is accepted whatever its size) and reach the transport (or the
 * listener), which must ignore them.
 *
 * Sources.  Without -f each datagram comes from a random 127.a.b.c address
 * (c in 1..254) through a pool of SOCKETS UDP sockets bound to the wildcard
 * address on ports the kernel picks (so never a port anybody else holds);
 * an IP_PKTINFO control message (ipi_spec_dst) sets the source address.
 * After each batch one socket of the pool is closed and opened again on a
 * fresh port, so the source ports vary too.  Whatever comes back is read
 * and counted, never answered.
 *
 * With -f SRC every datagram appears to come from exactly SRC's address and
 * port: that is what a connected UDP socket (a client's, or a server's
 * per-connection one) accepts.  Binding that port is not possible (its
 * owner holds it) and must not be done (it could steal the owner's
 * traffic), so the datagrams are built by hand -- IPv4 and UDP headers
 * (with a correct UDP checksum) -- and sent through a raw socket
 * (AF_INET, SOCK_RAW, IPPROTO_RAW, which implies IP_HDRINCL).  That needs
 * CAP_NET_RAW: without it the tool says so and exits 3.  Replies go to
 * SRC's owner, not here.
 *
 * Pacing as in synflood.c: batches of about a millisecond's worth (at most
 * 64), each sent at an absolute deadline (clock_nanosleep, CLOCK_MONOTONIC,
 * TIMER_ABSTIME); a late batch makes the schedule slip, not burst.
 *
 * Only 127.0.0.0/8 targets and sources are accepted.  -S makes a run
 * repeatable (the seed is printed either way).  At the end it prints what
 * it sent per category, and one machine-readable "garbage-result:" line.
 *
 * Exit status: 0 done; 1 a runtime error; 2 bad arguments or an address
 * outside 127.0.0.0/8; 3 raw sockets unavailable (-f without CAP_NET_RAW);
 * 130 interrupted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

#define BATCH_MAX    64 /* datagrams per sendmmsg() and per deadline */
#define RECV_BATCH   64
#define DGRAM_MAX    1400                /* largest datagram payload (an oversize segment) */
#define OVERSIZE_MIN (20 + 40 + 536 + 1) /* beyond the classic largest segment */
#define STALL_LIMIT  5000                /* ms without room to send before giving up */
#define COUNT_MAX    100000000L
#define RATE_MAX     10000000L
#define SOCKETS_MAX  1024
#define EXIT_NORAW   3

enum category {
    CAT_SHORT,
    CAT_BADSUM,
    CAT_BADOFF,
    CAT_FLAGS,
    CAT_SEQ,
    CAT_OVERSIZE,
    CAT_PORTS,
    NCAT
};

static const char *const cat_name[NCAT] = {"short", "badsum",   "badoff", "flags",
                                           "seq",   "oversize", "ports"};

struct options {
    long count;
    long rate;
    unsigned sockets;
    int verbose;
    bool have_seed;
    uint64_t seed;
    bool spoof; /* -f given: raw socket, fixed source */
    struct sockaddr_in target, source;
    enum category mix[NCAT];
    int nmix;
};

struct counters {
    long sent;
    long per_cat[NCAT];
    long replies;  /* datagrams that came back to the pool (no -f) */
    long eagain;   /* sends that found no room */
    long reopened; /* pool sockets replaced by fresh ones */
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
            "usage: %s -c COUNT -r RATE -t DST_IP:DST_PORT [-f SRC_IP:SRC_PORT] [-m MIX]"
            " [-S SEED] [-P SOCKETS] [-v]\n"
            "  -c COUNT     datagrams to send in total (1..%ld)\n"
            "  -r RATE      at most RATE datagrams per second (1..%ld)\n"
            "  -t DST       the target address and port; must be in 127.0.0.0/8\n"
            "  -f SRC       send every datagram from exactly SRC (raw socket: needs\n"
            "               CAP_NET_RAW, exit 3 without); must be in 127.0.0.0/8.\n"
            "               Default: random 127.x.y.z addresses and ports\n"
            "  -m MIX       categories, comma-separated, default all:\n"
            "               short,badsum,badoff,flags,seq,oversize,ports\n"
            "  -S SEED      seed of the random choices (default: from the OS)\n"
            "  -P SOCKETS   UDP sockets in the source pool without -f, 1..%d (default 32)\n"
            "  -v           print progress once a second\n",
            prog, COUNT_MAX, RATE_MAX, SOCKETS_MAX);
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

static int parse_mix(const char *arg, struct options *o)
{
    char copy[256];
    if (strlen(arg) >= sizeof copy)
        return -1;
    memcpy(copy, arg, strlen(arg) + 1);
    bool seen[NCAT] = {false};
    o->nmix = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int found = -1;
        if (!strcmp(w, "all")) {
            for (int i = 0; i < NCAT; i++)
                seen[i] = true;
            continue;
        }
        for (int i = 0; i < NCAT; i++)
            if (!strcmp(w, cat_name[i]))
                found = i;
        if (found < 0)
            return -1;
        seen[found] = true;
    }
    for (int i = 0; i < NCAT; i++)
        if (seen[i])
            o->mix[o->nmix++] = (enum category)i;
    return o->nmix ? 0 : -1;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.sockets = 32};
    const char *target_arg = NULL, *source_arg = NULL, *mix_arg = "all";
    int c;
    while ((c = getopt(argc, argv, "c:r:t:f:m:S:P:vh")) != -1) {
        switch (c) {
        case 'c':
            o->count = parse_num(optarg, 1, COUNT_MAX, argv[0]);
            break;
        case 'r':
            o->rate = parse_num(optarg, 1, RATE_MAX, argv[0]);
            break;
        case 't':
            target_arg = optarg;
            break;
        case 'f':
            source_arg = optarg;
            break;
        case 'm':
            mix_arg = optarg;
            break;
        case 'S': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || *optarg == '-')
                usage(argv[0]);
            o->seed = v;
            o->have_seed = true;
            break;
        }
        case 'P':
            o->sockets = (unsigned)parse_num(optarg, 1, SOCKETS_MAX, argv[0]);
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (o->count == 0 || o->rate == 0 || !target_arg || optind != argc)
        usage(argv[0]);
    if (parse_mix(mix_arg, o) < 0) {
        fprintf(stderr, "%s: bad mix '%s'\n", argv[0], mix_arg);
        usage(argv[0]);
    }
    if (traffic_parse_addr(target_arg, &o->target) < 0) {
        fprintf(stderr, "%s: bad target %s (want IP:PORT)\n", argv[0], target_arg);
        usage(argv[0]);
    }
    traffic_need_loopback(argv[0], "target", target_arg, &o->target);
    if (source_arg) {
        if (traffic_parse_addr(source_arg, &o->source) < 0) {
            fprintf(stderr, "%s: bad source %s (want IP:PORT)\n", argv[0], source_arg);
            usage(argv[0]);
        }
        traffic_need_loopback(argv[0], "source", source_arg, &o->source);
        o->spoof = true;
    }
}

/* ---- Random numbers: xorshift64*, seeded by -S or by the OS ---- */

static uint64_t rng_state;

/* A uniform number in [0, n), n > 0 (the bias is irrelevant here). */
static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((uint64_t)traffic_rng(&rng_state) * n) >> 32);
}

static void rng_fill(uint8_t *p, size_t len)
{
    while (len >= 4) {
        uint32_t r = traffic_rng(&rng_state);
        memcpy(p, &r, 4);
        p += 4;
        len -= 4;
    }
    if (len) {
        uint32_t r = traffic_rng(&rng_state);
        memcpy(p, &r, len);
    }
}

/* ---- Building one segment ---- */

/* Addresses and ports of one datagram, network byte order. */
struct flow {
    uint32_t src_ip, dst_ip;
    uint16_t sport, dport;
};

static STCPHeader *header_at(uint8_t *seg)
{
    return (STCPHeader *)seg;
}

/* A plausible header with the flow's ports and random numbers. */
static void plausible_header(uint8_t *seg, const struct flow *f, uint8_t flags)
{
    STCPHeader *h = header_at(seg);
    memset(h, 0, sizeof *h);
    h->th_sport = f->sport;
    h->th_dport = f->dport;
    h->th_seq = htonl(traffic_rng(&rng_state));
    h->th_ack = htonl(traffic_rng(&rng_state));
    h->th_off = 5;
    h->th_flags = flags;
    h->th_win = htons((uint16_t)traffic_rng(&rng_state));
}

static void set_checksum(uint8_t *seg, size_t len, const struct flow *f)
{
    STCPHeader *h = header_at(seg);
    h->th_sum = 0;
    h->th_sum = net_tcp_checksum(f->src_ip, f->dst_ip, seg, len);
}

static bool checksum_ok(const uint8_t *seg, size_t len, const struct flow *f)
{
    return net_tcp_checksum(f->src_ip, f->dst_ip, seg, len) == 0;
}

/* Fill seg (room: DGRAM_MAX bytes) with one datagram of category cat;
 * returns its length. */
static size_t build(enum category cat, uint8_t *seg, const struct flow *f)
{
    size_t len;
    STCPHeader *h = header_at(seg);
    switch (cat) {
    case CAT_SHORT:
        len = rng_below(sizeof(STCPHeader)); /* 0..19 */
        rng_fill(seg, len);
        if (len >= 4 && rng_below(2)) { /* the right ports: looks like a header's start */
            memcpy(seg, &f->sport, 2);
            memcpy(seg + 2, &f->dport, 2);
        }
        return len;

    case CAT_BADSUM:
        for (;;) {
            plausible_header(seg, f, rng_below(2) ? TH_ACK : (uint8_t)traffic_rng(&rng_state));
            len = sizeof *h + (rng_below(2) ? rng_below(STCP_MSS + 1) : 0);
            rng_fill(seg + sizeof *h, len - sizeof *h);
            set_checksum(seg, len, f);
            if (rng_below(2)) {
                h->th_sum ^= (uint16_t)(1 + rng_below(0xffff)); /* a wrong value */
            } else {
                /* A bit flipped after the checksum, anywhere but the ports,
                 * th_off and th_sum (the segment must still look well formed). */
                size_t at;
                do
                    at = rng_below((uint32_t)len);
                while (at < 4 || at == 12 || at == 16 || at == 17);
                seg[at] ^= (uint8_t)(1u << rng_below(8));
            }
            if (!checksum_ok(seg, len, f))
                return len; /* (0x0000 and 0xffff are the same sum: try again) */
        }

    case CAT_BADOFF: {
        plausible_header(seg, f, rng_below(2) ? TH_ACK : (uint8_t)traffic_rng(&rng_state));
        unsigned off;
        if (rng_below(2)) {
            off = rng_below(5); /* 0..4 */
            len = sizeof *h + rng_below(64);
        } else {
            off = 6 + rng_below(10); /* 6..15: options that are not there */
            len = sizeof *h + rng_below(off * 4 - (uint32_t)sizeof *h);
        }
        rng_fill(seg + sizeof *h, len - sizeof *h);
        h->th_off = off & 0xf;
        set_checksum(seg, len, f);
        return len;
    }

    case CAT_FLAGS:
        plausible_header(seg, f, (uint8_t)traffic_rng(&rng_state));
        h->th_urp = htons((uint16_t)traffic_rng(&rng_state));
        h->th_x2 = traffic_rng(&rng_state) & 0xf;
        len = sizeof *h + (rng_below(4) == 0 ? rng_below(65) : 0);
        rng_fill(seg + sizeof *h, len - sizeof *h);
        set_checksum(seg, len, f);
        return len;

    case CAT_SEQ:
        plausible_header(seg, f, TH_ACK | (rng_below(2) ? TH_PUSH : 0));
        len = sizeof *h + 1 + rng_below(STCP_MSS);
        rng_fill(seg + sizeof *h, len - sizeof *h);
        set_checksum(seg, len, f);
        return len;

    case CAT_OVERSIZE:
        plausible_header(seg, f, TH_ACK);
        len = OVERSIZE_MIN + rng_below(DGRAM_MAX - OVERSIZE_MIN + 1);
        rng_fill(seg + sizeof *h, len - sizeof *h);
        set_checksum(seg, len, f);
        return len;

    case CAT_PORTS:
    default:
        plausible_header(seg, f, TH_ACK);
        switch (rng_below(3)) {
        case 0:
            h->th_sport = htons((uint16_t)(ntohs(f->sport) + 1 + rng_below(0xfffe)));
            break;
        case 1:
            h->th_dport = htons((uint16_t)(ntohs(f->dport) + 1 + rng_below(0xfffe)));
            break;
        default:
            h->th_sport = f->dport; /* swapped */
            h->th_dport = f->sport;
            if (f->sport == f->dport)
                h->th_dport = htons((uint16_t)(ntohs(f->dport) ^ 1));
            break;
        }
        len = sizeof *h + (rng_below(2) ? rng_below(STCP_MSS + 1) : 0);
        rng_fill(seg + sizeof *h, len - sizeof *h);
        set_checksum(seg, len, f);
        return len;
    }
}

/* ---- UDP sources (no -f): a pool of sockets on kernel-chosen ports ---- */

struct pool {
    int *fd;
    uint16_t *port; /* network byte order */
    unsigned n;
    struct pollfd *pfd;
};

static int pool_open_one(struct pool *p, unsigned i)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("garbage: socket");
        return -1;
    }
    /* No SO_REUSEADDR: the kernel picks a port nobody holds. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t len = sizeof sin;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("garbage: bind");
        close(fd);
        return -1;
    }
    p->fd[i] = fd;
    p->port[i] = sin.sin_port;
    return 0;
}

static int pool_open(struct pool *p, unsigned n)
{
    p->n = n;
    p->fd = calloc(n, sizeof *p->fd);
    p->port = calloc(n, sizeof *p->port);
    p->pfd = calloc(n, sizeof *p->pfd);
    if (!p->fd || !p->port || !p->pfd) {
        perror("garbage: calloc");
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        p->fd[i] = -1;
    for (unsigned i = 0; i < n; i++)
        if (pool_open_one(p, i) < 0)
            return -1;
    return 0;
}

static void pool_close(struct pool *p)
{
    for (unsigned i = 0; p->fd && i < p->n; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
    free(p->fd);
    free(p->port);
    free(p->pfd);
}

/* Read (and count) whatever one socket holds, without blocking. */
static void drain_fd(int fd, struct counters *ctr)
{
    static uint8_t buf[RECV_BATCH][DGRAM_MAX];
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < RECV_BATCH; i++) {
            iov[i] = (struct iovec){buf[i], sizeof buf[i]};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN, or an ICMP error report: no concern of ours */
        ctr->replies += n;
        if (n < RECV_BATCH)
            return;
    }
}

static void pool_drain(struct pool *p, struct counters *ctr, int timeout_ms)
{
    for (unsigned i = 0; i < p->n; i++)
        p->pfd[i] = (struct pollfd){p->fd[i], POLLIN, 0};
    if (poll(p->pfd, p->n, timeout_ms) <= 0)
        return;
    for (unsigned i = 0; i < p->n; i++)
        if (p->pfd[i].revents & (POLLIN | POLLERR))
            drain_fd(p->fd[i], ctr);
}

/* Replace one socket with a fresh one on a new port. */
static int pool_rotate(struct pool *p, struct counters *ctr)
{
    if (!p->n || !p->fd)
        return -1;
    unsigned i = rng_below(p->n);
    drain_fd(p->fd[i], ctr);
    close(p->fd[i]);
    p->fd[i] = -1;
    if (pool_open_one(p, i) < 0)
        return -1;
    ctr->reopened++;
    return 0;
}

/* ---- Raw source (-f): IPv4 + UDP built here ---- */

#define IP_HLEN  20
#define UDP_HLEN 8

static int raw_open(void)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        if (errno == EPERM || errno == EACCES) {
            fprintf(stderr, "garbage: -f needs a raw socket (CAP_NET_RAW, e.g. run as root): %s\n",
                    strerror(errno));
            exit(EXIT_NORAW);
        }
        perror("garbage: raw socket");
        return -1;
    }
    /* IPPROTO_RAW implies IP_HDRINCL; say so anyway. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0) {
        perror("garbage: IP_HDRINCL");
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t udp_checksum(const struct flow *f, const uint8_t *udp, size_t len)
{
    uint8_t pseudo[12];
    memcpy(pseudo, &f->src_ip, 4);
    memcpy(pseudo + 4, &f->dst_ip, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_UDP;
    pseudo[10] = (uint8_t)(len >> 8);
    pseudo[11] = (uint8_t)len;
    uint16_t sum = (uint16_t)~net_sum(net_sum(0, pseudo, sizeof pseudo), udp, len);
    return htons(sum ? sum : 0xffff); /* 0 would mean "no checksum" */
}

/* Wrap the segment at pkt + IP_HLEN + UDP_HLEN (seg_len bytes) in headers. */
static size_t raw_wrap(uint8_t *pkt, size_t seg_len, const struct flow *f)
{
    size_t udp_len = UDP_HLEN + seg_len;
    size_t total = IP_HLEN + udp_len;
    struct iphdr ip;
    memset(&ip, 0, sizeof ip);
    ip.version = 4;
    ip.ihl = IP_HLEN / 4;
    ip.tot_len = htons((uint16_t)total); /* the kernel fills it in too */
    ip.id = htons((uint16_t)traffic_rng(&rng_state));
    ip.ttl = 64;
    ip.protocol = IPPROTO_UDP;
    ip.saddr = f->src_ip;
    ip.daddr = f->dst_ip;
    ip.check = 0; /* the kernel computes the header checksum */
    memcpy(pkt, &ip, sizeof ip);
    struct udphdr udp;
    memset(&udp, 0, sizeof udp);
    udp.source = f->sport;
    udp.dest = f->dport;
    udp.len = htons((uint16_t)udp_len);
    udp.check = 0;
    memcpy(pkt + IP_HLEN, &udp, sizeof udp);
    udp.check = udp_checksum(f, pkt + IP_HLEN, udp_len);
    memcpy(pkt + IP_HLEN, &udp, sizeof udp);
    return total;
}

/* ---- Sending ---- */

struct batch {
    uint8_t pkt[BATCH_MAX][IP_HLEN + UDP_HLEN + DGRAM_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf[BATCH_MAX];
    struct iovec iov[BATCH_MAX];
    struct mmsghdr msgs[BATCH_MAX];
    enum category cat[BATCH_MAX];
};

static uint32_t random_source_ip(void)
{
    /* 127.a.b.c, c in 1..254: never a network or broadcast-looking host part. */
    uint32_t r = traffic_rng(&rng_state);
    return htonl(0x7f000000u | (r & 0x00ffff00u) | (1 + rng_below(254)));
}

/* Fill n datagrams.  sport is the pool socket's port (no -f). */
static void batch_fill(struct batch *b, const struct options *o, int n, uint16_t sport)
{
    memset(b->msgs, 0, sizeof b->msgs[0] * (size_t)n);
    for (int i = 0; i < n; i++) {
        enum category cat = o->mix[rng_below((uint32_t)o->nmix)];
        b->cat[i] = cat;
        struct flow f = {.dst_ip = o->target.sin_addr.s_addr, .dport = o->target.sin_port};
        if (o->spoof) {
            f.src_ip = o->source.sin_addr.s_addr;
            f.sport = o->source.sin_port;
        } else {
            f.src_ip = random_source_ip();
            f.sport = sport;
        }
        size_t off = o->spoof ? IP_HLEN + UDP_HLEN : 0;
        size_t len = build(cat, b->pkt[i] + off, &f);
        if (o->spoof)
            len = raw_wrap(b->pkt[i], len, &f);
        b->iov[i] = (struct iovec){b->pkt[i], len};
        struct msghdr *m = &b->msgs[i].msg_hdr;
        m->msg_name = (void *)&o->target;
        m->msg_namelen = sizeof o->target;
        m->msg_iov = &b->iov[i];
        m->msg_iovlen = 1;
        if (o->spoof)
            continue;
        memset(&b->cbuf[i], 0, sizeof b->cbuf[i]);
        m->msg_control = b->cbuf[i].buf;
        m->msg_controllen = sizeof b->cbuf[i].buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(m);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        pi.ipi_spec_dst.s_addr = f.src_ip; /* this datagram's source address */
        memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    }
}

/* Send a filled batch through fd.  Returns 0, or -1 on an error (reported)
 * or when there was no room for STALL_LIMIT ms. */
static int batch_send(struct batch *b, int n, int fd, struct pool *p, struct counters *ctr)
{
    int done = 0;
    uint64_t stalled_since = 0;
    while (done < n && !interrupted) {
        int r = sendmmsg(fd, b->msgs + done, (unsigned)(n - done), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            for (int i = done; i < done + r; i++)
                ctr->per_cat[b->cat[i]]++;
            done += r;
            ctr->sent += r;
            stalled_since = 0;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        int err = r < 0 ? errno : EAGAIN;
        if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
            /* An ICMP error for an earlier datagram, reported on this
             * socket: the datagram that got it was not sent; go on. */
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) {
            fprintf(stderr, "garbage: sendmmsg: %s\n", strerror(err));
            return -1;
        }
        ctr->eagain++;
        uint64_t now = traffic_now_ns();
        if (!stalled_since)
            stalled_since = now;
        else if (now - stalled_since > STALL_LIMIT * 1000000ULL) {
            fprintf(stderr, "garbage: no room to send for %d ms, giving up\n", STALL_LIMIT);
            return -1;
        }
        if (p)
            pool_drain(p, ctr, 0);
        if (err == ENOBUFS) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        } else {
            struct pollfd w = {fd, POLLOUT, 0};
            poll(&w, 1, 10);
        }
    }
    return 0;
}

static void print_results(const struct options *o, const struct counters *ctr, double secs)
{
    char dst[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN + 8];
    inet_ntop(AF_INET, &o->target.sin_addr, dst, sizeof dst);
    if (o->spoof) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &o->source.sin_addr, a, sizeof a);
        snprintf(src, sizeof src, "%s:%u", a, ntohs(o->source.sin_port));
    } else {
        snprintf(src, sizeof src, "random 127/8");
    }
    double rate = secs > 0 ? (double)ctr->sent / secs : 0.0;
    printf("garbage: sent %ld datagrams to %s:%u from %s in %.3f s: %.0f/s (seed %llu)\n",
           ctr->sent, dst, ntohs(o->target.sin_port), src, secs, rate, (unsigned long long)o->seed);
    printf("garbage: by category:");
    for (int i = 0; i < NCAT; i++)
        printf(" %s %ld", cat_name[i], ctr->per_cat[i]);
    printf("\n");
    long expect_badsum = ctr->per_cat[CAT_BADSUM];
    long expect_malformed =
        ctr->per_cat[CAT_SHORT] + ctr->per_cat[CAT_BADOFF] + ctr->per_cat[CAT_PORTS];
    printf("garbage: the target's network layer should drop %ld as bad checksum and %ld as "
           "malformed; %ld valid ones are for its transport to ignore\n",
           expect_badsum, expect_malformed,
           ctr->per_cat[CAT_FLAGS] + ctr->per_cat[CAT_SEQ] + ctr->per_cat[CAT_OVERSIZE]);
    if (!o->spoof)
        printf("garbage: %ld datagrams came back; %ld source ports used; %ld sends found no "
               "room\n",
               ctr->replies, ctr->reopened + (long)o->sockets, ctr->eagain);
    printf("garbage-result: sent=%ld", ctr->sent);
    for (int i = 0; i < NCAT; i++)
        printf(" %s=%ld", cat_name[i], ctr->per_cat[i]);
    printf(
        " expect_badsum=%ld expect_malformed=%ld replies=%ld seconds=%.3f rate=%.0f seed=%llu%s\n",
        expect_badsum, expect_malformed, ctr->replies, secs, rate, (unsigned long long)o->seed,
        interrupted ? " interrupted=1" : "");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);

    if (!o.have_seed && getrandom(&o.seed, sizeof o.seed, 0) != (ssize_t)sizeof o.seed)
        o.seed = traffic_now_ns();
    rng_state = o.seed ^ 0x9e3779b97f4a7c15ULL;
    if (!rng_state)
        rng_state = 1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int raw = -1;
    struct pool pool = {0};
    if (o.spoof) {
        raw = raw_open();
        if (raw < 0)
            return 1;
    } else if (pool_open(&pool, o.sockets) < 0) {
        pool_close(&pool);
        return 1;
    }
    struct batch *b = calloc(1, sizeof *b);
    if (!b) {
        perror("garbage: calloc");
        pool_close(&pool);
        return 1;
    }

    struct traffic_pace pace;
    traffic_pace_init(&pace, o.rate, BATCH_MAX);

    struct counters ctr = {0};
    int rc = 0;
    uint64_t start = pace.deadline;
    uint64_t next_report = start + 1000000000ULL;
    long report_sent = 0;
    while (ctr.sent < o.count && !interrupted) {
        traffic_sleep_until(pace.deadline, &interrupted);
        if (interrupted)
            break;
        int n = (int)(o.count - ctr.sent < pace.per_batch ? o.count - ctr.sent : pace.per_batch);
        int fd = raw;
        uint16_t sport = 0;
        if (!o.spoof) {
            unsigned s = rng_below(pool.n);
            fd = pool.fd[s];
            sport = pool.port[s];
        }
        batch_fill(b, &o, n, sport);
        if (batch_send(b, n, fd, o.spoof ? NULL : &pool, &ctr) < 0) {
            rc = 1;
            break;
        }
        if (!o.spoof) {
            pool_drain(&pool, &ctr, 0);
            if (pool_rotate(&pool, &ctr) < 0) {
                rc = 1;
                break;
            }
        }
        uint64_t now = traffic_now_ns();
        traffic_pace_next(&pace, now);
        if (o.verbose && now >= next_report) {
            fprintf(stderr, "garbage: %.1f s: %ld sent (%ld/s)\n", (double)(now - start) / 1e9,
                    ctr.sent, ctr.sent - report_sent);
            report_sent = ctr.sent;
            next_report += 1000000000ULL;
        }
    }
    uint64_t end = traffic_now_ns();
    if (!o.spoof && !interrupted)
        pool_drain(&pool, &ctr, 100); /* late replies */

    print_results(&o, &ctr, (double)(end - start) / 1e9);

    if (raw >= 0)
        close(raw);
    pool_close(&pool);
    free(b);
    if (interrupted)
        return 130;
    return rc;
}
