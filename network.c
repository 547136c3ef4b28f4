/* network.c -- STCP segments over a carrier, with emulation of a bad path.
 *
 * Sections: checksum; the process's carrier (STCP_CARRIER); RSTs for
 * segments that reach nobody; emulation profiles; the emulation timer
 * (delayed and held-back datagrams); the UDP carrier; endpoints; segment
 * send/receive.  The IP carriers' stack is in net_ip.c.
 */
#define _GNU_SOURCE
#include "network.h"
#include "rng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "carrier.h"
#include "mysock_impl.h"
#include "pcap.h"
#include "transport.h"

/* ============================== Checksum ================================== */

/* Eight bytes at a time in the machine's byte order: the ones'-complement
 * sum does not depend on byte order (RFC 1071 2.B), so one swap at the end
 * gives the network-order sum.  The bulk goes 32 bytes a round into four
 * 64-bit sums with end-around carry (independent, so they overlap in the
 * CPU: 1.5x the speed of one sum of 32-bit halves, measured); 2^64 - 1 is a
 * multiple of 2^16 - 1, so folding them keeps the 16-bit sum. */
uint32_t net_sum(uint32_t sum, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; len >= 32; p += 32, len -= 32) {
        uint64_t w[4];
        memcpy(w, p, sizeof w);
        s0 += w[0];
        s0 += s0 < w[0]; /* the carry out comes back in */
        s1 += w[1];
        s1 += s1 < w[1];
        s2 += w[2];
        s2 += s2 < w[2];
        s3 += w[3];
        s3 += s3 < w[3];
    }
    uint64_t acc = (s0 & 0xffffffffu) + (s0 >> 32) + (s1 & 0xffffffffu) + (s1 >> 32) +
                   (s2 & 0xffffffffu) + (s2 >> 32) + (s3 & 0xffffffffu) + (s3 >> 32);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc += (w & 0xffffffffu) + (w >> 32);
    }
    for (; len >= 2; p += 2, len -= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
    }
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    sum += ntohs((uint16_t)acc);
    if (len)
        sum += (uint32_t)p[0] << 8; /* an odd last byte is the high half of a word */
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* The sum of the IPv4 pseudo-header a TCP checksum covers (RFC 9293
 * 3.1): addresses in network order, zero, protocol, TCP length. */
static uint32_t pseudo_header_sum(uint32_t src_ip, uint32_t dst_ip, size_t len)
{
    uint8_t pseudo[12];
    memcpy(pseudo, &src_ip, 4);
    memcpy(pseudo + 4, &dst_ip, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = (uint8_t)(len >> 8);
    pseudo[11] = (uint8_t)len;
    return net_sum(0, pseudo, sizeof pseudo);
}

uint16_t net_tcp_checksum(uint32_t src_ip, uint32_t dst_ip, const void *seg, size_t len)
{
    uint32_t sum = net_sum(pseudo_header_sum(src_ip, dst_ip, len), seg, len);
    return htons((uint16_t)~sum);
}

void net_counters_read(const struct net_counters *ctr, struct net_counters *out)
{
    const uint64_t *src = (const uint64_t *)ctr;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *ctr / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* ========================= The process's carrier ========================== */

/* STCP_CARRIER is read here and nowhere else, once per process. */
static pthread_once_t carrier_once = PTHREAD_ONCE_INIT;
static int carrier_rc;
static struct net_link *carrier_link; /* NULL: udp */

static struct net_link *carrier_open(const char *spec, char *err, size_t errlen)
{
    if (!strncmp(spec, "tun:", 4))
        return carrier_tun_open(spec + 4, err, errlen);
    if (!strncmp(spec, "vnet:", 5))
        return carrier_vnet_open(spec + 5, err, errlen);
    snprintf(err, errlen, "not udp, tun:DEV,ADDR or vnet:FILE");
    return NULL;
}

static void carrier_setup(void)
{
    const char *spec = getenv("STCP_CARRIER");
    if (!spec || !*spec || !strcmp(spec, "udp"))
        return;
    char err[200] = "";
    struct net_link *l = carrier_open(spec, err, sizeof err);
    if (l && net_ip_start(l, err, sizeof err) == 0) {
        carrier_link = l;
        log_msg(STCP_LOG_INFO, "carrier", "%s: MTU %zu", spec, l->mtu);
        return;
    }
    log_msg(STCP_LOG_ERROR, "carrier", "STCP_CARRIER=\"%s\": %s", spec, err);
    carrier_rc = -1;
}

int net_carrier_init(void)
{
    pthread_once(&carrier_once, carrier_setup);
    if (carrier_rc < 0)
        errno = EINVAL;
    return carrier_rc;
}

bool net_carrier_shared(void)
{
    net_carrier_init();
    return carrier_link != NULL;
}

long net_carrier_mss(void)
{
    if (!net_carrier_shared())
        return 536; /* STCP_MSS, the classic value */
    return (long)carrier_link->mtu - 40;
}

size_t net_carrier_max_segment(void)
{
    if (!net_carrier_shared())
        return 65507; /* the largest UDP payload over IPv4 */
    return carrier_link->mtu - IP_HDR_LEN;
}

uint32_t net_carrier_local_ip(uint32_t peer)
{
    if (!net_carrier_shared())
        return htonl(INADDR_ANY);
    return carrier_link->source_for(carrier_link, peer);
}

int mycarrier_info(int what, char *buf, size_t len)
{
    if ((what != MYCARRIER_INTERFACES && what != MYCARRIER_ROUTES) || (!buf && len)) {
        errno = EINVAL;
        return -1;
    }
    if (net_carrier_init() < 0)
        return -1;
    if (carrier_link)
        return carrier_link->describe(carrier_link, what == MYCARRIER_ROUTES, buf, len);
    /* udp: each socket is a UDP socket of the host; the kernel does the rest. */
    return snprintf(buf, len, "%s\n",
                    what == MYCARRIER_ROUTES
                        ? "udp: no routes of its own: the host's IP routing reaches a peer IP:PORT"
                        : "udp: the host's addresses, one UDP datagram per segment");
}

static struct net_counters stack_ctr;

struct net_counters *net_stack_counters(void)
{
    return &stack_ctr;
}

/* ================== RST for segments that reach nobody ==================== */

bool net_build_rst(const void *seg, size_t len, void *rst20)
{
    if (len < sizeof(STCPHeader))
        return false;
    const STCPHeader *in = seg;
    if (in->th_flags & TH_RST)
        return false; /* never answer a RST */
    STCPHeader out;
    memset(&out, 0, sizeof out);
    out.th_off = 5;
    if (in->th_flags & TH_ACK) {
        out.th_seq = in->th_ack;
        out.th_flags = TH_RST;
    } else {
        size_t hdr = (size_t)in->th_off * 4;
        uint32_t seg_len = (uint32_t)(len > hdr ? len - hdr : 0);
        seg_len += (in->th_flags & TH_SYN) ? 1 : 0;
        seg_len += (in->th_flags & TH_FIN) ? 1 : 0;
        out.th_seq = 0;
        out.th_ack = htonl(ntohl(in->th_seq) + seg_len);
        out.th_flags = TH_RST | TH_ACK;
    }
    memcpy(rst20, &out, sizeof out);
    return true;
}

/* A token bucket: RST_BURST at once, then one per RST_INTERVAL_NS. */
#define RST_BURST       20
#define RST_INTERVAL_NS (10 * 1000 * 1000ULL)

bool net_rst_allowed(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t tokens = RST_BURST, last_ns;
    pthread_mutex_lock(&lock);
    uint64_t now = clock_mono_ns();
    if (!last_ns)
        last_ns = now;
    uint64_t earned = (now - last_ns) / RST_INTERVAL_NS;
    if (earned) {
        tokens = tokens + earned > RST_BURST ? RST_BURST : tokens + earned;
        last_ns += earned * RST_INTERVAL_NS;
    }
    bool ok = tokens > 0;
    if (ok)
        tokens--;
    pthread_mutex_unlock(&lock);
    return ok;
}

void net_send_rst(struct net_ep *ep, const struct sockaddr_in *local,
                  const struct sockaddr_in *peer, const void *seg, size_t len)
{
    uint8_t rst[sizeof(STCPHeader)];
    if (!net_build_rst(seg, len, rst))
        return;
    if (!net_rst_allowed()) {
        NET_COUNT(&stack_ctr, rst_limited);
        return;
    }
    struct iovec iov = {rst, sizeof rst};
    if (net_send_segment(ep, local, peer, &iov, 1) >= 0)
        NET_COUNT(&stack_ctr, rst_sent);
}

/* ========================== Emulation profiles ============================ */

void netem_classic(struct netem_profile *p)
{
    memset(p, 0, sizeof *p);
    p->loss = p->dup = p->reorder = 1.0 / 32;
}

static int parse_probability(const char *val, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (errno || end == val || *end || !(d >= 0 && d <= 1)) /* NaN fails too */
        return -1;
    *out = d;
    return 0;
}

static int parse_delay(const char *val, uint32_t *out_us)
{
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (errno || end == val || !(d >= 0 && d <= 1e7)) /* NaN and inf fail too */
        return -1;
    double scale = 1000; /* plain numbers are milliseconds */
    if (!strcmp(end, "us"))
        scale = 1;
    else if (!strcmp(end, "ms") || !*end)
        scale = 1000;
    else if (!strcmp(end, "s"))
        scale = 1e6;
    else
        return -1;
    if (d * scale > 10e6) /* at most 10 s */
        return -1;
    *out_us = (uint32_t)(d * scale);
    return 0;
}

static int parse_seed(const char *val, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 0);
    if (errno || end == val || *end || *val == '-')
        return -1;
    *out = v;
    return 0;
}

static int netem_set(struct netem_profile *p, const char *key, const char *val)
{
    if (!strcmp(key, "loss"))
        return parse_probability(val, &p->loss);
    if (!strcmp(key, "dup"))
        return parse_probability(val, &p->dup);
    if (!strcmp(key, "reorder"))
        return parse_probability(val, &p->reorder);
    if (!strcmp(key, "corrupt"))
        return parse_probability(val, &p->corrupt);
    if (!strcmp(key, "delay"))
        return parse_delay(val, &p->delay_us);
    if (!strcmp(key, "seed"))
        return parse_seed(val, &p->seed);
    return -2;
}

int netem_parse(const char *spec, struct netem_profile *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!strcmp(spec, "classic")) {
        netem_classic(p);
        return 0;
    }
    char copy[512];
    if (strlen(spec) >= sizeof copy) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    memcpy(copy, spec, strlen(spec) + 1);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, errlen, "'%s' is not key=value", item);
            return -1;
        }
        *eq = '\0';
        int rc = netem_set(p, item, eq + 1);
        if (rc == -2) {
            snprintf(err, errlen,
                     "unknown key '%s' (known: loss, dup, reorder, corrupt, delay, seed)", item);
            return -1;
        }
        if (rc < 0) {
            snprintf(err, errlen, "bad value '%s' for %s", eq + 1, item);
            return -1;
        }
    }
    return 0;
}

int netem_process_profile(struct netem_profile *p)
{
    const char *spec = getenv("STCP_NETEM");
    if (!spec || !*spec) {
        netem_classic(p);
        return 0;
    }
    char err[160];
    if (netem_parse(spec, p, err, sizeof err) < 0) {
        log_msg(STCP_LOG_ERROR, "netem", "STCP_NETEM=\"%s\": %s", spec, err);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* ============================== Endpoints ================================= */

static bool rng_chance(uint64_t *state, double p)
{
    return p > 0 && rng_unit(state) < p;
}

/* ======================== Emulation timer thread ========================== */

/* Datagrams waiting to leave: delayed ones, and ones held back for
 * reordering (released by the next datagram of their endpoint, or by a
 * deadline so a held segment at the end of a burst is not lost). */
struct pending_dgram {
    struct pending_dgram *next;
    struct net_ep *ep;
    uint64_t due_ns;
    bool held;
    struct sockaddr_in src, dst;
    size_t len;
    uint8_t data[]; /* len bytes */
};

#define PENDING_MAX 4096
#define HOLD_MAX_NS (20 * 1000 * 1000ULL) /* longest hold for reordering */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct pending_dgram *head; /* by due time */
    unsigned count;
    bool started;
} pending = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, false};
static pthread_once_t pending_cv_once = PTHREAD_ONCE_INIT;

static void carrier_send_captured(struct net_ep *ep, const struct sockaddr_in *src,
                                  const struct sockaddr_in *dst, const void *buf, size_t len)
{
    if (!ep->carrier->captures)
        pcap_capture(buf, len, src, dst);
    if (ep->carrier->send(ep, src, dst, buf, len) >= 0)
        NET_COUNT(ep->ctr, segs_sent);
}

static void *pending_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pending.lock);
    for (;;) {
        while (!pending.head)
            pthread_cond_wait(&pending.cv, &pending.lock);
        uint64_t now = clock_mono_ns();
        struct pending_dgram *d = pending.head;
        if (d->due_ns > now) {
            struct timespec ts = {(time_t)(d->due_ns / 1000000000ULL),
                                  (long)(d->due_ns % 1000000000ULL)};
            pthread_cond_timedwait(&pending.cv, &pending.lock, &ts);
            continue;
        }
        pending.head = d->next;
        pending.count--;
        if (d->held)
            d->ep->held--;
        carrier_send_captured(d->ep, &d->src, &d->dst, d->data, d->len);
        free(d);
    }
    return NULL;
}

static void pending_init_cv(void)
{
    /* Deadlines are on the monotonic clock. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pending.cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* Queue a datagram to leave at due_ns.  Called with pending.lock held.
 * Returns false if the queue is full (the caller sends it at once). */
static bool pending_add(struct net_ep *ep, const struct sockaddr_in *src,
                        const struct sockaddr_in *dst, const void *buf, size_t len, uint64_t due_ns,
                        bool held)
{
    if (pending.count >= PENDING_MAX)
        return false;
    if (!pending.started) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        int rc = pthread_create(&t, &attr, pending_thread, NULL);
        pthread_attr_destroy(&attr);
        if (rc)
            return false;
        pending.started = true;
    }
    struct pending_dgram *d = malloc(sizeof *d + len);
    if (!d)
        return false;
    d->ep = ep;
    d->due_ns = due_ns;
    d->held = held;
    d->src = *src;
    d->dst = *dst;
    d->len = len;
    memcpy(d->data, buf, len);
    struct pending_dgram **pp = &pending.head;
    while (*pp && (*pp)->due_ns <= due_ns)
        pp = &(*pp)->next;
    d->next = *pp;
    *pp = d;
    pending.count++;
    if (held)
        ep->held++;
    pthread_cond_signal(&pending.cv);
    return true;
}

/* Send now whatever ep holds back for reordering.  pending.lock held. */
static void pending_release_held(struct net_ep *ep)
{
    struct pending_dgram **pp = &pending.head;
    while (ep->held && *pp) {
        struct pending_dgram *d = *pp;
        if (d->ep != ep || !d->held) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        pending.count--;
        ep->held--;
        carrier_send_captured(ep, &d->src, &d->dst, d->data, d->len);
        free(d);
    }
}

/* Forget ep's waiting datagrams: it is closing. */
static void pending_drop_ep(struct net_ep *ep)
{
    pthread_mutex_lock(&pending.lock);
    struct pending_dgram **pp = &pending.head;
    while (*pp) {
        struct pending_dgram *d = *pp;
        if (d->ep == ep) {
            *pp = d->next;
            pending.count--;
            free(d);
        } else {
            pp = &d->next;
        }
    }
    pthread_mutex_unlock(&pending.lock);
}

/* ============================ The UDP carrier ============================= */

static int udp_open(struct net_ep *ep, const struct sockaddr_in *local,
                    const struct sockaddr_in *peer, bool share_port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (share_port && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail;
    /* Learn each datagram's destination address, for the checksum and for
     * replying from the address the peer used. */
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)local, sizeof *local) < 0)
        goto fail;
    if (peer && connect(fd, (const struct sockaddr *)peer, sizeof *peer) < 0)
        goto fail;
    socklen_t alen = sizeof ep->local;
    if (getsockname(fd, (struct sockaddr *)&ep->local, &alen) < 0)
        goto fail;
    ep->fd = fd;
    if (peer) {
        ep->peer = *peer;
        ep->connected = true;
    }
    return 0;
fail : {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}
}

static int udp_connect(struct net_ep *ep, const struct sockaddr_in *peer)
{
    if (connect(ep->fd, (const struct sockaddr *)peer, sizeof *peer) < 0)
        return -1;
    socklen_t alen = sizeof ep->local;
    if (getsockname(ep->fd, (struct sockaddr *)&ep->local, &alen) < 0)
        return -1;
    ep->peer = *peer;
    ep->connected = true;
    return 0;
}

static int udp_share(struct net_ep *ep)
{
    int one = 1;
    return setsockopt(ep->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

static ssize_t udp_send(struct net_ep *ep, const struct sockaddr_in *src,
                        const struct sockaddr_in *dst, const void *buf, size_t len)
{
    if (ep->connected)
        return send(ep->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    struct iovec iov = {(void *)buf, len};
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf;
    struct msghdr msg = {
        .msg_name = (void *)dst, .msg_namelen = sizeof *dst, .msg_iov = &iov, .msg_iovlen = 1};
    if (ep->local.sin_addr.s_addr == htonl(INADDR_ANY) && src &&
        src->sin_addr.s_addr != htonl(INADDR_ANY)) {
        /* Reply from the address the peer sent to. */
        memset(&cbuf, 0, sizeof cbuf);
        msg.msg_control = cbuf.buf;
        msg.msg_controllen = sizeof cbuf.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi = {0};
        pi.ipi_spec_dst = src->sin_addr;
        memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    }
    return sendmsg(ep->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* One datagram, scattered over iov. */
static ssize_t udp_recv_iov(struct net_ep *ep, struct iovec *iov, int iovcnt,
                            struct sockaddr_in *src, struct sockaddr_in *dst, bool *truncated)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr align;
    } cbuf;
    struct msghdr msg = {.msg_name = src,
                         .msg_namelen = sizeof *src,
                         .msg_iov = iov,
                         .msg_iovlen = (size_t)iovcnt,
                         .msg_control = cbuf.buf,
                         .msg_controllen = sizeof cbuf.buf};
    ssize_t n = recvmsg(ep->fd, &msg, MSG_DONTWAIT);
    if (n < 0)
        return -1;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    *dst = ep->local;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof pi);
            dst->sin_addr = pi.ipi_addr;
        }
    }
    return n;
}

static ssize_t udp_recv(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *src,
                        struct sockaddr_in *dst, bool *truncated)
{
    struct iovec iov = {buf, cap};
    return udp_recv_iov(ep, &iov, 1, src, dst, truncated);
}

static void udp_close(struct net_ep *ep)
{
    if (ep->fd >= 0)
        close(ep->fd);
    ep->fd = -1;
}

const struct net_carrier net_udp_carrier = {
    .name = "udp",
    .open = udp_open,
    .connect = udp_connect,
    .share = udp_share,
    .send = udp_send,
    .recv = udp_recv,
    .close = udp_close,
};

/* ======================= Endpoint life cycle ============================== */

struct net_ep *net_ep_open(const struct sockaddr_in *local, const struct sockaddr_in *peer,
                           bool share_port)
{
    struct net_ep *ep = calloc(1, sizeof *ep);
    if (!ep)
        return NULL;
    ep->carrier = net_carrier_shared() ? &net_ip_carrier : &net_udp_carrier;
    ep->fd = -1;
    ep->ctr = &ep->own_ctr;
    pthread_mutex_init(&ep->lock, NULL);
    if (ep->carrier->open(ep, local, peer, share_port) < 0) {
        int saved = errno;
        pthread_mutex_destroy(&ep->lock);
        free(ep);
        errno = saved;
        return NULL;
    }
    return ep;
}

/* The carrier records the peer itself (the IP carriers under their table
 * lock: their receive thread may look at the endpoint at once). */
int net_ep_connect(struct net_ep *ep, const struct sockaddr_in *peer)
{
    return ep->carrier->connect(ep, peer);
}

int net_ep_share(struct net_ep *ep)
{
    return ep->carrier->share(ep);
}

static void batch_flush(struct net_ep *ep);

void net_ep_close(struct net_ep *ep)
{
    if (!ep)
        return;
    if (ep->batch) {
        batch_flush(ep);
        free(ep->batch);
    }
    pending_drop_ep(ep);
    ep->carrier->close(ep);
    pthread_mutex_destroy(&ep->lock);
    free(ep);
}

int net_ep_fd(const struct net_ep *ep)
{
    return ep->fd;
}

void net_ep_local(const struct net_ep *ep, struct sockaddr_in *out)
{
    *out = ep->local;
}

void net_ep_set_counters(struct net_ep *ep, struct net_counters *ctr)
{
    /* Atomic: an IP carrier's receive thread may count on it already. */
    __atomic_store_n(&ep->ctr, ctr ? ctr : &ep->own_ctr, __ATOMIC_RELEASE);
}

void net_ep_set_name(struct net_ep *ep, const char *name)
{
    snprintf(ep->name, sizeof ep->name, "%s", name);
}

void net_ep_size_buffers(struct net_ep *ep, size_t window)
{
    if (ep->carrier != &net_udp_carrier || ep->fd < 0)
        return;
    /* The kernel charges a datagram's whole buffer (its truesize: the
     * payload and about a kilobyte of overhead; twice a small segment) and
     * doubles the value set; twice the window plus a datagram's worth
     * covers a window of small segments, and is the default for up to a
     * 64 KiB window. */
    size_t want = 2 * window + 65536;
    int v = want > INT32_MAX ? INT32_MAX : (int)want;
    static const int opts[] = {SO_RCVBUF, SO_SNDBUF};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        int cur = 0;
        socklen_t len = sizeof cur;
        if (getsockopt(ep->fd, SOL_SOCKET, opts[i], &cur, &len) == 0 && cur / 2 < v)
            (void)setsockopt(ep->fd, SOL_SOCKET, opts[i], &v, sizeof v);
    }
}

void net_ep_set_netem(struct net_ep *ep, const struct netem_profile *profile)
{
    static uint64_t ordinal;
    pthread_mutex_lock(&ep->lock);
    ep->netem_on = profile != NULL;
    if (profile) {
        ep->em = *profile;
        if (!ep->em.seed) {
            uint64_t s = 0;
            if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
                s = clock_mono_ns();
            ep->em.seed = s ? s : 1;
            log_msg(STCP_LOG_DEBUG, "netem", "seed=%llu (set seed= in STCP_NETEM to replay)",
                    (unsigned long long)ep->em.seed);
        }
        /* Each endpoint of the process draws its own stream, derived from
         * the seed and the order endpoints were made in. */
        uint64_t n = __atomic_fetch_add(&ordinal, 1, __ATOMIC_RELAXED);
        ep->rng = ep->em.seed ^ (n * 0xd1b54a32d192ed03ULL);
        splitmix64(&ep->rng);
    }
    pthread_mutex_unlock(&ep->lock);
}

/* ======================== Segments: sending =============================== */

/* What emulation does to one datagram. */
struct netem_verdict {
    bool drop, dup, hold, corrupt;
    size_t corrupt_bit;
};

static struct netem_verdict netem_decide(struct net_ep *ep, size_t len)
{
    struct netem_verdict v = {0};
    v.drop = rng_chance(&ep->rng, ep->em.loss);
    v.dup = rng_chance(&ep->rng, ep->em.dup);
    v.hold = rng_chance(&ep->rng, ep->em.reorder);
    v.corrupt = rng_chance(&ep->rng, ep->em.corrupt);
    v.corrupt_bit = (size_t)(splitmix64(&ep->rng) % (len * 8));
    return v;
}

/* Send one datagram through emulation.  Called with ep->lock held. */
static void netem_send(struct net_ep *ep, const struct sockaddr_in *src,
                       const struct sockaddr_in *dst, uint8_t *buf, size_t len)
{
    struct netem_verdict v = netem_decide(ep, len);
    pthread_once(&pending_cv_once, pending_init_cv);
    pthread_mutex_lock(&pending.lock);
    if (v.drop) {
        NET_COUNT(ep->ctr, dropped);
        pending_release_held(ep); /* a later segment was sent, as far as they know */
        pthread_mutex_unlock(&pending.lock);
        return;
    }
    if (v.corrupt) {
        buf[v.corrupt_bit / 8] ^= (uint8_t)(1u << (v.corrupt_bit % 8));
        NET_COUNT(ep->ctr, corrupted);
    }
    uint64_t now = clock_mono_ns();
    uint64_t due = now + ep->em.delay_us * 1000ULL;
    int copies = v.dup ? 2 : 1;
    if (v.dup)
        NET_COUNT(ep->ctr, duplicated);
    if (v.hold && !ep->held) {
        /* Held back until the next datagram of this endpoint leaves. */
        if (pending_add(ep, src, dst, buf, len, due + HOLD_MAX_NS, true)) {
            NET_COUNT(ep->ctr, reordered);
            copies--;
        }
    }
    for (int i = 0; i < copies; i++) {
        if (ep->em.delay_us && pending_add(ep, src, dst, buf, len, due, false)) {
            NET_COUNT(ep->ctr, delayed);
            continue;
        }
        carrier_send_captured(ep, src, dst, buf, len);
    }
    if (copies > 0)
        pending_release_held(ep);
    pthread_mutex_unlock(&pending.lock);
}

/* Fill in ports and checksum of the segment in buf and send it. */
static ssize_t send_built(struct net_ep *ep, const struct sockaddr_in *local,
                          const struct sockaddr_in *peer, uint8_t *buf, size_t len)
{
    if (ep->connected || !local)
        local = &ep->local;
    if (ep->connected || !peer)
        peer = &ep->peer;
    STCPHeader *h = (STCPHeader *)buf;
    h->th_sport = local->sin_port;
    h->th_dport = peer->sin_port;
    h->th_urp = 0; /* unused by STCP; the classic framework cleared it too */
    h->th_sum = 0;
    h->th_sum = net_tcp_checksum(local->sin_addr.s_addr, peer->sin_addr.s_addr, buf, len);

    if (!ep->netem_on) {
        if (!ep->carrier->captures)
            pcap_capture(buf, len, local, peer);
        ssize_t n = ep->carrier->send(ep, local, peer, buf, len);
        if (n < 0)
            return -1;
        NET_COUNT(ep->ctr, segs_sent);
        return (ssize_t)len;
    }
    pthread_mutex_lock(&ep->lock);
    netem_send(ep, local, peer, buf, len);
    pthread_mutex_unlock(&ep->lock);
    return (ssize_t)len;
}

/* Segments up to this size are built on the stack; larger ones (a large
 * MYSO_MSS) in a heap block, so no thread needs a 64 KiB stack frame. */
#define SEND_STACK_BUF 2048

/* Ones'-complement sum of pieces laid end to end.  A piece that starts at
 * an odd offset contributes its own sum byte-swapped (RFC 1071 2.B). */
static uint32_t net_sum_iov(uint32_t sum, const struct iovec *iov, int iovcnt)
{
    size_t at = 0;
    for (int i = 0; i < iovcnt; i++) {
        uint32_t part = net_sum(0, iov[i].iov_base, iov[i].iov_len);
        if (at & 1)
            part = ((part & 0xff) << 8) | (part >> 8);
        sum += part;
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        at += iov[i].iov_len;
    }
    return sum;
}

/* The pieces the gather-free path handles: the header's first piece and up
 * to this many more. */
#define SEND_IOV_MAX 9

/* ---- Corked sends: one sendmmsg for a round's segments ---- */

/* A held segment: its header (20 bytes and options) copied, its payload
 * pieces pointed to. */
struct net_batch {
    unsigned n;
    struct held_seg {
        uint8_t hdr[60];
        struct iovec iov[SEND_IOV_MAX + 1];
        size_t len;
    } seg[NET_BATCH_MAX];
    struct mmsghdr msg[NET_BATCH_MAX];
};

static int sendmmsg_state; /* 0: not decided, 1: used, -1: one by one */

bool net_sendmmsg_enabled(void)
{
    int st = __atomic_load_n(&sendmmsg_state, __ATOMIC_RELAXED);
    if (!st) {
        const char *v = getenv("STCP_SENDMMSG");
        st = v && strcmp(v, "0") == 0 ? -1 : 1;
        __atomic_store_n(&sendmmsg_state, st, __ATOMIC_RELAXED);
    }
    return st > 0;
}

/* Send the held segments: one sendmmsg, or one sendmsg each where it is
 * missing.  A datagram the kernel does not take (its buffer full) is lost,
 * as with a single send; the transport resends it. */
static void batch_flush(struct net_ep *ep)
{
    struct net_batch *b = ep->batch;
    unsigned n = b ? b->n : 0, sent = 0;
    if (!n)
        return;
    for (unsigned i = 0; i < n; i++) {
        struct held_seg *h = &b->seg[i];
        size_t pieces = 1;
        while (pieces <= SEND_IOV_MAX && h->iov[pieces].iov_base)
            pieces++;
        memset(&b->msg[i], 0, sizeof b->msg[i]);
        b->msg[i].msg_hdr.msg_iov = h->iov;
        b->msg[i].msg_hdr.msg_iovlen = pieces;
    }
    if (net_sendmmsg_enabled()) {
        int r = sendmmsg(ep->fd, b->msg, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            sent = (unsigned)r;
        else if (errno == ENOSYS)
            __atomic_store_n(&sendmmsg_state, -1, __ATOMIC_RELAXED);
    }
    if (!net_sendmmsg_enabled())
        for (unsigned i = 0; i < n; i++)
            if (sendmsg(ep->fd, &b->msg[i].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                sent++;
    for (unsigned i = 0; i < sent; i++)
        NET_COUNT(ep->ctr, segs_sent);
    b->n = 0;
}

void net_ep_cork(struct net_ep *ep, bool on)
{
    if (!ep || ep->carrier != &net_udp_carrier)
        return;
    if (!on && ep->batch) {
        batch_flush(ep);
        /* Only while a round is held: an idle connection keeps no batch. */
        free(ep->batch);
        ep->batch = NULL;
    }
    ep->corked = on;
}

/* Hold a segment built by send_scattered (out: its pieces, the first the
 * fixed header).  False if it cannot be held (no memory): send it now. */
static bool batch_hold(struct net_ep *ep, const struct iovec *out, int n, size_t len)
{
    if (!ep->batch && !(ep->batch = calloc(1, sizeof *ep->batch)))
        return false;
    if (ep->batch->n == NET_BATCH_MAX)
        batch_flush(ep);
    struct held_seg *h = &ep->batch->seg[ep->batch->n];
    size_t hl = out[0].iov_len + out[1].iov_len; /* the header and its options */
    if (hl > sizeof h->hdr)
        return false;
    memcpy(h->hdr, out[0].iov_base, out[0].iov_len);
    memcpy(h->hdr + out[0].iov_len, out[1].iov_base, out[1].iov_len);
    memset(h->iov, 0, sizeof h->iov);
    h->iov[0].iov_base = h->hdr;
    h->iov[0].iov_len = hl;
    int k = 1;
    for (int i = 2; i < n; i++)
        if (out[i].iov_len)
            h->iov[k++] = out[i];
    h->len = len;
    ep->batch->n++;
    return true;
}

/* The udp carrier's common case, without gathering the segment into one
 * buffer: the fixed header is copied (20 bytes, for the ports and the
 * checksum), the checksum is summed over the caller's pieces, and the
 * kernel gathers them with sendmsg.  Only for a connected endpoint with no
 * emulation and no capture (both want the segment in one piece).  Returns
 * -2 when it does not apply. */
static ssize_t send_scattered(struct net_ep *ep, const struct iovec *iov, int iovcnt, size_t len)
{
    if (ep->carrier != &net_udp_carrier || !ep->connected || ep->netem_on ||
        iovcnt >= SEND_IOV_MAX || iov[0].iov_len < sizeof(STCPHeader) || pcap_enabled())
        return -2;
    STCPHeader h;
    memcpy(&h, iov[0].iov_base, sizeof h);
    h.th_sport = ep->local.sin_port;
    h.th_dport = ep->peer.sin_port;
    h.th_urp = 0;
    h.th_sum = 0;
    struct iovec out[SEND_IOV_MAX + 1];
    out[0].iov_base = &h;
    out[0].iov_len = sizeof h;
    out[1].iov_base = (uint8_t *)iov[0].iov_base + sizeof h;
    out[1].iov_len = iov[0].iov_len - sizeof h;
    for (int i = 1; i < iovcnt; i++)
        out[i + 1] = iov[i];
    int n = iovcnt + 1;
    uint32_t sum = net_sum_iov(
        pseudo_header_sum(ep->local.sin_addr.s_addr, ep->peer.sin_addr.s_addr, len), out, n);
    h.th_sum = htons((uint16_t)~sum);
    if (ep->corked && batch_hold(ep, out, n, len))
        return (ssize_t)len;
    batch_flush(ep); /* whatever is held goes first */
    struct msghdr msg = {.msg_iov = out, .msg_iovlen = (size_t)n};
    if (sendmsg(ep->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        return -1;
    NET_COUNT(ep->ctr, segs_sent);
    return (ssize_t)len;
}

ssize_t net_send_segment(struct net_ep *ep, const struct sockaddr_in *local,
                         const struct sockaddr_in *peer, const struct iovec *iov, int iovcnt)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > NET_MAX_SEGMENT - len) {
            errno = EMSGSIZE;
            return -1;
        }
        len += iov[i].iov_len;
    }
    if (len < sizeof(STCPHeader)) {
        errno = EINVAL;
        return -1;
    }
    ssize_t sent = send_scattered(ep, iov, iovcnt, len);
    if (sent != -2)
        return sent;
    batch_flush(ep); /* held segments go first */
    uint8_t small[SEND_STACK_BUF];
    uint8_t *buf = len <= sizeof small ? small : malloc(len);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    size_t at = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    ssize_t rc = send_built(ep, local, peer, buf, len);
    if (buf != small)
        free(buf);
    return rc;
}

/* ======================== Segments: receiving ============================= */

/* A segment of len bytes whose first 20 are at seg: a sane size and data
 * offset, and the ports of the datagram that carried it. */
static bool segment_header_ok(const void *seg, size_t len, const struct sockaddr_in *peer,
                              const struct sockaddr_in *local)
{
    const STCPHeader *h = seg;
    return len >= sizeof(STCPHeader) && len <= NET_MAX_SEGMENT && h->th_off >= 5 &&
           (size_t)h->th_off * 4 <= len && h->th_dport == local->sin_port &&
           h->th_sport == peer->sin_port;
}

int net_check_segment(const void *seg, size_t len, const struct sockaddr_in *peer,
                      const struct sockaddr_in *local, struct net_counters *ctr)
{
    if (!segment_header_ok(seg, len, peer, local)) {
        if (ctr)
            NET_COUNT(ctr, malformed);
        return -1;
    }
    if (net_tcp_checksum(peer->sin_addr.s_addr, local->sin_addr.s_addr, seg, len) != 0) {
        if (ctr)
            NET_COUNT(ctr, bad_checksum);
        return -1;
    }
    return 0;
}

static void log_bad_segment(const struct net_ep *ep, ssize_t n, const struct sockaddr_in *peer)
{
    if (stcp_log_enabled(STCP_LOG_DEBUG)) {
        char who[24];
        addr_str(peer, who, sizeof who);
        log_msg(STCP_LOG_DEBUG, ep->name[0] ? ep->name : "net",
                "dropped a bad segment of %zd bytes from %s", n, who);
    }
}

ssize_t net_recv_segment(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *peer,
                         struct sockaddr_in *local)
{
    for (;;) {
        bool truncated = false;
        ssize_t n = ep->carrier->recv(ep, buf, cap, peer, local, &truncated);
        if (n < 0)
            return -1;
        if (!ep->carrier->captures)
            pcap_capture(buf, (size_t)n, peer, local);
        if (truncated) {
            NET_COUNT(ep->ctr, malformed);
            continue;
        }
        if (net_check_segment(buf, (size_t)n, peer, local, ep->ctr) < 0) {
            log_bad_segment(ep, n, peer);
            continue;
        }
        NET_COUNT(ep->ctr, segs_received);
        return n;
    }
}

/* The receive without the copy (see network.h).  The checks are those of
 * net_check_segment, made over the pieces; the checksum is summed where
 * the bytes landed. */
ssize_t net_recv_segment_split(struct net_ep *ep, struct net_rx_split *rx, struct sockaddr_in *peer,
                               struct sockaddr_in *local)
{
    if (ep->carrier != &net_udp_carrier || pcap_enabled()) {
        rx->in_room = 0;
        return net_recv_segment(ep, rx->hdr, rx->hdr_len + rx->spill_cap, peer, local);
    }
    for (;;) {
        struct iovec iov[3] = {{rx->hdr, rx->hdr_len},
                               {rx->room, rx->room_len},
                               {rx->hdr + rx->hdr_len, rx->spill_cap}};
        bool truncated = false;
        ssize_t n = udp_recv_iov(ep, iov, 3, peer, local, &truncated);
        if (n < 0)
            return -1;
        size_t len = (size_t)n;
        size_t head = MIN(len, rx->hdr_len);
        rx->in_room = MIN(len - head, rx->room_len);
        size_t spilled = len - head - rx->in_room;
        if (truncated || !segment_header_ok(rx->hdr, len, peer, local)) {
            NET_COUNT(ep->ctr, malformed);
            log_bad_segment(ep, n, peer);
            continue;
        }
        iov[1].iov_len = rx->in_room;
        iov[2].iov_len = spilled;
        uint32_t sum = net_sum_iov(
            pseudo_header_sum(peer->sin_addr.s_addr, local->sin_addr.s_addr, len), iov, 3);
        if ((uint16_t)~sum != 0) {
            NET_COUNT(ep->ctr, bad_checksum);
            log_bad_segment(ep, n, peer);
            continue;
        }
        NET_COUNT(ep->ctr, segs_received);
        return n;
    }
}
