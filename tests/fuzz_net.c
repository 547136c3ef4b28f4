/* fuzz_net.c -- libFuzzer target: arbitrary datagrams through the network
 * layer's receive checks (net_check_segment, net_tcp_checksum), segment
 * decoding (tcp_parse), emulation profiles (netem_parse) and SYN cookies.
 *
 * Input: [selector][local IP 4][peer IP 4][local port 2][peer port 2][rest]
 * (addresses and ports in network byte order).  Selector bits:
 *   0x01  recompute th_sum with net_tcp_checksum, so the checksum passes
 *   0x02  put the chosen ports in th_sport/th_dport, so the ports pass
 *   0x04  the rest is not a datagram but an emulation profile for netem_parse
 *         (NUL-terminated copy; the local IP's first byte is the error buffer's size)
 *   0x24  the same, but the profile is built from the rest's bytes, each a
 *         key=value item picked from lists of keys and awkward values (NaN,
 *         infinities, boundaries, overflows, blanks), since strtod gives the
 *         fuzzer no coverage to steer by
 *   0x08  count into a struct net_counters (otherwise NULL)
 *   0x10  also make and check a SYN cookie for these addresses
 *
 * Every result is compared with what the interfaces promise, using an
 * independent checksum: net_check_segment accepts exactly the segments of
 * 20..NET_MAX_SEGMENT bytes with 5 <= th_off <= len/4, the right ports and
 * a correct checksum, and counts each rejection once, in the right counter;
 * tcp_parse accepts exactly the well-formed headers and decodes them
 * faithfully; a profile netem_parse accepts is within its documented
 * ranges.  Any disagreement abort()s, which libFuzzer reports.
 *
 * Seeds: tests/fuzz/net/; dictionary (profile keys, numbers strtod takes):
 * tests/fuzz/net.dict.  Build and run: tests/fuzz.sh (make fuzz).
 * Reproduce: build/fuzz/fuzz_net FILE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEL_FIX_SUM   0x01
#define SEL_FIX_PORTS 0x02
#define SEL_NETEM     0x04
#define SEL_COUNTERS  0x08
#define SEL_COOKIE    0x10
#define SEL_TOKENS    0x20 /* with SEL_NETEM: build the profile from tokens */

#define PREFIX 13

static void fail(int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void fail(int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "\nfuzz_net: CHECK FAILED (fuzz_net.c:%d): %s\n  ", line, cond);
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__LINE__, #cond, __VA_ARGS__);                                                    \
    } while (0)

/* RFC 1071 over the IPv4 pseudo-header and the segment, written
 * differently from network.c: a 64-bit accumulator, folded once at the end.
 * The result is what belongs in th_sum (network order); over a segment
 * whose th_sum is right it is 0. */
static uint16_t ref_checksum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    uint64_t sum = 0;
    const uint8_t *s = (const uint8_t *)&src, *d = (const uint8_t *)&dst;
    sum += (uint64_t)(s[0] << 8 | s[1]) + (uint64_t)(s[2] << 8 | s[3]);
    sum += (uint64_t)(d[0] << 8 | d[1]) + (uint64_t)(d[2] << 8 | d[3]);
    sum += 6; /* zero, protocol TCP */
    sum += len & 0xffff;
    for (size_t i = 0; i < len; i++)
        sum += (i & 1) ? seg[i] : (uint64_t)seg[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t host = (uint16_t)~sum;
    uint8_t wire[2] = {(uint8_t)(host >> 8), (uint8_t)host};
    uint16_t out;
    memcpy(&out, wire, 2);
    return out;
}

static bool well_formed(const uint8_t *buf, size_t len)
{
    if (len < sizeof(STCPHeader))
        return false;
    unsigned off = buf[12] >> 4;
    return off >= 5 && (size_t)off * 4 <= len;
}

/* An independent reading of RFC 9293 3.1's option rules, for a header
 * already well_formed: true if the options are, with *mss the last MSS
 * option's value (0 if none). */
static bool options_ok(const uint8_t *buf, uint16_t *mss)
{
    const uint8_t *p = buf + 20, *end = buf + (buf[12] >> 4) * 4;
    *mss = 0;
    while (p < end) {
        if (*p == 0)
            return true; /* end of option list */
        if (*p == 1) {
            p++;
            continue;
        }
        if (end - p < 2 || p[1] < 2 || p[1] > end - p)
            return false;
        if (*p == 2) {
            if (p[1] != 4)
                return false;
            *mss = (uint16_t)(p[2] * 256 + p[3]);
        }
        if ((*p == 3 && p[1] != 3) || (*p == 4 && p[1] != 2) || (*p == 5 && (p[1] - 2) % 8))
            return false; /* window scale, SACK-permitted, SACK (RFC 7323, 2018) */
        p += p[1];
    }
    return true;
}

static const char *const netem_keys[] = {"loss",  "dup",  "reorder", "corrupt",
                                         "delay", "seed", "bogus",   ""};
static const char *const netem_values[] = {"0",
                                           "1",
                                           "0.5",
                                           "0.999",
                                           "1.0000001",
                                           "-0",
                                           "-0.1",
                                           "nan",
                                           "-nan",
                                           "inf",
                                           "-inf",
                                           "1e7",
                                           "1e-400",
                                           "1e400",
                                           "0x1p-2",
                                           "10000",
                                           "10000.1",
                                           "10s",
                                           "10.000001s",
                                           "10000000us",
                                           "1e7us",
                                           "5ms",
                                           "2.5",
                                           "18446744073709551615",
                                           "18446744073709551616",
                                           "-1",
                                           " 5",
                                           "5 ",
                                           "",
                                           "0x10",
                                           "nan(1)",
                                           "1ms2"};

/* Profile text from item bytes: key index in the low 3 bits, value index
 * in the high 5; items joined by commas. */
static char *netem_from_tokens(const uint8_t *rest, size_t n)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(netem_keys[rest[i] & 7]) + strlen(netem_values[rest[i] >> 3]) + 2;
    char *spec = malloc(cap);
    if (!spec)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(spec + len, cap - len, "%s%s=%s", i ? "," : "",
                                netem_keys[rest[i] & 7], netem_values[rest[i] >> 3]);
    spec[len] = '\0';
    return spec;
}

static void fuzz_netem(const uint8_t *rest, size_t n, size_t errlen, bool tokens)
{
    char *spec = tokens ? netem_from_tokens(rest, MIN(n, 64)) : malloc(n + 1);
    char *err = malloc(errlen ? errlen : 1);
    if (!spec || !err) {
        free(spec);
        free(err);
        return;
    }
    if (!tokens) {
        memcpy(spec, rest, n);
        spec[n] = '\0';
    }
    err[0] = 'x';
    struct netem_profile p;
    if (netem_parse(spec, &p, err, errlen) == 0) {
        double prob[] = {p.loss, p.dup, p.reorder, p.corrupt};
        static const char *names[] = {"loss", "dup", "reorder", "corrupt"};
        for (int i = 0; i < 4; i++)
            CHECK(prob[i] >= 0 && prob[i] <= 1, "netem_parse(\"%s\") accepted %s=%g", spec,
                  names[i], prob[i]);
        CHECK(p.delay_us <= 10 * 1000 * 1000, "netem_parse(\"%s\") accepted delay %u us", spec,
              p.delay_us);
    } else if (errlen) {
        CHECK(memchr(err, '\0', errlen) != NULL, "error message not terminated within %zu", errlen);
    } else {
        CHECK(err[0] == 'x', "netem_parse wrote to a 0-byte error buffer");
    }
    free(spec);
    free(err);
}

static void fuzz_cookie(uint8_t sel, const struct sockaddr_in *local,
                        const struct sockaddr_in *peer, const uint8_t *seg, size_t len)
{
    static const uint8_t secret[SYNCOOKIE_SECRET_LEN] = "fuzz-net-secret";
    uint32_t cip = peer->sin_addr.s_addr, sip = local->sin_addr.s_addr;
    uint16_t cport = peer->sin_port, sport = local->sin_port;
    uint32_t counter = ((uint32_t)(sel >> 5) * 5) & 31; /* a few of the 32 */
    uint32_t mss = (uint32_t)(sel & 31) * 300;          /* 0 .. 9300: every table slot */
    uint32_t cookie = 0;
    CHECK(syncookie_make(secret, counter, mss, cip, cport, sip, sport, &cookie),
          "no cookie for counter %u", counter);
    CHECK(cookie >> 27 == counter && ((cookie >> 24) & 7) == syncookie_mss_code(mss),
          "cookie %#x for counter %u, MSS %u", cookie, counter, mss);
    uint16_t got_mss = 0;
    CHECK(syncookie_check(secret, cookie, counter, cip, cport, sip, sport, &got_mss),
          "cookie %#x rejected with its own counter", cookie);
    CHECK(got_mss == syncookie_mss_value(syncookie_mss_code(mss)) &&
              (got_mss <= mss || got_mss == TCP_MIN_MSS),
          "cookie %#x for MSS %u decoded as %u", cookie, mss, got_mss);
    CHECK(syncookie_check(secret, cookie, counter + 1, cip, cport, sip, sport, NULL),
          "cookie %#x rejected one counter later", cookie);
    CHECK(!syncookie_check(secret, cookie, counter + 2, cip, cport, sip, sport, NULL),
          "cookie %#x accepted two counters later", cookie);
    /* Whatever the datagram's ack - 1 is: no crash, and a yes only for the
     * cookie these addresses would get (with the MSS code it carries). */
    struct tcp_segment s;
    if (tcp_parse(seg, len, &s) == 0) {
        uint32_t c = s.ack - 1;
        uint16_t m = 0;
        bool ok = syncookie_check(secret, c, counter, cip, cport, sip, sport, &m);
        uint32_t want = 0;
        if (ok)
            CHECK(syncookie_make(secret, c >> 27, m, cip, cport, sip, sport, &want) && c == want,
                  "ack-1 %#x accepted but is not a cookie for these addresses", c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PREFIX)
        return 0;
    uint8_t sel = data[0];
    struct sockaddr_in local, peer;
    memset(&local, 0, sizeof local);
    memset(&peer, 0, sizeof peer);
    local.sin_family = peer.sin_family = AF_INET;
    memcpy(&local.sin_addr.s_addr, data + 1, 4);
    memcpy(&peer.sin_addr.s_addr, data + 5, 4);
    memcpy(&local.sin_port, data + 9, 2);
    memcpy(&peer.sin_port, data + 11, 2);
    const uint8_t *rest = data + PREFIX;
    size_t len = size - PREFIX;

    if (sel & SEL_NETEM) {
        fuzz_netem(rest, len, data[1], (sel & SEL_TOKENS) != 0);
        return 0;
    }
    if (len > 65535)
        return 0; /* a datagram cannot be longer */

    /* A copy of exactly len bytes, so reads past the end are caught. */
    uint8_t *seg = malloc(len ? len : 1);
    if (!seg)
        return 0;
    memcpy(seg, rest, len);
    STCPHeader h;
    if ((sel & SEL_FIX_PORTS) && len >= 4) {
        memcpy(&h, seg, 4); /* only the ports */
        h.th_sport = peer.sin_port;
        h.th_dport = local.sin_port;
        memcpy(seg, &h, 4);
    }
    if ((sel & SEL_FIX_SUM) && len >= 18) {
        memset(seg + 16, 0, 2);
        uint16_t sum = net_tcp_checksum(peer.sin_addr.s_addr, local.sin_addr.s_addr, seg, len);
        memcpy(seg + 16, &sum, 2);
    }

    /* The checksum, two ways. */
    uint16_t mine = ref_checksum(peer.sin_addr.s_addr, local.sin_addr.s_addr, seg, len);
    uint16_t theirs = net_tcp_checksum(peer.sin_addr.s_addr, local.sin_addr.s_addr, seg, len);
    CHECK(mine == theirs, "net_tcp_checksum %#x, reference %#x, over %zu bytes", theirs, mine, len);

    /* What net_check_segment must say. */
    bool shape = well_formed(seg, len) && len <= NET_MAX_SEGMENT;
    bool ports = false;
    if (len >= 4) {
        memcpy(&h, seg, 4);
        ports = h.th_sport == peer.sin_port && h.th_dport == local.sin_port;
    }
    bool sum_ok = mine == 0;
    struct net_counters ctr;
    memset(&ctr, 0, sizeof ctr);
    int rc = net_check_segment(seg, len, &peer, &local, (sel & SEL_COUNTERS) ? &ctr : NULL);
    bool want = shape && ports && sum_ok;
    CHECK(rc == (want ? 0 : -1),
          "net_check_segment %d; want %d (len %zu, shape %d, ports %d, checksum %d)", rc,
          want ? 0 : -1, len, shape, ports, sum_ok);
    if (sel & SEL_COUNTERS) {
        struct net_counters zero;
        memset(&zero, 0, sizeof zero);
        uint64_t malformed = (shape && ports) ? 0 : 1;
        uint64_t bad_sum = (shape && ports && !sum_ok) ? 1 : 0;
        CHECK(ctr.malformed == malformed && ctr.bad_checksum == bad_sum,
              "counted malformed %llu bad_checksum %llu; want %llu %llu",
              (unsigned long long)ctr.malformed, (unsigned long long)ctr.bad_checksum,
              (unsigned long long)malformed, (unsigned long long)bad_sum);
        ctr.malformed = ctr.bad_checksum = 0;
        CHECK(memcmp(&ctr, &zero, sizeof ctr) == 0, "net_check_segment bumped another counter");
    }
    if ((sel & SEL_FIX_SUM) && (sel & SEL_FIX_PORTS) && shape)
        CHECK(rc == 0, "a segment with fixed ports and checksum rejected");

    /* tcp_parse, whatever the network layer said. */
    struct tcp_segment s;
    memset(&s, 0, sizeof s);
    int prc = tcp_parse(seg, len, &s);
    bool header_ok = well_formed(seg, len);
    uint16_t want_mss = 0;
    bool opts_ok = header_ok && options_ok(seg, &want_mss);
    int want_prc = 0;
    if (!header_ok)
        want_prc = -1;
    else if (!opts_ok)
        want_prc = -2;
    CHECK(prc == want_prc, "tcp_parse %d on %zu bytes, th_off %u", prc, len,
          len > 12 ? seg[12] >> 4 : 0);
    /* The network layer checks the header; the transport drops (and
     * counts) malformed options. */
    CHECK(rc != 0 || prc != -1, "net_check_segment accepted what tcp_parse rejects");
    if (prc == 0) {
        memcpy(&h, seg, sizeof h);
        size_t off = (size_t)h.th_off * 4;
        CHECK(s.seq == ntohl(h.th_seq) && s.ack == ntohl(h.th_ack) && s.win == ntohs(h.th_win) &&
                  s.flags == (h.th_flags & (TH_FIN | TH_SYN | TH_RST | TH_ACK)),
              "tcp_parse decoded seq %u ack %u win %u flags %#x", s.seq, s.ack, s.win, s.flags);
        CHECK(s.mss == want_mss, "tcp_parse decoded MSS %u, the options say %u", s.mss, want_mss);
        CHECK(s.payload == seg + off && s.len == len - off,
              "payload at +%td, %u bytes; want +%zu, %zu", s.payload - seg, s.len, off, len - off);
        CHECK(tcp_seg_space(&s) == s.len + !!(s.flags & TH_SYN) + !!(s.flags & TH_FIN),
              "tcp_seg_space");
        /* Touch every payload byte: it must all be inside the datagram. */
        volatile uint8_t x = 0;
        for (uint32_t i = 0; i < s.len; i++)
            x ^= s.payload[i];
        (void)x;
    }
    if (sel & SEL_COOKIE)
        fuzz_cookie(sel, &local, &peer, seg, len);
    free(seg);
    return 0;
}
