/* test_units.c -- unit tests: sequence arithmetic, checksum, header
 * decoding, byte queues, emulation profiles, SYN cookies, RTO estimator.
 *
 * Known answers (checksums, cookies) were computed by an independent
 * implementation (Python's struct/hashlib), not by this code. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "stcp_api.h"
#include "mysock_impl.h"
#include "network.h"
#include "transport.h"

/* ---- Sequence arithmetic ---- */

static void test_seq_compare(void)
{
    CU_ASSERT(seq_lt(1, 2));
    CU_ASSERT(!seq_lt(2, 2));
    CU_ASSERT(seq_leq(2, 2));
    CU_ASSERT(seq_gt(3, 2));
    CU_ASSERT(seq_geq(3, 3));
    CU_ASSERT(!seq_gt(2, 3));
}

static void test_seq_wrap(void)
{
    CU_ASSERT(seq_lt(0xfffffff0u, 0x10u)); /* 0x10 is after the wrap */
    CU_ASSERT(seq_gt(0x5u, 0xfffffffbu));
    CU_ASSERT(seq_leq(0xffffffffu, 0));
    CU_ASSERT(!seq_lt(0x10u, 0xfffffff0u));
    CU_ASSERT_EQUAL((uint32_t)(0x3u - 0xfffffffeu), 5u);
}

static void test_seq_in_window(void)
{
    CU_ASSERT(seq_in(100, 100, 200));
    CU_ASSERT(seq_in(199, 100, 200));
    CU_ASSERT(!seq_in(200, 100, 200));
    CU_ASSERT(!seq_in(99, 100, 200));
    CU_ASSERT(seq_in(0x2u, 0xfffffff0u, 0x10u));
    CU_ASSERT(!seq_in(0x10u, 0xfffffff0u, 0x10u));
    CU_ASSERT(!seq_in(5, 5, 5)); /* an empty window holds nothing */
}

/* ---- Checksum ---- */

static void test_sum_rfc1071_example(void)
{
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CU_ASSERT_EQUAL(net_sum(0, b, sizeof b), 0xddf2);
}

static size_t build_known_segment(uint8_t *seg)
{
    STCPHeader h;
    memset(&h, 0, sizeof h);
    h.th_sport = htons(5000);
    h.th_dport = htons(40000);
    h.th_seq = htonl(0x01020304);
    h.th_ack = htonl(0x0a0b0c0d);
    h.th_off = 5;
    h.th_flags = TH_ACK | TH_PUSH;
    h.th_win = htons(3072);
    static const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
    memcpy(seg, &h, sizeof h);
    memcpy(seg + sizeof h, payload, sizeof payload);
    return sizeof h + 5;
}

static void test_tcp_checksum_known_value(void)
{
    uint8_t seg[64];
    size_t len = build_known_segment(seg);
    uint32_t src = inet_addr("127.0.0.1"), dst = inet_addr("127.0.0.2");
    CU_ASSERT_EQUAL(ntohs(net_tcp_checksum(src, dst, seg, len)), 0x980b);
}

static void test_tcp_checksum_verifies_to_zero(void)
{
    uint8_t seg[64];
    size_t len = build_known_segment(seg);
    uint32_t src = inet_addr("127.0.0.1"), dst = inet_addr("127.0.0.2");
    uint16_t sum = net_tcp_checksum(src, dst, seg, len);
    memcpy(seg + 16, &sum, 2);
    CU_ASSERT_EQUAL(net_tcp_checksum(src, dst, seg, len), 0);
    seg[22] ^= 0x04; /* one bit of payload */
    CU_ASSERT_NOT_EQUAL(net_tcp_checksum(src, dst, seg, len), 0);
    seg[22] ^= 0x04;
    /* The pseudo-header counts: another address fails. */
    CU_ASSERT_NOT_EQUAL(net_tcp_checksum(src, inet_addr("127.0.0.3"), seg, len), 0);
}

static void test_tcp_checksum_odd_length(void)
{
    uint8_t seg[64];
    size_t len = build_known_segment(seg) - 1; /* "hell": odd length */
    uint32_t a = inet_addr("127.0.0.1");
    uint16_t sum = net_tcp_checksum(a, a, seg, len);
    memcpy(seg + 16, &sum, 2);
    CU_ASSERT_EQUAL(net_tcp_checksum(a, a, seg, len), 0);
}

/* The word-at-a-time sum against the plain definition: 16-bit big-endian
 * words, an odd last byte as a high half, carries folded back. */
static uint32_t reference_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (len % 2)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static void test_sum_matches_reference(void)
{
    uint8_t buf[700];
    uint32_t seed = 12345;
    for (size_t len = 0; len < sizeof buf; len += 1 + len / 16) {
        for (size_t off = 0; off < 3; off++) { /* unaligned starts too */
            for (size_t i = 0; i < sizeof buf; i++) {
                seed = seed * 1103515245u + 12345u;
                buf[i] = (uint8_t)(seed >> 16);
            }
            if (len % 7 == 0)
                memset(buf, 0xff, sizeof buf); /* many carries */
            size_t n = len - (len > off ? off : 0);
            CU_ASSERT_EQUAL(net_sum(0, buf + off, n), reference_sum(0, buf + off, n));
            CU_ASSERT_EQUAL(net_sum(0xfffe, buf + off, n), reference_sum(0xfffe, buf + off, n));
        }
    }
}

static void test_check_segment_rejects(void)
{
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5000)};
    local.sin_addr.s_addr = inet_addr("127.0.0.2");
    peer.sin_addr.s_addr = inet_addr("127.0.0.1");
    uint8_t seg[64];
    size_t len = build_known_segment(seg);
    uint16_t sum = net_tcp_checksum(peer.sin_addr.s_addr, local.sin_addr.s_addr, seg, len);
    memcpy(seg + 16, &sum, 2);
    struct net_counters ctr;
    memset(&ctr, 0, sizeof ctr);
    CU_ASSERT_EQUAL(net_check_segment(seg, len, &peer, &local, &ctr), 0);
    CU_ASSERT_EQUAL(net_check_segment(seg, 19, &peer, &local, &ctr), -1); /* short */
    CU_ASSERT_EQUAL(ctr.malformed, 1);
    seg[22] ^= 1;
    CU_ASSERT_EQUAL(net_check_segment(seg, len, &peer, &local, &ctr), -1);
    CU_ASSERT_EQUAL(ctr.bad_checksum, 1);
    seg[22] ^= 1;
    struct sockaddr_in other = local;
    other.sin_port = htons(40001); /* not our port */
    CU_ASSERT_EQUAL(net_check_segment(seg, len, &peer, &other, &ctr), -1);
    CU_ASSERT_EQUAL(ctr.malformed, 2);
}

/* ---- Header decoding ---- */

static void test_parse_header_fields(void)
{
    uint8_t seg[64];
    size_t len = build_known_segment(seg);
    struct tcp_segment s;
    CU_ASSERT_EQUAL(tcp_parse(seg, len, &s), 0);
    CU_ASSERT_EQUAL(s.seq, 0x01020304u);
    CU_ASSERT_EQUAL(s.ack, 0x0a0b0c0du);
    CU_ASSERT_EQUAL(s.flags, TH_ACK); /* PSH is ignored */
    CU_ASSERT_EQUAL(s.win, 3072);
    CU_ASSERT_EQUAL(s.len, 5);
    CU_ASSERT(memcmp(s.payload, "hello", 5) == 0);
    CU_ASSERT_EQUAL(sizeof(STCPHeader), 20);
}

static void test_parse_skips_options(void)
{
    uint8_t seg[64];
    memset(seg, 0, sizeof seg);
    size_t len = build_known_segment(seg);
    /* Move the payload behind 8 bytes of options. */
    memmove(seg + 28, seg + 20, 5);
    memset(seg + 20, 1, 8); /* NOPs */
    ((STCPHeader *)seg)->th_off = 7;
    struct tcp_segment s;
    CU_ASSERT_EQUAL(tcp_parse(seg, len + 8, &s), 0);
    CU_ASSERT_EQUAL(s.len, 5);
    CU_ASSERT(memcmp(s.payload, "hello", 5) == 0);
}

static void test_parse_rejects_bad_offset(void)
{
    uint8_t seg[64];
    size_t len = build_known_segment(seg);
    struct tcp_segment s;
    ((STCPHeader *)seg)->th_off = 4;
    CU_ASSERT_EQUAL(tcp_parse(seg, len, &s), -1);
    ((STCPHeader *)seg)->th_off = 15; /* 60 bytes: past the end */
    CU_ASSERT_EQUAL(tcp_parse(seg, len, &s), -1);
    CU_ASSERT_EQUAL(tcp_parse(seg, 19, &s), -1);
}

/* ---- Byte queues ---- */

static void test_byteq_wraps(void)
{
    struct byteq q;
    byteq_init(&q, 8);
    CU_ASSERT_PTR_NULL(q.buf); /* no memory until the first byte */
    CU_ASSERT_EQUAL(byteq_space(&q), 8);
    char out[16];
    CU_ASSERT_EQUAL(byteq_get(&q, out, 4), 0);
    CU_ASSERT_FALSE(byteq_put_failed(&q, 0));
    CU_ASSERT_EQUAL(byteq_put(&q, "abcdef", 6), 6);
    CU_ASSERT_EQUAL(byteq_get(&q, out, 4), 4);
    CU_ASSERT(memcmp(out, "abcd", 4) == 0);
    CU_ASSERT_EQUAL(byteq_put(&q, "ghijklmn", 8), 6); /* only 6 free */
    CU_ASSERT_EQUAL(byteq_space(&q), 0);
    CU_ASSERT_EQUAL(byteq_get(&q, out, 16), 8);
    CU_ASSERT(memcmp(out, "efghijkl", 8) == 0);
    CU_ASSERT_EQUAL(byteq_get(&q, out, 16), 0);
    CU_ASSERT_EQUAL(byteq_space(&q), 8);
    byteq_free(&q);
}

/* byteq_tail for at most max bytes, then len bytes of src copied into
 * the piece and committed; returns the piece's size (0: none). */
static size_t tail_put(struct byteq *q, size_t max, const uint8_t *src, size_t len)
{
    size_t room;
    uint8_t *p = byteq_tail(q, max, &room);
    if (!p || room < len)
        return p ? room : 0;
    for (size_t i = 0; i < len; i++)
        p[i] = src[i];
    byteq_commit(q, len);
    return room;
}

/* The two-step put mywrite uses to copy without the lock. */
static void test_byteq_tail_commit(void)
{
    static const uint8_t bytes[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'};
    struct byteq q;
    byteq_init(&q, 8);
    size_t room;
    CU_ASSERT_PTR_NULL(byteq_tail(&q, 0, &room));
    CU_ASSERT_EQUAL(tail_put(&q, 6, bytes, 6), 6);
    uint8_t out[8];
    CU_ASSERT_EQUAL(byteq_get(&q, out, 4), 4);
    CU_ASSERT(memcmp(out, bytes, 4) == 0);
    /* Free: 2 at the end, 4 at the start; a piece stops at the wrap. */
    CU_ASSERT_EQUAL(tail_put(&q, 100, bytes + 6, 2), 2);
    CU_ASSERT_EQUAL(tail_put(&q, 100, bytes + 8, 4), 4);
    CU_ASSERT_PTR_NULL(byteq_tail(&q, 1, &room)); /* full */
    CU_ASSERT_EQUAL(room, 0);
    CU_ASSERT_EQUAL(byteq_get(&q, out, 8), 8);
    CU_ASSERT(memcmp(out, bytes + 4, 8) == 0);
    /* Nothing is queued before the commit. */
    uint8_t *p = byteq_tail(&q, 3, &room);
    CU_ASSERT(p != NULL && room == 3);
    CU_ASSERT_EQUAL(q.len, 0);
    byteq_free(&q);
}

/* ---- Emulation profiles ---- */

static void test_netem_parse_full(void)
{
    struct netem_profile p;
    char err[160];
    CU_ASSERT_EQUAL(netem_parse("loss=0.10,dup=0.02,reorder=0.05,corrupt=0.01,delay=1ms,seed=7", &p,
                                err, sizeof err),
                    0);
    CU_ASSERT_DOUBLE_EQUAL(p.loss, 0.10, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.dup, 0.02, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.reorder, 0.05, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.corrupt, 0.01, 1e-12);
    CU_ASSERT_EQUAL(p.delay_us, 1000);
    CU_ASSERT_EQUAL(p.seed, 7);
    CU_ASSERT_EQUAL(netem_parse("delay=250us", &p, err, sizeof err), 0);
    CU_ASSERT_EQUAL(p.delay_us, 250);
    CU_ASSERT_DOUBLE_EQUAL(p.loss, 0, 1e-12);
}

static void test_netem_parse_errors(void)
{
    struct netem_profile p;
    char err[160];
    CU_ASSERT_EQUAL(netem_parse("loss=2", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("loss=-0.1", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("lose=0.1", &p, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "unknown key") != NULL);
    CU_ASSERT_EQUAL(netem_parse("loss", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("delay=5parsecs", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("seed=x", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("loss=nan", &p, err, sizeof err), -1); /* found by fuzzing */
    CU_ASSERT_EQUAL(netem_parse("delay=nan", &p, err, sizeof err), -1);
    CU_ASSERT_EQUAL(netem_parse("delay=inf", &p, err, sizeof err), -1);
}

static void test_netem_classic(void)
{
    struct netem_profile p;
    netem_classic(&p);
    CU_ASSERT_DOUBLE_EQUAL(p.loss, 1.0 / 32, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.dup, 1.0 / 32, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.reorder, 1.0 / 32, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.corrupt, 0, 1e-12);
}

/* ---- SYN cookies ---- */

static const uint8_t kat_secret[SYNCOOKIE_SECRET_LEN] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                         8, 9, 10, 11, 12, 13, 14, 15};

/* syncookie_make for tests: the cookie, which must be made. */
static uint32_t make_cookie(uint32_t counter, uint32_t mss, uint32_t cip, uint16_t cport,
                            uint32_t sip, uint16_t sport)
{
    uint32_t cookie = 0;
    CU_ASSERT_FATAL(syncookie_make(kat_secret, counter, mss, cip, cport, sip, sport, &cookie));
    return cookie;
}

/* Computed in Python (hashlib) for MSS code 001, before the MSS table:
 * 536 must still encode as 001 and the hash must not have changed. */
static void test_cookie_known_answers(void)
{
    uint32_t lo = inet_addr("127.0.0.1");
    CU_ASSERT_EQUAL(make_cookie(7, 536, lo, htons(40000), lo, htons(5000)), 0x393304fcu);
    CU_ASSERT_EQUAL(make_cookie(0, 536, lo, htons(40000), lo, htons(5000)), 0x0174372eu);
    CU_ASSERT_EQUAL(
        make_cookie(31, 536, inet_addr("10.1.2.3"), htons(1), inet_addr("127.0.0.9"), htons(65535)),
        0xf94e0eedu);
    /* Another MSS changes only the 3 code bits. */
    CU_ASSERT_EQUAL(make_cookie(7, 1460, lo, htons(40000), lo, htons(5000)),
                    (0x393304fcu & ~(7u << 24)) | (6u << 24));
}

/* The table: 536 is code 1; each MSS encodes as the largest value not
 * above it, and decodes to that value. */
static void test_cookie_mss_table(void)
{
    CU_ASSERT_EQUAL(syncookie_mss_code(536), 1);
    CU_ASSERT_EQUAL(syncookie_mss_value(1), 536);
    CU_ASSERT_EQUAL(syncookie_mss_code(537), 1);
    CU_ASSERT_EQUAL(syncookie_mss_code(1024), 1);
    CU_ASSERT_EQUAL(syncookie_mss_value(syncookie_mss_code(1460)), 1460);
    CU_ASSERT_EQUAL(syncookie_mss_value(syncookie_mss_code(1459)), 1452);
    CU_ASSERT_EQUAL(syncookie_mss_value(syncookie_mss_code(1360)), 1360);
    CU_ASSERT_EQUAL(syncookie_mss_value(syncookie_mss_code(65495)), 8960);
    CU_ASSERT_EQUAL(syncookie_mss_code(535), 0);
    CU_ASSERT_EQUAL(syncookie_mss_value(0), TCP_MIN_MSS);
    CU_ASSERT_EQUAL(syncookie_mss_code(0), 0);
    for (unsigned code = 0; code < 8; code++) {
        CU_ASSERT_EQUAL(syncookie_mss_code(syncookie_mss_value(code)), code);
        if (code)
            CU_ASSERT(syncookie_mss_value(code) > syncookie_mss_value(code - 1));
    }
}

/* The cookie carries the MSS through check. */
static void test_cookie_mss_round_trip(void)
{
    uint32_t c = inet_addr("127.0.0.1"), s = inet_addr("127.0.0.2");
    uint16_t cp = htons(40000), sp = htons(5000);
    static const uint32_t sent[] = {64, 100, 536, 1000, 1220, 1400, 1460, 9000, 65495};
    static const uint16_t kept[] = {64, 64, 536, 536, 1220, 1360, 1460, 8960, 8960};
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        uint32_t cookie = make_cookie(7, sent[i], c, cp, s, sp);
        uint16_t mss = 0;
        CU_ASSERT(syncookie_check(kat_secret, cookie, 7, c, cp, s, sp, &mss));
        CU_ASSERT_EQUAL(mss, kept[i]);
    }
}

/* Fail closed: a cookie whose hash bits are all zero is what a failed
 * digest used to "match"; it must not pass, for any MSS code. */
static void test_cookie_zero_hash_rejected(void)
{
    uint32_t c = inet_addr("127.0.0.1"), s = inet_addr("127.0.0.2");
    uint16_t cp = htons(40000), sp = htons(5000);
    CU_ASSERT((make_cookie(7, 536, c, cp, s, sp) & 0xffffffu) != 0); /* else pick another */
    for (uint32_t code = 0; code < 8; code++)
        CU_ASSERT(!syncookie_check(kat_secret, (7u << 27) | (code << 24), 7, c, cp, s, sp, NULL));
}

static void test_cookie_counter(void)
{
    CU_ASSERT_EQUAL(syncookie_counter(1700000000), 4);
    CU_ASSERT_EQUAL(syncookie_counter(1700000000 + 64), 5);
    CU_ASSERT_EQUAL(syncookie_counter(31 * 64), 31);
    CU_ASSERT_EQUAL(syncookie_counter(32 * 64), 0); /* mod 32 */
}

static void test_cookie_check(void)
{
    uint32_t c = inet_addr("127.0.0.1"), s = inet_addr("127.0.0.2");
    uint16_t cp = htons(40000), sp = htons(5000);
    uint32_t cookie = make_cookie(7, 536, c, cp, s, sp);
    CU_ASSERT(syncookie_check(kat_secret, cookie, 7, c, cp, s, sp, NULL));
    /* One step old: the boundary case is accepted. */
    CU_ASSERT(syncookie_check(kat_secret, cookie, 8, c, cp, s, sp, NULL));
    /* Two steps old: rejected. */
    CU_ASSERT(!syncookie_check(kat_secret, cookie, 9, c, cp, s, sp, NULL));
    /* From the future: rejected. */
    CU_ASSERT(!syncookie_check(kat_secret, cookie, 6, c, cp, s, sp, NULL));
    /* Another tuple: rejected. */
    CU_ASSERT(!syncookie_check(kat_secret, cookie, 7, c, htons(40001), s, sp, NULL));
    CU_ASSERT(!syncookie_check(kat_secret, cookie, 7, c, cp, inet_addr("127.0.0.3"), sp, NULL));
    /* Any tampered bit of the hash or the counter: rejected.  The MSS code
     * is not hashed (the known answers fix the hash's input): changing it
     * only picks another table MSS for the sender's own connection, which
     * its SYN's MSS option could have chosen anyway. */
    for (int bit = 0; bit < 32; bit++) {
        if (bit >= 24 && bit < 27)
            continue;
        CU_ASSERT(!syncookie_check(kat_secret, cookie ^ (1u << bit), 7, c, cp, s, sp, NULL));
    }
    /* Another secret: rejected. */
    uint8_t other[SYNCOOKIE_SECRET_LEN];
    memcpy(other, kat_secret, sizeof other);
    other[0] ^= 1;
    CU_ASSERT(!syncookie_check(other, cookie, 7, c, cp, s, sp, NULL));
}

static void test_cookie_counter_wraps(void)
{
    uint32_t c = inet_addr("127.0.0.1");
    uint32_t cookie = make_cookie(31, 536, c, htons(1), c, htons(2));
    CU_ASSERT(syncookie_check(kat_secret, cookie, 0, c, htons(1), c, htons(2), NULL)); /* 31 -> 0 */
    CU_ASSERT(!syncookie_check(kat_secret, cookie, 1, c, htons(1), c, htons(2), NULL));
}

/* ---- The listener's hook with cookies on, through a real listener ---- */

struct hook_rig {
    mysocket_t ls;
    int fd; /* a plain UDP socket playing the client */
    struct sockaddr_in local, peer;
};

static bool hook_rig_open(struct hook_rig *r, long mss)
{
    memset(r, 0, sizeof *r);
    r->ls = mysocket(TRUE);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof r->local;
    if (r->ls < 0 || mysetsockopt(r->ls, MYSO_SYNCOOKIES, 1) < 0 ||
        mysetsockopt(r->ls, MYSO_MSS, mss) < 0 ||
        mybind(r->ls, (struct sockaddr *)&sin, sizeof sin) < 0 || mylisten(r->ls, 4) < 0 ||
        mygetsockname(r->ls, (struct sockaddr *)&r->local, &alen) < 0)
        return false;
    r->fd = socket(AF_INET, SOCK_DGRAM, 0);
    alen = sizeof r->peer;
    return r->fd >= 0 && bind(r->fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
           getsockname(r->fd, (struct sockaddr *)&r->peer, &alen) == 0;
}

static void hook_rig_close(struct hook_rig *r)
{
    myclose(r->ls);
    close(r->fd);
}

/* Offer a segment to the hook as if it had come from the rig's client. */
static int hook_offer(struct hook_rig *r, uint32_t seq, uint32_t ack, uint8_t flags,
                      const uint8_t *opts, size_t opts_len, size_t payload)
{
    uint8_t buf[128];
    memset(buf, 0, sizeof buf);
    STCPHeader *th = (STCPHeader *)buf;
    th->th_sport = r->peer.sin_port;
    th->th_dport = r->local.sin_port;
    th->th_seq = htonl(seq);
    th->th_ack = htonl(ack);
    th->th_off = (uint8_t)(5 + (opts_len + 3) / 4);
    th->th_flags = flags;
    th->th_win = htons(3072);
    if (opts_len)
        memcpy(buf + 20, opts, opts_len);
    return transport_listen_input(r->ls, buf, TCP_DATA_START(th) + payload, &r->local, &r->peer);
}

/* The next reply the rig's client has (they are sent before the hook
 * returns, on loopback): its length, or 0 if none. */
static size_t hook_reply(struct hook_rig *r, uint8_t *buf, size_t cap)
{
    ssize_t n = recv(r->fd, buf, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

static void test_listen_hook_replies(void)
{
    struct hook_rig r;
    CU_ASSERT_FATAL(hook_rig_open(&r, 1000));
    uint8_t got[128];
    const STCPHeader *h = (const STCPHeader *)got;

    /* A SYN with MSS 1460: a cookie SYN-ACK announcing our 1000, its cookie
     * remembering min(1460, 1000) as the table's 536. */
    static const uint8_t mss1460[4] = {TCPOPT_MSS, TCPOLEN_MSS, 0x05, 0xb4};
    CU_ASSERT(hook_offer(&r, 777, 0, TH_SYN, mss1460, 4, 0) > 0);
    size_t n = hook_reply(&r, got, sizeof got);
    CU_ASSERT_FATAL(n == 24);
    CU_ASSERT_EQUAL(h->th_flags, TH_SYN | TH_ACK);
    CU_ASSERT_EQUAL(ntohl(h->th_ack), 778);
    CU_ASSERT_EQUAL(ntohs(h->th_win), SYNCOOKIE_WINDOW);
    CU_ASSERT_EQUAL((ntohl(h->th_seq) >> 24) & 7, syncookie_mss_code(536));
    struct tcp_segment seg;
    CU_ASSERT(tcp_parse(got, n, &seg) == 0 && seg.mss == 1000);

    /* An ACK that is no cookie of ours: <SEQ=SEG.ACK><CTL=RST>. */
    CU_ASSERT(hook_offer(&r, 778, 12345, TH_ACK, NULL, 0, 0) < 0);
    n = hook_reply(&r, got, sizeof got);
    CU_ASSERT_FATAL(n == 20);
    CU_ASSERT_EQUAL(h->th_flags, TH_RST);
    CU_ASSERT_EQUAL(ntohl(h->th_seq), 12345);

    /* Data and FIN without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    CU_ASSERT(hook_offer(&r, 5000, 0, TH_FIN, NULL, 0, 10) < 0);
    n = hook_reply(&r, got, sizeof got);
    CU_ASSERT_FATAL(n == 20);
    CU_ASSERT_EQUAL(h->th_flags, TH_RST | TH_ACK);
    CU_ASSERT_EQUAL(ntohl(h->th_seq), 0);
    CU_ASSERT_EQUAL(ntohl(h->th_ack), 5011);

    /* A RST is never answered, with or without ACK. */
    CU_ASSERT(hook_offer(&r, 5000, 12345, TH_RST | TH_ACK, NULL, 0, 0) < 0);
    CU_ASSERT(hook_offer(&r, 5000, 0, TH_RST, NULL, 0, 0) < 0);
    CU_ASSERT_EQUAL(hook_reply(&r, got, sizeof got), 0);
    hook_rig_close(&r);
}

/* The listener's RSTs are rationed for the whole process. */
static void test_listen_hook_rst_rate_limited(void)
{
    struct hook_rig r;
    CU_ASSERT_FATAL(hook_rig_open(&r, 536));
    for (int i = 0; i < 200; i++)
        hook_offer(&r, 1, 1000 + (uint32_t)i, TH_ACK, NULL, 0, 0);
    uint8_t got[128];
    unsigned replies = 0;
    while (hook_reply(&r, got, sizeof got))
        replies++;
    CU_ASSERT(replies < 200);
    hook_rig_close(&r);
}

/* ---- RTO estimator (RFC 6298), through the core ---- */

static void test_rto_first_sample(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 100);
    CU_ASSERT_EQUAL(h.tcb.rto, h.tcb.cfg.rto_initial);
    h.now += 10000; /* the SYN-ACK comes 10 ms later */
    h_input(&h, synack(900, 101, H_WINDOW));
    CU_ASSERT_EQUAL(h.tcb.srtt, 10000);
    CU_ASSERT_EQUAL(h.tcb.rttvar, 5000);
    CU_ASSERT_EQUAL(h.tcb.rto, 10000 + 4 * 5000); /* SRTT + 4 RTTVAR */
    h_free(&h);
}

static void test_rto_floor(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_established(&h, 100, 900, H_WINDOW); /* a 50 us sample */
    CU_ASSERT_EQUAL(h.tcb.srtt, 50);
    CU_ASSERT_EQUAL(h.tcb.rto, h.tcb.cfg.rto_min);
    h_free(&h);
}

static void test_rto_smoothing(void)
{
    struct harness h;
    h_init(&h, H_WINDOW);
    h_open_active(&h, 100);
    h.now += 8000;
    h_input(&h, synack(900, 101, H_WINDOW)); /* SRTT 8000, RTTVAR 4000 */
    h_write(&h, "x");
    h.now += 16000;
    h_input(&h, ack(901, 102, H_WINDOW)); /* sample 16000 */
    /* RTTVAR = 3/4 * 4000 + 1/4 * |8000 - 16000| = 5000;
     * SRTT = 7/8 * 8000 + 1/8 * 16000 = 9000. */
    CU_ASSERT_EQUAL(h.tcb.rttvar, 5000);
    CU_ASSERT_EQUAL(h.tcb.srtt, 9000);
    CU_ASSERT_EQUAL(h.tcb.rto, 9000 + 4 * 5000);
    h_free(&h);
}

void register_unit_suites(void)
{
    CU_pSuite s = CU_add_suite("seq", NULL, NULL);
    CU_add_test(s, "compare", test_seq_compare);
    CU_add_test(s, "wrap past 2^32", test_seq_wrap);
    CU_add_test(s, "in window", test_seq_in_window);
    s = CU_add_suite("checksum", NULL, NULL);
    CU_add_test(s, "RFC 1071 example sum", test_sum_rfc1071_example);
    CU_add_test(s, "TCP checksum, known value", test_tcp_checksum_known_value);
    CU_add_test(s, "TCP checksum verifies to zero", test_tcp_checksum_verifies_to_zero);
    CU_add_test(s, "TCP checksum, odd length", test_tcp_checksum_odd_length);
    CU_add_test(s, "fast sum matches the definition", test_sum_matches_reference);
    CU_add_test(s, "received segment checks", test_check_segment_rejects);
    s = CU_add_suite("header", NULL, NULL);
    CU_add_test(s, "fields decoded", test_parse_header_fields);
    CU_add_test(s, "options skipped", test_parse_skips_options);
    CU_add_test(s, "bad th_off rejected", test_parse_rejects_bad_offset);
    s = CU_add_suite("queues", NULL, NULL);
    CU_add_test(s, "byte queue wraps", test_byteq_wraps);
    CU_add_test(s, "byte queue: tail pieces stop at the wrap, commit appends",
                test_byteq_tail_commit);
    s = CU_add_suite("netem", NULL, NULL);
    CU_add_test(s, "full profile parsed", test_netem_parse_full);
    CU_add_test(s, "bad profiles rejected", test_netem_parse_errors);
    CU_add_test(s, "classic profile", test_netem_classic);
    s = CU_add_suite("cookies", NULL, NULL);
    CU_add_test(s, "known answers", test_cookie_known_answers);
    CU_add_test(s, "time counter", test_cookie_counter);
    CU_add_test(s, "check: tuple, bits, age", test_cookie_check);
    CU_add_test(s, "counter wraps 31 -> 0", test_cookie_counter_wraps);
    CU_add_test(s, "MSS table", test_cookie_mss_table);
    CU_add_test(s, "MSS round trip", test_cookie_mss_round_trip);
    CU_add_test(s, "fail closed: zero hash rejected", test_cookie_zero_hash_rejected);
    CU_add_test(s, "listener hook: SYN-ACK MSS, RSTs, none for a RST", test_listen_hook_replies);
    CU_add_test(s, "listener hook: RSTs rate-limited", test_listen_hook_rst_rate_limited);
    s = CU_add_suite("rto", NULL, NULL);
    CU_add_test(s, "first sample", test_rto_first_sample);
    CU_add_test(s, "floor", test_rto_floor);
    CU_add_test(s, "smoothing", test_rto_smoothing);
}
