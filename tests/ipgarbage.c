/* ipgarbage.c -- garbage IPv4 packets into a TUN device, at a TUN-carried
 * STCP stack, for tests.
 *
 *   ipgarbage -i IFACE -s SRC_IP -t DST_IP -l LISTEN_PORT -c COUNT -r RATE
 *             [-m MIX] [-S SEED]
 *
 * Sends COUNT IPv4 packets, at most RATE a second, each of one category
 * chosen at random from MIX (comma-separated; default all):
 *
 *   ipver    IP version other than 4                  -> ip_malformed
 *   ihl      IHL below 5, or beyond the total length  -> ip_malformed
 *   totlen   total length beyond the packet, or below the IHL -> ip_malformed
 *   ipsum    a wrong header checksum                  -> ip_bad_checksum
 *   frag     MF set or a fragment offset              -> ip_fragments
 *   proto    a protocol other than TCP                -> ip_other_proto
 *   notours  to an address in DST's /24 that is not DST -> ip_not_ours
 *   tcpsum   TCP, a wrong checksum, to a closed port  -> stack bad checksum
 *   tcpoff   TCP, th_off below 5 or past the end, or fewer than 20 bytes,
 *            to a closed port                         -> stack malformed
 *   flags    TCP, random flags, to a closed port      -> no_socket (RST
 *            answered unless the RST flag is set, rate-limited)
 *   rst      TCP RST for no connection                -> no_socket, no answer
 *   ack      TCP ACK for no connection                -> no_socket, RST
 *   tcpopt   a SYN with malformed options to LISTEN_PORT -> the listener
 *            drops it (never a connection)
 *   syn      a valid SYN to LISTEN_PORT (a bounded SYN flood) -> SYN-ACK
 *
 * "A closed port" is any port but LISTEN_PORT.  Every TCP packet comes from
 * SRC_IP (the kernel's own address on IFACE, so whatever the stack answers
 * reaches the kernel, which answers only with RSTs) and a source port in
 * 1024..32767, below the kernel's ephemeral range, so garbage never matches
 * a live connection of the kernel's clients.
 *
 * The packets go through a packet socket (AF_PACKET, SOCK_DGRAM, ETH_P_IP)
 * bound to IFACE, which hands them to the TUN device byte for byte: a raw
 * IP socket (IPPROTO_RAW) would not do, because the kernel rewrites the
 * total length and the header checksum of what it sends (raw(7)) and routes
 * by the destination.  That needs CAP_NET_RAW (exit 3 without).
 *
 * Safety: IFACE must be a TUN device, DST_IP and SRC_IP in 198.18.0.0/24
 * (the benchmarking range the tests use), and the process in a network
 * namespace named stcp-* under /run/netns ("ip netns add": the prefix of the
 * namespaces the tests create and delete).  Anything else exits 2.
 *
 * At the end: what was sent per category, and one machine-readable line
 * "ipgarbage-result: sent=N CAT=N ...".  Exit 0 done, 1 runtime error,
 * 2 bad arguments or refused target, 3 no raw access, 130 interrupted. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "network.h"
#include "transport.h"
#include "traffic.h"

#define PKT_MAX    1500
#define IP_HLEN    20
#define TCP_HLEN   20
#define BATCH_MAX  32
#define TEST_NET   0xc6120000u /* 198.18.0.0/24 */
#define EXIT_NORAW 3

enum category {
    C_IPVER,
    C_IHL,
    C_TOTLEN,
    C_IPSUM,
    C_FRAG,
    C_PROTO,
    C_NOTOURS,
    C_TCPSUM,
    C_TCPOFF,
    C_FLAGS,
    C_RST,
    C_ACK,
    C_TCPOPT,
    C_SYN,
    NCAT
};

static const char *const cat_name[NCAT] = {"ipver", "ihl",     "totlen", "ipsum",  "frag",
                                           "proto", "notours", "tcpsum", "tcpoff", "flags",
                                           "rst",   "ack",     "tcpopt", "syn"};

struct options {
    const char *iface;
    uint32_t src, dst;    /* network byte order */
    uint16_t listen_port; /* host order */
    long count, rate;
    uint64_t seed;
    bool have_seed;
    enum category mix[NCAT];
    int nmix;
};

static volatile sig_atomic_t interrupted;
static uint64_t rng_state;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s -i IFACE -s SRC_IP -t DST_IP -l LISTEN_PORT -c COUNT -r RATE"
            " [-m MIX] [-S SEED]\n"
            "  IFACE a TUN device; SRC_IP, DST_IP in 198.18.0.0/24; run in a private\n"
            "  network namespace.  MIX: comma-separated, default all:\n"
            "  ipver,ihl,totlen,ipsum,frag,proto,notours,tcpsum,tcpoff,flags,rst,ack,tcpopt,syn\n",
            prog);
    exit(2);
}

static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((uint64_t)traffic_rng(&rng_state) * n) >> 32);
}

static void rng_fill(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)traffic_rng(&rng_state);
}

static int parse_mix(const char *arg, struct options *o)
{
    bool seen[NCAT] = {false};
    char copy[256];
    if (strlen(arg) >= sizeof copy)
        return -1;
    memcpy(copy, arg, strlen(arg) + 1);
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (int i = 0; i < NCAT; i++)
            if (!strcmp(w, cat_name[i]) || !strcmp(w, "all")) {
                seen[i] = true;
                found = true;
            }
        if (!found)
            return -1;
    }
    o->nmix = 0;
    for (int i = 0; i < NCAT; i++)
        if (seen[i])
            o->mix[o->nmix++] = (enum category)i;
    return o->nmix ? 0 : -1;
}

static uint32_t parse_test_addr(const char *prog, const char *arg)
{
    struct in_addr a;
    if (inet_pton(AF_INET, arg, &a) != 1)
        usage(prog);
    if ((ntohl(a.s_addr) & 0xffffff00u) != TEST_NET) {
        fprintf(stderr, "%s: refusing %s: only 198.18.0.0/24 is allowed\n", prog, arg);
        exit(2);
    }
    return a.s_addr;
}

/* Whether this process runs in a namespace named stcp-* by "ip netns add"
 * (a bind mount of it under /run/netns): the namespaces the tests create. */
static bool in_stcp_namespace(void)
{
    struct stat self, ns;
    if (stat("/proc/self/ns/net", &self) != 0)
        return false;
    DIR *d = opendir("/run/netns");
    if (!d)
        return false;
    bool found = false;
    char path[320];
    for (struct dirent *e; !found && (e = readdir(d));) {
        snprintf(path, sizeof path, "/run/netns/%s", e->d_name);
        found = !strncmp(e->d_name, "stcp-", 5) && stat(path, &ns) == 0 &&
                ns.st_ino == self.st_ino && ns.st_dev == self.st_dev;
    }
    closedir(d);
    return found;
}

/* The explicit target check: a TUN device, in a test's own namespace. */
static void need_private_tun(const char *prog, const char *iface)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/tun_flags", iface);
    if (strlen(iface) >= IFNAMSIZ || access(path, F_OK) != 0) {
        fprintf(stderr, "%s: refusing %s: not a TUN device\n", prog, iface);
        exit(2);
    }
    if (!in_stcp_namespace()) {
        fprintf(stderr, "%s: refusing to run outside a network namespace named stcp-*\n", prog);
        exit(2);
    }
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){0};
    const char *mix = "all";
    long v;
    int c;
    while ((c = getopt(argc, argv, "i:s:t:l:c:r:m:S:")) != -1) {
        switch (c) {
        case 'i':
            o->iface = optarg;
            break;
        case 's':
            o->src = parse_test_addr(argv[0], optarg);
            break;
        case 't':
            o->dst = parse_test_addr(argv[0], optarg);
            break;
        case 'l':
            if (!traffic_parse_long(optarg, 1, 65535, &v))
                usage(argv[0]);
            o->listen_port = (uint16_t)v;
            break;
        case 'c':
            if (!traffic_parse_long(optarg, 1, 10000000, &o->count))
                usage(argv[0]);
            break;
        case 'r':
            if (!traffic_parse_long(optarg, 1, 1000000, &o->rate))
                usage(argv[0]);
            break;
        case 'm':
            mix = optarg;
            break;
        case 'S':
            if (!traffic_parse_long(optarg, 0, 0x7fffffffL, &v))
                usage(argv[0]);
            o->seed = (uint64_t)v;
            o->have_seed = true;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (!o->iface || !o->src || !o->dst || !o->listen_port || !o->count || !o->rate ||
        optind != argc || parse_mix(mix, o) < 0)
        usage(argv[0]);
    need_private_tun(argv[0], o->iface);
}

/* ---- Building one packet ---- */

static void ip_header(uint8_t *p, size_t total, uint8_t proto, uint32_t src, uint32_t dst)
{
    memset(p, 0, IP_HLEN);
    p[0] = 0x45;
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
    p[4] = (uint8_t)traffic_rng(&rng_state);
    p[6] = 0x40; /* DF */
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, &src, 4);
    memcpy(p + 16, &dst, 4);
}

static void ip_checksum(uint8_t *p)
{
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    p[10] = p[11] = 0;
    uint16_t sum = (uint16_t)~net_sum(0, p, ihl < IP_HLEN ? IP_HLEN : ihl);
    p[10] = (uint8_t)(sum >> 8);
    p[11] = (uint8_t)sum;
}

static uint16_t closed_port(const struct options *o)
{
    uint16_t port;
    do
        port = (uint16_t)(1 + rng_below(65535));
    while (port == o->listen_port);
    return port;
}

/* A TCP segment after an IP header at p: th_off 5 + optlen/4, random seq,
 * payload bytes of payload; returns the segment's length. */
static size_t tcp_segment(uint8_t *p, uint16_t dport, uint8_t flags, size_t optlen, size_t payload)
{
    uint8_t *t = p + IP_HLEN;
    memset(t, 0, TCP_HLEN);
    uint16_t sport = (uint16_t)(1024 + rng_below(32768 - 1024));
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    rng_fill(t + 4, 8); /* seq, ack */
    t[12] = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    t[13] = flags;
    t[14] = 0x10; /* window 4096 */
    rng_fill(t + TCP_HLEN + optlen, payload);
    return TCP_HLEN + optlen + payload;
}

static void tcp_checksum(uint8_t *p, size_t seglen, uint32_t src, uint32_t dst)
{
    uint8_t *t = p + IP_HLEN;
    t[16] = t[17] = 0;
    uint16_t sum = net_tcp_checksum(src, dst, t, seglen);
    memcpy(t + 16, &sum, 2);
}

/* A complete, valid IPv4 + TCP packet; returns its length. */
static size_t tcp_packet(uint8_t *p, const struct options *o, uint16_t dport, uint8_t flags,
                         size_t optlen, size_t payload)
{
    size_t seglen = tcp_segment(p, dport, flags, optlen, payload);
    ip_header(p, IP_HLEN + seglen, IPPROTO_TCP, o->src, o->dst);
    ip_checksum(p);
    tcp_checksum(p, seglen, o->src, o->dst);
    return IP_HLEN + seglen;
}

/* Options that parse_options must refuse: a length of 0 or 1, one past the
 * end, an MSS of the wrong length, a kind with no length byte. */
static void bad_options(uint8_t *opt, size_t len)
{
    memset(opt, 1, len); /* NOPs */
    switch (rng_below(4)) {
    case 0:
        opt[0] = 8;
        opt[1] = (uint8_t)rng_below(2);
        break;
    case 1:
        opt[0] = 2;
        opt[1] = (uint8_t)(len + 1);
        break;
    case 2:
        opt[0] = 2;
        opt[1] = 3;
        break;
    default:
        opt[len - 1] = 3; /* window scale with no length byte */
        break;
    }
}

static size_t build(enum category cat, uint8_t *p, const struct options *o)
{
    size_t len, seglen;
    uint32_t other;
    switch (cat) {
    case C_IPVER:
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(64));
        do
            p[0] = (uint8_t)((rng_below(16) << 4) | 5);
        while ((p[0] >> 4) == 4);
        ip_checksum(p);
        return len;
    case C_IHL:
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(64));
        if (rng_below(2)) {
            p[0] = (uint8_t)(0x40 | rng_below(5)); /* 0..4 words */
        } else {                                   /* a header longer than the total length */
            unsigned ihl = 6 + rng_below(10);
            size_t total = IP_HLEN + rng_below(ihl * 4 - IP_HLEN);
            p[0] = (uint8_t)(0x40 | ihl);
            p[2] = (uint8_t)(total >> 8);
            p[3] = (uint8_t)total;
        }
        ip_checksum(p);
        return len;
    case C_TOTLEN: {
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(64));
        size_t total = rng_below(2) ? len + 1 + rng_below(1000) : rng_below(IP_HLEN);
        p[2] = (uint8_t)(total >> 8);
        p[3] = (uint8_t)total;
        ip_checksum(p);
        return len;
    }
    case C_IPSUM:
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(64));
        p[10] ^= (uint8_t)(1 + rng_below(255));
        return len;
    case C_FRAG:
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, 8 * rng_below(64));
        p[6] = rng_below(2) ? 0x20 : (uint8_t)(rng_below(0x20)); /* MF, or an offset */
        p[7] = (uint8_t)(p[6] == 0 ? 1 + rng_below(255) : rng_below(256));
        ip_checksum(p);
        return len;
    case C_PROTO: {
        uint8_t proto;
        do
            proto = (uint8_t)rng_below(256);
        while (proto == IPPROTO_TCP);
        len = IP_HLEN + rng_below(200);
        rng_fill(p + IP_HLEN, len - IP_HLEN);
        ip_header(p, len, proto, o->src, o->dst);
        ip_checksum(p);
        return len;
    }
    case C_NOTOURS:
        do
            other = htonl(TEST_NET | (1 + rng_below(254)));
        while (other == o->dst);
        seglen = tcp_segment(p, closed_port(o), TH_ACK, 0, rng_below(64));
        ip_header(p, IP_HLEN + seglen, IPPROTO_TCP, o->src, other);
        ip_checksum(p);
        tcp_checksum(p, seglen, o->src, other);
        return IP_HLEN + seglen;
    case C_TCPSUM:
        len = tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(200));
        p[IP_HLEN + 16] ^= (uint8_t)(1 + rng_below(255));
        return len;
    case C_TCPOFF:
        if (rng_below(4) == 0) { /* shorter than a header */
            len = IP_HLEN + 4 + rng_below(TCP_HLEN - 4);
            rng_fill(p + IP_HLEN, len - IP_HLEN);
            uint16_t dport = htons(closed_port(o));
            memcpy(p + IP_HLEN + 2, &dport, 2);
            ip_header(p, len, IPPROTO_TCP, o->src, o->dst);
            ip_checksum(p);
            return len;
        }
        seglen = tcp_segment(p, closed_port(o), TH_ACK, 0, rng_below(20));
        p[IP_HLEN + 12] =
            (uint8_t)((rng_below(2) ? rng_below(5)
                                    : seglen / 4 + 1 + rng_below((uint32_t)(15 - seglen / 4)))
                      << 4);
        ip_header(p, IP_HLEN + seglen, IPPROTO_TCP, o->src, o->dst);
        ip_checksum(p);
        tcp_checksum(p, seglen, o->src, o->dst);
        return IP_HLEN + seglen;
    case C_FLAGS:
        return tcp_packet(p, o, closed_port(o), (uint8_t)rng_below(256), 0, rng_below(64));
    case C_RST:
        return tcp_packet(p, o, closed_port(o), TH_RST | (rng_below(2) ? TH_ACK : 0), 0, 0);
    case C_ACK:
        return tcp_packet(p, o, closed_port(o), TH_ACK, 0, rng_below(2) ? 0 : rng_below(536));
    case C_TCPOPT: {
        size_t optlen = 4 * (1 + rng_below(10));
        seglen = tcp_segment(p, o->listen_port, TH_SYN, optlen, 0);
        bad_options(p + IP_HLEN + TCP_HLEN, optlen);
        ip_header(p, IP_HLEN + seglen, IPPROTO_TCP, o->src, o->dst);
        ip_checksum(p);
        tcp_checksum(p, seglen, o->src, o->dst);
        return IP_HLEN + seglen;
    }
    case C_SYN:
    default:
        return tcp_packet(p, o, o->listen_port, TH_SYN, 0, 0);
    }
}

/* ---- Sending ---- */

static int open_device(const char *iface, struct sockaddr_ll *to)
{
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (fd < 0) {
        fprintf(stderr, "ipgarbage: packet socket: %s\n", strerror(errno));
        exit(errno == EPERM || errno == EACCES ? EXIT_NORAW : 1);
    }
    *to = (struct sockaddr_ll){.sll_family = AF_PACKET,
                               .sll_protocol = htons(ETH_P_IP),
                               .sll_ifindex = (int)if_nametoindex(iface)};
    if (!to->sll_ifindex) {
        fprintf(stderr, "ipgarbage: %s: %s\n", iface, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);
    if (!o.have_seed && getrandom(&o.seed, sizeof o.seed, 0) != (ssize_t)sizeof o.seed)
        o.seed = traffic_now_ns();
    rng_state = o.seed ^ 0x9e3779b97f4a7c15ULL;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct sockaddr_ll to;
    int fd = open_device(o.iface, &to);
    if (fd < 0)
        return 1;

    static uint8_t pkt[PKT_MAX];
    long per_cat[NCAT] = {0}, sent = 0, nobufs = 0;
    struct traffic_pace pace;
    traffic_pace_init(&pace, o.rate, BATCH_MAX);
    uint64_t start = pace.deadline;
    int rc = 0;
    while (sent < o.count && !interrupted && rc == 0) {
        traffic_sleep_until(pace.deadline, &interrupted);
        for (int i = 0; i < pace.per_batch && sent < o.count && !interrupted; i++) {
            enum category cat = o.mix[rng_below((uint32_t)o.nmix)];
            size_t len = build(cat, pkt, &o);
            if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len) {
                per_cat[cat]++;
                sent++;
            } else if (errno == ENOBUFS || errno == EAGAIN) {
                nobufs++; /* the device's queue is full: not sent, not counted */
            } else if (errno != EINTR) {
                fprintf(stderr, "ipgarbage: sendto: %s\n", strerror(errno));
                rc = 1;
                break;
            }
        }
        traffic_pace_next(&pace, traffic_now_ns());
    }
    double secs = (double)(traffic_now_ns() - start) / 1e9;
    close(fd);

    printf("ipgarbage: sent %ld packets into %s in %.3f s (seed %llu); %ld found no room\n", sent,
           o.iface, secs, (unsigned long long)o.seed, nobufs);
    printf("ipgarbage-result: sent=%ld", sent);
    for (int i = 0; i < NCAT; i++)
        printf(" %s=%ld", cat_name[i], per_cat[i]);
    printf(" seconds=%.3f seed=%llu\n", secs, (unsigned long long)o.seed);
    return interrupted ? 130 : rc;
}
