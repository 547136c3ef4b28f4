/* test_core.c -- packet-level tests of the transport core (RFC 9293 3.10).
 *
 * Each case puts a control block in a state, feeds it segments at chosen
 * times, and checks exactly what it emits, delivers and becomes. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "harness.h"

/* ---- Handshake ---- */

static void test_active_open_sends_syn(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    tcp_connect(&h.tcb, h.now, 1000);
    tcp_output(&h.tcb, h.now);
    EXPECT_STATE(&h, TCPS_SYN_SENT);
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_SYN, 1000, 0, H_WINDOW, 0);
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
    CU_ASSERT_EQUAL(h.tcb.snd_wnd, 2000);
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
    EXPECT_NOUT(&h, 0);
    h_free(&h);
}

/* ---- Data ---- */

static void test_data_in_order_delivered_and_acked(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 1000, 5000, H_WINDOW);
    h_input(&h, data(5001, 1001, H_WINDOW, "hello"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    /* The right edge stays put until it can move by an MSS (receiver SWS
     * avoidance, RFC 1122 4.2.3.3): 5 bytes in, the window is 5 smaller. */
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    h_free(&h);
}

static void test_data_out_of_order_then_gap_filled(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 1000, 5000, H_WINDOW);
    h_input(&h, data(5004, 1001, H_WINDOW, "lo"));
    EXPECT_DELIVERED(&h, "");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, H_WINDOW, 0); /* duplicate ACK at once */
    h_clear(&h);
    h_input(&h, data(5001, 1001, H_WINDOW, "hel"));
    EXPECT_DELIVERED(&h, "hello");
    EXPECT_NOUT(&h, 1);
    EXPECT_SEG(&h, 0, TH_ACK, 1001, 5006, H_WINDOW - 5, 0);
    h_free(&h);
}

static void test_sequence_wrap_data(void)
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

void register_core_suites(void)
{
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    CU_add_test(s, "active open sends SYN", test_active_open_sends_syn);
    CU_add_test(s, "active open completes", test_active_open_completes);
    CU_add_test(s, "passive open completes", test_passive_open_completes);
    CU_add_test(s, "data in order delivered and acked", test_data_in_order_delivered_and_acked);
    CU_add_test(s, "data out of order, then gap filled", test_data_out_of_order_then_gap_filled);
    CU_add_test(s, "sequence wrap: data", test_sequence_wrap_data);
}
