/* fuzz_ip.c -- libFuzzer target: arbitrary packets through the IP carriers'
 * receive checks (ip_parse), the RST builder (net_build_rst) on what they
 * carry, and ip_build's headers back through ip_parse.
 *
 * Input: [selector][packet].  Selector bits:
 *   0x01  fix the header checksum first (so the later checks are reached)
 *   0x02  also build a header with ip_build from the packet's first bytes
 *         and check that ip_parse takes it back unchanged
 *
 * Every verdict is compared with an independent reading of RFC 791 written
 * here: version 4, 5 <= IHL, IHL*4 <= total length <= bytes read, header
 * checksum, neither MF nor a fragment offset.  On IP_OK the payload must be
 * exactly the bytes from IHL*4 to the total length.  For a TCP payload the
 * RST must be what RFC 9293 3.10.7.1 says.  Any disagreement abort()s.
 *
 * Seeds: tests/fuzz/ip/.  Build and run: tests/fuzz.sh (make fuzz).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carrier.h"
#include "network.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\nfuzz_ip: CHECK FAILED (fuzz_ip.c:%d): %s: %s\n", __LINE__, #cond,   \
                    what);                                                                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* RFC 1071, a byte at a time. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static enum ip_verdict ref_verdict(const uint8_t *p, size_t len)
{
    if (len < 20 || p[0] >> 4 != 4)
        return IP_MALFORMED;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t total = (size_t)p[2] * 256 + p[3];
    if (ihl < 20 || total < ihl || total > len)
        return IP_MALFORMED;
    if (ref_sum(p, ihl) != 0xffff)
        return IP_BAD_CHECKSUM;
    bool mf = (p[6] & 0x20) != 0;
    unsigned offset = (unsigned)(p[6] & 0x1f) * 256 + p[7];
    return (mf || offset) ? IP_FRAGMENT : IP_OK;
}

static void check_rst(const uint8_t *seg, size_t len)
{
    STCPHeader out;
    bool answered = net_build_rst(seg, len, &out);
    if (len < 20) {
        CHECK(!answered, "a RST for less than a header");
        return;
    }
    uint8_t flags = seg[13];
    if (flags & TH_RST) {
        CHECK(!answered, "a RST answered");
        return;
    }
    CHECK(answered, "no RST for a segment that deserves one");
    CHECK(out.th_off == 5 && !(out.th_flags & (TH_SYN | TH_FIN)), "RST shape");
    uint32_t seq, ack;
    memcpy(&seq, seg + 4, 4);
    memcpy(&ack, seg + 8, 4);
    if (flags & TH_ACK) {
        CHECK(out.th_flags == TH_RST && out.th_seq == ack, "RST for an ACK: <SEQ=SEG.ACK>");
    } else {
        size_t off = (size_t)(seg[12] >> 4) * 4;
        uint32_t seg_len =
            (uint32_t)(len > off ? len - off : 0) + !!(flags & TH_SYN) + !!(flags & TH_FIN);
        CHECK(out.th_flags == (TH_RST | TH_ACK) && out.th_seq == 0 &&
                  ntohl(out.th_ack) == ntohl(seq) + seg_len,
              "RST for a non-ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN>");
    }
}

static void check_build(const uint8_t *in, size_t n)
{
    if (n < 12)
        return;
    uint32_t src, dst;
    memcpy(&src, in, 4);
    memcpy(&dst, in + 4, 4);
    size_t payload = ((size_t)in[8] << 8 | in[9]) % (65535 - 20 + 1);
    uint8_t proto = in[10], ttl = in[11];
    uint8_t *pkt = calloc(1, 20 + payload);
    if (!pkt)
        return;
    ip_build(pkt, src, dst, proto, payload, ttl);
    struct ip_packet p;
    CHECK(ip_parse(pkt, 20 + payload, &p) == IP_OK, "ip_build's header rejected");
    CHECK(p.src == src && p.dst == dst && p.proto == proto && p.len == payload &&
              p.data == pkt + 20 && pkt[8] == ttl && (pkt[6] & 0x40),
          "ip_build's header read back differently");
    free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t sel = data[0];
    size_t len = size - 1;
    /* A copy of exactly len bytes, so reads past the end are caught. */
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data + 1, len);
    if ((sel & 1) && len >= 20 && (size_t)(pkt[0] & 15) * 4 <= len) {
        size_t ihl = (size_t)(pkt[0] & 15) * 4;
        pkt[10] = pkt[11] = 0;
        uint16_t s = (uint16_t)~ref_sum(pkt, ihl);
        pkt[10] = (uint8_t)(s >> 8);
        pkt[11] = (uint8_t)s;
    }
    struct ip_packet p;
    enum ip_verdict v = ip_parse(pkt, len, &p);
    enum ip_verdict want = ref_verdict(pkt, len);
    CHECK(v == want, "ip_parse's verdict differs from the reference");
    if (v == IP_OK) {
        size_t ihl = (size_t)(pkt[0] & 15) * 4, total = (size_t)pkt[2] * 256 + pkt[3];
        CHECK(p.data == pkt + ihl && p.len == total - ihl, "payload bounds");
        CHECK(p.proto == pkt[9] && !memcmp(&p.src, pkt + 12, 4) && !memcmp(&p.dst, pkt + 16, 4),
              "addresses or protocol");
        volatile uint8_t x = 0;
        for (size_t i = 0; i < p.len; i++)
            x ^= p.data[i];
        (void)x;
        if (p.proto == IP_PROTO_TCP)
            check_rst(p.data, p.len);
    }
    if (sel & 2)
        check_build(data + 1, len);
    free(pkt);
    return 0;
}
