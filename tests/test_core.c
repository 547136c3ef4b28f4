/* test_core.c -- packet-level tests of the transport core (RFC 9293 3.10).
 *
 * Each case puts a control block in a state, feeds it segments at chosen
 * times, and checks exactly what it emits, delivers and becomes.
 *
 * Unless a case says otherwise we are ISS 1000 (our data starts at 1001)
 * and the peer is IRS 5000 (its data starts at 5001); both windows are
 * 3072.  With the harness's application queue (twice the window) the
 * receiver's right edge stays put until it can move by an MSS (RFC 1122
 * 4.2.3.3), so after n bytes (or a FIN) arrive the window is 3072 - n.
 * After the handshake's 50 us RTT sample the RTO is rto_min, 200 us. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "cc.h"
#include "harness.h"

#define RTO0 (200u) /* the RTO after h_established's 50 us sample */

/* ---- Helpers ---- */

/* ESTABLISHED as 1000/5000, the peer offering peer_win. */
static void est(struct harness *h, uint16_t peer_win)
{
    h_init(h, H_WINDOW);
    h_established(h, 1000, 5000, peer_win);
}

/* ESTABLISHED as 1000/5000 with the SYN-ACK arriving rtt after the SYN. */
static void est_rtt(struct harness *h, stcp_usec_t rtt)
{
    h_init(h, H_WINDOW);
    h_open_active(h, 1000);
    h->now += rtt;
    h_input(h, synack(5000, 1001, H_WINDOW));
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED);
    h_clear(h);
}

/* The peer's byte stream: byte i is stream()[i]. */
static const uint8_t *stream(void)
{
    static uint8_t s[4096];
    for (size_t i = 0; i < sizeof s; i++)
        s[i] = (uint8_t)('A' + i % 26);
    return s;
}

/* Peer bytes [off, off+len) of a connection whose peer data starts at 5001. */
static struct tseg bytes_at(uint32_t off, uint32_t len)
{
    return datan(5001 + off, 1001, H_WINDOW, stream() + off, len);
}

/* The first n bytes of the peer's stream were delivered, nothing else. */
static void expect_stream(struct harness *h, size_t n)
{
    CU_ASSERT_EQUAL(h->ndelivered, n);
    CU_ASSERT(h->ndelivered == n && memcmp(h->delivered, stream(), n) == 0);
}

/* Segment i carries exactly these bytes. */
static void expect_payload(struct harness *h, unsigned i, const char *bytes)
{
    size_t n = strlen(bytes);
    CU_ASSERT_FATAL(i < h->nout);
    CU_ASSERT_EQUAL(h->out[i].len, n);
    CU_ASSERT(h->out[i].len == n && memcmp(h->out[i].payload, bytes, n) == 0);
}

/* A segment with the given flags (possibly none) and no payload. */
static struct tseg bare(uint32_t seq, uint32_t ackn, uint8_t flags)
{
    struct tseg s = ack(seq, ackn, H_WINDOW);
    s.flags = flags;
    return s;
}

/* FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT as 1000/5000; outputs cleared. */
static void reach_time_wait(struct harness *h)
{
    est(h, H_WINDOW);
    h_close(h);
    h_input(h, ack(5001, 1002, H_WINDOW));
    h_input(h, fin(5001, 1002, H_WINDOW));
    CU_ASSERT_FATAL(h->tcb.state == TCPS_TIME_WAIT);
    h_clear(h);
}

/* ======================= Handshake (RFC 9293 3.5) ======================== */

static void test_active_open_sends_syn(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    tcp_connect(&h.tcb, h.now, 1000);
    tcp_output(&h.tcb, h.now);
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN, 1000, 0, H_WINDOW, 0); /* the only segment without ACK */
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1001);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + h.tcb.cfg.rto_initial);
    h_free(&h);
}

static void test_active_open_completes(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, synack(5000, 1001, 2000));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.established, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1001);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001);
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 2000);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_free(&h);
}

static void test_passive_open_completes(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    h_clear(&h);
    h_input(&h, ack(301, 7001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.established, 1);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 7001);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* 3.10.7.3: an ACK outside (ISS, SND.NXT] is not for our SYN: dropped,
 * answered with <SEQ=SEG.ACK><CTL=RST>. */
static void test_synack_with_wrong_ack_dropped(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, synack(5000, 1000, H_WINDOW)); /* acks nothing */
    h_input(&h, synack(5000, 1002, H_WINDOW)); /* acks more than we sent */
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_RST, 1000, 0, 0, 0);
    EXPECT_SEG(&h, 1, TH_RST, 1002, 0, 0, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, 2);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 2);
    CU_ASSERT_EQUAL(h.established, 0);
    h_input(&h, synack(5000, 1001, H_WINDOW)); /* the right one still works */
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* 3.10.7.3: neither SYN nor RST: drop. */
static void test_syn_sent_drops_segment_without_syn(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, ack(5000, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
    h_free(&h);
}

/* These cases time the handshake's retransmissions with an initial RTO of
 * 20 ms (STCP_RTO_INIT_US=20000), below the 100 ms backoff cap, so the
 * doubling shows; the default is 200 ms. */
static void h_rto_initial_20ms(struct harness *h)
{
    h->tcb.cfg.rto_initial = 20 * STCP_MSEC;
    h->tcb.rto = 20 * STCP_MSEC;
}

/* RFC 6298 5.5: the SYN is resent on timeout and the RTO doubles, up to rto_max. */
static void test_syn_retransmitted_with_backoff(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_rto_initial_20ms(&h);
    h_open_active(&h, 1000);
    h_advance(&h, 20 * STCP_MSEC - 1);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN, 1000, 0, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.rto, 40 * STCP_MSEC);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + 40 * STCP_MSEC);
    h_advance(&h, 40 * STCP_MSEC);
    EXPECT_SEG(&h, 1, TH_SYN, 1000, 0, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.rto, 80 * STCP_MSEC);
    h_advance(&h, 80 * STCP_MSEC);
    EXPECT_SEG(&h, 2, TH_SYN, 1000, 0, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.rto, 100 * STCP_MSEC); /* rto_max */
    EXPECT_NOUT(&h, 3);
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_timeout, 3);
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    h_free(&h);
}

/* Karn: the SYN-ACK answering a resent SYN gives no RTT sample. */
static void test_synack_after_resent_syn_gives_no_rtt_sample(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_rto_initial_20ms(&h);
    h_open_active(&h, 1000);
    h_advance(&h, 20 * STCP_MSEC);
    h.now += 500;
    h_input(&h, synack(5000, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_FALSE(h.tcb.have_rtt);
    CU_ASSERT_EQUAL(h.tcb.srtt, 0);
    h_free(&h);
}

/* The SYN-ACK of a plain handshake is an RTT sample (RFC 6298 2.2). */
static void test_handshake_gives_rtt_sample(void)
{
    struct harness h;
    est_rtt(&h, 1000);
    CU_ASSERT_TRUE(h.tcb.have_rtt);
    CU_ASSERT_EQUAL(h.tcb.srtt, 1000);
    CU_ASSERT_EQUAL(h.tcb.rttvar, 500);
    CU_ASSERT_EQUAL(h.tcb.rto, 3000); /* SRTT + 4 RTTVAR */
    h_free(&h);
}

/* Figure 8: SYN_SENT gets a bare SYN, answers SYN-ACK with seq = ISS. */
static void test_simultaneous_open(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, syn(5000));
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 1000, 5001, H_WINDOW, 0);
    h_clear(&h);
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.established, 1);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* Figure 8, line 6: in simultaneous open the peer's SYN-ACK (acking our
 * SYN) completes the handshake.  Its SYN is old, so it is answered with a
 * plain ACK (3.10.7.4); answering with yet another SYN-ACK would make two
 * STCPs bounce SYN-ACKs forever. */
static void test_simultaneous_open_completed_by_peer_synack(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, syn(5000));
    h_clear(&h);
    h_input(&h, synack(5000, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.established, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    h_free(&h);
}

/* The peer resent its SYN: our SYN-ACK was lost, so it is resent. */
static void test_duplicate_syn_in_syn_received(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_input(&h, syn(300));
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.established, 0);
    h_free(&h);
}

/* The SYN-ACK is resent on timeout from SYN_RECEIVED, too. */
static void test_synack_retransmitted_on_timeout(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_rto_initial_20ms(&h);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_advance(&h, 20 * STCP_MSEC);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    h_free(&h);
}

/* 3.10.7.4: an old duplicate SYN is outside the window: ACK, nothing else. */
static void test_duplicate_syn_in_established(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, syn(5000));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.established, 1);
    h_free(&h);
}

/* Fourth check (RFC 5961 4.2): a SYN inside the window gets a challenge ACK. */
static void test_syn_in_window_gets_challenge_ack(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, syn(5100));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001);
    h_free(&h);
}

/* Our third ACK was lost and the peer resends its SYN-ACK: ACK it again. */
static void test_resent_synack_in_established_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, synack(5000, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.established, 1);
    h_free(&h);
}

/* The handshake's final ACK carries data: ESTABLISHED, and it is delivered. */
static void test_data_on_third_segment_delivered(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_input(&h, data(301, 7001, H_WINDOW, "hi"));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_DELIVERED(&h, "hi");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 7001, 303, H_WINDOW - 2, 0);
    h_free(&h);
}

/* 3.10.7.3: a SYN-ACK's text is processed like any segment's (sixth step
 * on): the data is delivered and acknowledged. */
static void test_synack_carrying_data_delivered(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, with_flags(data(5000, 1001, H_WINDOW, "hi"), TH_SYN));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_DELIVERED(&h, "hi");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5003, H_WINDOW - 2, 0);
    h_free(&h);
}

/* Data written while connecting rides on our third segment. */
static void test_queued_data_sent_on_third_segment(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    CU_ASSERT_EQUAL(h_write(&h, "hi"), 2);
    EXPECT_NOUT(&h, 0);
    h_input(&h, synack(5000, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 2);
    expect_payload(&h, 0, "hi");
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1003);
    h_free(&h);
}

/* LISTEN takes only a SYN: anything else is dropped, and an ACK gets
 * <SEQ=SEG.ACK><CTL=RST> (3.10.7.2).  A TCB listens for one connection, so
 * the attempt ends there (it would wait for ever otherwise). */
static void test_listen_drops_non_syn(void)
{
    struct tseg segs[] = {ack(300, 7001, H_WINDOW), data(300, 7002, H_WINDOW, "x"),
                          bare(300, 0, 0)};
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        struct harness h;
        h_init(&h, H_WINDOW);
        h_open_passive(&h, 7000);
        h_input(&h, segs[i]);
        EXPECT_STATE(&h, TCPS_CLOSED);
        CU_ASSERT_EQUAL(h.closed, 1);
        CU_ASSERT_EQUAL(h.errors, 0);
        EXPECT_DELIVERED(&h, "");
        CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
        if (segs[i].flags & TH_ACK) {
            EXPECT_NOUT(&h, 1);
            EXPECT_SEG(&h, 0, TH_RST, segs[i].ack, 0, 0, 0);
        } else {
            EXPECT_NOUT(&h, 0);
        }
        h_free(&h);
    }
}

/* Close before the handshake completes: the FIN follows establishment. */
static void test_close_in_syn_received_sends_fin_once_established(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_close(&h);
    EXPECT_NOUT(&h, 0);
    h_input(&h, ack(301, 7001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 7001, 301, H_WINDOW, 0);
    h_free(&h);
}

/* ======================= Data (3.10.7.4, seventh check) ================== */

static void test_data_in_order_delivered_and_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    h_free(&h);
}

static void test_data_two_segments_each_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "abc"));
    h_input(&h, data(5004, 1001, H_WINDOW, "def"));
    EXPECT_DELIVERED(&h, "abcdef");
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5004, H_WINDOW - 3, 0);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5007, H_WINDOW - 6, 0);
    h_free(&h);
}

static void test_data_out_of_order_then_gap_filled(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5004, 1001, H_WINDOW, "lo"));
    EXPECT_DELIVERED(&h, "");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0); /* duplicate ACK at once */
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "hel"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.ooo_segs_in, 1);
    h_free(&h);
}

/* Two holes: each fill delivers up to the next hole. */
static void test_data_two_holes_filled_one_by_one(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5002, 1001, H_WINDOW, "b"));
    h_input(&h, data(5004, 1001, H_WINDOW, "d"));
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "a"));
    EXPECT_DELIVERED(&h, "ab");
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5003, H_WINDOW - 2, 0);
    h_input(&h, data(5003, 1001, H_WINDOW, "c"));
    EXPECT_DELIVERED(&h, "abcd");
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5005, H_WINDOW - 4, 0);
    EXPECT_NOUT(&h, 2);
    h_free(&h);
}

/* A duplicate is answered with an ACK and not delivered twice. */
static void test_data_duplicate_acked_not_redelivered(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dup_segs_in, 1);
    h_free(&h);
}

/* An old segment, wholly below RCV.NXT: ACK of the current state. */
static void test_data_old_segment_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    h_clear(&h);
    h_input(&h, data(5002, 1001, H_WINDOW, "el"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    h_free(&h);
}

/* Partly old, partly new: the old part is trimmed, the new delivered. */
static void test_data_overlap_old_and_new(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    h_clear(&h);
    h_input(&h, data(5004, 1001, H_WINDOW, "lo world"));
    EXPECT_DELIVERED(&h, "hello world");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5012, H_WINDOW - 11, 0);
    h_free(&h);
}

/* A segment overlapping both edges of a buffered run merges with it. */
static void test_data_overlap_both_edges_of_buffered_run(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5005, 1001, H_WINDOW, "efgh"));
    h_input(&h, data(5003, 1001, H_WINDOW, "cdefghij"));
    EXPECT_DELIVERED(&h, "");
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5001, H_WINDOW, 0);
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "ab"));
    EXPECT_DELIVERED(&h, "abcdefghij");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5011, H_WINDOW - 10, 0);
    h_free(&h);
}

/* An in-order segment running into a buffered run: delivered once each. */
static void test_data_in_order_overlapping_buffered_run(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5005, 1001, H_WINDOW, "efgh"));
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "abcdef"));
    EXPECT_DELIVERED(&h, "abcdefgh");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5009, H_WINDOW - 8, 0);
    h_free(&h);
}

/* Data beyond the advertised right edge is trimmed off (window 1000). */
static void test_data_beyond_window_trimmed(void)
{
    struct harness h;
    h_init(&h, 1000);
    h_established(&h, 1000, 5000, H_WINDOW);
    h_input(&h, bytes_at(0, 1072));
    expect_stream(&h, 1000);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 6001, 1000, 0); /* 1000 bytes still free */
    h_free(&h);
}

/* Out of order and past the right edge: the part inside is kept, the FIN
 * that follows the cut-off part is not. */
static void test_data_out_of_order_beyond_window_trimmed(void)
{
    struct harness h;
    h_init(&h, 1000);
    h_established(&h, 1000, 5000, H_WINDOW);
    h_input(&h, with_flags(bytes_at(900, 200), TH_FIN));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, 1000, 0);
    h_input(&h, bytes_at(0, 900));
    expect_stream(&h, 1000);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 6001, 1000, 0);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.peer_fin, 0);
    h_free(&h);
}

/* Wholly beyond the window: dropped (not kept), answered with an ACK. */
static void test_data_wholly_beyond_window_dropped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001 + H_WINDOW, 1001, H_WINDOW, "x"));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dup_segs_in, 1);
    CU_ASSERT_EQUAL(h.tcb.reasm.nruns, 0);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "hello");
    h_free(&h);
}

/* The window reflects a reader that does not read (queue = window). */
static void test_data_slow_reader_shrinks_window(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h.rcvbuf = H_WINDOW;
    h_established(&h, 1000, 5000, H_WINDOW);
    h_input(&h, bytes_at(0, 500));
    h_input(&h, bytes_at(500, 500));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5501, H_WINDOW - 500, 0);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 6001, H_WINDOW - 1000, 0);
    h_read(&h, 500); /* the edge could move 500 < MSS: no update */
    EXPECT_NOUT(&h, 2);
    h_input(&h, bytes_at(1000, 100));
    EXPECT_SEG(&h, 2, TH_ACK, 1001, 6101, H_WINDOW - 1100, 0);
    h_read(&h, 100); /* now 600 free beyond the edge: update */
    EXPECT_NOUT(&h, 4);
    EXPECT_SEG(&h, 3, TH_ACK, 1001, 6101, H_WINDOW - 500, 0);
    expect_stream(&h, 1100);
    h_free(&h);
}

/* Fill the window (queue = window, reader asleep): 6 x 512 bytes. */
static void fill_window(struct harness *h)
{
    h_init(h, H_WINDOW);
    h->rcvbuf = H_WINDOW;
    h_established(h, 1000, 5000, H_WINDOW);
    for (uint32_t off = 0; off < H_WINDOW; off += 512) {
        h_input(h, bytes_at(off, 512));
        EXPECT_SEG(h, h->nout - 1, TH_ACK, 1001, 5001 + off + 512, H_WINDOW - off - 512, 0);
    }
    CU_ASSERT_EQUAL(tcp_rcv_window(&h->tcb), 0);
    h_clear(h);
}

/* A probe into a zero window is answered with an ACK and not taken. */
static void test_data_zero_window_probe_acked_not_delivered(void)
{
    struct harness h;
    fill_window(&h);
    h_input(&h, data(5001 + H_WINDOW, 1001, H_WINDOW, "x"));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001 + H_WINDOW, 0, 0);
    expect_stream(&h, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001 + H_WINDOW);
    h_free(&h);
}

/* The reader frees space: a window update once the edge can move an MSS. */
static void test_data_window_update_when_reader_frees_mss(void)
{
    struct harness h;
    fill_window(&h);
    h_read(&h, STCP_MSS - 1);
    EXPECT_NOUT(&h, 0);
    h_read(&h, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001 + H_WINDOW, STCP_MSS, 0);
    h_read(&h, H_WINDOW - STCP_MSS);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5001 + H_WINDOW, H_WINDOW, 0);
    h_free(&h);
}

/* Peer window 0: nothing goes until the persist timer, then one byte. */
static void test_data_zero_window_persist_probe(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "hello");
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.persist_at, h.now + RTO0);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_advance(&h, RTO0 - 1);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 1);
    expect_payload(&h, 0, "h");
    CU_ASSERT_EQUAL(h.tcb.persist_at, h.now + 2 * RTO0); /* backed off */
    h_advance(&h, 2 * RTO0 - 1);
    EXPECT_NOUT(&h, 1);
    h_advance(&h, 1);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5001, H_WINDOW, 1); /* the same byte again */
    CU_ASSERT_EQUAL(h.tcb.persist_at, h.now + 4 * RTO0);
    CU_ASSERT_EQUAL(h.tcb.stats.window_probes, 2);
    h_free(&h);
}

/* With our probe byte beyond the peer's zero window, an ACK we send
 * carries the window's edge as its sequence number, not snd_nxt: a
 * receiver with a zero window ignores the ACK of anything else, and both
 * sides would then stall, each waiting for the other's window. */
static void test_data_ack_seq_within_zero_window(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "hello");
    h_advance(&h, RTO0); /* the probe: byte 1001 */
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1002);
    h_clear(&h);
    h_input(&h, datan(5001, 1001, 0, stream(), 100));
    expect_stream(&h, 100);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5101, H_WINDOW - 100, 0);
    h_free(&h);
}

/* The probe's ACK opens the window: the rest follows at once. */
static void test_data_probe_acked_window_opens(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "hello");
    h_advance(&h, RTO0);
    h_clear(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5001, H_WINDOW, 4);
    expect_payload(&h, 0, "ello");
    CU_ASSERT_EQUAL(h.tcb.persist_at, STCP_NO_TIMER);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + h.tcb.rto);
    h_free(&h);
}

/* The window opens without the probe byte taken (the ACK is still 1001).
 * newreno and cubic send the byte again first and what follows right after
 * it, so the stream has no gap for the peer to see as a loss; `none`, the
 * classic sender, goes on from snd_nxt and leaves the byte to its
 * retransmission timer. */
static void test_data_window_opens_probe_not_taken(void)
{
    const struct cc_algo *algos[] = {&cc_newreno, &cc_cubic, &cc_none};
    for (unsigned a = 0; a < 3; a++) {
        struct harness h;
        h_init(&h, H_WINDOW);
        h.tcb.cfg.cc = algos[a];
        h_established(&h, 1000, 5000, 0);
        h_write(&h, "hello");
        h_advance(&h, RTO0); /* the probe: byte 1001 */
        CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1002);
        h_clear(&h);
        h_input(&h, ack(5001, 1001, H_WINDOW));
        CU_ASSERT_FATAL(h.nout >= 1);
        uint32_t first = algos[a] == &cc_none ? 1002 : 1001;
        EXPECT_SEG(&h, 0, TH_ACK, first, 5001, H_WINDOW, h.out[0].len);
        uint32_t next = first;
        for (unsigned k = 0; k < h.nout; k++) {
            CU_ASSERT_EQUAL(h.out[k].seq, next);
            next = h.out[k].seq + h.out[k].len;
        }
        CU_ASSERT_EQUAL(next, 1006);
        CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1006);
        CU_ASSERT_EQUAL(h.tcb.snd_nxt, h.tcb.snd_max);
        CU_ASSERT_EQUAL(h.tcb.persist_at, STCP_NO_TIMER);
        h_free(&h);
    }
}

/* A window update (same ACK, bigger window) lets queued data go. */
static void test_data_window_update_opens_sender(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "hello");
    EXPECT_NOUT(&h, 0);
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 5);
    expect_payload(&h, 0, "hello");
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.persist_at, STCP_NO_TIMER);
    h_free(&h);
}

/* Never more in flight than the peer's window (1072 = two MSS). */
static void test_data_flight_limited_by_peer_window(void)
{
    struct harness h;
    est(&h, 2 * STCP_MSS);
    CU_ASSERT_EQUAL(h_write_n(&h, H_WINDOW), H_WINDOW);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, STCP_MSS);
    EXPECT_SEG(&h, 1, TH_ACK, 1537, 5001, H_WINDOW, STCP_MSS);
    h_clear(&h);
    h_input(&h, ack(5001, 1537, 2 * STCP_MSS));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 2073, 5001, H_WINDOW, STCP_MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt - h.tcb.snd_una, 2 * STCP_MSS);
    h_free(&h);
}

/* Never more in flight than the configured window (1000), however large
 * the peer's. */
static void test_data_flight_limited_by_configured_window(void)
{
    struct harness h;
    h_init(&h, 1000);
    h_established(&h, 1000, 5000, 65535);
    CU_ASSERT_EQUAL(h_write_n(&h, 4000), 1000);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, 1000, STCP_MSS);
    EXPECT_SEG(&h, 1, TH_ACK, 1537, 5001, 1000, 1000 - STCP_MSS);
    h_clear(&h);
    h_input(&h, ack(5001, 1537, 65535));
    CU_ASSERT_EQUAL(h_write_n(&h, 4000), STCP_MSS);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 2001, 5001, 1000, STCP_MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt - h.tcb.snd_una, 1000);
    h_free(&h);
}

/* 4000 bytes, a huge peer window: every segment at most 536 bytes. */
static void test_data_segments_at_most_mss(void)
{
    struct harness h;
    h_init(&h, 8000);
    h_established(&h, 1000, 5000, 65535);
    CU_ASSERT_EQUAL(h_write_n(&h, 4000), 4000);
    EXPECT_NOUT(&h, 8);
    for (unsigned i = 0; i < 7; i++)
        EXPECT_SEG(&h, i, TH_ACK, 1001 + i * STCP_MSS, 5001, 8000, STCP_MSS);
    EXPECT_SEG(&h, 7, TH_ACK, 1001 + 7 * STCP_MSS, 5001, 8000, 4000 - 7 * STCP_MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 5001);
    h_free(&h);
}

/* ======================= ACK processing (fifth check) ==================== */

/* Four segments in flight (1001, 1537, 2073, 2609; next 3145). */
static void four_in_flight(struct harness *h)
{
    est(h, H_WINDOW);
    CU_ASSERT_EQUAL(h_write_n(h, 4 * STCP_MSS), 4 * STCP_MSS);
    CU_ASSERT_FATAL(h->nout == 4);
    h_clear(h);
}

/* SEG.ACK = SND.UNA: nothing new; nothing sent, nothing changes. */
static void test_ack_of_nothing_new(void)
{
    struct harness h;
    four_in_flight(&h);
    stcp_usec_t rexmit_at = h.tcb.rexmit_at;
    h.now += 10;
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1001);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 3145);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, rexmit_at);
    h_free(&h);
}

/* One segment in flight: an ACK of SND.UNA cannot have been caused by a
 * later segment of ours, so it says nothing about loss (RFC 5681 3.2 needs
 * three; RFC 5827 early retransmit needs oflight - 1 >= 1, i.e. two
 * segments outstanding).  A duplicated ACK must not resend. */
static void test_ack_single_dupack_one_segment_no_resend(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    h_clear(&h);
    stcp_usec_t rexmit_at = h.tcb.rexmit_at;
    h.now += 10;
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1001);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, rexmit_at);
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_fast, 0);
    h_free(&h);
}

/* Part of a segment acked: SND.UNA moves, the timer restarts, and a
 * timeout resends only what is left. */
static void test_ack_of_part_of_segment(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "0123456789");
    h_clear(&h);
    h.now += 100;
    h_input(&h, ack(5001, 1004, H_WINDOW));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1004);
    CU_ASSERT_EQUAL(h.tcb.sndbuf.len, 7);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + RTO0);
    h_advance(&h, RTO0);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1004, 5001, H_WINDOW, 7);
    expect_payload(&h, 0, "3456789");
    h_free(&h);
}

/* SEG.ACK > SND.NXT: send an ACK, drop the segment (data too). */
static void test_ack_beyond_snd_nxt_ignored(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    h_clear(&h);
    h_input(&h, data(5001, 1010, H_WINDOW, "xyz"));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1006, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1001);
    EXPECT_DELIVERED(&h, "");
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND is a blind guess:
 * the segment is dropped (its data too) and answered with an ACK. */
static void test_ack_far_too_old_dropped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001 - H_WINDOW - 1, H_WINDOW, "xyz"));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    EXPECT_DELIVERED(&h, "");
    h_clear(&h);
    /* At the edge of the range it is accepted. */
    h_input(&h, data(5001, 1001 - H_WINDOW, H_WINDOW, "xyz"));
    EXPECT_DELIVERED(&h, "xyz");
    h_free(&h);
}

/* SEG.ACK < SND.UNA: old; its window is not used. */
static void test_ack_old_does_not_update_window(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    h_input(&h, ack(5001, 1006, H_WINDOW));
    h_clear(&h);
    h_input(&h, ack(5001, 1003, 0));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1006);
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, H_WINDOW);
    h_free(&h);
}

/* RFC 6298 2.3: the second sample updates SRTT and RTTVAR. */
static void test_ack_rtt_sample_updates_rto(void)
{
    struct harness h;
    est_rtt(&h, 1000); /* SRTT 1000, RTTVAR 500, RTO 3000 */
    h_write(&h, "hello");
    h.now += 2000;
    h_input(&h, ack(5001, 1006, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.rttvar, 625); /* 3/4 * 500 + 1/4 * |1000 - 2000| */
    CU_ASSERT_EQUAL(h.tcb.srtt, 1125);  /* 7/8 * 1000 + 1/8 * 2000 */
    CU_ASSERT_EQUAL(h.tcb.rto, 1125 + 4 * 625);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_free(&h);
}

/* Karn: an ACK covering a retransmitted segment gives no sample.  The
 * backoff itself ends, since new data was acknowledged (a deliberate
 * departure from RFC 6298 5.7, see README): the RTO is the estimate again. */
static void test_ack_karn_no_sample_from_retransmission(void)
{
    struct harness h;
    est_rtt(&h, 1000);
    h_write(&h, "hello");
    h_advance(&h, 3000);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5001, H_WINDOW, 5);
    CU_ASSERT_EQUAL(h.tcb.rto, 6000);
    h.now += 100;
    h_input(&h, ack(5001, 1006, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.srtt, 1000);
    CU_ASSERT_EQUAL(h.tcb.rttvar, 500);
    CU_ASSERT_EQUAL(h.tcb.rto, 1000 + 4 * 500);
    h_free(&h);
}

/* Repeated timeouts double the RTO each time (RFC 6298 5.5). */
static void test_ack_rto_backoff_on_repeated_timeouts(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    h_clear(&h);
    for (unsigned k = 0; k < 4; k++) {
        h_advance(&h, RTO0 << k);
        EXPECT_NOUT(&h, k + 1);
        EXPECT_SEG(&h, k, TH_ACK, 1001, 5001, H_WINDOW, 5);
        CU_ASSERT_EQUAL(h.tcb.rto, RTO0 << (k + 1));
        CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + (RTO0 << (k + 1)));
    }
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_timeout, 4);
    h_free(&h);
}

/* After a backoff, a fresh sample sets the RTO from the new estimates. */
static void test_ack_fresh_sample_resets_backed_off_rto(void)
{
    struct harness h;
    est_rtt(&h, 1000);
    h_write(&h, "hello");
    h_advance(&h, 3000);
    CU_ASSERT_EQUAL(h.tcb.rto, 6000);
    h_input(&h, ack(5001, 1006, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.rto, 1000 + 4 * 500); /* no sample: the old estimate */
    h_write(&h, "more");
    h.now += 1000;
    h_input(&h, ack(5001, 1010, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.srtt, 1000);
    CU_ASSERT_EQUAL(h.tcb.rttvar, 375);
    CU_ASSERT_EQUAL(h.tcb.rto, 1000 + 4 * 375);
    h_free(&h);
}

/* RFC 5681 3.2: the third duplicate ACK resends the oldest segment. */
static void test_ack_three_dupacks_fast_retransmit(void)
{
    struct harness h;
    four_in_flight(&h);
    h_input(&h, ack(5001, 1001, H_WINDOW));
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 0);
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, STCP_MSS);
    h_input(&h, ack(5001, 1001, H_WINDOW)); /* a fourth: no second resend */
    EXPECT_NOUT(&h, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_fast, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.dupacks_in, 4);
    h_free(&h);
}

/* RFC 6582: a partial ACK in recovery resends the next hole at once; the
 * ACK of everything ends recovery. */
static void test_ack_partial_ack_in_recovery_resends_next_hole(void)
{
    struct harness h;
    four_in_flight(&h);
    for (int i = 0; i < 3; i++)
        h_input(&h, ack(5001, 1001, H_WINDOW));
    h_clear(&h);
    h_input(&h, ack(5001, 1537, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1537, 5001, H_WINDOW, STCP_MSS);
    h_input(&h, ack(5001, 3145, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    CU_ASSERT_FALSE(h.tcb.in_recovery);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_free(&h);
}

/* RFC 5681 2: an ACK that changes the window is not a duplicate. */
static void test_ack_window_change_is_not_dupack(void)
{
    struct harness h;
    four_in_flight(&h);
    h_input(&h, ack(5001, 1001, 3000));
    h_input(&h, ack(5001, 1001, 2900));
    h_input(&h, ack(5001, 1001, 2800));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_fast, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 2800);
    h_free(&h);
}

/* RFC 5681 2: a segment carrying data is not a duplicate ACK. */
static void test_ack_with_data_is_not_dupack(void)
{
    struct harness h;
    four_in_flight(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "a"));
    h_input(&h, data(5002, 1001, H_WINDOW, "b"));
    h_input(&h, data(5003, 1001, H_WINDOW, "c"));
    EXPECT_NOUT(&h, 3);
    EXPECT_SEG(&h, 0, TH_ACK, 3145, 5002, H_WINDOW - 1, 0);
    EXPECT_SEG(&h, 1, TH_ACK, 3145, 5003, H_WINDOW - 2, 0);
    EXPECT_SEG(&h, 2, TH_ACK, 3145, 5004, H_WINDOW - 3, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rexmit_fast, 0);
    h_free(&h);
}

/* On a timeout only the oldest segment is resent; the ACK for it shows
 * the next hole, which goes at once. */
static void test_ack_timeout_resends_oldest_then_next_hole(void)
{
    struct harness h;
    four_in_flight(&h);
    h_advance(&h, RTO0);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, STCP_MSS);
    h_input(&h, ack(5001, 1537, H_WINDOW));
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1537, 5001, H_WINDOW, STCP_MSS);
    h_free(&h);
}

/* ======================= Teardown (3.6, 3.10.7.4 eighth check) =========== */

/* ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT. */
static void test_active_close(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5001, H_WINDOW, 0);
    h_clear(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    CU_ASSERT_EQUAL(h.close_done, 1);
    EXPECT_NOUT(&h, 0);
    h_input(&h, fin(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5002, H_WINDOW - 1, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    CU_ASSERT_EQUAL(h.tcb.close_at, h.now + h.tcb.cfg.time_wait);
    CU_ASSERT_EQUAL(h.closed, 0);
    h_free(&h);
}

/* A new SYN from the peer (it reused its port) ends TIME_WAIT at once,
 * quietly, so its next SYN can reach the listener (RFC 1122 4.2.2.13). */
static void test_time_wait_new_syn_ends_it(void)
{
    struct harness h;
    reach_time_wait(&h);
    h_clear(&h);
    h_input(&h, syn(90000));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.errors, 0);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* TIME_WAIT lasts cfg.time_wait, then CLOSED, reported once. */
static void test_time_wait_expires(void)
{
    struct harness h;
    reach_time_wait(&h);
    h_advance(&h, h.tcb.cfg.time_wait - 1);
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    CU_ASSERT_EQUAL(h.closed, 0);
    h_advance(&h, 1);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.closed, 1);
    h_advance(&h, 10 * STCP_SEC);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.errors, 0);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* TIME_WAIT: a resent FIN is acknowledged and the 2 MSL timer restarts. */
static void test_time_wait_acks_resent_fin(void)
{
    struct harness h;
    reach_time_wait(&h);
    h_advance(&h, 500 * STCP_MSEC);
    h_input(&h, fin(5001, 1002, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5002, H_WINDOW - 1, 0);
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    CU_ASSERT_EQUAL(h.tcb.close_at, h.now + h.tcb.cfg.time_wait);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED. */
static void test_passive_close(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_CLOSE_WAIT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5002, H_WINDOW - 1, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_clear(&h);
    h_close(&h);
    EXPECT_STATE(&h, TCPS_LAST_ACK);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5002, H_WINDOW - 1, 0);
    h_clear(&h);
    h_input(&h, ack(5002, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* CLOSE_WAIT still sends: only the peer's direction is finished. */
static void test_close_wait_still_sends(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    h_clear(&h);
    h_write(&h, "ok");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5002, H_WINDOW - 1, 2);
    expect_payload(&h, 0, "ok");
    h_free(&h);
}

/* Both FINs cross: FIN_WAIT_1 -> CLOSING -> TIME_WAIT. */
static void test_simultaneous_close(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_clear(&h);
    h_input(&h, fin(5001, 1001, H_WINDOW)); /* does not ack our FIN */
    EXPECT_STATE(&h, TCPS_CLOSING);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5002, H_WINDOW - 1, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    CU_ASSERT_EQUAL(h.close_done, 0);
    h_clear(&h);
    h_input(&h, ack(5002, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.tcb.close_at, h.now + h.tcb.cfg.time_wait);
    h_free(&h);
}

/* FIN_WAIT_1 gets FIN and the ACK of our FIN together: TIME_WAIT directly. */
static void test_fin_ack_of_our_fin_goes_to_time_wait(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_clear(&h);
    h_input(&h, fin(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5002, H_WINDOW - 1, 0);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    CU_ASSERT_EQUAL(h.tcb.close_at, h.now + h.tcb.cfg.time_wait);
    h_free(&h);
}

/* A FIN on a data segment: the data, then end of stream. */
static void test_fin_with_data(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, with_flags(data(5001, 1001, H_WINDOW, "bye"), TH_FIN));
    EXPECT_DELIVERED(&h, "bye");
    EXPECT_STATE(&h, TCPS_CLOSE_WAIT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5005, H_WINDOW - 4, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* A data+FIN segment ahead of a gap: the FIN waits for the gap. */
static void test_fin_out_of_order_processed_when_gap_fills(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, with_flags(data(5006, 1001, H_WINDOW, "world"), TH_FIN));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.peer_fin, 0);
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "helloworld");
    EXPECT_STATE(&h, TCPS_CLOSE_WAIT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5012, H_WINDOW - 11, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* A bare FIN ahead of the data before it. */
static void test_bare_fin_out_of_order(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5006, 1001, H_WINDOW));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 0);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_STATE(&h, TCPS_CLOSE_WAIT);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5007, H_WINDOW - 6, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* LAST_ACK: our FIN is resent on timeout. */
static void test_last_ack_fin_retransmitted(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    h_close(&h);
    h_clear(&h);
    h_advance(&h, RTO0 - 1);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, 1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5002, H_WINDOW - 1, 0);
    EXPECT_STATE(&h, TCPS_LAST_ACK);
    CU_ASSERT_EQUAL(h.tcb.rto, 2 * RTO0);
    h_free(&h);
}

/* The FIN rides on the last queued data, and is resent with it. */
static void test_fin_follows_data_and_resent_with_it(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    tcp_write(&h.tcb, "abc", 3);
    h_close(&h);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5001, H_WINDOW, 3);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1005);
    h_advance(&h, RTO0);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_FIN | TH_ACK, 1001, 5001, H_WINDOW, 3);
    expect_payload(&h, 1, "abc");
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    h_free(&h);
}

/* Closed with data held back by a zero window: the FIN waits behind it. */
static void test_fin_waits_behind_unsent_data(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "abc");
    h_close(&h);
    EXPECT_NOUT(&h, 0);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    h_input(&h, ack(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5001, H_WINDOW, 3);
    h_free(&h);
}

/* FIN_WAIT_1: the peer's data is still taken and acknowledged. */
static void test_data_after_our_fin_in_fin_wait_1(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "late"));
    EXPECT_DELIVERED(&h, "late");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5005, H_WINDOW - 4, 0);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    h_free(&h);
}

/* FIN_WAIT_2: likewise. */
static void test_data_after_our_fin_in_fin_wait_2(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    h_clear(&h);
    h_input(&h, data(5001, 1002, H_WINDOW, "late"));
    EXPECT_DELIVERED(&h, "late");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5005, H_WINDOW - 4, 0);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    h_free(&h);
}

/* Duplicates of the FIN and of the ACK of our FIN fire no event twice. */
static void test_close_events_fire_once(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    h_input(&h, ack(5001, 1002, H_WINDOW));
    CU_ASSERT_EQUAL(h.close_done, 1);
    h_input(&h, fin(5001, 1002, H_WINDOW));
    h_input(&h, fin(5001, 1002, H_WINDOW));
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_advance(&h, h.tcb.cfg.time_wait);
    h_input(&h, fin(5001, 1002, H_WINDOW)); /* CLOSED: dropped */
    h_advance(&h, h.tcb.cfg.time_wait);
    CU_ASSERT_EQUAL(h.established, 1);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.errors, 0);
    h_free(&h);
}

/* CLOSE_WAIT: a resent FIN is acked again, PEER_FIN not repeated. */
static void test_close_wait_resent_fin_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    h_clear(&h);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5002, H_WINDOW - 1, 0);
    EXPECT_STATE(&h, TCPS_CLOSE_WAIT);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* ======================= Sequence wrap (3.4: all modulo 2^32) ============ */

static void test_wrap_handshake_iss_max(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    tcp_connect(&h.tcb, h.now, 0xffffffffu);
    tcp_output(&h.tcb, h.now);
    EXPECT_SEG(&h, 0, TH_SYN, 0xffffffffu, 0, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 0);
    h_clear(&h);
    h_input(&h, synack(5000, 0xffffffffu, H_WINDOW)); /* acks nothing */
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_SEG(&h, 0, TH_RST, 0xffffffffu, 0, 0, 0);
    h_clear(&h);
    h_input(&h, synack(5000, 0, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 0, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 0);
    h_free(&h);
}

static void test_wrap_passive_irs_max(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(0xffffffffu));
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 0, H_WINDOW, 0);
    h_input(&h, data(0, 7001, H_WINDOW, "hi"));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_DELIVERED(&h, "hi");
    EXPECT_SEG(&h, 1, TH_ACK, 7001, 2, H_WINDOW - 2, 0);
    h_free(&h);
}

static void test_wrap_data_received(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffff0u, 0xfffffffdu, H_WINDOW);
    /* Peer data 0xfffffffe..0x00000003 crosses 2^32. */
    h_input(&h, data(0xfffffffeu, 0xfffffff1u, H_WINDOW, "abcdef"));
    EXPECT_DELIVERED(&h, "abcdef");
    EXPECT_SEG(&h, 0, TH_ACK, 0xfffffff1u, 4, H_WINDOW - 6, 0);
    h_free(&h);
}

static void test_wrap_data_sent(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffff0u, 5000, H_WINDOW);
    h_write_n(&h, 600);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 0xfffffff1u, 5001, H_WINDOW, STCP_MSS);
    EXPECT_SEG(&h, 1, TH_ACK, 0x209, 5001, H_WINDOW, 600 - STCP_MSS);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 0x249);
    h_input(&h, ack(5001, 0x249, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.snd_una, 0x249);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_free(&h);
}

/* A partial ACK across 2^32, then a timeout resends from the new SND.UNA. */
static void test_wrap_partial_ack_then_timeout(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffff0u, 5000, H_WINDOW);
    h_write(&h, "0123456789abcdefghijklmnopqrstuv"); /* 0xfffffff1..0x10 */
    h_clear(&h);
    h_input(&h, ack(5001, 1, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.snd_una, 1);
    EXPECT_NOUT(&h, 0);
    h_advance(&h, RTO0);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1, 5001, H_WINDOW, 16);
    expect_payload(&h, 0, "ghijklmnopqrstuv");
    h_free(&h);
}

/* An ACK beyond SND.NXT is recognised across 2^32. */
static void test_wrap_ack_beyond_snd_nxt(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffff0u, 5000, H_WINDOW);
    h_write(&h, "hello"); /* snd_nxt 0xfffffff6 */
    h_clear(&h);
    h_input(&h, ack(5001, 0x10, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 0xfffffff6u, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_una, 0xfffffff1u);
    h_free(&h);
}

/* Fast retransmit and partial ACK with segments straddling 2^32. */
static void test_wrap_fast_retransmit(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffc00u, 5000, H_WINDOW);
    h_write_n(&h, 4 * STCP_MSS); /* 0xfffffc01, 0xfffffe19, 0x31, 0x249 */
    h_clear(&h);
    for (int i = 0; i < 3; i++)
        h_input(&h, ack(5001, 0xfffffc01u, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 0xfffffc01u, 5001, H_WINDOW, STCP_MSS);
    h_input(&h, ack(5001, 0x31, H_WINDOW));
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 0x31, 5001, H_WINDOW, STCP_MSS);
    h_free(&h);
}

static void test_wrap_out_of_order(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 1000, 0xfffffffbu, H_WINDOW); /* peer data from 0xfffffffc */
    h_input(&h, data(1, 1001, H_WINDOW, "world"));
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 0xfffffffcu, H_WINDOW, 0);
    h_input(&h, data(0xfffffffcu, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "helloworld");
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 6, H_WINDOW - 10, 0);
    h_free(&h);
}

/* The right edge (0x1e9) lies past 2^32: the segment is cut there. */
static void test_wrap_window_trim(void)
{
    struct harness h;
    h_init(&h, 1000);
    h_established(&h, 1000, 0xfffffe00u, H_WINDOW);
    h_input(&h, datan(0xfffffe01u, 1001, H_WINDOW, stream(), 1072));
    expect_stream(&h, 1000);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 0x1e9, 1000, 0);
    h_free(&h);
}

/* Both FINs at 0xffffffff. */
static void test_wrap_teardown(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 0xfffffffeu, 0xfffffffeu, H_WINDOW);
    h_close(&h);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 0xffffffffu, 0xffffffffu, H_WINDOW, 0);
    h_input(&h, fin(0xffffffffu, 0, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    EXPECT_SEG(&h, 1, TH_ACK, 0, 0, H_WINDOW - 1, 0);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    h_free(&h);
}

/* ======================= Malformed input ================================= */

static void test_malformed_th_off_below_5(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    struct tseg s = data(5001, 1001, H_WINDOW, "hello");
    s.th_off = 4;
    h_input(&h, s);
    EXPECT_NOUT(&h, 0);
    EXPECT_DELIVERED(&h, "");
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
    h_free(&h);
}

static void test_malformed_th_off_past_end(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    struct tseg s = data(5001, 1001, H_WINDOW, "hello");
    s.th_off = 15;   /* 60-byte header ... */
    s.wire_len = 40; /* ... in a 40-byte segment */
    h_input(&h, s);
    EXPECT_NOUT(&h, 0);
    EXPECT_DELIVERED(&h, "");
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
    h_free(&h);
}

static void test_malformed_options_skipped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    struct tseg s = data(5001, 1001, H_WINDOW, "hello");
    s.th_off = 8; /* 12 bytes of options */
    h_input(&h, s);
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 0);
    h_free(&h);
}

static void test_malformed_urg_and_psh_ignored(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    struct tseg s = data(5001, 1001, H_WINDOW, "hel");
    s.extra_flags = TH_URG;
    h_input(&h, s);
    s = data(5004, 1001, H_WINDOW, "lo");
    s.extra_flags = TH_PUSH | TH_URG;
    h_input(&h, s);
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5004, H_WINDOW - 3, 0);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    h_free(&h);
}

/* No flags at all, no ACK bit: dropped without an answer. */
static void test_malformed_no_flags_dropped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, bare(5001, 1001, 0));
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* Data without the ACK bit: dropped, not delivered. */
static void test_malformed_data_without_ack_dropped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    struct tseg s = data(5001, 1001, H_WINDOW, "hello");
    s.flags = 0;
    h_input(&h, s);
    EXPECT_NOUT(&h, 0);
    EXPECT_DELIVERED(&h, "");
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
    h_free(&h);
}

static void test_malformed_shorter_than_header(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    uint8_t buf[sizeof(STCPHeader)];
    memset(buf, 0, sizeof buf);
    STCPHeader *th = (STCPHeader *)buf;
    th->th_off = 5;
    th->th_flags = TH_ACK | TH_FIN;
    h_input_raw(&h, buf, sizeof buf - 1);
    h_input_raw(&h, buf, 0);
    EXPECT_NOUT(&h, 0);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 2);
    h_free(&h);
}

/* CLOSED takes nothing and answers nothing. */
static void test_malformed_segment_in_closed_dropped(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_input(&h, syn(300));
    h_input(&h, ack(300, 1, H_WINDOW));
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 2);
    h_free(&h);
}

/* ======================= SYN cookies: the core's part ==================== */

#define COOKIE 0x29abcdefu

/* The final ACK proved cookie COOKIE for a client with ISN 300. */
static void cookie_open(struct harness *h, uint32_t cookie)
{
    h_init(h, H_WINDOW);
    tcp_open_established(&h->tcb, h->now, cookie, 300, H_WINDOW, SYNCOOKIE_WINDOW, 0);
    tcp_output(&h->tcb, h->now);
}

static void test_cookie_open_established(void)
{
    struct harness h;
    cookie_open(&h, COOKIE);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.established, 1);
    CU_ASSERT_EQUAL(h.tcb.snd_una, COOKIE + 1);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, COOKIE + 1);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 301);
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, H_WINDOW);
    EXPECT_NOUT(&h, 0); /* the handshake is over: nothing owed */
    h_free(&h);
}

/* The first segment we send offers the real window, not the cookie's 1. */
static void test_cookie_first_segment_advertises_real_window(void)
{
    struct harness h;
    cookie_open(&h, COOKIE);
    h_write(&h, "hi");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, COOKIE + 1, 301, H_WINDOW, 2);
    h_free(&h);
}

/* The client's first byte (seq = irs+1) is delivered; the ACK opens the window. */
static void test_cookie_first_data_delivered(void)
{
    struct harness h;
    cookie_open(&h, COOKIE);
    h_input(&h, data(301, COOKIE + 1, H_WINDOW, "h"));
    EXPECT_DELIVERED(&h, "h");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, COOKIE + 1, 302, H_WINDOW, 0);
    h_input(&h, data(302, COOKIE + 1, H_WINDOW, "ello"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_SEG(&h, 1, TH_ACK, COOKIE + 1, 306, H_WINDOW - 4, 0);
    h_free(&h);
}

/* The cookie SYN-ACK offered one byte: more is cut at that edge. */
static void test_cookie_window_trims_first_segment(void)
{
    struct harness h;
    cookie_open(&h, COOKIE);
    h_input(&h, data(301, COOKIE + 1, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "h");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, COOKIE + 1, 302, H_WINDOW, 0);
    h_free(&h);
}

/* A cookie of 0xffffffff: our first byte is 0. */
static void test_cookie_iss_wraps(void)
{
    struct harness h;
    cookie_open(&h, 0xffffffffu);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 0);
    h_write(&h, "hi");
    EXPECT_SEG(&h, 0, TH_ACK, 0, 301, H_WINDOW, 2);
    h_input(&h, ack(301, 2, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.snd_una, 2);
    h_free(&h);
}

/* ======================= Timers ========================================== */

static void test_timer_rexmit_armed_and_stopped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.rto, RTO0); /* 50 us sample, floored at rto_min */
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_write(&h, "hello");
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + RTO0);
    CU_ASSERT_EQUAL(tcp_next_timer(&h.tcb), h.now + RTO0);
    h_input(&h, ack(5001, 1006, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    CU_ASSERT(tcp_next_timer(&h.tcb) > h.now); /* nothing owed now */
    h_free(&h);
}

/* The backed-off RTO stops at rto_max (100 ms). */
static void test_timer_rto_capped_at_rto_max(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    while (h.tcb.rto < 100 * STCP_MSEC)
        h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.rto, 100 * STCP_MSEC);
    h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.rto, 100 * STCP_MSEC);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, h.now + 100 * STCP_MSEC);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* Probes back off up to persist_max. */
static void test_timer_persist_backoff_capped(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "x");
    stcp_usec_t want = RTO0;
    for (int k = 0; k < 14; k++) {
        CU_ASSERT_EQUAL(h.tcb.persist_at, h.now + want);
        h_advance(&h, want);
        want = want * 2 < h.tcb.cfg.persist_max ? want * 2 : h.tcb.cfg.persist_max;
    }
    EXPECT_NOUT(&h, 14);
    CU_ASSERT_EQUAL(h.tcb.persist_at, h.now + h.tcb.cfg.persist_max);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* A user timeout of 5 s (MYSO_USER_TIMEOUT / STCP_USER_TIMEOUT_MS), so the
 * give-up rule's tests stay within the harness's record of segments. */
static void short_user_timeout(struct harness *h)
{
    h->tcb.cfg.abort_silence = h->tcb.cfg.abort_silence_syn = 5 * STCP_SEC;
}

/* A silent peer: given up after max_retries and abort_silence. */
static void test_timer_abort_when_peer_silent(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    short_user_timeout(&h);
    stcp_usec_t heard = h.now;
    h_write(&h, "hello");
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++)
        h_advance(&h, h.tcb.rexmit_at - h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 1);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT(h.tcb.stats.rexmit_timeout >= h.tcb.cfg.max_retries);
    /* The last word is a RST, in case only the peer's answers were lost. */
    CU_ASSERT_FATAL(h.nout > 0);
    EXPECT_SEG(&h, h.nout - 1, TH_RST | TH_ACK, 1006, 5001, 0, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, 1);
    CU_ASSERT(h.now - heard >= h.tcb.cfg.abort_silence);
    h_free(&h);
}

/* Idle time is not silence: a connection idle for longer than
 * abort_silence that then sends gives its peer abort_silence from the
 * send to answer, not less. */
static void test_timer_idle_is_not_silence(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    short_user_timeout(&h);
    h_advance(&h, 2 * h.tcb.cfg.abort_silence); /* idle: nothing asked of the peer */
    stcp_usec_t sent = h.now;
    h_write(&h, "hello");
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++)
        h_advance(&h, h.tcb.rexmit_at - h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - sent >= h.tcb.cfg.abort_silence);
    h_free(&h);
}

/* Forged segments (outside the window) do not count as the peer being
 * alive: a dead peer's connection still ends on time. */
static void test_timer_garbage_does_not_keep_peer_alive(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    short_user_timeout(&h);
    stcp_usec_t heard = h.now;
    h_write(&h, "hello");
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++) {
        h_advance(&h, h.tcb.rexmit_at - h.now);
        h_input(&h, data(5001 + 100000, 1001, H_WINDOW, "junk")); /* far out of window */
    }
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - heard < 2 * h.tcb.cfg.abort_silence);
    h_free(&h);
}

/* RFC 5961 7: answers to unacceptable segments are rationed: a burst,
 * then one per interval. */
static void test_challenge_acks_throttled(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    for (int i = 0; i < 100; i++)
        h_input(&h, data(5001 + 100000, 1001, H_WINDOW, "junk"));
    unsigned burst = h.nout;
    CU_ASSERT(burst > 0 && burst < 100);
    CU_ASSERT_EQUAL(h.tcb.stats.acks_throttled, 100 - burst);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    h_clear(&h);
    h.now += 10 * STCP_MSEC; /* one more is allowed later */
    h_input(&h, data(5001 + 100000, 1001, H_WINDOW, "junk"));
    EXPECT_NOUT(&h, 1);
    /* Data in order is still acknowledged as always. */
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "ok"));
    EXPECT_NOUT(&h, 1);
    EXPECT_DELIVERED(&h, "ok");
    h_free(&h);
}

/* A duplicate of data already taken (a peer whose ACK was lost asking
 * again) is always answered, even when forged segments have used up the
 * rationed challenge ACKs. */
static void test_recent_duplicates_always_acked(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "abc"));
    for (int i = 0; i < 100; i++) /* exhaust the ration */
        h_input(&h, data(5001 + 100000, 1001, H_WINDOW, "junk"));
    h_clear(&h);
    for (int i = 0; i < 5; i++)
        h_input(&h, data(5001, 1001, H_WINDOW, "abc"));
    EXPECT_NOUT(&h, 5);
    EXPECT_SEG(&h, 4, TH_ACK, 1001, 5004, H_WINDOW - 3, 0);
    EXPECT_DELIVERED(&h, "abc");
    h_free(&h);
}

/* After timeouts, an ACK of new data ends the backoff: the RTO returns to
 * the estimate at once, not at the next clean sample (README: a deliberate
 * departure from RFC 6298 5.7 for lossy paths without timestamps). */
static void test_backoff_ends_on_progress(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    stcp_usec_t estimate = h.tcb.rto;
    h_write_n(&h, 2 * STCP_MSS);
    for (int i = 0; i < 3; i++)
        h_advance(&h, h.tcb.rexmit_at - h.now);
    CU_ASSERT_EQUAL(h.tcb.rto, 8 * estimate);
    h_input(&h, ack(5001, 1001 + STCP_MSS, H_WINDOW)); /* covers a resent segment */
    CU_ASSERT_EQUAL(h.tcb.rto, estimate);
    CU_ASSERT_EQUAL(h.tcb.backoff, 0);
    h_free(&h);
}

/* Found by fuzzing: the connection failed and the application closed in
 * the same batch; CLOSED must be reported once. */
static void test_close_after_failure_reports_once(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    tcp_peer_unreachable(&h.tcb);
    h_close(&h);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.errors, 1);
    h_free(&h);
}

/* Found by fuzzing: a partial ACK (asking for a resend) and then a full
 * ACK of data and FIN in one batch: nothing is resent, least of all a FIN
 * beyond ours. */
static void test_full_ack_cancels_pending_resend(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write_n(&h, 2 * STCP_MSS);
    h_close(&h);                            /* FIN at 1001 + 1072 */
    h_advance(&h, h.tcb.rexmit_at - h.now); /* timeout: recovery */
    h_clear(&h);
    uint8_t seg[20];
    memset(seg, 0, sizeof seg);
    STCPHeader *th = (STCPHeader *)seg;
    th->th_off = 5;
    th->th_flags = TH_ACK;
    th->th_seq = htonl(5001);
    th->th_win = htons(H_WINDOW);
    th->th_ack = htonl(1001 + STCP_MSS); /* partial */
    tcp_input(&h.tcb, h.now, seg, sizeof seg);
    th->th_ack = htonl(1001 + 2 * STCP_MSS + 1); /* everything, FIN too */
    tcp_input(&h.tcb, h.now, seg, sizeof seg);
    tcp_output(&h.tcb, h.now);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* Found by fuzzing: the peer's window is zero and only our FIN is left:
 * the FIN is resent by the retransmission timer, and no probe byte is
 * made up from an empty buffer. */
static void test_fin_alone_in_zero_window_is_retransmitted(void)
{
    struct harness h;
    est(&h, 0);
    h_write(&h, "x");
    h_advance(&h, h.tcb.persist_at - h.now); /* probe: 1 byte */
    h_input(&h, ack(5001, 1002, 0));         /* taken, window still 0 */
    h_close(&h);
    h_clear(&h);
    CU_ASSERT_EQUAL(h.tcb.persist_at, STCP_NO_TIMER);
    CU_ASSERT(h.tcb.rexmit_at != STCP_NO_TIMER);
    h_advance(&h, h.tcb.rexmit_at - h.now);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1002, 5001, H_WINDOW, 0);
    h_free(&h);
}

/* A connect that is never answered fails with ETIMEDOUT. */
static void test_timer_connect_timeout(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    short_user_timeout(&h);
    h_open_active(&h, 1000);
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++)
        h_advance(&h, h.tcb.rexmit_at - h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT_EQUAL(h.established, 0);
    CU_ASSERT_EQUAL(h.closed, 1);
    h_free(&h);
}

/* Runs the timers until the connection fails or limit has passed since
 * start; the segments are not kept (a silent peer gets hundreds). */
static void run_timers_until(struct harness *h, stcp_usec_t start, stcp_usec_t limit)
{
    while (h->tcb.state != TCPS_CLOSED && h->now - start < limit) {
        stcp_usec_t at = MIN(h->tcb.rexmit_at, h->tcb.persist_at);
        h_advance(h, MIN(at, start + limit) - h->now);
        h_clear(h);
    }
}

/* By default a silent peer is given RFC 1122 4.2.3.5's R2: at least 100 s
 * for data and 3 minutes for a SYN (a peer only starved of CPU is not
 * dropped), and the connection still ends on its own.  After the first
 * max_retries tries the backoff grows towards 60 s, so that wait costs a
 * few dozen resends, not one per rto_max (about a thousand). */
#define SILENT_PEER_MAX_RESENDS(h) ((h)->tcb.cfg.max_retries + 12)

static void test_timer_default_user_timeout_rfc1122(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    stcp_usec_t sent = h.now;
    h_write(&h, "hello");
    run_timers_until(&h, sent, 99 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT(h.tcb.stats.rexmit_timeout > h.tcb.cfg.max_retries);
    run_timers_until(&h, sent, 200 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - sent >= 100 * STCP_SEC);
    CU_ASSERT(h.tcb.stats.rexmit_timeout <= SILENT_PEER_MAX_RESENDS(&h));
    h_free(&h);

    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    stcp_usec_t syn_at = h.now;
    run_timers_until(&h, syn_at, 179 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    run_timers_until(&h, syn_at, 300 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - syn_at >= 180 * STCP_SEC);
    CU_ASSERT(h.tcb.stats.rexmit_timeout <= SILENT_PEER_MAX_RESENDS(&h));
    h_free(&h);

    /* A SYN whose sender never completes the handshake (or spoofed): the
     * SYN-ACK is resent a bounded number of times. */
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    stcp_usec_t synack = h.now;
    run_timers_until(&h, synack, 300 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT(h.now - synack >= 100 * STCP_SEC);
    CU_ASSERT(h.tcb.stats.rexmit_timeout > h.tcb.cfg.max_retries);
    CU_ASSERT(h.tcb.stats.rexmit_timeout <= SILENT_PEER_MAX_RESENDS(&h));
    h_free(&h);
}

/* Runs every timer, keepalives too, until the connection fails or limit
 * has passed since start; the segments are not kept. */
static void run_all_timers_until(struct harness *h, stcp_usec_t start, stcp_usec_t limit)
{
    while (h->tcb.state != TCPS_CLOSED && h->now - start < limit) {
        stcp_usec_t at = MIN(tcp_next_timer(&h->tcb), start + limit);
        h_advance(h, at > h->now ? at - h->now : 0);
        h_clear(h);
    }
}

/* Idle time is not silence for keepalives either.  A reader starts to wait
 * on a connection whose peer has sent nothing for longer than the user
 * timeout, because nothing was asked of it (as in bench/many.sh with
 * MANY_HOLD=1: a request ACKed, its reply slow to come from a loaded
 * server, read late by its client thread): the keepalives get the whole
 * user timeout from the first one, not KEEPALIVE_TRIES intervals. */
static void test_timer_keepalive_idle_is_not_silence(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_advance(&h, 2 * h.tcb.cfg.abort_silence); /* idle, and nobody reads */
    EXPECT_NOUT(&h, 0);
    h.tcb.reader_waits = true; /* a myread has waited keepalive_idle */
    h_advance(&h, 0);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1000, 5001, H_WINDOW, 0); /* snd_nxt - 1 */
    stcp_usec_t asked = h.now;
    run_all_timers_until(&h, asked, 99 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    /* Still asking, at a backed-off pace (1, 2, 4, then every 8 s apart;
     * it was one every 500 ms, about 200 in 100 s). */
    CU_ASSERT(h.tcb.stats.keepalives > 10);
    CU_ASSERT(h.tcb.stats.keepalives <= 20);
    run_all_timers_until(&h, asked, 200 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - asked >= h.tcb.cfg.abort_silence);
    h_free(&h);
}

/* The same for zero-window probes: the window closed longer than the user
 * timeout ago while we had nothing to send; then the application writes,
 * and the probes get the whole user timeout from the first one. */
static void test_timer_persist_idle_is_not_silence(void)
{
    struct harness h;
    est(&h, 0);
    h_advance(&h, 2 * h.tcb.cfg.abort_silence); /* nothing to send */
    stcp_usec_t asked = h.now;
    h_write(&h, "x");
    CU_ASSERT_FATAL(h.tcb.persist_at != STCP_NO_TIMER);
    run_timers_until(&h, asked, 99 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT(h.tcb.unanswered_probes > h.tcb.cfg.max_retries);
    run_timers_until(&h, asked, 200 * STCP_SEC);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ETIMEDOUT);
    CU_ASSERT(h.now - asked >= h.tcb.cfg.abort_silence);
    h_free(&h);
}

/* FIN_WAIT_2 after close: a peer that never sends its FIN is given up on,
 * at the latest after orphan_timeout. */
static void test_timer_orphan_fin_wait_2(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_close(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    stcp_usec_t t0 = h.now;
    CU_ASSERT_EQUAL(h.tcb.close_at, t0 + h.tcb.cfg.orphan_timeout);
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++)
        h_advance(&h, tcp_next_timer(&h.tcb) - h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT(h.now - t0 <= h.tcb.cfg.orphan_timeout);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.closed, 1);
    h_free(&h);
}

/* ===================== Half-close (myshutdown SHUT_WR) ===================== */

/* Our side half-closes; the peer keeps sending for as long as it likes
 * (no orphan timeout: the application still reads), then closes. */
static void test_half_close_peer_keeps_sending(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_shutdown(&h);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_FALSE(h.tcb.app_closed);
    h_clear(&h);
    h_input(&h, datan(5001, 1002, H_WINDOW, stream(), 100)); /* acks our FIN */
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.tcb.close_at, STCP_NO_TIMER);
    expect_stream(&h, 100);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5101, H_WINDOW - 100, 0);
    /* Well past the orphan timeout, the connection still takes data. */
    h_advance(&h, h.tcb.cfg.orphan_timeout + 1);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    h_clear(&h);
    h_input(&h, datan(5101, 1002, H_WINDOW, stream() + 100, 100));
    expect_stream(&h, 200);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5201, H_WINDOW - 200, 0);
    h_clear(&h);
    h_input(&h, fin(5201, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5202, H_WINDOW - 201, 0);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.close_done, 1);
    h_free(&h);
}

/* The FIN follows the data written before the half-close; nothing can be
 * written after it, and a second half-close sends nothing more. */
static void test_half_close_fin_after_data_once(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_write(&h, "hello");
    h_shutdown(&h);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 5);
    expect_payload(&h, 0, "hello");
    EXPECT_SEG(&h, 1, TH_FIN | TH_ACK, 1006, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(tcp_send_space(&h.tcb), 0);
    CU_ASSERT_EQUAL(h_write(&h, "more"), 0);
    h_shutdown(&h);
    EXPECT_NOUT(&h, 2);
    CU_ASSERT_EQUAL(h.tcb.snd_nxt, 1007);
    h_free(&h);
}

/* Both sides half-close at once: CLOSING, then TIME_WAIT; what the peer
 * sent with its FIN is delivered. */
static void test_half_close_both_sides(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_shutdown(&h);
    h_clear(&h);
    h_input(&h, with_flags(datan(5001, 1001, H_WINDOW, stream(), 50), TH_FIN));
    EXPECT_STATE(&h, TCPS_CLOSING);
    expect_stream(&h, 50);
    CU_ASSERT_EQUAL(h.peer_fin, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1002, 5052, H_WINDOW - 51, 0);
    h_input(&h, ack(5052, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_TIME_WAIT);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_FALSE(h.tcb.app_closed);
    h_free(&h);
}

/* The peer closed first; our half-close is the second FIN (LAST_ACK). */
static void test_half_close_in_close_wait(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    h_clear(&h);
    h_shutdown(&h);
    EXPECT_STATE(&h, TCPS_LAST_ACK);
    EXPECT_SEG(&h, 0, TH_FIN | TH_ACK, 1001, 5002, H_WINDOW - 1, 0);
    h_input(&h, ack(5002, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.closed, 1);
    h_free(&h);
}

/* Close after a half-close whose FIN is acknowledged: nothing is sent,
 * CLOSE_DONE is not reported again, and FIN_WAIT_2 now has the orphan
 * timeout (nobody reads any more). */
static void test_close_after_half_close(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_shutdown(&h);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    CU_ASSERT_EQUAL(h.tcb.close_at, STCP_NO_TIMER);
    h.now += 300 * STCP_MSEC;
    h_clear(&h);
    h_close(&h);
    EXPECT_NOUT(&h, 0);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    CU_ASSERT(h.tcb.app_closed);
    stcp_usec_t t0 = h.now;
    CU_ASSERT_EQUAL(h.tcb.close_at, t0 + h.tcb.cfg.orphan_timeout);
    CU_ASSERT_EQUAL(h.close_done, 1);
    for (int i = 0; i < 1000 && h.tcb.state != TCPS_CLOSED; i++)
        h_advance(&h, tcp_next_timer(&h.tcb) - h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT(h.now - t0 <= h.tcb.cfg.orphan_timeout);
    CU_ASSERT_EQUAL(h.close_done, 1);
    CU_ASSERT_EQUAL(h.closed, 1);
    h_free(&h);
}

/* Close after a half-close, before the FIN is acknowledged: the ACK then
 * leads to an orphaned FIN_WAIT_2, as after a plain close. */
static void test_close_after_half_close_in_fin_wait_1(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_shutdown(&h);
    h_clear(&h);
    h_close(&h);
    EXPECT_NOUT(&h, 0);
    EXPECT_STATE(&h, TCPS_FIN_WAIT_1);
    h_input(&h, ack(5001, 1002, H_WINDOW));
    EXPECT_STATE(&h, TCPS_FIN_WAIT_2);
    CU_ASSERT_EQUAL(h.tcb.close_at, h.now + h.tcb.cfg.orphan_timeout);
    CU_ASSERT_EQUAL(h.close_done, 1);
    h_free(&h);
}

/* ICMP port unreachable while connecting: ECONNREFUSED. */
static void test_timer_unreachable_while_connecting(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    tcp_peer_unreachable(&h.tcb);
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 1);
    CU_ASSERT_EQUAL(h.error, ECONNREFUSED);
    CU_ASSERT_EQUAL(h.tcb.rexmit_at, STCP_NO_TIMER);
    h_free(&h);
}

/* ======================= Registration ==================================== */

/* ---- MSS and options (RFC 9293 3.1, 3.7.1) ---- */

/* ESTABLISHED as 1000/5000 with our MSS limit ours, the peer's SYN-ACK
 * carrying MSS option peer_mss (0: none); outputs cleared. */
static void est_mss(struct harness *h, uint32_t ours, uint16_t peer_mss, uint16_t peer_win)
{
    h_init_mss(h, H_WINDOW, ours);
    h_open_active(h, 1000);
    h->now += 50;
    struct tseg s = synack(5000, 1001, peer_win);
    h_input(h, peer_mss ? with_mss(s, peer_mss) : s);
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED);
    h_clear(h);
}

/* Our SYN and SYN-ACK announce our limit (EXPECT_SEG checks the option of
 * every SYN it sees against cfg.mss). */
static void test_mss_option_in_syn_and_synack(void)
{
    struct harness h;
    h_init_mss(&h, H_WINDOW, 1460);
    tcp_connect(&h.tcb, h.now, 1000);
    tcp_output(&h.tcb, h.now);
    EXPECT_SEG(&h, 0, TH_SYN, 1000, 0, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.out[0].mss, 1460);
    CU_ASSERT_EQUAL(h.out[0].th_off, 8); /* MSS, SACK-permitted, window scale */
    h_free(&h);

    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.out[0].mss, STCP_MSS);
    h_clear(&h);
    h_input(&h, ack(301, 7001, H_WINDOW));
    h_write(&h, "x");
    EXPECT_SEG(&h, 0, TH_ACK, 7001, 301, H_WINDOW, 1); /* no option after the SYN */
    CU_ASSERT_EQUAL(h.out[0].mss, 0);
    h_free(&h);
}

/* Send n bytes into a wide-open window and check the segment sizes. */
static void expect_segment_sizes(struct harness *h, size_t n, uint32_t mss)
{
    h_write_n(h, n);
    size_t sent = 0;
    for (unsigned i = 0; i < h->nout; i++) {
        uint32_t want = (uint32_t)MIN((size_t)mss, n - sent);
        CU_ASSERT_EQUAL(h->out[i].len, want);
        CU_ASSERT_EQUAL(h->out[i].seq, 1001 + sent);
        sent += h->out[i].len;
    }
    CU_ASSERT_EQUAL(sent, n); /* what is queued goes out in full segments */
}

static void test_mss_effective(void)
{
    struct harness h;
    /* No option from the peer: 536, even though we could do more. */
    est_mss(&h, 1460, 0, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 536);
    expect_segment_sizes(&h, 3000, 536);
    h_free(&h);
    /* The peer offers more than our limit: our limit. */
    est_mss(&h, 536, 1460, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 536);
    expect_segment_sizes(&h, 3000, 536);
    h_free(&h);
    /* Both can do 1460. */
    est_mss(&h, 1460, 1460, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1460);
    expect_segment_sizes(&h, 3000, 1460);
    h_free(&h);
    /* The peer's limit is smaller than ours. */
    est_mss(&h, 1460, 1000, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1000);
    expect_segment_sizes(&h, 3000, 1000);
    h_free(&h);
    /* An absurd peer MSS does not make tiny segments. */
    est_mss(&h, 1460, 1, H_WINDOW);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, TCP_MIN_MSS);
    h_free(&h);
}

/* The same from a passive open: the SYN's option decides. */
static void test_mss_effective_passive(void)
{
    struct harness h;
    h_init_mss(&h, H_WINDOW, 1460);
    h_open_passive(&h, 7000);
    h_input(&h, with_mss(syn(300), 1200));
    h_input(&h, ack(301, 7001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1200);
    h_free(&h);
}

/* A resend after a timeout is at most an MSS too, and a larger MSS. */
static void test_mss_resend_is_full_segment(void)
{
    struct harness h;
    est_mss(&h, 1460, 1460, H_WINDOW);
    h_write_n(&h, 2000);
    h_clear(&h);
    h_advance(&h, h.tcb.rexmit_at - h.now);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 1460);
    h_free(&h);
}

/* A segment larger than the MSS we announced is still correct TCP: taken. */
static void test_mss_large_segment_accepted(void)
{
    struct harness h;
    est(&h, H_WINDOW); /* our MSS 536 */
    static uint8_t big[1460];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)('a' + i % 26);
    h_input(&h, datan(5001, 1001, H_WINDOW, big, sizeof big));
    CU_ASSERT_EQUAL(h.ndelivered, sizeof big);
    CU_ASSERT(memcmp(h.delivered, big, sizeof big) == 0);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001 + 1460);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 0);
    h_free(&h);
}

/* What Linux's SYN carries: MSS, SACK-permitted, timestamps, NOP, window
 * scale.  Options we do not use are skipped and none is echoed. */
/* clang-format off */
static const uint8_t linux_syn_opts[20] = {
    2, 4, 0x05, 0xb4,              /* MSS 1460 */
    4, 2,                          /* SACK permitted */
    8, 10, 0, 1, 2, 3, 0, 0, 0, 0, /* timestamps */
    1,                             /* NOP */
    3, 3, 7                        /* window scale 7 */
};
/* clang-format on */

static void test_options_linux_syn(void)
{
    struct harness h;
    h_init_mss(&h, H_WINDOW, 1460);
    h_open_passive(&h, 7000);
    struct tseg s = syn(300);
    s.opts = linux_syn_opts;
    s.opts_len = sizeof linux_syn_opts;
    h_input(&h, s);
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    EXPECT_NOUT(&h, 1);
    /* Our MSS and the SACK and window scale it offered (EXPECT_SEG checks th_off 8);
     * the timestamps are not echoed. */
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.out[0].th_off, 8);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1460);
    h_free(&h);

    /* As a SYN-ACK: the same. */
    h_init_mss(&h, H_WINDOW, 1460);
    h_open_active(&h, 1000);
    s = synack(5000, 1001, H_WINDOW);
    s.opts = linux_syn_opts;
    s.opts_len = sizeof linux_syn_opts;
    h_input(&h, s);
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1460);
    h_free(&h);
}

/* Malformed options: the segment is dropped (no answer) and counted. */
static void test_options_malformed_dropped(void)
{
    static const uint8_t bad[][8] = {
        {30, 0, 0, 0, 0, 0, 0, 0}, /* length 0 */
        {30, 1, 0, 0, 0, 0, 0, 0}, /* length 1 */
        {1, 1, 1, 1, 1, 1, 30, 4}, /* runs past th_off */
        {1, 1, 1, 1, 1, 1, 1, 30}, /* kind with no length byte */
        {2, 3, 5, 0, 0, 0, 0, 0},  /* MSS of length 3 */
        {2, 6, 5, 0, 0, 0, 0, 0},  /* MSS of length 6 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct harness h;
        est(&h, H_WINDOW);
        struct tseg s = data(5001, 1001, H_WINDOW, "hello");
        s.opts = bad[i];
        s.opts_len = 8;
        h_input(&h, s);
        EXPECT_NOUT(&h, 0);
        EXPECT_DELIVERED(&h, "");
        CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 1);
        CU_ASSERT_EQUAL(h.tcb.stats.bad_options_in, 1);
        EXPECT_STATE(&h, TCPS_ESTABLISHED);
        h_free(&h);
    }
    /* And the same options on a SYN to a listener. */
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    struct tseg s = syn(300);
    s.opts = bad[4];
    s.opts_len = 8;
    h_input(&h, s);
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.bad_options_in, 1);
    h_free(&h);
}

/* A connection opened by a cookie uses the cookie's MSS (within our limit). */
static void test_mss_from_cookie(void)
{
    struct harness h;
    h_init_mss(&h, H_WINDOW, 1460);
    tcp_open_established(&h.tcb, h.now, 1000, 5000, H_WINDOW, H_WINDOW, 1460);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 1460);
    h_clear(&h);
    expect_segment_sizes(&h, 3000, 1460);
    h_free(&h);
    h_init(&h, H_WINDOW); /* our limit 536 */
    tcp_open_established(&h.tcb, h.now, 1000, 5000, H_WINDOW, H_WINDOW, 1460);
    CU_ASSERT_EQUAL(h.tcb.snd_mss, 536);
    h_free(&h);
}

/* ---- RST (RFC 9293 3.10.7 with RFC 5961 3) ---- */

/* SYN_SENT: a RST acknowledging our SYN refuses the connection at once. */
static void test_rst_syn_sent_refused(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, rstack(0, 1001));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 1);
    CU_ASSERT_EQUAL(h.error, ECONNREFUSED);
    CU_ASSERT_EQUAL(h.closed, 1);
    EXPECT_NOUT(&h, 0); /* a RST is never answered */
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_in, 1);
    h_free(&h);
}

/* SYN_SENT: a RST without an acceptable ACK could be anyone's: dropped,
 * unanswered, and the real SYN-ACK still completes the open. */
static void test_rst_syn_sent_unacceptable_dropped(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, rst(0));          /* no ACK */
    h_input(&h, rstack(0, 1000)); /* acks nothing */
    h_input(&h, rstack(0, 1002)); /* acks what was not sent */
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_in, 3);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 3);
    h_input(&h, synack(5000, 1001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* Synchronized: a RST at exactly rcv_nxt resets. */
static void test_rst_exact_resets(void)
{
    static const enum tcp_state states[] = {TCPS_ESTABLISHED, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2,
                                            TCPS_CLOSE_WAIT};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        struct harness h;
        est(&h, H_WINDOW);
        h_input(&h, data(5001, 1001, H_WINDOW, "abc"));
        if (states[i] == TCPS_FIN_WAIT_1 || states[i] == TCPS_FIN_WAIT_2)
            h_close(&h);
        if (states[i] == TCPS_FIN_WAIT_2)
            h_input(&h, ack(5004, 1002, H_WINDOW));
        if (states[i] == TCPS_CLOSE_WAIT)
            h_input(&h, fin(5004, 1001, H_WINDOW));
        uint32_t rcv_nxt = h.tcb.rcv_nxt;
        EXPECT_STATE(&h, states[i]);
        h_clear(&h);
        h_input(&h, i % 2 ? rst(rcv_nxt) : rstack(rcv_nxt, 1001));
        EXPECT_STATE(&h, TCPS_CLOSED);
        CU_ASSERT_EQUAL(h.errors, 1);
        CU_ASSERT_EQUAL(h.error, ECONNRESET);
        CU_ASSERT_EQUAL(h.closed, 1);
        EXPECT_NOUT(&h, 0);
        h_free(&h);
    }
}

/* Synchronized: in the window but not exact gets a challenge ACK (the
 * real peer answers it with an exact RST); the connection goes on. */
static void test_rst_in_window_challenged(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, rst(5002));
    h_input(&h, rstack(5001 + H_WINDOW - 1, 1001));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0);
    EXPECT_SEG(&h, 1, TH_ACK, 1001, 5001, H_WINDOW, 0);
    CU_ASSERT_EQUAL(h.errors, 0);
    /* Rationed like every challenge ACK. */
    h_clear(&h);
    for (int i = 0; i < 100; i++)
        h_input(&h, rst(5002));
    CU_ASSERT(h.nout < 100);
    CU_ASSERT(h.tcb.stats.acks_throttled > 0);
    /* The exact one still resets. */
    h_input(&h, rst(5001));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ECONNRESET);
    h_free(&h);
}

/* Synchronized: outside the window: dropped, no answer of any kind. */
static void test_rst_out_of_window_dropped(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, rst(5000));            /* just before */
    h_input(&h, rst(5001 + H_WINDOW)); /* just beyond */
    h_input(&h, rstack(5001 + 100000, 1001));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_in, 3);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, 0);
    h_input(&h, data(5001, 1001, H_WINDOW, "ok"));
    EXPECT_DELIVERED(&h, "ok");
    h_free(&h);
}

/* SYN_RECEIVED from a listen: an exact RST ends the attempt quietly (no
 * error, never established: the framework frees its backlog slot). */
static void test_rst_syn_received_passive_quiet(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_input(&h, rst(301));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.established, 0);
    CU_ASSERT_EQUAL(h.closed, 1);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* SYN_RECEIVED from a simultaneous open: refused, as in SYN_SENT. */
static void test_rst_syn_received_active_refused(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    h_input(&h, syn(5000));
    h_clear(&h);
    h_input(&h, rst(5001));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.error, ECONNREFUSED);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* SYN_RECEIVED: an ACK of something we never sent gets
 * <SEQ=SEG.ACK><CTL=RST>; the handshake can still complete. */
static void test_rst_syn_received_bad_ack_reset(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    h_input(&h, syn(300));
    h_clear(&h);
    h_input(&h, ack(301, 9999, H_WINDOW));
    EXPECT_STATE(&h, TCPS_SYN_RECEIVED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_RST, 9999, 0, 0, 0);
    h_clear(&h);
    h_input(&h, ack(301, 7001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    h_free(&h);
}

/* The peer's SYN and its resend arrive in one batch: one SYN-ACK goes
 * out, as the first, and the peer's ACK of it completes the handshake
 * (it used to be answered before snd_nxt moved, so the ACK looked
 * unacceptable, and now that would be a RST). */
static void test_rst_not_sent_for_batched_duplicate_syn(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    uint8_t wire[20];
    memset(wire, 0, sizeof wire);
    STCPHeader *th = (STCPHeader *)wire;
    th->th_seq = htonl(300);
    th->th_off = 5;
    th->th_flags = TH_SYN;
    th->th_win = htons(H_WINDOW);
    tcp_input(&h.tcb, h.now, wire, sizeof wire);
    tcp_input(&h.tcb, h.now, wire, sizeof wire);
    tcp_output(&h.tcb, h.now);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN | TH_ACK, 7000, 301, H_WINDOW, 0);
    h_clear(&h);
    h_input(&h, ack(301, 7001, H_WINDOW));
    EXPECT_STATE(&h, TCPS_ESTABLISHED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, 0);
    h_free(&h);
}

/* LISTEN: a RST (even with SYN) is never answered, and cannot open the
 * connection: the attempt ends, without an error. */
static void test_rst_listen_ignored(void)
{
    static const uint8_t flags[] = {TH_RST, TH_RST | TH_ACK, TH_RST | TH_SYN};
    for (size_t i = 0; i < sizeof flags; i++) {
        struct harness h;
        h_init(&h, H_WINDOW);
        h_open_passive(&h, 7000);
        h_input(&h, bare(300, 7001, flags[i]));
        EXPECT_STATE(&h, TCPS_CLOSED);
        EXPECT_NOUT(&h, 0);
        CU_ASSERT_EQUAL(h.errors, 0);
        CU_ASSERT_EQUAL(h.closed, 1);
        h_free(&h);
    }
}

/* LISTEN: a SYN with malformed options cannot open the connection either. */
static void test_listen_malformed_syn_ends(void)
{
    static const uint8_t bad[4] = {TCPOPT_MSS, 3, 0, 0};
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_passive(&h, 7000);
    struct tseg s = syn(300);
    s.opts = bad;
    s.opts_len = 4;
    h_input(&h, s);
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 0);
    CU_ASSERT_EQUAL(h.tcb.stats.bad_options_in, 1);
    h_free(&h);
}

/* CLOSING, LAST_ACK, TIME_WAIT: an exact RST just ends the connection. */
static void test_rst_closing_states_close(void)
{
    struct harness h;
    reach_time_wait(&h);
    h_input(&h, rst(h.tcb.rcv_nxt));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.closed, 1);
    EXPECT_NOUT(&h, 0);
    h_free(&h);

    est(&h, H_WINDOW);
    h_input(&h, fin(5001, 1001, H_WINDOW));
    h_close(&h); /* LAST_ACK */
    EXPECT_STATE(&h, TCPS_LAST_ACK);
    h_clear(&h);
    h_input(&h, rst(5002));
    EXPECT_STATE(&h, TCPS_CLOSED);
    CU_ASSERT_EQUAL(h.errors, 0);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* The application closes with data unread: RST <SEQ=SND.NXT><ACK=RCV.NXT>,
 * and the connection ends at once without an error. */
static void test_rst_user_abort(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "unread"));
    h_write(&h, "in flight");
    h_clear(&h);
    tcp_user_abort(&h.tcb, h.now);
    tcp_output(&h.tcb, h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_RST | TH_ACK, 1010, 5007, 0, 0);
    CU_ASSERT_EQUAL(h.errors, 0);
    CU_ASSERT_EQUAL(h.closed, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, 1);
    h_advance(&h, STCP_SEC); /* nothing more, ever */
    EXPECT_NOUT(&h, 1);
    h_free(&h);

    /* Written just before the close and not sent yet: it goes out first,
     * and the RST follows it in sequence. */
    est(&h, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "unread"));
    h_clear(&h);
    tcp_write(&h.tcb, "reply", 5);
    tcp_user_abort(&h.tcb, h.now);
    EXPECT_NOUT(&h, 2);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5007, H_WINDOW - 6, 5);
    EXPECT_SEG(&h, 1, TH_RST | TH_ACK, 1006, 5007, 0, 0);
    h_free(&h);

    /* Before the peer answered, there is nobody to tell. */
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    tcp_user_abort(&h.tcb, h.now);
    EXPECT_STATE(&h, TCPS_CLOSED);
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* Every RST we send is rationed: garbage cannot make us an amplifier. */
static void test_rst_rate_limited(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 1000);
    for (int i = 0; i < 100; i++)
        h_input(&h, synack(5000, 2000 + (uint32_t)i, H_WINDOW));
    unsigned burst = h.nout;
    CU_ASSERT(burst > 0 && burst < 100);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_out, burst);
    CU_ASSERT_EQUAL(h.tcb.stats.rsts_throttled, 100 - burst);
    for (unsigned i = 0; i < burst; i++)
        CU_ASSERT_EQUAL(h.out[i].flags, TH_RST);
    h_clear(&h);
    h.now += 10 * STCP_MSEC; /* one more later */
    h_input(&h, synack(5000, 3000, H_WINDOW));
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_RST, 3000, 0, 0, 0);
    h_free(&h);
}

/* ---- Receiving in place (tcp_input_split) ---- */

/* The application's queue is h->delivered: a payload received in place
 * lies at its end already, so handing it up only counts it. */
static unsigned in_place_calls;
static void h_deliver_in_place(void *ctx, size_t len)
{
    struct harness *h = ctx;
    CU_ASSERT(len <= h->rcvbuf - h->unread);
    h->ndelivered += len;
    h->unread += len;
    in_place_calls++;
}

/* A header with no options for a data segment from the peer. */
static void split_hdr(STCPHeader *hd, uint32_t seq, uint32_t ack, uint16_t win)
{
    memset(hd, 0, sizeof *hd);
    hd->th_seq = htonl(seq);
    hd->th_ack = htonl(ack);
    hd->th_off = 5;
    hd->th_flags = TH_ACK;
    hd->th_win = htons(win);
}

/* Receive "text" split: header apart, payload at the end of the
 * application's queue (in_place) or elsewhere. */
static void split_input(struct harness *h, uint32_t seq, const char *text, bool in_place)
{
    static uint8_t elsewhere[64];
    STCPHeader hd;
    split_hdr(&hd, seq, 1001, H_WINDOW);
    size_t len = strlen(text);
    uint8_t *p = in_place ? h->delivered + h->ndelivered : elsewhere;
    memcpy(p, text, len);
    tcp_input_split(&h->tcb, h->now, &hd, sizeof hd, p, len, in_place);
    tcp_output(&h->tcb, h->now);
}

/* In order: handed up where it lies, no copy; out of order: kept (copied)
 * until the gap fills, then copied up; the ACKs are those of tcp_input. */
static void test_split_in_place(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h.tcb.env.deliver_in_place = h_deliver_in_place;
    in_place_calls = 0;
    split_input(&h, 5001, "abc", true);
    EXPECT_DELIVERED(&h, "abc");
    CU_ASSERT_EQUAL(in_place_calls, 1);
    CU_ASSERT_EQUAL(h.tcb.stats.bytes_in_place, 3);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5004);
    /* Beyond a gap: kept, a duplicate ACK at once; the bytes at the queue's
     * end are only scratch (the next payload is received there too). */
    h_clear(&h);
    split_input(&h, 5007, "ghi", true);
    CU_ASSERT_EQUAL(in_place_calls, 1);
    EXPECT_DELIVERED(&h, "abc");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5004, H_WINDOW - 3, 0);
    /* The gap filled in place: its bytes in place, the kept ones copied. */
    split_input(&h, 5004, "def", true);
    CU_ASSERT_EQUAL(in_place_calls, 2);
    EXPECT_DELIVERED(&h, "abcdefghi");
    CU_ASSERT_EQUAL(h.tcb.stats.bytes_in_place, 6);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5010);
    /* Not in place (elsewhere): copied as tcp_input does. */
    split_input(&h, 5010, "jk", false);
    CU_ASSERT_EQUAL(in_place_calls, 2);
    EXPECT_DELIVERED(&h, "abcdefghijk");
    /* Partly old: the new part is copied up (it does not lie at the end). */
    split_input(&h, 5011, "klm", true);
    CU_ASSERT_EQUAL(in_place_calls, 2);
    EXPECT_DELIVERED(&h, "abcdefghijklm");
    h_free(&h);
}

/* A header piece longer than its header, or a short one: dropped. */
static void test_split_malformed(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    h.tcb.env.deliver_in_place = h_deliver_in_place;
    uint8_t buf[24];
    split_hdr((STCPHeader *)buf, 5001, 1001, H_WINDOW);
    tcp_input_split(&h.tcb, h.now, buf, sizeof buf, "x", 1, true);
    tcp_input_split(&h.tcb, h.now, buf, 12, "x", 1, true);
    CU_ASSERT_EQUAL(h.tcb.stats.dropped_in, 2);
    CU_ASSERT_EQUAL(h.tcb.rcv_nxt, 5001);
    CU_ASSERT_EQUAL(h.ndelivered, 0);
    h_free(&h);
}

/* ---- Sending from a lent ring (tcp_send_lend) ---- */

static size_t released;
static void h_release(void *ctx, size_t len)
{
    (void)ctx;
    released += len;
}

/* The payload comes out of the lender's ring as it lies (wrapping at its
 * end), and acknowledged bytes go back to the lender, oldest first. */
static void test_send_lent_ring(void)
{
    struct harness h;
    est(&h, H_WINDOW);
    static const uint8_t ring[16] = "0123456789ABCDEF";
    released = 0;
    CU_ASSERT_EQUAL(tcp_send_lend(&h.tcb, ring, sizeof ring, 10, h_release, NULL), 0);
    tcp_write_lent(&h.tcb, 10); /* "ABCDEF" then "0123" */
    tcp_output(&h.tcb, h.now);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 10);
    CU_ASSERT_EQUAL(memcmp(h.out[0].payload, "ABCDEF0123", 10), 0);
    CU_ASSERT_EQUAL(tcp_send_space(&h.tcb), 6); /* the ring's size bounds it now */
    /* Not while bytes are queued. */
    CU_ASSERT_EQUAL(tcp_send_lend(&h.tcb, ring, sizeof ring, 0, h_release, NULL), -1);
    CU_ASSERT_EQUAL(errno, EBUSY);
    h_input(&h, ack(5001, 1005, H_WINDOW));
    CU_ASSERT_EQUAL(released, 4);
    h_input(&h, ack(5001, 1011, H_WINDOW));
    CU_ASSERT_EQUAL(released, 10);
    CU_ASSERT_EQUAL(tcp_send_space(&h.tcb), 16);
    h_free(&h); /* the ring is not the core's to free */
}

struct core_case {
    const char *name;
    CU_TestFunc fn;
};

static void add_suite(const char *name, const struct core_case *c, size_t n)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        CU_add_test(s, c[i].name, c[i].fn);
}

#define ADD_SUITE(name, cases) add_suite((name), (cases), sizeof(cases) / sizeof((cases)[0]))

void register_core_suites(void)
{
    static const struct core_case handshake_cases[] = {
        {"active open sends SYN", test_active_open_sends_syn},
        {"active open completes", test_active_open_completes},
        {"passive open completes", test_passive_open_completes},
        {"SYN-ACK with wrong ack dropped", test_synack_with_wrong_ack_dropped},
        {"SYN_SENT drops segment without SYN", test_syn_sent_drops_segment_without_syn},
        {"SYN retransmitted, RTO doubles", test_syn_retransmitted_with_backoff},
        {"SYN-ACK after resent SYN: no RTT sample",
         test_synack_after_resent_syn_gives_no_rtt_sample},
        {"handshake gives RTT sample", test_handshake_gives_rtt_sample},
        {"simultaneous open", test_simultaneous_open},
        {"simultaneous open completed by peer SYN-ACK",
         test_simultaneous_open_completed_by_peer_synack},
        {"duplicate SYN in SYN_RECEIVED resends SYN-ACK", test_duplicate_syn_in_syn_received},
        {"SYN-ACK retransmitted on timeout", test_synack_retransmitted_on_timeout},
        {"duplicate SYN in ESTABLISHED acked", test_duplicate_syn_in_established},
        {"SYN in window gets challenge ACK", test_syn_in_window_gets_challenge_ack},
        {"resent SYN-ACK in ESTABLISHED acked", test_resent_synack_in_established_acked},
        {"data on third segment delivered", test_data_on_third_segment_delivered},
        {"SYN-ACK carrying data delivered", test_synack_carrying_data_delivered},
        {"queued data sent on third segment", test_queued_data_sent_on_third_segment},
        {"LISTEN drops non-SYN", test_listen_drops_non_syn},
        {"close in SYN_RECEIVED: FIN once established",
         test_close_in_syn_received_sends_fin_once_established},
    };
    static const struct core_case data_cases[] = {
        {"in order delivered and acked", test_data_in_order_delivered_and_acked},
        {"two segments each acked", test_data_two_segments_each_acked},
        {"out of order, then gap filled", test_data_out_of_order_then_gap_filled},
        {"two holes filled one by one", test_data_two_holes_filled_one_by_one},
        {"duplicate acked, not redelivered", test_data_duplicate_acked_not_redelivered},
        {"old segment acked", test_data_old_segment_acked},
        {"overlap: partly old, partly new", test_data_overlap_old_and_new},
        {"overlap both edges of buffered run", test_data_overlap_both_edges_of_buffered_run},
        {"in order overlapping buffered run", test_data_in_order_overlapping_buffered_run},
        {"beyond window trimmed", test_data_beyond_window_trimmed},
        {"out of order beyond window trimmed", test_data_out_of_order_beyond_window_trimmed},
        {"wholly beyond window dropped", test_data_wholly_beyond_window_dropped},
        {"slow reader shrinks window", test_data_slow_reader_shrinks_window},
        {"zero window: probe acked, not delivered",
         test_data_zero_window_probe_acked_not_delivered},
        {"window update when reader frees an MSS", test_data_window_update_when_reader_frees_mss},
        {"peer zero window: persist probe, backoff", test_data_zero_window_persist_probe},
        {"probe acked, window opens", test_data_probe_acked_window_opens},
        {"window opens, probe not taken: resent first", test_data_window_opens_probe_not_taken},
        {"ACK within the peer's zero window", test_data_ack_seq_within_zero_window},
        {"window update opens sender", test_data_window_update_opens_sender},
        {"flight limited by peer window", test_data_flight_limited_by_peer_window},
        {"flight limited by configured window", test_data_flight_limited_by_configured_window},
        {"segments at most MSS", test_data_segments_at_most_mss},
    };
    static const struct core_case ack_cases[] = {
        {"ack of nothing new", test_ack_of_nothing_new},
        {"one segment in flight: single dupack, no resend",
         test_ack_single_dupack_one_segment_no_resend},
        {"ack of part of a segment", test_ack_of_part_of_segment},
        {"ack beyond SND.NXT ignored", test_ack_beyond_snd_nxt_ignored},
        {"ack far older than the window dropped", test_ack_far_too_old_dropped},
        {"old ack does not update window", test_ack_old_does_not_update_window},
        {"RTT sample updates RTO", test_ack_rtt_sample_updates_rto},
        {"Karn: no sample from retransmission", test_ack_karn_no_sample_from_retransmission},
        {"RTO backoff on repeated timeouts", test_ack_rto_backoff_on_repeated_timeouts},
        {"fresh sample resets backed-off RTO", test_ack_fresh_sample_resets_backed_off_rto},
        {"three dupacks: fast retransmit", test_ack_three_dupacks_fast_retransmit},
        {"partial ack in recovery resends next hole",
         test_ack_partial_ack_in_recovery_resends_next_hole},
        {"window change is not a dupack", test_ack_window_change_is_not_dupack},
        {"ack with data is not a dupack", test_ack_with_data_is_not_dupack},
        {"timeout resends oldest, then next hole", test_ack_timeout_resends_oldest_then_next_hole},
    };
    static const struct core_case teardown_cases[] = {
        {"active close", test_active_close},
        {"TIME_WAIT expires", test_time_wait_expires},
        {"TIME_WAIT: a new SYN ends it", test_time_wait_new_syn_ends_it},
        {"TIME_WAIT acks resent FIN", test_time_wait_acks_resent_fin},
        {"passive close", test_passive_close},
        {"CLOSE_WAIT still sends", test_close_wait_still_sends},
        {"simultaneous close via CLOSING", test_simultaneous_close},
        {"FIN+ACK of our FIN: TIME_WAIT directly", test_fin_ack_of_our_fin_goes_to_time_wait},
        {"FIN with data", test_fin_with_data},
        {"FIN out of order, processed when gap fills",
         test_fin_out_of_order_processed_when_gap_fills},
        {"bare FIN out of order", test_bare_fin_out_of_order},
        {"LAST_ACK: FIN retransmitted", test_last_ack_fin_retransmitted},
        {"FIN follows data, resent with it", test_fin_follows_data_and_resent_with_it},
        {"FIN waits behind unsent data", test_fin_waits_behind_unsent_data},
        {"data after our FIN: FIN_WAIT_1", test_data_after_our_fin_in_fin_wait_1},
        {"data after our FIN: FIN_WAIT_2", test_data_after_our_fin_in_fin_wait_2},
        {"close events fire once", test_close_events_fire_once},
        {"CLOSE_WAIT: resent FIN acked", test_close_wait_resent_fin_acked},
        {"half-close: the peer keeps sending", test_half_close_peer_keeps_sending},
        {"half-close: FIN after the data, once", test_half_close_fin_after_data_once},
        {"half-close on both sides at once", test_half_close_both_sides},
        {"half-close in CLOSE_WAIT", test_half_close_in_close_wait},
        {"close after a half-close", test_close_after_half_close},
        {"close after a half-close, FIN unacknowledged", test_close_after_half_close_in_fin_wait_1},
    };
    static const struct core_case wrap_cases[] = {
        {"handshake with ISS 0xffffffff", test_wrap_handshake_iss_max},
        {"passive open with IRS 0xffffffff", test_wrap_passive_irs_max},
        {"data received", test_wrap_data_received},
        {"data sent", test_wrap_data_sent},
        {"partial ack, then timeout", test_wrap_partial_ack_then_timeout},
        {"ack beyond SND.NXT", test_wrap_ack_beyond_snd_nxt},
        {"fast retransmit", test_wrap_fast_retransmit},
        {"out of order", test_wrap_out_of_order},
        {"window trim", test_wrap_window_trim},
        {"teardown", test_wrap_teardown},
    };
    static const struct core_case malformed_cases[] = {
        {"th_off below 5", test_malformed_th_off_below_5},
        {"th_off past the end", test_malformed_th_off_past_end},
        {"options skipped", test_malformed_options_skipped},
        {"URG and PSH ignored", test_malformed_urg_and_psh_ignored},
        {"no flags dropped", test_malformed_no_flags_dropped},
        {"data without ACK dropped", test_malformed_data_without_ack_dropped},
        {"shorter than a header", test_malformed_shorter_than_header},
        {"segment in CLOSED dropped", test_malformed_segment_in_closed_dropped},
    };
    static const struct core_case cookie_cases[] = {
        {"open established", test_cookie_open_established},
        {"first segment advertises real window", test_cookie_first_segment_advertises_real_window},
        {"first data delivered", test_cookie_first_data_delivered},
        {"cookie window trims first segment", test_cookie_window_trims_first_segment},
        {"cookie ISS wraps", test_cookie_iss_wraps},
    };
    static const struct core_case timer_cases[] = {
        {"rexmit timer armed and stopped", test_timer_rexmit_armed_and_stopped},
        {"RTO capped at rto_max", test_timer_rto_capped_at_rto_max},
        {"persist backoff capped", test_timer_persist_backoff_capped},
        {"abort when peer silent", test_timer_abort_when_peer_silent},
        {"a connection idle longer than abort_silence still gives its peer abort_silence",
         test_timer_idle_is_not_silence},
        {"garbage does not keep a dead peer alive", test_timer_garbage_does_not_keep_peer_alive},
        {"challenge ACKs throttled", test_challenge_acks_throttled},
        {"recent duplicates always acked", test_recent_duplicates_always_acked},
        {"backoff ends on progress", test_backoff_ends_on_progress},
        {"close after failure reports CLOSED once", test_close_after_failure_reports_once},
        {"full ACK cancels a pending resend", test_full_ack_cancels_pending_resend},
        {"FIN alone in a zero window is retransmitted",
         test_fin_alone_in_zero_window_is_retransmitted},
        {"connect timeout", test_timer_connect_timeout},
        {"default user timeout: RFC 1122's 100 s for data, 3 min for a SYN",
         test_timer_default_user_timeout_rfc1122},
        {"keepalives after an idle spell get the whole user timeout",
         test_timer_keepalive_idle_is_not_silence},
        {"zero-window probes after an idle spell get the whole user timeout",
         test_timer_persist_idle_is_not_silence},
        {"orphan FIN_WAIT_2 timeout", test_timer_orphan_fin_wait_2},
        {"unreachable while connecting", test_timer_unreachable_while_connecting},
    };
    static const struct core_case mss_cases[] = {
        {"MSS option in SYN and SYN-ACK", test_mss_option_in_syn_and_synack},
        {"effective send MSS", test_mss_effective},
        {"effective send MSS, passive", test_mss_effective_passive},
        {"resend is a full segment", test_mss_resend_is_full_segment},
        {"1460-byte segment accepted with our MSS 536", test_mss_large_segment_accepted},
        {"Linux SYN options skipped, none echoed", test_options_linux_syn},
        {"malformed options dropped and counted", test_options_malformed_dropped},
        {"cookie connection uses cookie MSS", test_mss_from_cookie},
    };
    static const struct core_case rst_cases[] = {
        {"SYN_SENT: refused", test_rst_syn_sent_refused},
        {"SYN_SENT: unacceptable RST dropped", test_rst_syn_sent_unacceptable_dropped},
        {"exact RST resets", test_rst_exact_resets},
        {"in-window RST challenged", test_rst_in_window_challenged},
        {"out-of-window RST dropped", test_rst_out_of_window_dropped},
        {"SYN_RECEIVED passive: quiet end", test_rst_syn_received_passive_quiet},
        {"SYN_RECEIVED active: refused", test_rst_syn_received_active_refused},
        {"SYN_RECEIVED: bad ACK gets RST", test_rst_syn_received_bad_ack_reset},
        {"LISTEN: RST ignored", test_rst_listen_ignored},
        {"LISTEN: malformed SYN ends the attempt", test_listen_malformed_syn_ends},
        {"batched duplicate SYN: one SYN-ACK, no RST", test_rst_not_sent_for_batched_duplicate_syn},
        {"CLOSING states: RST closes", test_rst_closing_states_close},
        {"abort with unread data sends RST", test_rst_user_abort},
        {"RSTs rate-limited", test_rst_rate_limited},
    };
    ADD_SUITE("handshake", handshake_cases);
    ADD_SUITE("data", data_cases);
    ADD_SUITE("ack", ack_cases);
    ADD_SUITE("teardown", teardown_cases);
    ADD_SUITE("wrap", wrap_cases);
    ADD_SUITE("malformed", malformed_cases);
    ADD_SUITE("syncookies", cookie_cases); /* "cookies" is the unit suite of syncookie_make/check */
    ADD_SUITE("timers", timer_cases);
    ADD_SUITE("mss", mss_cases);
    ADD_SUITE("rst", rst_cases);
    static const struct core_case split_cases[] = {
        {"in-order payload handed up in place", test_split_in_place},
        {"malformed header piece dropped", test_split_malformed},
    };
    ADD_SUITE("split input", split_cases);
    static const struct core_case lend_cases[] = {
        {"send from a lent ring, release on ACK", test_send_lent_ring},
    };
    ADD_SUITE("lent send ring", lend_cases);
}
