/* test_sack.c -- window scaling (RFC 7323) and SACK (RFC 2018, RFC 6675),
 * packet by packet.
 *
 * Connections: our ISS 1000, the peer's IRS 5000, MSS 536.  The peer's
 * options are written as bytes, as a peer would send them. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "cc.h"
#include "harness.h"

#define MSS  536u
#define DATA 1001u /* our first data byte */

/* ---- The peer's options ---- */

static const uint8_t opt_sack[] = {1, 1, 4, 2};
static const uint8_t opt_ws7[] = {1, 3, 3, 7};
static const uint8_t opt_both[] = {1, 1, 4, 2, 1, 3, 3, 7};
static const uint8_t opt_ws14[] = {1, 3, 3, 14};
/* Linux's SYN: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7. */
static const uint8_t opt_linux[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 1,
                                    2, 3, 0,    0,    0, 0, 1, 3,  3, 7};

static struct tseg with_opts(struct tseg s, const uint8_t *o, size_t n)
{
    s.opts = o;
    s.opts_len = (uint8_t)n;
    return s;
}

/* Established actively, the peer's SYN-ACK carrying opts. */
static void est_with(struct harness *h, uint32_t window, const uint8_t *opts, size_t n,
                     uint16_t peer_win)
{
    h_init(h, window);
    h->rcvbuf = 4 * (size_t)window;
    h_open_active(h, 1000);
    h->now += 50;
    h_input(h, with_opts(synack(5000, 1001, peer_win), opts, n));
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED);
    h_clear(h);
}

/* ---- Negotiation ---- */

static void passive_case(const uint8_t *opts, size_t n, bool sack, bool ws)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    h_open_passive(&h, 7000);
    h_input(&h, with_opts(syn(300), opts, n));
    CU_ASSERT_EQUAL(h.tcb.sack_ok, sack);
    CU_ASSERT_EQUAL(h.tcb.wscale_ok, ws);
    CU_ASSERT_EQUAL(h.tcb.snd_wscale, ws ? 7 : 0);
    CU_ASSERT_EQUAL(h.tcb.rcv_wscale, ws ? 5 : 0);
    CU_ASSERT_FATAL(h.nout == 1);
    const struct oseg *o = &h.out[0];
    CU_ASSERT_EQUAL(o->flags, TH_SYN | TH_ACK);
    /* The SYN-ACK offers only what the SYN offered. */
    CU_ASSERT_EQUAL(o->opt.sack_permitted, sack);
    CU_ASSERT_EQUAL(o->opt.wscale, ws ? 5 : -1);
    CU_ASSERT_EQUAL(o->win, 65535); /* never scaled in a SYN */
    h_free(&h);
}

static void active_case(const uint8_t *opts, size_t n, bool sack, bool ws)
{
    static struct harness h;
    est_with(&h, 1 << 20, opts, n, 65535);
    CU_ASSERT_EQUAL(h.tcb.sack_ok, sack);
    CU_ASSERT_EQUAL(h.tcb.wscale_ok, ws);
    CU_ASSERT_EQUAL(h.tcb.snd_wscale, ws ? 7 : 0);
    CU_ASSERT_EQUAL(h.tcb.rcv_wscale, ws ? 5 : 0);
    h_free(&h);
}

static void test_negotiation(void)
{
    passive_case(NULL, 0, false, false);
    passive_case(opt_sack, sizeof opt_sack, true, false);
    passive_case(opt_ws7, sizeof opt_ws7, false, true);
    passive_case(opt_both, sizeof opt_both, true, true);
    passive_case(opt_linux, sizeof opt_linux, true, true);
    active_case(NULL, 0, false, false);
    active_case(opt_sack, sizeof opt_sack, true, false);
    active_case(opt_ws7, sizeof opt_ws7, false, true);
    active_case(opt_both, sizeof opt_both, true, true);
    active_case(opt_linux, sizeof opt_linux, true, true);
}

/* Switched off in the configuration: not offered, not used. */
static void test_negotiation_off(void)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    h.tcb.cfg.sack = h.tcb.cfg.wscale = false;
    h_open_passive(&h, 7000);
    h_input(&h, with_opts(syn(300), opt_linux, sizeof opt_linux));
    CU_ASSERT(!h.tcb.sack_ok && !h.tcb.wscale_ok);
    CU_ASSERT_EQUAL(h.out[0].th_off, 6); /* MSS only */
    h_free(&h);
}

/* Our SYN: MSS; NOP NOP SACK-permitted; NOP window scale (Linux's order). */
static void test_syn_layout(void)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    tcp_connect(&h.tcb, h.now, 1000);
    tcp_output(&h.tcb, h.now);
    CU_ASSERT_FATAL(h.nout == 1);
    static const uint8_t want[] = {2, 4, 0x02, 0x18, 1, 1, 4, 2, 1, 3, 3, 5};
    CU_ASSERT_EQUAL(h.out[0].th_off, 8);
    CU_ASSERT_EQUAL(h.out[0].optlen, sizeof want);
    CU_ASSERT(memcmp(h.out[0].optbytes, want, sizeof want) == 0);
    CU_ASSERT_EQUAL(h.out[0].win, 65535);
    h_free(&h);
}

/* ---- Window scaling ---- */

static void test_wscale_shift(void)
{
    CU_ASSERT_EQUAL(tcp_wscale_for(3072), 0);
    CU_ASSERT_EQUAL(tcp_wscale_for(65535), 0);
    CU_ASSERT_EQUAL(tcp_wscale_for(65536), 1);
    CU_ASSERT_EQUAL(tcp_wscale_for(131070), 1);
    CU_ASSERT_EQUAL(tcp_wscale_for(131071), 2); /* rounded up it would not fit at 1 */
    CU_ASSERT_EQUAL(tcp_wscale_for(1 << 20), 5);
    CU_ASSERT_EQUAL(tcp_wscale_for(1 << 24), 9);
}

/* Across 2^16: ours advertised scaled, the peer's applied, not on the SYN. */
static void test_wscale_2_16(void)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    h.rcvbuf = 4 << 20;
    tcp_connect(&h.tcb, h.now, 1000);
    tcp_output(&h.tcb, h.now);
    CU_ASSERT_EQUAL(h.out[0].win, 65535); /* the SYN: clamped, unscaled */
    h_clear(&h);
    h_input(&h, with_opts(synack(5000, 1001, 40000), opt_both, sizeof opt_both));
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 40000); /* the SYN-ACK's window is not scaled */
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, (1 << 20) >> 5, 0);
    CU_ASSERT_EQUAL(h.tcb.rcv_wnd, 1u << 20);
    CU_ASSERT_EQUAL(h.tcb.rcv_adv, 5001u + (1u << 20));
    h_input(&h, ack(5001, 1001, 1000));
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 1000u << 7); /* 128000 > 2^16 */
    /* 100 bytes arrive and stay unread: rounding down would move the right
     * edge back by a few bytes, so the field is rounded up instead. */
    h_clear(&h);
    uint8_t buf[100];
    memset(buf, 'x', sizeof buf);
    h_input(&h, datan(5001, 1001, 1000, buf, sizeof buf));
    h_advance(&h, 1000); /* a lone segment's ACK may wait for output */
    CU_ASSERT_FATAL(h.nout >= 1);
    uint32_t field = h.out[h.nout - 1].win;
    CU_ASSERT_EQUAL(field, ((1u << 20) - 100 + 31) >> 5);
    CU_ASSERT(seq_geq(5101 + (field << 5), 5001 + (1u << 20)));
    CU_ASSERT_EQUAL(h.tcb.rcv_adv, 5101 + (field << 5));
    h_free(&h);
}

/* Across 2^24: a 16 MiB window (shift 9), the peer's shift 14. */
static void test_wscale_2_24(void)
{
    static struct harness h;
    h_init(&h, 1 << 24);
    h.rcvbuf = 1 << 25;
    h_open_active(&h, 1000);
    h_input(&h, with_opts(synack(5000, 1001, 65535), opt_ws14, sizeof opt_ws14));
    CU_ASSERT_EQUAL(h.tcb.rcv_wscale, 9);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, (1 << 24) >> 9, 0);
    h_input(&h, ack(5001, 1001, 1024));
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 1u << 24);
    h_free(&h);
}

/* Without scaling, a window above 65535 is advertised as 65535 and the
 * peer's window is taken as it is. */
static void test_wscale_not_negotiated(void)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    h.rcvbuf = 4 << 20;
    h_open_active(&h, 1000);
    h_input(&h, synack(5000, 1001, 40000));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, 65535, 0);
    h_input(&h, ack(5001, 1001, 1000));
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 1000);
    h_free(&h);
}

/* ---- SACK, receiver ---- */

static void expect_blocks(const struct oseg *o, const uint32_t (*want)[2], unsigned n)
{
    CU_ASSERT_EQUAL(o->opt.nsack, n);
    for (unsigned k = 0; k < n && k < o->opt.nsack; k++) {
        CU_ASSERT_EQUAL(o->opt.sack[k].start, want[k][0]);
        CU_ASSERT_EQUAL(o->opt.sack[k].end, want[k][1]);
    }
}

static void peer_data(struct harness *h, uint32_t seq)
{
    h_clear(h);
    h_input(h, data(seq, 1001, 65535, "0123456789"));
    CU_ASSERT_FATAL(h->nout >= 1);
}

static void test_sack_blocks(void)
{
    static struct harness h;
    est_with(&h, 65535, opt_sack, sizeof opt_sack, 65535);
    /* One hole. */
    peer_data(&h, 5011);
    static const uint32_t one[][2] = {{5011, 5021}};
    expect_blocks(&h.out[h.nout - 1], one, 1);
    /* Two holes: the newest block first. */
    peer_data(&h, 5031);
    static const uint32_t two[][2] = {{5031, 5041}, {5011, 5021}};
    expect_blocks(&h.out[h.nout - 1], two, 2);
    /* Several: at most four, newest first. */
    peer_data(&h, 5051);
    peer_data(&h, 5071);
    peer_data(&h, 5091);
    static const uint32_t four[][2] = {{5091, 5101}, {5071, 5081}, {5051, 5061}, {5031, 5041}};
    expect_blocks(&h.out[h.nout - 1], four, 4);
    /* A segment that joins two blocks: the joined block comes first. */
    peer_data(&h, 5021);
    static const uint32_t joined[][2] = {{5011, 5041}, {5091, 5101}, {5071, 5081}, {5051, 5061}};
    expect_blocks(&h.out[h.nout - 1], joined, 4);
    /* The first hole filled: what is still held beyond it. */
    peer_data(&h, 5001);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5041);
    static const uint32_t rest[][2] = {{5091, 5101}, {5071, 5081}, {5051, 5061}};
    expect_blocks(&h.out[h.nout - 1], rest, 3);
    CU_ASSERT(h.tcb.stats.sack_blocks_out >= 1 + 2 + 4 + 4 + 3);
    h_free(&h);
}

/* Without SACK negotiated: no blocks. */
static void test_sack_blocks_not_negotiated(void)
{
    static struct harness h;
    est_with(&h, 65535, NULL, 0, 65535);
    peer_data(&h, 5011);
    CU_ASSERT_EQUAL(h.out[h.nout - 1].opt.nsack, 0);
    CU_ASSERT_EQUAL(h.out[h.nout - 1].th_off, 5);
    h_free(&h);
}

/* ---- SACK, sender ---- */

#define SEG(i) (DATA + (i)*MSS) /* the first byte of segment i (0-based) */

/* Established with SACK and algorithm algo, ten segments in flight. */
static void ten_in_flight(struct harness *h, const struct cc_algo *algo)
{
    h_init(h, 65535);
    h->tcb.cfg.cc = algo;
    h->rcvbuf = 1 << 20;
    h_open_active(h, 1000);
    h->now += 50;
    h_input(h, with_opts(synack(5000, 1001, 65535), opt_sack, sizeof opt_sack));
    h_clear(h);
    h_write_n(h, 10 * MSS);
    CU_ASSERT_EQUAL_FATAL(h->nout, 10);
    h_clear(h);
}

static void test_scoreboard_islost_pipe(void)
{
    static struct harness h;
    ten_in_flight(&h, &cc_none);
    const struct tcb *t = &h.tcb;
    static const uint32_t b1[][2] = {{SEG(1), SEG(2)}};
    h_input(&h, h_sack_ack(DATA, 65535, b1, 1));
    CU_ASSERT_EQUAL(t->sb.n, 1);
    CU_ASSERT_EQUAL(t->stats.sack_blocks_in, 1);
    CU_ASSERT(!tcp_sack_is_lost(t, DATA));
    CU_ASSERT_EQUAL(tcp_sack_pipe(t), 9 * MSS);
    static const uint32_t b2[][2] = {{SEG(3), SEG(4)}, {SEG(1), SEG(2)}};
    h_input(&h, h_sack_ack(DATA, 65535, b2, 2));
    CU_ASSERT_EQUAL(t->sb.n, 2);
    CU_ASSERT(!tcp_sack_is_lost(t, DATA)); /* 2 ranges, exactly 2 MSS: not yet */
    CU_ASSERT(!t->in_recovery);
    /* A third range above: DupThresh ranges, and three duplicates. */
    static const uint32_t b3[][2] = {{SEG(5), SEG(6)}, {SEG(3), SEG(4)}, {SEG(1), SEG(2)}};
    h_input(&h, h_sack_ack(DATA, 65535, b3, 3));
    CU_ASSERT(tcp_sack_is_lost(t, DATA));
    CU_ASSERT(!tcp_sack_is_lost(t, SEG(2))); /* 2 ranges above */
    CU_ASSERT(!tcp_sack_is_lost(t, SEG(6)));
    CU_ASSERT(t->in_recovery && t->fast_recovery);
    CU_ASSERT_EQUAL(t->recover, SEG(10));
    CU_ASSERT_EQUAL(t->stats.recoveries, 1);
    /* Recovery: the first hole at once, then NextSeg rule 3 for the holes
     * below SACKed data (no new data is queued), lowest first. */
    CU_ASSERT_EQUAL_FATAL(h.nout, 3);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, 65535, MSS);
    EXPECT_SEG(&h, 1, TH_ACK, SEG(2), 5001, 65535, MSS);
    EXPECT_SEG(&h, 2, TH_ACK, SEG(4), 5001, 65535, MSS);
    CU_ASSERT_EQUAL(t->sb.high_rxt, SEG(5));
    CU_ASSERT_EQUAL(t->stats.rexmit_sack, 2);
    /* pipe: holes 0 (lost, resent: 1), 2 and 4 (not lost, resent: 2 each),
     * and segments 6..9 above the highest SACK. */
    CU_ASSERT_EQUAL(tcp_sack_pipe(t), (1 + 2 + 2 + 4) * MSS);
    /* A partial ACK trims the scoreboard. */
    h_clear(&h);
    static const uint32_t b4[][2] = {{SEG(5), SEG(6)}, {SEG(3), SEG(4)}};
    h_input(&h, h_sack_ack(SEG(2), 65535, b4, 2));
    CU_ASSERT_EQUAL(t->snd_una, SEG(2));
    CU_ASSERT_EQUAL(t->sb.n, 2);
    CU_ASSERT_EQUAL(t->sb.r[0].start, SEG(3));
    CU_ASSERT(t->in_recovery);
    /* The ACK of everything ends recovery. */
    h_input(&h, ack(5001, SEG(10), 65535));
    CU_ASSERT(!t->in_recovery);
    CU_ASSERT_EQUAL(t->sb.n, 0);
    CU_ASSERT_EQUAL(h.cc_events[TCP_CC_RECOVERED], 1);
    h_free(&h);
}

/* NextSeg rule 1 picks the first lost hole, and the pipe limits sending
 * (RFC 6675's recovery: RACK switched off, as STCP_RACK=0 does). */
static void test_nextseg_first_hole_under_cwnd(void)
{
    static struct harness h;
    ten_in_flight(&h, &cc_newreno);
    h.tcb.cfg.rack = false;
    const struct tcb *t = &h.tcb;
    /* Segments 0 and 2 lost; 1 and 3..9 SACKed by successive duplicates. */
    static const uint32_t b[][2] = {
        {SEG(1), SEG(2)}, {SEG(3), SEG(4)}, {SEG(3), SEG(5)}, {SEG(3), SEG(6)}};
    h_input(&h, h_sack_ack(DATA, 65535, &b[0], 1));
    h_input(&h, h_sack_ack(DATA, 65535, &b[1], 1));
    CU_ASSERT(!t->in_recovery);
    h_input(&h, h_sack_ack(DATA, 65535, &b[2], 1));
    CU_ASSERT(t->in_recovery); /* 3 duplicates; bytes above: 3 MSS */
    /* newreno: ssthresh = cwnd = FlightSize / 2 = 5 MSS; pipe 10 - 3 SACKed,
     * segment 0 lost and resent: 7 MSS.  Only the first hole goes. */
    CU_ASSERT_EQUAL(t->cc.cwnd, 5 * MSS);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, 65535, MSS);
    h_clear(&h);
    /* More SACKs: segment 2 becomes lost (3 MSS above it); the pipe
     * shrinks below cwnd and rule 1 sends segment 2 -- the first hole past
     * HighRxt, not new data. */
    static const uint32_t more[][2] = {{SEG(3), SEG(8)}, {SEG(1), SEG(2)}};
    h_input(&h, h_sack_ack(DATA, 65535, more, 2));
    CU_ASSERT(h.nout >= 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(2), 5001, 65535, MSS);
    h_free(&h);
}

/* Without RACK (STCP_RACK=0), a timeout clears the scoreboard (RFC 6675
 * 5.1) and applies the loss window.  With RACK it keeps it (test_rack.c). */
static void test_rto_clears_scoreboard(void)
{
    static struct harness h;
    ten_in_flight(&h, &cc_newreno);
    h.tcb.cfg.rack = false;
    static const uint32_t b[][2] = {{SEG(4), SEG(6)}};
    h_input(&h, h_sack_ack(DATA, 65535, b, 1));
    CU_ASSERT_EQUAL(h.tcb.sb.n, 1);
    h_clear(&h);
    h_advance(&h, h.tcb.rto + 1);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.sb.n, 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, 65535, MSS);
    h_free(&h);
}

/* SACK blocks that are not possible are ignored. */
static void test_bad_sack_blocks_ignored(void)
{
    static struct harness h;
    ten_in_flight(&h, &cc_none);
    static const uint32_t b[][2] = {{SEG(3), SEG(2)},    /* backwards */
                                    {SEG(9), SEG(12)},   /* beyond snd_max */
                                    {DATA - 100, DATA}}; /* below snd_una */
    h_input(&h, h_sack_ack(DATA, 65535, b, 3));
    CU_ASSERT_EQUAL(h.tcb.sb.n, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.sack_blocks_in, 0);
    h_free(&h);
}

/* ---- A transfer with losses: rounds with and without SACK ---- */

#define NSEG 20

/* A receiver that drops the first copy of some segments and ACKs every
 * segment at once, with SACK blocks (newest first) if sack. */
struct peer {
    bool got[NSEG], dropped[NSEG];
    int last; /* the latest segment received */
    bool sack;
};

static uint32_t peer_una(const struct peer *p)
{
    unsigned i = 0;
    while (i < NSEG && p->got[i])
        i++;
    return SEG(i);
}

static struct tseg peer_ack(const struct peer *p)
{
    static uint32_t blk[4][2];
    unsigned n = 0;
    uint32_t una = peer_una(p);
    if (p->sack && p->last >= 0 && SEG(p->last) > una) {
        /* The run holding the latest segment, then the others, highest first. */
        int lo = p->last, hi = p->last;
        while (lo > 0 && p->got[lo - 1])
            lo--;
        while (hi + 1 < NSEG && p->got[hi + 1])
            hi++;
        blk[n][0] = SEG(lo);
        blk[n][1] = SEG(hi + 1);
        n++;
        for (int i = NSEG - 1; i >= 0 && n < 4; i--) {
            if (!p->got[i] || (i >= lo && i <= hi) || SEG(i) < una)
                continue;
            int j = i;
            while (j > 0 && p->got[j - 1])
                j--;
            if (SEG(j) >= una) {
                blk[n][0] = SEG(j);
                blk[n][1] = SEG(i + 1);
                n++;
            }
            i = j;
        }
    }
    return n ? h_sack_ack(una, 65535, (const uint32_t(*)[2])blk, n) : ack(5001, una, 65535);
}

/* Rounds until all NSEG segments are acknowledged; each round delivers
 * what was emitted and feeds back the ACKs.  A round that emits nothing
 * waits for the retransmission timer. */
static unsigned transfer_rounds(bool sack, uint64_t *timeouts, uint64_t *recoveries)
{
    static struct harness h;
    h_init(&h, 65535);
    h.tcb.cfg.cc = &cc_newreno;
    h.tcb.cfg.sack = sack;
    h.rcvbuf = 1 << 20;
    h_open_active(&h, 1000);
    h.now += 50;
    h_input(&h, with_opts(synack(5000, 1001, 65535), opt_sack, sizeof opt_sack));
    h_clear(&h);
    /* Newreno's initial window is 10 segments; the losses are in it. */
    static const int lose[] = {1, 3, 5, 7};
    struct peer p = {.last = -1, .sack = sack};
    for (size_t k = 0; k < sizeof lose / sizeof lose[0]; k++)
        p.dropped[lose[k]] = false;
    h_write_n(&h, NSEG * MSS);
    unsigned rounds = 0;
    static struct oseg sent[H_MAX_OUT];
    while (h.tcb.snd_una != SEG(NSEG) && rounds < 100) {
        rounds++;
        unsigned n = h.nout;
        if (!n) {
            h_advance(&h, h.tcb.rto + 1);
            continue;
        }
        memcpy(sent, h.out, n * sizeof sent[0]);
        h_clear(&h);
        h.now += 100; /* one round trip */
        for (unsigned i = 0; i < n; i++) {
            if (!sent[i].len)
                continue;
            int idx = (int)((sent[i].seq - DATA) / MSS);
            bool drop = false;
            for (size_t k = 0; k < sizeof lose / sizeof lose[0]; k++)
                if (lose[k] == idx && !p.dropped[idx])
                    drop = p.dropped[idx] = true;
            if (drop)
                continue;
            p.got[idx] = true;
            p.last = idx;
            h_input(&h, peer_ack(&p));
        }
    }
    CU_ASSERT_EQUAL(h.tcb.snd_una, SEG(NSEG));
    *timeouts = h.tcb.stats.timeouts;
    *recoveries = h.tcb.stats.recoveries;
    h_free(&h);
    return rounds;
}

static void test_transfer_fewer_rounds_with_sack(void)
{
    uint64_t to_sack, rec_sack, to_plain, rec_plain;
    unsigned with_sack = transfer_rounds(true, &to_sack, &rec_sack);
    unsigned without = transfer_rounds(false, &to_plain, &rec_plain);
    /* With SACK: all four holes in one recovery episode, no timeout. */
    CU_ASSERT_EQUAL(rec_sack, 1);
    CU_ASSERT_EQUAL(to_sack, 0);
    /* Without: NewReno finds one hole per round trip. */
    CU_ASSERT(with_sack < without);
}

void register_sack_suites(void);
void register_sack_suites(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        {"negotiation: none, SACK, wscale, both, Linux", test_negotiation},
        {"negotiation switched off", test_negotiation_off},
        {"our SYN's options", test_syn_layout},
        {"window scale shift", test_wscale_shift},
        {"scaled windows across 2^16", test_wscale_2_16},
        {"scaled windows across 2^24", test_wscale_2_24},
        {"no scaling: 65535 advertised", test_wscale_not_negotiated},
        {"SACK blocks: one, two, several holes", test_sack_blocks},
        {"no SACK blocks without SACK", test_sack_blocks_not_negotiated},
        {"scoreboard, IsLost, pipe, recovery", test_scoreboard_islost_pipe},
        {"NextSeg: first lost hole, under cwnd (RACK off)", test_nextseg_first_hole_under_cwnd},
        {"RTO clears the scoreboard (RACK off)", test_rto_clears_scoreboard},
        {"impossible SACK blocks ignored", test_bad_sack_blocks_ignored},
        {"lossy transfer: fewer rounds with SACK", test_transfer_fewer_rounds_with_sack},
    };
    CU_pSuite s = CU_add_suite("sack", NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_add_test(s, cases[i].name, cases[i].fn);
}
