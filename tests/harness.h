/* harness.h -- drive the transport's protocol core one segment at a time.
 *
 * No threads, sockets or clock: a test builds segments, feeds them with
 * h_input() at the harness's current time, moves time with h_advance(),
 * and checks exactly what the core emitted, delivered and reported.
 *
 *     struct harness h;
 *     h_open_active(&h, 1000);                      // SYN sent, iss 1000
 *     h_input(&h, synack(5000, 1001, 3072));        // the peer answers
 *     EXPECT_STATE(&h, TCPS_ESTABLISHED);
 *     EXPECT_SEG(&h, 0, TH_ACK, 1001, 5001, 3072, 0); // our ACK
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define H_MAX_OUT     256
#define H_MAX_DATA    (1 << 20)
#define H_WINDOW      3072
#define H_MAX_PAYLOAD 2048 /* payload kept per emitted segment */

/* A segment as a test writes it (host order). */
struct tseg {
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    const uint8_t *data;
    uint32_t len;
    uint8_t th_off;      /* 0: 5; anything else is written as given */
    uint8_t extra_flags; /* RST/PSH/URG bits to add */
    size_t wire_len;     /* 0: header plus data; else truncate/extend to this */
    const uint8_t *opts; /* options, written after the header (th_off 0: sized to fit) */
    uint8_t opts_len;
};

/* A segment the core emitted (host order). */
struct oseg {
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint32_t len;
    uint8_t payload[H_MAX_PAYLOAD];
    uint8_t th_off;
    uint16_t mss;           /* its MSS option, 0 if none */
    struct tcp_segment opt; /* its options as tcp_parse decodes them (payload NULL) */
    uint8_t optbytes[40];   /* ... and as bytes */
    unsigned optlen;
};

struct harness {
    struct tcb tcb;
    stcp_usec_t now;
    /* what came out */
    struct oseg out[H_MAX_OUT];
    unsigned nout;
    uint8_t delivered[H_MAX_DATA];
    size_t ndelivered;
    /* the application side */
    size_t rcvbuf; /* receive queue capacity */
    size_t unread; /* delivered and not yet read */
    /* events */
    unsigned established, peer_fin, close_done, closed, errors;
    unsigned cc_events[3]; /* by enum tcp_cc_event */
    int error;
};

/* ---- Segment constructors ---- */
struct tseg syn(uint32_t seq);
struct tseg synack(uint32_t seq, uint32_t ack, uint16_t win);
struct tseg ack(uint32_t seq, uint32_t ack, uint16_t win);
/* An ACK (seq 5001) carrying SACK blocks: n {start, end} pairs, at most 4. */
struct tseg h_sack_ack(uint32_t ackno, uint16_t win, const uint32_t (*blk)[2], unsigned n);
struct tseg data(uint32_t seq, uint32_t ack, uint16_t win, const char *bytes);
struct tseg datan(uint32_t seq, uint32_t ack, uint16_t win, const uint8_t *bytes, uint32_t len);
struct tseg fin(uint32_t seq, uint32_t ack, uint16_t win);
struct tseg with_flags(struct tseg s, uint8_t flags); /* add flags (FIN, RST, ...) */
struct tseg with_mss(struct tseg s, uint16_t mss);    /* add an MSS option */
struct tseg rst(uint32_t seq);                        /* a bare RST */
struct tseg rstack(uint32_t seq, uint32_t ack);       /* RST with ACK */

/* ---- Setting up ---- */
/* A CLOSED TCB with the default configuration and window. */
void h_init(struct harness *h, uint32_t window);
/* The same, with our MSS limit (cfg.mss) set to mss. */
void h_init_mss(struct harness *h, uint32_t window, uint32_t mss);
/* Active open: SYN_SENT, the SYN already emitted (and cleared). */
void h_open_active(struct harness *h, uint32_t iss);
/* Passive open: LISTEN. */
void h_open_passive(struct harness *h, uint32_t iss);
/* ESTABLISHED by a real handshake with iss/irs and the peer's window;
 * outputs cleared.  Our next data byte is iss+1, the peer's irs+1. */
void h_established(struct harness *h, uint32_t iss, uint32_t irs, uint16_t peer_win);
void h_free(struct harness *h);

/* ---- Acting ---- */
/* A segment arrives now; then output runs, as the driver does. */
void h_input(struct harness *h, struct tseg s);
/* Feed raw bytes (malformed input). */
void h_input_raw(struct harness *h, const void *buf, size_t len);
/* The application writes (queued, then output runs). Returns bytes taken. */
size_t h_write(struct harness *h, const char *bytes);
size_t h_write_n(struct harness *h, size_t n); /* n bytes of a known pattern */
/* The application closes. */
void h_close(struct harness *h);
/* The application shuts down writing (half-close). */
void h_shutdown(struct harness *h);
/* The application reads n bytes from its receive queue. */
void h_read(struct harness *h, size_t n);
/* Time passes: timers run, then output. */
void h_advance(struct harness *h, stcp_usec_t usec);
/* Forget the segments emitted so far. */
void h_clear(struct harness *h);

/* The pattern byte at offset i of what h_write_n writes. */
uint8_t h_pattern(size_t i);

/* ---- Checking ---- */
void h_expect_seg(struct harness *h, unsigned i, uint8_t flags, uint32_t seq, uint32_t ack,
                  uint16_t win, uint32_t len, const char *file, int line);
void h_expect_delivered(struct harness *h, const char *bytes, const char *file, int line);

#define EXPECT_SEG(h, i, flags, seq, ack, win, len)                                                \
    h_expect_seg((h), (i), (flags), (seq), (ack), (win), (len), __FILE__, __LINE__)
#define EXPECT_NOUT(h, n)          CU_ASSERT_EQUAL((h)->nout, (unsigned)(n))
#define EXPECT_STATE(h, s)         CU_ASSERT_EQUAL((h)->tcb.state, (s))
#define EXPECT_DELIVERED(h, bytes) h_expect_delivered((h), (bytes), __FILE__, __LINE__)

#endif /* HARNESS_H */
