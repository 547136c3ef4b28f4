/* net_ip.c -- the stack over an IP carrier (tun, vnet): one link per
 * process, shared by every socket.
 *
 * Sections: IPv4 headers; the endpoint table (demultiplexing by 4-tuple,
 * listener lookup, port allocation -- what lwIP calls PCB lookup); the
 * receive thread (validate, demultiplex, queue); the endpoint operations
 * behind struct net_carrier.
 *
 * One receive thread reads the link, checks each packet and hands its
 * segment to the endpoint it belongs to: the connection with its 4-tuple,
 * else the listener on its port, else nobody (answered with a RST).  Each
 * endpoint has a bounded queue and an eventfd that is readable while the
 * queue holds a segment, so the transport and listener threads wait on it
 * exactly as on a UDP socket.  A full queue drops (and counts).
 *
 * Locking: table_lock guards the table; an endpoint's rx_lock guards its
 * queue.  The receive thread delivers with table_lock held, so an endpoint
 * taken out of the table (under the same lock) is never delivered to again.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "carrier.h"
#include "mysock_impl.h"
#include "pcap.h"
#include "transport.h"

/* A connection's queue: enough for a full 64 KiB window of small segments. */
#define RXQ_SEGMENTS 256
#define RXQ_BYTES    (512 * 1024)

#define EPHEMERAL_FIRST 49152 /* RFC 6335's dynamic ports */
#define EPHEMERAL_COUNT 16384

static struct net_link *the_link;

/* ================================ IPv4 ==================================== */

enum ip_verdict ip_parse(const uint8_t *p, size_t len, struct ip_packet *out)
{
    if (len < IP_HDR_LEN || (p[0] >> 4) != 4)
        return IP_MALFORMED;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = ((size_t)p[2] << 8) | p[3];
    if (ihl < IP_HDR_LEN || total < ihl || total > len)
        return IP_MALFORMED; /* bytes beyond total are padding; fewer is a cut packet */
    if ((uint16_t)~net_sum(0, p, ihl) != 0)
        return IP_BAD_CHECKSUM;
    if ((((unsigned)p[6] << 8) | p[7]) & 0x3fff)
        return IP_FRAGMENT; /* MF, or an offset: we do not reassemble */
    memcpy(&out->src, p + 12, 4);
    memcpy(&out->dst, p + 16, 4);
    out->proto = p[9];
    out->data = p + ihl;
    out->len = total - ihl;
    return IP_OK;
}

void ip_build(uint8_t hdr[IP_HDR_LEN], uint32_t src, uint32_t dst, uint8_t proto,
              size_t payload_len, uint8_t ttl)
{
    static uint16_t next_id;
    uint16_t id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    size_t total = IP_HDR_LEN + payload_len;
    memset(hdr, 0, IP_HDR_LEN);
    hdr[0] = 0x45; /* version 4, 5 words */
    hdr[2] = (uint8_t)(total >> 8);
    hdr[3] = (uint8_t)total;
    hdr[4] = (uint8_t)(id >> 8);
    hdr[5] = (uint8_t)id;
    hdr[6] = 0x40; /* DF: we never fragment, so neither should the path */
    hdr[8] = ttl;
    hdr[9] = proto;
    memcpy(hdr + 12, &src, 4);
    memcpy(hdr + 16, &dst, 4);
    uint16_t sum = (uint16_t)~net_sum(0, hdr, IP_HDR_LEN);
    hdr[10] = (uint8_t)(sum >> 8);
    hdr[11] = (uint8_t)sum;
}

static int ip_send_from(struct net_link *l, uint32_t src, uint32_t dst, uint8_t proto,
                        const void *payload, size_t len)
{
    if (len + IP_HDR_LEN > l->mtu) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t hdr[IP_HDR_LEN];
    ip_build(hdr, src, dst, proto, len, l->ttl);
    pcap_capture_ip(hdr, sizeof hdr, payload, len);
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)payload, len}};
    return l->send(l, dst, iov, 2);
}

int net_ip_send(struct net_link *l, uint32_t dst, uint8_t proto, const void *payload, size_t len)
{
    return ip_send_from(l, l->source_for(l, dst), dst, proto, payload, len);
}

/* =========================== The endpoint table =========================== */

#define TABLE_BUCKETS 256

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct net_ep *connected[TABLE_BUCKETS]; /* by 4-tuple */
static struct net_ep *unconnected;              /* bound and listening, by port */
static unsigned ephemeral_next;

static unsigned bucket_of(uint16_t lport, uint32_t pip, uint16_t pport)
{
    uint32_t h = pip ^ ((uint32_t)lport << 16) ^ pport;
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return h % TABLE_BUCKETS;
}

static struct net_ep **chain_of(const struct net_ep *ep)
{
    if (!ep->connected)
        return &unconnected;
    return &connected[bucket_of(ep->local.sin_port, ep->peer.sin_addr.s_addr, ep->peer.sin_port)];
}

static void table_insert(struct net_ep *ep)
{
    struct net_ep **chain = chain_of(ep);
    ep->table_next = *chain;
    *chain = ep;
    ep->in_table = true;
}

static void table_remove(struct net_ep *ep)
{
    if (!ep->in_table)
        return;
    for (struct net_ep **pp = chain_of(ep); *pp; pp = &(*pp)->table_next) {
        if (*pp == ep) {
            *pp = ep->table_next;
            break;
        }
    }
    ep->in_table = false;
}

/* The connection with this 4-tuple (our address is checked before). */
static struct net_ep *find_connected(uint16_t lport, uint32_t pip, uint16_t pport)
{
    for (struct net_ep *ep = connected[bucket_of(lport, pip, pport)]; ep; ep = ep->table_next)
        if (ep->local.sin_port == lport && ep->peer.sin_addr.s_addr == pip &&
            ep->peer.sin_port == pport)
            return ep;
    return NULL;
}

static struct net_ep *find_listener(uint16_t lport)
{
    for (struct net_ep *ep = unconnected; ep; ep = ep->table_next)
        if (ep->listening && ep->local.sin_port == lport)
            return ep;
    return NULL;
}

/* Does any endpoint use port (network order) as its local port? */
static bool port_in_use(uint16_t port)
{
    for (struct net_ep *ep = unconnected; ep; ep = ep->table_next)
        if (ep->local.sin_port == port)
            return true;
    for (unsigned b = 0; b < TABLE_BUCKETS; b++)
        for (struct net_ep *ep = connected[b]; ep; ep = ep->table_next)
            if (ep->local.sin_port == port)
                return true;
    return false;
}

/* A free ephemeral port (network order), or 0.  Table lock held. */
static uint16_t ephemeral_port(void)
{
    if (!ephemeral_next) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)clock_mono_ns();
        ephemeral_next = r % EPHEMERAL_COUNT + 1;
    }
    for (unsigned i = 0; i < EPHEMERAL_COUNT; i++) {
        uint16_t port = htons((uint16_t)(EPHEMERAL_FIRST + ephemeral_next++ % EPHEMERAL_COUNT));
        if (!port_in_use(port))
            return port;
    }
    return 0;
}

/* ============================ Receive queues ============================== */

/* Queue a segment for ep.  Table lock held (ep stays alive). */
static void rx_push(struct net_ep *ep, const uint8_t *seg, size_t len,
                    const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
    pthread_mutex_lock(&ep->rx_lock);
    struct rx_seg *r = NULL;
    if (ep->rx_count < RXQ_SEGMENTS && ep->rx_count * (size_t)the_link->mtu < RXQ_BYTES)
        r = malloc(sizeof *r + len);
    if (!r) {
        pthread_mutex_unlock(&ep->rx_lock);
        NET_COUNT(__atomic_load_n(&ep->ctr, __ATOMIC_ACQUIRE), queue_full);
        return;
    }
    r->next = NULL;
    r->src = *src;
    r->dst = *dst;
    r->len = len;
    memcpy(r->data, seg, len);
    if (ep->rx_tail)
        ep->rx_tail->next = r;
    else
        ep->rx_head = r;
    ep->rx_tail = r;
    if (ep->rx_count++ == 0) {
        uint64_t one = 1; /* readable from now until the queue is empty */
        ssize_t n = write(ep->fd, &one, sizeof one);
        (void)n;
    }
    pthread_mutex_unlock(&ep->rx_lock);
}

static struct rx_seg *rx_pop(struct net_ep *ep)
{
    pthread_mutex_lock(&ep->rx_lock);
    struct rx_seg *r = ep->rx_head;
    if (r) {
        ep->rx_head = r->next;
        if (!ep->rx_head)
            ep->rx_tail = NULL;
        if (--ep->rx_count == 0) {
            uint64_t v;
            ssize_t n = read(ep->fd, &v, sizeof v);
            (void)n;
        }
    }
    pthread_mutex_unlock(&ep->rx_lock);
    return r;
}

/* ============================ The receive thread ========================== */

/* A segment for nobody: RST, if it is a correct segment at all. */
static void ip_tcp_for_nobody(const struct ip_packet *p, const struct sockaddr_in *src,
                              const struct sockaddr_in *dst)
{
    struct net_counters *ctr = net_stack_counters();
    if (net_check_segment(p->data, p->len, src, dst, ctr) < 0)
        return;
    NET_COUNT(ctr, no_socket);
    uint8_t rst[sizeof(STCPHeader)];
    if (!net_build_rst(p->data, p->len, rst))
        return;
    if (!net_rst_allowed()) {
        NET_COUNT(ctr, rst_limited);
        return;
    }
    STCPHeader *h = (STCPHeader *)rst;
    h->th_sport = dst->sin_port;
    h->th_dport = src->sin_port;
    h->th_sum = 0;
    h->th_sum = net_tcp_checksum(p->dst, p->src, rst, sizeof rst);
    if (ip_send_from(the_link, p->dst, p->src, IP_PROTO_TCP, rst, sizeof rst) == 0)
        NET_COUNT(ctr, rst_sent);
}

static void ip_tcp_input(const struct ip_packet *p)
{
    if (p->len < sizeof(STCPHeader)) {
        NET_COUNT(net_stack_counters(), malformed);
        return;
    }
    const STCPHeader *h = (const STCPHeader *)p->data;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = h->th_sport};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = h->th_dport};
    src.sin_addr.s_addr = p->src;
    dst.sin_addr.s_addr = p->dst;
    pthread_mutex_lock(&table_lock);
    struct net_ep *ep = find_connected(h->th_dport, p->src, h->th_sport);
    if (!ep)
        ep = find_listener(h->th_dport);
    if (ep)
        rx_push(ep, p->data, p->len, &src, &dst);
    pthread_mutex_unlock(&table_lock);
    if (!ep)
        ip_tcp_for_nobody(p, &src, &dst);
}

static void ip_input(const uint8_t *pkt, size_t len)
{
    struct net_counters *ctr = net_stack_counters();
    struct ip_packet p;
    switch (ip_parse(pkt, len, &p)) {
    case IP_OK:
        break;
    case IP_MALFORMED:
        NET_COUNT(ctr, ip_malformed);
        return;
    case IP_BAD_CHECKSUM:
        NET_COUNT(ctr, ip_bad_checksum);
        return;
    case IP_FRAGMENT:
        NET_COUNT(ctr, ip_fragments);
        return;
    }
    if (!the_link->is_local(the_link, p.dst)) {
        NET_COUNT(ctr, ip_not_ours);
        return;
    }
    if (p.proto == IP_PROTO_TCP)
        ip_tcp_input(&p);
    else if (!the_link->other_protocol ||
             !the_link->other_protocol(the_link, p.proto, p.src, p.data, p.len))
        NET_COUNT(ctr, ip_other_proto);
}

static void *rx_thread(void *arg)
{
    struct net_link *l = arg;
    uint8_t *buf = malloc(l->mtu);
    if (!buf)
        return NULL;
    for (;;) {
        ssize_t n = l->recv(l, buf, l->mtu);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            log_msg(STCP_LOG_ERROR, l->kind, "reading the link: %s", strerror(errno));
            break;
        }
        pcap_capture_ip(buf, (size_t)n, NULL, 0);
        ip_input(buf, (size_t)n);
    }
    free(buf);
    return NULL;
}

int net_ip_start(struct net_link *l, char *err, size_t errlen)
{
    the_link = l;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, rx_thread, l);
    pthread_attr_destroy(&attr);
    if (rc) {
        snprintf(err, errlen, "cannot start the receive thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

/* ======================= Endpoint operations ============================== */

static int ip_open(struct net_ep *ep, const struct sockaddr_in *local,
                   const struct sockaddr_in *peer, bool share_port)
{
    uint32_t addr = local->sin_addr.s_addr;
    if (addr != htonl(INADDR_ANY) && !the_link->is_local(the_link, addr)) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    ep->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep->fd < 0)
        return -1;
    pthread_mutex_init(&ep->rx_lock, NULL);
    ep->local = *local;
    ep->local.sin_family = AF_INET;
    if (addr == htonl(INADDR_ANY))
        ep->local.sin_addr.s_addr =
            the_link->source_for(the_link, peer ? peer->sin_addr.s_addr : the_link->addr);
    int err = 0;
    pthread_mutex_lock(&table_lock);
    if (!local->sin_port) {
        ep->local.sin_port = ephemeral_port();
        err = ep->local.sin_port ? 0 : EADDRINUSE;
    } else if (share_port && peer) {
        /* A listener's connection: only the 4-tuple must be free. */
        err =
            find_connected(local->sin_port, peer->sin_addr.s_addr, peer->sin_port) ? EADDRINUSE : 0;
    } else if (port_in_use(local->sin_port)) {
        err = EADDRINUSE;
    }
    if (!err) {
        if (peer) {
            ep->peer = *peer;
            ep->connected = true;
        }
        table_insert(ep);
    }
    pthread_mutex_unlock(&table_lock);
    if (err) {
        close(ep->fd);
        ep->fd = -1;
        pthread_mutex_destroy(&ep->rx_lock);
        errno = err;
        return -1;
    }
    return 0;
}

static int ip_connect(struct net_ep *ep, const struct sockaddr_in *peer)
{
    int err = 0;
    pthread_mutex_lock(&table_lock);
    if (find_connected(ep->local.sin_port, peer->sin_addr.s_addr, peer->sin_port)) {
        err = EADDRINUSE;
    } else {
        table_remove(ep);
        ep->local.sin_addr.s_addr = the_link->source_for(the_link, peer->sin_addr.s_addr);
        ep->peer = *peer;
        ep->connected = true;
        table_insert(ep);
    }
    pthread_mutex_unlock(&table_lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

static int ip_share(struct net_ep *ep)
{
    pthread_mutex_lock(&table_lock);
    ep->listening = true;
    pthread_mutex_unlock(&table_lock);
    return 0;
}

static ssize_t ip_send(struct net_ep *ep, const struct sockaddr_in *src,
                       const struct sockaddr_in *dst, const void *buf, size_t len)
{
    uint32_t from = src ? src->sin_addr.s_addr : ep->local.sin_addr.s_addr;
    if (ip_send_from(the_link, from, dst->sin_addr.s_addr, IP_PROTO_TCP, buf, len) < 0)
        return -1;
    return (ssize_t)len;
}

static ssize_t ip_recv(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *src,
                       struct sockaddr_in *dst, bool *truncated)
{
    struct rx_seg *r = rx_pop(ep);
    if (!r) {
        errno = EAGAIN;
        return -1;
    }
    size_t n = r->len < cap ? r->len : cap;
    memcpy(buf, r->data, n);
    *truncated = r->len > cap;
    *src = r->src;
    *dst = r->dst;
    free(r);
    return (ssize_t)n;
}

static void ip_close(struct net_ep *ep)
{
    if (ep->fd < 0)
        return;
    pthread_mutex_lock(&table_lock);
    table_remove(ep);
    pthread_mutex_unlock(&table_lock);
    struct rx_seg *r;
    while ((r = rx_pop(ep)))
        free(r);
    close(ep->fd);
    ep->fd = -1;
    pthread_mutex_destroy(&ep->rx_lock);
}

/* ---- Describing a link (mycarrier_info) ---- */

void net_text_add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    size_t at = *used;
    if (at > len)
        at = len;
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
    int n = vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

const struct net_carrier net_ip_carrier = {
    .name = "ip",
    .captures = true,
    .open = ip_open,
    .connect = ip_connect,
    .share = ip_share,
    .send = ip_send,
    .recv = ip_recv,
    .close = ip_close,
};
