/* transport_classic.c -- a small transport in the classic STCP style, for
 * the compatibility tests (tests/classic.sh).
 *
 * It uses only the classic interface (built with STCP_CLASSIC_ONLY, which
 * hides everything else), as a transport written for the classic framework
 * would: it waits for APP_DATA | NETWORK_DATA only and relies on
 * stcp_wait_for_event() reporting the application's close anyway; it
 * hands data up with stcp_app_send() without asking for room; one fixed
 * retransmission timeout, no options, no extensions.
 *
 * Sender: up to a window of segments in flight (the peer's window, at most
 * WINDOW bytes); on a timeout the oldest unacknowledged segment is sent
 * again.  Receiver: segments that arrive early are kept (a few), every
 * segment is answered with a cumulative ACK.  That is enough for the
 * classic -U profile (loss, duplication and reordering, 1 in 32 each).
 *
 * It compiles as C (gnu89 on) and as C++, hence the casts on malloc.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <arpa/inet.h>

#include "mysock.h"
#include "stcp_api.h"
#include "transport.h"

#define WINDOW      3072         /* bytes, sent and advertised */
#define RTO_MS      40           /* the fixed retransmission timeout */
#define MAX_RETRIES 100          /* timeouts in a row before giving up */
#define LINGER_MS   (4 * RTO_MS) /* after the last FIN: answer its resends */
#define MAX_SEGS    16           /* segments in flight, and kept out of order */

enum cstate { C_LISTEN, C_SYN_SENT, C_SYN_RCVD, C_OPEN };

struct seg {
    tcp_seq seq;
    uint8_t flags;
    size_t len;
    char data[STCP_MSS];
};

typedef struct {
    enum cstate state;
    int unblocked;

    tcp_seq snd_una, snd_nxt;
    size_t peer_win;
    struct seg *sent; /* [nsent], oldest first, not yet acknowledged */
    int nsent;
    struct timeval rexmit_at;
    int timer_on, retries;

    tcp_seq rcv_nxt;
    struct seg *early; /* [MAX_SEGS] kept out of order; len 0 = free */
    int have_fin;      /* the peer's FIN came, at fin_seq */
    tcp_seq fin_seq;
    int peer_fin; /* ... and everything before it too */

    int close_seen, fin_queued, fin_acked;
    int lingering;
    struct timeval linger_until;
} context_t;

/* ------------------------------------------------------------ helpers -- */

static int seq_before(tcp_seq a, tcp_seq b)
{
    return (int32_t)(a - b) < 0;
}

static size_t seg_space(const struct seg *s)
{
    return s->len + ((s->flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

static void time_in_ms(struct timeval *tv, int ms)
{
    gettimeofday(tv, NULL);
    tv->tv_usec += (ms % 1000) * 1000;
    tv->tv_sec += ms / 1000 + tv->tv_usec / 1000000;
    tv->tv_usec %= 1000000;
}

static int time_passed(const struct timeval *tv)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return now.tv_sec > tv->tv_sec || (now.tv_sec == tv->tv_sec && now.tv_usec >= tv->tv_usec);
}

static void send_segment(mysocket_t sd, context_t *ctx, tcp_seq seq, uint8_t flags,
                         const char *data, size_t len)
{
    STCPHeader hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.th_seq = htonl(seq);
    hdr.th_off = 5;
    hdr.th_flags = flags;
    hdr.th_win = htons(WINDOW);
    if (ctx->state != C_SYN_SENT && ctx->state != C_LISTEN) {
        hdr.th_flags |= TH_ACK;
        hdr.th_ack = htonl(ctx->rcv_nxt);
    }
    if (len)
        stcp_network_send(sd, &hdr, sizeof hdr, data, len, NULL);
    else
        stcp_network_send(sd, &hdr, sizeof hdr, NULL);
}

static void send_ack(mysocket_t sd, context_t *ctx)
{
    send_segment(sd, ctx, ctx->snd_nxt, 0, NULL, 0);
}

/* A new segment (data, SYN or FIN): sent now and kept until acknowledged. */
static void send_new(mysocket_t sd, context_t *ctx, uint8_t flags, const char *data, size_t len)
{
    struct seg *s = &ctx->sent[ctx->nsent++];
    s->seq = ctx->snd_nxt;
    s->flags = flags;
    s->len = len;
    if (len)
        memcpy(s->data, data, len);
    ctx->snd_nxt += (tcp_seq)seg_space(s);
    send_segment(sd, ctx, s->seq, flags, s->data, len);
    if (!ctx->timer_on) {
        ctx->timer_on = 1;
        time_in_ms(&ctx->rexmit_at, RTO_MS);
    }
}

static size_t in_flight(const context_t *ctx)
{
    return (size_t)(ctx->snd_nxt - ctx->snd_una);
}

static int room_to_send(const context_t *ctx)
{
    return ctx->state == C_OPEN && !ctx->fin_queued && ctx->nsent < MAX_SEGS &&
           in_flight(ctx) < MIN(ctx->peer_win, (size_t)WINDOW);
}

static void unblock(mysocket_t sd, context_t *ctx, int err)
{
    if (!ctx->unblocked) {
        ctx->unblocked = 1;
        errno = err;
        stcp_unblock_application(sd);
    }
}

/* ------------------------------------------------------------ input -- */

static void take_ack(mysocket_t sd, context_t *ctx, tcp_seq ack)
{
    int done = 0;
    if (!seq_before(ctx->snd_una, ack) || seq_before(ctx->snd_nxt, ack))
        return; /* nothing new, or beyond what we sent */
    ctx->snd_una = ack;
    while (done < ctx->nsent &&
           !seq_before(ack, ctx->sent[done].seq + (tcp_seq)seg_space(&ctx->sent[done]))) {
        if (ctx->sent[done].flags & TH_FIN)
            ctx->fin_acked = 1;
        done++;
    }
    memmove(ctx->sent, ctx->sent + done, (size_t)(ctx->nsent - done) * sizeof *ctx->sent);
    ctx->nsent -= done;
    ctx->retries = 0;
    ctx->timer_on = ctx->nsent > 0;
    if (ctx->timer_on)
        time_in_ms(&ctx->rexmit_at, RTO_MS);
    if (ctx->state == C_SYN_RCVD) {
        ctx->state = C_OPEN;
        unblock(sd, ctx, 0);
    }
}

/* Hand up whatever is now in order, from the segments kept early. */
static void deliver_early(mysocket_t sd, context_t *ctx)
{
    int i, progress = 1;
    while (progress) {
        progress = 0;
        for (i = 0; i < MAX_SEGS; i++) {
            struct seg *e = &ctx->early[i];
            tcp_seq end = e->seq + (tcp_seq)e->len;
            if (!e->len || seq_before(ctx->rcv_nxt, e->seq))
                continue;
            if (seq_before(ctx->rcv_nxt, end)) {
                size_t skip = (size_t)(ctx->rcv_nxt - e->seq);
                stcp_app_send(sd, e->data + skip, e->len - skip);
                ctx->rcv_nxt = end;
                progress = 1;
            }
            e->len = 0;
        }
    }
}

static void keep_early(context_t *ctx, tcp_seq seq, const char *data, size_t len)
{
    int i, free_slot = -1;
    if (!seq_before(seq, ctx->rcv_nxt + WINDOW))
        return; /* beyond our window */
    for (i = 0; i < MAX_SEGS; i++) {
        if (ctx->early[i].len && ctx->early[i].seq == seq)
            return; /* a duplicate */
        if (!ctx->early[i].len && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        ctx->early[free_slot].seq = seq;
        ctx->early[free_slot].len = len;
        memcpy(ctx->early[free_slot].data, data, len);
    }
}

static void take_data(mysocket_t sd, context_t *ctx, tcp_seq seq, uint8_t flags, const char *data,
                      size_t len)
{
    if (flags & TH_FIN) {
        ctx->have_fin = 1;
        ctx->fin_seq = seq + (tcp_seq)len;
    }
    if (len && seq_before(ctx->rcv_nxt, seq)) {
        keep_early(ctx, seq, data, len);
    } else if (len && seq_before(ctx->rcv_nxt, seq + (tcp_seq)len)) {
        size_t skip = (size_t)(ctx->rcv_nxt - seq);
        stcp_app_send(sd, data + skip, len - skip);
        ctx->rcv_nxt = seq + (tcp_seq)len;
    }
    deliver_early(sd, ctx);
    if (ctx->have_fin && !ctx->peer_fin && ctx->rcv_nxt == ctx->fin_seq) {
        ctx->peer_fin = 1;
        ctx->rcv_nxt++;
        stcp_fin_received(sd);
        if (ctx->fin_acked) { /* the last FIN: stay to answer its resends */
            ctx->lingering = 1;
            time_in_ms(&ctx->linger_until, LINGER_MS);
        }
    }
    send_ack(sd, ctx);
}

/* Returns 0, or -1 if the connection is over (the path reported an error). */
static int network_input(mysocket_t sd, context_t *ctx)
{
    char buf[sizeof(STCPHeader) + 40 + STCP_MSS];
    STCPHeader *hdr = (STCPHeader *)buf;
    ssize_t n = stcp_network_recv(sd, buf, sizeof buf);
    size_t hlen, len;
    tcp_seq seq;

    if (n < 0)
        return -1; /* ECONNREFUSED: the peer is gone */
    hlen = TCP_DATA_START(buf);
    if ((size_t)n < sizeof(STCPHeader) || hlen > (size_t)n)
        return 0;
    len = (size_t)n - hlen;
    seq = ntohl(hdr->th_seq);

    switch (ctx->state) {
    case C_LISTEN:
        if (hdr->th_flags & TH_SYN) {
            ctx->rcv_nxt = seq + 1;
            ctx->peer_win = ntohs(hdr->th_win);
            ctx->state = C_SYN_RCVD;
            send_new(sd, ctx, TH_SYN, NULL, 0);
        }
        return 0;
    case C_SYN_SENT:
        if ((hdr->th_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
            ntohl(hdr->th_ack) == ctx->snd_nxt) {
            ctx->rcv_nxt = seq + 1;
            ctx->state = C_OPEN;
            ctx->peer_win = ntohs(hdr->th_win);
            take_ack(sd, ctx, ntohl(hdr->th_ack));
            send_ack(sd, ctx);
            unblock(sd, ctx, 0);
        }
        return 0;
    default:
        break;
    }
    if (hdr->th_flags & TH_SYN) { /* a resent SYN or SYN-ACK: our answer was lost */
        if (ctx->state == C_OPEN)
            send_ack(sd, ctx);
        return 0;
    }
    if (hdr->th_flags & TH_ACK) {
        ctx->peer_win = ntohs(hdr->th_win);
        take_ack(sd, ctx, ntohl(hdr->th_ack));
    }
    if (ctx->state == C_OPEN && (len || (hdr->th_flags & TH_FIN)))
        take_data(sd, ctx, seq, hdr->th_flags, buf + hlen, MIN(len, (size_t)STCP_MSS));
    return 0;
}

/* ------------------------------------------------------------ output -- */

static void app_input(mysocket_t sd, context_t *ctx)
{
    char data[STCP_MSS];
    size_t room = MIN(ctx->peer_win, (size_t)WINDOW) - in_flight(ctx);
    size_t n = stcp_app_recv(sd, data, MIN(room, sizeof data));
    if (n)
        send_new(sd, ctx, 0, data, n);
}

static void maybe_send_fin(mysocket_t sd, context_t *ctx)
{
    if (ctx->close_seen && !ctx->fin_queued && ctx->state == C_OPEN && ctx->nsent < MAX_SEGS) {
        ctx->fin_queued = 1;
        send_new(sd, ctx, TH_FIN, NULL, 0);
    }
}

/* Returns -1 once we give up. */
static int on_timeout(mysocket_t sd, context_t *ctx)
{
    struct seg *s = &ctx->sent[0];
    if (++ctx->retries > MAX_RETRIES)
        return -1;
    send_segment(sd, ctx, s->seq, s->flags, s->data, s->len);
    time_in_ms(&ctx->rexmit_at, RTO_MS);
    return 0;
}

/* ------------------------------------------------------------ control -- */

static int finished(const context_t *ctx)
{
    return ctx->fin_acked && ctx->peer_fin && (!ctx->lingering || time_passed(&ctx->linger_until));
}

static void control_loop(mysocket_t sd, context_t *ctx)
{
    while (!finished(ctx)) {
        unsigned int flags = NETWORK_DATA, event;
        struct timespec abstime;
        const struct timeval *deadline = NULL;

        memset(&abstime, 0, sizeof abstime);
        if (room_to_send(ctx))
            flags |= APP_DATA;
        if (ctx->timer_on)
            deadline = &ctx->rexmit_at;
        else if (ctx->lingering)
            deadline = &ctx->linger_until;
        if (deadline) {
            abstime.tv_sec = deadline->tv_sec;
            abstime.tv_nsec = deadline->tv_usec * 1000;
        }
        event = stcp_wait_for_event(sd, flags, deadline ? &abstime : NULL);

        if ((event & NETWORK_DATA) && network_input(sd, ctx) < 0) {
            if (ctx->fin_acked || !ctx->unblocked)
                break; /* the peer is gone, and so is our need of it */
            errno = ECONNRESET;
            break;
        }
        if ((event & APP_DATA) && room_to_send(ctx))
            app_input(sd, ctx);
        if (event & APP_CLOSE_REQUESTED)
            ctx->close_seen = 1;
        maybe_send_fin(sd, ctx);
        if (ctx->timer_on && time_passed(&ctx->rexmit_at) && on_timeout(sd, ctx) < 0) {
            errno = ETIMEDOUT;
            break;
        }
    }
}

void transport_init(mysocket_t sd, bool_t is_active)
{
    context_t *ctx = (context_t *)calloc(1, sizeof(context_t));
    if (!ctx) {
        errno = ENOMEM;
        stcp_unblock_application(sd);
        return;
    }
    ctx->sent = (struct seg *)calloc(MAX_SEGS, sizeof(struct seg));
    ctx->early = (struct seg *)calloc(MAX_SEGS, sizeof(struct seg));
    if (!ctx->sent || !ctx->early) {
        errno = ENOMEM;
        stcp_unblock_application(sd);
    } else {
        struct timeval now;
        gettimeofday(&now, NULL);
        srand((unsigned)(now.tv_usec ^ (now.tv_sec << 8) ^ sd));
        ctx->snd_una = ctx->snd_nxt = (tcp_seq)rand();
        ctx->peer_win = WINDOW;
        stcp_set_context(sd, ctx);
        if (is_active) {
            ctx->state = C_SYN_SENT;
            send_new(sd, ctx, TH_SYN, NULL, 0);
        } else {
            ctx->state = C_LISTEN;
        }
        errno = 0;
        control_loop(sd, ctx);
        unblock(sd, ctx, errno ? errno : ECONNREFUSED);
    }
    free(ctx->sent);
    free(ctx->early);
    free(ctx);
}
