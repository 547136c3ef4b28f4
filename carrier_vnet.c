/* carrier_vnet.c -- the vnet link: IPv4 packets as UDP payloads over
 * virtual links, the IP-over-UDP networks courses build IP and TCP on.
 *
 * The link file's first line is "HOST PORT", our UDP endpoint; each further
 * line is "HOST PORT OURVIP PEERVIP", a neighbour's UDP endpoint and the
 * link's two virtual addresses ('#' starts a comment).  We are an end host:
 * packets go only to directly linked neighbours, and come only from them.
 *
 * Neighbours learn our addresses from route announcements (IPv4 protocol
 * 200: command u16 (1 request, 2 response), num_entries u16, then entries
 * of cost u32, address u32, mask u32; network byte order).  Each neighbour
 * gets its link's OURVIP, cost 0, mask /32: at start, every few seconds,
 * and at once when it asks.  Announcements received are ignored: an end
 * host has nothing to route.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "carrier.h"
#include "mysock_impl.h"

#define VNET_MTU          1400
#define VNET_TTL          16
#define VNET_MAX_LINKS    16
#define ANNOUNCE_EVERY_NS (5 * 1000000000LL)

struct vnet_neighbour {
    struct sockaddr_in udp;
    uint32_t ours, peer; /* virtual addresses, network order */
};

struct vnet_link {
    struct net_link link; /* first: a struct net_link * is a struct vnet_link * */
    int fd;
    struct sockaddr_in self; /* our UDP endpoint */
    int n;
    struct vnet_neighbour nb[VNET_MAX_LINKS];
};

static const struct vnet_neighbour *by_peer(const struct vnet_link *v, uint32_t peer)
{
    for (int i = 0; i < v->n; i++)
        if (v->nb[i].peer == peer)
            return &v->nb[i];
    return NULL;
}

static int vnet_send(struct net_link *l, uint32_t dst, const struct iovec *iov, int iovcnt)
{
    const struct vnet_link *v = (const struct vnet_link *)l;
    const struct vnet_neighbour *nb = by_peer(v, dst);
    if (!nb) {
        errno = EHOSTUNREACH; /* not a neighbour: an end host does not route */
        return -1;
    }
    struct msghdr msg = {.msg_name = (void *)&nb->udp,
                         .msg_namelen = sizeof nb->udp,
                         .msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    return sendmsg(v->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static bool from_neighbour(const struct vnet_link *v, const struct sockaddr_in *from)
{
    for (int i = 0; i < v->n; i++)
        if (v->nb[i].udp.sin_addr.s_addr == from->sin_addr.s_addr &&
            v->nb[i].udp.sin_port == from->sin_port)
            return true;
    return false;
}

static ssize_t vnet_recv(struct net_link *l, void *buf, size_t cap)
{
    const struct vnet_link *v = (const struct vnet_link *)l;
    for (;;) {
        struct sockaddr_in from;
        struct iovec iov = {buf, cap};
        struct msghdr msg = {
            .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(v->fd, &msg, 0);
        if (n < 0)
            return -1;
        if (!from_neighbour(v, &from))
            NET_COUNT(net_stack_counters(), ip_not_ours);
        else if (msg.msg_flags & MSG_TRUNC)
            NET_COUNT(net_stack_counters(), ip_malformed); /* larger than the link's MTU */
        else
            return n;
    }
}

static bool vnet_is_local(const struct net_link *l, uint32_t addr)
{
    const struct vnet_link *v = (const struct vnet_link *)l;
    for (int i = 0; i < v->n; i++)
        if (v->nb[i].ours == addr)
            return true;
    return false;
}

static uint32_t vnet_source_for(const struct net_link *l, uint32_t dst)
{
    const struct vnet_link *v = (const struct vnet_link *)l;
    const struct vnet_neighbour *nb = by_peer(v, dst);
    return nb ? nb->ours : v->nb[0].ours;
}

/* Interfaces: our UDP endpoint and each link; routes: each neighbour, the
 * /32 it announces to us (cost 0: directly linked). */
static int vnet_describe(const struct net_link *l, bool routes, char *buf, size_t len)
{
    const struct vnet_link *v = (const struct vnet_link *)l;
    size_t used = 0;
    char udp[24], ours[INET_ADDRSTRLEN], peer[INET_ADDRSTRLEN];
    if (len)
        buf[0] = '\0';
    if (!routes) {
        addr_str(&v->self, udp, sizeof udp);
        net_text_add(buf, len, &used, "vnet: UDP %s, MTU %zu, %d link%s\n", udp, l->mtu, v->n,
                     v->n == 1 ? "" : "s");
    }
    for (int i = 0; i < v->n; i++) {
        addr_str(&v->nb[i].udp, udp, sizeof udp);
        inet_ntop(AF_INET, &v->nb[i].ours, ours, sizeof ours);
        inet_ntop(AF_INET, &v->nb[i].peer, peer, sizeof peer);
        if (routes)
            net_text_add(buf, len, &used, "%s/32 via link %d (from %s), neighbour at UDP %s\n",
                         peer, i, ours, udp);
        else
            net_text_add(buf, len, &used, "link %d: %s <-> %s, neighbour at UDP %s\n", i, ours,
                         peer, udp);
    }
    return (int)used;
}

/* ============================ Announcements =============================== */

static void announce(struct vnet_link *v, const struct vnet_neighbour *nb)
{
    uint8_t msg[4 + 12];
    uint16_t u16 = htons(2); /* response */
    memcpy(msg, &u16, 2);
    u16 = htons(1);
    memcpy(msg + 2, &u16, 2);
    uint32_t cost = 0, mask = 0xffffffffu;
    memcpy(msg + 4, &cost, 4);
    memcpy(msg + 8, &nb->ours, 4);
    memcpy(msg + 12, &mask, 4);
    if (net_ip_send(&v->link, nb->peer, IP_PROTO_ROUTES, msg, sizeof msg) < 0)
        log_msg(STCP_LOG_DEBUG, "vnet", "announcement not sent: %s", strerror(errno));
}

static bool vnet_other_protocol(struct net_link *l, uint8_t proto, uint32_t src,
                                const uint8_t *data, size_t len)
{
    struct vnet_link *v = (struct vnet_link *)l;
    if (proto != IP_PROTO_ROUTES || len < 4)
        return false;
    unsigned command = ((unsigned)data[0] << 8) | data[1];
    const struct vnet_neighbour *nb = by_peer(v, src);
    if (command == 1 && nb)
        announce(v, nb); /* a request: answer at once */
    return command == 1 || command == 2;
}

/* Announce to every neighbour now and every few seconds: a thread asleep
 * on a condition variable until an absolute deadline. */
static void *announce_thread(void *arg)
{
    struct vnet_link *v = arg;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &attr);
    pthread_condattr_destroy(&attr);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    pthread_mutex_lock(&lock);
    for (;;) {
        for (int i = 0; i < v->n; i++)
            announce(v, &v->nb[i]);
        deadline.tv_sec += ANNOUNCE_EVERY_NS / 1000000000LL;
        while (pthread_cond_timedwait(&cv, &lock, &deadline) != ETIMEDOUT)
            ; /* nobody signals: this is the timer */
    }
    return NULL;
}

/* ============================ The link file =============================== */

static int resolve(const char *host, const char *port, struct sockaddr_in *out)
{
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    memcpy(out, res->ai_addr, sizeof *out);
    freeaddrinfo(res);
    out->sin_port = htons((uint16_t)p);
    return 0;
}

/* Parse one line into the link; 0, or -1 with a message. */
static int parse_line(struct vnet_link *v, int lineno, char *line, struct sockaddr_in *self,
                      bool *have_self, char *err, size_t errlen)
{
    char *f[5];
    int nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (*t == '#')
            break;
        if (nf == 5)
            break;
        f[nf++] = t;
    }
    if (!nf)
        return 0;
    if (!*have_self) {
        if (nf != 2 || resolve(f[0], f[1], self) < 0) {
            snprintf(err, errlen, "line %d: expected HOST PORT (our UDP endpoint)", lineno);
            return -1;
        }
        *have_self = true;
        return 0;
    }
    struct vnet_neighbour nb;
    struct in_addr ours, peer;
    if (nf != 4 || resolve(f[0], f[1], &nb.udp) < 0 || inet_pton(AF_INET, f[2], &ours) != 1 ||
        inet_pton(AF_INET, f[3], &peer) != 1) {
        snprintf(err, errlen, "line %d: expected HOST PORT OURVIP PEERVIP", lineno);
        return -1;
    }
    if (v->n == VNET_MAX_LINKS) {
        snprintf(err, errlen, "line %d: more than %d links", lineno, VNET_MAX_LINKS);
        return -1;
    }
    nb.ours = ours.s_addr;
    nb.peer = peer.s_addr;
    v->nb[v->n++] = nb;
    return 0;
}

static int parse_file(struct vnet_link *v, const char *path, struct sockaddr_in *self, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    bool have_self = false;
    int rc = 0;
    for (int lineno = 1; rc == 0 && fgets(line, sizeof line, f); lineno++)
        rc = parse_line(v, lineno, line, self, &have_self, err, errlen);
    fclose(f);
    if (rc == 0 && !v->n) {
        snprintf(err, errlen, "%s: no links (HOST PORT OURVIP PEERVIP lines)", path);
        rc = -1;
    }
    return rc;
}

struct net_link *carrier_vnet_open(const char *path, char *err, size_t errlen)
{
    struct vnet_link *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct sockaddr_in self;
    if (parse_file(v, path, &self, err, errlen) < 0) {
        free(v);
        return NULL;
    }
    v->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (v->fd < 0 || bind(v->fd, (struct sockaddr *)&self, sizeof self) < 0) {
        char where[24];
        addr_str(&self, where, sizeof where);
        snprintf(err, errlen, "UDP %s: %s", where, strerror(errno));
        if (v->fd >= 0)
            close(v->fd);
        free(v);
        return NULL;
    }
    v->link = (struct net_link){.kind = "vnet",
                                .addr = v->nb[0].ours,
                                .mtu = VNET_MTU,
                                .ttl = VNET_TTL,
                                .send = vnet_send,
                                .recv = vnet_recv,
                                .is_local = vnet_is_local,
                                .source_for = vnet_source_for,
                                .other_protocol = vnet_other_protocol,
                                .describe = vnet_describe};
    v->self = self;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, announce_thread, v);
    pthread_attr_destroy(&attr);
    if (rc) {
        snprintf(err, errlen, "cannot start the announcer: %s", strerror(rc));
        close(v->fd);
        free(v);
        return NULL;
    }
    return &v->link;
}
