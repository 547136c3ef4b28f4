/* transport.h -- the STCP transport.
 *
 * Part 1 is the classic STCP transport header: the segment header layout,
 * flags, STCP_MSS and transport_init(), with their classic names.
 *
 * Part 2 is the protocol core that transport.c is built around: a control
 * block (field names as in RFC 9293), and functions that take the current
 * time and an event (a segment, application data, a close, a timer) and
 * emit segments through a callback.  The core has no threads, sockets or
 * clocks, so tests drive it segment by segment.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysock.h"

/* ======================= Part 1: classic interface ======================= */

typedef uint32_t tcp_seq;

/* The TCP header, in network byte order on the wire. */
typedef struct tcphdr {
    uint16_t th_sport; /* source port (filled by the network layer) */
    uint16_t th_dport; /* destination port (filled by the network layer) */
    tcp_seq th_seq;    /* sequence number */
    tcp_seq th_ack;    /* acknowledgement number */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint8_t th_x2 : 4;  /* unused */
    uint8_t th_off : 4; /* data offset, in 32-bit words */
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t th_off : 4;
    uint8_t th_x2 : 4;
#else
#error "unknown byte order"
#endif
    uint8_t th_flags;
#define TH_FIN  0x01
#define TH_SYN  0x02
#define TH_RST  0x04 /* ignored by STCP, never sent */
#define TH_PUSH 0x08 /* ignored by STCP, never sent */
#define TH_ACK  0x10
#define TH_URG  0x20 /* ignored by STCP, never sent */
    uint16_t th_win; /* window */
    uint16_t th_sum; /* checksum (filled by the network layer) */
    uint16_t th_urp; /* urgent pointer (unused) */
} __attribute__((packed)) STCPHeader;

/* Starting byte position of data in TCP packet p. */
#define TCP_DATA_START(p) (((const STCPHeader *)(p))->th_off * sizeof(uint32_t))

/* Length of options (in bytes) in TCP packet p. */
#define TCP_OPTIONS_LEN(p) (TCP_DATA_START(p) - sizeof(STCPHeader))

/* STCP maximum segment size */
#define STCP_MSS 536

#ifndef MIN
#define MIN(x, y) ((x) <= (y) ? (x) : (y))
#endif
#ifndef MAX
#define MAX(x, y) ((x) >= (y) ? (x) : (y))
#endif

/* Classic debug printing: our_dprintf() writes at debug level (STCP_LOG).
 * The classic dprintf macro would hide POSIX dprintf(), so it is only
 * defined on request. */
extern void our_dprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));
#ifdef STCP_CLASSIC_DPRINTF
#define dprintf our_dprintf
#endif

/* Run the transport for connection sd; returns when the connection is over.
 * is_active: TRUE for myconnect (send SYN), FALSE for an accepted one. */
extern void transport_init(mysocket_t sd, bool_t is_active);

/* ========================= Part 2: protocol core ========================= */

/* Sequence-number arithmetic, modulo 2^32 (RFC 9293 3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}
/* a <= x < b, the window test of RFC 9293 3.10.7.4 */
static inline bool seq_in(uint32_t x, uint32_t a, uint32_t b)
{
    return seq_leq(a, x) && seq_lt(x, b);
}

/* Time in the core: microseconds on a monotonic clock. */
typedef uint64_t stcp_usec_t;
#define STCP_NO_TIMER UINT64_MAX
#define STCP_MSEC     1000ULL
#define STCP_SEC      1000000ULL

enum tcp_state {
    TCPS_CLOSED,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_CLOSE_WAIT,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_TIME_WAIT
};
const char *tcp_state_name(enum tcp_state state);

/* A segment as the core sees it: header fields in host order. */
struct tcp_segment {
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint16_t win;
    const uint8_t *payload;
    uint32_t len; /* payload bytes */
};

/* Check and decode a wire segment.  Returns 0, or -1 if it is malformed
 * (shorter than a header, th_off below 5 or beyond the segment). */
int tcp_parse(const void *buf, size_t len, struct tcp_segment *seg);

/* Sequence space a segment occupies: payload, plus one each for SYN and FIN. */
static inline uint32_t tcp_seg_space(const struct tcp_segment *seg)
{
    return seg->len + ((seg->flags & TH_SYN) ? 1 : 0) + ((seg->flags & TH_FIN) ? 1 : 0);
}

/* What the core reports to its driver. */
enum tcp_event {
    TCP_EV_ESTABLISHED, /* handshake complete */
    TCP_EV_PEER_FIN,    /* the peer's FIN arrived in order: end of its data */
    TCP_EV_CLOSE_DONE,  /* our data and FIN are acknowledged (err 0) */
    TCP_EV_ERROR,       /* the connection failed: err says why */
    TCP_EV_CLOSED       /* nothing more to do: the TCB may be freed */
};

/* The core's only ways out. */
struct tcp_env {
    void *ctx;
    /* A segment to send: header in network order, then payload. */
    void (*output)(void *ctx, const STCPHeader *hdr, const void *payload, size_t len);
    /* In-order data for the application; never more than app_space(). */
    void (*deliver)(void *ctx, const void *data, size_t len);
    /* Free space in the application's receive queue. */
    size_t (*app_space)(void *ctx);
    void (*event)(void *ctx, enum tcp_event ev, int err);
};

struct tcp_config {
    uint32_t window;            /* configured window, bytes (1..65535) */
    stcp_usec_t rto_initial;    /* before the first RTT sample */
    stcp_usec_t rto_min;        /* RFC 6298 lower bound, for a loopback path */
    stcp_usec_t rto_max;        /* upper bound for the backed-off RTO */
    unsigned max_retries;       /* timeouts in a row before giving up ... */
    stcp_usec_t abort_silence;  /* ... once the peer has also been silent this long */
    stcp_usec_t time_wait;      /* TIME_WAIT length (2 MSL) */
    stcp_usec_t persist_max;    /* upper bound of the zero-window probe interval */
    stcp_usec_t orphan_timeout; /* FIN_WAIT_2 after myclose: give up on a silent peer */
    stcp_usec_t keepalive_idle; /* silence, nothing in flight, before a keepalive ... */
    stcp_usec_t keepalive_interval; /* ... and between unanswered ones */
};
void tcp_config_default(struct tcp_config *cfg);

struct tcp_stats {
    uint64_t segs_in, segs_out;    /* segments processed / emitted */
    uint64_t bytes_in, bytes_out;  /* payload delivered / sent (first copies) */
    uint64_t rexmit_timeout;       /* segments resent on a timeout */
    uint64_t rexmit_fast;          /* segments resent on duplicate/partial ACKs */
    uint64_t rexmit_bytes;         /* payload bytes resent */
    uint64_t dup_segs_in;          /* segments holding nothing new */
    uint64_t ooo_segs_in;          /* segments kept out of order */
    uint64_t dropped_in;           /* malformed or unacceptable, dropped */
    uint64_t window_probes;        /* zero-window probes sent */
    uint64_t keepalives;           /* keepalive probes sent */
    uint64_t acks_throttled;       /* challenge ACKs not sent (RFC 5961 7) */
    uint64_t dupacks_in;           /* duplicate ACKs received */
};

/* Bytes the application gave, from snd_una on: [snd_una, snd_nxt) are in
 * flight, the rest not sent yet.  A ring of cfg.window bytes. */
struct tcp_sndbuf {
    uint8_t *data;
    uint32_t cap, head, len;
};

/* Data received beyond rcv_nxt, kept until the gap before it fills: a ring
 * of cfg.window bytes addressed by sequence number, and the runs held. */
#define TCP_REASM_RUNS 16
struct tcp_reasm {
    uint8_t *data;
    uint32_t cap, head; /* head: ring position of rcv_nxt */
    struct {
        uint32_t start, end; /* sequence numbers, [start, end) */
    } run[TCP_REASM_RUNS];
    unsigned nruns;
    bool fin;            /* a FIN arrived out of order ... */
    uint32_t fin_seq;    /* ... at this sequence number */
};

/* When each segment in flight was sent, and when last sent again, so an
 * ACK gives an RTT sample whenever the newest segment it covers was sent
 * only once, after any resend it also covers (Karn's rule, per segment). */
#define TCP_SENT_LOG 128
struct tcp_sent_log {
    struct {
        uint32_t end;          /* sequence number after the segment */
        stcp_usec_t sent;      /* when it was first sent */
        stcp_usec_t resent_at; /* when it was last sent again, 0 if never */
    } rec[TCP_SENT_LOG];
    unsigned head, count;
    bool overflow; /* a segment went unrecorded: no samples until it drains */
};

/* The transmission control block. */
struct tcb {
    enum tcp_state state;
    struct tcp_config cfg;
    struct tcp_env env;

    /* Send sequence variables (RFC 9293 3.3.1). */
    uint32_t iss;     /* initial send sequence number */
    uint32_t snd_una; /* oldest unacknowledged */
    uint32_t snd_nxt; /* next new sequence number to send */
    uint32_t snd_wnd; /* peer's advertised window */
    uint32_t snd_wl1; /* segment seq used for the last window update */
    uint32_t snd_wl2; /* segment ack used for the last window update */
    uint32_t snd_max_wnd; /* largest window the peer has offered */

    /* Receive sequence variables. */
    uint32_t irs;     /* initial receive sequence number */
    uint32_t rcv_nxt; /* next sequence number expected */
    uint32_t rcv_wnd; /* window in the last segment we sent */
    uint32_t rcv_adv; /* right edge we have advertised: rcv_nxt + rcv_wnd */

    struct tcp_sndbuf sndbuf;
    struct tcp_reasm reasm;

    bool syn_acked; /* our SYN is acknowledged */

    /* Closing. */
    bool fin_queued;  /* the application closed or shut down writing: FIN follows */
    bool fin_sent;    /* our FIN has sequence number snd_nxt - 1 */
    bool close_reported; /* TCP_EV_CLOSE_DONE given */
    bool app_closed;     /* the application has called close (orphaned) */

    /* Output requests, served by tcp_output(). */
    bool ack_now;    /* send an ACK (or, before ESTABLISHED, the SYN) */
    unsigned unacked_segs; /* in-order data segments not yet acknowledged */
    bool rexmit_now; /* resend the segment at snd_una */

    /* Retransmission timer (RFC 6298). */
    stcp_usec_t srtt, rttvar, rto;
    bool have_rtt;
    struct tcp_sent_log sent; /* RTT samples come from here */
    stcp_usec_t rexmit_at; /* STCP_NO_TIMER when off */
    unsigned backoff;      /* timeouts in a row without an answer from the peer */

    /* Loss recovery without SACK: after a timeout or three duplicate
     * ACKs, each ACK that advances but stops short of recover shows the
     * next hole, which is resent at once (as NewReno does). */
    unsigned dupacks;
    bool in_recovery;
    uint32_t recover;

    /* Zero-window probing. */
    stcp_usec_t persist_at;
    unsigned persist_shift;
    unsigned unanswered_probes;

    /* TIME_WAIT end, or the FIN_WAIT_2 timeout of an orphaned connection. */
    stcp_usec_t close_at;
    stcp_usec_t last_heard; /* when the peer last sent anything */

    /* Keepalive: a silent peer is asked to answer (RFC 1122 4.2.3.6), so a
     * receiver notices when the sender has died. */
    stcp_usec_t keepalive_sent; /* the last one, 0 if none since we heard */
    unsigned unanswered_keepalives;

    /* ACKs that answer unacceptable segments are rationed (RFC 5961 7),
     * so forged segments cannot make us flood the peer with them. */
    unsigned challenge_tokens;
    stcp_usec_t challenge_refill_at;

    int error; /* why the connection failed, 0 if it did not */
    struct tcp_stats stats;
};

/* Set up a TCB in CLOSED; allocates its two window-sized buffers.
 * Returns 0, or -1 with errno ENOMEM / EINVAL. */
int tcp_init(struct tcb *tcb, const struct tcp_config *cfg, const struct tcp_env *env);
void tcp_free(struct tcb *tcb);

/* Active open: CLOSED -> SYN_SENT; the SYN goes out at the next tcp_output. */
void tcp_connect(struct tcb *tcb, stcp_usec_t now, uint32_t iss);
/* Passive open: CLOSED -> LISTEN, waiting for one SYN. */
void tcp_listen(struct tcb *tcb, uint32_t iss);
/* A connection already ESTABLISHED by a SYN cookie exchange. */
void tcp_open_established(struct tcb *tcb, stcp_usec_t now, uint32_t iss, uint32_t irs,
                          uint16_t peer_window, uint16_t our_window);

/* A segment arrives (RFC 9293 3.10.7).  Malformed ones are counted and dropped. */
void tcp_input(struct tcb *tcb, stcp_usec_t now, const void *buf, size_t len);

/* Room in the send buffer, and queueing application data into it. */
size_t tcp_send_space(const struct tcb *tcb);
size_t tcp_write(struct tcb *tcb, const void *data, size_t len);

/* The application shut down writing (half-close): send a FIN after the
 * queued data, and keep delivering what the peer sends until its FIN. */
void tcp_shutdown(struct tcb *tcb, stcp_usec_t now);
/* The application closed (after a half-close, or at once): as
 * tcp_shutdown, and the connection is orphaned -- nobody reads, so
 * FIN_WAIT_2 ends after orphan_timeout of silence. */
void tcp_close(struct tcb *tcb, stcp_usec_t now);
/* The application read data: the receive window may have opened. */
void tcp_app_read(struct tcb *tcb, stcp_usec_t now);

/* Run whatever timers have expired by now. */
void tcp_timer(struct tcb *tcb, stcp_usec_t now);
/* Send what is due: data the windows allow, FIN, retransmission, ACK. */
void tcp_output(struct tcb *tcb, stcp_usec_t now);
/* The earliest time tcp_timer has work, or STCP_NO_TIMER. */
stcp_usec_t tcp_next_timer(const struct tcb *tcb);

/* Window we would advertise now. */
uint32_t tcp_rcv_window(const struct tcb *tcb);

/* The path reports the peer's port closed (ICMP port unreachable):
 * ECONNREFUSED while connecting, ECONNRESET once data may be lost. */
void tcp_peer_unreachable(struct tcb *tcb);

/* Abandon the connection with error err (ETIMEDOUT, ...). */
void tcp_abort(struct tcb *tcb, int err);

/* ============================== SYN cookies ============================== */

#define SYNCOOKIE_SECRET_LEN 16
/* The window a cookie SYN-ACK offers.  A cookie does not carry the client's
 * ISN, so the server learns it from the first segment that proves the
 * cookie (ISN = seq - 1).  Offering one byte means that segment can only be
 * the final ACK or the client's very first byte, never a later one. */
#define SYNCOOKIE_WINDOW 1

/* 5-bit time counter: (seconds >> 6) mod 32. */
uint32_t syncookie_counter(uint64_t unix_seconds);

/* The cookie for a connection: counter (5 bits) | MSS code (3 bits, 001 for
 * 536) | low 24 bits of SHA-1(secret, client IP, client port, server IP,
 * server port, counter).  Addresses and ports in network byte order. */
uint32_t syncookie_make(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t counter,
                        uint32_t client_ip, uint16_t client_port, uint32_t server_ip,
                        uint16_t server_port);

/* Is cookie valid now: its counter is the current one or the one before,
 * its MSS code known, and its hash matches? */
bool syncookie_check(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t cookie,
                     uint32_t now_counter, uint32_t client_ip, uint16_t client_port,
                     uint32_t server_ip, uint16_t server_port);

#endif /* TRANSPORT_H */
