/* test_rack.c -- RACK-TLP (RFC 8985), F-RTO (RFC 5682) and what goes with
 * them, packet by packet.
 *
 * Connections: our ISS 1000, the peer's IRS 5000, MSS 536, both windows
 * 65535, SACK negotiated, one RTT sample of 50 us from the handshake (so
 * SRTT 50 us, RTO 200 us -- the floor -- and a probe timeout of
 * 2 SRTT = 100 us).  Segment i (0-based) of our data starts at SEG(i). */
#include <CUnit/CUnit.h>
#include <string.h>

#include "cc.h"
#include "harness.h"

#define MSS    536u
#define WIN    65535u
#define DATA   1001u
#define SEG(i) (DATA + (i)*MSS)

static const uint8_t opt_sack[] = {1, 1, 4, 2};

static struct tseg sack1(uint32_t ackno, uint32_t start, uint32_t end)
{
    const uint32_t b[1][2] = {{start, end}};
    return h_sack_ack(ackno, WIN, b, 1);
}

/* Established with algo and SACK; nseg segments written (the first ten
 * go out: the initial window); outputs cleared. */
static void start(struct harness *h, const struct cc_algo *algo, unsigned nseg)
{
    h_init(h, WIN);
    h->tcb.cfg.cc = algo;
    h->rcvbuf = 1 << 20;
    h_open_active(h, 1000);
    h->now += 50;
    struct tseg sa = synack(5000, 1001, WIN);
    sa.opts = opt_sack;
    sa.opts_len = sizeof opt_sack;
    h_input(h, sa);
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED && h->tcb.sack_ok);
    h_clear(h);
    h_write_n(h, nseg * MSS);
    CU_ASSERT_EQUAL_FATAL(h->nout, nseg < 10 ? nseg : 10);
    h_clear(h);
}

/* How many segments emitted since the last h_clear start at seq. */
static unsigned sent_at(const struct harness *h, uint32_t seq)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->nout; i++)
        n += h->out[i].len && h->out[i].seq == seq;
    return n;
}

/* ---- RACK: time-based loss detection ---- */

/* One segment SACKed above a hole is not yet a loss: RACK waits for the
 * reordering window (min_rtt / 4) past the RTT, then resends -- no
 * duplicate ACK counting, no timeout. */
static void test_rack_reordering_window(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 4);
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(1), SEG(2))); /* segment 0 missing */
    CU_ASSERT(!h.tcb.in_recovery);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT(h.tcb.rack.reo_at != STCP_NO_TIMER);
    h_advance(&h, h.tcb.rack.reo_at - h.now - 1);
    EXPECT_NOUT(&h, 0); /* not before the window has passed */
    h_advance(&h, 1);
    CU_ASSERT(h.tcb.in_recovery && h.tcb.fast_recovery);
    CU_ASSERT_EQUAL(h.tcb.stats.rack_lost, 1);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 0);
    h_free(&h);
}

/* Three segments' worth SACKed above the hole: lost at once (RFC 8985
 * 6.2 step 4: no reordering window then, as RFC 6675's DupThresh). */
static void test_rack_dupthresh_at_once(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 10);
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(1), SEG(4)));
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    h_free(&h);
}

/* A resend that is lost again is found by RACK -- a segment sent after
 * it was delivered -- and sent a third time, without a timeout (RFC 6675
 * alone cannot see it: only the retransmission timer could). */
static void test_rack_lost_retransmission(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 11); /* ten in flight, one queued */
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(1), SEG(4)));
    CU_ASSERT_EQUAL_FATAL(h.nout, 1); /* segment 0 resent: it will be lost */
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    h_clear(&h);
    /* The rest arrives: the pipe drains, and the queued segment 10 goes
     * out after the resend. */
    h.now += 10;
    h_input(&h, sack1(DATA, SEG(1), SEG(10)));
    CU_ASSERT_EQUAL(sent_at(&h, SEG(10)), 1);
    CU_ASSERT_EQUAL(sent_at(&h, SEG(0)), 0);
    h_clear(&h);
    /* Segment 10 is SACKed one RTT later; segment 0's resend, sent before
     * it, is not: lost again. */
    h.now += 50;
    const uint32_t b[2][2] = {{SEG(10), SEG(11)}, {SEG(1), SEG(10)}};
    h_input(&h, h_sack_ack(DATA, WIN, b, 2));
    CU_ASSERT_EQUAL(sent_at(&h, SEG(0)), 1);
    CU_ASSERT_EQUAL(h.tcb.stats.rack_lost_rexmit, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 1); /* one episode */
    h_clear(&h);
    h.now += 50;
    h_input(&h, ack(5001, SEG(11), WIN));
    CU_ASSERT(!h.tcb.in_recovery);
    h_free(&h);
}

/* Proportional Rate Reduction (RFC 6937): recovery begins with the pipe
 * well above ssthresh (one segment SACKed, found lost by the reordering
 * timer).  newreno halves, so one segment goes per two delivered until
 * the pipe is down to ssthresh -- not nothing until it has drained below
 * cwnd. */
static void test_prr_one_per_two_delivered(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 20); /* ten in flight, ten queued */
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(1), SEG(2)));
    h_advance(&h, h.tcb.rack.reo_at - h.now);
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, 5 * MSS); /* FlightSize / 2 */
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);            /* the fast retransmit */
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    /* Segments out after k more are delivered: while the pipe is above
     * ssthresh, ceil(k / 2) (k = 1..4); then the pipe is at ssthresh and
     * PRR-SSRB keeps it there.  (cwnd - pipe alone would send nothing
     * until k = 5: 1 1 1 1 2 3.) */
    static const unsigned expect[] = {1, 1, 2, 2, 2, 3};
    for (unsigned k = 1; k <= 6; k++) {
        h.now += 5;
        h_input(&h, sack1(DATA, SEG(1), SEG(2 + k)));
        CU_ASSERT_EQUAL(h.nout, expect[k - 1]);
    }
    EXPECT_SEG(&h, 1, TH_ACK, SEG(10), 5001, WIN, MSS);
    EXPECT_SEG(&h, 2, TH_ACK, SEG(11), 5001, WIN, MSS);
    h_free(&h);
}

/* ---- TLP: a probe for a lost tail ---- */

/* The last segment is lost and nothing follows it: no ACK can reveal the
 * loss.  2 SRTT after the last ACK the probe resends it, well before the
 * retransmission timer; its ACK ends the episode with a window reduction
 * (no D-SACK to say the probe was needless). */
static void test_tlp_resends_tail(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 4);
    h.now += 50;
    h_input(&h, ack(5001, SEG(3), WIN)); /* segment 3 lost */
    EXPECT_NOUT(&h, 0);
    stcp_usec_t pto = h.tcb.rack.tlp_at - h.now;
    CU_ASSERT_EQUAL(pto, 2 * h.tcb.srtt);
    CU_ASSERT(h.tcb.rack.tlp_at < h.tcb.rexmit_at);
    h_advance(&h, pto - 1);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.tlp_probes, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 0);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(3), 5001, WIN, MSS);
    /* One probe per episode: the retransmission timer is next. */
    CU_ASSERT_EQUAL(h.tcb.rack.tlp_at, STCP_NO_TIMER);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + h.tcb.rto);
    uint32_t cwnd = h.tcb.cc.cwnd;
    h.now += 50;
    h_input(&h, ack(5001, SEG(4), WIN));
    CU_ASSERT(!h.tcb.rack.tlp_out);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 1);
    CU_ASSERT(h.tcb.cc.cwnd < cwnd);
    h_free(&h);
}

/* The probe was needless (only the ACKs were late or lost): the peer
 * reports its data as a duplicate (D-SACK) and no reduction follows. */
static void test_tlp_dsack_no_reduction(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 4);
    h.now += 50;
    h_input(&h, ack(5001, SEG(3), WIN));
    h_advance(&h, h.tcb.rack.tlp_at - h.now);
    CU_ASSERT_EQUAL_FATAL(h.tcb.stats.tlp_probes, 1);
    uint32_t cwnd = h.tcb.cc.cwnd;
    h.now += 50;
    h_input(&h, sack1(SEG(4), SEG(3), SEG(4))); /* D-SACK: below the ACK */
    CU_ASSERT(!h.tcb.rack.tlp_out);
    CU_ASSERT_EQUAL(h.tcb.stats.recoveries, 0);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, cwnd);
    h_free(&h);
}

/* With new data waiting and room in the peer's window, the probe is new
 * data, and the loss it reveals is repaired by RACK. */
static void test_tlp_sends_new_data(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 4);
    h.now += 50;
    h_input(&h, ack(5001, SEG(3), WIN));
    h_clear(&h);
    /* The application writes more, but the probe comes first: cwnd is
     * open, so write only once the probe is due. */
    h_advance(&h, h.tcb.rack.tlp_at - h.now - 1);
    EXPECT_NOUT(&h, 0);
    h.tcb.cc.cwnd = MSS; /* keep the new data back: cwnd is full */
    h_write_n(&h, MSS);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.tlp_probes, 1);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(4), 5001, WIN, MSS); /* new, not segment 3 */
    h_clear(&h);
    h.now += 50;
    h_input(&h, sack1(SEG(3), SEG(4), SEG(5))); /* the probe reveals the hole */
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT_EQUAL(sent_at(&h, SEG(3)), 1);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 0);
    h_free(&h);
}

/* ---- Timeouts: the scoreboard is kept ---- */

/* After a timeout, what the peer SACKed before it is not sent again; the
 * rest goes under the loss window as it grows. */
static void test_rto_keeps_sacked(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 10);
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(4), SEG(6))); /* 2 segments: not yet lost */
    h_clear(&h);
    h.tcb.rack.reo_at = h.tcb.rack.tlp_at = STCP_NO_TIMER; /* straight to the timeout */
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.sb.n, 1);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    /* The peer acknowledges each resend as it comes: every segment but 4
     * and 5 is sent once more, in order. */
    unsigned resent[10] = {0};
    for (unsigned round = 0; round < 10 && h.tcb.snd_una != SEG(10); round++) {
        uint32_t upto = h.tcb.snd_una;
        for (unsigned i = 0; i < h.nout; i++) {
            unsigned k = (h.out[i].seq - DATA) / MSS;
            if (h.out[i].len && k < 10)
                resent[k]++;
            if (h.out[i].seq == upto)
                upto += h.out[i].len;
            if (upto == SEG(4))
                upto = SEG(6); /* the peer holds 4 and 5 */
        }
        h_clear(&h);
        h.now += 50;
        h_input(&h, sack1(upto, SEG(4), SEG(6)));
    }
    CU_ASSERT_EQUAL(h.tcb.snd_una, SEG(10));
    for (unsigned k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(resent[k], k == 4 || k == 5 ? 0u : 1u);
    h_free(&h);
}

/* The peer drops what it had SACKed (reneging): the ACK stops at the
 * SACKed data and no longer SACKs it.  The SACKs are forgotten. */
static void test_reneging_clears_sacks(void)
{
    static struct harness h;
    start(&h, &cc_newreno, 10);
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(4), SEG(6)));
    CU_ASSERT_EQUAL(h.tcb.sb.n, 1);
    h_input(&h, ack(5001, SEG(4), WIN));
    CU_ASSERT_EQUAL(h.tcb.sb.n, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.sack_reneged, 1);
    h_free(&h);
}

/* ---- F-RTO: a spurious timeout undone ---- */

/* The timeout fires while the ACKs were only late: the first ACK after it
 * covers segments the timeout took for lost and never resent.  cwnd and
 * ssthresh return to what they were, and recovery ends. */
static void test_frto_spurious_undone(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 12); /* ten in flight, two queued */
    uint32_t cwnd = h.tcb.cc.cwnd, ssthresh = h.tcb.cc.ssthresh;
    h.tcb.rack.tlp_at = STCP_NO_TIMER;
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
    h_clear(&h);
    h.now += 10;
    h_input(&h, ack(5001, SEG(5), WIN)); /* late: the first copies of 0..4 */
    CU_ASSERT_EQUAL(h.tcb.stats.spurious_rto, 1);
    CU_ASSERT(!h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.cc.cwnd, cwnd);
    CU_ASSERT_EQUAL(h.tcb.cc.ssthresh, ssthresh);
    /* Segments 5..9 are in flight again, not resent; the queued two go. */
    CU_ASSERT_EQUAL(sent_at(&h, SEG(5)), 0);
    CU_ASSERT_EQUAL(sent_at(&h, SEG(10)), 1);
    h_free(&h);
}

/* A real loss: the first ACK covers only the resend; F-RTO sends new data
 * (step 2b), and the next ACK SACKs only that: the timeout stands. */
static void test_frto_real_loss_kept(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 12);
    h.tcb.rack.tlp_at = STCP_NO_TIMER;
    h_advance(&h, h.tcb.rexmit_at - h.now);
    h_clear(&h);
    h.now += 50;
    h_input(&h, ack(5001, SEG(1), WIN)); /* the resend of segment 0 only */
    CU_ASSERT_EQUAL(h.tcb.rack.frto, 2u);
    CU_ASSERT_EQUAL_FATAL(h.nout, 2); /* two new segments, no resends */
    EXPECT_SEG(&h, 0, TH_ACK, SEG(10), 5001, WIN, MSS);
    EXPECT_SEG(&h, 1, TH_ACK, SEG(11), 5001, WIN, MSS);
    h_clear(&h);
    h.now += 50;
    h_input(&h, sack1(SEG(1), SEG(10), SEG(12)));
    CU_ASSERT_EQUAL(h.tcb.stats.spurious_rto, 0);
    CU_ASSERT_EQUAL(h.tcb.rack.frto, 0u);
    CU_ASSERT(h.tcb.in_recovery);
    CU_ASSERT(h.tcb.cc.cwnd <= 3 * MSS);
    CU_ASSERT_EQUAL(sent_at(&h, SEG(1)), 1); /* the go-back goes on */
    h_free(&h);
}

/* ---- Timeouts of a thin flight: linear, then exponential ---- */

/* Two segments out, no ACK comes: the first six timeouts in a row keep
 * the RTO at the estimate (each resends the oldest segment under the loss
 * window of one segment); from the seventh on it doubles as RFC 6298 5.5
 * says.  Before this rule it doubled from the first. */
static void test_thin_flight_linear_timeouts(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 2);
    stcp_usec_t rto0 = h.tcb.rto;
    h.tcb.rack.tlp_at = STCP_NO_TIMER; /* the probe is lost too */
    for (unsigned k = 1; k <= 8; k++) {
        h_advance(&h, h.tcb.rexmit_at - h.now);
        CU_ASSERT_EQUAL(h.tcb.stats.timeouts, k);
        CU_ASSERT_EQUAL(h.tcb.cc.cwnd, MSS);
        CU_ASSERT_EQUAL_FATAL(h.nout, 1);
        EXPECT_SEG(&h, 0, TH_ACK, SEG(0), 5001, WIN, MSS);
        h_clear(&h);
        stcp_usec_t want = k <= 6 ? rto0 : rto0 << (k - 6);
        CU_ASSERT_EQUAL(h.tcb.rto, want);
        CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + want);
    }
    h_free(&h);
}

/* Ten segments out, none SACKed: not thin, the RTO doubles at once.  The
 * timeout takes them all for lost and resends one under the loss window:
 * when that one times out, one segment was in the network -- thin. */
static void test_thick_flight_backs_off(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 10);
    stcp_usec_t rto0 = h.tcb.rto;
    h.tcb.rack.tlp_at = STCP_NO_TIMER;
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.rto, 2 * rto0);
    CU_ASSERT_EQUAL(h.nout, 1);
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 2);
    CU_ASSERT_EQUAL(h.tcb.rto, rto0);
    h_free(&h);
}

/* Five segments out, three of them SACKed and one taken for lost and
 * resent: two are in the network when the timer fires -- thin. */
static void test_thin_by_pipe_not_flight(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 5);
    stcp_usec_t rto0 = h.tcb.rto;
    h.now += 50;
    h_input(&h, sack1(DATA, SEG(1), SEG(4))); /* 0 lost at once (DupThresh) */
    CU_ASSERT_EQUAL_FATAL(h.tcb.stats.rack_lost, 1);
    h.tcb.rack.tlp_at = STCP_NO_TIMER;
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 1);
    CU_ASSERT_EQUAL(h.tcb.rto, rto0);
    h_free(&h);
}

/* Under `none` the backoff is the only brake (cwnd does not shrink): a
 * thin flight's timeouts double the RTO from the first. */
static void test_thin_flight_none_backs_off(void)
{
    static struct harness h;
    start(&h, &cc_none, 2);
    stcp_usec_t rto0 = h.tcb.rto;
    h_advance(&h, h.tcb.rexmit_at - h.now);
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.stats.timeouts, 2);
    CU_ASSERT_EQUAL(h.tcb.rto, 4 * rto0);
    h_free(&h);
}

/* ---- RTO Restart (after RFC 7765) ---- */

/* Three segments out, the first ACKed 50 us later: the two left were sent
 * with it, so the timer fires RTO after their sending, not RTO after this
 * ACK (RFC 6298 5.3 alone would give them 50 us more). */
static void test_rtor_from_oldest_in_network(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 3);
    stcp_usec_t sent = h.now;
    h.now += 50;
    h_input(&h, ack(5001, SEG(1), WIN));
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, sent + h.tcb.rto);
    CU_ASSERT(h.tcb.rexmit_at < h.now + h.tcb.rto);
    h_free(&h);
}

/* Nine segments still in the network: duplicate ACKs and SACKs can find a
 * loss among them, so the timer restarts from the ACK (RFC 6298 5.3). */
static void test_rtor_not_for_many(void)
{
    static struct harness h;
    start(&h, &cc_cubic, 10);
    h.now += 50;
    h_input(&h, ack(5001, SEG(1), WIN));
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + h.tcb.rto);
    h_free(&h);
}

/* ---- `none` and STCP_RACK=0 keep the older recovery ---- */

static void test_rack_not_for_none(void)
{
    static struct harness h;
    start(&h, &cc_none, 4);
    h.now += 50;
    h_input(&h, ack(5001, SEG(3), WIN));
    CU_ASSERT_EQUAL(h.tcb.rack.tlp_at, STCP_NO_TIMER);
    h_advance(&h, h.tcb.rexmit_at - h.now - 1);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.tlp_probes, 0);
    h_free(&h);
}

/* ---- The receiver keeps many holes apart ---- */

/* Every other segment arrives (the window is 65535: scaling is not
 * negotiated here): each is kept, not only 16 runs, and SACKed. */
static void test_receiver_many_runs(void)
{
    static struct harness h;
    h_init(&h, 1 << 20);
    h.rcvbuf = 4 << 20;
    h_open_active(&h, 1000);
    h.now += 50;
    struct tseg sa = synack(5000, 1001, WIN);
    sa.opts = opt_sack;
    sa.opts_len = sizeof opt_sack;
    h_input(&h, sa);
    h_clear(&h);
    static uint8_t payload[MSS];
    for (unsigned i = 0; i < 50; i++)
        h_input(&h, datan(5001 + (2 * i + 1) * MSS, 1001, WIN, payload, MSS));
    CU_ASSERT_EQUAL(h.tcb.reasm.nruns, 50);
    CU_ASSERT_EQUAL(h.tcb.stats.ooo_segs_in, 50);
    /* Each arrival is the first SACK block of the ACK it causes. */
    CU_ASSERT_EQUAL_FATAL(h.nout, 50);
    CU_ASSERT_EQUAL(h.out[49].opt.nsack, 4);
    CU_ASSERT_EQUAL(h.out[49].opt.sack[0].start, 5001 + 99 * MSS);
    /* The holes fill: everything is delivered. */
    for (unsigned i = 0; i < 50; i++)
        h_input(&h, datan(5001 + 2 * i * MSS, 1001, WIN, payload, MSS));
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001 + 100 * MSS);
    CU_ASSERT_EQUAL(h.tcb.reasm.nruns, 0);
    h_free(&h);
}

/* A segment that arrives twice is reported in the first SACK block of the
 * ACK it causes (D-SACK, RFC 2883), before the blocks of held data. */
static void test_receiver_dsack(void)
{
    static struct harness h;
    h_init(&h, WIN);
    h_open_active(&h, 1000);
    h.now += 50;
    struct tseg sa = synack(5000, 1001, WIN);
    sa.opts = opt_sack;
    sa.opts_len = sizeof opt_sack;
    h_input(&h, sa);
    h_clear(&h);
    static uint8_t payload[MSS];
    h_input(&h, datan(5001, 1001, WIN, payload, MSS));
    h_input(&h, datan(5001 + 2 * MSS, 1001, WIN, payload, MSS)); /* a hole before it */
    h_clear(&h);
    h_input(&h, datan(5001, 1001, WIN, payload, MSS)); /* the first one again */
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    CU_ASSERT_EQUAL(h.out[0].ack, 5001 + MSS);
    CU_ASSERT_EQUAL_FATAL(h.out[0].opt.nsack, 2);
    CU_ASSERT_EQUAL(h.out[0].opt.sack[0].start, 5001);
    CU_ASSERT_EQUAL(h.out[0].opt.sack[0].end, 5001 + MSS);
    CU_ASSERT_EQUAL(h.out[0].opt.sack[1].start, 5001 + 2 * MSS);
    /* Reported once: the next ACK has only the held data. */
    h_clear(&h);
    h_input(&h, datan(5001 + 3 * MSS, 1001, WIN, payload, MSS));
    CU_ASSERT_EQUAL_FATAL(h.nout, 1);
    CU_ASSERT_EQUAL(h.out[0].opt.nsack, 1);
    CU_ASSERT_EQUAL(h.out[0].opt.sack[0].start, 5001 + 2 * MSS);
    h_free(&h);
}

void register_rack_suites(void);
void register_rack_suites(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        {"RACK: reordering window, then resend", test_rack_reordering_window},
        {"RACK: DupThresh's worth SACKed: lost at once", test_rack_dupthresh_at_once},
        {"RACK: lost retransmission found, no timeout", test_rack_lost_retransmission},
        {"PRR: one segment per two delivered, no burst", test_prr_one_per_two_delivered},
        {"TLP: probe resends the lost tail at 2 SRTT", test_tlp_resends_tail},
        {"TLP: probe sends new data when it can", test_tlp_sends_new_data},
        {"TLP: a D-SACKed probe reduces nothing", test_tlp_dsack_no_reduction},
        {"receiver: a duplicate is D-SACKed", test_receiver_dsack},
        {"RTO: SACKed segments not resent", test_rto_keeps_sacked},
        {"reneging forgets the SACKs", test_reneging_clears_sacks},
        {"F-RTO: spurious timeout undone", test_frto_spurious_undone},
        {"F-RTO: real loss keeps the timeout", test_frto_real_loss_kept},
        {"thin flight: six linear timeouts, then backoff", test_thin_flight_linear_timeouts},
        {"thick flight: the RTO doubles", test_thick_flight_backs_off},
        {"thin: counted by what is in the network", test_thin_by_pipe_not_flight},
        {"none: a thin flight's RTO doubles", test_thin_flight_none_backs_off},
        {"RTO restart: from the oldest segment in the network", test_rtor_from_oldest_in_network},
        {"RTO restart: not with four or more in the network", test_rtor_not_for_many},
        {"none: no RACK-TLP", test_rack_not_for_none},
        {"receiver: many holes kept apart", test_receiver_many_runs},
    };
    CU_pSuite s = CU_add_suite("rack", NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_add_test(s, cases[i].name, cases[i].fn);
}
