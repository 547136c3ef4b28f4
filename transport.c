/* transport.c -- STCP: TCP's state machine over an unreliable datagram path.
 *
 * Read it top to bottom:
 *   1. Small pieces: segment parsing, the send buffer, the reassembly
 *      buffer, the retransmission timeout estimator (RFC 6298).
 *   2. Output (tcp_out): the one place segments are built and sent.
 *   3. Input (tcp_in): a segment arrives, checked in the order of
 *      RFC 9293 section 3.10.7.
 *   4. User calls and timers: write, close, window update, timeouts.
 *   5. SYN cookies.
 *   6. The driver: transport_init() and control_loop(), which only move
 *      events between stcp_api.h and the core.
 *
 * Parts 1-5 are the protocol core: no threads, sockets or clocks.  Each
 * function takes the current time and an event and reports through the
 * tcb's env callbacks, so tests feed it segments one at a time.
 *
 * This file uses only transport.h, stcp_api.h, mysock.h, the C library,
 * POSIX and libcrypto, so it runs on any framework with the classic
 * interface (the additions it calls are declared in stcp_api.h).
 */
#define _GNU_SOURCE
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"
#include "stcp_api.h"

/* ======================= 1. Small pieces =================================== */

const char *tcp_state_name(enum tcp_state state)
{
    static const char *names[] = {"CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RECEIVED",
                                  "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
                                  "CLOSING",     "LAST_ACK",   "TIME_WAIT"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "?";
}

void tcp_config_default(struct tcp_config *cfg)
{
    cfg->window = 3072;
    cfg->rto_initial = 200 * STCP_MSEC;
    cfg->rto_min = 200; /* microseconds: loopback RTTs are tens of them */
    cfg->rto_max = 100 * STCP_MSEC;
    cfg->max_retries = 16;
    /* RFC 1122 4.2.3.5: R2 at least 100 s for data, 3 min for a SYN.  A peer
     * that is only starved of CPU (thousands of connections on two cores)
     * must not be taken for a dead one; MYSO_USER_TIMEOUT and
     * STCP_USER_TIMEOUT_MS shorten it where a dead peer must be found fast. */
    cfg->abort_silence = 100 * STCP_SEC;
    cfg->abort_silence_syn = 180 * STCP_SEC;
    cfg->time_wait = 1 * STCP_SEC;
    cfg->persist_max = 500 * STCP_MSEC;
    cfg->orphan_timeout = 60 * STCP_SEC;
    cfg->keepalive_idle = 10 * STCP_SEC;
    cfg->keepalive_quiet = 2 * 3600 * STCP_SEC;
    cfg->keepalive_interval = 500 * STCP_MSEC;
    cfg->mss = STCP_MSS;
    cfg->cc = NULL; /* none: the classic core; transport_init picks MYSO_CC's */
    cfg->sack = true;
    cfg->wscale = true;
    cfg->rack = true;
    cfg->frto = true;
    cfg->thin_linear = true;
    cfg->rto_restart = true;
    cfg->hystart = true;
}

unsigned tcp_wscale_for(uint32_t window)
{
    /* Rounded up to a whole unit, the window must still fit in 16 bits
     * (emit may round up to keep the advertised right edge). */
    unsigned shift = 0;
    while (shift < TCP_MAX_WSCALE && (window + (1u << shift) - 1) >> shift > 65535)
        shift++;
    return shift;
}

uint32_t tcp_reasm_runs(uint32_t window)
{
    return MAX((uint32_t)TCP_REASM_RUNS, window / (2 * STCP_MSS) + 1);
}

uint32_t tcp_sent_log_size(uint32_t window)
{
    return MAX((uint32_t)TCP_SENT_LOG, window / STCP_MSS + 2);
}

/* One option with a length byte: kind, length and the value's bytes are
 * checked against what the option must be. */
static int parse_option(const uint8_t *o, struct tcp_segment *seg)
{
    switch (o[0]) {
    case TCPOPT_MSS:
        if (o[1] != TCPOLEN_MSS)
            return -1;
        seg->mss = (uint16_t)((o[2] << 8) | o[3]);
        break;
    case TCPOPT_WSCALE:
        if (o[1] != TCPOLEN_WSCALE)
            return -1;
        /* A larger shift is taken as 14 (RFC 7323 2.3). */
        seg->wscale = (int8_t)MIN(o[2], TCP_MAX_WSCALE);
        break;
    case TCPOPT_SACK_PERMITTED:
        if (o[1] != TCPOLEN_SACK_PERMITTED)
            return -1;
        seg->sack_permitted = true;
        break;
    case TCPOPT_SACK:
        if ((o[1] - 2) % TCPOLEN_SACK_BLOCK != 0)
            return -1;
        for (unsigned k = 0; k < (unsigned)(o[1] - 2) / TCPOLEN_SACK_BLOCK; k++) {
            const uint8_t *b = o + 2 + k * TCPOLEN_SACK_BLOCK;
            if (seg->nsack == TCP_SACK_MAX_BLOCKS)
                break;
            seg->sack[seg->nsack].start =
                (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
            seg->sack[seg->nsack].end =
                (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
            seg->nsack++;
        }
        break;
    default:
        break; /* not ours: skipped */
    }
    return 0;
}

/* Options (RFC 9293 3.1): EOL ends them, NOP is a single byte, any other
 * kind has a length byte that counts the kind and itself.  MSS, window
 * scale, SACK-permitted and SACK are decoded; the others are stepped
 * over.  Returns -1 if they are malformed. */
static int parse_options(const uint8_t *opt, size_t len, struct tcp_segment *seg)
{
    size_t i = 0;
    while (i < len && opt[i] != TCPOPT_EOL) {
        if (opt[i] == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (len - i < 2 || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return -1; /* no length, a length that cannot be, or past th_off */
        if (parse_option(opt + i, seg) < 0)
            return -1;
        i += opt[i + 1];
    }
    return 0;
}

int tcp_parse(const void *buf, size_t len, struct tcp_segment *seg)
{
    const STCPHeader *h = buf;
    if (len < sizeof *h || h->th_off < 5 || TCP_DATA_START(h) > len)
        return -1;
    size_t off = TCP_DATA_START(h);
    seg->mss = 0;
    seg->sack_permitted = false;
    seg->wscale = -1;
    seg->nsack = 0;
    if (parse_options((const uint8_t *)buf + sizeof *h, TCP_OPTIONS_LEN(h), seg) < 0)
        return -2;
    seg->seq = ntohl(h->th_seq);
    seg->ack = ntohl(h->th_ack);
    seg->flags = h->th_flags & (TH_FIN | TH_SYN | TH_RST | TH_ACK); /* PSH, URG ignored */
    seg->win = ntohs(h->th_win);
    seg->payload = (const uint8_t *)buf + off;
    seg->len = (uint32_t)(len - off);
    return 0;
}

/* ---- Send buffer: bytes from snd_una on ---- */

static uint32_t sndbuf_put(struct tcp_sndbuf *b, const uint8_t *src, uint32_t len)
{
    len = MIN(len, b->cap - b->len);
    uint32_t tail = (b->head + b->len) % b->cap;
    uint32_t first = MIN(len, b->cap - tail);
    memcpy(b->data + tail, src, first);
    memcpy(b->data, src + first, len - first);
    b->len += len;
    return len;
}

/* The len bytes at offset off as they lie in the ring: *first bytes at
 * the returned pointer, the rest (if they wrap) at b->data. */
static const uint8_t *sndbuf_pieces(const struct tcp_sndbuf *b, uint32_t off, uint32_t len,
                                    uint32_t *first)
{
    uint32_t pos = (b->head + off) % b->cap;
    *first = MIN(len, b->cap - pos);
    return b->data + pos;
}

/* The same bytes in one piece: in place, or copied to b->flat when they
 * wrap around the end of the ring. */
static const uint8_t *sndbuf_view(const struct tcp_sndbuf *b, uint32_t off, uint32_t len)
{
    uint32_t first;
    const uint8_t *p = sndbuf_pieces(b, off, len, &first);
    if (first == len)
        return p;
    memcpy(b->flat, p, first);
    memcpy(b->flat + first, b->data, len - first);
    return b->flat;
}

static void sndbuf_drop(struct tcp_sndbuf *b, uint32_t len)
{
    b->head = (b->head + len) % b->cap;
    b->len -= len;
    if (b->release && len)
        b->release(b->release_ctx, len); /* the lender's room again */
}

/* The largest payload we put in one segment: the effective send MSS. */
static uint32_t send_mss(const struct tcb *t)
{
    return t->snd_mss;
}

/* Data bytes sent (at least once) and not yet acknowledged, SYN and FIN
 * excluded: [snd_una, snd_max), whatever a go-back-N has rewound snd_nxt to. */
static uint32_t data_in_flight(const struct tcb *t)
{
    uint32_t flight = t->snd_max - t->snd_una;
    if (!t->syn_acked && flight)
        flight--;
    if (t->fin_sent && flight)
        flight--;
    return flight;
}

static uint32_t data_unsent(const struct tcb *t)
{
    return t->sndbuf.len - data_in_flight(t);
}

/* ---- Sorted sets of sequence ranges (reassembly runs, SACK scoreboard) ---- */

static void ranges_remove(struct tcp_seq_range *v, unsigned *n, unsigned i)
{
    memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof v[0]);
    (*n)--;
}

/* Take out of the sorted, disjoint v[0..*n) every range that overlaps or
 * touches [*start, *end), widening [*start, *end) to cover it; returns
 * where the merged range goes to keep v sorted. */
static unsigned ranges_absorb(struct tcp_seq_range *v, unsigned *n, uint32_t *start, uint32_t *end)
{
    unsigned i = 0;
    while (i < *n) {
        if (seq_leq(v[i].start, *end) && seq_geq(v[i].end, *start)) {
            if (seq_lt(v[i].start, *start))
                *start = v[i].start;
            if (seq_gt(v[i].end, *end))
                *end = v[i].end;
            ranges_remove(v, n, i);
        } else {
            i++;
        }
    }
    for (i = 0; i < *n && seq_lt(v[i].start, *start); i++)
        ;
    return i;
}

/* Put [start, end) at position i, moving the ranges from there up (the
 * caller has made room). */
static void ranges_insert(struct tcp_seq_range *v, unsigned *n, unsigned i, uint32_t start,
                          uint32_t end)
{
    memmove(&v[i + 1], &v[i], (*n - i) * sizeof v[0]);
    v[i].start = start;
    v[i].end = end;
    (*n)++;
}

/* ---- Reassembly: data beyond rcv_nxt ---- */

static void reasm_remove(struct tcp_reasm *r, unsigned i)
{
    ranges_remove(r->run, &r->nruns, i);
}

/* seq was just stored: it heads the SACK report order (RFC 2018 4). */
static void reasm_note_recent(struct tcp_reasm *r, uint32_t seq)
{
    unsigned n = MIN(r->nrecent, (unsigned)TCP_SACK_MAX_BLOCKS - 1);
    memmove(&r->recent[1], &r->recent[0], n * sizeof r->recent[0]);
    r->recent[0] = seq;
    r->nrecent = n + 1;
}

/* Keep [seq, seq+len) of a segment that arrived beyond rcv_nxt.  It lies
 * inside the advertised window, so it fits in the ring. */
static void reasm_store(struct tcb *t, uint32_t seq, const uint8_t *data, uint32_t len)
{
    struct tcp_reasm *r = &t->reasm;
    uint32_t start = seq, end = seq + len;
    /* Merge with every run it overlaps or touches. */
    unsigned i = ranges_absorb(r->run, &r->nruns, &start, &end);
    if (r->nruns == r->maxruns)
        return; /* too fragmented: the sender will send it again */
    uint32_t pos = (r->head + (seq - t->rcv_nxt)) % r->cap;
    uint32_t first = MIN(len, r->cap - pos);
    memcpy(r->data + pos, data, first);
    memcpy(r->data, data + first, len - first);
    ranges_insert(r->run, &r->nruns, i, start, end);
    reasm_note_recent(r, seq);
}

/* The run holding seq, or -1. */
static int reasm_run_of(const struct tcp_reasm *r, uint32_t seq)
{
    for (unsigned i = 0; i < r->nruns; i++)
        if (seq_in(seq, r->run[i].start, r->run[i].end))
            return (int)i;
    return -1;
}

/* ---- SACK scoreboard (RFC 6675 3 and 4) ---- */

/* DupThresh (RFC 6675 2). */
#define SACK_DUPTHRESH 3

static void sb_remove(struct tcp_scoreboard *sb, unsigned i)
{
    ranges_remove(sb->r, &sb->n, i);
}

/* Record [start, end) as SACKed, merging what it touches.  Returns true if
 * any of it was not SACKed before. */
static bool sb_add(struct tcp_scoreboard *sb, uint32_t start, uint32_t end)
{
    for (unsigned i = 0; i < sb->n; i++)
        if (seq_leq(sb->r[i].start, start) && seq_geq(sb->r[i].end, end))
            return false; /* nothing new */
    unsigned i = ranges_absorb(sb->r, &sb->n, &start, &end);
    if (sb->n == TCP_SACK_RANGES) {
        if (i == sb->n)
            return true; /* the highest: not kept (it is merely resent) */
        sb->n--;         /* forget the highest range to make room */
    }
    ranges_insert(sb->r, &sb->n, i, start, end);
    return true;
}

/* snd_una moved to una: forget what lies below it. */
static void sb_trim(struct tcp_scoreboard *sb, uint32_t una)
{
    while (sb->n && seq_leq(sb->r[0].end, una))
        sb_remove(sb, 0);
    if (sb->n && seq_lt(sb->r[0].start, una))
        sb->r[0].start = una;
}

/* IsLost (RFC 6675 4): DupThresh ranges SACKed above seq, or more than
 * (DupThresh - 1) segments' worth of SACKed bytes. */
static bool sb_is_lost(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t mss)
{
    unsigned ranges = 0;
    uint32_t bytes = 0;
    for (unsigned i = 0; i < sb->n; i++) {
        if (!seq_gt(sb->r[i].start, seq))
            continue;
        ranges++;
        bytes += sb->r[i].end - sb->r[i].start;
    }
    return ranges >= SACK_DUPTHRESH || bytes > (SACK_DUPTHRESH - 1) * mss;
}

/* The pipe's share of the hole [a, b): its bytes unless they are lost,
 * and those resent in this recovery (below high_rxt) once more. */
static uint32_t sb_hole_pipe(const struct tcp_scoreboard *sb, uint32_t a, uint32_t b, uint32_t mss)
{
    uint32_t pipe = sb_is_lost(sb, a, mss) ? 0 : b - a;
    if (seq_lt(a, sb->high_rxt))
        pipe += (seq_lt(sb->high_rxt, b) ? sb->high_rxt : b) - a;
    return pipe;
}

/* SetPipe (RFC 6675 4): the bytes the sender believes are in the network,
 * from una to snd_max.  Every byte of one hole has the same ranges above
 * it, so IsLost is asked once per hole. */
static uint32_t sb_pipe(const struct tcp_scoreboard *sb, uint32_t una, uint32_t snd_max,
                        uint32_t mss)
{
    uint32_t pipe = 0, x = una;
    for (unsigned i = 0; i < sb->n; i++) {
        if (seq_lt(x, sb->r[i].start))
            pipe += sb_hole_pipe(sb, x, sb->r[i].start, mss);
        x = sb->r[i].end;
    }
    if (seq_lt(x, snd_max))
        pipe += snd_max - x; /* nothing SACKed above: not lost */
    return pipe;
}

/* The first unSACKed byte at or after max(una, high_rxt) that lies below
 * some SACKed byte (RFC 6675 NextSeg (1.a), (1.b)), and where its hole
 * ends.  Returns false if there is none. */
static bool sb_next_hole(const struct tcp_scoreboard *sb, uint32_t una, uint32_t *seq,
                         uint32_t *hole_end)
{
    uint32_t x = seq_gt(sb->high_rxt, una) ? sb->high_rxt : una;
    for (unsigned i = 0; i < sb->n; i++) {
        if (seq_lt(x, sb->r[i].start)) {
            *seq = x;
            *hole_end = sb->r[i].start;
            return true;
        }
        if (seq_lt(x, sb->r[i].end))
            x = sb->r[i].end;
    }
    return false;
}

/* A timeout's go-back-N meets data SACKed since: move *seq past it (no
 * further than limit). */
static void sb_skip_sacked(const struct tcp_scoreboard *sb, uint32_t *seq, uint32_t limit)
{
    for (unsigned i = 0; i < sb->n; i++)
        if (seq_in(*seq, sb->r[i].start, sb->r[i].end))
            *seq = seq_lt(sb->r[i].end, limit) ? sb->r[i].end : limit;
}

/* Bytes SACKed below seq: they have left the network. */
static uint32_t sb_sacked_below(const struct tcp_scoreboard *sb, uint32_t seq)
{
    uint32_t bytes = 0;
    for (unsigned i = 0; i < sb->n && seq_lt(sb->r[i].start, seq); i++)
        bytes += (seq_lt(sb->r[i].end, seq) ? sb->r[i].end : seq) - sb->r[i].start;
    return bytes;
}

/* Bytes sent from snd_una up to end that the peer has not SACKed. */
static uint32_t unsacked_below(const struct tcb *t, uint32_t end)
{
    return end - t->snd_una - sb_sacked_below(&t->sb, end);
}

/* How much of the len bytes from seq (unSACKed itself) come before the
 * next SACKed range. */
static uint32_t sb_unsacked_len(const struct tcp_scoreboard *sb, uint32_t seq, uint32_t len)
{
    for (unsigned i = 0; i < sb->n; i++)
        if (seq_gt(sb->r[i].start, seq))
            return MIN(len, sb->r[i].start - seq);
    return len;
}

bool tcp_sack_is_lost(const struct tcb *t, uint32_t seq)
{
    return sb_is_lost(&t->sb, seq, t->snd_mss);
}

uint32_t tcp_sack_pipe(const struct tcb *t)
{
    return sb_pipe(&t->sb, t->snd_una, t->snd_max, t->snd_mss);
}

/* ---- Retransmission timeout (RFC 6298) ---- */

#define RTO_CLOCK_GRANULARITY (100ULL) /* microseconds */

/* RTO from the estimates alone, before any backoff (RFC 6298 2.3). */
static stcp_usec_t rto_estimate(const struct tcb *t)
{
    if (!t->have_rtt)
        return t->cfg.rto_initial;
    /* The variance term is at least half the SRTT: on a path of tens of
     * milliseconds RTTVAR shrinks to a few hundred microseconds, and a
     * queue that builds (or a scheduler that stalls a peer for a moment)
     * would then fire the timer spuriously.  On loopback rto_min rules. */
    stcp_usec_t var = MAX(RTO_CLOCK_GRANULARITY, 4 * t->rttvar);
    stcp_usec_t rto = t->srtt + MAX(var, t->srtt / 2);
    return MAX(rto, t->cfg.rto_min);
}

static void rtt_sample(struct tcb *t, stcp_usec_t r)
{
    if (!t->have_rtt) {
        t->srtt = r;
        t->rttvar = r / 2;
        t->have_rtt = true;
    } else {
        stcp_usec_t err = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (3 * t->rttvar + err) / 4;
        t->srtt = (7 * t->srtt + r) / 8;
    }
    t->rto = rto_estimate(t); /* a fresh sample ends any backoff */
}

/* Back off after a timeout (RFC 6298 5.5): double, up to rto_max for the
 * first max_retries in a row (on loopback heavy loss must not stall a
 * transfer for seconds), then up to RTO_CEILING (RFC 6298 2.5: at least
 * 60 s): a peer silent that long is probably gone, and the user timeout
 * (100 s) must not mean a thousand resends to it.  Never below what the
 * estimates themselves say (a slow path). */
#define RTO_CEILING (60 * STCP_SEC)

static void rto_backoff(struct tcb *t)
{
    stcp_usec_t cap = t->backoff > t->cfg.max_retries ? RTO_CEILING : t->cfg.rto_max;
    t->rto = MIN(t->rto * 2, MAX(cap, rto_estimate(t)));
}

/* Give up only after max_retries timeouts in a row and abort_silence
 * without a segment from the peer, so neither heavy loss nor a peer that
 * is merely slow ends a live connection. */
static bool peer_gone(const struct tcb *t, unsigned tries, unsigned max_tries, stcp_usec_t now)
{
    /* Silence counts from when the peer last spoke, or, if later, from
     * when it began to owe us an answer: an idle spell, when nothing was
     * asked of it, is not silence. */
    stcp_usec_t since = MAX(t->last_heard, t->flight_since);
    stcp_usec_t limit = t->state == TCPS_SYN_SENT ? t->cfg.abort_silence_syn : t->cfg.abort_silence;
    return tries > max_tries && now - since >= limit;
}

/* A flight this many segments or more can reveal a loss by the SACKs or
 * duplicate ACKs of later segments; a smaller one ("thin") often cannot:
 * RFC 7765's rrthresh, and Linux's threshold for a thin stream. */
#define SMALL_FLIGHT_SEGMENTS 4

/* Unanswered keepalives, after abort_silence, that end a connection. */
#define KEEPALIVE_TRIES 3
/* Unanswered keepalives double the interval up to 2^this times it. */
#define KEEPALIVE_BACKOFF_MAX 4

/* ---- Send times, for RTT samples ---- */

static void sent_log_add(struct tcp_sent_log *l, uint32_t end, stcp_usec_t now)
{
    if (l->count == l->cap) {
        l->overflow = true;
        return;
    }
    unsigned i = (l->head + l->count++) % l->cap;
    l->rec[i].end = end;
    l->rec[i].sent = now;
    l->rec[i].resent_at = 0;
    l->rec[i].flags = 0;
}

#define SENT_REC(l, k) (&(l)->rec[((l)->head + (k)) % (l)->cap])

/* The first record (counted from the head) that ends beyond seq: records
 * are in sequence order, so a binary search. */
static unsigned sent_log_find(const struct tcp_sent_log *l, uint32_t una, uint32_t seq)
{
    unsigned lo = 0, hi = l->count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (SENT_REC(l, mid)->end - una <= seq - una)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Segments from una that start before end are being sent again now:
 * all of them (a timeout's go-back-N, the oldest segment), or with from
 * given (not una) only those overlapping [from, end). */
static void sent_log_resent_from(struct tcp_sent_log *l, uint32_t una, uint32_t from, uint32_t end,
                                 stcp_usec_t now)
{
    for (unsigned k = sent_log_find(l, una, from); k < l->count; k++) {
        struct tcp_sent_rec *r = SENT_REC(l, k);
        uint32_t start = k ? SENT_REC(l, k - 1)->end : una;
        if (!seq_lt(start, end))
            break;
        r->resent_at = now ? now : 1;
        r->flags |= TCP_SENT_REXMIT;
    }
}

static void sent_log_resent(struct tcp_sent_log *l, uint32_t una, uint32_t end, stcp_usec_t now)
{
    sent_log_resent_from(l, una, una, end, now);
}

/* Forget segments that ack covers.  Returns the RTT sample they give, or
 * 0 if none: the newest one covered was sent twice, or before a resend
 * this ACK also covers (its ACK may have waited for that resend). */
static stcp_usec_t sent_log_ack(struct tcp_sent_log *l, uint32_t ack, stcp_usec_t now)
{
    stcp_usec_t newest_sent = 0, newest_resent = 0, latest_resend = 0;
    while (l->count && seq_leq(l->rec[l->head].end, ack)) {
        newest_sent = l->rec[l->head].sent;
        newest_resent = l->rec[l->head].resent_at;
        latest_resend = MAX(latest_resend, newest_resent);
        l->head = (l->head + 1) % l->cap;
        l->count--;
    }
    bool overflow = l->overflow;
    if (!l->count)
        l->overflow = false;
    if (!newest_sent || newest_resent || newest_sent <= latest_resend || overflow)
        return 0;
    return now > newest_sent ? now - newest_sent : 1;
}

/* ---- RACK-TLP (RFC 8985): loss detected by send time ---- */

/* Per segment, the sent log knows when it was last sent, whether the peer
 * SACKed it, whether it is taken for lost and whether a resend of it is
 * in flight.  RACK takes a segment for lost once a segment sent after it
 * has been delivered and more than an RTT (plus a reordering window) has
 * passed since it was sent -- which finds lost resends too, that
 * RFC 6675's counting cannot see.  Only with SACK, and only for the
 * algorithms with a loss window: `none` keeps the classic recovery. */
static bool rack_on(const struct tcb *t)
{
    return t->cfg.rack && t->sack_ok && t->cc.algo->loss_window;
}

static stcp_usec_t rec_xmit(const struct tcp_sent_rec *r)
{
    return r->resent_at ? r->resent_at : r->sent;
}

/* Where record k starts: the end of the one before, or snd_una. */
static uint32_t rec_start(const struct tcb *t, unsigned k)
{
    return k ? SENT_REC(&t->sent, k - 1)->end : t->snd_una;
}

/* Was segment a (sent at ta, ending at ea) sent after segment b? */
static bool rack_sent_after(stcp_usec_t ta, uint32_t ea, stcp_usec_t tb, uint32_t eb)
{
    return ta > tb || (ta == tb && seq_gt(ea, eb));
}

/* A segment is known delivered (ACKed or SACKed) now: remember the most
 * recently sent of them and its RTT (RFC 8985 6.2 steps 2 and 3). */
static void rack_delivered(struct tcb *t, const struct tcp_sent_rec *r, stcp_usec_t now)
{
    stcp_usec_t x = rec_xmit(r);
    if (!r->resent_at && seq_lt(r->end, t->rack.fack))
        t->rack.reordering_seen = true; /* it arrived after data sent later */
    if (seq_gt(r->end, t->rack.fack))
        t->rack.fack = r->end;
    /* A resend delivered sooner than the path's minimum RTT: what arrived
     * was the first copy, not this one. */
    if ((r->flags & TCP_SENT_LOST) && !(r->flags & TCP_SENT_REXMIT))
        t->rack.frto_evidence = true; /* taken for lost, never resent, yet here */
    if (r->resent_at && t->rack.min_rtt && now - x < t->rack.min_rtt)
        return;
    if (!t->rack.xmit_ts || rack_sent_after(x, r->end, t->rack.xmit_ts, t->rack.end_seq)) {
        t->rack.xmit_ts = x;
        t->rack.end_seq = r->end;
        t->rack.rtt = now > x ? now - x : 1;
    }
}

/* The cumulative ACK reaches ack: the segments it covers that were not
 * SACKed already are delivered (before sent_log_ack forgets them). */
static void rack_cum_acked(struct tcb *t, uint32_t ack, stcp_usec_t now)
{
    for (unsigned k = 0; k < t->sent.count; k++) {
        const struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
        if (!seq_leq(r->end, ack))
            break;
        if (!(r->flags & TCP_SENT_SACKED))
            rack_delivered(t, r, now);
    }
}

/* The peer SACKs [start, end): mark the segments wholly inside it. */
static void rack_sacked(struct tcb *t, uint32_t start, uint32_t end, stcp_usec_t now)
{
    struct tcp_sent_log *l = &t->sent;
    for (unsigned k = sent_log_find(l, t->snd_una, start); k < l->count; k++) {
        struct tcp_sent_rec *r = SENT_REC(l, k);
        if (seq_gt(r->end, end))
            break;
        if (seq_lt(rec_start(t, k), start) || (r->flags & TCP_SENT_SACKED))
            continue;
        r->flags |= TCP_SENT_SACKED;
        t->rack.delivered += r->end - rec_start(t, k);
        rack_delivered(t, r, now);
    }
}

/* The peer has dropped data it SACKed (reneging, RFC 2018 8): forget
 * every SACK; the data is resent as lost. */
static void rack_reneged(struct tcb *t)
{
    t->sb.n = 0;
    for (unsigned k = 0; k < t->sent.count; k++)
        SENT_REC(&t->sent, k)->flags &= (uint8_t)~TCP_SENT_SACKED;
    t->stats.sack_reneged++;
}

/* RFC 8985 6.2 step 4: no reordering seen, and either in recovery or
 * DupThresh segments' worth SACKed above snd_una: no reordering window
 * (losses are called at once, as RFC 6675 would); else min_rtt / 4. */
static stcp_usec_t rack_reo_wnd(const struct tcb *t)
{
    if (!t->rack.reordering_seen && (t->in_recovery || sb_is_lost(&t->sb, t->snd_una, t->snd_mss)))
        return 0;
    return MIN(t->rack.min_rtt / 4, t->srtt);
}

static void rack_mark_lost(struct tcb *t, struct tcp_sent_rec *r)
{
    if (r->flags & TCP_SENT_REXMIT)
        t->stats.rack_lost_rexmit++;
    r->flags = (uint8_t)((r->flags | TCP_SENT_LOST) & ~TCP_SENT_REXMIT);
    t->stats.rack_lost++;
}

/* RFC 8985 6.2 step 5: every segment not delivered that was sent before
 * the RACK segment, and longer ago than its RTT plus the reordering
 * window, is lost; for the others, the reordering timer is set to when
 * they would be.  Returns how many were newly taken for lost. */
static unsigned rack_detect_loss(struct tcb *t, stcp_usec_t now)
{
    stcp_usec_t reo = rack_reo_wnd(t), wait = 0;
    unsigned lost = 0;
    t->rack.reo_at = STCP_NO_TIMER;
    if (!t->rack.xmit_ts)
        return 0;
    for (unsigned k = 0; k < t->sent.count; k++) {
        struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
        if (r->flags & TCP_SENT_SACKED)
            continue;
        stcp_usec_t x = rec_xmit(r);
        if (!rack_sent_after(t->rack.xmit_ts, t->rack.end_seq, x, r->end)) {
            if (!r->resent_at)
                break; /* first copies go in sequence order: none later is older */
            continue;
        }
        if ((r->flags & TCP_SENT_LOST) && !(r->flags & TCP_SENT_REXMIT))
            continue; /* already waiting to be resent */
        stcp_usec_t due = x + t->rack.rtt + reo;
        if (due <= now) {
            rack_mark_lost(t, r);
            lost++;
        } else if (!wait || due - now < wait) {
            wait = due - now;
        }
    }
    if (wait)
        t->rack.reo_at = now + wait;
    return lost;
}

/* A timeout: everything not SACKed is taken for lost (RFC 8985 6.3; the
 * SACKs are kept, RFC 6675 5.1 allowing it while reneging is checked). */
static void rack_all_lost(struct tcb *t)
{
    for (unsigned k = 0; k < t->sent.count; k++) {
        struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
        if (!(r->flags & TCP_SENT_SACKED))
            r->flags = (uint8_t)((r->flags | TCP_SENT_LOST) & ~TCP_SENT_REXMIT);
    }
}

/* The pipe (RFC 6675 4) from the per-segment marks: a segment counts once
 * unless it is lost or SACKed, and once more while a resend is in flight.
 * What the log could not record counts as in flight. */
static uint32_t rack_pipe(const struct tcb *t)
{
    uint32_t pipe = 0, start = t->snd_una;
    for (unsigned k = 0; k < t->sent.count; k++) {
        const struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
        uint32_t len = r->end - start;
        start = r->end;
        if (r->flags & TCP_SENT_SACKED)
            continue;
        if (!(r->flags & TCP_SENT_LOST))
            pipe += len;
        if (r->flags & TCP_SENT_REXMIT)
            pipe += len;
    }
    if (seq_lt(start, t->snd_max))
        pipe += t->snd_max - start;
    return pipe;
}

/* From record *k on, the first one lost and not yet resent. */
static bool rack_next_lost(const struct tcb *t, unsigned *k)
{
    for (; *k < t->sent.count; ++*k) {
        uint8_t f = SENT_REC(&t->sent, *k)->flags;
        if ((f & TCP_SENT_LOST) && !(f & (TCP_SENT_REXMIT | TCP_SENT_SACKED)))
            return true;
    }
    return false;
}

static void event(struct tcb *t, enum tcp_event ev, int err)
{
    if (t->env.event)
        t->env.event(t->env.ctx, ev, err);
}

static size_t app_space(const struct tcb *t)
{
    return t->env.app_space ? t->env.app_space(t->env.ctx) : 0;
}

static void timers_off(struct tcb *t)
{
    t->rexmit_at = t->persist_at = t->close_at = STCP_NO_TIMER;
    t->rack.reo_at = t->rack.tlp_at = STCP_NO_TIMER;
}

static void enter_closed(struct tcb *t)
{
    t->state = TCPS_CLOSED;
    timers_off(t);
    event(t, TCP_EV_CLOSED, 0);
}

void tcp_abort(struct tcb *t, int err)
{
    if (t->state == TCPS_CLOSED)
        return;
    t->state = TCPS_CLOSED;
    timers_off(t);
    event(t, TCP_EV_ERROR, err);
    event(t, TCP_EV_CLOSED, 0);
}

int tcp_init(struct tcb *t, const struct tcp_config *cfg, const struct tcp_env *env)
{
    memset(t, 0, sizeof *t);
    if (!cfg || !env || cfg->window < 1 || cfg->window > TCP_MAX_WINDOW || !env->output ||
        cfg->mss < TCP_MIN_MSS || cfg->mss > TCP_MAX_MSS) {
        errno = EINVAL;
        return -1;
    }
    t->cfg = *cfg;
    t->env = *env;
    t->sndbuf.data = malloc(cfg->window);
    /* A segment is at most an MSS and at most the whole ring. */
    t->sndbuf.flat = malloc(MIN(cfg->mss, cfg->window));
    /* Scaled, the advertised window is a whole number of units, which
     * may be up to one unit beyond the configured window (see emit). */
    unsigned shift = cfg->wscale ? tcp_wscale_for(cfg->window) : 0;
    uint32_t unit = 1u << shift;
    t->reasm.cap = (cfg->window + unit - 1) / unit * unit;
    t->reasm.data = malloc(t->reasm.cap);
    t->reasm.maxruns = tcp_reasm_runs(cfg->window);
    t->reasm.run = calloc(t->reasm.maxruns, sizeof t->reasm.run[0]);
    t->sent.cap = tcp_sent_log_size(cfg->window);
    t->sent.rec = calloc(t->sent.cap, sizeof t->sent.rec[0]);
    if (!t->sndbuf.data || !t->sndbuf.flat || !t->reasm.data || !t->reasm.run || !t->sent.rec) {
        tcp_free(t);
        errno = ENOMEM;
        return -1;
    }
    t->sndbuf.cap = cfg->window;
    t->rcv_wscale = (uint8_t)shift;
    t->state = TCPS_CLOSED;
    t->rto = cfg->rto_initial;
    t->snd_mss = MIN((uint32_t)STCP_MSS, cfg->mss); /* until the peer's SYN says more */
    /* Until the connection is established (cc_start), the classic limit. */
    t->cc.algo = cfg->cc ? cfg->cc : &cc_none;
    t->cc.cwnd = t->cc.max_cwnd = cfg->window;
    t->cc.ssthresh = UINT32_MAX;
    timers_off(t);
    return 0;
}

void tcp_free(struct tcb *t)
{
    if (!t->sndbuf.release)
        free(t->sndbuf.data);
    free(t->sndbuf.flat);
    free(t->reasm.data);
    free(t->reasm.run);
    t->reasm.run = NULL;
    free(t->sent.rec);
    t->sndbuf.data = t->sndbuf.flat = t->reasm.data = NULL;
    t->sent.rec = NULL;
}

/* Effective send MSS (RFC 9293 3.7.1): the peer's MSS option, or 536 if
 * its SYN had none, and no more than our own limit. */
static uint32_t effective_mss_of(uint16_t peer_mss, uint32_t our_mss)
{
    uint32_t mss = peer_mss ? peer_mss : (uint32_t)STCP_MSS;
    return MAX((uint32_t)TCP_MIN_MSS, MIN(mss, our_mss));
}

static uint32_t effective_mss(const struct tcb *t, uint16_t peer_mss)
{
    return effective_mss_of(peer_mss, t->cfg.mss);
}

/* ======================= 2. Output (tcp_out) =============================== */

/* Window we would advertise now: the free receive space (at most the
 * configured window), never moving the right edge back, and not moving it
 * forward by less than min(MSS, window/2) (receiver SWS avoidance,
 * RFC 1122 4.2.3.3). */
/* The most we may advertise: the configured window, and what 16 bits
 * hold at our shift (65535 bytes when scaling is not in use). */
static uint32_t rcv_window_limit(const struct tcb *t)
{
    uint32_t scaled_max = t->wscale_ok ? 65535u << t->rcv_wscale : 65535u;
    return MIN(t->cfg.window, scaled_max);
}

uint32_t tcp_rcv_window(const struct tcb *t)
{
    uint32_t space = (uint32_t)MIN(app_space(t), (size_t)rcv_window_limit(t));
    if (t->state == TCPS_SYN_SENT || t->state == TCPS_LISTEN || t->state == TCPS_CLOSED)
        return space;
    uint32_t edge = t->rcv_nxt + space;
    uint32_t threshold = MAX(1u, MIN(t->snd_mss, t->cfg.window / 2));
    if (seq_lt(edge, t->rcv_adv) || edge - t->rcv_adv < threshold)
        return seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    return space;
}

/* The longest header we build: 20 bytes and 40 of options. */
#define TCP_HDR_MAX (sizeof(STCPHeader) + 40)

/* The options of one segment.  SYNs: mss != 0, and the offers; other
 * segments: SACK blocks. */
struct hdr_options {
    uint16_t mss;        /* 0: no MSS option */
    bool sack_permitted; /* a SACK-permitted option */
    int wscale;          /* a window scale option with this shift; -1: none */
    unsigned nsack;      /* SACK blocks in sack[] */
    uint32_t sack[TCP_SACK_MAX_BLOCKS][2];
};

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* Options in the order and alignment Linux uses: MSS; NOP NOP
 * SACK-permitted; NOP window scale; NOP NOP SACK blocks.  Each piece is a
 * multiple of 4 bytes.  Returns the bytes written (at most 40). */
static size_t put_options(uint8_t *opt, const struct hdr_options *o)
{
    uint8_t *p = opt;
    if (o->mss) {
        *p++ = TCPOPT_MSS;
        *p++ = TCPOLEN_MSS;
        *p++ = (uint8_t)(o->mss >> 8);
        *p++ = (uint8_t)o->mss;
    }
    if (o->sack_permitted) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_SACK_PERMITTED;
        *p++ = TCPOLEN_SACK_PERMITTED;
    }
    if (o->wscale >= 0) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_WSCALE;
        *p++ = TCPOLEN_WSCALE;
        *p++ = (uint8_t)o->wscale;
    }
    if (o->nsack) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_SACK;
        *p++ = (uint8_t)(2 + o->nsack * TCPOLEN_SACK_BLOCK);
        for (unsigned k = 0; k < o->nsack; k++) {
            p = put_be32(p, o->sack[k][0]);
            p = put_be32(p, o->sack[k][1]);
        }
    }
    return (size_t)(p - opt);
}

/* The one place a segment header is built: for the connection's segments
 * (emit), its RSTs (send_reset) and the listener's cookie SYN-ACKs and
 * RSTs, which have no TCB.  opts may be NULL (no options).  Returns the
 * header's length. */
static size_t build_header(uint8_t buf[TCP_HDR_MAX], uint32_t seq, uint32_t ack, uint8_t flags,
                           uint16_t win, const struct hdr_options *opts)
{
    STCPHeader h;
    memset(&h, 0, sizeof h);
    h.th_seq = htonl(seq);
    h.th_ack = htonl(ack);
    h.th_flags = flags;
    h.th_win = htons(win);
    size_t optlen = opts ? put_options(buf + sizeof h, opts) : 0;
    h.th_off = (uint8_t)(5 + optlen / 4);
    memcpy(buf, &h, sizeof h);
    return TCP_DATA_START(&h);
}

/* SACK blocks for what the reassembly holds beyond rcv_nxt (RFC 2018 4):
 * first the block holding the latest segment, then the blocks of the
 * segments before it, then the others, highest first; at most max. */
static unsigned sack_blocks(const struct tcb *t, struct hdr_options *o, unsigned max)
{
    const struct tcp_reasm *r = &t->reasm;
    int used[TCP_SACK_MAX_BLOCKS]; /* the runs already reported */
    unsigned n = 0;
    for (unsigned k = 0; k <= r->nrecent + r->nruns && n < max; k++) {
        int i;
        if (k < r->nrecent)
            i = reasm_run_of(r, r->recent[k]);
        else
            i = (int)r->nruns - 1 - (int)(k - r->nrecent);
        bool again = false;
        for (unsigned j = 0; j < n; j++)
            again |= used[j] == i;
        if (i < 0 || again || !seq_gt(r->run[i].start, t->rcv_nxt))
            continue;
        used[n] = i;
        o->sack[n][0] = r->run[i].start;
        o->sack[n][1] = r->run[i].end;
        n++;
    }
    return n;
}

/* The window field: wnd scaled by our shift (not on a SYN, RFC 7323
 * 2.2), rounded down, but up where rounding down would move the right
 * edge we advertised back -- unless that would offer a unit or more beyond
 * the real room.  *wnd becomes what the field says. */
static uint16_t window_field(const struct tcb *t, uint32_t *wnd, bool syn)
{
    if (syn) {
        *wnd = MIN(*wnd, 65535u);
        return (uint16_t)*wnd;
    }
    unsigned shift = t->wscale_ok ? t->rcv_wscale : 0;
    uint32_t unit = 1u << shift;
    uint32_t field = *wnd >> shift;
    bool synchronized = t->state != TCPS_SYN_SENT;
    if (synchronized && seq_lt(t->rcv_nxt + (field << shift), t->rcv_adv)) {
        /* Rounding up keeps the edge, but each time rcv_nxt moves by other
         * than whole units it would creep further past the room the
         * application really has (RFC 7323 Appendix F).  So round up only
         * while that stays within a unit of the room; beyond, the edge
         * moves back by less than one unit. */
        uint32_t up = (*wnd + unit - 1) >> shift;
        uint32_t room = (uint32_t)MIN(app_space(t), (size_t)rcv_window_limit(t));
        if ((up << shift) <= room + unit - 1)
            field = up;
    }
    field = MIN(field, 65535u);
    *wnd = field << shift;
    return (uint16_t)field;
}

/* Send one segment of the connection.  Every segment but the first SYN
 * carries ACK and rcv_nxt; every segment carries the window; SYNs carry
 * our MSS.  The payload is len bytes at payload, then len2 at payload2
 * (len2 only from emit_data, and only when the env takes two pieces). */
static void emit2(struct tcb *t, uint32_t seq, uint8_t flags, const uint8_t *payload, uint32_t len,
                  const uint8_t *payload2, uint32_t len2)
{
    uint32_t ack = 0;
    if (t->state != TCPS_SYN_SENT) {
        flags |= TH_ACK;
        ack = t->rcv_nxt;
    }
    bool syn = (flags & TH_SYN) != 0;
    uint32_t wnd = tcp_rcv_window(t);
    uint16_t field = window_field(t, &wnd, syn);
    t->rcv_wnd = wnd;
    if (t->state != TCPS_SYN_SENT)
        t->rcv_adv = t->rcv_nxt + wnd;
    struct hdr_options o = {.wscale = -1};
    if (syn) {
        o.mss = (uint16_t)t->cfg.mss;
        o.sack_permitted = t->sack_ok;
        o.wscale = t->wscale_ok ? t->rcv_wscale : -1;
    } else if (t->sack_ok && (t->reasm.nruns || t->dsack)) {
        /* As many blocks as fit beside the payload in the peer's MSS; a
         * D-SACK block first (RFC 2883 4). */
        uint32_t payload_len = len + len2;
        uint32_t room =
            t->snd_mss > payload_len + 4 ? (t->snd_mss - payload_len - 4) / TCPOLEN_SACK_BLOCK : 0;
        room = MIN(room, (uint32_t)TCP_SACK_MAX_BLOCKS);
        unsigned d = 0;
        if (t->dsack && room) {
            o.sack[0][0] = t->dsack_start;
            o.sack[0][1] = t->dsack_end;
            d = 1;
            t->dsack = false;
        }
        struct hdr_options rest = {.wscale = -1};
        unsigned n = sack_blocks(t, &rest, room - d);
        memcpy(&o.sack[d], rest.sack, n * sizeof o.sack[0]);
        o.nsack = d + n;
        t->stats.sack_blocks_out += o.nsack;
    }
    uint8_t hdr[TCP_HDR_MAX];
    build_header(hdr, seq, ack, flags, field, &o);
    if (len2)
        t->env.output2(t->env.ctx, (const STCPHeader *)hdr, payload, len, payload2, len2);
    else
        t->env.output(t->env.ctx, (const STCPHeader *)hdr, payload, len);
    t->ack_now = false;
    t->unacked_segs = 0;
    t->stats.segs_out++;
}

static void emit(struct tcb *t, uint32_t seq, uint8_t flags, const uint8_t *payload, uint32_t len)
{
    emit2(t, seq, flags, payload, len, NULL, 0);
}

/* Data from the send ring, without copying it when the env can send a
 * wrapped payload as two pieces. */
static void emit_data(struct tcb *t, uint32_t seq, uint32_t len, bool fin)
{
    uint8_t flags = fin ? TH_FIN : 0;
    uint32_t first;
    const uint8_t *p = sndbuf_pieces(&t->sndbuf, seq - t->snd_una, len, &first);
    if (first < len && t->env.output2)
        emit2(t, seq, flags, p, first, t->sndbuf.data, len - first);
    else
        emit(t, seq, flags, sndbuf_view(&t->sndbuf, seq - t->snd_una, len), len);
}

/* Resend the oldest unacknowledged segment: the SYN, or up to an MSS of
 * data from snd_una (with the FIN if it follows directly), or the FIN. */
static void send_oldest(struct tcb *t, stcp_usec_t now)
{
    if (!t->syn_acked) {
        sent_log_resent(&t->sent, t->snd_una, t->snd_una + 1, now);
        emit(t, t->iss, TH_SYN, NULL, 0);
        return;
    }
    if (t->snd_una == t->snd_max)
        return; /* everything was acknowledged meanwhile */
    uint32_t flight = data_in_flight(t);
    uint32_t len = MIN(send_mss(t), flight);
    if (t->sack_ok && t->sb.n && seq_gt(t->sb.r[0].start, t->snd_una))
        len = MIN(len, t->sb.r[0].start - t->snd_una); /* the first hole only */
    bool fin = t->fin_sent && len == flight;
    if (!len && !fin)
        return;
    uint32_t end = t->snd_una + len + (fin ? 1 : 0);
    sent_log_resent(&t->sent, t->snd_una, end, now);
    emit_data(t, t->snd_una, len, fin);
    t->stats.rexmit_bytes += len;
    if (seq_gt(end, t->sb.high_rxt))
        t->sb.high_rxt = end;
    if (seq_lt(t->snd_nxt, end))
        t->snd_nxt = end; /* a timeout rewound snd_nxt: this much is sent again */
}

/* Challenge ACKs: a burst of CHALLENGE_BURST, then one per
 * CHALLENGE_INTERVAL.  Duplicates less than RECENT_SPAN behind rcv_nxt (the
 * largest window) are genuine retransmissions, answered without limit. */
#define RECENT_SPAN        65536u
#define CHALLENGE_BURST    20
#define CHALLENGE_INTERVAL (10 * STCP_MSEC)

/* A token bucket: burst tokens at most, one more per interval.  Takes a
 * token if there is one. */
static bool take_token(unsigned *tokens, stcp_usec_t *refill_at, stcp_usec_t now, unsigned burst,
                       stcp_usec_t interval)
{
    if (now >= *refill_at) {
        stcp_usec_t n = (now - *refill_at) / interval + 1;
        *tokens = (unsigned)MIN((stcp_usec_t)burst, *tokens + n);
        *refill_at = now + interval;
    }
    if (!*tokens)
        return false;
    (*tokens)--;
    return true;
}

static bool challenge_allowed(struct tcb *t, stcp_usec_t now)
{
    if (take_token(&t->challenge_tokens, &t->challenge_refill_at, now, CHALLENGE_BURST,
                   CHALLENGE_INTERVAL))
        return true;
    t->stats.acks_throttled++;
    return false;
}

/* RSTs we send: the same ration as challenge ACKs, per connection (and
 * per process for the listener's, see transport_listen_input). */
#define RST_BURST    CHALLENGE_BURST
#define RST_INTERVAL CHALLENGE_INTERVAL

/* Send a RST: <SEQ=seq><CTL=RST>, or <SEQ=seq><ACK=ack><CTL=RST,ACK>. */
static void send_reset(struct tcb *t, stcp_usec_t now, uint32_t seq, bool with_ack, uint32_t ack)
{
    if (!take_token(&t->rst_tokens, &t->rst_refill_at, now, RST_BURST, RST_INTERVAL)) {
        t->stats.rsts_throttled++;
        return;
    }
    uint8_t hdr[TCP_HDR_MAX];
    build_header(hdr, seq, with_ack ? ack : 0, TH_RST | (with_ack ? TH_ACK : 0), 0, NULL);
    t->env.output(t->env.ctx, (const STCPHeader *)hdr, NULL, 0);
    t->stats.segs_out++;
    t->stats.rsts_out++;
}

/* We end a connection the peer may still think open (RFC 9293 3.10.5,
 * ABORT): tell it with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>.  Before
 * our SYN was answered, and once both FINs are done, there is nobody to
 * tell. */
static void reset_peer(struct tcb *t, stcp_usec_t now)
{
    switch (t->state) {
    case TCPS_CLOSED:
    case TCPS_LISTEN:
    case TCPS_SYN_SENT:
    case TCPS_TIME_WAIT:
        break;
    default:
        send_reset(t, now, t->snd_max, true, t->rcv_nxt);
        break;
    }
}

/* A segment without data: an ACK and window update.  Its sequence number
 * is snd_max, unless the peer's window is zero and a probe byte has taken
 * snd_max beyond it: a receiver whose window is zero accepts only
 * seq == rcv_nxt and would ignore the ACK field (RFC 9293 3.10.7.4), so
 * the ACK carries the window's edge, snd_una, instead (as Linux does). */
static void emit_ack(struct tcb *t)
{
    bool beyond_zero_window = t->syn_acked && t->snd_wnd == 0 && t->snd_max != t->snd_una;
    emit(t, beyond_zero_window ? t->snd_una : t->snd_max, 0, NULL, 0);
}

/* An ACK now, out of turn (duplicate, out of order, unacceptable). */
static void send_ack_now(struct tcb *t, stcp_usec_t now)
{
    if (t->state != TCPS_SYN_RECEIVED)
        emit_ack(t);
    else if (t->snd_nxt == t->iss)
        t->ack_now = true; /* our SYN has not gone out yet: tcp_output sends it */
    else
        send_oldest(t, now); /* our SYN is not acknowledged yet: resend it */
}

static bool may_send_data(const struct tcb *t)
{
    switch (t->state) {
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
        return true;
    case TCPS_FIN_WAIT_1:
    case TCPS_CLOSING: /* their FIN came before ours went out */
    case TCPS_LAST_ACK:
        return !t->fin_sent; /* closing: data queued before close still goes */
    default:
        return false;
    }
}

/* The most we keep in flight: the peer's window, the configured window and
 * the congestion window (the configured window itself under `none`). */
static uint32_t send_window(const struct tcb *t)
{
    return MIN(MIN(t->snd_wnd, t->cfg.window), t->cc.cwnd);
}

/* A timeout rewound snd_nxt to snd_una (go-back-N under the loss window):
 * send [snd_nxt, snd_max) again as the windows open, a segment never
 * crossing snd_max, so each is either wholly a resend or wholly new. */
static void resend_rewound(struct tcb *t, stcp_usec_t now, uint32_t wnd)
{
    while (seq_lt(t->snd_nxt, t->snd_max)) {
        uint32_t data_end = t->snd_max - (t->fin_sent ? 1 : 0);
        /* What the peer has SACKed since the timeout is not sent again. */
        sb_skip_sacked(&t->sb, &t->snd_nxt, data_end);
        uint32_t flight = unsacked_below(t, t->snd_nxt);
        uint32_t usable = wnd > flight ? wnd - flight : 0;
        uint32_t left = sb_unsacked_len(&t->sb, t->snd_nxt, data_end - t->snd_nxt);
        uint32_t len = MIN(MIN(send_mss(t), left), usable);
        bool fin = t->fin_sent && t->snd_nxt + len == data_end; /* the FIN needs no window */
        if (!len && !fin)
            break;
        uint32_t end = t->snd_nxt + len + (fin ? 1 : 0);
        sent_log_resent(&t->sent, t->snd_una, end, now); /* Karn: no samples */
        emit_data(t, t->snd_nxt, len, fin);
        t->snd_nxt = end;
        t->stats.rexmit_timeout++;
        t->stats.rexmit_bytes += len;
    }
}

/* One segment of new data, if wnd leaves room beyond what is in flight. */
static bool send_new_segment(struct tcb *t, stcp_usec_t now, uint32_t wnd)
{
    uint32_t flight = t->snd_nxt - t->snd_una;
    uint32_t unsent = data_unsent(t);
    uint32_t usable = wnd > flight ? wnd - flight : 0;
    if (!unsent || !usable)
        return false;
    uint32_t len = MIN(MIN(send_mss(t), unsent), usable);
    bool fin = t->fin_queued && len == unsent;
    emit_data(t, t->snd_nxt, len, fin);
    t->snd_nxt += len + (fin ? 1 : 0);
    t->snd_max = t->snd_nxt;
    sent_log_add(&t->sent, t->snd_nxt, now);
    t->fin_sent = fin;
    t->stats.bytes_out += len;
    t->rack.tlp_rearm = true;
    return true;
}

/* Sender-side silly window avoidance for the congestion window: where
 * cwnd, not the peer's window, is the limit, only a whole segment goes (or
 * the last of the queued data, or anything when nothing is in flight).
 * cwnd grows by a few bytes per ACK in congestion avoidance, and sending
 * those few bytes at once put a 4-20 byte segment after nearly every full
 * one through the bottleneck (a third of its packets, each with a header
 * and an ACK).  The peer's window keeps the classic rules (none's cwnd is
 * that window, so `none` is unchanged). */
static bool cwnd_allows_segment(const struct tcb *t, uint32_t wnd)
{
    uint32_t flight = t->snd_nxt - t->snd_una;
    if (t->cc.cwnd >= MIN(t->snd_wnd, t->cfg.window) || !flight)
        return true;
    uint32_t usable = wnd > flight ? wnd - flight : 0;
    return usable >= MIN(send_mss(t), data_unsent(t));
}

/* New data as far as send_window() allows, packed in full segments, then
 * the FIN once all data has gone. */
static void send_new_data(struct tcb *t, stcp_usec_t now)
{
    uint32_t wnd = send_window(t);
    while (cwnd_allows_segment(t, wnd) && send_new_segment(t, now, wnd))
        ;
    /* Remembered for the ACKs that come back: when several are taken in
     * one batch, only the first would see the window full otherwise, and
     * slow start would grow cwnd by one MSS per batch, not per ACK. */
    t->cwnd_limited = data_unsent(t) && t->cc.cwnd <= MIN(t->snd_wnd, t->cfg.window) &&
                      t->snd_nxt - t->snd_una + send_mss(t) > t->cc.cwnd;
    if (t->fin_queued && !t->fin_sent && !data_unsent(t)) {
        emit(t, t->snd_nxt, TH_FIN, NULL, 0);
        t->snd_max = ++t->snd_nxt;
        sent_log_add(&t->sent, t->snd_nxt, now);
        t->fin_sent = true;
    }
}

/* Resend up to an MSS of the hole at seq, which ends at hole_end. */
static void sack_resend(struct tcb *t, stcp_usec_t now, uint32_t seq, uint32_t hole_end)
{
    uint32_t len = MIN(send_mss(t), hole_end - seq);
    sent_log_resent_from(&t->sent, t->snd_una, seq, seq + len, now); /* Karn: no samples */
    emit_data(t, seq, len, false);
    t->sb.high_rxt = seq + len;
    t->stats.rexmit_sack++;
    t->stats.rexmit_bytes += len;
}

/* Loss recovery with SACK (RFC 6675 5, step C): while the congestion
 * window has an MSS to spare beyond the pipe, send NextSeg: (1) the first
 * hole past HighRxt that IsLost, else (2) new data the peer's window
 * allows, else (3) the first hole past HighRxt below SACKed data. */
static void sack_output(struct tcb *t, stcp_usec_t now)
{
    uint32_t mss = send_mss(t);
    uint32_t peer_wnd = MIN(t->snd_wnd, t->cfg.window);
    for (;;) {
        uint32_t pipe = sb_pipe(&t->sb, t->snd_una, t->snd_max, mss);
        if (pipe >= t->cc.cwnd || t->cc.cwnd - pipe < mss)
            return;
        uint32_t seq, hole_end;
        bool hole = sb_next_hole(&t->sb, t->snd_una, &seq, &hole_end);
        bool lost = hole && sb_is_lost(&t->sb, seq, mss);
        /* Rule 2 only when rule 1 has nothing; rule 3 only when 2 has not. */
        if (!lost && may_send_data(t) && t->snd_nxt == t->snd_max &&
            send_new_segment(t, now, peer_wnd))
            continue;
        if (!hole)
            return;
        sack_resend(t, now, seq, hole_end);
    }
}

/* Send record k of the sent log again (RACK's recovery, or a tail loss
 * probe).  Returns the payload bytes sent. */
static uint32_t rack_resend(struct tcb *t, stcp_usec_t now, unsigned k)
{
    struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
    uint32_t start = rec_start(t, k);
    bool fin = t->fin_sent && r->end == t->snd_max;
    uint32_t len = r->end - start - (fin ? 1 : 0);
    r->resent_at = now ? now : 1; /* Karn: no samples from it */
    r->flags |= TCP_SENT_REXMIT;
    emit_data(t, start, len, fin);
    /* The oldest segment sent again: its timer starts again too (as
     * Linux does).  Otherwise a resend into a full queue, lost and found
     * by RACK one round trip later, races the timer armed before it. */
    if (k == 0 && t->rexmit_at != STCP_NO_TIMER)
        t->rexmit_at = now + t->rto;
    t->stats.rexmit_bytes += len;
    if (seq_gt(r->end, t->sb.high_rxt))
        t->sb.high_rxt = r->end;
    return len + (fin ? 1 : 0);
}

/* What fast recovery may send now (Proportional Rate Reduction, RFC 6937):
 * while the pipe is above ssthresh, ssthresh / RecoverFS of what has been
 * delivered, so the pipe comes down to ssthresh over a round trip instead
 * of by a pause and then a burst into a queue that is still full; below
 * it, up to ssthresh again, but no faster than slow start (PRR-SSRB). */
static int64_t prr_budget(const struct tcb *t, uint32_t pipe)
{
    const struct cc_state *cc = &t->cc;
    int64_t out = (int64_t)t->rack.prr_out;
    if (pipe > cc->ssthresh) {
        uint64_t fs = t->rack.recover_fs ? t->rack.recover_fs : 1;
        return (int64_t)((t->rack.prr_delivered * cc->ssthresh + fs - 1) / fs) - out;
    }
    /* One MSS more per ACK (delivered is cleared once output has run). */
    int64_t limit = MAX((int64_t)t->rack.prr_delivered - out, (int64_t)t->rack.delivered);
    if (t->rack.delivered)
        limit += send_mss(t);
    return MIN((int64_t)(cc->ssthresh - pipe), limit);
}

/* Loss recovery with RACK (after RACK found a loss, or after a timeout):
 * while the congestion window has an MSS to spare beyond the pipe, resend
 * the first segment taken for lost, else send new data (RFC 6675's NextSeg
 * rules 1 and 2, with RACK's marks; rule 3 is the tail loss probe's job).
 * The first resend of an episode goes whatever the pipe (fast retransmit). */
static void rack_output(struct tcb *t, stcp_usec_t now)
{
    uint32_t mss = send_mss(t);
    uint32_t peer_wnd = MIN(t->snd_wnd, t->cfg.window);
    uint32_t pipe = rack_pipe(t);
    unsigned k = 0;
    int64_t budget = prr_budget(t, pipe);
    if (t->rack.frto_send_new) {
        /* F-RTO step 2b: new data, not resends, so the next ACK can tell
         * whether what the timeout took for lost had arrived. */
        t->rack.frto_send_new = false;
        unsigned sent = 0;
        while (sent < 2 && may_send_data(t) && t->snd_nxt == t->snd_max &&
               send_new_segment(t, now, peer_wnd))
            sent++;
        if (sent)
            return;
        t->rack.frto = 0; /* nothing new to send: no test possible */
    }
    for (;;) {
        bool room = t->fast_recovery ? budget > 0 : pipe < t->cc.cwnd && t->cc.cwnd - pipe >= mss;
        if (!t->rack.force_one && !room)
            return;
        uint32_t sent;
        if (rack_next_lost(t, &k)) {
            sent = rack_resend(t, now, k++);
            t->stats.rexmit_sack++;
        } else {
            uint32_t before = t->snd_nxt;
            if (!may_send_data(t) || t->snd_nxt != t->snd_max ||
                !send_new_segment(t, now, peer_wnd))
                return;
            sent = t->snd_nxt - before;
        }
        pipe += sent;
        budget -= sent;
        t->rack.prr_out += sent;
        t->rack.force_one = false;
        t->rack.delivered = 0;
    }
}

/* The tail loss probe's timer (RFC 8985 7.2): while data is in flight
 * outside recovery, 2 SRTT after the last new data sent or ACKed, but no
 * later than the retransmission timer (the probe then goes instead). */
static void tlp_schedule(struct tcb *t, stcp_usec_t now)
{
    bool want = rack_on(t) && t->syn_acked && t->have_rtt && !t->in_recovery && !t->rack.tlp_out &&
                t->snd_una != t->snd_max && t->rexmit_at != STCP_NO_TIMER;
    if (!want) {
        t->rack.tlp_at = STCP_NO_TIMER;
        return;
    }
    if (t->rack.tlp_at != STCP_NO_TIMER && !t->rack.tlp_rearm)
        return;
    t->rack.tlp_rearm = false;
    stcp_usec_t pto = MAX(2 * t->srtt, RTO_CLOCK_GRANULARITY);
    t->rack.tlp_at = MIN(now + pto, t->rexmit_at);
}

/* RTO Restart (after RFC 7765): an ACK restarted the timer for RTO from
 * now (RFC 6298 5.3), which gives the oldest segment still in the network
 * up to a round trip more than RTO.  With fewer than four segments in the
 * network a loss at the tail has too few segments after it to be SACKed,
 * and its repair waits for the timer; so the timer instead fires RTO
 * after that segment was (last) sent.  Checked after
 * output, when what the windows allow has gone (RFC 7765 asks that no
 * unsent data be ready: here it also applies when the congestion window
 * holds the rest back).  Never earlier than now: if that segment is older
 * than RTO, the RFC 6298 restart stands.  With RACK only (the sent log
 * knows which segments are in the network). */
static void rto_restart(struct tcb *t, stcp_usec_t now)
{
    t->rto_restart_due = false;
    uint32_t few = SMALL_FLIGHT_SEGMENTS * send_mss(t);
    if (!t->cfg.rto_restart || !rack_on(t) || t->rexmit_at == STCP_NO_TIMER ||
        t->persist_at != STCP_NO_TIMER)
        return;
    /* Outside recovery nothing is taken for lost, so the pipe is at least
     * what is sent and not SACKed: a cheap test first, before walking the
     * sent log (a large window's transfer acknowledges thousands). */
    uint32_t unsacked = unsacked_below(t, t->snd_max);
    if ((!t->in_recovery && unsacked >= few) || rack_pipe(t) >= few)
        return;
    stcp_usec_t oldest = STCP_NO_TIMER;
    for (unsigned k = 0; k < t->sent.count; k++) {
        const struct tcp_sent_rec *r = SENT_REC(&t->sent, k);
        bool gone = (r->flags & TCP_SENT_SACKED) ||
                    ((r->flags & TCP_SENT_LOST) && !(r->flags & TCP_SENT_REXMIT));
        if (!gone) /* not delivered, nor waiting for its resend */
            oldest = MIN(oldest, rec_xmit(r));
    }
    if (oldest == STCP_NO_TIMER || t->sent.overflow)
        return;
    stcp_usec_t due = oldest + t->rto;
    if (due > now && due < t->rexmit_at)
        t->rexmit_at = due;
}

static stcp_usec_t persist_interval(const struct tcb *t)
{
    unsigned shift = MIN(t->persist_shift, 16u);
    stcp_usec_t iv = t->rto << shift;
    return MIN(iv, t->cfg.persist_max);
}

/* Start or stop the retransmission and persist timers to match what is
 * outstanding now. */
static void arm_timers(struct tcb *t, stcp_usec_t now)
{
    bool zero_window_stall =
        t->syn_acked && t->snd_wnd == 0 && data_unsent(t) && t->snd_max == t->snd_una;
    if (zero_window_stall) {
        if (t->persist_at == STCP_NO_TIMER) {
            t->persist_shift = 0;
            t->persist_at = now + persist_interval(t);
            /* The peer owes us an answer from the first probe on: a window
             * that closed long ago, while we had nothing to send, must not
             * count as silence (peer_gone would then give up after
             * max_retries probes, a few seconds, not the user timeout). */
            t->flight_since = now;
        }
    } else if (t->snd_wnd > 0 || !t->syn_acked || (!data_unsent(t) && !data_in_flight(t))) {
        /* Nothing to probe with: a FIN alone is covered by the retransmission
         * timer (it needs no window). */
        t->persist_at = STCP_NO_TIMER;
    }
    if (t->snd_max == t->snd_una)
        t->rexmit_at = STCP_NO_TIMER;
    else if (t->rexmit_at == STCP_NO_TIMER && t->persist_at == STCP_NO_TIMER) {
        t->rexmit_at = now + t->rto;
        t->flight_since = now;
    }
    if (t->rto_restart_due)
        rto_restart(t, now);
    tlp_schedule(t, now);
}

void tcp_output(struct tcb *t, stcp_usec_t now)
{
    if (t->state == TCPS_CLOSED || t->state == TCPS_LISTEN) {
        t->ack_now = t->rexmit_now = false;
        return;
    }
    if (t->rexmit_now) {
        t->rexmit_now = false;
        send_oldest(t, now);
    }
    if (t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RECEIVED) {
        if (t->snd_nxt == t->iss) { /* the first SYN, or SYN-ACK */
            emit(t, t->iss, TH_SYN, NULL, 0);
            t->snd_nxt = t->snd_max = t->iss + 1;
            sent_log_add(&t->sent, t->snd_nxt, now);
        } else if (t->ack_now) {
            send_ack_now(t, now);
        }
        t->ack_now = false;
        arm_timers(t, now);
        return;
    }
    /* SACK recovery: after duplicate ACKs, and after a timeout under
     * `none`, which has no go-back-N to repair the holes. */
    if (rack_on(t) && t->in_recovery)
        rack_output(t, now);
    else if (t->sack_ok && t->in_recovery && (t->fast_recovery || !t->cc.algo->loss_window))
        sack_output(t, now);
    /* After a timeout's rewind, what was sent before goes first, whatever
     * the state (the FIN may be among it); new data waits for it. */
    if (seq_lt(t->snd_nxt, t->snd_max))
        resend_rewound(t, now, send_window(t));
    if (may_send_data(t) && t->snd_nxt == t->snd_max)
        send_new_data(t, now);
    if (t->ack_now)
        emit_ack(t);
    arm_timers(t, now);
}

/* ======================= 3. Input (tcp_in) ================================= */

/* Congestion control starts once the connection is synchronized: the MSS
 * is known, and whether the handshake needed a retransmission. */
static void cc_start(struct tcb *t, stcp_usec_t now)
{
    struct cc_state *cc = &t->cc;
    cc->algo = t->cfg.cc ? t->cfg.cc : &cc_none;
    cc->mss = send_mss(t);
    cc->max_cwnd = t->cfg.window;
    cc->handshake_resent = t->stats.rexmit_timeout > 0;
    cc->hystart = t->cfg.hystart;
    cc->algo->init(cc, now);
    if (t->have_rtt && cc->algo->on_rtt_sample)
        cc->algo->on_rtt_sample(cc, t->srtt, t->srtt);
}

static void cc_event(struct tcb *t, enum tcp_cc_event ev)
{
    if (t->env.cc_event)
        t->env.cc_event(t->env.ctx, ev);
}

static void enter_established(struct tcb *t, stcp_usec_t now)
{
    cc_start(t, now);
    t->state = t->fin_queued ? TCPS_FIN_WAIT_1 : TCPS_ESTABLISHED;
    event(t, TCP_EV_ESTABLISHED, 0);
}

static void start_time_wait(struct tcb *t, stcp_usec_t now)
{
    t->state = TCPS_TIME_WAIT;
    t->rexmit_at = t->persist_at = STCP_NO_TIMER;
    t->close_at = now + t->cfg.time_wait;
}

/* The peer's SYN: keep window scaling and SACK only if it offered them
 * too (RFC 7323 2.2, RFC 2018 2); its shift applies to its later windows. */
static void negotiate_options(struct tcb *t, const struct tcp_segment *syn)
{
    t->sack_ok = t->sack_ok && syn->sack_permitted;
    t->wscale_ok = t->wscale_ok && syn->wscale >= 0;
    t->snd_wscale = t->wscale_ok ? (uint8_t)syn->wscale : 0;
    if (!t->wscale_ok)
        t->rcv_wscale = 0;
}

static void input_listen(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg)
{
    /* RFC 9293 3.10.7.2: a RST is ignored, an ACK gets <SEQ=SEG.ACK><CTL=RST>,
     * anything but a SYN is dropped.  Data on a SYN is not kept: the peer
     * sends it again once the connection is open.  A TCB listens for one
     * connection (the framework starts one per SYN), so a segment that
     * cannot open it ends it; it would wait for ever otherwise. */
    if (seg->flags & (TH_RST | TH_ACK) || !(seg->flags & TH_SYN)) {
        t->stats.dropped_in++;
        if (seg->flags & TH_RST)
            t->stats.rsts_in++;
        if ((seg->flags & (TH_RST | TH_ACK)) == TH_ACK)
            send_reset(t, now, seg->ack, false, 0);
        enter_closed(t);
        return;
    }
    t->snd_mss = effective_mss(t, seg->mss);
    negotiate_options(t, seg);
    t->irs = seg->seq;
    t->rcv_nxt = seg->seq + 1;
    t->rcv_adv = t->rcv_nxt;
    t->snd_wnd = seg->win;
    t->snd_max_wnd = seg->win;
    t->snd_wl1 = seg->seq;
    t->snd_wl2 = t->iss;
    t->last_heard = now;
    t->state = TCPS_SYN_RECEIVED; /* tcp_output sends the SYN-ACK */
}

/* Is ack in (from, to]?  Measured as unsigned distances from 'from', so
 * a value 2^31 away (where signed comparison is ambiguous) is outside. */
static bool ack_in_range(uint32_t ack, uint32_t from, uint32_t to)
{
    return ack != from && ack - from <= to - from;
}

/* Take the peer's window from seg if it is newer than the last one used
 * (RFC 9293 3.10.7.4, fifth check). */
static void update_send_window(struct tcb *t, const struct tcp_segment *seg)
{
    if (seq_lt(t->snd_wl1, seg->seq) || (t->snd_wl1 == seg->seq && seq_leq(t->snd_wl2, seg->ack))) {
        t->snd_wnd = seg->win;
        t->snd_wl1 = seg->seq;
        t->snd_wl2 = seg->ack;
        if (seg->win > t->snd_max_wnd)
            t->snd_max_wnd = seg->win;
    }
}

/* The peer's window opened again.  What is still unacknowledged was sent
 * beyond a closed window (a probe byte, or data in flight when it closed),
 * which the peer does not keep: send it again from snd_una now, ahead of
 * new data (as BSD does), rather than send past it and leave it to a loss
 * recovery that would also cut cwnd for a loss that never was.  Through
 * the go-back-N of a timeout, so only for the algorithms that have one:
 * `none` keeps the classic sender, which never goes back. */
static void window_reopened(struct tcb *t)
{
    if (t->syn_acked && t->cc.algo->loss_window && seq_lt(t->snd_una, t->snd_nxt))
        t->snd_nxt = t->snd_una;
}

/* The peer's SACK blocks go into the scoreboard: those that lie above
 * snd_una and within what we sent (others, D-SACKs included, are
 * ignored).  Returns true if any of them SACKed something new. */
static bool sack_update(struct tcb *t, const struct tcp_segment *seg)
{
    bool news = false;
    for (unsigned k = 0; k < seg->nsack; k++) {
        uint32_t start = seg->sack[k].start, end = seg->sack[k].end;
        if (!seq_lt(start, end) || !seq_gt(end, t->snd_una) || seq_gt(end, t->snd_max) ||
            seq_lt(start, t->snd_una - t->snd_max_wnd))
            continue;
        t->stats.sack_blocks_in++;
        if (seq_lt(start, t->snd_una))
            start = t->snd_una;
        news |= sb_add(&t->sb, start, end);
    }
    return news;
}

/* RFC 6675 5, step 4: fast retransmit of the first hole, and recovery
 * until RecoveryPoint (recover).  The algorithm sets ssthresh as for any
 * congestion event; with dupacks 0 it leaves cwnd at ssthresh, as RFC
 * 6675 wants (the pipe, not an inflated cwnd, counts what has left). */
static void sack_enter_recovery(struct tcb *t, stcp_usec_t now)
{
    const struct cc_algo *cc = t->cc.algo;
    t->in_recovery = t->fast_recovery = true;
    t->recover = t->snd_max;
    t->sb.high_rxt = t->snd_una;
    if (rack_on(t)) {
        t->rack.force_one = true; /* rack_output: the first segment RACK took for lost */
        t->rack.prr_delivered = t->rack.prr_out = 0;
        t->rack.recover_fs = t->snd_max - t->snd_una;
    } else
        t->rexmit_now = true; /* send_oldest: the first hole */
    t->rack.tlp_out = false;
    t->stats.rexmit_fast++;
    t->stats.recoveries++;
    if (cc->on_enter_recovery)
        cc->on_enter_recovery(&t->cc, t->snd_max - t->snd_una, 0, now);
    cc_event(t, TCP_CC_RECOVERY);
}

/* May a new recovery episode begin?  Not inside one, and (RFC 6582 3.2
 * step 1) only once the ACK covers more than the last recover point, or
 * the duplicates a go-back-N produced would start a false one (`none`
 * keeps the classic rule: it never goes back; nor does RACK, which
 * resends only what it took for lost). */
static bool may_enter_recovery(const struct tcb *t)
{
    return !t->in_recovery &&
           (rack_on(t) || !t->cc.algo->loss_window || seq_gt(t->snd_una, t->recover));
}

/* New data acknowledged during loss recovery (snd_una already moved). */
static void recovery_ack(struct tcb *t, stcp_usec_t now, uint32_t acked)
{
    const struct cc_algo *cc = t->cc.algo;
    if (seq_geq(t->snd_una, t->recover)) {
        t->in_recovery = false;
        if (t->fast_recovery && cc->on_exit_recovery)
            cc->on_exit_recovery(&t->cc, t->snd_max - t->snd_una, now);
        t->fast_recovery = false;
        cc_event(t, TCP_CC_RECOVERED);
        return;
    }
    if (!t->fast_recovery && cc->loss_window) {
        /* After a timeout: slow start again; the go-back-N resends what
         * follows, so there is no hole to fill here. */
        if (cc->on_ack)
            cc->on_ack(&t->cc, acked, now);
        return;
    }
    if (t->snd_una != t->snd_max) {
        if (t->sack_ok && (t->fast_recovery || !cc->loss_window))
            return; /* the scoreboard says what to resend (sack_output) */
        /* A partial ACK shows where the next hole is: fill it now. */
        t->rexmit_now = true;
        t->stats.rexmit_fast++;
        if (t->fast_recovery && cc->on_partial_ack)
            cc->on_partial_ack(&t->cc, acked);
    }
}

/* snd_una advances to ack: drop acknowledged data, take an RTT sample,
 * restart the timer, and move loss recovery along. */
static void ack_new_data(struct tcb *t, stcp_usec_t now, uint32_t ack)
{
    if (rack_on(t))
        rack_cum_acked(t, ack, now);
    stcp_usec_t rtt = sent_log_ack(&t->sent, ack, now);
    if (rtt) {
        if (!t->rack.min_rtt || rtt < t->rack.min_rtt)
            t->rack.min_rtt = rtt;
        rtt_sample(t, rtt);
        if (t->cc.algo->on_rtt_sample)
            t->cc.algo->on_rtt_sample(&t->cc, rtt, t->srtt);
    }
    /* Using the whole congestion window before this ACK (or when new data
     * last stopped)?  Only then may it grow (RFC 7661): a sender limited by
     * the peer's window or by the application has not shown the path can
     * carry more. */
    bool cwnd_limited = t->cwnd_limited || t->snd_nxt - t->snd_una + send_mss(t) > t->cc.cwnd;
    uint32_t acked = ack - t->snd_una;
    if (!t->syn_acked) {
        t->syn_acked = true;
        acked--;
    }
    sndbuf_drop(&t->sndbuf, MIN(acked, t->sndbuf.len));
    t->snd_una = ack;
    t->cc.snd_una = ack; /* what cc.h promises before every on_ack */
    t->cc.snd_max = t->snd_max;
    sb_trim(&t->sb, ack);
    if (seq_lt(t->snd_nxt, ack))
        t->snd_nxt = ack; /* the peer had more than a go-back-N had resent */
    t->dupacks = 0;
    /* New data acknowledged: the path delivers again, so the backoff ends
     * here rather than at the next clean RTT sample, which on a lossy path
     * (no timestamps) may not come for many round trips.  A deliberate
     * departure from RFC 6298 5.7 (see README). */
    t->rto = rto_estimate(t);
    t->backoff = 0;
    if (t->in_recovery)
        recovery_ack(t, now, acked);
    else if (acked && cwnd_limited && t->cc.algo->on_ack) /* not for a SYN alone */
        t->cc.algo->on_ack(&t->cc, acked, now);
    t->cc.hs.rtt = 0; /* the sample was this ACK's, whether on_ack took it or not */
    t->rexmit_at = t->snd_una == t->snd_max ? STCP_NO_TIMER : now + t->rto;
    t->rto_restart_due = t->rexmit_at != STCP_NO_TIMER;
    t->rack.tlp_rearm = true;
    if (t->env.acked)
        t->env.acked(t->env.ctx, now, rtt);
}

/* First check: does the segment fall in the receive window? */
static bool segment_acceptable(const struct tcb *t, const struct tcp_segment *seg)
{
    uint32_t wnd = t->rcv_adv - t->rcv_nxt;
    uint32_t space = tcp_seg_space(seg);
    if (space == 0)
        return wnd == 0 ? seg->seq == t->rcv_nxt : seq_in(seg->seq, t->rcv_nxt, t->rcv_adv);
    if (wnd == 0)
        return false;
    return seq_in(seg->seq, t->rcv_nxt, t->rcv_adv) ||
           seq_in(seg->seq + space - 1, t->rcv_nxt, t->rcv_adv);
}

/* Cut off what lies before rcv_nxt or beyond the advertised window. */
static void trim_to_window(const struct tcb *t, struct tcp_segment *seg)
{
    if (seq_lt(seg->seq, t->rcv_nxt)) {
        if (seg->flags & TH_SYN) {
            seg->flags &= (uint8_t)~TH_SYN;
            seg->seq++;
        }
        uint32_t cut = MIN(t->rcv_nxt - seg->seq, seg->len);
        seg->payload += cut;
        seg->len -= cut;
        seg->seq += cut;
        if (seq_lt(seg->seq, t->rcv_nxt)) { /* the FIN, too, was old */
            seg->flags &= (uint8_t)~TH_FIN;
            seg->seq = t->rcv_nxt;
        }
    }
    if (seq_gt(seg->seq + seg->len, t->rcv_adv)) {
        seg->len = seq_gt(t->rcv_adv, seg->seq) ? t->rcv_adv - seg->seq : 0;
        seg->flags &= (uint8_t)~TH_FIN; /* the FIN follows data we did not take */
    }
}

static void fin_acked(struct tcb *t, stcp_usec_t now)
{
    switch (t->state) {
    case TCPS_FIN_WAIT_1:
        t->state = TCPS_FIN_WAIT_2;
        if (t->app_closed)
            t->close_at = now + t->cfg.orphan_timeout;
        event(t, TCP_EV_CLOSE_DONE, 0);
        break;
    case TCPS_CLOSING:
        start_time_wait(t, now);
        event(t, TCP_EV_CLOSE_DONE, 0);
        break;
    case TCPS_LAST_ACK:
        event(t, TCP_EV_CLOSE_DONE, 0);
        enter_closed(t);
        break;
    default:
        break;
    }
}

/* Duplicate ACKs needed to resend: three (RFC 5681), or fewer when fewer
 * segments are outstanding and no new data can go out to make more (early
 * retransmit, RFC 5827). */
static unsigned dupack_threshold(const struct tcb *t)
{
    uint32_t flight = t->snd_max - t->snd_una;
    unsigned segs = (flight + send_mss(t) - 1) / send_mss(t);
    if (segs >= 4 || data_unsent(t))
        return 3;
    /* One segment out: no later segment can have caused a duplicate ACK. */
    return segs > 1 ? segs - 1 : UINT32_MAX;
}

/* Duplicate ACK (RFC 5681): nothing new, no data, same window, data
 * outstanding.  Enough of them resend the oldest segment. */
static void check_dupack(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg,
                         bool sacked_new)
{
    bool outstanding = t->snd_una != t->snd_max;
    bool plain = !seg->len && !(seg->flags & (TH_SYN | TH_FIN)) && seg->win == t->snd_wnd &&
                 outstanding && t->snd_wnd != 0;
    /* With SACK, an ACK that SACKs new data counts too (RFC 6675 2). */
    if (!plain && !(sacked_new && outstanding))
        return;
    t->stats.dupacks_in++;
    if (t->sack_ok) {
        /* RFC 6675 5: DupThresh duplicates, or the first byte is lost
         * (with RACK, rack_input decides instead). */
        t->dupacks++;
        if (rack_on(t))
            return;
        if (may_enter_recovery(t) &&
            (t->dupacks >= dupack_threshold(t) || sb_is_lost(&t->sb, t->snd_una, send_mss(t))))
            sack_enter_recovery(t, now);
        return;
    }
    const struct cc_algo *cc = t->cc.algo;
    /* RFC 6582 3.2 step 1: only when the ACK covers more than recover, or
     * the duplicates a go-back-N produced would start a false recovery
     * (`none` keeps the classic rule: it never goes back). */
    bool beyond_recover = !cc->loss_window || seq_gt(t->snd_una, t->recover);
    if (++t->dupacks == dupack_threshold(t) && !t->in_recovery && beyond_recover) {
        t->rexmit_now = true;
        t->in_recovery = t->fast_recovery = true;
        t->recover = t->snd_max;
        t->stats.rexmit_fast++;
        t->stats.recoveries++;
        if (cc->on_enter_recovery)
            cc->on_enter_recovery(&t->cc, t->snd_max - t->snd_una, t->dupacks, now);
        cc_event(t, TCP_CC_RECOVERY);
    } else if (t->fast_recovery && cc->on_recovery_dupack) {
        cc->on_recovery_dupack(&t->cc); /* one more segment has left the network */
    }
}

/* Does seg SACK the byte at seq? */
static bool seg_sacks(const struct tcp_segment *seg, uint32_t seq)
{
    for (unsigned k = 0; k < seg->nsack; k++)
        if (seq_in(seq, seg->sack[k].start, seg->sack[k].end))
            return true;
    return false;
}

/* The probe's episode ends when its data is acknowledged.  A probe that
 * resent old data and was not followed by a recovery repaired a loss (or
 * an ACK was lost: without D-SACK we cannot tell), so the algorithm
 * reduces its window as for a loss (RFC 8985 7.4.2). */
static void tlp_acked(struct tcb *t, stcp_usec_t now)
{
    t->rack.tlp_out = false;
    const struct cc_algo *cc = t->cc.algo;
    if (t->rack.tlp_rexmit && !t->rack.tlp_dsacked &&
        t->stats.recoveries + t->stats.timeouts == t->rack.tlp_episodes) {
        t->stats.recoveries++;
        if (cc->on_enter_recovery)
            cc->on_enter_recovery(&t->cc, t->rack.tlp_flight, 0, now);
        cc_event(t, TCP_CC_RECOVERY);
    }
}

/* The timeout was spurious: back to the congestion state before it, and
 * what it took for lost is in flight again. */
static void frto_undo(struct tcb *t)
{
    t->cc = t->cc_prior;
    for (unsigned k = 0; k < t->sent.count; k++)
        SENT_REC(&t->sent, k)->flags &= (uint8_t)~TCP_SENT_LOST;
    t->in_recovery = t->fast_recovery = false;
    t->rack.frto = 0;
    t->rack.frto_send_new = false;
    t->stats.spurious_rto++;
    cc_event(t, TCP_CC_RECOVERED);
}

/* F-RTO on an ACK after the timeout (RFC 5682 3.1, as Linux applies it
 * with SACK): an original the timeout took for lost was delivered --
 * spurious, undo.  Else the first ACK that advances sends new data (step
 * 2b) and the next one decides; one that does not advance, or an ACK after
 * step 2b that delivers no such original, means the loss was real.
 * Returns true if the timeout was undone. */
static bool frto_ack(struct tcb *t, const struct tcp_segment *seg, bool advanced)
{
    (void)seg;
    if (t->rack.frto_evidence) {
        frto_undo(t);
        return true;
    }
    if (t->rack.frto == 1 && advanced && t->in_recovery) {
        t->rack.frto = 2;
        t->rack.frto_send_new = true;
    } else {
        t->rack.frto = 0;
    }
    return false;
}

/* RACK's part of an ACK (RFC 8985 6.2), after the cumulative ACK: mark
 * what it SACKs, check for reneging, end a probe's episode, and take for
 * lost what was sent before the newest delivered segment, long enough ago;
 * a first loss starts recovery. */
static void rack_input(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg, bool advanced)
{
    for (unsigned k = 0; k < seg->nsack; k++)
        if (seq_gt(seg->sack[k].end, t->snd_una) && seq_leq(seg->sack[k].end, t->snd_max))
            rack_sacked(t, seg->sack[k].start, seg->sack[k].end, now);
    if (t->in_recovery && t->fast_recovery)
        t->rack.prr_delivered += t->rack.delivered;
    /* The scoreboard holds the byte at snd_una as SACKed, yet the peer
     * acknowledges only up to it and no longer SACKs it: it was dropped. */
    if (t->sb.n && t->sb.r[0].start == t->snd_una && t->snd_una != t->snd_max &&
        !seg_sacks(seg, t->snd_una))
        rack_reneged(t);
    /* A D-SACK (RFC 2883: a first block below the cumulative ACK) of the
     * probe's data: the probe was needless, nothing was lost. */
    if (t->rack.tlp_out && t->rack.tlp_rexmit && seg->nsack &&
        seq_leq(seg->sack[0].end, seg->ack) &&
        seq_in(t->rack.tlp_seq, seg->sack[0].start, seg->sack[0].end))
        t->rack.tlp_dsacked = true;
    if (t->rack.tlp_out && seq_geq(t->snd_una, t->rack.tlp_end))
        tlp_acked(t, now);
    if (t->rack.frto && frto_ack(t, seg, advanced))
        return;
    if (!t->sb.n && !t->in_recovery) {
        t->rack.reo_at = STCP_NO_TIMER;
        return; /* nothing SACKed, nothing resent: nothing to find */
    }
    if (rack_detect_loss(t, now) && may_enter_recovery(t))
        sack_enter_recovery(t, now);
}

/* Fifth check: the ACK field.  Returns false if the segment goes no further. */
static bool process_ack(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg)
{
    if (t->state == TCPS_SYN_RECEIVED) {
        /* Our SYN must have been sent, and be what the ACK covers; an ACK
         * of anything else gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.4). */
        if (t->snd_nxt == t->iss || !ack_in_range(seg->ack, t->snd_una, t->snd_max)) {
            t->stats.dropped_in++;
            send_reset(t, now, seg->ack, false, 0);
            return false;
        }
        enter_established(t, now);
    }
    /* RFC 5961 5.2: an ACK must lie in [snd_una - max window, snd_max];
     * outside it (something not yet sent, or far too old, as a blind
     * attacker's guess would be) the segment is dropped with an ACK. */
    uint32_t oldest_ok = t->snd_una - t->snd_max_wnd - 1;
    if (!ack_in_range(seg->ack, oldest_ok, t->snd_max)) {
        if (challenge_allowed(t, now))
            send_ack_now(t, now);
        t->stats.dropped_in++;
        return false;
    }
    bool sacked_new = t->sack_ok && seg->nsack && sack_update(t, seg);
    bool advanced = ack_in_range(seg->ack, t->snd_una, t->snd_max);
    t->rack.frto_evidence = false;
    t->rack.delivered = advanced ? seg->ack - t->snd_una : 0;
    if (advanced) {
        ack_new_data(t, now, seg->ack);
        /* Still short of the data after it, SACKed enough to call it lost. */
        if (t->sack_ok && !rack_on(t) && may_enter_recovery(t) && t->sb.n &&
            sb_is_lost(&t->sb, t->snd_una, send_mss(t)))
            sack_enter_recovery(t, now);
    } else if (seg->ack == t->snd_una) {
        check_dupack(t, now, seg, sacked_new);
    }
    if (rack_on(t))
        rack_input(t, now, seg, advanced);
    t->unanswered_probes = 0;
    if (seq_geq(seg->ack, t->snd_una)) {
        bool was_closed = t->snd_wnd == 0;
        update_send_window(t, seg);
        if (was_closed && t->snd_wnd > 0)
            window_reopened(t);
    }
    if (t->fin_sent && t->snd_una == t->snd_max)
        fin_acked(t, now);
    return t->state != TCPS_CLOSED;
}

/* The peer's FIN is next in sequence: its data is complete. */
static void process_fin(struct tcb *t, stcp_usec_t now)
{
    t->rcv_nxt++;
    t->reasm.fin = false;
    t->ack_now = true;
    event(t, TCP_EV_PEER_FIN, 0);
    switch (t->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        t->state = TCPS_CLOSE_WAIT;
        break;
    case TCPS_FIN_WAIT_1:
        t->state = TCPS_CLOSING;
        break;
    case TCPS_FIN_WAIT_2:
        start_time_wait(t, now);
        break;
    default:
        break;
    }
}

/* Hand data to the application, as much as it has room for. */
static uint32_t deliver(struct tcb *t, const uint8_t *data, uint32_t len)
{
    len = (uint32_t)MIN((size_t)len, app_space(t));
    if (len && data == t->rx_in_place) {
        t->env.deliver_in_place(t->env.ctx, len); /* received where it belongs */
        t->rx_in_place = NULL;
        t->stats.bytes_in_place += len;
    } else if (len) {
        t->env.deliver(t->env.ctx, data, len);
    }
    if (len) {
        t->rcv_nxt += len;
        t->reasm.head = (t->reasm.head + len) % t->reasm.cap;
        t->stats.bytes_in += len;
    }
    return len;
}

/* After rcv_nxt moved: deliver what the reassembly buffer now holds in
 * order, then the FIN if it was waiting for this point. */
static void reasm_deliver(struct tcb *t, stcp_usec_t now)
{
    struct tcp_reasm *r = &t->reasm;
    while (r->nruns && seq_leq(r->run[0].start, t->rcv_nxt)) {
        if (seq_leq(r->run[0].end, t->rcv_nxt)) {
            reasm_remove(r, 0);
            continue;
        }
        uint32_t want = r->run[0].end - t->rcv_nxt;
        uint32_t first = MIN(want, r->cap - r->head);
        uint32_t got = deliver(t, r->data + r->head, first);
        if (got == first && want > first)
            got += deliver(t, r->data, want - first);
        if (got < want) {
            r->run[0].start = t->rcv_nxt; /* no room: keep the rest */
            return;
        }
        reasm_remove(r, 0);
    }
    if (r->fin && r->fin_seq == t->rcv_nxt)
        process_fin(t, now);
}

/* After data arrived out of order, the next QUICKACKS in-order segments
 * are acknowledged one by one, not every second one: while the sender
 * repairs a loss each ACK it gets is information (the cumulative point,
 * fresh SACK blocks), and on a lossy path an ACK for every second segment
 * loses twice as much of it. */
#define QUICKACKS 16

/* Seventh and eighth checks: segment text, then FIN. */
static void process_text(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg)
{
    bool receiving =
        t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1 || t->state == TCPS_FIN_WAIT_2;
    bool fin = (seg->flags & TH_FIN) != 0;
    if (!receiving || (!seg->len && !fin))
        return; /* after the peer's FIN nothing more is taken */
    if (seg->seq != t->rcv_nxt) {
        /* Out of order: keep it and send a duplicate ACK at once, which is
         * what lets the sender retransmit without waiting for a timeout. */
        if (seg->len)
            reasm_store(t, seg->seq, seg->payload, seg->len);
        if (fin) {
            t->reasm.fin = true;
            t->reasm.fin_seq = seg->seq + seg->len;
        }
        t->stats.ooo_segs_in++;
        t->quickacks = QUICKACKS;
        send_ack_now(t, now);
        return;
    }
    bool filled_gap = t->reasm.nruns > 0;
    uint32_t got = deliver(t, seg->payload, seg->len);
    t->ack_now = true;
    if (got == seg->len && fin) {
        t->reasm.fin = true;
        t->reasm.fin_seq = seg->seq + seg->len;
    }
    if (got == seg->len)
        reasm_deliver(t, now);
    /* ACK at least every second segment (RFC 5681 4.2), and at once when
     * a gap was filled, so one lost ACK does not stall the sender. */
    if (++t->unacked_segs >= 2 || filled_gap || t->quickacks) {
        if (t->quickacks)
            t->quickacks--;
        emit_ack(t);
    }
}

static void input_syn_sent(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg)
{
    bool has_ack = seg->flags & TH_ACK;
    if (seg->flags & TH_RST)
        t->stats.rsts_in++;
    if (has_ack && !ack_in_range(seg->ack, t->iss, t->snd_nxt)) {
        /* Not for our SYN: an old connection's segment (RFC 9293 3.10.7.3). */
        t->stats.dropped_in++;
        if (!(seg->flags & TH_RST))
            send_reset(t, now, seg->ack, false, 0);
        return;
    }
    if (seg->flags & TH_RST) {
        /* With an ACK of our SYN: the port is closed.  Without one it
         * could be anybody's: dropped. */
        if (has_ack)
            tcp_abort(t, ECONNREFUSED);
        else
            t->stats.dropped_in++;
        return;
    }
    if (!(seg->flags & TH_SYN)) {
        t->stats.dropped_in++;
        return;
    }
    t->snd_mss = effective_mss(t, seg->mss);
    negotiate_options(t, seg);
    t->irs = seg->seq;
    t->rcv_nxt = seg->seq + 1;
    t->rcv_adv = t->rcv_nxt + t->rcv_wnd; /* the window our SYN offered */
    t->last_heard = now;
    t->snd_wnd = seg->win;
    t->snd_max_wnd = seg->win;
    t->snd_wl1 = seg->seq;
    t->snd_wl2 = has_ack ? seg->ack : t->iss;
    t->ack_now = true;
    if (has_ack) {
        ack_new_data(t, now, seg->ack);
        enter_established(t, now);
        /* Continue at the sixth check: data (or a FIN) on the SYN-ACK. */
        struct tcp_segment rest = *seg;
        rest.seq++;
        rest.flags &= (uint8_t)~TH_SYN;
        trim_to_window(t, &rest);
        process_text(t, now, &rest);
    } else {
        /* Simultaneous open: answer with SYN-ACK (RFC 9293 3.5, figure 8). */
        t->state = TCPS_SYN_RECEIVED;
    }
}

/* The peer is alive: only segments we accept say so, or anyone who knows
 * the addresses could keep a dead peer's connection open with garbage. */
static void heard_from_peer(struct tcb *t, stcp_usec_t now)
{
    t->last_heard = now;
    t->keepalive_sent = 0;
    t->unanswered_keepalives = 0;
}

/* A RST whose sequence number is exactly rcv_nxt (RFC 9293 3.10.7.4,
 * second check). */
static void reset_received(struct tcb *t)
{
    switch (t->state) {
    case TCPS_SYN_RECEIVED:
        if (t->passive)
            enter_closed(t); /* back to LISTEN: the attempt ends, never accepted */
        else
            tcp_abort(t, ECONNREFUSED);
        break;
    case TCPS_ESTABLISHED:
    case TCPS_FIN_WAIT_1:
    case TCPS_FIN_WAIT_2:
    case TCPS_CLOSE_WAIT:
        tcp_abort(t, ECONNRESET);
        break;
    default: /* CLOSING, LAST_ACK, TIME_WAIT: nothing is lost */
        enter_closed(t);
        break;
    }
}

/* RST in a synchronized state (RFC 5961 3.2): exactly rcv_nxt resets;
 * elsewhere in the window gets a rationed challenge ACK, so a blind
 * attacker must guess the exact number; outside the window it is dropped. */
static void input_rst(struct tcb *t, stcp_usec_t now, const struct tcp_segment *seg)
{
    t->stats.rsts_in++;
    if (seg->seq == t->rcv_nxt) {
        reset_received(t);
        return;
    }
    t->stats.dropped_in++;
    if (seq_in(seg->seq, t->rcv_nxt, t->rcv_adv) && challenge_allowed(t, now))
        send_ack_now(t, now);
}

static void input_synchronized(struct tcb *t, stcp_usec_t now, struct tcp_segment *seg)
{
    if (seg->flags & TH_RST) {
        input_rst(t, now, seg);
        return;
    }
    /* A new SYN from the same address and port while we linger in
     * TIME_WAIT: the peer is starting a new connection (it reused its
     * port).  End TIME_WAIT now so its next SYN reaches the listener,
     * instead of stalling it for the rest of 2MSL (RFC 1122 4.2.2.13 lets
     * a SYN reopen from TIME_WAIT). */
    if (t->state == TCPS_TIME_WAIT && (seg->flags & (TH_SYN | TH_ACK)) == TH_SYN) {
        enter_closed(t);
        return;
    }
    /* First: sequence number. */
    if (!segment_acceptable(t, seg)) {
        t->stats.dup_segs_in++;
        /* Its ACK field still counts if the segment is an old duplicate (as
         * BSD does: this is how the peer's SYN-ACK completes a simultaneous
         * open) or probes a zero window (RFC 9293 3.10.7.4). */
        bool old = seq_lt(seg->seq, t->rcv_nxt);
        bool probe = t->rcv_adv == t->rcv_nxt && seg->seq == t->rcv_nxt;
        if ((old || probe) && (seg->flags & TH_ACK)) {
            if (!process_ack(t, now, seg))
                return;
            heard_from_peer(t, now);
        }
        if (t->state == TCPS_TIME_WAIT && (seg->flags & TH_FIN))
            t->close_at = now + t->cfg.time_wait; /* their FIN again: restart 2MSL */
        /* A duplicate of data we took (at most a window old) is how a peer
         * whose ACK was lost asks again: always answer it.  Anything else
         * could be forged, and its answers are rationed. */
        bool recent = old && seq_geq(seg->seq, t->rcv_nxt - MAX(RECENT_SPAN, t->cfg.window));
        if (recent && t->sack_ok && seg->len && seq_leq(seg->seq + seg->len, t->rcv_nxt)) {
            /* Tell the sender this data came twice (D-SACK, RFC 2883): its
             * resend, or its loss probe, was needless. */
            t->dsack = true;
            t->dsack_start = seg->seq;
            t->dsack_end = seg->seq + seg->len;
        }
        if (recent || challenge_allowed(t, now))
            send_ack_now(t, now);
        return;
    }
    heard_from_peer(t, now);
    t->backoff = 0;
    if (t->state == TCPS_FIN_WAIT_2 && t->app_closed)
        t->close_at = now + t->cfg.orphan_timeout;
    trim_to_window(t, seg);
    /* Second (RST) check: done first, above; third (security): not in STCP.
     * Fourth: a SYN inside the window gets a challenge ACK (RFC 5961). */
    if (seg->flags & TH_SYN) {
        t->stats.dropped_in++;
        if (challenge_allowed(t, now))
            send_ack_now(t, now);
        return;
    }
    /* Fifth: ACK. */
    if (!(seg->flags & TH_ACK)) {
        t->stats.dropped_in++;
        return;
    }
    if (!process_ack(t, now, seg))
        return;
    /* Sixth (URG) is ignored; seventh and eighth: text and FIN. */
    process_text(t, now, seg);
}

static void input_parsed(struct tcb *t, stcp_usec_t now, struct tcp_segment *seg, int parsed);

void tcp_input(struct tcb *t, stcp_usec_t now, const void *buf, size_t len)
{
    struct tcp_segment seg;
    input_parsed(t, now, &seg, tcp_parse(buf, len, &seg));
}

void tcp_input_split(struct tcb *t, stcp_usec_t now, const void *hdr, size_t hdr_len,
                     const void *payload, size_t payload_len, bool in_place)
{
    struct tcp_segment seg;
    int parsed = tcp_parse(hdr, hdr_len, &seg);
    if (parsed == 0 && (seg.len || payload_len > UINT32_MAX))
        parsed = -1; /* the header piece is the header, nothing more */
    seg.payload = payload;
    seg.len = (uint32_t)payload_len;
    t->rx_in_place = in_place && t->env.deliver_in_place ? payload : NULL;
    input_parsed(t, now, &seg, parsed);
    t->rx_in_place = NULL;
}

/* A segment as tcp_parse left it (parsed: its result). */
static void input_parsed(struct tcb *t, stcp_usec_t now, struct tcp_segment *seg, int parsed)
{
    if (parsed < 0) {
        t->stats.dropped_in++;
        if (parsed == -2)
            t->stats.bad_options_in++;
        if (t->state == TCPS_LISTEN)
            enter_closed(t); /* it cannot open this connection (see input_listen) */
        return;
    }
    t->stats.segs_in++;
    /* The window of a SYN is never scaled; every other is (RFC 7323 2.2). */
    if (!(seg->flags & TH_SYN))
        seg->win <<= t->snd_wscale;
    switch (t->state) {
    case TCPS_CLOSED:
        t->stats.dropped_in++;
        break;
    case TCPS_LISTEN:
        input_listen(t, now, seg);
        break;
    case TCPS_SYN_SENT:
        input_syn_sent(t, now, seg);
        break;
    default:
        input_synchronized(t, now, seg);
        break;
    }
}

/* ======================= 4. User calls and timers ========================== */

/* What our SYN offers (narrowed to what the peer's offered, once we see it). */
static void offer_options(struct tcb *t)
{
    t->sack_ok = t->cfg.sack;
    t->wscale_ok = t->cfg.wscale;
}

void tcp_connect(struct tcb *t, stcp_usec_t now, uint32_t iss)
{
    offer_options(t);
    t->last_heard = now; /* silence is counted from here */
    t->iss = t->snd_una = t->snd_nxt = t->snd_max = t->recover = iss;
    t->state = TCPS_SYN_SENT; /* tcp_output sends the SYN */
}

void tcp_listen(struct tcb *t, uint32_t iss)
{
    offer_options(t);
    t->iss = t->snd_una = t->snd_nxt = t->snd_max = t->recover = iss;
    t->passive = true;
    t->state = TCPS_LISTEN;
}

void tcp_open_established(struct tcb *t, stcp_usec_t now, uint32_t iss, uint32_t irs,
                          uint16_t peer_window, uint16_t our_window, uint16_t peer_mss)
{
    t->passive = true;
    t->snd_mss = effective_mss(t, peer_mss);
    t->sack_ok = t->wscale_ok = false; /* a cookie SYN-ACK offers neither */
    t->rcv_wscale = t->snd_wscale = 0;
    t->iss = iss;
    t->snd_una = t->snd_nxt = t->snd_max = iss + 1;
    t->recover = iss;
    t->syn_acked = true;
    t->irs = irs;
    t->rcv_nxt = irs + 1;
    t->rcv_wnd = our_window;
    t->rcv_adv = t->rcv_nxt + our_window;
    t->snd_wnd = t->snd_max_wnd = peer_window;
    t->snd_wl1 = irs;
    t->snd_wl2 = iss + 1;
    t->last_heard = now;
    enter_established(t, now);
}

size_t tcp_send_space(const struct tcb *t)
{
    bool open = t->state != TCPS_CLOSED && t->state != TCPS_LISTEN && !t->fin_queued;
    return open ? t->sndbuf.cap - t->sndbuf.len : 0;
}

size_t tcp_write(struct tcb *t, const void *data, size_t len)
{
    if (!tcp_send_space(t))
        return 0;
    return sndbuf_put(&t->sndbuf, data, (uint32_t)MIN(len, (size_t)UINT32_MAX));
}

uint8_t *tcp_write_place(struct tcb *t, size_t *room)
{
    struct tcp_sndbuf *b = &t->sndbuf;
    uint32_t tail = (b->head + b->len) % b->cap;
    *room = MIN(tcp_send_space(t), (size_t)(b->cap - tail));
    return b->data + tail;
}

void tcp_write_commit(struct tcb *t, size_t len)
{
    size_t room;
    tcp_write_place(t, &room);
    t->sndbuf.len += (uint32_t)MIN(len, room);
}

int tcp_send_lend(struct tcb *t, const uint8_t *data, uint32_t cap, uint32_t head,
                  void (*release)(void *ctx, size_t len), void *ctx)
{
    struct tcp_sndbuf *b = &t->sndbuf;
    if (b->len || !data || !cap || head >= cap || !release) {
        errno = b->len ? EBUSY : EINVAL;
        return -1;
    }
    /* A segment's payload is at most the whole ring: flat must hold it. */
    uint8_t *flat = realloc(b->flat, MIN(t->cfg.mss, cap));
    if (!flat)
        return -1;
    if (!b->release)
        free(b->data);
    b->flat = flat;
    b->data = (uint8_t *)data; /* only read: never written through */
    b->cap = cap;
    b->head = head;
    b->release = release;
    b->release_ctx = ctx;
    return 0;
}

void tcp_write_lent(struct tcb *t, size_t len)
{
    if (t->sndbuf.release)
        t->sndbuf.len += (uint32_t)MIN(len, tcp_send_space(t));
}

void tcp_shutdown(struct tcb *t, stcp_usec_t now)
{
    (void)now;
    switch (t->state) {
    case TCPS_CLOSED:
        break; /* already over, and already reported */
    case TCPS_LISTEN:
        enter_closed(t); /* nothing to shut down */
        break;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        t->fin_queued = true; /* FIN_WAIT_1 once established */
        break;
    case TCPS_ESTABLISHED:
        t->fin_queued = true;
        t->state = TCPS_FIN_WAIT_1;
        break;
    case TCPS_CLOSE_WAIT:
        t->fin_queued = true;
        t->state = TCPS_LAST_ACK;
        break;
    default:
        break; /* already closing */
    }
}

void tcp_user_abort(struct tcb *t, stcp_usec_t now)
{
    t->app_closed = true;
    if (t->state == TCPS_CLOSED)
        return;
    /* What the application wrote before closing goes out first, as far as
     * the window allows (a kernel would have sent it at write time); the
     * RST follows it, so it carries the sequence number the peer expects.
     * Not while a timeout's rewind is being resent: new data would go out
     * at the rewound snd_nxt, and the RST carries snd_max anyway. */
    if (may_send_data(t) && t->snd_nxt == t->snd_max)
        send_new_data(t, now);
    reset_peer(t, now);
    enter_closed(t);
}

void tcp_close(struct tcb *t, stcp_usec_t now)
{
    bool was_closed = t->app_closed;
    t->app_closed = true;
    if (t->state == TCPS_SYN_SENT) {
        enter_closed(t); /* RFC 9293 3.10.4: a CLOSE in SYN_SENT ends it */
        return;
    }
    tcp_shutdown(t, now);
    /* Closed after a half-close whose FIN is already acknowledged: from now
     * on nobody reads, so a silent peer must not hold the connection. */
    if (!was_closed && t->state == TCPS_FIN_WAIT_2 && t->close_at == STCP_NO_TIMER)
        t->close_at = now + t->cfg.orphan_timeout;
}

void tcp_app_read(struct tcb *t, stcp_usec_t now)
{
    (void)now;
    bool receiving =
        t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1 || t->state == TCPS_FIN_WAIT_2;
    /* Send a window update if the right edge would move enough. */
    if (receiving && seq_gt(t->rcv_nxt + tcp_rcv_window(t), t->rcv_adv))
        t->ack_now = true;
}

void tcp_peer_unreachable(struct tcb *t)
{
    switch (t->state) {
    case TCPS_CLOSED:
        break;
    case TCPS_SYN_SENT:
        tcp_abort(t, ECONNREFUSED);
        break;
    case TCPS_FIN_WAIT_2:
    case TCPS_TIME_WAIT:
        enter_closed(t); /* everything of ours was acknowledged */
        break;
    default:
        tcp_abort(t, ECONNRESET);
        break;
    }
}

/* The algorithm's answer to a timeout.  With a loss window, everything
 * after the oldest segment is sent again too, from snd_una, as the window
 * grows (go-back-N; send_oldest sends the first segment at once). */
static void cc_timeout(struct tcb *t, stcp_usec_t now)
{
    const struct cc_algo *cc = t->cc.algo;
    if (cc->on_timeout)
        cc->on_timeout(&t->cc, t->snd_max - t->snd_una, t->backoff > 1, now);
    if (cc->loss_window && !rack_on(t))
        t->snd_nxt = t->snd_una;
    cc_event(t, TCP_CC_TIMEOUT);
}

/* Linear timeouts for a thin flight (after Linux's thin-stream linear
 * timeouts and Petlund et al.): with fewer than SMALL_FLIGHT_SEGMENTS in the
 * network, no duplicate ACKs can start a fast retransmit, and on a lossy
 * path a lone resend or its ACK is lost again often (44% at 25% loss each
 * way), so timeouts in a row are random loss, not a path that got slower.
 * The first THIN_LINEAR_TIMEOUTS in a row then keep the RTO at the
 * estimate instead of doubling it (RFC 6298 5.5); after them the backoff
 * resumes.  In the network: with RACK, the pipe (SACKed segments and
 * those taken for lost are not; after a timeout only the resends sent
 * under the loss window are), else what was sent and not SACKed.  Unlike
 * Linux, which counts every segment outstanding, the pipe makes any flow
 * thin once a timeout has taken its flight for lost, so a bulk flow's
 * 2nd to 6th timeouts in a row stay at the estimate too.  In ESTABLISHED
 * only (as Linux): a handshake or a close backs off as RFC 6298 says.  Only
 * for an algorithm with a loss window: it has cut cwnd to one segment, so
 * at most one segment per RTO goes out while no ACK comes; under `none`
 * the backoff is the only brake there is, and stays (README, "Loss
 * recovery"). */
#define THIN_LINEAR_TIMEOUTS 6

static bool thin_linear_timeout(const struct tcb *t)
{
    if (!t->cfg.thin_linear || t->state != TCPS_ESTABLISHED || !t->cc.algo ||
        !t->cc.algo->loss_window || t->backoff > THIN_LINEAR_TIMEOUTS)
        return false;
    uint32_t out = rack_on(t) ? rack_pipe(t) : unsacked_below(t, t->snd_nxt);
    return out < SMALL_FLIGHT_SEGMENTS * send_mss(t);
}

static void on_rexmit_timeout(struct tcb *t, stcp_usec_t now)
{
    t->rexmit_at = STCP_NO_TIMER;
    if (t->snd_max == t->snd_una)
        return;
    if (peer_gone(t, ++t->backoff, t->cfg.max_retries, now)) {
        reset_peer(t, now); /* in case only its answers are lost */
        tcp_abort(t, ETIMEDOUT);
        return;
    }
    if (thin_linear_timeout(t))
        t->rto = rto_estimate(t);
    else
        rto_backoff(t);
    if (rack_on(t) && t->syn_acked) {
        /* RACK: all that is not SACKed is lost, and resent under the loss
         * window; the SACKs are kept (rack_input checks for reneging).
         * F-RTO watches a first timeout outside recovery. */
        t->rack.frto = t->cfg.frto && !t->in_recovery && t->backoff == 1 ? 1 : 0;
        t->rack.frto_send_new = false;
        t->cc_prior = t->cc;
        rack_all_lost(t);
        t->rack.force_one = true;
        t->rack.tlp_out = false;
        t->rack.reo_at = t->rack.tlp_at = STCP_NO_TIMER;
    } else {
        /* RFC 6675 5.1: SACKs from before the timeout are not trusted (the
         * peer may have dropped what it held); the go-back-N skips only
         * what it SACKs afresh. */
        t->sb.n = 0;
        t->rexmit_now = true;
    }
    t->sb.high_rxt = t->snd_una;
    t->in_recovery = true;
    t->fast_recovery = false;
    t->recover = t->snd_max;
    t->dupacks = 0;
    t->stats.rexmit_timeout++;
    t->stats.timeouts++;
    t->rexmit_at = now + t->rto;
    if (t->syn_acked)
        cc_timeout(t, now);
}

/* Zero window: send one byte beyond it (or resend the one in flight) so
 * the ACK tells us when the window opens, backing off up to persist_max. */
static void on_persist_timeout(struct tcb *t, stcp_usec_t now)
{
    t->persist_at = STCP_NO_TIMER;
    if (t->snd_wnd != 0 || (!data_unsent(t) && !data_in_flight(t)))
        return; /* the window opened, or only a FIN is left (see arm_timers) */
    if (peer_gone(t, ++t->unanswered_probes, t->cfg.max_retries, now)) {
        reset_peer(t, now);
        tcp_abort(t, ETIMEDOUT);
        return;
    }
    if (t->snd_max == t->snd_una) {
        emit_data(t, t->snd_nxt, 1, false);
        t->snd_max = ++t->snd_nxt;
        sent_log_add(&t->sent, t->snd_nxt, now);
        t->stats.bytes_out++;
    } else {
        sent_log_resent(&t->sent, t->snd_una, t->snd_una + 1, now);
        emit_data(t, t->snd_una, 1, false);
    }
    t->stats.window_probes++;
    t->persist_shift++;
    t->persist_at = now + persist_interval(t);
}

/* When a keepalive is due, or STCP_NO_TIMER: only while synchronized,
 * nothing is in flight (the retransmission timer covers that) and the
 * window is not being probed.  After 10 s of silence while the application
 * waits to read (it would wait forever for a dead peer), else after RFC
 * 1122's 2 h: idle connections cost (almost) no wake-ups. */
static stcp_usec_t keepalive_due(const struct tcb *t)
{
    bool idle_state =
        t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_2 || t->state == TCPS_CLOSE_WAIT;
    if (!idle_state || t->snd_max != t->snd_una || t->persist_at != STCP_NO_TIMER ||
        !t->cfg.keepalive_idle)
        return STCP_NO_TIMER;
    if (!t->keepalive_sent)
        return t->last_heard + (t->reader_waits ? t->cfg.keepalive_idle : t->cfg.keepalive_quiet);
    /* Unanswered ones back off: 1, 2, 4, then every 8 s (the interval
     * doubled per unanswered one, up to 16 times it): a dead peer then
     * costs about 15 keepalives over the 100 s user timeout, not one
     * every 500 ms. */
    unsigned shift = MIN(t->unanswered_keepalives, KEEPALIVE_BACKOFF_MAX);
    return t->keepalive_sent + (t->cfg.keepalive_interval << shift);
}

/* An old sequence number (snd_nxt - 1): the peer must answer with an ACK. */
static void on_keepalive(struct tcb *t, stcp_usec_t now)
{
    if (peer_gone(t, ++t->unanswered_keepalives, KEEPALIVE_TRIES, now)) {
        reset_peer(t, now);
        tcp_abort(t, ETIMEDOUT);
        return;
    }
    /* The first keepalive since we heard asks the peer to answer: the
     * user timeout counts from it.  Before it the connection was idle --
     * say a request ACKed long ago whose reply a loaded server has not
     * sent yet, read only now.  Counted from last_heard, the idle spell
     * plus the time the peer takes to answer had to stay under the user
     * timeout (a loaded server took up to 46 s to answer a keepalive in
     * bench/many.sh with MANY_HOLD=1); after an idle spell longer than
     * the user timeout the fourth keepalive, 1.5 s after the first,
     * ended the connection. */
    if (!t->keepalive_sent)
        t->flight_since = now;
    emit(t, t->snd_nxt - 1, 0, NULL, 0);
    t->keepalive_sent = now;
    t->stats.keepalives++;
}

/* The reordering window of a segment has passed: RACK looks again. */
static void on_reorder_timeout(struct tcb *t, stcp_usec_t now)
{
    t->rack.reo_at = STCP_NO_TIMER;
    if (rack_on(t) && rack_detect_loss(t, now) && may_enter_recovery(t))
        sack_enter_recovery(t, now);
}

/* No ACK for 2 SRTT with data in flight (RFC 8985 7.3): send one segment
 * to make the peer answer -- new data if the peer's window allows, else
 * the last segment sent -- so a lost tail is found by RACK, not by the
 * retransmission timer, which restarts. */
static void on_probe_timeout(struct tcb *t, stcp_usec_t now)
{
    t->rack.tlp_at = STCP_NO_TIMER;
    if (!rack_on(t) || t->in_recovery || t->rack.tlp_out || t->snd_una == t->snd_max)
        return;
    uint32_t peer_wnd = MIN(t->snd_wnd, t->cfg.window);
    bool fresh = may_send_data(t) && t->snd_nxt == t->snd_max && send_new_segment(t, now, peer_wnd);
    if (!fresh) {
        if (!t->sent.count)
            return; /* the log overflowed: the retransmission timer will do */
        t->rack.tlp_seq = rec_start(t, t->sent.count - 1);
        rack_resend(t, now, t->sent.count - 1);
    }
    t->rack.tlp_dsacked = false;
    t->rack.tlp_out = true;
    t->rack.tlp_rexmit = !fresh;
    t->rack.tlp_end = t->snd_max;
    t->rack.tlp_flight = t->snd_max - t->snd_una;
    t->rack.tlp_episodes = t->stats.recoveries + t->stats.timeouts;
    t->stats.tlp_probes++;
    t->rexmit_at = now + t->rto;
}

void tcp_timer(struct tcb *t, stcp_usec_t now)
{
    if (t->close_at != STCP_NO_TIMER && now >= t->close_at) {
        enter_closed(t); /* TIME_WAIT over, or an orphan's peer went quiet */
        return;
    }
    if (t->rack.reo_at != STCP_NO_TIMER && now >= t->rack.reo_at)
        on_reorder_timeout(t, now);
    if (t->rack.tlp_at != STCP_NO_TIMER && now >= t->rack.tlp_at)
        on_probe_timeout(t, now);
    if (t->rexmit_at != STCP_NO_TIMER && now >= t->rexmit_at)
        on_rexmit_timeout(t, now);
    if (t->persist_at != STCP_NO_TIMER && now >= t->persist_at)
        on_persist_timeout(t, now);
    if (t->state != TCPS_CLOSED && now >= keepalive_due(t))
        on_keepalive(t, now);
}

stcp_usec_t tcp_next_timer(const struct tcb *t)
{
    stcp_usec_t next = t->rexmit_at;
    if (t->persist_at < next)
        next = t->persist_at;
    if (t->close_at < next)
        next = t->close_at;
    if (t->rack.reo_at < next)
        next = t->rack.reo_at;
    if (t->rack.tlp_at < next)
        next = t->rack.tlp_at;
    if (keepalive_due(t) < next)
        next = keepalive_due(t);
    if (t->rexmit_now || t->ack_now)
        next = 0; /* output is owed now */
    return next;
}

/* ======================= 5. SYN cookies ==================================== */

/* The MSS values a cookie can carry, ascending; 536 (the default, no
 * option) is code 001.  Others: the smallest we use, IPv6-tunnel and
 * vnet-sized paths, PPPoE, Ethernet, and 9000-byte jumbo frames. */
static const uint16_t syncookie_mss_table[8] = {TCP_MIN_MSS, 536,  1220, 1360,
                                                1440,        1452, 1460, 8960};

unsigned syncookie_mss_code(uint32_t mss)
{
    unsigned code = 0;
    while (code + 1 < 8 && syncookie_mss_table[code + 1] <= mss)
        code++;
    return code;
}

uint16_t syncookie_mss_value(unsigned code)
{
    return syncookie_mss_table[code & 7];
}

uint32_t syncookie_counter(uint64_t unix_seconds)
{
    return (uint32_t)((unix_seconds >> 6) & 31);
}

static EVP_MD *sha1_fetched;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void sha1_fetch(void)
{
    /* No cleanup handler at exit: it would free libcrypto's state while
     * other threads of a process that is ending still hold it. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    sha1_fetched = EVP_MD_fetch(NULL, "SHA1", NULL);
}

/* SHA-1 fetched from the provider once, not looked up on every SYN. */
static const EVP_MD *sha1_method(void)
{
    pthread_once(&sha1_once, sha1_fetch);
    return sha1_fetched ? sha1_fetched : EVP_sha1();
}

/* The low 24 bits of the digest, in *hash.  Returns false if the digest
 * failed, so no caller can mistake a failure for a hash. */
static bool syncookie_hash(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t counter,
                           uint32_t client_ip, uint16_t client_port, uint32_t server_ip,
                           uint16_t server_port, uint32_t *hash)
{
    uint8_t msg[SYNCOOKIE_SECRET_LEN + 13];
    memcpy(msg, secret, SYNCOOKIE_SECRET_LEN);
    uint8_t *p = msg + SYNCOOKIE_SECRET_LEN;
    memcpy(p, &client_ip, 4);
    memcpy(p + 4, &client_port, 2);
    memcpy(p + 6, &server_ip, 4);
    memcpy(p + 10, &server_port, 2);
    p[12] = (uint8_t)counter;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(msg, sizeof msg, md, &mdlen, sha1_method(), NULL) || mdlen != 20)
        return false;
    /* The low 24 bits of the 160-bit digest: its last three bytes. */
    *hash = ((uint32_t)md[17] << 16) | ((uint32_t)md[18] << 8) | md[19];
    return true;
}

bool syncookie_make(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t counter, uint32_t mss,
                    uint32_t client_ip, uint16_t client_port, uint32_t server_ip,
                    uint16_t server_port, uint32_t *cookie)
{
    counter &= 31;
    uint32_t hash;
    if (!syncookie_hash(secret, counter, client_ip, client_port, server_ip, server_port, &hash))
        return false;
    *cookie = (counter << 27) | (syncookie_mss_code(mss) << 24) | hash;
    return true;
}

bool syncookie_check(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t cookie,
                     uint32_t now_counter, uint32_t client_ip, uint16_t client_port,
                     uint32_t server_ip, uint16_t server_port, uint16_t *mss)
{
    uint32_t counter = cookie >> 27;
    bool fresh = counter == (now_counter & 31) || counter == ((now_counter - 1) & 31);
    uint32_t hash;
    if (!fresh ||
        !syncookie_hash(secret, counter, client_ip, client_port, server_ip, server_port, &hash) ||
        (cookie & 0xffffffu) != hash)
        return false;
    if (mss)
        *mss = syncookie_mss_value((cookie >> 24) & 7);
    return true;
}

/* ======================= 6. The driver ===================================== */

struct driver {
    mysocket_t sd;
    struct tcb tcb;
    bool done;
    bool unblocked;
    enum tcp_state logged_state;
    uint64_t reported_rexmit_timeout;
    unsigned logged_keepalives; /* unanswered keepalives at the last round */
    stcp_usec_t published;      /* when stats were last published */
    struct trace *trace;        /* STCP_TRACE's file; NULL: not tracing */
    stcp_usec_t now;            /* the time given to the core's current call */
};

/* A connection made from a SYN cookie: what transport_listen_input learnt,
 * handed to the new connection's transport_init through its context. */
struct cookie_handoff {
    uint32_t magic;
    uint32_t iss, irs;
    uint16_t peer_window;
    uint16_t peer_mss; /* the MSS the cookie carried */
};
#define COOKIE_HANDOFF_MAGIC 0x5c00c1e5u

static stcp_usec_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (stcp_usec_t)ts.tv_sec * STCP_SEC + (stcp_usec_t)ts.tv_nsec / 1000;
}

/* The core's deadlines are on CLOCK_MONOTONIC, as stcp_wait_for_event_mono
 * takes them: one clock, no conversion. */
static struct timespec deadline_timespec(stcp_usec_t deadline)
{
    struct timespec ts = {(time_t)(deadline / STCP_SEC), (long)(deadline % STCP_SEC) * 1000};
    return ts;
}

static void flags_str(uint8_t f, char *buf)
{
    char *p = buf;
    if (f & TH_SYN)
        *p++ = 'S';
    if (f & TH_FIN)
        *p++ = 'F';
    if (f & TH_RST)
        *p++ = 'R';
    if (f & TH_ACK)
        *p++ = '.';
    *p = '\0';
}

static void log_segment(mysocket_t sd, const char *dir, const STCPHeader *h, size_t len)
{
    if (!stcp_log_enabled(STCP_LOG_TRACE))
        return;
    char f[8];
    flags_str(h->th_flags, f);
    stcp_log(sd, STCP_LOG_TRACE, "%s [%s] seq=%u ack=%u win=%u len=%zu", dir, f, ntohl(h->th_seq),
             ntohl(h->th_ack), ntohs(h->th_win), len);
}

/* ---- The congestion trace (STCP_TRACE, see README) ----
 * One text line per event worth plotting: an ACK that moved snd_una, a
 * duplicate ACK that changed cwnd, a congestion event, the start and the
 * end.  Lines go through a fixed stdio buffer, so a trace costs the same
 * memory however long the connection, and the file is written in large
 * blocks; it is flushed when the connection ends.  The core knows nothing
 * of it: it only calls the env hooks, which are NULL when not tracing. */

#define TRACE_BUFFER (64 * 1024)

struct trace {
    FILE *file;
    stcp_usec_t start;  /* the connection's time zero (transport_init) */
    uint32_t cwnd;      /* as last written: a change without an ACK of */
    uint32_t snd_una;   /* new data (fast recovery's inflation) gets a line */
    char pattern[1024]; /* STCP_TRACE when the connection began */
    char buf[TRACE_BUFFER];
};

static atomic_uint trace_connections; /* %c: connections of this process */

/* The file name: the pattern with %p the process id, %c the connection's
 * number in this process (1, 2, ...) and %% a percent sign. */
static void trace_path(const char *pattern, char *path, size_t size)
{
    unsigned conn = atomic_fetch_add(&trace_connections, 1) + 1;
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < size; p++) {
        int w = 0;
        if (p[0] == '%' && p[1] == 'p')
            w = snprintf(path + n, size - n, "%ld", (long)getpid());
        else if (p[0] == '%' && p[1] == 'c')
            w = snprintf(path + n, size - n, "%u", conn);
        else if (p[0] == '%' && p[1] == '%')
            w = snprintf(path + n, size - n, "%%");
        else
            path[n++] = *p;
        if (w) {
            n = MIN(n + (size_t)w, size - 1);
            p++;
        }
    }
    path[n] = '\0';
}

/* Tracing is asked for: a struct trace to open at ESTABLISHED, or NULL. */
static struct trace *trace_new(stcp_usec_t now)
{
    const char *pattern = getenv("STCP_TRACE");
    if (!pattern || !*pattern)
        return NULL;
    struct trace *tr = calloc(1, sizeof *tr);
    if (tr) {
        tr->start = now;
        snprintf(tr->pattern, sizeof tr->pattern, "%s", pattern);
    }
    return tr;
}

static void trace_line(struct driver *d, stcp_usec_t now, stcp_usec_t rtt, const char *what)
{
    struct trace *tr = d->trace;
    const struct tcb *t = &d->tcb;
    if (!tr || !tr->file)
        return;
    long ssthresh = t->cc.ssthresh == UINT32_MAX ? -1 : (long)t->cc.ssthresh;
    fprintf(tr->file, "%.6f %u %ld %u %.3f %.3f %u %s\n", (double)(now - tr->start) / STCP_SEC,
            t->cc.cwnd, ssthresh, t->snd_max - t->snd_una, (double)t->srtt / STCP_MSEC,
            (double)rtt / STCP_MSEC, t->snd_wnd, what);
    tr->cwnd = t->cc.cwnd;
    tr->snd_una = t->snd_una;
}

/* The connection is established: open the file and write its header. */
static void trace_open(struct driver *d, stcp_usec_t now)
{
    struct trace *tr = d->trace;
    if (!tr || tr->file)
        return;
    char path[4096];
    trace_path(tr->pattern, path, sizeof path);
    tr->file = fopen(path, "w");
    if (!tr->file) {
        stcp_log(d->sd, STCP_LOG_INFO, "STCP_TRACE: %s: %s", path, strerror(errno));
        free(tr);
        d->trace = NULL;
        return;
    }
    setvbuf(tr->file, tr->buf, _IOFBF, sizeof tr->buf);
    struct sockaddr_in local, peer;
    stcp_get_addresses(d->sd, &local, &peer);
    char la[INET_ADDRSTRLEN], pa[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &local.sin_addr, la, sizeof la);
    inet_ntop(AF_INET, &peer.sin_addr, pa, sizeof pa);
    fprintf(tr->file, "# stcp trace 1: %s:%u -> %s:%u, cc %s, mss %u, window %u\n", la,
            ntohs(local.sin_port), pa, ntohs(peer.sin_port), d->tcb.cc.algo->name, d->tcb.cc.mss,
            d->tcb.cfg.window);
    fprintf(tr->file, "# time_s cwnd ssthresh flight srtt_ms rtt_ms snd_wnd event\n");
    trace_line(d, now, 0, "start");
}

/* After a segment: fast recovery may have changed cwnd without moving snd_una. */
static void trace_after_input(struct driver *d, stcp_usec_t now)
{
    const struct trace *tr = d->trace;
    if (tr && tr->file && tr->cwnd != d->tcb.cc.cwnd && tr->snd_una == d->tcb.snd_una)
        trace_line(d, now, 0, "dupack");
}

/* Our side is done (our FIN acknowledged, or the connection failed or
 * closed): the last line, and the file is complete before the
 * application, unblocked next, can exit. */
static void trace_close(struct driver *d, stcp_usec_t now)
{
    struct trace *tr = d->trace;
    if (!tr)
        return;
    if (tr->file) {
        trace_line(d, now, 0, "end");
        const struct tcp_stats *st = &d->tcb.stats;
        fprintf(tr->file,
                "# recoveries %llu timeouts %llu spurious_timeouts %llu; RACK lost %llu (resends "
                "%llu); probes %llu; SACK resends %llu, reneged %llu\n",
                (unsigned long long)st->recoveries, (unsigned long long)st->timeouts,
                (unsigned long long)st->spurious_rto, (unsigned long long)st->rack_lost,
                (unsigned long long)st->rack_lost_rexmit, (unsigned long long)st->tlp_probes,
                (unsigned long long)st->rexmit_sack, (unsigned long long)st->sack_reneged);
        if (fclose(tr->file) != 0)
            stcp_log(d->sd, STCP_LOG_INFO, "STCP_TRACE: %s", strerror(errno));
    }
    free(tr);
    d->trace = NULL;
}

static void drv_acked(void *ctx, stcp_usec_t now, stcp_usec_t rtt)
{
    trace_line(ctx, now, rtt, "ack");
}

static void publish_stats(struct driver *d)
{
    const struct tcb *t = &d->tcb;
    const struct tcp_stats *st = &t->stats;
    struct mystats m;
    memset(&m, 0, sizeof m);
    m.bytes_sent = st->bytes_out;
    m.bytes_received = st->bytes_in;
    m.rexmit_timeout = st->rexmit_timeout;
    m.rexmit_other = st->rexmit_fast;
    m.rexmit_bytes = st->rexmit_bytes;
    m.dup_received = st->dup_segs_in;
    m.ooo_received = st->ooo_segs_in;
    m.dupacks_received = st->dupacks_in;
    m.window_probes = st->window_probes;
    m.dropped_transport = st->dropped_in;
    m.acks_throttled = st->acks_throttled;
    m.rsts_sent = st->rsts_out;
    m.rsts_received = st->rsts_in;
    m.srtt_us = (uint32_t)t->srtt;
    m.rttvar_us = (uint32_t)t->rttvar;
    m.rto_us = (uint32_t)t->rto;
    m.snd_wnd = t->snd_wnd;
    m.rcv_wnd = t->rcv_wnd;
    m.in_flight = t->snd_max - t->snd_una;
    snprintf(m.state, sizeof m.state, "%s", tcp_state_name(t->state));
    m.cc_recoveries = st->recoveries;
    m.cc_timeouts = st->timeouts;
    m.cwnd = t->cc.cwnd;
    m.ssthresh = t->cc.ssthresh;
    snprintf(m.cc, sizeof m.cc, "%s", t->cc.algo->name);
    /* Negotiated once our SYN is acknowledged (and still so once CLOSED). */
    m.sack = t->syn_acked && t->sack_ok;
    m.wscale = t->syn_acked && t->wscale_ok;
    m.snd_wscale = m.wscale ? t->snd_wscale : 0;
    m.rcv_wscale = m.wscale ? t->rcv_wscale : 0;
    m.sack_blocks_sent = st->sack_blocks_out;
    m.sack_blocks_received = st->sack_blocks_in;
    m.rexmit_sack = st->rexmit_sack;
    m.bytes_in_place = st->bytes_in_place;
    stcp_report_stats(d->sd, &m);
}

static void drv_output(void *ctx, const STCPHeader *hdr, const void *payload, size_t len)
{
    struct driver *d = ctx;
    log_segment(d->sd, "out", hdr, len);
    if (len)
        stcp_network_send(d->sd, hdr, TCP_DATA_START(hdr), payload, len, NULL);
    else
        stcp_network_send(d->sd, hdr, TCP_DATA_START(hdr), NULL);
}

static void drv_output2(void *ctx, const STCPHeader *hdr, const void *p1, size_t len1,
                        const void *p2, size_t len2)
{
    struct driver *d = ctx;
    log_segment(d->sd, "out", hdr, len1 + len2);
    stcp_network_send(d->sd, hdr, TCP_DATA_START(hdr), p1, len1, p2, len2, NULL);
}

static void drv_deliver(void *ctx, const void *data, size_t len)
{
    struct driver *d = ctx;
    stcp_app_send(d->sd, data, len);
}

static void drv_deliver_in_place(void *ctx, size_t len)
{
    struct driver *d = ctx;
    stcp_app_commit(d->sd, len);
}

static size_t drv_app_space(void *ctx)
{
    struct driver *d = ctx;
    return stcp_app_space(d->sd);
}

static void drv_event(void *ctx, enum tcp_event ev, int err)
{
    struct driver *d = ctx;
    switch (ev) {
    case TCP_EV_ESTABLISHED:
        trace_open(d, d->now);
        d->unblocked = true;
        errno = 0;
        stcp_unblock_application(d->sd);
        break;
    case TCP_EV_PEER_FIN:
        publish_stats(d); /* before the reader can see the end of the data */
        stcp_fin_received(d->sd);
        break;
    case TCP_EV_CLOSE_DONE:
        trace_close(d, d->now); /* the application may exit once unblocked */
        publish_stats(d);
        stcp_unblock_close(d->sd, err);
        break;
    case TCP_EV_ERROR:
        trace_close(d, d->now);
        publish_stats(d);
        /* Which give-up it was: the tries of each timer and how long the
         * peer had been silent. */
        stcp_log(d->sd, STCP_LOG_INFO,
                 "connection failed: %s in %s (tries: %u resends, %u probes, %u keepalives; "
                 "silent %llu ms)",
                 strerror(err), tcp_state_name(d->logged_state), d->tcb.backoff,
                 d->tcb.unanswered_probes, d->tcb.unanswered_keepalives,
                 (unsigned long long)((d->now - d->tcb.last_heard) / STCP_MSEC));
        stcp_set_error(d->sd, err);
        if (!d->unblocked) {
            d->unblocked = true;
            errno = err;
            stcp_unblock_application(d->sd);
        }
        break;
    case TCP_EV_CLOSED:
        d->done = true;
        publish_stats(d); /* the final figures */
        break;
    }
}

static void drv_cc_event(void *ctx, enum tcp_cc_event ev)
{
    static const char *what[] = {"fast recovery", "timeout", "recovered"};
    static const char *what_short[] = {"recovery", "timeout", "recovered"};
    struct driver *d = ctx;
    const struct tcb *t = &d->tcb;
    stcp_log(d->sd, STCP_LOG_DEBUG, "%s %s: cwnd %u ssthresh %u, flight %u, snd_una %u recover %u",
             t->cc.algo->name, what[ev], t->cc.cwnd, t->cc.ssthresh, t->snd_max - t->snd_una,
             t->snd_una, t->recover);
    if (d->trace)
        trace_line(d, d->now, 0, what_short[ev]);
}

/* The events the connection can use now. */
static unsigned wanted_events(const struct driver *d)
{
    const struct tcb *t = &d->tcb;
    unsigned flags = NETWORK_DATA;
    if (tcp_send_space(t))
        flags |= APP_DATA;
    if (!t->fin_queued)
        flags |= APP_CLOSE_REQUESTED;
    if (!t->app_closed)
        flags |= APP_CLOSED;
    if (t->rcv_wnd < rcv_window_limit(t) && t->state != TCPS_SYN_SENT)
        flags |= APP_READ; /* the reader is behind: watch for the window opening */
    return flags;
}

/* The application closed the socket.  With received data unread, abort,
 * as Linux does, so the peer learns its data was not taken. */
static void app_closed(struct driver *d, stcp_usec_t now)
{
    if (stcp_app_discarded(d->sd))
        tcp_user_abort(&d->tcb, now);
    else
        tcp_close(&d->tcb, now);
}

static void drv_send_release(void *ctx, size_t len)
{
    struct driver *d = ctx;
    stcp_app_release(d->sd, len);
}

/* The application's bytes become the send buffer's where mywrite put them:
 * the core sends them out of the send queue itself (stcp_app_take), which
 * it borrows at the first bytes. */
static void take_app_data(struct driver *d)
{
    struct tcb *t = &d->tcb;
    struct stcp_app_ring ring;
    size_t n = stcp_app_take(d->sd, tcp_send_space(t), &ring);
    if (!n)
        return;
    if (!t->sndbuf.release && tcp_send_lend(t, ring.data, (uint32_t)ring.cap, (uint32_t)ring.head,
                                            drv_send_release, d) < 0) {
        stcp_log(d->sd, STCP_LOG_ERROR, "send buffer: %s", strerror(errno));
        tcp_abort(t, ENOMEM);
        return;
    }
    tcp_write_lent(t, n);
}

static void handle_events(struct driver *d, unsigned ev)
{
    struct tcb *t = &d->tcb;
    stcp_usec_t now = d->now = now_usec();
    if (ev & NETWORK_DATA) {
        /* Where it was received: no copy, and an in-order payload is
         * handed up where it lies in the receive queue. */
        struct stcp_rx_segment rx;
        ssize_t n = stcp_network_peek_split(d->sd, &rx);
        if (n >= 0) {
            log_segment(d->sd, "in ", rx.hdr, (size_t)n);
            tcp_input_split(t, now, rx.hdr, rx.hdr_len, rx.payload, rx.payload_len,
                            rx.in_queue != 0);
            stcp_network_done(d->sd);
            trace_after_input(d, now);
        } else {
            stcp_log(d->sd, STCP_LOG_INFO, "path error: %s", strerror(errno));
            tcp_peer_unreachable(t);
        }
    }
    if (ev & APP_DATA)
        take_app_data(d);
    /* A myclose arrives as APP_CLOSE_REQUESTED with stcp_app_closed() true;
     * a half-close (myshutdown SHUT_WR) with it false, and a later myclose
     * as APP_CLOSED.  Only a full close orphans the connection. */
    if ((ev & APP_CLOSE_REQUESTED) && !stcp_app_closed(d->sd))
        tcp_shutdown(t, now);
    else if (ev & (APP_CLOSE_REQUESTED | APP_CLOSED))
        app_closed(d, now);
    if (ev & APP_READ)
        tcp_app_read(t, now);
}

#define STATS_INTERVAL (10 * STCP_MSEC)

/* How close a keepalive series came to the give-up: one that starts after
 * more silence than the user timeout (an idle spell), and one the peer
 * answered only after several (a loaded peer), are logged. */
static void report_keepalives(struct driver *d, stcp_usec_t now)
{
    const struct tcb *t = &d->tcb;
    unsigned n = t->unanswered_keepalives;
    if (n == d->logged_keepalives)
        return;
    if (n == 1 && now - t->last_heard >= t->cfg.abort_silence)
        stcp_log(d->sd, STCP_LOG_INFO, "keepalive after %llu ms of silence",
                 (unsigned long long)((now - t->last_heard) / STCP_MSEC));
    else if (n == 0 && d->logged_keepalives > 1)
        stcp_log(d->sd, STCP_LOG_INFO, "keepalive answered after %u unanswered",
                 d->logged_keepalives);
    d->logged_keepalives = n;
}

/* After each round of work: log state changes and timeouts, and publish
 * statistics now and then (and at every state change). */
static void report_progress(struct driver *d, stcp_usec_t now)
{
    struct tcb *t = &d->tcb;
    bool changed = t->state != d->logged_state;
    if (changed) {
        stcp_log(d->sd, STCP_LOG_INFO, "%s -> %s", tcp_state_name(d->logged_state),
                 tcp_state_name(t->state));
        d->logged_state = t->state;
    }
    if (d->reported_rexmit_timeout < t->stats.rexmit_timeout) {
        stcp_log(d->sd, STCP_LOG_DEBUG,
                 "timeout: resend seq %u; rto %llu us (srtt %llu, rttvar %llu), %u in a row",
                 t->snd_una, (unsigned long long)t->rto, (unsigned long long)t->srtt,
                 (unsigned long long)t->rttvar, t->backoff);
        d->reported_rexmit_timeout = t->stats.rexmit_timeout;
    }
    report_keepalives(d, now);
    if (changed || now - d->published >= STATS_INTERVAL) {
        publish_stats(d);
        d->published = now;
    }
}

/* Handle events until the connection is over.  Events that are already
 * pending are drained in a batch before output, so one ACK answers a burst
 * of segments and queued application data goes out in full segments. */
#define EVENT_BATCH 16

static void control_loop(struct driver *d)
{
    struct tcb *t = &d->tcb;
    static const struct timespec past = {0, 0};
    for (;;) {
        stcp_usec_t now = d->now = now_usec();
        t->reader_waits = stcp_app_reader_waiting(d->sd, t->cfg.keepalive_idle / STCP_MSEC) > 0;
        /* What timers and output send in one round goes out in one system
         * call.  Not across input: an ACK there may hand send-queue bytes
         * back to mywrite while a held segment still points at them. */
        stcp_network_cork(d->sd, 1);
        tcp_timer(t, now);
        if (!d->done)
            tcp_output(t, now);
        stcp_network_cork(d->sd, 0);
        report_progress(d, now);
        if (d->done)
            break;
        stcp_usec_t deadline = tcp_next_timer(t);
        struct timespec abs = deadline_timespec(deadline);
        unsigned ev = stcp_wait_for_event_mono(d->sd, wanted_events(d),
                                               deadline == STCP_NO_TIMER ? NULL : &abs);
        for (int i = 0; ev && !d->done; i++) {
            handle_events(d, ev);
            if (i + 1 == EVENT_BATCH)
                break;
            ev = stcp_wait_for_event_mono(d->sd, wanted_events(d), &past);
        }
    }
}

static uint32_t random_isn(void)
{
    uint32_t isn = 0;
    if (getrandom(&isn, sizeof isn, 0) != (ssize_t)sizeof isn)
        isn = (uint32_t)now_usec() * 2654435761u;
    return isn;
}

/* An on/off switch from the environment: on unless set to "0" (the
 * switches exist to turn a mechanism off for comparisons). */
static bool env_switch_on(const char *name)
{
    const char *v = getenv(name);
    return !(v && strcmp(v, "0") == 0);
}

/* A time in microseconds from the environment, if set. */
static void env_usec(const char *name, stcp_usec_t *value)
{
    const char *v = getenv(name);
    if (v && *v)
        *value = strtoull(v, NULL, 10);
}

/* The transport's experiment knobs (README, "Environment"). */
static void config_from_env(struct tcp_config *cfg)
{
    env_usec("STCP_RTO_MIN_US", &cfg->rto_min);
    env_usec("STCP_RTO_MAX_US", &cfg->rto_max);
    env_usec("STCP_RTO_INIT_US", &cfg->rto_initial);
    cfg->sack = env_switch_on("STCP_SACK"); /* 0: not offered */
    cfg->wscale = env_switch_on("STCP_WSCALE");
    cfg->rack = env_switch_on("STCP_RACK");
    cfg->frto = env_switch_on("STCP_FRTO");
    cfg->thin_linear = env_switch_on("STCP_THIN_LINEAR");
    cfg->rto_restart = env_switch_on("STCP_RTOR");
    cfg->hystart = env_switch_on("STCP_HYSTART");
}

/* The give-up time (the user timeout, RFC 9293 3.9): MYSO_USER_TIMEOUT,
 * else STCP_USER_TIMEOUT_MS, else RFC 1122's (tcp_config_default).  A
 * configured one applies to the SYN as well, as Linux's TCP_USER_TIMEOUT. */
static void user_timeout(mysocket_t sd, struct tcp_config *cfg)
{
    long ms = stcp_get_option(sd, MYSO_USER_TIMEOUT);
    const char *env = getenv("STCP_USER_TIMEOUT_MS");
    if (ms <= 0 && env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno || *end || v < 1 || v > MYSO_USER_TIMEOUT_MAX)
            stcp_log(sd, STCP_LOG_WARN, "STCP_USER_TIMEOUT_MS=%s ignored: not 1..%ld ms", env,
                     MYSO_USER_TIMEOUT_MAX);
        else
            ms = v;
    }
    if (ms > 0)
        cfg->abort_silence = cfg->abort_silence_syn = (stcp_usec_t)ms * STCP_MSEC;
}

void transport_init(mysocket_t sd, bool_t is_active)
{
    struct driver *d = calloc(1, sizeof *d);
    struct cookie_handoff *cookie = stcp_get_context(sd);
    if (cookie && cookie->magic != COOKIE_HANDOFF_MAGIC)
        cookie = NULL;
    struct tcp_config cfg;
    tcp_config_default(&cfg);
    config_from_env(&cfg);
    user_timeout(sd, &cfg);
    long window = stcp_get_option(sd, MYSO_WINDOW);
    if (window > 0)
        cfg.window = (uint32_t)window;
    long mss = stcp_get_option(sd, MYSO_MSS);
    if (mss >= TCP_MIN_MSS && mss <= TCP_MAX_MSS)
        cfg.mss = (uint32_t)mss;
    char cc_name[CC_NAME_MAX];
    stcp_get_cc(sd, cc_name, sizeof cc_name);
    cfg.cc = cc_find(cc_name);
    if (!cfg.cc)
        cfg.cc = cc_find(CC_DEFAULT);
    struct tcp_env env = {.ctx = d,
                          .output = drv_output,
                          .deliver = drv_deliver,
                          .app_space = drv_app_space,
                          .event = drv_event,
                          .cc_event = drv_cc_event,
                          .output2 = drv_output2,
                          .deliver_in_place = drv_deliver_in_place};
    if (d) {
        d->trace = trace_new(now_usec());
        if (d->trace)
            env.acked = drv_acked; /* untraced, the core has no call to make */
    }
    if (!d || tcp_init(&d->tcb, &cfg, &env) < 0) {
        if (d)
            free(d->trace);
        free(d);
        free(cookie);
        errno = ENOMEM;
        stcp_unblock_application(sd);
        return;
    }
    d->sd = sd;
    stcp_set_context(sd, d);
    long isn_opt = stcp_get_option(sd, MYSO_ISN);
    uint32_t iss = isn_opt >= 0 ? (uint32_t)isn_opt : random_isn();
    d->now = now_usec();
    if (cookie) {
        tcp_open_established(&d->tcb, d->now, cookie->iss, cookie->irs, cookie->peer_window,
                             SYNCOOKIE_WINDOW, cookie->peer_mss);
        free(cookie);
    } else if (is_active) {
        tcp_connect(&d->tcb, d->now, iss);
    } else {
        tcp_listen(&d->tcb, iss);
    }
    d->logged_state = is_active ? TCPS_CLOSED : TCPS_LISTEN;
    report_progress(d, now_usec());
    control_loop(d);
    const struct tcp_stats *st = &d->tcb.stats;
    stcp_log(sd, STCP_LOG_DEBUG,
             "done: segs in %llu out %llu, bytes in %llu out %llu, resent %llu on timeout "
             "%llu fast (%llu bytes), dup in %llu, out of order %llu, dupacks %llu, probes %llu, "
             "rst in %llu out %llu; %s: cwnd %u ssthresh %u, %llu recoveries, %llu timeouts",
             (unsigned long long)st->segs_in, (unsigned long long)st->segs_out,
             (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
             (unsigned long long)st->rexmit_timeout, (unsigned long long)st->rexmit_fast,
             (unsigned long long)st->rexmit_bytes, (unsigned long long)st->dup_segs_in,
             (unsigned long long)st->ooo_segs_in, (unsigned long long)st->dupacks_in,
             (unsigned long long)st->window_probes, (unsigned long long)st->rsts_in,
             (unsigned long long)st->rsts_out, d->tcb.cc.algo->name, d->tcb.cc.cwnd,
             d->tcb.cc.ssthresh, (unsigned long long)st->recoveries,
             (unsigned long long)st->timeouts);
    trace_close(d, now_usec());
    stcp_set_context(sd, NULL);
    tcp_free(&d->tcb);
    free(d);
}

/* The framework's check of MYSO_CC and STCP_CC names. */
int transport_cc_valid(const char *name)
{
    return cc_find(name) != NULL;
}

/* ---- The listener's hook: SYN cookies, when the socket asks for them ---- */

static uint8_t cookie_secret[SYNCOOKIE_SECRET_LEN];
static pthread_once_t cookie_secret_once = PTHREAD_ONCE_INIT;

static void cookie_secret_init(void)
{
    /* Once per process, from the OS random source. */
    if (getrandom(cookie_secret, sizeof cookie_secret, 0) != (ssize_t)sizeof cookie_secret) {
        uint64_t t = now_usec();
        memcpy(cookie_secret, &t, sizeof t);
    }
}

/* The listener's RSTs: one ration for the whole process (listeners run
 * in their own threads), so garbage cannot make us an amplifier. */
static pthread_mutex_t listen_rst_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned listen_rst_tokens;
static stcp_usec_t listen_rst_refill_at;

static bool listen_rst_allowed(void)
{
    pthread_mutex_lock(&listen_rst_lock);
    bool ok =
        take_token(&listen_rst_tokens, &listen_rst_refill_at, now_usec(), RST_BURST, RST_INTERVAL);
    pthread_mutex_unlock(&listen_rst_lock);
    return ok;
}

/* A segment for no connection of the listener (RFC 9293 3.10.7.1): with
 * an ACK, <SEQ=SEG.ACK><CTL=RST>; without, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
 * <CTL=RST,ACK>.  A RST is never answered. */
static void listen_send_reset(mysocket_t lsd, const struct tcp_segment *seg,
                              const struct sockaddr_in *local, const struct sockaddr_in *peer)
{
    if ((seg->flags & TH_RST) || !listen_rst_allowed())
        return;
    uint8_t hdr[TCP_HDR_MAX];
    size_t n = (seg->flags & TH_ACK)
                   ? build_header(hdr, seg->ack, 0, TH_RST, 0, NULL)
                   : build_header(hdr, 0, seg->seq + tcp_seg_space(seg), TH_RST | TH_ACK, 0, NULL);
    stcp_listen_reply(lsd, local, peer, hdr, n);
}

static void cookie_send_synack(mysocket_t lsd, const struct tcp_segment *syn, uint32_t cookie,
                               uint16_t our_mss, const struct sockaddr_in *local,
                               const struct sockaddr_in *peer)
{
    /* The MSS option only: a cookie cannot remember window scaling or
     * SACK, so this SYN-ACK offers neither and the connection runs
     * without them (RFC 7323 2.2, RFC 2018 2). */
    struct hdr_options o = {.mss = our_mss, .wscale = -1};
    uint8_t hdr[TCP_HDR_MAX];
    size_t n = build_header(hdr, cookie, syn->seq + 1, TH_SYN | TH_ACK, SYNCOOKIE_WINDOW, &o);
    stcp_listen_reply(lsd, local, peer, hdr, n);
}

/* Our MSS limit on a listening socket, as transport_init takes it. */
static uint32_t listen_mss(mysocket_t lsd)
{
    long mss = stcp_get_option(lsd, MYSO_MSS);
    return mss >= TCP_MIN_MSS && mss <= TCP_MAX_MSS ? (uint32_t)mss : STCP_MSS;
}

void transport_listen_start(mysocket_t listen_sd)
{
    if (stcp_get_option(listen_sd, MYSO_SYNCOOKIES) != 1)
        return;
    /* Pay libcrypto's one-time set-up now, not on the first SYN. */
    pthread_once(&cookie_secret_once, cookie_secret_init);
    uint32_t zero = 0;
    uint32_t hash;
    (void)syncookie_hash(cookie_secret, 0, zero, 0, zero, 0, &hash);
}

int transport_listen_input(mysocket_t listen_sd, const void *segment, size_t len,
                           const struct sockaddr_in *local, const struct sockaddr_in *peer)
{
    if (stcp_get_option(listen_sd, MYSO_SYNCOOKIES) != 1)
        return 0; /* the framework's default: a SYN opens a connection */
    pthread_once(&cookie_secret_once, cookie_secret_init);
    struct tcp_segment seg;
    if (tcp_parse(segment, len, &seg) < 0)
        return -1;
    uint32_t counter = syncookie_counter((uint64_t)time(NULL));
    uint32_t cip = peer->sin_addr.s_addr, sip = local->sin_addr.s_addr;
    uint32_t our_mss = listen_mss(listen_sd);
    if ((seg.flags & (TH_SYN | TH_ACK | TH_FIN | TH_RST)) == TH_SYN) {
        /* Answer with the cookie as our ISN, and keep nothing: the cookie
         * remembers the send MSS, the SYN-ACK announces ours. */
        uint32_t mss = effective_mss_of(seg.mss, our_mss);
        uint32_t cookie;
        if (!syncookie_make(cookie_secret, counter, mss, cip, peer->sin_port, sip, local->sin_port,
                            &cookie))
            return -1; /* no digest, no cookie */
        cookie_send_synack(listen_sd, &seg, cookie, (uint16_t)our_mss, local, peer);
        return 1;
    }
    /* The handshake's final ACK, or the client's first byte (or FIN)
     * carrying the same acknowledgement: ack - 1 must be a valid cookie.
     * Anything else is for no connection, and gets a RST. */
    uint32_t cookie = seg.ack - 1;
    uint16_t mss = 0;
    if ((seg.flags & (TH_SYN | TH_ACK | TH_RST)) != TH_ACK ||
        !syncookie_check(cookie_secret, cookie, counter, cip, peer->sin_port, sip, local->sin_port,
                         &mss)) {
        listen_send_reset(listen_sd, &seg, local, peer);
        return -1;
    }
    struct cookie_handoff *h = malloc(sizeof *h);
    if (!h)
        return -1;
    *h = (struct cookie_handoff){COOKIE_HANDOFF_MAGIC, cookie, seg.seq - 1, seg.win, mss};
    if (stcp_listen_open(listen_sd, local, peer, h, segment, len) < 0) {
        free(h); /* backlog full: the client will send it again */
        return -1;
    }
    return 1;
}
