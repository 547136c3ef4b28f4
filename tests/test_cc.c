/* test_cc.c -- congestion control, packet by packet and hook by hook.
 *
 * The packet-level cases run a connection (ISS 1000, IRS 5000, both
 * windows 65535, so the congestion window is the limit) and check what the
 * sender emits after each ACK, duplicate ACK or timeout.  MSS 536, so the
 * initial window (RFC 6928) is min(10 * 536, max(2 * 536, 14600)) = 5360
 * bytes: ten segments.  Our data starts at 1001; ten segments end at 6361.
 *
 * The CUBIC cases drive the algorithm's hooks directly with an MSS of
 * 1000 bytes and compare the window with RFC 9438's formulas, computed
 * here independently. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "harness.h"
#include "mysock.h"

#define WIN  65535u
#define MSS  536u
#define IW   5360u /* RFC 6928 for MSS 536 */
#define DATA 1001u /* our first data byte */
#define END  (DATA + IW)

/* ---- Helpers ---- */

/* ESTABLISHED with algorithm algo, both windows WIN, a 50 us RTT sample. */
static void est_cc(struct harness *h, const struct cc_algo *algo)
{
    h_init(h, WIN);
    h->tcb.cfg.cc = algo;
    h_established(h, 1000, 5000, WIN);
}

static void peer_ack(struct harness *h, uint32_t ackno)
{
    h_input(h, ack(5001, ackno, WIN));
}

/* Bytes of payload emitted since the last h_clear. */
static uint32_t bytes_emitted(const struct harness *h)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < h->nout; i++)
        n += h->out[i].len;
    return n;
}

/* Established with algo, the initial window sent (ten segments) and
 * plenty more queued behind it. */
static void full_window(struct harness *h, const struct cc_algo *algo)
{
    est_cc(h, algo);
    h_write_n(h, 60000);
    CU_ASSERT_EQUAL_FATAL(h->nout, 10);
    CU_ASSERT_EQUAL_FATAL(h->tcb.snd_nxt, END);
    h_clear(h);
}

static void dupacks(struct harness *h, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        peer_ack(h, h->tcb.snd_una);
}

/* ======================= Initial window ================================== */

static void test_iw_rfc6928(void)
{
    const struct cc_algo *algos[] = {&cc_newreno, &cc_cubic};
    for (unsigned a = 0; a < 2; a++) {
        struct harness h;
        est_cc(&h, algos[a]);
        CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW);
        CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, UINT32_MAX);
        h_write_n(&h, 20000);
        CU_ASSERT_EQUAL(bytes_emitted(&h), IW); /* ten segments, then wait */
        CU_ASSERT_EQUAL(h.nout, 10);
        h_free(&h);
    }
}

/* RFC 6928 2: after a lost SYN the initial window is one segment. */
static void test_iw_one_segment_after_syn_resent(void)
{
    struct harness h;
    h_init(&h, WIN);
    h.tcb.cfg.cc = &cc_newreno;
    h_open_active(&h, 1000);
    h_advance(&h, h.tcb.cfg.rto_initial); /* the SYN again */
    h_input(&h, synack(5000, 1001, WIN));
    CU_ASSERT_EQUAL_FATAL(h.tcb.state, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    h_clear(&h);
    h_write_n(&h, 5000);
    CU_ASSERT_EQUAL(h.nout, 1);
    h_free(&h);
}

/* ======================= none: the classic sender ======================== */

static void test_none_window_is_the_limit(void)
{
    struct harness h;
    est_cc(&h, &cc_none);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, WIN);
    h_write_n(&h, 20000);
    CU_ASSERT_EQUAL(bytes_emitted(&h), 20000); /* no initial window */
    h_clear(&h);
    dupacks(&h, 3); /* fast retransmit, but no change of window */
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, WIN);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, UINT32_MAX);
    h_clear(&h);
    h_advance(&h, h.tcb.rto); /* a timeout resends the oldest segment only */
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, h.tcb.snd_max); /* no go-back-N */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, WIN);
    h_free(&h);
}

/* ======================= NewReno (RFC 5681, RFC 6582) ==================== */

/* Slow start: what each ACK covers, at most 2 MSS (RFC 3465, L = 2). */
static void test_newreno_slow_start_per_ack(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    peer_ack(&h, DATA + 3 * MSS); /* three segments acked: two count */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 2 * MSS);
    /* 7 segments left in flight, room for 12: five new ones. */
    EXPECT_NOUT(&h, 5);
    EXPECT_SEG(&h, 0, TH_ACK, END, 5001, WIN, MSS);
    h_clear(&h);
    peer_ack(&h, DATA + 4 * MSS); /* one more */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 3 * MSS);
    EXPECT_NOUT(&h, 2);
    h_free(&h);
}

/* After a timeout, slow start adds at most 1 MSS per ACK (RFC 3465 2.3). */
static void test_newreno_slow_start_after_timeout(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    h_advance(&h, h.tcb.rto + 1);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    peer_ack(&h, DATA + 3 * MSS); /* the resend and two more segments acked */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, 2 * MSS);
    h_free(&h);
}

/* An application-limited sender does not grow cwnd (RFC 7661). */
static void test_newreno_no_growth_when_not_cwnd_limited(void)
{
    struct harness h;
    est_cc(&h, &cc_newreno);
    h_write_n(&h, 2 * MSS);
    peer_ack(&h, DATA + 2 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW);
    h_free(&h);
}

/* Sender silly window avoidance under cwnd: an ACK that opens cwnd by less
 * than an MSS sends nothing (before: a segment of those few bytes), and
 * full segments go once a whole MSS fits.  Where the last queued bytes
 * are less than an MSS, they go. */
static void test_cwnd_sends_whole_segments(void)
{
    const struct cc_algo *algos[] = {&cc_newreno, &cc_cubic};
    for (unsigned a = 0; a < 2; a++) {
        struct harness h;
        full_window(&h, algos[a]);
        peer_ack(&h, DATA + 100); /* cwnd + 100, flight - 100: 200 bytes of room */
        CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 100);
        EXPECT_NOUT(&h, 0);
        peer_ack(&h, DATA + MSS); /* cwnd + 436 more: two whole segments of room */
        CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + MSS);
        EXPECT_NOUT(&h, 2);
        EXPECT_SEG(&h, 0, TH_ACK, END, 5001, WIN, MSS);
        EXPECT_SEG(&h, 1, TH_ACK, END + MSS, 5001, WIN, MSS);
        h_free(&h);
    }
    /* Only 100 bytes queued beyond the window: they go at once. */
    struct harness h;
    est_cc(&h, &cc_newreno);
    h_write_n(&h, IW + 100);
    h_clear(&h);
    peer_ack(&h, DATA + 100);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, END, 5001, WIN, 100);
    h_free(&h);
}

/* Congestion avoidance: one MSS once a whole cwnd has been acknowledged. */
static void test_newreno_avoidance_one_mss_per_rtt(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    h.tcb.cc.ssthresh = IW; /* congestion avoidance from here */
    for (uint32_t i = 1; i < 10; i++) {
        peer_ack(&h, DATA + i * MSS);
        CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW);
    }
    peer_ack(&h, DATA + 10 * MSS); /* a whole window acknowledged */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + MSS);
    for (uint32_t i = 11; i < 21; i++)
        peer_ack(&h, DATA + i * MSS); /* ten more, cwnd is now eleven */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + MSS);
    peer_ack(&h, DATA + 21 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 2 * MSS);
    h_free(&h);
}

/* Three duplicate ACKs: resend, ssthresh = max(FlightSize / 2, 2 MSS),
 * cwnd = ssthresh + 3 MSS, then one MSS more per further duplicate. */
static void test_newreno_three_dupacks_halve(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    dupacks(&h, 2);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW);
    dupacks(&h, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS); /* fast retransmit */
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, IW / 2);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW / 2 + 3 * MSS);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 1);
    CU_ASSERT_EQUAL(h.cc_events[TCP_CC_RECOVERY], 1);
    h_clear(&h);
    dupacks(&h, 3); /* inflation: 2680 + 6 * 536 = 5896, 536 more than in flight */
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW / 2 + 6 * MSS);
    EXPECT_NOUT(&h, 1); /* one new segment fits */
    EXPECT_SEG(&h, 0, TH_ACK, END, 5001, WIN, MSS);
    h_free(&h);
}

/* A small flight: ssthresh is at least 2 MSS. */
static void test_newreno_ssthresh_floor(void)
{
    struct harness h;
    est_cc(&h, &cc_newreno);
    h_write_n(&h, 4 * MSS);
    dupacks(&h, 3);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, 2 * MSS);
    h_free(&h);
}

/* RFC 6582: a partial ACK resends the next hole and deflates cwnd by what
 * it covered (plus one MSS back); the full ACK ends recovery with
 * cwnd = min(ssthresh, max(FlightSize, MSS) + MSS). */
static void test_newreno_partial_then_full_ack(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    dupacks(&h, 3);
    CU_ASSERT_EQUAL(h.tcb.recover, END);
    h_clear(&h);
    uint32_t before = h.tcb.cc.cwnd;
    peer_ack(&h, DATA + 2 * MSS); /* partial: two segments */
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, before - 2 * MSS + MSS);
    CU_ASSERT_FATAL(h.nout >= 1);
    EXPECT_SEG(&h, 0, TH_ACK, DATA + 2 * MSS, 5001, WIN, MSS); /* the next hole */
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 1);
    h_clear(&h);
    uint32_t flight = h.tcb.snd_max - END; /* what the full ACK leaves in flight */
    peer_ack(&h, END);                     /* everything up to recover */
    CU_ASSERT(!h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.cc_events[TCP_CC_RECOVERED], 1);
    uint32_t expect =
        IW / 2 < (flight > MSS ? flight : MSS) + MSS ? IW / 2 : (flight > MSS ? flight : MSS) + MSS;
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, expect);
    h_free(&h);
}

/* A timeout: ssthresh = FlightSize / 2, cwnd = one MSS (the loss window),
 * and everything from snd_una is sent again under it (go-back-N). */
static void test_newreno_timeout_loss_window(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    h_advance(&h, h.tcb.rto);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, IW / 2);
    CU_ASSERT_EQUAL(h.cc_events[TCP_CC_TIMEOUT], 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, DATA + MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_max, END);
    h_clear(&h);
    /* Slow start again: two segments for the next ACK, both resends. */
    peer_ack(&h, DATA + MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, 2 * MSS);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, DATA + MSS, 5001, WIN, MSS);
    EXPECT_SEG(&h, 1, TH_ACK, DATA + 2 * MSS, 5001, WIN, MSS);
    CU_ASSERT_EQUAL(h.tcb.stats.bytes_out, IW); /* resends are not new bytes */
    h_clear(&h);
    /* The peer had the rest: the ACK jumps past snd_nxt, up to snd_max. */
    peer_ack(&h, END);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, h.tcb.snd_max);
    CU_ASSERT(!h.tcb.in_recovery);
    CU_ASSERT(h.nout >= 1);
    EXPECT_SEG(&h, 0, TH_ACK, END, 5001, WIN, MSS); /* new data again */
    h_free(&h);
}

/* RFC 6582 3.2 step 1: duplicate ACKs for snd_una == recover (as the
 * duplicates of a go-back-N produce) start no recovery; beyond it they do. */
static void test_newreno_no_recovery_at_recover(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    h_advance(&h, h.tcb.rto); /* recover = END */
    peer_ack(&h, END);        /* the peer had it all: recovery over */
    CU_ASSERT(!h.tcb.in_recovery);
    CU_ASSERT_EQUAL_FATAL(h.tcb.snd_una, h.tcb.recover);
    CU_ASSERT_FATAL(h.tcb.snd_max != h.tcb.snd_una); /* new data went out */
    uint32_t ssthresh = h.tcb.cc.ssthresh;
    h_clear(&h);
    dupacks(&h, 3);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT(!h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, ssthresh);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 0);
    peer_ack(&h, END + MSS); /* now beyond recover */
    h_clear(&h);
    dupacks(&h, 3);
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 1);
    EXPECT_SEG(&h, 0, TH_ACK, END + MSS, 5001, WIN, MSS);
    h_free(&h);
}

/* A second timeout for the same data keeps ssthresh (RFC 5681 3.1). */
static void test_newreno_repeated_timeout_keeps_ssthresh(void)
{
    struct harness h;
    full_window(&h, &cc_newreno);
    h_advance(&h, h.tcb.rto);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, IW / 2);
    h_advance(&h, h.tcb.rto);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, IW / 2);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 2);
    h_free(&h);
}

/* The go-back-N ends with the FIN, which is resent in its turn. */
static void test_newreno_timeout_resends_fin_in_turn(void)
{
    struct harness h;
    est_cc(&h, &cc_newreno);
    h_write_n(&h, 2 * MSS);
    h_close(&h); /* FIN at DATA + 2 MSS */
    CU_ASSERT_EQUAL(h.tcb.snd_max, DATA + 2 * MSS + 1);
    h_clear(&h);
    h_advance(&h, h.tcb.rto);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS);
    h_clear(&h);
    peer_ack(&h, DATA + MSS);
    EXPECT_NOUT(&h, 1); /* the last data segment, with the FIN */
    EXPECT_SEG(&h, 0, TH_ACK | TH_FIN, DATA + MSS, 5001, WIN, MSS);
    h_clear(&h);
    peer_ack(&h, DATA + 2 * MSS + 1);
    CU_ASSERT_EQUAL(h.tcb.state, TCPS_FIN_WAIT_2);
    CU_ASSERT_EQUAL(h.close_done, 1);
    h_free(&h);
}

/* ======================= CUBIC, packet level ============================= */

static void test_cubic_three_dupacks_beta(void)
{
    struct harness h;
    full_window(&h, &cc_cubic);
    dupacks(&h, 3);
    EXPECT_SEG(&h, 0, TH_ACK, DATA, 5001, WIN, MSS);
    uint32_t ssthresh = (uint32_t)(IW * 0.7); /* beta_cubic = 0.7 */
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, ssthresh);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, ssthresh + 3 * MSS);
    CU_ASSERT_DOUBLE_EQUAL(h.tcb.cc.priv.cubic.w_max, 10.0, 1e-9); /* W_max in MSS */
    h_free(&h);
}

static void test_cubic_timeout_loss_window(void)
{
    struct harness h;
    full_window(&h, &cc_cubic);
    h_advance(&h, h.tcb.rto);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, (uint32_t)(IW * 0.7));
    EXPECT_NOUT(&h, 1);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, DATA + MSS);
    h_free(&h);
}

/* Slow start below ssthresh, as NewReno. */
static void test_cubic_slow_start_per_ack(void)
{
    struct harness h;
    full_window(&h, &cc_cubic);
    peer_ack(&h, DATA + 2 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 2 * MSS);
    peer_ack(&h, DATA + 3 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 3 * MSS);
    h_free(&h);
}

/* ======================= HyStart: the first slow start's exit ============ */

#define PATH_RTT 20000u /* us */
#define CMSS_HS  1000u

/* ESTABLISHED with algo after a handshake of PATH_RTT (the RTO is then
 * far above it), hystart as given; the initial window sent, more queued. */
static void est_path(struct harness *h, const struct cc_algo *algo, bool hystart)
{
    h_init(h, WIN);
    h->tcb.cfg.cc = algo;
    h->tcb.cfg.hystart = hystart;
    h_open_active(h, 1000);
    h->now += PATH_RTT;
    h_input(h, synack(5000, 1001, WIN));
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED);
    h_clear(h);
    h_write_n(h, 60000);
    CU_ASSERT_EQUAL_FATAL(h->nout, 10);
}

/* One RTT later, the initial window's ten segments are ACKed one by one,
 * spacing us apart; returns the first ACK after which slow start had
 * given way (to CSS, or to congestion avoidance), 1..10, or 0. */
static unsigned ack_train(struct harness *h, stcp_usec_t spacing)
{
    h->now += PATH_RTT;
    for (unsigned k = 1; k <= 10; k++) {
        if (k > 1)
            h->now += spacing;
        peer_ack(h, DATA + k * MSS);
        if (h->tcb.cc.ssthresh != UINT32_MAX || h->tcb.cc.hs.css_baseline)
            return k;
    }
    return 0;
}

/* ACKs back to back (2 ms apart) for more than half the RTT (10 ms): the
 * flight fills the path, and newreno's slow start gives way to CSS -- at
 * the seventh ACK (12 ms into the train; cwnd 17 segments, above the 16
 * below which HyStart does nothing), with the path's least RTT (20 ms) as
 * the baseline.  The next ACK grows cwnd by a quarter of slow start's
 * growth.  Cubic takes RFC 9406's RTTs alone (cc_cubic.c says why): the
 * same train leaves it in slow start. */
static void test_hystart_ack_train_ends_slow_start(void)
{
    struct harness h;
    est_path(&h, &cc_newreno, true);
    CU_ASSERT_EQUAL(ack_train(&h, 2000), 7);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 7 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.hs.css_baseline, PATH_RTT);
    CU_ASSERT(h.tcb.cc.hs.css_by_train);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, UINT32_MAX);
    h.now += 2000;
    peer_ack(&h, DATA + 8 * MSS);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 7 * MSS + MSS / 4);
    h_free(&h);
    est_path(&h, &cc_cubic, true);
    CU_ASSERT_EQUAL(ack_train(&h, 2000), 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 10 * MSS); /* slow start throughout */
    h_free(&h);
    /* 3 ms apart is still back to back on a 20 ms path (gaps up to a
     * quarter of the RTT): 12 ms into the train cwnd is 15 segments, below
     * HyStart's 16, so the sixth ACK (15 ms) ends slow start. */
    est_path(&h, &cc_newreno, true);
    CU_ASSERT_EQUAL(ack_train(&h, 3000), 6);
    h_free(&h);
}

/* The same ACKs 6 ms apart are no train (gaps above a quarter of the RTT:
 * the path is idle between them), and with HyStart off (STCP_HYSTART=0)
 * even a train does not end slow start. */
static void test_hystart_no_exit_without_train(void)
{
    struct harness h;
    est_path(&h, &cc_newreno, true);
    CU_ASSERT_EQUAL(ack_train(&h, 6000), 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 10 * MSS); /* slow start throughout */
    h_free(&h);
    est_path(&h, &cc_newreno, false);
    CU_ASSERT_EQUAL(ack_train(&h, 2000), 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, IW + 10 * MSS);
    h_free(&h);
}

/* RFC 9406 by its hooks, MSS 1000, cwnd 20 MSS, ACKs 10 ms apart (no
 * train).  round(): one round of n ACKs of 2 MSS with RTT sample rtt; the
 * first ACK passes the last round's end (snd_una reaches snd_max). */
struct hs_path {
    struct cc_state cc;
    uint64_t now;
};

static void hs_path_init(struct hs_path *p)
{
    memset(p, 0, sizeof *p);
    p->cc.algo = &cc_newreno;
    p->cc.mss = CMSS_HS;
    p->cc.max_cwnd = 1u << 30;
    p->cc.hystart = true;
    cc_newreno.init(&p->cc, 0);
    p->cc.cwnd = 20 * CMSS_HS;
    p->now = 10 * 1000000ull;
}

static uint64_t hs_spacing = 10000; /* us between ACKs: no train */

static void hs_ack(struct hs_path *p, uint64_t rtt)
{
    p->now += hs_spacing;
    p->cc.snd_una += 2 * CMSS_HS;
    cc_newreno.on_rtt_sample(&p->cc, rtt, rtt);
    cc_newreno.on_ack(&p->cc, 2 * CMSS_HS, p->now);
}

static void hs_round(struct hs_path *p, unsigned n, uint64_t rtt)
{
    p->cc.snd_una = p->cc.snd_max;   /* the last round's data all ACKed */
    p->cc.snd_max += 1000 * CMSS_HS; /* this round's, sent meanwhile */
    p->cc.snd_una -= 2 * CMSS_HS;    /* hs_ack adds it back */
    for (unsigned i = 0; i < n; i++)
        hs_ack(p, rtt);
}

/* A round whose least RTT is 4 ms (RFC 9406's MIN_RTT_THRESH; 20/8 is
 * less) above the last round's: after its eighth sample (N_RTT_SAMPLE),
 * Conservative Slow Start -- growth a quarter of slow start's -- and after
 * CSS_ROUNDS (5) rounds in CSS, ssthresh = cwnd. */
static void test_hystart_delay_rise_css_then_avoidance(void)
{
    struct hs_path p;
    hs_path_init(&p);
    hs_round(&p, 8, 20000);
    CU_ASSERT_EQUAL(p.cc.cwnd, 36 * CMSS_HS); /* slow start: 2 MSS per ACK */
    hs_round(&p, 7, 24000);
    CU_ASSERT_EQUAL(p.cc.cwnd, 50 * CMSS_HS); /* seven samples: not yet */
    hs_ack(&p, 24000);                        /* the eighth: rise seen */
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 24000);
    uint32_t before = p.cc.cwnd;
    hs_ack(&p, 24000);
    CU_ASSERT_EQUAL(p.cc.cwnd - before, 2 * CMSS_HS / 4); /* CSS */
    for (unsigned r = 1; r < 5; r++) {
        hs_round(&p, 8, 24000);
        CU_ASSERT_EQUAL(p.cc.ssthresh, UINT32_MAX);
    }
    hs_round(&p, 1, 24000); /* the fifth round in CSS begins: done */
    CU_ASSERT_EQUAL(p.cc.ssthresh, p.cc.cwnd);
    CU_ASSERT_EQUAL(p.cc.hs.left, CC_SS_LEFT_DELAY);
}

/* A CSS the ACK train began (ACKs 0.5 ms apart for more than half of the
 * 20 ms RTT) has the path's least RTT as its baseline, and lasts
 * CSS_ROUNDS rounds, however the RTT rises meanwhile (RFC 9406's CSS):
 * then ssthresh = cwnd. */
static void test_hystart_train_css_lasts_its_rounds(void)
{
    struct hs_path p;
    hs_path_init(&p);
    hs_spacing = 500;
    hs_round(&p, 22, 20000); /* 21 gaps of 0.5 ms: 10.5 ms of train */
    CU_ASSERT(p.cc.hs.css_by_train);
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 20000);
    hs_spacing = 10000;
    for (unsigned r = 1; r < 5; r++) {
        uint32_t before = p.cc.cwnd;
        hs_round(&p, 8, 30000);
        CU_ASSERT_EQUAL(p.cc.cwnd - before, 8 * 2 * CMSS_HS / 4); /* CSS's growth */
        CU_ASSERT_EQUAL(p.cc.ssthresh, UINT32_MAX);
    }
    hs_round(&p, 1, 30000); /* the fifth round in CSS begins */
    CU_ASSERT_EQUAL(p.cc.ssthresh, p.cc.cwnd);
    CU_ASSERT_EQUAL(p.cc.hs.left, CC_SS_LEFT_TRAIN);
}

/* A round whose end went stale -- more than 2^31 bytes acknowledged
 * without on_ack, the sender held back by the peer's window -- ends at
 * the next on_ack: CSS still counts its rounds and ends. */
static void test_hystart_stale_round_end(void)
{
    struct hs_path p;
    hs_path_init(&p);
    hs_round(&p, 8, 20000);
    hs_round(&p, 8, 24000);
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 24000); /* in CSS */
    p.cc.snd_max += 0x80000100u;                  /* sent and ACKed, no on_ack */
    p.cc.snd_una = p.cc.snd_max;
    for (unsigned r = 0; r < 5; r++)
        hs_round(&p, 8, 24000);
    CU_ASSERT_EQUAL(p.cc.ssthresh, p.cc.cwnd);
    CU_ASSERT_EQUAL(p.cc.hs.left, CC_SS_LEFT_DELAY);
}

/* A rise of less than 4 ms is no signal; and a round in CSS whose least
 * RTT falls below the baseline was jitter: back to slow start. */
static void test_hystart_delay_jitter_resumes_slow_start(void)
{
    struct hs_path p;
    hs_path_init(&p);
    hs_round(&p, 8, 20000);
    hs_round(&p, 8, 23999);
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 0); /* 3.999 ms: no */
    hs_round(&p, 8, 28000);                   /* 4.001 ms over 23.999 */
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 28000);
    hs_round(&p, 8, 21000); /* RTT down again: the rise was jitter */
    CU_ASSERT_EQUAL(p.cc.hs.css_baseline, 0);
    uint32_t before = p.cc.cwnd;
    hs_ack(&p, 21000);
    CU_ASSERT_EQUAL(p.cc.cwnd - before, 2 * CMSS_HS); /* slow start again */
    CU_ASSERT_EQUAL(p.cc.ssthresh, UINT32_MAX);
}

/* ======================= CUBIC, against RFC 9438 ========================= */

#define CMSS 1000u
#define SEC  1000000ull
#define T0   (10 * SEC)
#define K_75 4.217163326508746 /* cbrt(75): K for W_max 100, cwnd_epoch 70 */

static double w_cubic_rfc(double t, double k, double w_max)
{
    return 0.4 * (t - k) * (t - k) * (t - k) + w_max;
}

/* A CUBIC sender with cwnd 100 MSS that has just lost a segment and
 * recovered: W_max = 100, cwnd = ssthresh = 70. */
static void cubic_after_loss(struct cc_state *cc, uint32_t w_mss)
{
    memset(cc, 0, sizeof *cc);
    cc->algo = &cc_cubic;
    cc->mss = CMSS;
    cc->max_cwnd = 1u << 30;
    cc_cubic.init(cc, 0);
    cc->cwnd = w_mss * CMSS;
    cc_cubic.on_enter_recovery(cc, cc->cwnd, 3, T0 - SEC);
    cc_cubic.on_exit_recovery(cc, cc->cwnd, T0 - SEC);
}

/* After the loss, ACKing a whole window at time t brings cwnd to
 * W_cubic(t + RTT) = C (t + RTT - K)^3 + W_max, with
 * K = cbrt((W_max - cwnd_epoch) / C) (RFC 9438 4.2). */
static void test_cubic_window_follows_formula(void)
{
    CU_ASSERT_DOUBLE_EQUAL(K_75 * K_75 * K_75, 75.0, 1e-9);
    struct cc_state cc;
    cubic_after_loss(&cc, 100);
    CU_ASSERT_EQUAL(cc.ssthresh, 70 * CMSS);
    CU_ASSERT_EQUAL(cc.cwnd, 70 * CMSS);
    cc_cubic.on_ack(&cc, 1, T0); /* the epoch begins */
    CU_ASSERT_DOUBLE_EQUAL(cc.priv.cubic.k, K_75, 1e-6);
    const double times[] = {1.0, 2.0, 3.0, K_75, 5.0};
    for (unsigned i = 0; i < sizeof times / sizeof times[0]; i++) {
        uint64_t now = T0 + (uint64_t)(times[i] * SEC);
        cc_cubic.on_ack(&cc, cc.cwnd, now); /* a whole window acknowledged */
        double want = w_cubic_rfc(times[i], K_75, 100.0);
        CU_ASSERT_DOUBLE_EQUAL((double)cc.cwnd / CMSS, want, 0.002);
    }
    CU_ASSERT_DOUBLE_EQUAL((double)cc.cwnd / CMSS, w_cubic_rfc(5.0, K_75, 100.0), 0.002);
}

/* With an RTT, the target is the curve one RTT ahead. */
static void test_cubic_target_one_rtt_ahead(void)
{
    struct cc_state cc;
    cubic_after_loss(&cc, 100);
    cc_cubic.on_rtt_sample(&cc, 100000, 100000); /* 100 ms */
    cc_cubic.on_ack(&cc, 1, T0);
    cc_cubic.on_ack(&cc, cc.cwnd, T0 + 2 * SEC);
    CU_ASSERT_DOUBLE_EQUAL((double)cc.cwnd / CMSS, w_cubic_rfc(2.1, K_75, 100.0), 0.002);
}

/* Growth per RTT is at most half the window (target <= 1.5 cwnd). */
static void test_cubic_growth_capped(void)
{
    struct cc_state cc;
    cubic_after_loss(&cc, 100);
    cc_cubic.on_ack(&cc, 1, T0);
    cc_cubic.on_ack(&cc, cc.cwnd, T0 + 30 * SEC); /* the curve is far above */
    CU_ASSERT_DOUBLE_EQUAL((double)cc.cwnd / CMSS, 1.5 * 70, 0.002);
}

/* Fast convergence: a loss below the last W_max remembers less. */
static void test_cubic_fast_convergence(void)
{
    struct cc_state cc;
    cubic_after_loss(&cc, 100); /* W_max 100, cwnd 70 */
    cc_cubic.on_enter_recovery(&cc, cc.cwnd, 3, T0);
    CU_ASSERT_DOUBLE_EQUAL(cc.priv.cubic.w_max, 70 * (1 + 0.7) / 2, 1e-9);
    CU_ASSERT_EQUAL(cc.ssthresh, 49 * CMSS);
}

/* Reno-friendly region (RFC 9438 4.3): with a small W_max and a short
 * time, Reno's W_est (alpha = 3 (1 - beta) / (1 + beta) per window) is
 * ahead of the curve, and cwnd follows W_est. */
static void test_cubic_reno_friendly_region(void)
{
    struct cc_state cc;
    cubic_after_loss(&cc, 10); /* W_max 10, cwnd 7, K = cbrt(7.5) s */
    double alpha = 3 * (1 - 0.7) / (1 + 0.7);
    double w_est = 7.0;
    cc_cubic.on_ack(&cc, 0, T0);
    for (unsigned i = 1; i <= 20; i++) {
        double cwnd = (double)cc.cwnd / CMSS;
        cc_cubic.on_ack(&cc, CMSS, T0 + i * 1000); /* one MSS per ms */
        w_est += alpha * 1.0 / cwnd;
    }
    double t = 20 * 1000 / 1e6;
    double k = cc.priv.cubic.k;
    CU_ASSERT_DOUBLE_EQUAL(k * k * k, 7.5, 1e-6);
    CU_ASSERT(w_cubic_rfc(t, k, 10.0) < w_est); /* the region's condition */
    CU_ASSERT_DOUBLE_EQUAL((double)cc.cwnd / CMSS, w_est, 0.002);
    CU_ASSERT(cc.cwnd > 7 * CMSS + 2 * CMSS * alpha);
}

/* After a timeout the next epoch starts with K = 0 and W_max = cwnd at the
 * start of congestion avoidance (RFC 9438 4.8). */
static void test_cubic_after_timeout_k_zero(void)
{
    struct cc_state cc;
    cubic_after_loss(&cc, 100);
    cc_cubic.on_timeout(&cc, cc.cwnd, false, T0);
    CU_ASSERT_EQUAL(cc.cwnd, CMSS);
    CU_ASSERT_EQUAL(cc.ssthresh, 49 * CMSS);
    while (cc.cwnd < cc.ssthresh)
        cc_cubic.on_ack(&cc, CMSS, T0 + SEC); /* slow start */
    uint32_t epoch = cc.cwnd;
    cc_cubic.on_ack(&cc, 1, T0 + 2 * SEC);
    CU_ASSERT_DOUBLE_EQUAL(cc.priv.cubic.k, 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(cc.priv.cubic.w_max, (double)epoch / CMSS, 1e-9);
}

/* ======================= Choosing an algorithm =========================== */

static void test_cc_registry(void)
{
    CU_ASSERT_PTR_EQUAL(cc_find("none"), &cc_none);
    CU_ASSERT_PTR_EQUAL(cc_find("newreno"), &cc_newreno);
    CU_ASSERT_PTR_EQUAL(cc_find("cubic"), &cc_cubic);
    CU_ASSERT_PTR_NULL(cc_find("reno"));
    CU_ASSERT_PTR_NULL(cc_find(""));
    CU_ASSERT_PTR_NULL(cc_find(NULL));
    CU_ASSERT_PTR_EQUAL(cc_find(CC_DEFAULT), &cc_cubic);
}

static void test_cc_socket_option(void)
{
    unsetenv("STCP_CC");
    mysocket_t sd = mysocket(TRUE);
    CU_ASSERT_FATAL(sd >= 0);
    char buf[MYSO_STR_MAX];
    CU_ASSERT_EQUAL(mygetsockopt_str(sd, MYSO_CC, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "cubic"); /* the default */
    CU_ASSERT_EQUAL(mysetsockopt_str(sd, MYSO_CC, "newreno"), 0);
    CU_ASSERT_EQUAL(mygetsockopt_str(sd, MYSO_CC, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "newreno");
    errno = 0;
    CU_ASSERT_EQUAL(mysetsockopt_str(sd, MYSO_CC, "vegas"), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(mysetsockopt_str(sd, MYSO_CC, "a-name-far-too-long-for-it"), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(mygetsockopt_str(sd, MYSO_CC, buf, 4), -1); /* "newreno" needs 8 */
    CU_ASSERT_EQUAL(errno, ERANGE);
    long v;
    CU_ASSERT_EQUAL(mygetsockopt(sd, MYSO_CC, &v), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(mysetsockopt(sd, MYSO_CC, 1), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(mysetsockopt_str(sd, MYSO_WINDOW, "1"), -1);
    CU_ASSERT_EQUAL(errno, ENOPROTOOPT);
    myclose(sd);
}

static void test_cc_environment(void)
{
    setenv("STCP_CC", "none", 1);
    mysocket_t sd = mysocket(TRUE);
    CU_ASSERT_FATAL(sd >= 0);
    char buf[MYSO_STR_MAX];
    CU_ASSERT_EQUAL(mygetsockopt_str(sd, MYSO_CC, buf, sizeof buf), 0);
    CU_ASSERT_STRING_EQUAL(buf, "none");
    myclose(sd);
    setenv("STCP_CC", "bogus", 1);
    errno = 0;
    CU_ASSERT_EQUAL(mysocket(TRUE), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    unsetenv("STCP_CC");
}

void register_cc_suites(void);
void register_cc_suites(void)
{
    struct {
        const char *name;
        CU_TestFunc fn;
    } cases[] = {
        {"initial window (RFC 6928)", test_iw_rfc6928},
        {"initial window 1 MSS after a resent SYN", test_iw_one_segment_after_syn_resent},
        {"none: the window is the only limit", test_none_window_is_the_limit},
        {"newreno: slow start per ACK", test_newreno_slow_start_per_ack},
        {"newreno: slow start after a timeout", test_newreno_slow_start_after_timeout},
        {"newreno: no growth when not cwnd-limited", test_newreno_no_growth_when_not_cwnd_limited},
        {"newreno: avoidance, one MSS per RTT", test_newreno_avoidance_one_mss_per_rtt},
        {"cwnd: whole segments only (sender SWS)", test_cwnd_sends_whole_segments},
        {"hystart: an ACK train ends slow start", test_hystart_ack_train_ends_slow_start},
        {"hystart: no exit without a train, or when off", test_hystart_no_exit_without_train},
        {"hystart: RFC 9406 delay rise, CSS, then avoidance",
         test_hystart_delay_rise_css_then_avoidance},
        {"hystart: the train's CSS lasts its rounds", test_hystart_train_css_lasts_its_rounds},
        {"hystart: RFC 9406 jitter resumes slow start",
         test_hystart_delay_jitter_resumes_slow_start},
        {"hystart: a stale round end (2^31 bytes without on_ack)", test_hystart_stale_round_end},
        {"newreno: three dupacks halve", test_newreno_three_dupacks_halve},
        {"newreno: ssthresh at least 2 MSS", test_newreno_ssthresh_floor},
        {"newreno: partial then full ACK", test_newreno_partial_then_full_ack},
        {"newreno: timeout, loss window, go-back-N", test_newreno_timeout_loss_window},
        {"newreno: no recovery for dupacks at recover", test_newreno_no_recovery_at_recover},
        {"newreno: repeated timeout keeps ssthresh", test_newreno_repeated_timeout_keeps_ssthresh},
        {"newreno: go-back-N resends the FIN in turn", test_newreno_timeout_resends_fin_in_turn},
        {"cubic: three dupacks, beta 0.7", test_cubic_three_dupacks_beta},
        {"cubic: timeout, loss window", test_cubic_timeout_loss_window},
        {"cubic: slow start per ACK", test_cubic_slow_start_per_ack},
        {"cubic: window follows W_cubic(t)", test_cubic_window_follows_formula},
        {"cubic: target one RTT ahead", test_cubic_target_one_rtt_ahead},
        {"cubic: growth at most 1.5x per RTT", test_cubic_growth_capped},
        {"cubic: fast convergence", test_cubic_fast_convergence},
        {"cubic: Reno-friendly region", test_cubic_reno_friendly_region},
        {"cubic: after a timeout K = 0", test_cubic_after_timeout_k_zero},
        {"registry", test_cc_registry},
        {"MYSO_CC socket option", test_cc_socket_option},
        {"STCP_CC environment", test_cc_environment},
    };
    CU_pSuite s = CU_add_suite("cc", NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_add_test(s, cases[i].name, cases[i].fn);
}
