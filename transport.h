/* transport.h -- the STCP transport.
 *
 * Part 1 is the classic STCP transport header: what the classic one gave a
 * transport.c (<stdio.h>, <errno.h>, mysock.h, the segment header layout and
 * flags, TCP_DATA_START, STCP_MSS, MIN/MAX, our_dprintf, dprintf/dperror,
 * transport_init), with the classic names, so a classic transport builds
 * against it unchanged, as C (gnu89 to C11) or C++.
 *
 * Part 2 is the protocol core that our transport.c is built around: a
 * control block (field names as in RFC 9293), and functions that take the
 * current time and an event (a segment, application data, a close, a timer)
 * and emit segments through a callback.  The core has no threads, sockets or
 * clocks, so tests drive it segment by segment.  A transport dropped in with
 * `make TRANSPORT=...` does not see part 2 (the Makefile defines
 * STCP_TRANSPORT_DROPIN for it; STCP_CLASSIC_ONLY hides it too): its names
 * (struct tcb, seq_lt, TCPS_*, ...) are the kind a transport defines itself,
 * and the functions are not there without our transport.c.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cc.h"
#include "mysock.h"

#if defined(STCP_CLASSIC_ONLY) && !defined(STCP_TRANSPORT_DROPIN)
#define STCP_TRANSPORT_DROPIN
#endif
#include <string.h> /* strerror, for the classic dperror */
#ifndef STCP_TRANSPORT_DROPIN
#include <stdbool.h> /* part 2 */
#endif

#ifdef __cplusplus
extern "C" {
#endif

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
#define TH_RST  0x04 /* reset: RFC 9293 3.10.7 with RFC 5961 3; sent on aborts */
#define TH_PUSH 0x08 /* ignored by STCP, never sent */
#define TH_ACK  0x10
#define TH_URG  0x20 /* ignored by STCP, never sent */
    uint16_t th_win; /* window */
    uint16_t th_sum; /* checksum (filled by the network layer) */
    uint16_t th_urp; /* urgent pointer (set to 0 by the network layer) */
} __attribute__((packed)) STCPHeader;

/* Starting byte position of data in TCP packet p. */
#define TCP_DATA_START(p) (((const STCPHeader *)(p))->th_off * sizeof(uint32_t))

/* Length of options (in bytes) in TCP packet p. */
#define TCP_OPTIONS_LEN(p) (TCP_DATA_START(p) - sizeof(STCPHeader))

/* STCP maximum segment size */
#define STCP_MSS 536

/* TCP options (RFC 9293 3.1).  We send and use MSS, window scale
 * (RFC 7323) and SACK (RFC 2018); any other kind is skipped by its length,
 * which declines it (it is never echoed). */
#define TCPOPT_EOL             0
#define TCPOPT_NOP             1
#define TCPOPT_MSS             2
#define TCPOLEN_MSS            4
#define TCPOPT_WSCALE          3
#define TCPOLEN_WSCALE         3
#define TCPOPT_SACK_PERMITTED  4
#define TCPOLEN_SACK_PERMITTED 2
#define TCPOPT_SACK            5
#define TCPOLEN_SACK_BLOCK     8 /* one block: two sequence numbers */
/* The largest shift a window scale option may carry (RFC 7323 2.3). */
#define TCP_MAX_WSCALE 14
/* The smallest send MSS we use, whatever the peer announces: a peer's MSS
 * of 0 (or a few bytes) must not turn a transfer into a flood of tiny
 * segments.  Also the lower bound of MYSO_MSS. */
#define TCP_MIN_MSS 64
/* The largest MSS option value: an IPv4 packet's 65535 bytes less 40. */
#define TCP_MAX_MSS 65495

#ifndef MIN
#define MIN(x, y) ((x) <= (y) ? (x) : (y))
#endif
#ifndef MAX
#define MAX(x, y) ((x) >= (y) ? (x) : (y))
#endif

/* Classic debug printing.  The framework's our_dprintf() writes the line to
 * stderr at STCP_LOG level debug; a transport may define its own instead
 * (the classic skeleton does), which then replaces it at link time.  It has
 * no printf format attribute: classic transports' format strings are not
 * ours to reject.
 *
 * dprintf/dperror are the classic macros: with DEBUG defined they print
 * through our_dprintf, without it they vanish.  They would hide POSIX
 * dprintf(), so only dropped-in transports (STCP_TRANSPORT_DROPIN) and
 * code that asks for them (STCP_CLASSIC_DPRINTF) get them. */
extern void our_dprintf(const char *format, ...);
#if defined(STCP_TRANSPORT_DROPIN) || defined(STCP_CLASSIC_DPRINTF)
#undef dprintf
#undef dperror
#if defined(DEBUG) || defined(STCP_CLASSIC_DPRINTF)
#define dprintf       our_dprintf
#define dperror(head) our_dprintf("%s: %s\n", (head), strerror(errno))
#else
#define dprintf(...)  ((void)0)
#define dperror(head) ((void)0)
#endif
#endif

/* Run the transport for connection sd; returns when the connection is over.
 * is_active: TRUE for myconnect (send SYN), FALSE for an accepted one. */
extern void transport_init(mysocket_t sd, bool_t is_active);

#ifndef STCP_TRANSPORT_DROPIN

/* ========================= Part 2: protocol core ========================= */

/* The largest configurable window (MYSO_WINDOW): 16 MiB, reachable through
 * window scaling. */
#define TCP_MAX_WINDOW ((uint32_t)MYSO_WINDOW_MAX)

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

/* SACK blocks in one segment: 40 bytes of options hold four (RFC 2018 3). */
#define TCP_SACK_MAX_BLOCKS 4

/* A segment as the core sees it: header fields in host order. */
struct tcp_segment {
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint32_t win; /* th_win; tcp_input scales it by the peer's shift */
    const uint8_t *payload;
    uint32_t len;        /* payload bytes */
    uint16_t mss;        /* the peer's MSS option, 0 if it sent none */
    bool sack_permitted; /* a SACK-permitted option */
    int8_t wscale;       /* a window scale option's shift (at most 14), -1 if none */
    uint8_t nsack;       /* SACK blocks carried, in sack[] */
    struct {
        uint32_t start, end; /* [start, end) */
    } sack[TCP_SACK_MAX_BLOCKS];
};

/* Check and decode a wire segment, options included.  Returns 0; -1 if
 * it is malformed (shorter than a header, th_off below 5 or beyond the
 * segment); -2 if its options are (an option of length 0 or 1 or running
 * past the header, an MSS, window scale, SACK-permitted or SACK option of
 * the wrong length). */
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

/* Congestion events, reported through tcp_env.cc_event (for logs). */
enum tcp_cc_event {
    TCP_CC_RECOVERY, /* duplicate ACKs: fast retransmit, fast recovery begins */
    TCP_CC_TIMEOUT,  /* the retransmission timer expired */
    TCP_CC_RECOVERED /* the ACK that covers the recover point */
};

/* The core's only ways out. */
struct tcp_env {
    void *ctx;
    /* A segment to send: header in network order, options included
     * (TCP_DATA_START(hdr) bytes), then payload. */
    void (*output)(void *ctx, const STCPHeader *hdr, const void *payload, size_t len);
    /* In-order data for the application; never more than app_space(). */
    void (*deliver)(void *ctx, const void *data, size_t len);
    /* Free space in the application's receive queue. */
    size_t (*app_space)(void *ctx);
    void (*event)(void *ctx, enum tcp_event ev, int err);
    /* Optional: a congestion event, after the algorithm has answered it. */
    void (*cc_event)(void *ctx, enum tcp_cc_event ev);
    /* Optional: output with the payload in two pieces, as it lies in the
     * send ring when it wraps around the ring's end.  Without it the core
     * copies such a payload into one piece and calls output. */
    void (*output2)(void *ctx, const STCPHeader *hdr, const void *p1, size_t len1, const void *p2,
                    size_t len2);
    /* Optional: an ACK moved snd_una, after the algorithm has answered it;
     * rtt is the sample it gave (microseconds), 0 if none (Karn). */
    void (*acked)(void *ctx, stcp_usec_t now, stcp_usec_t rtt);
    /* Optional: in-order data for the application that already lies where
     * deliver would copy it (tcp_input_split with in_place): make its first
     * len bytes the application's, without a copy. */
    void (*deliver_in_place)(void *ctx, size_t len);
};

struct tcp_config {
    uint32_t window;                /* configured window, bytes (1..TCP_MAX_WINDOW) */
    stcp_usec_t rto_initial;        /* before the first RTT sample */
    stcp_usec_t rto_min;            /* RFC 6298 lower bound, for a loopback path */
    stcp_usec_t rto_max;            /* upper bound for the backed-off RTO */
    unsigned max_retries;           /* timeouts in a row before giving up ... */
    stcp_usec_t abort_silence;      /* ... once the peer has also been silent this long
                                       (the user timeout; RFC 1122 4.2.3.5's R2: 100 s) */
    stcp_usec_t abort_silence_syn;  /* the same for our SYN in SYN_SENT (R2 for a SYN: 3 min) */
    stcp_usec_t time_wait;          /* TIME_WAIT length (2 MSL) */
    stcp_usec_t persist_max;        /* upper bound of the zero-window probe interval */
    stcp_usec_t orphan_timeout;     /* FIN_WAIT_2 after myclose: give up on a silent peer */
    stcp_usec_t keepalive_idle;     /* silence, nothing in flight, before a keepalive
                                       while the application waits to read ... */
    stcp_usec_t keepalive_quiet;    /* ... and while it does not (RFC 1122: 2 h) ... */
    stcp_usec_t keepalive_interval; /* ... and between unanswered ones */
    uint32_t mss;                   /* our MSS limit: the most we send per segment, and
                                       the MSS option we announce (TCP_MIN_MSS..TCP_MAX_MSS) */
    const struct cc_algo *cc;       /* congestion control; NULL: none (classic) */
    bool sack;                      /* offer SACK (RFC 2018) in our SYN */
    bool wscale;                    /* offer window scaling (RFC 7323) in our SYN */
    bool rack;                      /* RACK-TLP loss detection (RFC 8985) when SACK is in
                                       use and the algorithm has a loss window */
    bool frto;                      /* with rack: undo spurious timeouts (RFC 5682) */
    bool thin_linear;               /* with a loss window: a thin flight's first timeouts
                                       do not double the RTO (README, "Loss recovery") */
    bool rto_restart;               /* with rack: RTO Restart for a small flight (RFC 7765) */
    bool hystart;                   /* newreno, cubic: leave the first slow start early
                                       (HyStart: RFC 9406's delay rise, the ACK train) */
};
void tcp_config_default(struct tcp_config *cfg);

struct tcp_stats {
    uint64_t segs_in, segs_out;   /* segments processed / emitted */
    uint64_t bytes_in, bytes_out; /* payload delivered / sent (first copies) */
    uint64_t rexmit_timeout;      /* segments resent on a timeout */
    uint64_t rexmit_fast;         /* segments resent on duplicate/partial ACKs */
    uint64_t rexmit_bytes;        /* payload bytes resent */
    uint64_t dup_segs_in;         /* segments holding nothing new */
    uint64_t ooo_segs_in;         /* segments kept out of order */
    uint64_t dropped_in;          /* malformed or unacceptable, dropped */
    uint64_t window_probes;       /* zero-window probes sent */
    uint64_t keepalives;          /* keepalive probes sent */
    uint64_t acks_throttled;      /* challenge ACKs not sent (RFC 5961 7) */
    uint64_t dupacks_in;          /* duplicate ACKs received */
    uint64_t rsts_in;             /* RSTs received (acted on or not) */
    uint64_t rsts_out;            /* RSTs sent */
    uint64_t rsts_throttled;      /* RSTs not sent (rate limit) */
    uint64_t bad_options_in;      /* segments dropped for malformed options */
    uint64_t recoveries;          /* fast recovery episodes (congestion events) */
    uint64_t timeouts;            /* retransmission timeouts (episodes, not segments) */
    uint64_t sack_blocks_out;     /* SACK blocks sent */
    uint64_t sack_blocks_in;      /* SACK blocks received (valid ones) */
    uint64_t rexmit_sack;         /* segments resent on SACK information */
    uint64_t rack_lost;           /* segments RACK took for lost (RFC 8985 6) */
    uint64_t rack_lost_rexmit;    /* ... of which resends lost again */
    uint64_t tlp_probes;          /* tail loss probes sent (RFC 8985 7) */
    uint64_t sack_reneged;        /* times the peer dropped data it had SACKed */
    uint64_t spurious_rto;        /* timeouts F-RTO found spurious and undid */
    uint64_t bytes_in_place;      /* of bytes_in: delivered in place (deliver_in_place) */
};

/* Bytes the application gave, from snd_una on: [snd_una, snd_max) have
 * been sent, the rest not yet.  A ring of cfg.window bytes. */
struct tcp_sndbuf {
    uint8_t *data;
    uint8_t *flat; /* one segment's payload, when it wraps the ring */
    uint32_t cap, head, len;
    /* Lent (tcp_send_lend): data is someone else's ring; bytes dropped
     * from it are given back through release.  NULL: data is ours. */
    void (*release)(void *ctx, size_t len);
    void *release_ctx;
};

/* Data received beyond rcv_nxt, kept until the gap before it fills: a ring
 * of cfg.window bytes addressed by sequence number, and the runs held. */
#define TCP_REASM_RUNS 16 /* the fewest runs kept (tcp_reasm_runs) */
/* Sequence numbers [start, end): a run of data held, or a SACKed range. */
struct tcp_seq_range {
    uint32_t start, end;
};

struct tcp_reasm {
    uint8_t *data;
    uint32_t cap, head;        /* head: ring position of rcv_nxt */
    struct tcp_seq_range *run; /* sorted, disjoint */
    unsigned nruns, maxruns;
    /* The first byte of the latest segments stored, newest first: SACK
     * blocks are reported in this order (RFC 2018 4). */
    uint32_t recent[TCP_SACK_MAX_BLOCKS];
    unsigned nrecent;
    bool fin;         /* a FIN arrived out of order ... */
    uint32_t fin_seq; /* ... at this sequence number */
};

/* When each segment in flight was sent, and when last sent again, so an
 * ACK gives an RTT sample whenever the newest segment it covers was sent
 * only once, after any resend it also covers (Karn's rule, per segment).
 * A ring of cap records, sized by the window (tcp_sent_log_size). */
#define TCP_SENT_LOG    128 /* the fewest records */
#define TCP_SENT_SACKED 1u  /* wholly SACKed by the peer */
#define TCP_SENT_LOST   2u  /* taken for lost (RACK, or a timeout) */
#define TCP_SENT_REXMIT 4u  /* a resend of it is in flight */
struct tcp_sent_log {
    struct tcp_sent_rec {
        uint32_t end;          /* sequence number after the segment */
        stcp_usec_t sent;      /* when it was first sent */
        stcp_usec_t resent_at; /* when it was last sent again, 0 if never */
        uint8_t flags;         /* TCP_SENT_*: what RACK knows of it (SACK connections) */
    } * rec;
    unsigned cap, head, count;
    bool overflow; /* a segment went unrecorded: no samples until it drains */
};

/* Records the sent log of a window holds: a window of full 536-byte
 * segments, at least TCP_SENT_LOG; smaller segments than that may
 * overflow it, which costs RTT samples, never correctness. */
uint32_t tcp_sent_log_size(uint32_t window);

/* Runs the reassembly buffer of a window keeps apart: one per two
 * 536-byte segments (every other one lost), at least TCP_REASM_RUNS.
 * A segment that would need one more is dropped (and resent). */
uint32_t tcp_reasm_runs(uint32_t window);

/* The sender's SACK scoreboard (RFC 6675 3): the ranges above snd_una the
 * peer has SACKed, ascending and disjoint.  Bounded: when it is full the
 * highest range is forgotten (data taken for unSACKed is only resent). */
#define TCP_SACK_RANGES 32
struct tcp_scoreboard {
    struct tcp_seq_range r[TCP_SACK_RANGES]; /* sorted, disjoint */
    unsigned n;
    uint32_t high_rxt; /* HighRxt: the end of the highest resend in this recovery */
};

/* The smallest window scale shift that lets window fit in 16 bits
 * (at most TCP_MAX_WSCALE). */
unsigned tcp_wscale_for(uint32_t window);

/* The transmission control block. */
struct tcb {
    enum tcp_state state;
    struct tcp_config cfg;
    struct tcp_env env;

    /* Send sequence variables (RFC 9293 3.3.1). */
    uint32_t iss;         /* initial send sequence number */
    uint32_t snd_una;     /* oldest unacknowledged */
    uint32_t snd_nxt;     /* next sequence number to send */
    uint32_t snd_max;     /* highest sequence number sent, plus one: snd_nxt is
                             below it only while a timeout's go-back-N resends */
    uint32_t snd_wnd;     /* peer's advertised window */
    uint32_t snd_wl1;     /* segment seq used for the last window update */
    uint32_t snd_wl2;     /* segment ack used for the last window update */
    uint32_t snd_max_wnd; /* largest window the peer has offered */
    uint32_t snd_mss;     /* effective send MSS (RFC 9293 3.7.1) */
    uint8_t snd_wscale;   /* the peer's window scale shift: applied to its th_win */

    /* Receive sequence variables. */
    uint32_t irs;       /* initial receive sequence number */
    uint32_t rcv_nxt;   /* next sequence number expected */
    uint32_t rcv_wnd;   /* window in the last segment we sent */
    uint32_t rcv_adv;   /* right edge we have advertised: rcv_nxt + rcv_wnd */
    uint8_t rcv_wscale; /* our window scale shift: applied to what we advertise */

    /* Options both SYNs must offer (before our SYN is answered: what we
     * offer; after: what is in use). */
    bool sack_ok;
    bool wscale_ok;
    struct tcp_scoreboard sb; /* the peer's SACKs, while sack_ok */

    struct tcp_sndbuf sndbuf;
    struct tcp_reasm reasm;

    bool syn_acked; /* our SYN is acknowledged */
    bool passive;   /* opened by tcp_listen: a reset SYN_RECEIVED ends quietly */

    /* Closing. */
    bool fin_queued; /* the application closed or shut down writing: FIN follows */
    bool fin_sent;   /* our FIN has sequence number snd_max - 1 */
    bool app_closed; /* the application has called close (orphaned) */

    /* Output requests, served by tcp_output(). */
    bool ack_now;                    /* send an ACK (or, before ESTABLISHED, the SYN) */
    unsigned unacked_segs;           /* in-order data segments not yet acknowledged */
    unsigned quickacks;              /* in-order segments still acknowledged one by one */
    bool dsack;                      /* the next ACK reports a duplicate (D-SACK, RFC 2883) ... */
    uint32_t dsack_start, dsack_end; /* ... this one */
    bool rexmit_now;                 /* resend the segment at snd_una */

    /* Retransmission timer (RFC 6298). */
    stcp_usec_t srtt, rttvar, rto;
    bool have_rtt;
    struct tcp_sent_log sent; /* RTT samples come from here */
    stcp_usec_t rexmit_at;    /* STCP_NO_TIMER when off */
    unsigned backoff;         /* timeouts in a row without an answer from the peer */
    bool rto_restart_due;     /* an ACK restarted the timer: tcp_output may shorten it */

    /* Loss recovery without SACK: after a timeout or three duplicate
     * ACKs, each ACK that advances but stops short of recover shows the
     * next hole, which is resent at once (as NewReno does). */
    unsigned dupacks;
    bool in_recovery;
    bool fast_recovery; /* in_recovery began with duplicate ACKs, not a timeout */
    uint32_t recover;

    /* RACK-TLP (RFC 8985), while rack_on(): the send time and end of the
     * most recently sent segment known delivered, the RTT it gave, the
     * reordering timer, and the tail loss probe. */
    struct {
        stcp_usec_t xmit_ts, rtt, min_rtt;
        uint32_t end_seq;
        uint32_t fack;         /* highest sequence number SACKed or ACKed */
        bool reordering_seen;  /* a segment was delivered below fack, never resent */
        bool force_one;        /* recovery just began: one resend whatever the pipe */
        bool tlp_rearm;        /* new data sent or ACKed: restart the probe timer */
        stcp_usec_t reo_at;    /* reordering timer: re-run detection then */
        stcp_usec_t tlp_at;    /* probe timeout (PTO) */
        bool tlp_out;          /* a probe is outstanding ... */
        bool tlp_rexmit;       /* ... and it resent old data ... */
        uint32_t tlp_end;      /* ... ending here (snd_max when sent), */
        uint32_t tlp_seq;      /* ... resending from here, */
        bool tlp_dsacked;      /* ... and the peer reported the probe a duplicate */
        uint32_t tlp_flight;   /* ... with this much in flight, */
        uint64_t tlp_episodes; /* ... and this many recoveries and timeouts before it */
        /* F-RTO (RFC 5682 3, SACK-enhanced): after a timeout outside
         * recovery, an ACK of data the timeout took for lost and that was
         * not resent shows the timeout was spurious; the congestion state
         * from before it comes back. */
        unsigned frto; /* 0 off; 1 the first resend out; 2 new data sent (step 2b) */
        /* Proportional Rate Reduction (RFC 6937) in fast recovery. */
        uint32_t delivered;     /* bytes this ACK delivered (ACKed or newly SACKed) */
        uint64_t prr_delivered; /* bytes delivered since recovery began */
        uint64_t prr_out;       /* bytes sent since recovery began */
        uint32_t recover_fs;    /* FlightSize when it began */
        bool frto_send_new;     /* tcp_output: up to two new segments, no resends */
        bool frto_evidence;     /* this ACK delivered an original the timeout took for lost */
    } rack;

    /* Congestion control: cc.cwnd and cc.ssthresh, set by cfg.cc's hooks. */
    struct cc_state cc;
    bool cwnd_limited;        /* new data last stopped for cwnd alone (data waited) */
    struct cc_state cc_prior; /* before the last timeout, for F-RTO's undo */

    /* Zero-window probing. */
    stcp_usec_t persist_at;
    unsigned persist_shift;
    unsigned unanswered_probes;

    /* TIME_WAIT end, or the FIN_WAIT_2 timeout of an orphaned connection. */
    stcp_usec_t close_at;
    stcp_usec_t last_heard;   /* when the peer last sent anything */
    stcp_usec_t flight_since; /* when the peer began to owe us an answer (the
                                 retransmission or persist timer started from
                                 idle, or the first keepalive): silence before
                                 it was owed nothing */

    /* Keepalive: a silent peer is asked to answer (RFC 1122 4.2.3.6), so a
     * receiver notices when the sender has died. */
    stcp_usec_t keepalive_sent; /* the last one, 0 if none since we heard */
    unsigned unanswered_keepalives;
    bool reader_waits; /* input: the application has waited keepalive_idle in
                          myread (keepalive_idle applies, else keepalive_quiet) */

    /* ACKs that answer unacceptable segments are rationed (RFC 5961 7),
     * so forged segments cannot make us flood the peer with them. */
    unsigned challenge_tokens;
    stcp_usec_t challenge_refill_at;
    /* RSTs we send are rationed the same way, so garbage cannot make us
     * an amplifier. */
    unsigned rst_tokens;
    stcp_usec_t rst_refill_at;

    struct tcp_stats stats;

    /* During tcp_input_split with in_place: the payload, which deliver
     * hands up in place rather than copying; NULL otherwise. */
    const uint8_t *rx_in_place;
};

/* Set up a TCB in CLOSED; allocates its two window-sized buffers.
 * Returns 0, or -1 with errno ENOMEM / EINVAL. */
int tcp_init(struct tcb *tcb, const struct tcp_config *cfg, const struct tcp_env *env);
void tcp_free(struct tcb *tcb);

/* Active open: CLOSED -> SYN_SENT; the SYN goes out at the next tcp_output. */
void tcp_connect(struct tcb *tcb, stcp_usec_t now, uint32_t iss);
/* Passive open: CLOSED -> LISTEN, waiting for one SYN. */
void tcp_listen(struct tcb *tcb, uint32_t iss);
/* A connection already ESTABLISHED by a SYN cookie exchange; peer_mss is
 * the MSS the cookie carried. */
void tcp_open_established(struct tcb *tcb, stcp_usec_t now, uint32_t iss, uint32_t irs,
                          uint16_t peer_window, uint16_t our_window, uint16_t peer_mss);

/* A segment arrives (RFC 9293 3.10.7).  Malformed ones are counted and dropped. */
void tcp_input(struct tcb *tcb, stcp_usec_t now, const void *buf, size_t len);

/* tcp_input with the header (options included) and the payload apart.
 * in_place: the payload lies where env.deliver would put the next bytes
 * for the application, so if the segment is in order it is handed up with
 * env.deliver_in_place, without a copy. */
void tcp_input_split(struct tcb *tcb, stcp_usec_t now, const void *hdr, size_t hdr_len,
                     const void *payload, size_t payload_len, bool in_place);

/* Room in the send buffer, and queueing application data into it. */
size_t tcp_send_space(const struct tcb *tcb);
size_t tcp_write(struct tcb *tcb, const void *data, size_t len);
/* tcp_write without a buffer of the caller's: where the next bytes go in
 * the send ring, *room contiguous bytes (0: no space); fill some of them,
 * then tcp_write_commit() how many.  Saves copying the data twice. */
uint8_t *tcp_write_place(struct tcb *tcb, size_t *room);
void tcp_write_commit(struct tcb *tcb, size_t len);

/* Send from a ring that is not the core's (the framework's send queue, so
 * the application's bytes are not copied into the core): data, cap bytes,
 * the next byte to queue at position head.  Only while the send buffer is
 * empty (else -1, EBUSY); the core's own buffer is freed.  From then on
 * tcp_write_lent(len) queues the len bytes that follow in that ring, and
 * acknowledged bytes are handed back with release(ctx, n), oldest first. */
int tcp_send_lend(struct tcb *tcb, const uint8_t *data, uint32_t cap, uint32_t head,
                  void (*release)(void *ctx, size_t len), void *ctx);
void tcp_write_lent(struct tcb *tcb, size_t len);

/* The application shut down writing (half-close): send a FIN after the
 * queued data, and keep delivering what the peer sends until its FIN. */
void tcp_shutdown(struct tcb *tcb, stcp_usec_t now);
/* The application closed (after a half-close, or at once): as
 * tcp_shutdown, and the connection is orphaned -- nobody reads, so
 * FIN_WAIT_2 ends after orphan_timeout of silence. */
void tcp_close(struct tcb *tcb, stcp_usec_t now);
/* The application closed leaving received data unread (RFC 9293 3.10.5
 * ABORT, as Linux does): send a RST and end at once, without an error. */
void tcp_user_abort(struct tcb *tcb, stcp_usec_t now);
/* The application read data: the receive window may have opened. */
void tcp_app_read(struct tcb *tcb, stcp_usec_t now);

/* Run whatever timers have expired by now. */
void tcp_timer(struct tcb *tcb, stcp_usec_t now);
/* Send what is due: data the windows allow, FIN, retransmission, ACK. */
void tcp_output(struct tcb *tcb, stcp_usec_t now);
/* The earliest time tcp_timer has work, or STCP_NO_TIMER. */
stcp_usec_t tcp_next_timer(const struct tcb *tcb);

/* The SACK scoreboard's view (RFC 6675 4), for tests: IsLost(seq), and
 * the pipe (bytes believed in the network). */
bool tcp_sack_is_lost(const struct tcb *tcb, uint32_t seq);
uint32_t tcp_sack_pipe(const struct tcb *tcb);

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

/* The 3-bit MSS code: an index into a table of 8 common MSS values
 * (code 1 is 536).  The code of the largest value <= mss (code 0, the
 * smallest, if none is), and the value of a code. */
unsigned syncookie_mss_code(uint32_t mss);
uint16_t syncookie_mss_value(unsigned code);

/* The cookie for a connection: counter (5 bits) | MSS code (3 bits) | low
 * 24 bits of SHA-1(secret, client IP, client port, server IP, server port,
 * counter).  Addresses and ports in network byte order; mss is the send
 * MSS to remember (encoded as syncookie_mss_code(mss)).  Returns false,
 * with no cookie, if the digest cannot be computed. */
bool syncookie_make(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t counter, uint32_t mss,
                    uint32_t client_ip, uint16_t client_port, uint32_t server_ip,
                    uint16_t server_port, uint32_t *cookie);

/* Is cookie valid now: its counter is the current one or the one before
 * and its hash matches?  Fails closed: false if the digest cannot be
 * computed.  On success *mss (if not NULL) is the MSS the cookie carries. */
bool syncookie_check(const uint8_t secret[SYNCOOKIE_SECRET_LEN], uint32_t cookie,
                     uint32_t now_counter, uint32_t client_ip, uint16_t client_port,
                     uint32_t server_ip, uint16_t server_port, uint16_t *mss);

#endif /* !STCP_TRANSPORT_DROPIN */

#ifdef __cplusplus
}
#endif

#endif /* TRANSPORT_H */
