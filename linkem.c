/* linkem.c -- a link emulator: a shared bottleneck between STCP clients and
 * one server, on loopback, without root.
 *
 *     linkem -s SERVER:PORT [-s ...] [-l ADDR:PORT] [-r RATE] [-d DELAY]
 *            [-q LIMIT] [-L LOSS] [-S SEED] [-R SPEC] [-m MAXFLOWS] [-i IDLE]
 *
 * Clients send their datagrams (one STCP segment each) to the emulator as if
 * it were the server (with several -s, each server has its own port).  Each client flow gets its
 * own UDP socket towards the server, so the server sees distinct peers; ports and checksums are
 * rewritten as a NAT would.  Both directions pass a bottleneck (linkem.h):
 * a rate, a drop-tail queue shared by every flow, a one-way delay and
 * random loss.  One thread, one epoll loop; the only timer is a timerfd set
 * to an absolute CLOCK_MONOTONIC deadline (the next delivery or flow
 * expiry), so an idle emulator sleeps.
 *
 * Sections: flows; the two links; reporting; the event loop; the command
 * line.
 */
#define _GNU_SOURCE
#include "linkem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM     65535
#define READS_PER_WAKEUP 64 /* per socket, so one busy socket cannot starve the rest */
#define SOCKET_BUF       (4 << 20)
#define MAX_SERVERS      8

/* What one direction of one flow did. */
struct dir_stats {
    uint64_t in_pkts, in_bytes;   /* arrived at the emulator */
    uint64_t out_pkts, out_bytes; /* delivered to the other end */
    uint64_t drop_loss, drop_queue, drop_cap, drop_send;
    uint64_t held; /* in the link now: arrived, not yet delivered or dropped */
};

/* A server and the port its clients use; every server's flows share the
 * same two links. */
struct server {
    struct sockaddr_in addr, listen_addr;
    int listen_fd;
    uint32_t ovfl_seen; /* the kernel's drop count on listen_fd, last seen */
};

struct flow {
    bool used;
    unsigned id;
    struct server *via;
    int fd; /* towards the server */
    struct sockaddr_in client, upstream;
    uint64_t last_ns;   /* last datagram either way */
    uint32_t ovfl_seen; /* the kernel's drop count on fd, last seen */
    struct dir_stats up, down;
};

enum dir { UP, DOWN }; /* UP: client -> server; DOWN: server -> client (the data) */

static struct {
    struct server servers[MAX_SERVERS];
    unsigned nservers;
    struct sockaddr_in listen_addr; /* the first server's; the others' ports follow */
    int epoll_fd, timer_fd, signal_fd;
    uint64_t timer_armed_ns;
    struct lk_link link[2];
    struct flow *flows;
    unsigned max_flows, nflows, next_id;
    uint64_t idle_ns, next_sweep_ns;
    uint64_t start_ns;
    /* Counted outside any flow. */
    uint64_t refused, expired, malformed, kernel_drops;
    struct dir_stats expired_up, expired_down; /* sums over expired flows */
} lk;

/* Markers for the epoll events that are neither flows nor servers. */
static char tag_timer, tag_signal;

static struct server *server_of_tag(void *tag)
{
    for (unsigned i = 0; i < lk.nservers; i++)
        if (tag == &lk.servers[i])
            return &lk.servers[i];
    return NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *addr_str(const struct sockaddr_in *a, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
    return buf;
}

/* A datagram socket with large buffers and the kernel's drop counter on. */
static int udp_socket(const struct sockaddr_in *bind_to)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int size = SOCKET_BUF, one = 1;
    /* Best effort: the kernel caps the size at net.core.[rw]mem_max. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)bind_to, sizeof *bind_to) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* ================================= Flows =================================== */

static struct flow *flow_find(const struct server *via, const struct sockaddr_in *client)
{
    for (unsigned i = 0; i < lk.max_flows; i++) {
        struct flow *f = &lk.flows[i];
        if (f->used && f->via == via && f->client.sin_port == client->sin_port &&
            f->client.sin_addr.s_addr == client->sin_addr.s_addr)
            return f;
    }
    return NULL;
}

/* A new flow with its own socket connected to the server; NULL (counted)
 * if the table is full or the socket cannot be made. */
static struct flow *flow_new(struct server *via, const struct sockaddr_in *client, uint64_t now)
{
    struct flow *f = NULL;
    for (unsigned i = 0; i < lk.max_flows && !f; i++)
        if (!lk.flows[i].used)
            f = &lk.flows[i];
    if (!f) {
        lk.refused++;
        return NULL;
    }
    struct sockaddr_in local = via->listen_addr;
    local.sin_port = 0;
    int fd = udp_socket(&local);
    socklen_t alen = sizeof f->upstream;
    if (fd < 0 || connect(fd, (const struct sockaddr *)&via->addr, sizeof via->addr) < 0 ||
        getsockname(fd, (struct sockaddr *)&f->upstream, &alen) < 0) {
        if (fd >= 0)
            close(fd);
        lk.refused++;
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    if (epoll_ctl(lk.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        lk.refused++;
        return NULL;
    }
    memset(&f->up, 0, sizeof f->up);
    memset(&f->down, 0, sizeof f->down);
    f->used = true;
    f->id = ++lk.next_id;
    f->via = via;
    f->fd = fd;
    f->client = *client;
    f->last_ns = now;
    f->ovfl_seen = 0;
    lk.nflows++;
    if (lk.next_sweep_ns > now + lk.idle_ns)
        lk.next_sweep_ns = now + lk.idle_ns;
    return f;
}

static void print_flow(FILE *out, const struct flow *f, const char *state);

static void add_stats(struct dir_stats *sum, const struct dir_stats *s)
{
    sum->in_pkts += s->in_pkts;
    sum->in_bytes += s->in_bytes;
    sum->out_pkts += s->out_pkts;
    sum->out_bytes += s->out_bytes;
    sum->drop_loss += s->drop_loss;
    sum->drop_queue += s->drop_queue;
    sum->drop_cap += s->drop_cap;
    sum->drop_send += s->drop_send;
    sum->held += s->held;
}

/* Flows idle for longer than the idle time go, once nothing of theirs is
 * in a link (the links hold pointers to them).  Their last figures are
 * printed, and added to the expired totals. */
static void flows_sweep(uint64_t now)
{
    if (now < lk.next_sweep_ns)
        return;
    lk.next_sweep_ns = UINT64_MAX;
    for (unsigned i = 0; i < lk.max_flows; i++) {
        struct flow *f = &lk.flows[i];
        if (!f->used)
            continue;
        uint64_t due = f->last_ns + lk.idle_ns;
        if (due <= now && !f->up.held && !f->down.held) {
            print_flow(stdout, f, "expired");
            fflush(stdout);
            add_stats(&lk.expired_up, &f->up);
            add_stats(&lk.expired_down, &f->down);
            close(f->fd);
            f->used = false;
            lk.nflows--;
            lk.expired++;
            continue;
        }
        if (due <= now) /* packets still in the link: look again a little later */
            due = now + lk.idle_ns / 8 + 1;
        if (due < lk.next_sweep_ns)
            lk.next_sweep_ns = due;
    }
}

/* ================================ The links ================================= */

static struct dir_stats *dir_of(struct flow *f, enum dir d)
{
    return d == UP ? &f->up : &f->down;
}

/* A datagram for flow f arrived going direction d: into the link (copied),
 * or counted as dropped. */
static void link_offer(enum dir d, struct flow *f, const uint8_t *buf, size_t len, uint64_t now)
{
    struct dir_stats *s = dir_of(f, d);
    s->in_pkts++;
    s->in_bytes += len;
    f->last_ns = now;
    void *copy = malloc(len ? len : 1);
    if (!copy) {
        s->drop_cap++;
        lk.link[d].drop_cap++;
        return;
    }
    memcpy(copy, buf, len);
    switch (lk_link_offer(&lk.link[d], now, copy, f, (uint32_t)len)) {
    case LK_ACCEPT:
        s->held++;
        return;
    case LK_DROP_LOSS:
        s->drop_loss++;
        break;
    case LK_DROP_QUEUE:
        s->drop_queue++;
        break;
    case LK_DROP_CAP:
        s->drop_cap++;
        break;
    }
    free(copy);
}

/* Hand every packet whose time has come to its destination. */
static void links_deliver(uint64_t now)
{
    for (int d = UP; d <= DOWN; d++) {
        const struct lk_pkt *p;
        while ((p = lk_link_due(&lk.link[d], now))) {
            struct flow *f = p->owner;
            struct dir_stats *s = dir_of(f, (enum dir)d);
            ssize_t n;
            if (d == UP)
                n = send(f->fd, p->data, p->len, MSG_DONTWAIT);
            else
                n = sendto(f->via->listen_fd, p->data, p->len, MSG_DONTWAIT,
                           (const struct sockaddr *)&f->client, sizeof f->client);
            if (n == (ssize_t)p->len) {
                s->out_pkts++;
                s->out_bytes += p->len;
            } else {
                s->drop_send++; /* socket buffer full, or the peer is gone */
            }
            s->held--;
            free(p->data);
            lk_link_pop(&lk.link[d]);
        }
    }
}

/* ================================ Reporting ================================== */

static void print_dir(FILE *out, const char *name, const struct dir_stats *s)
{
    fprintf(out,
            " %s_in_pkts=%" PRIu64 " %s_in_bytes=%" PRIu64 " %s_pkts=%" PRIu64 " %s_bytes=%" PRIu64
            " %s_drop_loss=%" PRIu64 " %s_drop_queue=%" PRIu64 " %s_drop_cap=%" PRIu64
            " %s_drop_send=%" PRIu64 " %s_held=%" PRIu64,
            name, s->in_pkts, name, s->in_bytes, name, s->out_pkts, name, s->out_bytes, name,
            s->drop_loss, name, s->drop_queue, name, s->drop_cap, name, s->drop_send, name,
            s->held);
}

static void print_flow(FILE *out, const struct flow *f, const char *state)
{
    char c[32], u[32], v[32];
    fprintf(out, "flow id=%u state=%s client=%s upstream=%s server=%s", f->id, state,
            addr_str(&f->client, c, sizeof c), addr_str(&f->upstream, u, sizeof u),
            addr_str(&f->via->addr, v, sizeof v));
    print_dir(out, "down", &f->down);
    print_dir(out, "up", &f->up);
    fprintf(out, "\n");
}

static void print_link(FILE *out, enum dir d, uint64_t now)
{
    struct lk_link *l = &lk.link[d];
    double mean_p = lk_link_mean_pkts(l, now), mean_b = lk_link_mean_bytes(l, now);
    uint64_t span = l->last_depart_ns > l->first_ns ? l->last_depart_ns - l->first_ns : 0;
    fprintf(out,
            "link dir=%s rate_bps=%" PRIu64 " delay_us=%" PRIu64 " queue_limit=%u%s loss=%g"
            " offered_pkts=%" PRIu64 " sent_pkts=%" PRIu64 " sent_bytes=%" PRIu64
            " drop_loss=%" PRIu64 " drop_queue=%" PRIu64 " drop_cap=%" PRIu64
            " queue_pkts=%u queue_bytes=%u queue_max_pkts=%u queue_max_bytes=%u"
            " queue_mean_pkts=%.1f queue_mean_bytes=%.0f achieved_bps=%.0f busy=%.3f\n",
            d == UP ? "up" : "down", l->spec.rate_bps, l->spec.delay_ns / 1000, l->spec.queue_limit,
            l->spec.queue_in_bytes ? "b" : "p", l->spec.loss, l->offered_pkts, l->sent_pkts,
            l->sent_bytes, l->drop_loss, l->drop_queue, l->drop_cap, l->q_pkts, l->q_bytes,
            l->q_max_pkts, l->q_max_bytes, mean_p, mean_b, lk_link_achieved_bps(l),
            span ? (double)l->busy_ns / (double)span : 0.0);
}

static void report(const char *why)
{
    uint64_t now = now_ns();
    FILE *out = stdout;
    fprintf(out,
            "linkem report=%s uptime_s=%.3f flows=%u max_flows=%u refused=%" PRIu64
            " expired=%" PRIu64 " malformed=%" PRIu64 " kernel_drops=%" PRIu64 "\n",
            why, (double)(now - lk.start_ns) / 1e9, lk.nflows, lk.max_flows, lk.refused, lk.expired,
            lk.malformed, lk.kernel_drops);
    print_link(out, DOWN, now);
    print_link(out, UP, now);
    for (unsigned i = 0; i < lk.max_flows; i++)
        if (lk.flows[i].used)
            print_flow(out, &lk.flows[i], "active");
    if (lk.expired) {
        fprintf(out, "expired flows=%" PRIu64, lk.expired);
        print_dir(out, "down", &lk.expired_down);
        print_dir(out, "up", &lk.expired_up);
        fprintf(out, "\n");
    }
    fprintf(out, "end\n");
    fflush(out);
}

/* ================================ Event loop ================================== */

/* One datagram from fd; 0 when there is none left.  Adds the kernel's
 * count of datagrams it dropped on this socket (SO_RXQ_OVFL) to ours. */
static ssize_t read_datagram(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *src,
                             uint32_t *ovfl)
{
    struct iovec iov = {buf, cap};
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } cbuf;
    struct msghdr msg = {.msg_name = src,
                         .msg_namelen = sizeof *src,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf.buf,
                         .msg_controllen = sizeof cbuf.buf};
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
            memcpy(ovfl, CMSG_DATA(cm), sizeof *ovfl);
    if (msg.msg_flags & MSG_TRUNC) {
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}

/* The kernel's drop counter is cumulative per socket; count its increase. */
static void note_kernel_drops(uint32_t *seen, uint32_t now_count)
{
    lk.kernel_drops += (uint32_t)(now_count - *seen);
    *seen = now_count;
}

static uint8_t rx_buf[MAX_DATAGRAM];

/* From a client: find or make its flow, rewrite, into the up link. */
static void read_clients(struct server *via, uint64_t now)
{
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        struct sockaddr_in src;
        uint32_t ovfl = via->ovfl_seen;
        ssize_t n = read_datagram(via->listen_fd, rx_buf, sizeof rx_buf, &src, &ovfl);
        note_kernel_drops(&via->ovfl_seen, ovfl);
        if (n == 0)
            return;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            lk.malformed++;
            continue;
        }
        struct flow *f = flow_find(via, &src);
        if (!f && (size_t)n >= LK_TH_LEN)
            f = flow_new(via, &src, now);
        if (!f)
            continue;
        if (lk_rewrite(rx_buf, (size_t)n, &src, &via->listen_addr, &f->upstream, &via->addr) < 0) {
            lk.malformed++;
            continue;
        }
        link_offer(UP, f, rx_buf, (size_t)n, now);
    }
}

/* From the server, on flow f's socket: rewrite, into the down link. */
static void read_server(struct flow *f, uint64_t now)
{
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        struct sockaddr_in src;
        uint32_t ovfl = f->ovfl_seen;
        ssize_t n = read_datagram(f->fd, rx_buf, sizeof rx_buf, &src, &ovfl);
        note_kernel_drops(&f->ovfl_seen, ovfl);
        if (n == 0)
            return;
        if (n < 0) {
            if (errno != ECONNREFUSED) /* the server is not there (yet): ICMP */
                lk.malformed++;
            continue;
        }
        if (lk_rewrite(rx_buf, (size_t)n, &f->via->addr, &f->upstream, &f->via->listen_addr,
                       &f->client) < 0) {
            lk.malformed++;
            continue;
        }
        link_offer(DOWN, f, rx_buf, (size_t)n, now);
    }
}

/* Arm the timer for the next delivery or sweep (absolute deadline), or
 * disarm it when there is nothing to wait for. */
static void timer_update(void)
{
    uint64_t next = lk.next_sweep_ns;
    for (int d = UP; d <= DOWN; d++) {
        uint64_t t = lk_link_next_ns(&lk.link[d]);
        if (t < next)
            next = t;
    }
    if (next == lk.timer_armed_ns)
        return;
    struct itimerspec its = {0};
    if (next != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(next / 1000000000ull);
        its.it_value.tv_nsec = (long)(next % 1000000000ull);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1; /* zero would disarm */
    }
    timerfd_settime(lk.timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    lk.timer_armed_ns = next;
}

/* Returns false when it is time to stop. */
static bool handle_signal(void)
{
    struct signalfd_siginfo si;
    while (read(lk.signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            report("sigusr1");
            continue;
        }
        report(si.ssi_signo == SIGINT ? "sigint" : "sigterm");
        return false;
    }
    return true;
}

static int run(void)
{
    for (;;) {
        timer_update();
        struct epoll_event ev[32];
        int n = epoll_wait(lk.epoll_fd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("linkem: epoll_wait");
            return 1;
        }
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            void *tag = ev[i].data.ptr;
            if (tag == &tag_signal) {
                if (!handle_signal())
                    return 0;
            } else if (tag == &tag_timer) {
                uint64_t expirations;
                (void)!read(lk.timer_fd, &expirations, sizeof expirations);
                lk.timer_armed_ns = UINT64_MAX; /* one-shot: it has fired */
            } else if (server_of_tag(tag)) {
                read_clients(tag, now);
            } else {
                read_server(tag, now);
            }
        }
        now = now_ns();
        links_deliver(now);
        flows_sweep(now);
    }
}

/* =============================== Command line ================================= */

static void usage(const char *prog)
{
    fprintf(
        stderr,
        "usage: %s -s SERVER:PORT [-s SERVER:PORT ...] [-l ADDR:PORT] [-r RATE]\n"
        "          [-d DELAY] [-q LIMIT] [-L LOSS] [-S SEED] [-R SPEC] [-m MAXFLOWS] [-i IDLE]\n"
        "  -s SERVER:PORT  the server to relay to (127.0.0.0/8 only); up to %d, each\n"
        "                  with its own listening port, all through the same links\n"
        "  -l ADDR:PORT    where clients connect (default 127.0.0.1:0, any free port);\n"
        "                  server N listens on PORT + N - 1 (any free port if PORT is 0)\n"
        "  -r RATE         bottleneck rate towards the clients: 100mbit, 800kbit,\n"
        "                  1gbit, or bit/s; 0 = unlimited (default)\n"
        "  -d DELAY        one-way delay towards the clients: 10ms, 500us (default 0)\n"
        "  -q LIMIT        drop-tail queue: 100p (packets) or 150000b (bytes)\n"
        "                  (default %up)\n"
        "  -L LOSS         random loss towards the clients: 0.01 or 1%% (default 0)\n"
        "  -S SEED         seed of the random loss (default: random, printed)\n"
        "  -R SPEC         the path towards the server, as rate=R,delay=D,queue=Q,loss=P;\n"
        "                  keys not given are as towards the clients (default: the same)\n"
        "  -m MAXFLOWS     flows at once; datagrams of more are dropped (default 64)\n"
        "  -i IDLE         seconds after which an idle flow is forgotten (default 60)\n"
        "At exit (SIGINT, SIGTERM) and on SIGUSR1 it prints per-link and per-flow\n"
        "counters on stdout.\n",
        prog, MAX_SERVERS, LK_QUEUE_DEFAULT);
    exit(2);
}

static unsigned parse_count(const char *s, unsigned lo, unsigned hi, const char *prog)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
        usage(prog);
    return (unsigned)v;
}

struct options {
    struct lk_spec down;
    const char *reverse;
    uint64_t seed;
    bool seeded;
};

static void parse_args(int argc, char **argv, struct options *o)
{
    const char *prog = argv[0];
    lk_spec_default(&o->down);
    lk_parse_addr("127.0.0.1:0", &lk.listen_addr);
    lk.max_flows = 64;
    lk.idle_ns = 60 * 1000000000ull;
    int c;
    while ((c = getopt(argc, argv, "s:l:r:d:q:L:S:R:m:i:h")) != -1) {
        int rc = 0;
        switch (c) {
        case 's':
            if (lk.nservers == MAX_SERVERS)
                usage(prog);
            rc = lk_parse_addr(optarg, &lk.servers[lk.nservers++].addr);
            break;
        case 'l':
            rc = lk_parse_addr(optarg, &lk.listen_addr);
            break;
        case 'r':
            rc = lk_parse_rate(optarg, &o->down.rate_bps);
            break;
        case 'd':
            rc = lk_parse_delay(optarg, &o->down.delay_ns);
            break;
        case 'q':
            rc = lk_parse_queue(optarg, &o->down.queue_limit, &o->down.queue_in_bytes);
            break;
        case 'L':
            rc = lk_parse_loss(optarg, &o->down.loss);
            break;
        case 'S': {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            rc = errno || end == optarg || *end || *optarg == '-' ? -1 : 0;
            o->seeded = true;
            break;
        }
        case 'R':
            o->reverse = optarg;
            break;
        case 'm':
            lk.max_flows = parse_count(optarg, 1, 4096, prog);
            break;
        case 'i':
            lk.idle_ns = parse_count(optarg, 1, 86400, prog) * 1000000000ull;
            break;
        default:
            usage(prog);
        }
        if (rc < 0) {
            fprintf(stderr, "%s: bad value '%s' for -%c\n", prog, optarg, c);
            usage(prog);
        }
    }
    if (optind != argc || !lk.nservers)
        usage(prog);
    for (unsigned i = 0; i < lk.nservers; i++)
        if (!lk.servers[i].addr.sin_port)
            usage(prog);
}

/* The project's rule: traffic to loopback only. */
static void require_loopback(const char *prog, const char *what, const struct sockaddr_in *a)
{
    if (lk_is_loopback(a))
        return;
    char s[32];
    fprintf(stderr, "%s: %s %s is not a loopback address (127.0.0.0/8); refused\n", prog, what,
            addr_str(a, s, sizeof s));
    exit(2);
}

/* Server i's listening socket: the -l address, its port + i (or any free
 * port if -l gave none). */
static int listen_for(struct server *srv, unsigned i)
{
    srv->listen_addr = lk.listen_addr;
    if (srv->listen_addr.sin_port) {
        unsigned port = ntohs(lk.listen_addr.sin_port) + i;
        if (port > 65535) {
            errno = EADDRNOTAVAIL;
            return -1;
        }
        srv->listen_addr.sin_port = htons((uint16_t)port);
    }
    srv->listen_fd = udp_socket(&srv->listen_addr);
    socklen_t alen = sizeof srv->listen_addr;
    if (srv->listen_fd < 0 ||
        getsockname(srv->listen_fd, (struct sockaddr *)&srv->listen_addr, &alen) < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = srv};
    return epoll_ctl(lk.epoll_fd, EPOLL_CTL_ADD, srv->listen_fd, &ev);
}

static int setup(const char *prog, const struct options *o)
{
    struct lk_spec up = o->down;
    char err[160];
    if (o->reverse && lk_parse_spec(o->reverse, &up, err, sizeof err) < 0) {
        fprintf(stderr, "%s: -R %s: %s\n", prog, o->reverse, err);
        usage(prog);
    }
    uint64_t seed = o->seed;
    if (!o->seeded && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = now_ns();
    /* Each direction draws its own stream from the one seed. */
    if (lk_link_init(&lk.link[DOWN], &o->down, seed) < 0 ||
        lk_link_init(&lk.link[UP], &up, seed ^ 0x5bd1e9955bd1e995ull) < 0)
        return -1;
    lk.flows = calloc(lk.max_flows, sizeof *lk.flows);
    if (!lk.flows)
        return -1;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    lk.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    lk.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    lk.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (lk.signal_fd < 0 || lk.timer_fd < 0 || lk.epoll_fd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN};
    for (unsigned i = 0; i < lk.nservers; i++)
        if (listen_for(&lk.servers[i], i) < 0)
            return -1;
    ev.data.ptr = &tag_signal;
    if (epoll_ctl(lk.epoll_fd, EPOLL_CTL_ADD, lk.signal_fd, &ev) < 0)
        return -1;
    ev.data.ptr = &tag_timer;
    if (epoll_ctl(lk.epoll_fd, EPOLL_CTL_ADD, lk.timer_fd, &ev) < 0)
        return -1;
    lk.timer_armed_ns = lk.next_sweep_ns = UINT64_MAX;
    lk.start_ns = now_ns();
    for (unsigned i = 0; i < lk.nservers; i++) {
        char a[32], s[32];
        addr_str(&lk.servers[i].listen_addr, a, sizeof a);
        if (i == 0)
            printf("Link's address is %s\n", a);
        else
            printf("Link's address for server %u is %s\n", i + 1, a);
        printf("linkem server=%s listen=%s\n", addr_str(&lk.servers[i].addr, s, sizeof s), a);
    }
    printf("linkem seed=%" PRIu64 "\n", seed);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    parse_args(argc, argv, &o);
    for (unsigned i = 0; i < lk.nservers; i++)
        require_loopback(argv[0], "server address", &lk.servers[i].addr);
    require_loopback(argv[0], "listening address", &lk.listen_addr);
    if (setup(argv[0], &o) < 0) {
        perror("linkem");
        return 1;
    }
    int rc = run();
    /* Free what the links still hold, for leak checkers. */
    for (int d = UP; d <= DOWN; d++) {
        const struct lk_pkt *p;
        while ((p = lk_link_due(&lk.link[d], UINT64_MAX))) {
            free(p->data);
            lk_link_pop(&lk.link[d]);
        }
        lk_link_free(&lk.link[d]);
    }
    for (unsigned i = 0; i < lk.max_flows; i++)
        if (lk.flows[i].used)
            close(lk.flows[i].fd);
    for (unsigned i = 0; i < lk.nservers; i++)
        close(lk.servers[i].listen_fd);
    free(lk.flows);
    return rc;
}
