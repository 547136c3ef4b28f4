/* test_carriers.c -- unit tests of the carriers' pieces that need no
 * device: the IPv4 header builder and parser, the RST builder, and the udp
 * carrier carrying segments larger than the classic MSS.
 *
 * The known IPv4 checksum was computed independently (Python: RFC 1071
 * over the header bytes), not by this code.  Also MYSO_USER_TIMEOUT, which
 * needs a udp connection. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "carrier.h"
#include "mysock.h"
#include "network.h"
#include "transport.h"

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}

/* ---- IPv4 ---- */

static void test_ip_build_fields(void)
{
    uint8_t h[IP_HDR_LEN];
    ip_build(h, ip4("198.18.0.2"), ip4("198.18.0.1"), IP_PROTO_TCP, 40, 64);
    CU_ASSERT_EQUAL(h[0], 0x45);
    CU_ASSERT_EQUAL((h[2] << 8) | h[3], 60);
    CU_ASSERT_EQUAL(h[6], 0x40); /* DF, no offset */
    CU_ASSERT_EQUAL(h[7], 0);
    CU_ASSERT_EQUAL(h[8], 64);
    CU_ASSERT_EQUAL(h[9], 6);
    CU_ASSERT_EQUAL((uint16_t)~net_sum(0, h, sizeof h), 0); /* the checksum verifies */
    /* With ID 0x1234 the header's checksum is 0x9c60 (computed in Python). */
    h[4] = 0x12;
    h[5] = 0x34;
    h[10] = h[11] = 0;
    uint16_t sum = (uint16_t)~net_sum(0, h, sizeof h);
    CU_ASSERT_EQUAL(sum, 0x9c60);
}

static void test_ip_ids_differ(void)
{
    uint8_t a[IP_HDR_LEN], b[IP_HDR_LEN];
    ip_build(a, 1, 2, 6, 0, 16);
    ip_build(b, 1, 2, 6, 0, 16);
    CU_ASSERT(a[4] != b[4] || a[5] != b[5]);
}

/* A packet: header (ihl words) + payload, total length as given. */
static size_t make_packet(uint8_t *p, unsigned ihl, size_t payload, size_t total_field)
{
    memset(p, 0, 80 + payload);
    ip_build(p, ip4("10.0.0.1"), ip4("10.0.0.2"), 6, payload, 16);
    p[0] = (uint8_t)(0x40 | ihl);
    p[2] = (uint8_t)(total_field >> 8);
    p[3] = (uint8_t)total_field;
    p[10] = p[11] = 0;
    uint16_t sum = (uint16_t)~net_sum(0, p, ihl * 4);
    p[10] = (uint8_t)(sum >> 8);
    p[11] = (uint8_t)sum;
    for (size_t i = 0; i < payload; i++)
        p[ihl * 4 + i] = (uint8_t)i;
    return ihl * 4 + payload;
}

static void test_ip_parse_accepts(void)
{
    uint8_t p[200];
    struct ip_packet pk;
    size_t n = make_packet(p, 5, 30, 50);
    CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_OK);
    CU_ASSERT_EQUAL(pk.src, ip4("10.0.0.1"));
    CU_ASSERT_EQUAL(pk.dst, ip4("10.0.0.2"));
    CU_ASSERT_EQUAL(pk.proto, 6);
    CU_ASSERT_EQUAL(pk.len, 30);
    CU_ASSERT_PTR_EQUAL(pk.data, p + 20);
    /* Options are skipped; link padding beyond the total length ignored. */
    n = make_packet(p, 7, 30, 58);
    CU_ASSERT_EQUAL(ip_parse(p, n + 6, &pk), IP_OK);
    CU_ASSERT_PTR_EQUAL(pk.data, p + 28);
    CU_ASSERT_EQUAL(pk.len, 30);
    CU_ASSERT_EQUAL(pk.data[0], 0);
}

static void test_ip_parse_rejects(void)
{
    uint8_t p[200];
    struct ip_packet pk;
    size_t n = make_packet(p, 5, 30, 50);
    CU_ASSERT_EQUAL(ip_parse(p, 19, &pk), IP_MALFORMED);    /* shorter than a header */
    CU_ASSERT_EQUAL(ip_parse(p, n - 1, &pk), IP_MALFORMED); /* cut short */
    n = make_packet(p, 4, 30, 46);
    CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_MALFORMED); /* IHL below 5 */
    n = make_packet(p, 5, 30, 18);
    CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_MALFORMED); /* total below the header */
    n = make_packet(p, 5, 30, 50);
    p[0] = 0x65;
    CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_MALFORMED); /* version 6 */
    n = make_packet(p, 5, 30, 50);
    p[12] ^= 1;
    CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_BAD_CHECKSUM);
    /* Fragments: MF, or an offset (checksum fixed up each time). */
    const uint8_t frag[][2] = {{0x20, 0x00}, {0x00, 0x01}, {0x40 | 0x1f, 0xff}, {0x60, 0x00}};
    for (size_t i = 0; i < sizeof frag / sizeof frag[0]; i++) {
        n = make_packet(p, 5, 30, 50);
        p[6] = frag[i][0];
        p[7] = frag[i][1];
        p[10] = p[11] = 0;
        uint16_t sum = (uint16_t)~net_sum(0, p, 20);
        p[10] = (uint8_t)(sum >> 8);
        p[11] = (uint8_t)sum;
        CU_ASSERT_EQUAL(ip_parse(p, n, &pk), IP_FRAGMENT);
    }
}

/* ---- RST builder (RFC 9293 3.10.7.1) ---- */

static void test_rst_for_ack(void)
{
    STCPHeader in = {0}, out;
    in.th_off = 5;
    in.th_flags = TH_ACK | TH_PUSH;
    in.th_seq = htonl(5000);
    in.th_ack = htonl(777);
    CU_ASSERT(net_build_rst(&in, sizeof in, &out));
    CU_ASSERT_EQUAL(out.th_flags, TH_RST);
    CU_ASSERT_EQUAL(ntohl(out.th_seq), 777);
    CU_ASSERT_EQUAL(out.th_off, 5);
}

static void test_rst_for_syn_and_data(void)
{
    uint8_t seg[20 + 4 + 10] = {0};
    STCPHeader *in = (STCPHeader *)seg, out;
    in->th_off = 6; /* one word of options, then 10 bytes of data */
    in->th_flags = TH_SYN | TH_FIN;
    in->th_seq = htonl(0xfffffff0u);
    CU_ASSERT(net_build_rst(seg, sizeof seg, &out));
    CU_ASSERT_EQUAL(out.th_flags, TH_RST | TH_ACK);
    CU_ASSERT_EQUAL(ntohl(out.th_seq), 0);
    CU_ASSERT_EQUAL(ntohl(out.th_ack), 0xfffffff0u + 10 + 2); /* SYN and FIN count, wraps */
}

static void test_rst_never_for_rst(void)
{
    STCPHeader in = {0}, out;
    in.th_off = 5;
    in.th_flags = TH_RST | TH_ACK;
    CU_ASSERT_FALSE(net_build_rst(&in, sizeof in, &out));
    CU_ASSERT_FALSE(net_build_rst(&in, 19, &out)); /* too short to answer */
}

/* ---- The udp carrier carries what one datagram holds ---- */

static void test_udp_large_segment(void)
{
    struct sockaddr_in lo = {.sin_family = AF_INET};
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct net_ep *a = net_ep_open(&lo, NULL, false);
    if (!a) {
        CU_FAIL("net_ep_open");
        return;
    }
    struct sockaddr_in aa;
    net_ep_local(a, &aa);
    struct net_ep *b = net_ep_open(&lo, &aa, false);
    if (!b) {
        CU_FAIL("net_ep_open");
        net_ep_close(a);
        return;
    }
    struct sockaddr_in ba;
    net_ep_local(b, &ba);
    CU_ASSERT_EQUAL(net_ep_connect(a, &ba), 0);

    size_t len = 60000; /* far beyond 536: a MYSO_MSS of 59980 */
    uint8_t *seg = calloc(1, len), *got = malloc(net_carrier_max_segment());
    if (!seg || !got) {
        CU_FAIL("out of memory");
        free(seg);
        free(got);
        net_ep_close(a);
        net_ep_close(b);
        return;
    }
    STCPHeader *h = (STCPHeader *)seg;
    h->th_off = 5;
    h->th_flags = TH_ACK;
    for (size_t i = sizeof *h; i < len; i++)
        seg[i] = (uint8_t)(i * 7);
    struct iovec iov = {seg, len};
    CU_ASSERT_EQUAL(net_send_segment(b, NULL, NULL, &iov, 1), (ssize_t)len);
    struct sockaddr_in peer, local;
    struct pollfd pfd = {net_ep_fd(a), POLLIN, 0};
    CU_ASSERT_EQUAL(poll(&pfd, 1, 10000), 1);
    ssize_t n = net_recv_segment(a, got, net_carrier_max_segment(), &peer, &local);
    CU_ASSERT_EQUAL(n, (ssize_t)len);
    CU_ASSERT(n == (ssize_t)len && !memcmp(got + sizeof *h, seg + sizeof *h, len - sizeof *h));
    CU_ASSERT_EQUAL(net_carrier_mss(), 536);
    free(seg);
    free(got);
    net_ep_close(a);
    net_ep_close(b);
}

/* Two udp endpoints on loopback connected to each other (false if not). */
static bool udp_pair(struct net_ep **a, struct net_ep **b)
{
    struct sockaddr_in lo = {.sin_family = AF_INET};
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in aa, ba;
    *a = net_ep_open(&lo, NULL, false);
    if (!*a)
        return false;
    net_ep_local(*a, &aa);
    *b = net_ep_open(&lo, &aa, false);
    if (!*b) {
        net_ep_close(*a);
        return false;
    }
    net_ep_local(*b, &ba);
    return net_ep_connect(*a, &ba) == 0;
}

/* A data segment: header (with nopts bytes of NOP options) and payload
 * bytes i * k, sent as the header and two payload pieces. */
static ssize_t send_test_segment(struct net_ep *ep, uint8_t k, size_t nopts, size_t len)
{
    uint8_t hdr[60] = {0}, payload[4000];
    STCPHeader *h = (STCPHeader *)hdr;
    h->th_off = (uint8_t)(5 + nopts / 4);
    h->th_flags = TH_ACK;
    memset(hdr + sizeof *h, TCPOPT_NOP, nopts);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * k);
    struct iovec iov[3] = {
        {hdr, sizeof *h + nopts}, {payload, len / 3}, {payload + len / 3, len - len / 3}};
    ssize_t n = net_send_segment(ep, NULL, NULL, iov, 3);
    memset(payload, 0, sizeof payload); /* held segments point at it: see below */
    return n;
}

static bool pending(struct net_ep *ep, int ms)
{
    struct pollfd pfd = {net_ep_fd(ep), POLLIN, 0};
    return poll(&pfd, 1, ms) == 1;
}

/* Corked segments are held and leave together, in order, at the uncork;
 * the split receive puts header, room and spill where asked. */
static void test_udp_cork_and_split(void)
{
    struct net_ep *a, *b;
    if (!udp_pair(&a, &b)) {
        CU_FAIL("udp_pair");
        return;
    }
    /* Not corked: gone at once, and its payload could be reused. */
    CU_ASSERT_EQUAL(send_test_segment(b, 1, 0, 100), 120);
    CU_ASSERT_TRUE(pending(a, 10000));
    uint8_t stage[4096], room[1000];
    struct net_rx_split rx = {.hdr = stage,
                              .hdr_len = 20,
                              .spill_cap = sizeof stage - 20,
                              .room = room,
                              .room_len = sizeof room};
    struct sockaddr_in peer, local;
    CU_ASSERT_EQUAL(net_recv_segment_split(a, &rx, &peer, &local), 120);
    CU_ASSERT_EQUAL(rx.in_room, 100);
    CU_ASSERT(room[99] == 99 && room[50] == 50);

    /* Corked: three held, nothing on the wire until the uncork.  A held
     * segment points at its payload, so these are sent from buffers that
     * stay; the headers are copied. */
    static uint8_t keep[3][1500];
    net_ep_cork(b, true);
    for (int i = 0; i < 3; i++) {
        STCPHeader *h = (STCPHeader *)keep[i];
        memset(keep[i], 0, sizeof keep[i]);
        h->th_off = i == 1 ? 6 : 5; /* one with 4 bytes of options */
        h->th_flags = TH_ACK;
        h->th_seq = htonl((uint32_t)i);
        size_t hl = (size_t)h->th_off * 4;
        if (i == 1)
            memset(keep[i] + 20, TCPOPT_NOP, 4);
        for (size_t j = hl; j < sizeof keep[i]; j++)
            keep[i][j] = (uint8_t)(j + (size_t)i);
        struct iovec iov[2] = {{keep[i], hl}, {keep[i] + hl, 1400}};
        CU_ASSERT_EQUAL(net_send_segment(b, NULL, NULL, iov, 2), (ssize_t)(hl + 1400));
    }
    CU_ASSERT_FALSE(pending(a, 50));
    net_ep_cork(b, false);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(pending(a, 10000));
        /* A room too small: the rest spills into the stage after the header. */
        rx.room_len = 500;
        ssize_t n = net_recv_segment_split(a, &rx, &peer, &local);
        size_t hl = i == 1 ? 24 : 20;
        CU_ASSERT_EQUAL(n, (ssize_t)(hl + 1400));
        CU_ASSERT_EQUAL(ntohl(((STCPHeader *)stage)->th_seq), (uint32_t)i);
        CU_ASSERT_EQUAL(rx.in_room, 500);
        /* bytes 20.. of the segment: room first, then the spill at stage + 20 */
        CU_ASSERT_EQUAL(memcmp(room, keep[i] + 20, 500), 0);
        CU_ASSERT_EQUAL(memcmp(stage + 20, keep[i] + 520, n - 520), 0);
    }
    CU_ASSERT_FALSE(pending(a, 0));
    net_ep_close(a);
    net_ep_close(b);
}

/* A corrupted segment received split is dropped like any other. */
static void test_udp_split_bad_checksum(void)
{
    struct net_ep *a, *b;
    if (!udp_pair(&a, &b)) {
        CU_FAIL("udp_pair");
        return;
    }
    struct netem_profile corrupt = {.corrupt = 1.0, .seed = 5};
    net_ep_set_netem(b, &corrupt);
    CU_ASSERT_EQUAL(send_test_segment(b, 3, 0, 300), 320);
    net_ep_set_netem(b, NULL);
    CU_ASSERT_EQUAL(send_test_segment(b, 5, 0, 300), 320);
    CU_ASSERT_TRUE(pending(a, 10000));
    uint8_t stage[4096], room[1000];
    struct net_rx_split rx = {.hdr = stage,
                              .hdr_len = 20,
                              .spill_cap = sizeof stage - 20,
                              .room = room,
                              .room_len = sizeof room};
    struct sockaddr_in peer, local;
    struct net_counters ctr = {0};
    net_ep_set_counters(a, &ctr);
    ssize_t n = net_recv_segment_split(a, &rx, &peer, &local); /* skips the bad one */
    CU_ASSERT_EQUAL(n, 320);
    CU_ASSERT_EQUAL(room[7], (uint8_t)(7 * 5));
    CU_ASSERT_EQUAL(ctr.bad_checksum + ctr.malformed, 1);
    net_ep_set_counters(a, NULL);
    net_ep_close(a);
    net_ep_close(b);
}

/* MYSO_USER_TIMEOUT: milliseconds, 0 the default, checked; and it reaches
 * the transport: a connect to a port that never answers (a UDP socket
 * that does not read, so no ICMP either) fails with ETIMEDOUT after it,
 * not after the default 3 minutes. */
static void test_user_timeout_option(void)
{
    unsetenv("STCP_USER_TIMEOUT_MS");
    mysocket_t sd = mysocket(TRUE);
    CU_ASSERT_FATAL(sd >= 0);
    long v = -1;
    CU_ASSERT_EQUAL(mygetsockopt(sd, MYSO_USER_TIMEOUT, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    errno = 0;
    CU_ASSERT_EQUAL(mysetsockopt(sd, MYSO_USER_TIMEOUT, -1), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(mysetsockopt(sd, MYSO_USER_TIMEOUT, 300), 0);
    CU_ASSERT_EQUAL(mygetsockopt(sd, MYSO_USER_TIMEOUT, &v), 0);
    CU_ASSERT_EQUAL(v, 300);

    int silent = socket(AF_INET, SOCK_DGRAM, 0);
    CU_ASSERT_FATAL(silent >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    CU_ASSERT_FATAL(bind(silent, (struct sockaddr *)&addr, sizeof addr) == 0);
    CU_ASSERT_FATAL(getsockname(silent, (struct sockaddr *)&addr, &len) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    CU_ASSERT_EQUAL(myconnect(sd, (struct sockaddr *)&addr, sizeof addr), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* 16 SYNs at the initial RTO take a few seconds; the default user
     * timeout for a SYN is 180 s: anything under a minute tells them apart. */
    CU_ASSERT(t1.tv_sec - t0.tv_sec < 60);
    myclose(sd);
    close(silent);
}

void register_carrier_suites(void)
{
    CU_pSuite s = CU_add_suite("ipv4", NULL, NULL);
    CU_add_test(s, "header built: DF, TTL, checksum", test_ip_build_fields);
    CU_add_test(s, "each packet its own ID", test_ip_ids_differ);
    CU_add_test(s, "parse: options skipped, padding ignored", test_ip_parse_accepts);
    CU_add_test(s, "parse: malformed, bad checksum, fragments", test_ip_parse_rejects);
    s = CU_add_suite("rst", NULL, NULL);
    CU_add_test(s, "for an ACK: SEQ=SEG.ACK", test_rst_for_ack);
    CU_add_test(s, "for a SYN with data and FIN: ACK=SEQ+LEN", test_rst_for_syn_and_data);
    CU_add_test(s, "never for a RST", test_rst_never_for_rst);
    s = CU_add_suite("udp", NULL, NULL);
    CU_add_test(s, "a 60000-byte segment in one datagram", test_udp_large_segment);
    CU_add_test(s, "corked sends held, sent in order; split receive", test_udp_cork_and_split);
    CU_add_test(s, "split receive drops a bad checksum", test_udp_split_bad_checksum);
    s = CU_add_suite("user timeout", NULL, NULL);
    CU_add_test(s, "MYSO_USER_TIMEOUT: checked, and a silent connect gives up after it",
                test_user_timeout_option);
}
