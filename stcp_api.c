/* stcp_api.c -- the transport-facing interface (stcp_api.h) on top of the
 * socket table, plus the framework's clocks and logging.
 *
 * Wake-ups: the transport thread sleeps in ppoll() on its connection's own
 * datagram socket; application threads send it a signal (conn_wake) only
 * when it is asleep waiting for what they did.  The other
 * way, myread/mywrite waiters are signalled once per batch of transport
 * work (when the transport next waits), not once per segment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "mysock_impl.h"
#include "transport.h"

/* ================================ Clocks ================================== */

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t ns_until(clockid_t clock, const struct timespec *abstime)
{
    struct timespec now;
    clock_gettime(clock, &now);
    int64_t d = ((int64_t)abstime->tv_sec - (int64_t)now.tv_sec) * 1000000000LL +
                ((int64_t)abstime->tv_nsec - (int64_t)now.tv_nsec);
    return d > 0 ? d : 0;
}

/* ================================ Logging ================================= */

static int log_level = -1;

static int parse_level(void)
{
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    const char *v = getenv("STCP_LOG");
    if (v && *v) {
        for (int i = 0; i < 5; i++)
            if (!strcmp(v, names[i]))
                return i;
        fprintf(stderr,
                "stcp: STCP_LOG=%s is not one of error|warn|info|debug|trace; "
                "using warn\n",
                v);
    }
    return STCP_LOG_WARN;
}

int stcp_log_enabled(enum stcp_log_level level)
{
    int cur = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (cur < 0) {
        cur = parse_level();
        __atomic_store_n(&log_level, cur, __ATOMIC_RELAXED);
    }
    return (int)level <= cur;
}

void log_vmsg(enum stcp_log_level level, const char *who, const char *fmt, va_list ap)
{
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    if (!stcp_log_enabled(level))
        return;
    char msg[512];
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): every caller starts ap */
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%06ld %-5s [%s] %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000, tags[level], who, msg);
}

void log_msg(enum stcp_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}

void addr_str(const struct sockaddr_in *a, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
}

void stcp_log(mysocket_t sd, enum stcp_log_level level, const char *fmt, ...)
{
    if (!stcp_log_enabled(level))
        return;
    struct mysock *s = sock_transport(sd);
    char who[48];
    if (s && s->conn)
        snprintf(who, sizeof who, "%s", s->conn->name);
    else
        snprintf(who, sizeof who, "sd %d", sd);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}

/* The classic debug print, for transports that use it without defining it
 * (the classic skeleton defines its own, which then wins at link time: this
 * one is weak).  No format attribute in transport.h: a dropped-in
 * transport's format strings are its own business. */
__attribute__((weak)) void our_dprintf(const char *format, ...)
{
    if (!format)
        return;
    va_list ap;
    va_start(ap, format);
    log_vmsg(STCP_LOG_DEBUG, "transport", format, ap);
    va_end(ap);
}

/* ============================ Looking up sd =============================== */

static struct conn *transport_conn(mysocket_t sd, struct mysock **out)
{
    struct mysock *s = sock_transport(sd);
    if (!s || !s->conn) {
        errno = EBADF;
        return NULL;
    }
    *out = s;
    return s->conn;
}

/* ============================ Waiting for events ========================== */

/* The close (myclose, or myshutdown SHUT_WR: no more data) is pending:
 * reported once, after the application's data is all taken.  Socket lock
 * held. */
static bool close_pending(const struct conn *c)
{
    return (c->close_requested || c->shut_wr) && !c->close_reported && c->sndq.len == c->sndq_taken;
}

/* Segments forwarded by the listener wait in the inbox.  Lock held. */
static bool inbox_pending(const struct conn *c)
{
    return c->inbox && c->inbox->count;
}

/* Events of flags that are ready now.  APP_CLOSE_REQUESTED counts whatever
 * flags says, as in the classic framework.  Called with the socket lock held. */
static unsigned ready_events(const struct conn *c, unsigned flags)
{
    unsigned ev = 0;
    if ((flags & APP_DATA) && c->sndq.len > c->sndq_taken)
        ev |= APP_DATA;
    if (close_pending(c))
        ev |= APP_CLOSE_REQUESTED;
    /* The full close never overtakes the FIN's APP_CLOSE_REQUESTED. */
    if ((flags & APP_CLOSED) && c->close_requested && !c->closed_reported &&
        (c->close_reported || (ev & APP_CLOSE_REQUESTED)))
        ev |= APP_CLOSED;
    if ((flags & NETWORK_DATA) && (c->stage_len || inbox_pending(c) || c->net_error))
        ev |= NETWORK_DATA;
    if ((flags & APP_READ) && c->app_read)
        ev |= APP_READ;
    return ev;
}

/* Signal the application threads this batch of transport work owes. */
static void flush_app_wakes(struct conn *c)
{
    if (c->wake_reader) {
        c->wake_reader = false;
        pthread_cond_broadcast(&c->rd_cv);
    }
    if (c->wake_writer) {
        c->wake_writer = false;
        pthread_cond_broadcast(&c->wr_cv);
    }
}

/* The application still reads (no myclose, no SHUT_RD).  Lock held. */
static bool app_reading(const struct mysock *s, const struct conn *c)
{
    return s->app_open && !c->close_requested && !c->shut_rd;
}

/* The free space at the end of the receive queue, in one piece: where the
 * next in-order payload goes.  0 when there is none to use.  Lock held. */
static size_t rcvq_room(const struct mysock *s, const struct conn *c, size_t *pos)
{
    const struct byteq *q = &c->rcvq;
    if (!q->buf || !app_reading(s, c))
        return 0;
    *pos = (q->head + q->len) % q->cap;
    return MIN(byteq_space(q), q->cap - *pos);
}

/* Put the staged segment in one piece in the stage (its payload was
 * received into the receive queue's free space). */
static void stage_linearize(struct conn *c)
{
    if (!c->stage_room)
        return;
    size_t hdr = sizeof(STCPHeader);
    memcpy(c->stage + hdr, c->rcvq.buf + c->rx_pos, c->stage_room);
    c->stage_room = 0;
}

/* Can the segment just received split stay so: a plain header (no
 * options, no SYN or RST) with its whole payload in the receive queue? */
static bool split_usable(const struct conn *c, const struct net_rx_split *rx, size_t len)
{
    const STCPHeader *h = (const STCPHeader *)c->stage;
    return rx->in_room && len == rx->hdr_len + rx->in_room && h->th_off == 5 &&
           !(h->th_flags & (TH_SYN | TH_RST));
}

/* Read one segment from the connection's own endpoint into the stage, if
 * it is empty.  Its payload is received straight into the free space at
 * the end of the receive queue, when there is room for it there: a
 * transport that takes it in place (stcp_network_peek_split,
 * stcp_app_commit) saves a copy; for the others it is moved into the
 * stage.  Only the transport thread touches the stage and that free space
 * (the application only reads the queue's data and frees space before
 * it).  Returns whether it read the endpoint. */
static bool fill_stage(struct mysock *s, struct conn *c)
{
    if (c->stage_len || c->net_error || !c->ep || c->net_empty)
        return false;
    size_t cap = net_carrier_max_segment();
    if (!c->stage && !(c->stage = malloc(cap)))
        return false; /* the segment waits in the socket until memory returns */
    struct net_rx_split rx = {.hdr = c->stage, .hdr_len = sizeof(STCPHeader)};
    rx.spill_cap = cap - rx.hdr_len;
    pthread_mutex_lock(&s->lock);
    rx.room_len = rcvq_room(s, c, &c->rx_pos);
    rx.room = rx.room_len ? c->rcvq.buf + c->rx_pos : NULL;
    pthread_mutex_unlock(&s->lock);
    struct sockaddr_in peer, local;
    ssize_t n = net_recv_segment_split(c->ep, &rx, &peer, &local);
    if (n > 0) {
        c->stage_len = (size_t)n;
        size_t spilled = (size_t)n - MIN((size_t)n, rx.hdr_len) - rx.in_room;
        if (rx.in_room && !split_usable(c, &rx, (size_t)n)) {
            /* Into one piece: the spilled tail moves up behind the room's part. */
            memmove(c->stage + rx.hdr_len + rx.in_room, c->stage + rx.hdr_len, spilled);
            c->stage_room = rx.in_room;
            stage_linearize(c);
        } else {
            c->stage_room = rx.in_room;
        }
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->net_empty = true;
    } else if (n < 0 && errno != EINTR) {
        c->net_error = errno;
    }
    return true;
}

/* Sleep until the endpoint is readable, conn_wake's signal arrives (for an
 * event in waiting), or wait_ns (-1: no limit) has passed. */
static void sleep_for_events(struct mysock *s, struct conn *c, unsigned waiting, int64_t wait_ns)
{
    c->waiting = waiting;
    pthread_mutex_unlock(&s->lock);

    struct pollfd pfd = {-1, POLLIN, 0};
    if ((waiting & NETWORK_DATA) && c->ep)
        pfd.fd = net_ep_fd(c->ep);
    struct timespec ts = {(time_t)(wait_ns / 1000000000LL), (long)(wait_ns % 1000000000LL)};
    int n = ppoll(&pfd, 1, wait_ns < 0 ? NULL : &ts, conn_sleep_mask());

    pthread_mutex_lock(&s->lock);
    c->waiting = 0;
    pthread_mutex_unlock(&s->lock);
    if (n > 0 && pfd.revents)
        c->net_empty = false; /* ready, or an error to collect */
}

/* Both waits: abstime (NULL: none) is on clock. */
static unsigned wait_for_event(mysocket_t sd, unsigned wait_flags, const struct timespec *abstime,
                               clockid_t clock)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return TIMEOUT;
    int saved_errno = errno;
    unsigned ev = TIMEOUT;
    bool looked = false; /* the endpoint was read since we were called */
    for (;;) {
        if ((wait_flags & NETWORK_DATA) && fill_stage(s, c))
            looked = true;
        pthread_mutex_lock(&s->lock);
        ev = ready_events(c, wait_flags);
        if (ev) {
            if (ev & APP_CLOSE_REQUESTED)
                c->close_reported = true;
            if (ev & APP_CLOSED)
                c->closed_reported = true;
            if (ev & APP_READ)
                c->app_read = false;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        flush_app_wakes(c);
        if (c->reader_news) {
            c->reader_news = false; /* a reader went idle: the transport looks again */
            pthread_mutex_unlock(&s->lock);
            break;
        }
        int64_t wait_ns = abstime ? ns_until(clock, abstime) : -1;
        if (wait_ns == 0) {
            pthread_mutex_unlock(&s->lock);
            if ((wait_flags & NETWORK_DATA) && c->net_empty && !looked) {
                /* No sleep (so no poll) to tell: look once before TIMEOUT. */
                c->net_empty = false;
                looked = true;
                continue;
            }
            break;
        }
        /* The close is reported whatever the flags, so it always wakes us. */
        sleep_for_events(s, c, wait_flags | APP_CLOSE_REQUESTED, wait_ns);
    }
    errno = saved_errno;
    return ev;
}

unsigned int stcp_wait_for_event(mysocket_t sd, unsigned int wait_flags,
                                 const struct timespec *abstime)
{
    return wait_for_event(sd, wait_flags, abstime, CLOCK_REALTIME);
}

unsigned int stcp_wait_for_event_mono(mysocket_t sd, unsigned int wait_flags,
                                      const struct timespec *abstime)
{
    return wait_for_event(sd, wait_flags, abstime, CLOCK_MONOTONIC);
}

/* The classic stcp_network_recv and stcp_app_recv block until there is
 * something to take.  These waits report nothing (the close stays pending
 * for stcp_wait_for_event); lock held on entry and return. */
static void wait_for_segment(struct mysock *s, struct conn *c)
{
    while (!c->stage_len && !inbox_pending(c) && !c->net_error) {
        flush_app_wakes(c);
        sleep_for_events(s, c, NETWORK_DATA, -1);
        fill_stage(s, c);
        pthread_mutex_lock(&s->lock);
    }
}

static void wait_for_app_data(struct mysock *s, struct conn *c)
{
    while (c->sndq.len == c->sndq_taken && !c->close_requested) {
        flush_app_wakes(c);
        sleep_for_events(s, c, APP_DATA | APP_CLOSE_REQUESTED, -1);
        pthread_mutex_lock(&s->lock);
    }
}

/* ================================ Network ================================= */

ssize_t stcp_network_recv(mysocket_t sd, void *dst, size_t max_len)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return -1;
    if (!dst) {
        errno = EFAULT;
        return -1;
    }
    fill_stage(s, c);
    pthread_mutex_lock(&s->lock);
    wait_for_segment(s, c);
    size_t n = 0;
    struct segq *q = c->inbox;
    if (q && q->count) {
        n = MIN(max_len, q->len[q->head]);
        memcpy(dst, q->data[q->head], n);
        conn_inbox_drop_head(c);
        pthread_mutex_unlock(&s->lock);
        conn_note_segment(c, dst, n);
        return (ssize_t)n;
    }
    pthread_mutex_unlock(&s->lock);
    if (c->stage_len) {
        stage_linearize(c);
        n = MIN(max_len, c->stage_len);
        memcpy(dst, c->stage, n);
        c->stage_len = 0;
        conn_note_segment(c, dst, n);
        return (ssize_t)n;
    }
    /* An error the path reported: given once, as the socket gave it. */
    errno = c->net_error;
    c->net_error = 0;
    return -1;
}

ssize_t stcp_network_peek(mysocket_t sd, const void **seg)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || !seg) {
        errno = c ? EFAULT : EBADF;
        return -1;
    }
    *seg = NULL;
    fill_stage(s, c);
    pthread_mutex_lock(&s->lock);
    wait_for_segment(s, c);
    struct segq *q = c->inbox;
    if (q && q->count) {
        *seg = q->data[q->head];
        size_t n = q->len[q->head];
        c->peeked = 2;
        pthread_mutex_unlock(&s->lock);
        conn_note_segment(c, *seg, n);
        return (ssize_t)n;
    }
    pthread_mutex_unlock(&s->lock);
    if (c->stage_len) {
        stage_linearize(c);
        *seg = c->stage;
        c->peeked = 1;
        conn_note_segment(c, *seg, c->stage_len);
        return (ssize_t)c->stage_len;
    }
    errno = c->net_error;
    c->net_error = 0;
    return -1;
}

void stcp_network_done(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    if (c->peeked == 1) {
        c->stage_len = c->stage_room = 0;
    } else if (c->peeked == 2) {
        pthread_mutex_lock(&s->lock);
        conn_inbox_drop_head(c);
        pthread_mutex_unlock(&s->lock);
    }
    c->peeked = 0;
}

void stcp_network_cork(mysocket_t sd, int on)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (c && c->ep)
        net_ep_cork(c->ep, on != 0);
}

ssize_t stcp_network_peek_split(mysocket_t sd, struct stcp_rx_segment *rx)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || !rx) {
        errno = c ? EFAULT : EBADF;
        return -1;
    }
    fill_stage(s, c);
    pthread_mutex_lock(&s->lock);
    bool inbox = inbox_pending(c);
    pthread_mutex_unlock(&s->lock);
    if (inbox || !c->stage_room) {
        const void *seg;
        ssize_t n = stcp_network_peek(sd, &seg);
        if (n < 0)
            return -1;
        rx->hdr = seg;
        rx->hdr_len = TCP_DATA_START(seg);
        rx->payload = (const uint8_t *)seg + rx->hdr_len;
        rx->payload_len = (size_t)n - rx->hdr_len;
        rx->in_queue = 0;
        return n;
    }
    rx->hdr = c->stage;
    rx->hdr_len = sizeof(STCPHeader);
    rx->payload = c->rcvq.buf + c->rx_pos;
    rx->payload_len = c->stage_room;
    rx->in_queue = 1;
    c->peeked = 1;
    conn_note_segment(c, c->stage, sizeof(STCPHeader));
    return (ssize_t)c->stage_len;
}

void stcp_app_commit(mysocket_t sd, size_t len)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || c->peeked != 1 || !len)
        return;
    pthread_mutex_lock(&s->lock);
    struct byteq *q = &c->rcvq;
    bool in_place = c->stage_room && (q->head + q->len) % q->cap == c->rx_pos;
    if (in_place && app_reading(s, c)) {
        q->len += MIN(len, c->stage_room);
        c->wake_reader = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (!in_place) {
        /* Moved meanwhile (stage_linearize), or the queue's end moved (a
         * myclose emptied it): pass it up as stcp_app_send would, which
         * also discards it if nobody reads. */
        const uint8_t *src =
            c->stage_room ? c->rcvq.buf + c->rx_pos : c->stage + sizeof(STCPHeader);
        stcp_app_send(sd, src, MIN(len, c->stage_len - sizeof(STCPHeader)));
    }
    c->stage_room = 0; /* the rest of the payload, if any, is not wanted */
}

/* Up to this many buffer/length pairs go straight to the network layer;
 * more are counted first and take an allocated array. */
#define SEND_PIECES 8

static size_t count_pieces(const void *src, va_list ap)
{
    size_t n = src ? 1 : 0;
    while (src) {
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the caller started it */
        src = va_arg(ap, const void *);
        if (src) {
            (void)va_arg(ap, size_t);
            n++;
        }
    }
    return n;
}

ssize_t stcp_network_send(mysocket_t sd, const void *src, size_t src_len, ...)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return -1;
    va_list ap;
    va_start(ap, src_len);
    size_t pieces = count_pieces(src, ap);
    va_end(ap);
    struct iovec few[SEND_PIECES];
    struct iovec *iov = pieces <= SEND_PIECES ? few : malloc(pieces * sizeof *iov);
    if (!iov)
        return -1; /* ENOMEM */
    if (pieces) {
        iov[0].iov_base = (void *)src;
        iov[0].iov_len = src_len;
    }
    va_start(ap, src_len);
    for (size_t i = 1; i < pieces; i++) {
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
        iov[i].iov_base = (void *)va_arg(ap, const void *);
        iov[i].iov_len = va_arg(ap, size_t);
    }
    va_end(ap);
    int saved_errno = errno;
    ssize_t rc = net_send_segment(c->ep, NULL, NULL, iov, (int)MIN(pieces, (size_t)INT32_MAX));
    if (rc >= 0)
        errno = saved_errno;
    if (iov != few)
        free(iov);
    return rc;
}

/* ============================== Application =============================== */

size_t stcp_app_recv(mysocket_t sd, void *dst, size_t max_len)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || !dst || !max_len)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (c->sndq_taken) { /* stcp_app_take's bytes lie first: not both */
        pthread_mutex_unlock(&s->lock);
        errno = EINVAL;
        return 0;
    }
    wait_for_app_data(s, c);
    size_t n = byteq_get(&c->sndq, dst, max_len);
    /* Wake a blocked writer only once half the queue is free, so it
     * refills in large pieces instead of once per segment. */
    if (n && byteq_space(&c->sndq) * 2 >= c->sndq.cap)
        c->wake_writer = true;
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t stcp_app_take(mysocket_t sd, size_t max_len, struct stcp_app_ring *ring)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || !ring)
        return 0;
    pthread_mutex_lock(&s->lock);
    struct byteq *q = &c->sndq;
    size_t n = MIN(max_len, q->len - c->sndq_taken);
    c->sndq_taken += n;
    ring->data = q->buf;
    ring->cap = q->cap;
    ring->head = q->head;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void stcp_app_release(mysocket_t sd, size_t len)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    struct byteq *q = &c->sndq;
    len = byteq_drop(q, MIN(len, c->sndq_taken));
    if (len) {
        c->sndq_taken -= len;
        /* As stcp_app_recv: a blocked writer is woken once half is free. */
        if (byteq_space(q) * 2 >= q->cap)
            c->wake_writer = true;
    }
    pthread_mutex_unlock(&s->lock);
}

void stcp_app_send(mysocket_t sd, const void *src, size_t src_len)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || !src)
        return;
    const uint8_t *p = src;
    stage_linearize(c); /* a staged payload in the free space would be overwritten */
    pthread_mutex_lock(&s->lock);
    while (src_len && s->app_open && !c->close_requested && !c->shut_rd) {
        size_t n = byteq_put(&c->rcvq, p, src_len);
        if (byteq_put_failed(&c->rcvq, src_len)) {
            c->error = ENOMEM; /* the application's myread reports it */
            c->wake_reader = true;
            break;
        }
        p += n;
        src_len -= n;
        if (n)
            c->wake_reader = true;
        if (!src_len)
            break;
        /* Full: only a transport that ignores stcp_app_space() gets here. */
        flush_app_wakes(c);
        c->app_send_blocked = true;
        pthread_cond_wait(&s->cv, &s->lock);
        c->app_send_blocked = false;
    }
    pthread_mutex_unlock(&s->lock);
}

size_t stcp_app_space(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return 0;
    pthread_mutex_lock(&s->lock);
    /* After myclose (or myshutdown SHUT_RD) nothing is read: incoming data
     * is discarded, and the window stays open so the peer is not stalled. */
    bool reading = s->app_open && !c->close_requested && !c->shut_rd;
    size_t n = reading ? byteq_space(&c->rcvq) : c->rcvq.cap;
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t stcp_app_discarded(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return 0;
    pthread_mutex_lock(&s->lock);
    size_t n = c->discarded;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void stcp_fin_received(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    c->fin_received = true;
    conn_update_linger(c);
    pthread_cond_broadcast(&c->rd_cv);
    pthread_mutex_unlock(&s->lock);
}

void stcp_unblock_application(mysocket_t sd)
{
    int err = errno == EINTR ? 0 : errno; /* classic: EINTR is no error */
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    bool first = !c->unblocked;
    c->unblocked = true;
    if (first)
        c->connect_errno = err;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
    if (first && !err) {
        log_msg(STCP_LOG_INFO, c->name, "established");
        conn_established(s);
    }
    errno = err;
}

void stcp_set_error(mysocket_t sd, int err)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    if (!c->error)
        c->error = err;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&c->rd_cv);
    pthread_cond_broadcast(&c->wr_cv);
    pthread_mutex_unlock(&s->lock);
}

void stcp_unblock_close(mysocket_t sd, int err)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    if (!c->close_done) {
        c->close_done = true;
        c->close_err = err;
    }
    conn_update_linger(c);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

void stcp_set_context(mysocket_t sd, const void *stcp_state)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (c)
        c->context = (void *)stcp_state;
}

void *stcp_get_context(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    return c ? c->context : NULL;
}

int stcp_app_closed(mysocket_t sd)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return 0;
    pthread_mutex_lock(&s->lock);
    int closed = c->close_requested;
    pthread_mutex_unlock(&s->lock);
    return closed;
}

int stcp_app_reader_waiting(mysocket_t sd, long after_ms)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c || after_ms <= 0)
        return 0;
    /* Atomics, no lock: the transport asks at every turn of its loop. */
    if (__atomic_load_n(&c->reader_watch_ms, __ATOMIC_RELAXED) != after_ms)
        __atomic_store_n(&c->reader_watch_ms, after_ms, __ATOMIC_RELAXED);
    return __atomic_load_n(&c->reader_idle, __ATOMIC_RELAXED);
}

long stcp_get_option(mysocket_t sd, int option)
{
    struct mysock *s = sock_transport(sd);
    if (!s) {
        errno = EBADF;
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    long v = sock_option(s, option);
    pthread_mutex_unlock(&s->lock);
    return v;
}

void stcp_get_cc(mysocket_t sd, char *buf, size_t len)
{
    struct mysock *s = sock_transport(sd);
    if (!buf || !len)
        return;
    if (!s) {
        buf[0] = '\0';
        return;
    }
    pthread_mutex_lock(&s->lock);
    sock_cc(s, buf, len);
    pthread_mutex_unlock(&s->lock);
}

void stcp_get_addresses(mysocket_t sd, struct sockaddr_in *local, struct sockaddr_in *peer)
{
    struct mysock *s;
    struct conn *c = transport_conn(sd, &s);
    if (!c)
        return;
    if (local)
        *local = c->local;
    if (peer)
        *peer = c->peer;
}

void stcp_report_stats(mysocket_t sd, const struct mystats *stats)
{
    struct mysock *s = sock_transport(sd);
    if (!s || !stats)
        return;
    pthread_mutex_lock(&s->lock);
    s->tstats = *stats;
    pthread_mutex_unlock(&s->lock);
}

/* ============================ Listening sockets =========================== */

ssize_t stcp_listen_reply(mysocket_t listen_sd, const struct sockaddr_in *local,
                          const struct sockaddr_in *peer, const void *segment, size_t len)
{
    struct mysock *s = sock_transport(listen_sd);
    if (!s || !s->lst || !s->lst->ep) {
        errno = EBADF;
        return -1;
    }
    struct iovec iov = {(void *)segment, len};
    return net_send_segment(s->lst->ep, local, peer, &iov, 1);
}

mysocket_t stcp_listen_open(mysocket_t listen_sd, const struct sockaddr_in *local,
                            const struct sockaddr_in *peer, void *context, const void *segment,
                            size_t len)
{
    struct mysock *s = sock_transport(listen_sd);
    if (!s || !s->lst) {
        errno = EBADF;
        return -1;
    }
    return listener_open_conn(s, local, peer, context, segment, len);
}
