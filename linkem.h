/* linkem.h -- the pure parts of the link emulator (linkem.c): parsing a link
 * specification, the bottleneck's queue and serialisation arithmetic, and
 * the NAT-style rewrite of a segment's ports and checksum.
 *
 * Nothing here reads a clock or touches a socket: every function that
 * depends on time takes "now" (nanoseconds, CLOCK_MONOTONIC in the program)
 * as an argument, so the unit tests can drive it with made-up times.
 */
#ifndef LINKEM_H
#define LINKEM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Limits ----------------------------------------------------------------- */

/* Hard caps on what one direction of the link holds (queue + delay line).
 * With a rate the delay line is bounded by rate x delay anyway; the caps
 * bound memory when the rate is unlimited or the numbers are extreme. */
#define LK_HOLD_PKTS_MAX  65536u
#define LK_HOLD_BYTES_MAX (64u << 20)
#define LK_RATE_MIN       1000ull         /* bit/s, unless 0 = unlimited */
#define LK_RATE_MAX       100000000000ull /* 100 Gbit/s */
#define LK_DELAY_MAX_NS   10000000000ull  /* 10 s */
#define LK_QUEUE_DEFAULT  1000u           /* packets, like a Linux txqueuelen */

/* ---- A link specification ----------------------------------------------------- */

struct lk_spec {
    uint64_t rate_bps;    /* bit/s; 0 = unlimited (no serialisation) */
    uint64_t delay_ns;    /* one-way propagation delay */
    uint32_t queue_limit; /* drop-tail limit, in packets or bytes */
    bool queue_in_bytes;
    double loss; /* probability of a random drop on arrival */
};

/* Defaults: unlimited rate, no delay, 1000 packets, no loss. */
void lk_spec_default(struct lk_spec *s);

/* "100mbit", "800kbit", "1gbit", "64000" (bit/s), "0" (unlimited). */
int lk_parse_rate(const char *s, uint64_t *bps);
/* "10ms", "500us", "1s", "2.5" (milliseconds); at most 10 s. */
int lk_parse_delay(const char *s, uint64_t *ns);
/* "100p" or "100" (packets), "150000b" (bytes). */
int lk_parse_queue(const char *s, uint32_t *limit, bool *in_bytes);
/* "0.01" or "1%"; 0..1. */
int lk_parse_loss(const char *s, double *p);
/* "rate=100mbit,delay=10ms,queue=100p,loss=0.01": keys not named keep
 * their value in *s.  On error returns -1 with a message in err. */
int lk_parse_spec(const char *spec, struct lk_spec *s, char *err, size_t errlen);

/* ---- One direction of the bottleneck --------------------------------------------- */

/* A packet in the link: in the drop-tail queue until its serialisation
 * ends (depart_ns), then in the delay line until deliver_ns. */
struct lk_pkt {
    uint64_t depart_ns, deliver_ns;
    void *data; /* owned by the link's user; the link only moves it */
    void *owner;
    uint32_t len;
};

enum lk_verdict { LK_ACCEPT, LK_DROP_LOSS, LK_DROP_QUEUE, LK_DROP_CAP };

struct lk_link {
    struct lk_spec spec;
    uint64_t rng;
    /* The packets held, in arrival order (which is also departure and
     * delivery order: one transmitter, one fixed delay).  Indices run
     * freely and are taken modulo LK_HOLD_PKTS_MAX. */
    struct lk_pkt *ring;
    uint64_t head, tail;
    uint64_t qfirst; /* first packet still queued or on the wire */
    uint64_t held_bytes;
    uint64_t busy_until_ns; /* when the transmitter finishes what it has */

    /* The queue: packets not yet fully transmitted (the one on the wire
     * included), and its occupancy over time. */
    uint32_t q_pkts, q_bytes;
    uint32_t q_max_pkts, q_max_bytes;
    uint64_t stat_since_ns, stat_last_ns;
    long double q_pkt_ns, q_byte_ns; /* integrals of occupancy over time */

    /* What the link did. */
    uint64_t offered_pkts, sent_pkts, sent_bytes;
    uint64_t drop_loss, drop_queue, drop_cap;
    uint64_t busy_ns; /* total serialisation time */
    uint64_t first_ns, last_depart_ns;
    bool started;
};

/* The ring is allocated here (LK_HOLD_PKTS_MAX entries); -1 on ENOMEM. */
int lk_link_init(struct lk_link *l, const struct lk_spec *spec, uint64_t seed);
void lk_link_free(struct lk_link *l);

/* Bring the queue's accounting up to now: packets whose serialisation has
 * ended leave the queue (into the delay line). */
void lk_link_advance(struct lk_link *l, uint64_t now);

/* A packet of len bytes arrives at now.  Accepted: it is appended with its
 * departure and delivery times and the link owns the pointers until it is
 * popped.  Otherwise the verdict says why it was dropped. */
enum lk_verdict lk_link_offer(struct lk_link *l, uint64_t now, void *data, void *owner,
                              uint32_t len);

/* The first packet held, if its delivery time has come; NULL otherwise. */
const struct lk_pkt *lk_link_due(struct lk_link *l, uint64_t now);
/* Remove the first packet (after lk_link_due returned it). */
void lk_link_pop(struct lk_link *l);
/* Delivery time of the first packet held, or UINT64_MAX if none. */
uint64_t lk_link_next_ns(const struct lk_link *l);
/* Packets held in queue and delay line. */
uint64_t lk_link_held(const struct lk_link *l);

/* Mean queue occupancy from the first packet to now. */
double lk_link_mean_pkts(struct lk_link *l, uint64_t now);
double lk_link_mean_bytes(struct lk_link *l, uint64_t now);
/* Bits per second sent, from the first arrival to the last departure. */
double lk_link_achieved_bps(const struct lk_link *l);

/* Serialisation time of len bytes at rate bit/s, rounded up; 0 if unlimited. */
uint64_t lk_tx_ns(uint64_t rate_bps, uint32_t len);

/* ---- NAT rewrite -------------------------------------------------------------- */

/* Offsets in the 20-byte TCP header (our carrier: one datagram = one segment). */
#define LK_TH_SPORT 0
#define LK_TH_DPORT 2
#define LK_TH_SUM   16
#define LK_TH_LEN   20

/* RFC 1624 incremental update: the checksum (as stored, network order)
 * after the len bytes at old (an even count, network order) became new. */
uint16_t lk_csum_replace(uint16_t csum, const void *old, const void *new, size_t len);

/* The segment travelled from from_src to from_dst; it will travel from
 * to_src to to_dst.  Set its ports to to_src/to_dst's and fix th_sum for
 * the new ports and pseudo-header addresses.  The checksum is updated, not
 * recomputed, so a segment that was corrupted stays detectably corrupt.
 * Returns -1 (nothing changed) if the segment is shorter than a TCP header
 * or its ports are not from_src's and from_dst's (the receiver would have
 * dropped it). */
int lk_rewrite(uint8_t *seg, size_t len, const struct sockaddr_in *from_src,
               const struct sockaddr_in *from_dst, const struct sockaddr_in *to_src,
               const struct sockaddr_in *to_dst);

/* ---- Misc ----------------------------------------------------------------------- */

/* "127.0.0.1:8080" into a sockaddr_in; a numeric IPv4 address only. */
int lk_parse_addr(const char *s, struct sockaddr_in *out);
bool lk_is_loopback(const struct sockaddr_in *a);

#endif
