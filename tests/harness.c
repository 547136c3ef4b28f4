/* harness.c -- see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ---- The core's ways out, recorded ---- */

static void h_output(void *ctx, const STCPHeader *hdr, const void *payload, size_t len)
{
    struct harness *h = ctx;
    CU_ASSERT_FATAL(h->nout < H_MAX_OUT);
    CU_ASSERT(len <= h->tcb.snd_mss); /* never more than an MSS of payload */
    struct oseg *o = &h->out[h->nout++];
    o->seq = ntohl(hdr->th_seq);
    o->ack = ntohl(hdr->th_ack);
    o->flags = hdr->th_flags;
    o->win = ntohs(hdr->th_win);
    o->th_off = hdr->th_off;
    o->len = (uint32_t)len;
    /* Our options parse as any peer's would; keep the MSS one. */
    struct tcp_segment parsed;
    uint8_t wire[64];
    CU_ASSERT_FATAL(TCP_DATA_START(hdr) <= sizeof wire);
    memcpy(wire, hdr, TCP_DATA_START(hdr));
    CU_ASSERT(tcp_parse(wire, TCP_DATA_START(hdr), &parsed) == 0);
    o->mss = parsed.mss;
    o->opt = parsed;
    o->opt.payload = NULL;
    o->optlen = (unsigned)TCP_OPTIONS_LEN(hdr);
    memcpy(o->optbytes, wire + sizeof *hdr, o->optlen);
    if (len)
        memcpy(o->payload, payload, len < H_MAX_PAYLOAD ? len : H_MAX_PAYLOAD);
}

static void h_deliver(void *ctx, const void *d, size_t len)
{
    struct harness *h = ctx;
    CU_ASSERT(len <= h->rcvbuf - h->unread); /* never beyond what was free */
    CU_ASSERT_FATAL(h->ndelivered + len <= H_MAX_DATA);
    /* memmove: a payload received in place (tcp_input_split) may lie just
     * past the end, as in the framework's queue. */
    memmove(h->delivered + h->ndelivered, d, len);
    h->ndelivered += len;
    h->unread += len;
}

static size_t h_app_space(void *ctx)
{
    struct harness *h = ctx;
    return h->rcvbuf - h->unread;
}

static void h_event(void *ctx, enum tcp_event ev, int err)
{
    struct harness *h = ctx;
    switch (ev) {
    case TCP_EV_ESTABLISHED:
        h->established++;
        break;
    case TCP_EV_PEER_FIN:
        h->peer_fin++;
        break;
    case TCP_EV_CLOSE_DONE:
        h->close_done++;
        break;
    case TCP_EV_ERROR:
        h->errors++;
        h->error = err;
        break;
    case TCP_EV_CLOSED:
        h->closed++;
        break;
    }
}

static void h_cc_event(void *ctx, enum tcp_cc_event ev)
{
    struct harness *h = ctx;
    h->cc_events[ev]++;
}

/* ---- Segment constructors ---- */

static struct tseg mk(uint32_t seq, uint32_t ackn, uint8_t flags, uint16_t win)
{
    struct tseg s;
    memset(&s, 0, sizeof s);
    s.seq = seq;
    s.ack = ackn;
    s.flags = flags;
    s.win = win;
    return s;
}

struct tseg syn(uint32_t seq)
{
    return mk(seq, 0, TH_SYN, H_WINDOW);
}

struct tseg synack(uint32_t seq, uint32_t ackn, uint16_t win)
{
    return mk(seq, ackn, TH_SYN | TH_ACK, win);
}

struct tseg ack(uint32_t seq, uint32_t ackn, uint16_t win)
{
    return mk(seq, ackn, TH_ACK, win);
}

struct tseg datan(uint32_t seq, uint32_t ackn, uint16_t win, const uint8_t *bytes, uint32_t len)
{
    struct tseg s = mk(seq, ackn, TH_ACK, win);
    s.data = bytes;
    s.len = len;
    return s;
}

struct tseg data(uint32_t seq, uint32_t ackn, uint16_t win, const char *bytes)
{
    return datan(seq, ackn, win, (const uint8_t *)bytes, (uint32_t)strlen(bytes));
}

struct tseg fin(uint32_t seq, uint32_t ackn, uint16_t win)
{
    return mk(seq, ackn, TH_FIN | TH_ACK, win);
}

struct tseg with_flags(struct tseg s, uint8_t flags)
{
    s.flags |= flags;
    return s;
}

struct tseg with_mss(struct tseg s, uint16_t mss)
{
    static uint8_t opt[16][4]; /* a few may be in use at once */
    static unsigned next;
    uint8_t *o = opt[next++ % 16];
    o[0] = TCPOPT_MSS;
    o[1] = TCPOLEN_MSS;
    o[2] = (uint8_t)(mss >> 8);
    o[3] = (uint8_t)mss;
    s.opts = o;
    s.opts_len = 4;
    return s;
}

struct tseg rst(uint32_t seq)
{
    return mk(seq, 0, TH_RST, 0);
}

struct tseg rstack(uint32_t seq, uint32_t ackn)
{
    return mk(seq, ackn, TH_RST | TH_ACK, 0);
}

/* ---- Setting up ---- */

void h_init(struct harness *h, uint32_t window)
{
    h_init_mss(h, window, STCP_MSS);
}

void h_init_mss(struct harness *h, uint32_t window, uint32_t mss)
{
    memset(h, 0, sizeof *h);
    struct tcp_config cfg;
    tcp_config_default(&cfg);
    cfg.window = window;
    cfg.mss = mss;
    struct tcp_env env = {h,          h_output, h_deliver, h_app_space, h_event,
                          h_cc_event, NULL,     NULL,      NULL};
    h->rcvbuf = 2 * (size_t)window;
    h->now = 1000000; /* an arbitrary start: 1 s */
    CU_ASSERT_FATAL(tcp_init(&h->tcb, &cfg, &env) == 0);
}

void h_open_active(struct harness *h, uint32_t iss)
{
    tcp_connect(&h->tcb, h->now, iss);
    tcp_output(&h->tcb, h->now);
    h_clear(h);
}

void h_open_passive(struct harness *h, uint32_t iss)
{
    tcp_listen(&h->tcb, iss);
}

void h_established(struct harness *h, uint32_t iss, uint32_t irs, uint16_t peer_win)
{
    h_open_active(h, iss);
    h->now += 50; /* an RTT sample of 50 us */
    h_input(h, synack(irs, iss + 1, peer_win));
    CU_ASSERT_FATAL(h->tcb.state == TCPS_ESTABLISHED);
    h_clear(h);
}

void h_free(struct harness *h)
{
    tcp_free(&h->tcb);
}

/* ---- Acting ---- */

void h_input_raw(struct harness *h, const void *buf, size_t len)
{
    tcp_input(&h->tcb, h->now, buf, len);
    tcp_output(&h->tcb, h->now);
}

void h_input(struct harness *h, struct tseg s)
{
    static uint8_t buf[20 + 64 + 65536];
    memset(buf, 0, sizeof buf);
    STCPHeader *th = (STCPHeader *)buf;
    th->th_seq = htonl(s.seq);
    th->th_ack = htonl(s.ack);
    th->th_flags = s.flags | s.extra_flags;
    th->th_win = htons(s.win);
    th->th_off = s.th_off ? s.th_off : (uint8_t)(5 + (s.opts_len + 3) / 4);
    if (s.opts_len)
        memcpy(buf + 20, s.opts, s.opts_len);
    size_t hdr = th->th_off >= 5 ? (size_t)th->th_off * 4 : 20;
    CU_ASSERT_FATAL(hdr + s.len <= sizeof buf);
    if (s.len)
        memcpy(buf + hdr, s.data, s.len);
    size_t len = s.wire_len ? s.wire_len : hdr + s.len;
    h_input_raw(h, buf, len);
}

size_t h_write(struct harness *h, const char *bytes)
{
    size_t n = tcp_write(&h->tcb, bytes, strlen(bytes));
    tcp_output(&h->tcb, h->now);
    return n;
}

uint8_t h_pattern(size_t i)
{
    return (uint8_t)('a' + (i * 7 + i / 26) % 26);
}

size_t h_write_n(struct harness *h, size_t n)
{
    static size_t offset; /* the pattern continues across calls */
    uint8_t buf[65536];
    if (n > sizeof buf)
        n = sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = h_pattern(offset + i);
    size_t took = tcp_write(&h->tcb, buf, n);
    offset += took;
    tcp_output(&h->tcb, h->now);
    return took;
}

void h_close(struct harness *h)
{
    tcp_close(&h->tcb, h->now);
    tcp_output(&h->tcb, h->now);
}

void h_shutdown(struct harness *h)
{
    tcp_shutdown(&h->tcb, h->now);
    tcp_output(&h->tcb, h->now);
}

void h_read(struct harness *h, size_t n)
{
    if (n > h->unread)
        n = h->unread;
    h->unread -= n;
    tcp_app_read(&h->tcb, h->now);
    tcp_output(&h->tcb, h->now);
}

void h_advance(struct harness *h, stcp_usec_t usec)
{
    h->now += usec;
    tcp_timer(&h->tcb, h->now);
    tcp_output(&h->tcb, h->now);
}

void h_clear(struct harness *h)
{
    h->nout = 0;
}

/* ---- Checking ---- */

static void check(bool ok, const char *what, const char *file, int line)
{
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, what, file, "", CU_FALSE);
}

/* th_off of a segment we emit without SACK blocks: a SYN carries the MSS
 * option and what we offer (before the peer's SYN: the configuration;
 * after: what both offered), 4 bytes each. */
static unsigned h_expected_off(const struct harness *h, uint8_t flags)
{
    if (!(flags & TH_SYN))
        return 5;
    bool before_peer = !(flags & TH_ACK) && h->tcb.state == TCPS_SYN_SENT;
    bool sack = before_peer ? h->tcb.cfg.sack : h->tcb.sack_ok;
    bool ws = before_peer ? h->tcb.cfg.wscale : h->tcb.wscale_ok;
    return 6 + (sack ? 1 : 0) + (ws ? 1 : 0);
}

void h_expect_seg(struct harness *h, unsigned i, uint8_t flags, uint32_t seq, uint32_t ackn,
                  uint16_t win, uint32_t len, const char *file, int line)
{
    char what[200];
    if (i >= h->nout) {
        snprintf(what, sizeof what, "segment %u emitted (only %u were)", i, h->nout);
        check(false, what, file, line);
        return;
    }
    const struct oseg *o = &h->out[i];
    snprintf(what, sizeof what,
             "segment %u: want flags %#x seq %u ack %u win %u len %u; got flags %#x seq %u "
             "ack %u win %u len %u",
             i, flags, seq, ackn, win, len, o->flags, o->seq, o->ack, o->win, o->len);
    check(o->flags == flags && o->seq == seq && o->ack == ackn && o->win == win && o->len == len &&
              o->th_off == h_expected_off(h, flags) &&
              o->mss == ((flags & TH_SYN) ? h->tcb.cfg.mss : 0), /* SYNs carry our MSS */
          what, file, line);
}

void h_expect_delivered(struct harness *h, const char *bytes, const char *file, int line)
{
    size_t n = strlen(bytes);
    char what[160];
    snprintf(what, sizeof what, "delivered \"%s\" (%zu bytes; got %zu)", bytes, n, h->ndelivered);
    check(h->ndelivered == n && memcmp(h->delivered, bytes, n) == 0, what, file, line);
}

struct tseg h_sack_ack(uint32_t ackno, uint16_t win, const uint32_t (*blk)[2], unsigned n)
{
    static uint8_t o[8][40]; /* a few ACKs may be built before they are input */
    static unsigned next;
    uint8_t *p = o[next++ % 8];
    p[0] = 1; /* NOP NOP SACK */
    p[1] = 1;
    p[2] = 5;
    p[3] = (uint8_t)(2 + 8 * n);
    for (unsigned k = 0; k < n; k++)
        for (unsigned j = 0; j < 2; j++) {
            uint8_t *q = p + 4 + 8 * k + 4 * j;
            q[0] = (uint8_t)(blk[k][j] >> 24);
            q[1] = (uint8_t)(blk[k][j] >> 16);
            q[2] = (uint8_t)(blk[k][j] >> 8);
            q[3] = (uint8_t)blk[k][j];
        }
    struct tseg s = ack(5001, ackno, win);
    s.opts = p;
    s.opts_len = (uint8_t)(4 + 8 * n);
    return s;
}
