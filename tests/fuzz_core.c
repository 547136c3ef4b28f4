/* fuzz_core.c -- libFuzzer target: arbitrary segment sequences into the
 * transport's protocol core, in every state.
 *
 * The input is a script.
 *
 *   [start][window][rcvbuf][ISS][IRS][peer window]([cookie window])  then ops
 *
 * start % 7 is how the connection opens: SYN_SENT, LISTEN, SYN_RECEIVED
 * (passive), SYN_RECEIVED (simultaneous open), ESTABLISHED by an active or
 * a passive handshake, or ESTABLISHED by a SYN cookie (tcp_open_established);
 * (start / 7) % 7 then optionally closes an established one into
 * FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, LAST_ACK, CLOSING or TIME_WAIT.  The
 * window is one of a list (1, 2, 536, 3072, 65535, ...) or any; ISS and IRS
 * are any value, or close to 0, 2^31 or 2^32.  Each op is a byte (low four
 * bits) and its arguments:
 *
 *   segment  flags (bit 6: part of a batch, no output after it; bit 7: a
 *            th_off/length variant follows), seq and ack modes (mostly
 *            relative to rcv_nxt, rcv_adv, snd_una, snd_nxt; or raw), window,
 *            payload length (0..600)
 *   write    N bytes (tcp_write)        read     N bytes, or all (tcp_app_read)
 *   close    (tcp_close, tcp_shutdown)  advance  time, or up to the next timer,
 *   raw      header bytes as given               then tcp_timer + tcp_output
 *   special  peer unreachable, abort, read all, abort by the application
 *            (tcp_user_abort)
 *
 * Our MSS limit, and the MSS option on the peer's SYN (or none), come from
 * the setup's bytes; a segment's options can be scripted byte by byte (the
 * variant's fill byte, bit 5), so the option parser sees anything, and the
 * six flag bits include RST.
 *
 * Every payload byte the peer sends at sequence number s is peer_byte(s),
 * and every byte the application writes at stream offset k is app_byte(k),
 * so the checks can verify, byte by byte, that what the core delivers and
 * emits is exactly the right part of the right stream: reassembly, trimming
 * and retransmission never shuffle, invent or lose bytes.
 *
 * Checked in the callbacks: segments carry at most the effective send MSS
 * (itself between 64 and our limit), offer at most the configured window,
 * never move the window's right edge back, carry only SYN/ACK/FIN or are a
 * RST; SYNs carry exactly our MSS option; a RST is never an answer to a
 * RST, and is either <SEQ=SEG.ACK><CTL=RST> of the segment being answered
 * or <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (an abort) with no payload
 * and window 0; and SYN, data, FIN and bare ACKs sit where the
 * sequence space says (data: the application's bytes, from snd_una on, new
 * data inside the peer's window or a 1-byte probe; FIN: right after the
 * last byte written, only after a close); deliveries fit in the space the
 * application reported and are the peer's bytes in order; events come at
 * most once each, in a consistent state, and nothing at all comes after
 * TCP_EV_CLOSED.  Checked after every op: the state is valid and reached by
 * allowed transitions; snd_una <= snd_nxt <= snd_max; at most window + 2 in flight;
 * acknowledged + buffered == written; rcv_nxt == IRS + 1 + delivered (+1
 * after the peer's FIN); reassembly runs ordered, disjoint and inside the
 * ring; the offered window fits the application's free space; and after
 * tcp_timer + tcp_output nothing is due before the next timer.
 *
 * A violation prints what and where, then abort()s, which libFuzzer reports
 * as a crash.  Ops keep running after TCP_EV_CLOSED, to check that nothing
 * more comes out of the core.  The TCB is freed after each input, so
 * LeakSanitizer watches the core's allocations.
 *
 * Build and run: tests/fuzz.sh (make fuzz).  Reproduce: build/fuzz/fuzz_core
 * FILE; with FUZZ_CORE_TRACE=1 each op, segment and state is printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS     1000
#define MAX_PAYLOAD 1600 /* payload bytes of a peer segment (more than our MSS) */
#define MAX_FINS    64   /* FIN positions the peer used, remembered */
#define MAX_WRITE   70000

/* ---------------------------------------------------------------- State */

struct fz {
    struct tcb tcb;
    bool live; /* tcb initialised (tcp_free owed) */
    stcp_usec_t now;
    uint32_t window;     /* configured window */
    size_t rcvbuf;       /* the application's receive queue ... */
    size_t unread;       /* ... and what it holds */
    uint32_t irs_pick;   /* the peer's ISN, as scripted */
    uint32_t peer_next;  /* sequence number after the furthest the peer sent */
    uint64_t written;    /* bytes tcp_write took: stream offsets [0, written) */
    uint64_t ndelivered; /* bytes delivered, in order */
    bool app_closed;     /* tcp_close or tcp_shutdown was called */
    bool synced;         /* the TCB has been synchronized (irs is fixed) */
    enum tcp_state last_state;
    /* events seen */
    unsigned established, peer_fin, close_done, errors, closed;
    /* FIN positions (sequence numbers) in the segments the peer sent */
    uint32_t fins[MAX_FINS];
    unsigned nfins;
    bool fins_overflow;
    bool have_edge;    /* a segment with ACK went out ... */
    uint32_t edge;     /* ... offering the peer up to here (ack + window) */
    uint32_t max_edge; /* the furthest edge offered so far */
    unsigned nops;
    const char *op;               /* what is being done, for messages */
    uint32_t our_mss;             /* cfg.mss */
    bool in_segment;              /* tcp_input is running on ... */
    bool in_rst;                  /* ... a segment with RST set ... */
    uint32_t in_ack;              /* ... and this ACK field */
    unsigned rsts_out;            /* RSTs seen leaving */
    const uint8_t *split_payload; /* tcp_input_split in place: its payload */
};

static struct fz F;

/* FUZZ_CORE_TRACE=1: print each operation and the state after it (for
 * reading a reproducer). */
static bool tracing(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_CORE_TRACE") != NULL;
    return on;
}

/* Allowed one-step transitions; a single operation may chain several. */
static uint32_t reach[TCPS_TIME_WAIT + 1];

#define BIT(s) (1u << (s))

static void init_reach(void)
{
    static bool done;
    if (done)
        return;
    uint32_t step[TCPS_TIME_WAIT + 1] = {
        [TCPS_CLOSED] = 0,
        [TCPS_LISTEN] = BIT(TCPS_SYN_RECEIVED) | BIT(TCPS_CLOSED),
        [TCPS_SYN_SENT] = BIT(TCPS_SYN_RECEIVED) | BIT(TCPS_ESTABLISHED) | BIT(TCPS_CLOSED),
        [TCPS_SYN_RECEIVED] = BIT(TCPS_ESTABLISHED) | BIT(TCPS_FIN_WAIT_1) | BIT(TCPS_CLOSED),
        [TCPS_ESTABLISHED] = BIT(TCPS_FIN_WAIT_1) | BIT(TCPS_CLOSE_WAIT) | BIT(TCPS_CLOSED),
        [TCPS_FIN_WAIT_1] = BIT(TCPS_FIN_WAIT_2) | BIT(TCPS_CLOSING) | BIT(TCPS_CLOSED),
        [TCPS_FIN_WAIT_2] = BIT(TCPS_TIME_WAIT) | BIT(TCPS_CLOSED),
        [TCPS_CLOSE_WAIT] = BIT(TCPS_LAST_ACK) | BIT(TCPS_CLOSED),
        [TCPS_CLOSING] = BIT(TCPS_TIME_WAIT) | BIT(TCPS_CLOSED),
        [TCPS_LAST_ACK] = BIT(TCPS_CLOSED),
        [TCPS_TIME_WAIT] = BIT(TCPS_CLOSED),
    };
    /* Transitive closure, each state reaching itself. */
    for (int s = 0; s <= TCPS_TIME_WAIT; s++)
        reach[s] = step[s] | BIT(s);
    for (int k = 0; k <= TCPS_TIME_WAIT; k++)
        for (int s = 0; s <= TCPS_TIME_WAIT; s++)
            if (reach[s] & BIT(k))
                reach[s] |= reach[k];
    done = true;
}

/* ------------------------------------------------------------- Failing */

static void fail(int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void fail(int line, const char *cond, const char *fmt, ...)
{
    const struct tcb *t = &F.tcb;
    fprintf(stderr, "\nfuzz_core: INVARIANT VIOLATED (fuzz_core.c:%d): %s\n  ", line, cond);
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "\n  during op %u (%s), now %llu; state %s; window %u rcvbuf %zu unread %zu\n"
            "  iss %u snd_una %u snd_nxt %u snd_wnd %u  irs %u rcv_nxt %u rcv_adv %u\n"
            "  written %llu sndbuf.len %u syn_acked %d fin_queued %d fin_sent %d\n"
            "  delivered %llu peer_fin %u close_done %u errors %u closed %u nruns %u\n",
            F.nops, F.op ? F.op : "-", (unsigned long long)F.now, tcp_state_name(t->state),
            F.window, F.rcvbuf, F.unread, t->iss, t->snd_una, t->snd_nxt, t->snd_wnd, t->irs,
            t->rcv_nxt, t->rcv_adv, (unsigned long long)F.written, t->sndbuf.len, t->syn_acked,
            t->fin_queued, t->fin_sent, (unsigned long long)F.ndelivered, F.peer_fin, F.close_done,
            F.errors, F.closed, t->reasm.nruns);
    abort();
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__LINE__, #cond, __VA_ARGS__);                                                    \
    } while (0)

/* ------------------------------------------------------------- Patterns */

/* The peer's byte at sequence number seq. */
static uint8_t peer_byte(uint32_t seq)
{
    uint32_t x = seq * 0x9e3779b1u;
    x ^= x >> 15;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    return (uint8_t)x;
}

/* The application's byte at stream offset off. */
static uint8_t app_byte(uint64_t off)
{
    uint32_t x = (uint32_t)off * 0xc2b2ae35u + 0x27d4eb2fu;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    return (uint8_t)x;
}

/* The byte loops below run for every payload byte; keeping coverage
 * instrumentation out of them makes the target several times faster. */
#ifdef __clang__
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

NO_COVERAGE static void fill_app(uint8_t *p, uint64_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = app_byte(off + i);
}

NO_COVERAGE static void fill_peer(uint8_t *p, uint32_t seq, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = peer_byte(seq + (uint32_t)i);
}

/* Index of the first byte of p[0, n) that is not the application's stream
 * from offset off, or n. */
NO_COVERAGE static size_t app_mismatch(const uint8_t *p, uint64_t off, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] == app_byte(off + i))
        i++;
    return i;
}

/* Index of the first byte of p[0, n) that is not the peer's byte at
 * sequence number seq + i, or n. */
NO_COVERAGE static size_t peer_mismatch(const uint8_t *p, uint32_t seq, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] == peer_byte(seq + (uint32_t)i))
        i++;
    return i;
}

/* ------------------------------------------------------------ Callbacks */

static bool receiving_state(enum tcp_state s)
{
    return s == TCPS_ESTABLISHED || s == TCPS_FIN_WAIT_1 || s == TCPS_FIN_WAIT_2;
}

static void cb_output(void *ctx, const STCPHeader *hdr, const void *payload, size_t len)
{
    (void)ctx;
    const struct tcb *t = &F.tcb;
    CHECK(!F.closed, "segment emitted after TCP_EV_CLOSED");
    CHECK(t->snd_mss >= TCP_MIN_MSS && t->snd_mss <= F.our_mss, "send MSS %u, our limit %u",
          t->snd_mss, F.our_mss);
    CHECK(len <= t->snd_mss, "segment with %zu bytes of payload (MSS %u)", len, t->snd_mss);
    CHECK(len == 0 || payload != NULL, "payload of %zu bytes at NULL", len);
    uint8_t flags = hdr->th_flags;
    uint32_t seq = ntohl(hdr->th_seq);
    uint16_t win = ntohs(hdr->th_win);
    if (tracing())
        fprintf(stderr, "       out flags %#04x seq %u ack %u win %u len %zu\n", flags, seq,
                ntohl(hdr->th_ack), win, len);
    CHECK(hdr->th_x2 == 0, "emitted th_x2 %u", hdr->th_x2);
    CHECK(hdr->th_sport == 0 && hdr->th_dport == 0 && hdr->th_sum == 0 && hdr->th_urp == 0,
          "ports/checksum/urp not left to the network layer");
    if (flags & TH_RST) {
        CHECK(!F.in_rst, "a RST answered a RST");
        CHECK((flags & ~TH_ACK) == TH_RST && len == 0 && win == 0 && hdr->th_off == 5,
              "RST with flags %#x, %zu bytes, window %u, th_off %u", flags, len, win, hdr->th_off);
        if (flags & TH_ACK)
            /* RFC 9293's SND.NXT is our snd_max (snd_nxt is behind it
             * while a timeout's go-back-N resends). */
            CHECK(seq == t->snd_max && ntohl(hdr->th_ack) == t->rcv_nxt,
                  "abort RST seq %u ack %u, snd_max %u rcv_nxt %u", seq, ntohl(hdr->th_ack),
                  t->snd_max, t->rcv_nxt);
        else
            CHECK(F.in_segment && seq == F.in_ack, "RST <SEQ=%u> answers no segment's ACK (%u)",
                  seq, F.in_ack);
        F.rsts_out++;
        return;
    }
    CHECK((flags & ~(TH_SYN | TH_ACK | TH_FIN)) == 0, "emitted flags %#x", flags);
    struct tcp_segment o;
    CHECK(tcp_parse(hdr, TCP_DATA_START(hdr), &o) == 0, "our options do not parse");
    if (flags & TH_SYN) {
        /* Our MSS option, and SACK-permitted and window scale when offered
         * (before the peer's SYN: always; after: if it offered them too). */
        bool sack = (flags & TH_ACK) ? t->sack_ok : true;
        bool ws = (flags & TH_ACK) ? t->wscale_ok : true;
        CHECK(hdr->th_off == 6 + sack + ws && o.mss == F.our_mss && o.sack_permitted == sack &&
                  (o.wscale >= 0) == ws && o.nsack == 0,
              "SYN with th_off %u, MSS %u (our limit %u), SACK-permitted %d, wscale %d",
              hdr->th_off, o.mss, F.our_mss, o.sack_permitted, o.wscale);
    } else {
        CHECK(hdr->th_off == 5 + (o.nsack ? 1 + 2 * o.nsack : 0) && !o.mss && !o.sack_permitted &&
                  o.wscale < 0,
              "emitted th_off %u with %u SACK blocks", hdr->th_off, o.nsack);
        CHECK(!o.nsack || t->sack_ok, "SACK blocks without SACK");
        for (unsigned k = 0; k < o.nsack; k++)
            /* Data kept out of order lies within some window we offered:
             * the edge may since have moved back by less than a unit.  The
             * first block may instead report a duplicate (D-SACK, RFC 2883):
             * data wholly below rcv_nxt. */
            CHECK((k == 0 && seq_lt(o.sack[k].start, o.sack[k].end) &&
                   seq_leq(o.sack[k].end, t->rcv_nxt)) ||
                      (seq_gt(o.sack[k].start, t->rcv_nxt) &&
                       seq_lt(o.sack[k].start, o.sack[k].end) &&
                       (seq_leq(o.sack[k].end, t->rcv_adv) ||
                        (F.have_edge && seq_leq(o.sack[k].end, F.max_edge)))),
                  "SACK block [%u, %u) outside (rcv_nxt %u, rcv_adv %u / offered %u]",
                  o.sack[k].start, o.sack[k].end, t->rcv_nxt, t->rcv_adv, F.max_edge);
    }
    unsigned shift = (flags & TH_SYN) || !t->wscale_ok ? 0 : t->rcv_wscale;
    CHECK(((uint32_t)win << shift) <= t->reasm.cap, "advertised window %u << %u > ring %u", win,
          shift, t->reasm.cap);
    CHECK(!(flags & TH_ACK) == (t->state == TCPS_SYN_SENT), "ACK flag %d in state %s",
          !!(flags & TH_ACK), tcp_state_name(t->state));
    if (flags & TH_SYN) {
        CHECK(seq == t->iss && len == 0 && !(flags & TH_FIN),
              "SYN with seq %u (iss %u), %zu bytes, flags %#x", seq, t->iss, len, flags);
        CHECK(t->state == TCPS_SYN_SENT || t->state == TCPS_SYN_RECEIVED, "SYN emitted in %s",
              tcp_state_name(t->state));
    }
    if (len) {
        /* Data: the application's bytes at the right stream offsets, from
         * snd_una on, either new (at snd_max) or a resend (within what was
         * sent: a go-back-N after a timeout resends from snd_nxt < snd_max). */
        uint32_t off = seq - (t->iss + 1);
        CHECK(t->syn_acked, "data sent before our SYN was acknowledged");
        CHECK((uint64_t)off + len <= F.written,
              "data at stream offset %u+%zu, but only %llu bytes were written", off, len,
              (unsigned long long)F.written);
        CHECK(seq_geq(seq, t->snd_una), "data at %u before snd_una %u", seq, t->snd_una);
        CHECK(seq == t->snd_max || seq_leq(seq + (uint32_t)len, t->snd_max),
              "data [%u, +%zu) neither new nor within flight (snd_max %u)", seq, len, t->snd_max);
        if (seq == t->snd_max) /* new data: inside the peer's window, or a 1-byte probe */
            CHECK(seq + (uint32_t)len - t->snd_una <= MAX(t->snd_wnd, 1u),
                  "new data [%u, +%zu) beyond the peer's window %u from snd_una %u", seq, len,
                  t->snd_wnd, t->snd_una);
        const uint8_t *p = payload;
        size_t i = app_mismatch(p, off, len);
        CHECK(i == len, "emitted byte %zu of seq %u is %#x, the stream has %#x at offset %llu", i,
              seq, p[i], app_byte((uint64_t)off + i), (unsigned long long)off + i);
    }
    if (flags & TH_FIN) {
        CHECK(F.app_closed, "FIN emitted before the application closed");
        CHECK(seq + (uint32_t)len == t->iss + 1 + (uint32_t)F.written,
              "FIN at %u, but the stream ends at %u", seq + (uint32_t)len,
              t->iss + 1 + (uint32_t)F.written);
    }
    if (flags & TH_ACK) {
        /* The right edge of the receive window never moves back, but for
         * less than one scaling unit where holding it would offer more
         * than the room (RFC 7323 Appendix F). */
        uint32_t edge = ntohl(hdr->th_ack) + ((uint32_t)win << shift);
        uint32_t unit = 1u << shift;
        CHECK(!F.have_edge || seq_geq(edge + unit - 1, F.edge),
              "window edge moved back from %u to %u (unit %u)", F.edge, edge, unit);
        if (!F.have_edge || seq_gt(edge, F.max_edge))
            F.max_edge = edge;
        F.have_edge = true;
        F.edge = edge;
    }
    /* snd_nxt, a keepalive's snd_nxt - 1, or snd_una inside a zero window. */
    if (!len && !(flags & (TH_SYN | TH_FIN)))
        CHECK(seq == t->snd_max || seq == t->snd_max - 1 || (seq == t->snd_una && !t->snd_wnd),
              "bare ACK with seq %u (snd_max %u)", seq, t->snd_max);
}

static void cb_deliver(void *ctx, const void *data, size_t len);

/* In place, the payload is already where the application reads it: check
 * it as if it had been copied there. */
static void cb_deliver_in_place(void *ctx, size_t len)
{
    CHECK(F.split_payload != NULL, "delivered in place outside tcp_input_split");
    if (F.split_payload)
        cb_deliver(ctx, F.split_payload, len);
}

static void cb_deliver(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    const struct tcb *t = &F.tcb;
    CHECK(!F.closed, "data delivered after TCP_EV_CLOSED");
    CHECK(len <= F.rcvbuf - F.unread, "delivered %zu bytes, the application had room for %zu", len,
          F.rcvbuf - F.unread);
    CHECK(receiving_state(t->state), "data delivered in %s", tcp_state_name(t->state));
    CHECK(!F.peer_fin, "data delivered after the peer's FIN");
    const uint8_t *p = data;
    uint32_t seq = t->irs + 1 + (uint32_t)F.ndelivered;
    size_t i = peer_mismatch(p, seq, len);
    CHECK(i == len, "delivered byte %llu (seq %u) is %#x, the peer sent %#x there",
          (unsigned long long)(F.ndelivered + i), seq + (uint32_t)i, p[i],
          peer_byte(seq + (uint32_t)i));
    F.ndelivered += len;
    F.unread += len;
}

static size_t cb_app_space(void *ctx)
{
    (void)ctx;
    CHECK(!F.closed, "app_space asked after TCP_EV_CLOSED");
    return F.rcvbuf - F.unread;
}

static bool peer_sent_fin_at(uint32_t seq)
{
    if (F.fins_overflow)
        return true; /* cannot tell */
    for (unsigned i = 0; i < F.nfins; i++)
        if (F.fins[i] == seq)
            return true;
    return false;
}

static void cb_event(void *ctx, enum tcp_event ev, int err)
{
    (void)ctx;
    const struct tcb *t = &F.tcb;
    CHECK(!F.closed, "event %d after TCP_EV_CLOSED", (int)ev);
    switch (ev) {
    case TCP_EV_ESTABLISHED:
        CHECK(!F.established++, "TCP_EV_ESTABLISHED twice");
        CHECK(t->state == TCPS_ESTABLISHED || t->state == TCPS_FIN_WAIT_1,
              "TCP_EV_ESTABLISHED in %s", tcp_state_name(t->state));
        break;
    case TCP_EV_PEER_FIN:
        CHECK(!F.peer_fin++, "TCP_EV_PEER_FIN twice");
        CHECK(t->rcv_nxt - 1 == t->irs + 1 + (uint32_t)F.ndelivered,
              "peer FIN at %u, but its data ends at %u", t->rcv_nxt - 1,
              t->irs + 1 + (uint32_t)F.ndelivered);
        CHECK(peer_sent_fin_at(t->rcv_nxt - 1), "peer FIN at %u, but the peer sent none there",
              t->rcv_nxt - 1);
        break;
    case TCP_EV_CLOSE_DONE:
        CHECK(!F.close_done++, "TCP_EV_CLOSE_DONE twice");
        CHECK(err == 0, "TCP_EV_CLOSE_DONE with err %d", err);
        CHECK(F.app_closed, "TCP_EV_CLOSE_DONE without a close");
        CHECK(t->snd_una == t->iss + 2 + (uint32_t)F.written,
              "TCP_EV_CLOSE_DONE with snd_una %u, but the FIN is at %u", t->snd_una,
              t->iss + 1 + (uint32_t)F.written);
        break;
    case TCP_EV_ERROR:
        CHECK(!F.errors++, "TCP_EV_ERROR twice");
        CHECK(err == ETIMEDOUT || err == ECONNREFUSED || err == ECONNRESET,
              "TCP_EV_ERROR with err %d", err);
        CHECK(t->state == TCPS_CLOSED, "TCP_EV_ERROR in %s", tcp_state_name(t->state));
        break;
    case TCP_EV_CLOSED:
        F.closed++;
        CHECK(t->state == TCPS_CLOSED, "TCP_EV_CLOSED in %s", tcp_state_name(t->state));
        break;
    default:
        CHECK(0, "unknown event %d", (int)ev);
    }
}

/* ----------------------------------------------------------- Invariants */

static void check_tcb(void)
{
    const struct tcb *t = &F.tcb;
    CHECK((unsigned)t->state <= TCPS_TIME_WAIT, "state %u", (unsigned)t->state);
    enum tcp_state s = t->state;
    CHECK(reach[F.last_state] & BIT(s), "transition %s -> %s", tcp_state_name(F.last_state),
          tcp_state_name(s));
    F.last_state = s;
    if (s >= TCPS_SYN_RECEIVED)
        F.synced = true;
    CHECK((s == TCPS_CLOSED) == (F.closed > 0), "state %s after %u TCP_EV_CLOSED",
          tcp_state_name(s), F.closed);
    if (s == TCPS_FIN_WAIT_1 || s == TCPS_FIN_WAIT_2 || s == TCPS_CLOSING || s == TCPS_LAST_ACK ||
        s == TCPS_TIME_WAIT)
        CHECK(F.app_closed, "%s without a close", tcp_state_name(s));
    if (s == TCPS_CLOSE_WAIT || s == TCPS_LAST_ACK || s == TCPS_CLOSING)
        CHECK(F.peer_fin, "%s without the peer's FIN", tcp_state_name(s));
    if (s == TCPS_FIN_WAIT_2 || (s == TCPS_TIME_WAIT && F.app_closed))
        CHECK(F.close_done, "%s without TCP_EV_CLOSE_DONE", tcp_state_name(s));

    if (F.established)
        CHECK(t->syn_acked, "TCP_EV_ESTABLISHED, but our SYN is not acknowledged");

    /* Send side. */
    CHECK(seq_leq(t->snd_una, t->snd_nxt), "snd_una %u > snd_nxt %u", t->snd_una, t->snd_nxt);
    CHECK(seq_leq(t->snd_nxt, t->snd_max), "snd_nxt %u > snd_max %u", t->snd_nxt, t->snd_max);
    CHECK(t->cc.algo->loss_window || t->snd_nxt == t->snd_max, "%s rewound snd_nxt",
          t->cc.algo->name);
    CHECK(seq_leq(t->iss, t->snd_una), "snd_una %u before iss %u", t->snd_una, t->iss);
    uint32_t flight = t->snd_max - t->snd_una;
    CHECK(flight <= MAX(F.window, 1u) + 2, "%u in flight, window %u", flight, F.window);
    CHECK((uint64_t)(t->snd_max - t->iss) <= F.written + 2,
          "snd_max %u is beyond the stream (iss %u, %llu written)", t->snd_max, t->iss,
          (unsigned long long)F.written);
    CHECK(t->cc.cwnd > 0, "cwnd 0 (%s)", t->cc.algo->name);
    CHECK(t->sndbuf.cap == F.window && t->sndbuf.len <= t->sndbuf.cap &&
              t->sndbuf.head < t->sndbuf.cap,
          "send buffer cap %u len %u head %u", t->sndbuf.cap, t->sndbuf.len, t->sndbuf.head);
    if (t->syn_acked) {
        bool fin_acked = t->fin_sent && t->snd_una == t->snd_max;
        uint64_t acked = (uint32_t)(t->snd_una - t->iss - 1) - (fin_acked ? 1u : 0u);
        CHECK(acked + t->sndbuf.len == F.written, "%llu acknowledged + %u buffered != %llu written",
              (unsigned long long)acked, t->sndbuf.len, (unsigned long long)F.written);
    } else if (s != TCPS_CLOSED) {
        CHECK(t->snd_una == t->iss && t->sndbuf.len == F.written,
              "before the SYN is acknowledged: snd_una %u, %u buffered", t->snd_una, t->sndbuf.len);
    }
    CHECK(!t->fin_sent || t->fin_queued, "FIN sent but not queued");
    CHECK(t->sent.count <= t->sent.cap && t->sent.head < t->sent.cap, "sent log %u/%u of %u",
          t->sent.head, t->sent.count, t->sent.cap);
    /* The SACK scoreboard: ascending, disjoint ranges above snd_una. */
    for (unsigned i = 0; i < t->sb.n; i++) {
        CHECK(seq_lt(t->sb.r[i].start, t->sb.r[i].end) && seq_geq(t->sb.r[i].start, t->snd_una) &&
                  seq_leq(t->sb.r[i].end, t->snd_max),
              "scoreboard range %u [%u, %u), snd_una %u snd_max %u", i, t->sb.r[i].start,
              t->sb.r[i].end, t->snd_una, t->snd_max);
        if (i)
            CHECK(seq_lt(t->sb.r[i - 1].end, t->sb.r[i].start), "scoreboard ranges overlap");
    }

    /* Receive side. */
    const struct tcp_reasm *r = &t->reasm;
    CHECK(r->cap >= F.window && r->cap - F.window < (1u << tcp_wscale_for(F.window)) &&
              r->head < r->cap && r->nruns <= r->maxruns,
          "reassembly cap %u head %u nruns %u", r->cap, r->head, r->nruns);
    if (F.synced) {
        uint32_t want = t->irs + 1 + (uint32_t)F.ndelivered + (F.peer_fin ? 1 : 0);
        CHECK(t->rcv_nxt == want, "rcv_nxt %u, but irs+1 + delivered + FIN = %u", t->rcv_nxt, want);
        for (unsigned i = 0; i < r->nruns; i++) {
            CHECK(seq_lt(r->run[i].start, r->run[i].end), "run %u is [%u, %u)", i, r->run[i].start,
                  r->run[i].end);
            CHECK(seq_leq(r->run[i].end, t->rcv_nxt + r->cap),
                  "run %u ends at %u, beyond rcv_nxt %u + ring %u", i, r->run[i].end, t->rcv_nxt,
                  r->cap);
            if (i)
                CHECK(seq_lt(r->run[i - 1].end, r->run[i].start),
                      "runs %u [%u, %u) and %u [%u, %u) overlap or touch", i - 1,
                      r->run[i - 1].start, r->run[i - 1].end, i, r->run[i].start, r->run[i].end);
        }
    }
    if ((s == TCPS_SYN_RECEIVED || receiving_state(s)) && !F.peer_fin) {
        CHECK(seq_leq(t->rcv_nxt, t->rcv_adv), "rcv_nxt %u beyond rcv_adv %u", t->rcv_nxt,
              t->rcv_adv);
        uint32_t wnd = t->rcv_adv - t->rcv_nxt;
        /* Scaled, the window is a whole number of units: rounded up to keep
         * the right edge, it may pass the room by less than one unit. */
        uint32_t unit = t->wscale_ok ? 1u << t->rcv_wscale : 1;
        CHECK(wnd <= r->cap, "window offered %u > ring %u", wnd, r->cap);
        CHECK(wnd <= F.rcvbuf - F.unread + unit - 1,
              "window offered %u, but the application has room for %zu (scaling %d, shift %u)", wnd,
              F.rcvbuf - F.unread, t->wscale_ok, t->rcv_wscale);
    }
}

/* After tcp_timer and tcp_output at now, nothing is owed before later:
 * otherwise the driver's loop would spin without making progress. */
static void check_timers_settled(void)
{
    stcp_usec_t next = tcp_next_timer(&F.tcb);
    CHECK(next > F.now, "after tcp_timer and tcp_output at %llu, next timer at %llu",
          (unsigned long long)F.now, (unsigned long long)next);
}

static void trace_op(void)
{
    const struct tcb *t = &F.tcb;
    fprintf(stderr,
            "op %3u %-16s now %-9llu %-12s una %u nxt %u wnd %u | rcv_nxt %u adv %u | "
            "written %llu delivered %llu unread %zu runs %u\n",
            F.nops, F.op, (unsigned long long)F.now, tcp_state_name(t->state), t->snd_una,
            t->snd_nxt, t->snd_wnd, t->rcv_nxt, t->rcv_adv, (unsigned long long)F.written,
            (unsigned long long)F.ndelivered, F.unread, t->reasm.nruns);
}

/* ---------------------------------------------------------------- Input */

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint16_t u16(struct rd *r)
{
    uint16_t hi = u8(r);
    return (uint16_t)(hi << 8 | u8(r));
}

static uint32_t u32(struct rd *r)
{
    uint32_t hi = u16(r);
    return hi << 16 | u16(r);
}

/* A 32-bit value: raw, or just below 2^32, just above 0, around 2^31. */
static uint32_t pick32(struct rd *r)
{
    uint8_t sel = u8(r);
    switch (sel & 3) {
    case 0:
        return u32(r);
    case 1:
        return UINT32_MAX - (sel >> 2);
    case 2:
        return sel >> 2;
    default:
        return 0x7fffffffu - 32 + (sel >> 2);
    }
}

/* --------------------------------------------------------- Acting on it */

static void settle(bool batch)
{
    if (batch)
        return; /* more events in the same batch: no output yet */
    tcp_timer(&F.tcb, F.now);
    tcp_output(&F.tcb, F.now);
    check_timers_settled();
}

/* The wire segment in buf[0, wire) arrives.  Payload bytes were already
 * set from the pattern; remember where the peer put a FIN. */
static void deliver_wire(const uint8_t *buf, size_t wire)
{
    struct tcp_segment seg;
    if (tcp_parse(buf, wire, &seg) == 0) {
        uint32_t data_seq = seg.seq + ((seg.flags & TH_SYN) ? 1 : 0);
        uint32_t end = data_seq + seg.len;
        if (seg.flags & TH_FIN) {
            if (!peer_sent_fin_at(end)) {
                if (F.nfins < MAX_FINS)
                    F.fins[F.nfins++] = end;
                else
                    F.fins_overflow = true;
            }
            end++;
        }
        if (seq_gt(end, F.peer_next))
            F.peer_next = end;
    }
    int parsed = tcp_parse(buf, wire, &seg);
    if (tracing()) {
        if (parsed == 0)
            fprintf(stderr, "       in  flags %#04x seq %u ack %u win %u len %u mss %u\n", buf[13],
                    seg.seq, seg.ack, seg.win, seg.len, seg.mss);
        else
            fprintf(stderr, "       in  %zu malformed bytes\n", wire);
    }
    uint64_t dropped = F.tcb.stats.dropped_in, bad_options = F.tcb.stats.bad_options_in;
    F.in_segment = true;
    F.in_rst = parsed == 0 && (seg.flags & TH_RST);
    F.in_ack = parsed == 0 ? seg.ack : 0;
    /* The same segment through tcp_input, or split at its header as the
     * framework's split receive gives it (the payload in place or not),
     * chosen by its bytes: the outcome must not differ. */
    unsigned how = (unsigned)(wire ^ (wire > 4 ? buf[4] : 0)) % 3;
    size_t hl = wire >= 20 ? MIN((size_t)TCP_DATA_START(buf), wire) : wire;
    if (how == 0) {
        tcp_input(&F.tcb, F.now, buf, wire);
    } else {
        F.split_payload = how == 2 ? buf + hl : NULL;
        tcp_input_split(&F.tcb, F.now, buf, hl, buf + hl, wire - hl, how == 2);
        F.split_payload = NULL;
    }
    F.in_segment = F.in_rst = false;
    /* Malformed: dropped and counted (options separately). */
    if (parsed < 0)
        CHECK(F.tcb.stats.dropped_in == dropped + 1 &&
                  F.tcb.stats.bad_options_in == bad_options + (parsed == -2),
              "malformed segment (%d) counted %llu/%llu", parsed,
              (unsigned long long)(F.tcb.stats.dropped_in - dropped),
              (unsigned long long)(F.tcb.stats.bad_options_in - bad_options));
}

/* Make the payload of the wire segment buf[0, wire), if it parses, the
 * peer's bytes at the sequence numbers its header gives. */
static void fill_payload(uint8_t *buf, size_t wire)
{
    struct tcp_segment seg;
    if (tcp_parse(buf, wire, &seg) < 0)
        return;
    uint32_t data_seq = seg.seq + ((seg.flags & TH_SYN) ? 1 : 0);
    fill_peer(buf + (wire - seg.len), data_seq, seg.len);
}

struct pseg {
    uint32_t seq, ack;
    uint8_t flags; /* any of the 8 bits */
    uint16_t win;
    uint32_t len;   /* payload */
    uint8_t th_off; /* 0: 5 */
    int wire_adj;   /* bytes added to (or cut from) header + payload */
    uint8_t opt_fill;
    const uint8_t *opts; /* options written from here (th_off must make room) */
    size_t opts_len;
};

static void send_seg(const struct pseg *s)
{
    static uint8_t buf[60 + MAX_PAYLOAD + 64];
    uint8_t off = s->th_off ? s->th_off : 5;
    size_t hdr = off >= 5 ? (size_t)off * 4 : 20;
    long wire = (long)(hdr + s->len) + s->wire_adj;
    if (wire < 0)
        wire = 0;
    if ((size_t)wire > sizeof buf)
        wire = sizeof buf;
    memset(buf, s->opt_fill, sizeof buf);
    STCPHeader *th = (STCPHeader *)buf;
    th->th_sport = htons(1234);
    th->th_dport = htons(4321);
    th->th_seq = htonl(s->seq);
    th->th_ack = htonl(s->ack);
    th->th_x2 = 0;
    th->th_off = off & 15;
    th->th_flags = s->flags;
    th->th_win = htons(s->win);
    th->th_sum = 0;
    th->th_urp = 0;
    if (s->opts_len)
        memcpy(buf + sizeof *th, s->opts, MIN(s->opts_len, hdr - sizeof *th));
    fill_payload(buf, (size_t)wire);
    deliver_wire(buf, (size_t)wire);
}

/* The MSS option on the peer's SYNs (0: none), chosen at setup. */
static uint16_t peer_syn_mss;
/* ... and whether they offer SACK and window scaling (shift 0..15; -1: no). */
static bool peer_syn_sack;
static int peer_syn_wscale;

/* A well-formed segment from the peer (setting up); a SYN carries the
 * peer's MSS option, if it has one. */
static void peer(uint32_t seq, uint32_t ackn, uint8_t flags, uint16_t win)
{
    uint8_t opt[12];
    size_t n = 0;
    if (peer_syn_mss) {
        uint8_t mss[4] = {TCPOPT_MSS, TCPOLEN_MSS, (uint8_t)(peer_syn_mss >> 8),
                          (uint8_t)peer_syn_mss};
        memcpy(opt + n, mss, 4);
        n += 4;
    }
    if (peer_syn_sack) {
        uint8_t sp[4] = {TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERMITTED, TCPOLEN_SACK_PERMITTED};
        memcpy(opt + n, sp, 4);
        n += 4;
    }
    if (peer_syn_wscale >= 0) {
        uint8_t ws[4] = {TCPOPT_NOP, TCPOPT_WSCALE, TCPOLEN_WSCALE, (uint8_t)peer_syn_wscale};
        memcpy(opt + n, ws, 4);
        n += 4;
    }
    struct pseg s = {seq, ackn, flags, win, 0, 5, 0, 0, NULL, 0};
    if ((flags & TH_SYN) && n) {
        s.th_off = (uint8_t)(5 + n / 4);
        s.opts = opt;
        s.opts_len = n;
    }
    send_seg(&s);
    settle(false);
}

/* The base the script's sequence numbers are relative to. */
static uint32_t base_rcv_nxt(void)
{
    return F.synced ? F.tcb.rcv_nxt : F.irs_pick;
}

static uint32_t base_irs(void)
{
    return F.synced ? F.tcb.irs : F.irs_pick;
}

static uint32_t pick_seq(struct rd *r, unsigned mode)
{
    const struct tcb *t = &F.tcb;
    uint32_t nxt = base_rcv_nxt();
    switch (mode) {
    case 1:
        return nxt + u8(r);
    case 2:
        return nxt + u16(r);
    case 3:
        return nxt - u8(r);
    case 4:
        return nxt - u16(r);
    case 5:
        return (F.synced ? t->rcv_adv : nxt) + (uint32_t)(int32_t)(int8_t)u8(r);
    case 6:
        return nxt + STCP_MSS * (u8(r) & 15u);
    case 7:
        return u32(r);
    case 8:
        return base_irs() + (uint32_t)(int32_t)(int8_t)u8(r);
    case 9:
        return F.peer_next + (uint32_t)(int32_t)(int8_t)u8(r);
    case 10:
        return nxt - 1;
    case 11:
        return nxt + 0x80000000u + (uint32_t)(int32_t)(int8_t)u8(r);
    default:
        return nxt;
    }
}

static uint32_t pick_ack(struct rd *r, unsigned mode)
{
    const struct tcb *t = &F.tcb;
    uint32_t flight = t->snd_max - t->snd_una;
    switch (mode) {
    case 1:
        return t->snd_una;
    case 2:
        return t->snd_una + (uint32_t)(u16(r) % (flight + 1));
    case 3:
        return t->snd_max + (uint32_t)(int32_t)(int8_t)u8(r);
    case 4:
        return u32(r);
    case 5:
        return t->snd_una - u8(r);
    case 6:
        return t->iss + 1;
    case 7:
        return t->snd_una + STCP_MSS * (u8(r) & 15u);
    case 8:
        return t->snd_max + 0x80000000u + (uint32_t)(int32_t)(int8_t)u8(r);
    default:
        return t->snd_max;
    }
}

static uint16_t pick_win(struct rd *r)
{
    uint8_t w = u8(r);
    switch (w >> 6) {
    case 0:
        return w & 63; /* 0..63 */
    case 1:
        return (uint16_t)(F.window + (uint32_t)(w & 63) - 32);
    case 2: {
        static const uint16_t common[] = {0, 1, 2, 535, 536, 537, 1024, 3072, 65535};
        return common[(w & 63) % (sizeof common / sizeof common[0])];
    }
    default:
        return u16(r);
    }
}

static uint32_t pick_len(struct rd *r)
{
    uint8_t l = u8(r);
    switch (l >> 6) {
    case 0:
        return l & 63;
    case 1:
        return STCP_MSS - 32 + (l & 63);
    case 2:
        return MIN((uint32_t)(l & 63) * 10, (uint32_t)MAX_PAYLOAD);
    default:
        return u16(r) % (MAX_PAYLOAD + 1);
    }
}

/* [flags][modes][seq args][ack args][win][len][variant][fill].  Flags byte: the
 * six classic TCP flag bits; bit 6: part of a batch (no timer or output runs
 * after it); bit 7: a variant byte (th_off, wire length too short or too
 * long) and an option-fill byte follow.  Modes: seq mode, ack mode. */
static void op_segment(struct rd *r)
{
    F.op = "segment";
    uint8_t fl = u8(r);
    uint8_t modes = u8(r);
    struct pseg s;
    memset(&s, 0, sizeof s);
    s.flags = fl & 0x3f;
    s.seq = pick_seq(r, modes & 15);
    s.ack = pick_ack(r, modes >> 4);
    s.win = pick_win(r);
    s.len = pick_len(r);
    s.th_off = 5;
    if (fl & 0x80) {
        uint8_t v = u8(r);
        s.th_off = v & 15;
        unsigned adj = v >> 4;
        if (adj >= 1 && adj <= 7)
            s.wire_adj = -(int)(adj * adj); /* 1..49 bytes short */
        else if (adj >= 8)
            s.wire_adj = (int)(adj - 7) * 3; /* 3..24 bytes more */
        s.opt_fill = u8(r);
        s.flags |= (uint8_t)(s.opt_fill & 0xc0); /* the two flag bits TCP added later */
        if (s.opt_fill & 0x20) {                 /* the options, byte by byte, from the script */
            s.opts_len = MIN(r->n, (size_t)40);
            s.opts_len = MIN(s.opts_len, (size_t)(s.opt_fill & 0x1f) + 1);
            s.opts = r->p;
            r->p += s.opts_len;
            r->n -= s.opts_len;
        }
    }
    send_seg(&s);
    settle(fl & 0x40);
}

/* Raw header bytes from the input: malformed lengths, th_off, anything.  If
 * the result parses, its payload is the peer's pattern at its sequence
 * number, so the stream checks still hold. */
static void op_raw(struct rd *r)
{
    F.op = "raw";
    static uint8_t buf[256];
    size_t n = u8(r);
    size_t have = MIN(n, r->n);
    memset(buf, 0, sizeof buf);
    memcpy(buf, r->p, have);
    r->p += have;
    r->n -= have;
    fill_payload(buf, n);
    deliver_wire(buf, n);
    settle(false);
}

static void op_write(struct rd *r)
{
    F.op = "write";
    static uint8_t buf[MAX_WRITE];
    uint8_t sel = u8(r);
    size_t n;
    switch (sel >> 6) {
    case 0:
        n = sel & 63;
        break;
    case 1:
        n = STCP_MSS * (size_t)((sel & 63) % 5) + (size_t)(sel & 3);
        break;
    case 2:
        n = (size_t)F.window * ((sel & 3) + 1) / 2;
        break;
    default:
        n = u16(r);
        break;
    }
    n = MIN(n, sizeof buf);
    size_t space = tcp_send_space(&F.tcb);
    fill_app(buf, F.written, MIN(n, space)); /* tcp_write takes no more */
    size_t took = tcp_write(&F.tcb, buf, n);
    CHECK(took == MIN(n, space), "tcp_write took %zu of %zu with %zu free", took, n, space);
    F.written += took;
    settle(sel & 0x20 && (sel >> 6) == 3);
}

static void op_read(struct rd *r)
{
    F.op = "read";
    uint8_t sel = u8(r);
    size_t n = (sel & 0x80) ? F.unread : (size_t)(sel & 0x7f) * 37;
    F.unread -= MIN(n, F.unread);
    tcp_app_read(&F.tcb, F.now);
    settle(false);
}

/* A close, or (half) a half-close: either way our FIN is due. */
static void op_close(bool half)
{
    F.op = half ? "shutdown" : "close";
    F.app_closed = true;
    if (half)
        tcp_shutdown(&F.tcb, F.now);
    else
        tcp_close(&F.tcb, F.now);
    settle(false);
}

/* Time stays below 2^50 us (35 years of a monotonic clock), as a real
 * clock does; otherwise a peer that always answers just before the timer
 * would grow the RTT estimate, and with it now + RTO, past 2^64. */
#define TIME_HORIZON (1ULL << 50)

static void op_advance(struct rd *r)
{
    F.op = "advance";
    uint8_t sel = u8(r);
    uint64_t v = u8(r);
    stcp_usec_t next = tcp_next_timer(&F.tcb);
    stcp_usec_t to = F.now;
    switch (sel & 7) {
    case 0:
        to += v;
        break;
    case 1:
        to += v * 100;
        break;
    case 2:
        to += v * STCP_MSEC;
        break;
    case 3:
        to += v * 100 * STCP_MSEC;
        break;
    case 4:
        to += v * STCP_SEC;
        break;
    case 5: /* exactly when the next timer is due */
    case 6: /* just before */
    case 7: /* a little after */
        if (next == STCP_NO_TIMER || next <= F.now)
            to += STCP_MSEC;
        else if ((sel & 7) == 5)
            to = next;
        else if ((sel & 7) == 6)
            to = next - 1;
        else
            to = next + v;
        break;
    }
    if (to < TIME_HORIZON)
        F.now = to;
    settle(false);
}

static void op_special(struct rd *r)
{
    uint8_t sel = u8(r);
    switch (sel & 7) {
    case 0:
        F.op = "peer unreachable";
        tcp_peer_unreachable(&F.tcb);
        break;
    case 1:
        F.op = "abort";
        tcp_abort(&F.tcb, ETIMEDOUT);
        break;
    case 2:
        F.op = "abort by the application";
        F.app_closed = true;
        tcp_user_abort(&F.tcb, F.now);
        break;
    default:
        F.op = "read all";
        F.unread = 0;
        tcp_app_read(&F.tcb, F.now);
        break;
    }
    settle(false);
}

/* ---------------------------------------------------------------- Start */

static const uint32_t windows[] = {1,    2,    3,    4,    100,   535,   536,    537,
                                   1072, 2048, 3072, 4096, 65535, 65536, 131071, 1 << 20};

static bool setup(struct rd *r)
{
    uint8_t start = u8(r);
    uint8_t wsel = u8(r);
    if (wsel < 0xc0)
        F.window = windows[wsel % (sizeof windows / sizeof windows[0])];
    else
        F.window = 1 + (uint32_t)(u16(r) % 65535);
    uint8_t bsel = u8(r);
    switch (bsel & 3) {
    case 0:
    case 1:
        F.rcvbuf = 2 * (size_t)F.window; /* the driver's default */
        break;
    case 2:
        F.rcvbuf = F.window;
        break;
    default:
        F.rcvbuf = 1 + (size_t)(u16(r) % (2 * F.window));
        break;
    }
    uint32_t iss = pick32(r);
    F.irs_pick = pick32(r);
    F.peer_next = F.irs_pick;
    uint16_t peer_win = pick_win(r);
    /* Our MSS limit and the peer's SYN option, from bsel's spare bits. */
    static const uint32_t our_mss[8] = {STCP_MSS, TCP_MIN_MSS, 100,      1460,
                                        3000,     TCP_MAX_MSS, STCP_MSS, 1000};
    static const uint16_t syn_mss[8] = {0, 1, TCP_MIN_MSS, STCP_MSS, 1000, 1460, 9000, 65535};
    F.our_mss = our_mss[(bsel >> 2) & 7];
    peer_syn_mss = syn_mss[(bsel >> 5) & 7];
    /* The peer's other offers, from bits of the ISS (the layout stays). */
    peer_syn_sack = (iss >> 8) & 1;
    peer_syn_wscale = (iss >> 9) & 1 ? (int)((iss >> 10) & 15) : -1;

    struct tcp_config cfg;
    tcp_config_default(&cfg);
    cfg.window = F.window;
    cfg.mss = F.our_mss;
    cfg.cc = cc_algos[iss % 3]; /* from a value already drawn: the input layout is unchanged */
    struct tcp_env env = {.ctx = &F,
                          .output = cb_output,
                          .deliver = cb_deliver,
                          .app_space = cb_app_space,
                          .event = cb_event,
                          .deliver_in_place = cb_deliver_in_place};
    F.now = STCP_SEC;
    if (tcp_init(&F.tcb, &cfg, &env) < 0)
        return false;
    F.live = true;
    F.last_state = TCPS_CLOSED;
    F.op = "setup";

    bool established = false;
    switch (start % 7) {
    case 0: /* SYN_SENT */
        tcp_connect(&F.tcb, F.now, iss);
        F.last_state = F.tcb.state;
        tcp_output(&F.tcb, F.now);
        break;
    case 1: /* LISTEN */
        tcp_listen(&F.tcb, iss);
        F.last_state = F.tcb.state;
        break;
    case 2: /* SYN_RECEIVED, passive */
        tcp_listen(&F.tcb, iss);
        F.last_state = F.tcb.state;
        peer(F.irs_pick, 0, TH_SYN, peer_win);
        break;
    case 3: /* SYN_RECEIVED, simultaneous open */
        tcp_connect(&F.tcb, F.now, iss);
        F.last_state = F.tcb.state;
        tcp_output(&F.tcb, F.now);
        peer(F.irs_pick, 0, TH_SYN, peer_win);
        break;
    case 4: /* ESTABLISHED, active */
        tcp_connect(&F.tcb, F.now, iss);
        F.last_state = F.tcb.state;
        tcp_output(&F.tcb, F.now);
        F.now += 50;
        peer(F.irs_pick, iss + 1, TH_SYN | TH_ACK, peer_win);
        established = true;
        break;
    case 5: /* ESTABLISHED, passive */
        tcp_listen(&F.tcb, iss);
        F.last_state = F.tcb.state;
        peer(F.irs_pick, 0, TH_SYN, peer_win);
        F.now += 50;
        peer(F.irs_pick + 1, iss + 1, TH_ACK, peer_win);
        established = true;
        break;
    default: { /* ESTABLISHED by a SYN cookie: our SYN-ACK offered a small window */
        uint8_t w = u8(r);
        uint32_t ours = (w & 0x80) ? 1 + (uint32_t)(w & 0x7f) : SYNCOOKIE_WINDOW;
        ours = MIN(ours, MIN(F.window, (uint32_t)F.rcvbuf));
        tcp_open_established(&F.tcb, F.now, iss, F.irs_pick, peer_win, (uint16_t)ours,
                             peer_syn_mss);
        F.last_state = F.tcb.state;
        tcp_output(&F.tcb, F.now);
        established = true;
        break;
    }
    }
    check_tcb();
    if (tracing())
        trace_op();
    if (!established || F.tcb.state != TCPS_ESTABLISHED)
        return true;

    /* Optionally on to a closing state. */
    const struct tcb *t = &F.tcb;
    switch ((start / 7) % 7) {
    case 1: /* FIN_WAIT_1 */
        op_close(false);
        break;
    case 2: /* FIN_WAIT_2 */
        op_close(false);
        peer(t->rcv_nxt, t->snd_max, TH_ACK, peer_win);
        break;
    case 3: /* CLOSE_WAIT */
        peer(t->rcv_nxt, t->snd_max, TH_FIN | TH_ACK, peer_win);
        break;
    case 4: /* LAST_ACK */
        peer(t->rcv_nxt, t->snd_max, TH_FIN | TH_ACK, peer_win);
        op_close(false);
        break;
    case 5: /* CLOSING: their FIN crosses ours */
        op_close(false);
        peer(t->rcv_nxt, t->snd_max - 1, TH_FIN | TH_ACK, peer_win);
        break;
    case 6: /* TIME_WAIT */
        op_close(false);
        peer(t->rcv_nxt, t->snd_max, TH_FIN | TH_ACK, peer_win);
        break;
    default:
        break;
    }
    F.op = "setup";
    check_tcb();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_reach();
    memset(&F, 0, sizeof F);
    struct rd r = {data, size};
    if (setup(&r)) {
        while (r.n && F.nops < MAX_OPS) {
            F.nops++;
            uint8_t op = u8(&r);
            switch (op & 15) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
                op_segment(&r);
                break;
            case 7:
            case 8:
                op_write(&r);
                break;
            case 9:
                op_read(&r);
                break;
            case 10:
                op_close(op & 0x10); /* bit 4: tcp_shutdown instead */
                break;
            case 11:
            case 12:
            case 13:
                op_advance(&r);
                break;
            case 14:
                op_raw(&r);
                break;
            default:
                op_special(&r);
                break;
            }
            check_tcb();
            if (tracing())
                trace_op();
        }
    }
    if (F.live)
        tcp_free(&F.tcb);
    return 0;
}
