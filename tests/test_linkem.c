/* test_linkem.c -- unit tests of the link emulator's pure parts (linkem.h):
 * parsing, the queue and serialisation arithmetic with made-up times, and
 * the NAT rewrite checked against checksums computed from scratch by the
 * network layer (net_tcp_checksum, net_check_segment). */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "linkem.h"
#include "network.h"

#define MS 1000000ull
#define US 1000ull

/* ---- Parsing ---- */

static void test_parse_rate(void)
{
    uint64_t r = 1;
    CU_ASSERT_EQUAL(lk_parse_rate("100mbit", &r), 0);
    CU_ASSERT_EQUAL(r, 100000000ull);
    CU_ASSERT_EQUAL(lk_parse_rate("800kbit", &r), 0);
    CU_ASSERT_EQUAL(r, 800000ull);
    CU_ASSERT_EQUAL(lk_parse_rate("1.5Gbit", &r), 0);
    CU_ASSERT_EQUAL(r, 1500000000ull);
    CU_ASSERT_EQUAL(lk_parse_rate("64000", &r), 0);
    CU_ASSERT_EQUAL(r, 64000ull);
    CU_ASSERT_EQUAL(lk_parse_rate("0", &r), 0);
    CU_ASSERT_EQUAL(r, 0ull);
    r = 7;
    CU_ASSERT_EQUAL(lk_parse_rate("", &r), -1);
    CU_ASSERT_EQUAL(lk_parse_rate("fast", &r), -1);
    CU_ASSERT_EQUAL(lk_parse_rate("10mbps", &r), -1); /* bytes or bits? refused */
    CU_ASSERT_EQUAL(lk_parse_rate("-1mbit", &r), -1);
    CU_ASSERT_EQUAL(lk_parse_rate("999", &r), -1);     /* below the minimum */
    CU_ASSERT_EQUAL(lk_parse_rate("101gbit", &r), -1); /* above the maximum */
    CU_ASSERT_EQUAL(lk_parse_rate("nanmbit", &r), -1);
    CU_ASSERT_EQUAL(r, 7ull); /* untouched on error */
}

static void test_parse_delay_queue_loss(void)
{
    uint64_t ns = 0;
    CU_ASSERT_EQUAL(lk_parse_delay("10ms", &ns), 0);
    CU_ASSERT_EQUAL(ns, 10 * MS);
    CU_ASSERT_EQUAL(lk_parse_delay("2.5", &ns), 0);
    CU_ASSERT_EQUAL(ns, 2500 * US);
    CU_ASSERT_EQUAL(lk_parse_delay("500us", &ns), 0);
    CU_ASSERT_EQUAL(ns, 500 * US);
    CU_ASSERT_EQUAL(lk_parse_delay("1s", &ns), 0);
    CU_ASSERT_EQUAL(ns, 1000 * MS);
    CU_ASSERT_EQUAL(lk_parse_delay("11s", &ns), -1);
    CU_ASSERT_EQUAL(lk_parse_delay("3 ms", &ns), -1);

    uint32_t q = 0;
    bool bytes = true;
    CU_ASSERT_EQUAL(lk_parse_queue("100p", &q, &bytes), 0);
    CU_ASSERT_EQUAL(q, 100u);
    CU_ASSERT_FALSE(bytes);
    CU_ASSERT_EQUAL(lk_parse_queue("150000b", &q, &bytes), 0);
    CU_ASSERT_EQUAL(q, 150000u);
    CU_ASSERT_TRUE(bytes);
    CU_ASSERT_EQUAL(lk_parse_queue("42", &q, &bytes), 0);
    CU_ASSERT_EQUAL(q, 42u);
    CU_ASSERT_FALSE(bytes);
    CU_ASSERT_EQUAL(lk_parse_queue("0p", &q, &bytes), -1);
    CU_ASSERT_EQUAL(lk_parse_queue("-5", &q, &bytes), -1);
    CU_ASSERT_EQUAL(lk_parse_queue("10k", &q, &bytes), -1);
    CU_ASSERT_EQUAL(lk_parse_queue("65537p", &q, &bytes), -1); /* above the hold cap */

    double p = 0;
    CU_ASSERT_EQUAL(lk_parse_loss("0.02", &p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.02, 1e-12);
    CU_ASSERT_EQUAL(lk_parse_loss("5%", &p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p, 0.05, 1e-12);
    CU_ASSERT_EQUAL(lk_parse_loss("1.5", &p), -1);
    CU_ASSERT_EQUAL(lk_parse_loss("x", &p), -1);
}

static void test_parse_spec(void)
{
    struct lk_spec s;
    char err[160];
    lk_spec_default(&s);
    CU_ASSERT_EQUAL(s.queue_limit, LK_QUEUE_DEFAULT);
    s.loss = 0.5; /* keys not named keep their value */
    CU_ASSERT_EQUAL(lk_parse_spec("rate=10mbit,delay=5ms,queue=3000b", &s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(s.rate_bps, 10000000ull);
    CU_ASSERT_EQUAL(s.delay_ns, 5 * MS);
    CU_ASSERT_EQUAL(s.queue_limit, 3000u);
    CU_ASSERT_TRUE(s.queue_in_bytes);
    CU_ASSERT_DOUBLE_EQUAL(s.loss, 0.5, 1e-12);

    struct lk_spec before = s;
    CU_ASSERT_EQUAL(lk_parse_spec("rate=1mbit,bogus=1", &s, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus"));
    CU_ASSERT_EQUAL(lk_parse_spec("rate", &s, err, sizeof err), -1);
    CU_ASSERT_EQUAL(lk_parse_spec("loss=2", &s, err, sizeof err), -1);
    /* untouched on error */
    CU_ASSERT_EQUAL(s.rate_bps, before.rate_bps);
    CU_ASSERT_EQUAL(s.delay_ns, before.delay_ns);
    CU_ASSERT_EQUAL(s.queue_limit, before.queue_limit);
    CU_ASSERT_EQUAL(s.queue_in_bytes, before.queue_in_bytes);
    CU_ASSERT_DOUBLE_EQUAL(s.loss, before.loss, 0);
}

static void test_parse_addr(void)
{
    struct sockaddr_in a;
    CU_ASSERT_EQUAL(lk_parse_addr("127.0.0.1:8080", &a), 0);
    CU_ASSERT_EQUAL(ntohs(a.sin_port), 8080);
    CU_ASSERT_EQUAL(ntohl(a.sin_addr.s_addr), 0x7f000001u);
    CU_ASSERT_TRUE(lk_is_loopback(&a));
    CU_ASSERT_EQUAL(lk_parse_addr("127.1.2.3:0", &a), 0);
    CU_ASSERT_TRUE(lk_is_loopback(&a));
    CU_ASSERT_EQUAL(lk_parse_addr("10.0.0.1:1", &a), 0);
    CU_ASSERT_FALSE(lk_is_loopback(&a));
    CU_ASSERT_EQUAL(lk_parse_addr("localhost:80", &a), -1);
    CU_ASSERT_EQUAL(lk_parse_addr("127.0.0.1", &a), -1);
    CU_ASSERT_EQUAL(lk_parse_addr("127.0.0.1:", &a), -1);
    CU_ASSERT_EQUAL(lk_parse_addr("127.0.0.1:65536", &a), -1);
    CU_ASSERT_EQUAL(lk_parse_addr(":80", &a), -1);
}

/* ---- The bottleneck ---- */

/* 8 Mbit/s is one byte per microsecond: a 1000-byte packet takes 1 ms. */
static void make_link(struct lk_link *l, uint64_t rate, uint64_t delay, uint32_t limit, bool bytes,
                      double loss)
{
    struct lk_spec s;
    lk_spec_default(&s);
    s.rate_bps = rate;
    s.delay_ns = delay;
    s.queue_limit = limit;
    s.queue_in_bytes = bytes;
    s.loss = loss;
    CU_ASSERT_FATAL(lk_link_init(l, &s, 42) == 0);
}

static void test_tx_time(void)
{
    CU_ASSERT_EQUAL(lk_tx_ns(8000000, 1000), 1000 * US);
    CU_ASSERT_EQUAL(lk_tx_ns(100000000, 1250), 100 * US);
    CU_ASSERT_EQUAL(lk_tx_ns(3, 1), 2666666667ull); /* rounded up */
    CU_ASSERT_EQUAL(lk_tx_ns(0, 1500), 0ull);       /* unlimited */
}

static void test_serialisation_and_delay(void)
{
    struct lk_link l;
    int tag;
    make_link(&l, 8000000, 10 * MS, 100, false, 0);
    /* Three back to back at t=0 leave one after the other. */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(l.q_pkts, 3u);
    CU_ASSERT_EQUAL(lk_link_next_ns(&l), 11 * MS);
    CU_ASSERT_PTR_NULL(lk_link_due(&l, 11 * MS - 1));
    const struct lk_pkt *p = lk_link_due(&l, 11 * MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (!p)
        return; /* not reached: the assertion above ends the test */
    CU_ASSERT_EQUAL(p->depart_ns, 1 * MS);
    CU_ASSERT_PTR_EQUAL(p->data, &tag);
    lk_link_pop(&l);
    CU_ASSERT_EQUAL(lk_link_next_ns(&l), 12 * MS);
    lk_link_advance(&l, 12 * MS);
    CU_ASSERT_EQUAL(l.q_pkts, 0u); /* all transmitted by 3 ms, in the delay line */
    CU_ASSERT_EQUAL(lk_link_held(&l), 2u);
    CU_ASSERT_EQUAL(l.sent_pkts, 3u);
    /* An idle link starts at once: no credit from the idle time, no debt. */
    CU_ASSERT_EQUAL(lk_link_offer(&l, 50 * MS, &tag, NULL, 500), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_next_ns(&l), 12 * MS); /* the older ones first */
    CU_ASSERT_PTR_NOT_NULL(lk_link_due(&l, 50 * MS));
    lk_link_pop(&l);
    CU_ASSERT_PTR_NOT_NULL(lk_link_due(&l, 50 * MS));
    lk_link_pop(&l);
    CU_ASSERT_PTR_NULL(lk_link_due(&l, 50 * MS));
    CU_ASSERT_EQUAL(lk_link_next_ns(&l), 50 * MS + 500 * US + 10 * MS);
    lk_link_free(&l);
}

static void test_queue_limit_packets(void)
{
    struct lk_link l;
    int tag;
    make_link(&l, 8000000, 0, 2, false, 0);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_DROP_QUEUE);
    CU_ASSERT_EQUAL(l.drop_queue, 1ull);
    /* At 1 ms the first has left: room for one more, which queues behind
     * the second and leaves at 3 ms. */
    CU_ASSERT_EQUAL(lk_link_offer(&l, 1 * MS, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 1 * MS, &tag, NULL, 1000), LK_DROP_QUEUE);
    CU_ASSERT_EQUAL(l.q_max_pkts, 2u);
    lk_link_advance(&l, 3 * MS);
    CU_ASSERT_EQUAL(l.sent_pkts, 3ull);
    CU_ASSERT_EQUAL(l.offered_pkts, 5ull);
    CU_ASSERT_EQUAL(l.busy_until_ns, 3 * MS);
    lk_link_free(&l);
}

static void test_queue_limit_bytes(void)
{
    struct lk_link l;
    int tag;
    make_link(&l, 8000000, 0, 2500, true, 0);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_DROP_QUEUE);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 500), LK_ACCEPT); /* exactly fits */
    CU_ASSERT_EQUAL(l.q_bytes, 2500u);
    CU_ASSERT_EQUAL(l.q_max_bytes, 2500u);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1), LK_DROP_QUEUE);
    lk_link_free(&l);
}

static void test_mean_occupancy(void)
{
    struct lk_link l;
    int tag;
    make_link(&l, 8000000, 5 * MS, 100, false, 0);
    /* Two packets at t=0: 2 queued for 1 ms, 1 for the next 1 ms, then 0
     * for 2 ms: the mean over 4 ms is (2 + 1) / 4 packets. */
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 0, &tag, NULL, 1000), LK_ACCEPT);
    CU_ASSERT_DOUBLE_EQUAL(lk_link_mean_pkts(&l, 4 * MS), 0.75, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(lk_link_mean_bytes(&l, 4 * MS), 750, 1e-6);
    /* 2000 bytes from the first arrival (0) to the last departure (2 ms). */
    CU_ASSERT_DOUBLE_EQUAL(lk_link_achieved_bps(&l), 8e6, 1e-3);
    lk_link_free(&l);
}

static void test_random_loss(void)
{
    struct lk_link a, b, all;
    int tag;
    make_link(&a, 0, 0, 1000, false, 0.25);
    make_link(&b, 0, 0, 1000, false, 0.25);
    make_link(&all, 0, 0, 1000, false, 1.0);
    unsigned same = 0, lost = 0;
    for (int i = 0; i < 4000; i++) {
        enum lk_verdict va = lk_link_offer(&a, (uint64_t)i, &tag, NULL, 100);
        enum lk_verdict vb = lk_link_offer(&b, (uint64_t)i, &tag, NULL, 100);
        same += va == vb;
        lost += va == LK_DROP_LOSS;
        CU_ASSERT_EQUAL(lk_link_offer(&all, (uint64_t)i, &tag, NULL, 100), LK_DROP_LOSS);
        while (lk_link_due(&a, (uint64_t)i))
            lk_link_pop(&a);
        while (lk_link_due(&b, (uint64_t)i))
            lk_link_pop(&b);
    }
    CU_ASSERT_EQUAL(same, 4000u); /* same seed, same drops */
    CU_ASSERT_EQUAL(a.drop_loss, (uint64_t)lost);
    /* 25% of 4000 is 1000, standard deviation 27: 800..1200 is 7 sigma. */
    CU_ASSERT(lost > 800 && lost < 1200);
    CU_ASSERT_EQUAL(all.drop_loss, 4000ull);
    CU_ASSERT_EQUAL(lk_link_held(&all), 0ull);
    lk_link_free(&a);
    lk_link_free(&b);
    lk_link_free(&all);
}

static void test_hold_cap(void)
{
    struct lk_link l;
    int tag;
    /* Unlimited rate, a long delay: only the hard cap bounds the line. */
    make_link(&l, 0, 1000 * MS, LK_HOLD_PKTS_MAX, false, 0);
    for (unsigned i = 0; i < LK_HOLD_PKTS_MAX; i++)
        CU_ASSERT_FATAL(lk_link_offer(&l, i, &tag, NULL, 20) == LK_ACCEPT);
    CU_ASSERT_EQUAL(lk_link_offer(&l, LK_HOLD_PKTS_MAX, &tag, NULL, 20), LK_DROP_CAP);
    CU_ASSERT_EQUAL(lk_link_held(&l), (uint64_t)LK_HOLD_PKTS_MAX);
    /* The ring wraps: pop one, one more fits. */
    CU_ASSERT_PTR_NOT_NULL(lk_link_due(&l, 1000 * MS));
    lk_link_pop(&l);
    CU_ASSERT_EQUAL(lk_link_offer(&l, 1000 * MS, &tag, NULL, 20), LK_ACCEPT);
    lk_link_free(&l);
}

/* ---- NAT rewrite ---- */

static void test_csum_replace_rfc1624(void)
{
    /* RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives
     * 0x0000 with equation 3 (equation 2 would give 0xFFFF). */
    const uint8_t m[] = {0x55, 0x55}, m2[] = {0x32, 0x85};
    CU_ASSERT_EQUAL(ntohs(lk_csum_replace(htons(0xDD2F), m, m2, 2)), 0x0000);
}

static struct sockaddr_in addr(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ip);
    a.sin_port = htons(port);
    return a;
}

/* A random segment between src and dst with a correct checksum. */
static size_t random_segment(uint8_t *seg, size_t cap, const struct sockaddr_in *src,
                             const struct sockaddr_in *dst)
{
    size_t len = LK_TH_LEN + (size_t)rand() % (cap - LK_TH_LEN);
    for (size_t i = 0; i < len; i++)
        seg[i] = (uint8_t)rand();
    memcpy(seg + LK_TH_SPORT, &src->sin_port, 2);
    memcpy(seg + LK_TH_DPORT, &dst->sin_port, 2);
    seg[12] = 5 << 4; /* th_off */
    memset(seg + LK_TH_SUM, 0, 2);
    uint16_t sum = net_tcp_checksum(src->sin_addr.s_addr, dst->sin_addr.s_addr, seg, len);
    memcpy(seg + LK_TH_SUM, &sum, 2);
    return len;
}

static void test_rewrite_matches_scratch(void)
{
    srand(7);
    unsigned checked = 0;
    for (int i = 0; i < 2000; i++) {
        struct sockaddr_in a = addr(0x7f000000u | ((uint32_t)rand() & 0xffffff), (uint16_t)rand()),
                           b = addr(0x7f000000u | ((uint32_t)rand() & 0xffffff), (uint16_t)rand()),
                           c = addr(0x7f000000u | ((uint32_t)rand() & 0xffffff), (uint16_t)rand()),
                           d = addr(0x7f000000u | ((uint32_t)rand() & 0xffffff), (uint16_t)rand());
        uint8_t seg[NET_MAX_SEGMENT]; /* the longest the receiver accepts */
        size_t len = random_segment(seg, sizeof seg, &a, &b);
        CU_ASSERT_FATAL(lk_rewrite(seg, len, &a, &b, &c, &d) == 0);
        /* The receiver's own check passes for the new addresses and ports. */
        CU_ASSERT_EQUAL(net_check_segment(seg, len, &c, &d, NULL), 0);
        /* And the sum equals one computed from scratch (0x0000 and 0xffff
         * are the two zeros of ones' complement). */
        uint16_t got, want;
        memcpy(&got, seg + LK_TH_SUM, 2);
        memset(seg + LK_TH_SUM, 0, 2);
        want = net_tcp_checksum(c.sin_addr.s_addr, d.sin_addr.s_addr, seg, len);
        CU_ASSERT(got == want || (ntohs(got) | ntohs(want)) == 0xffff);
        checked++;
    }
    CU_ASSERT_EQUAL(checked, 2000u);
}

static void test_rewrite_keeps_corruption_and_checks_ports(void)
{
    struct sockaddr_in a = addr(0x7f000001, 40000), b = addr(0x7f000001, 5000),
                       c = addr(0x7f000001, 40001), d = addr(0x7f000001, 6000);
    uint8_t seg[600];
    srand(11);
    size_t len = random_segment(seg, sizeof seg, &a, &b);
    seg[len - 1] ^= 0x10; /* a bit flipped on the way to the emulator */
    CU_ASSERT_EQUAL(lk_rewrite(seg, len, &a, &b, &c, &d), 0);
    CU_ASSERT_EQUAL(net_check_segment(seg, len, &c, &d, NULL), -1); /* still caught */

    len = random_segment(seg, sizeof seg, &a, &b);
    uint8_t before[600];
    memcpy(before, seg, len);
    CU_ASSERT_EQUAL(lk_rewrite(seg, len, &c, &b, &a, &d), -1); /* wrong source port */
    CU_ASSERT_EQUAL(lk_rewrite(seg, len, &a, &d, &c, &b), -1); /* wrong destination port */
    CU_ASSERT_EQUAL(lk_rewrite(seg, 19, &a, &b, &c, &d), -1);  /* shorter than a header */
    CU_ASSERT_EQUAL(memcmp(seg, before, len), 0);
}

void register_linkem_suites(void)
{
    CU_pSuite s = CU_add_suite("linkem", NULL, NULL);
    CU_add_test(s, "rate parsed", test_parse_rate);
    CU_add_test(s, "delay, queue, loss parsed", test_parse_delay_queue_loss);
    CU_add_test(s, "link spec parsed", test_parse_spec);
    CU_add_test(s, "addresses, loopback", test_parse_addr);
    CU_add_test(s, "serialisation time", test_tx_time);
    CU_add_test(s, "serialisation and delay", test_serialisation_and_delay);
    CU_add_test(s, "drop-tail in packets", test_queue_limit_packets);
    CU_add_test(s, "drop-tail in bytes", test_queue_limit_bytes);
    CU_add_test(s, "mean occupancy, achieved rate", test_mean_occupancy);
    CU_add_test(s, "random loss, seeded", test_random_loss);
    CU_add_test(s, "hard cap on the delay line", test_hold_cap);
    CU_add_test(s, "RFC 1624 example", test_csum_replace_rfc1624);
    CU_add_test(s, "rewrite = checksum from scratch", test_rewrite_matches_scratch);
    CU_add_test(s, "rewrite keeps corruption, checks ports",
                test_rewrite_keeps_corruption_and_checks_ports);
}
