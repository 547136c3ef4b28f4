/* cc.h -- congestion control: one small table of hooks per algorithm.
 *
 * The transport's core owns loss detection and recovery (duplicate ACKs,
 * early retransmit, the recover point, partial ACKs, timeouts); an
 * algorithm only answers "how large may the congestion window be now?".
 * The core calls the hooks below at each congestion-relevant moment, as
 * FreeBSD's cc_algo and Linux's tcp_congestion_ops do, so a new algorithm
 * is one new file and one line in the registry (cc.c).
 *
 * All sizes are bytes, all times microseconds on the caller's clock: the
 * algorithms read no clock (the core stays pure and testable).
 *
 *   none     classic STCP: cwnd is the configured window, never changed
 *   newreno  RFC 5681 + RFC 6582
 *   cubic    RFC 9438 (with its Reno-friendly region)
 */
#ifndef CC_H
#define CC_H

#include <stdbool.h>
#include <stdint.h>

#define CC_NAME_MAX 16 /* longest name, with its NUL */
#define CC_DEFAULT  "cubic"

/* Each algorithm's own state (described in its file). */
struct cc_newreno_state {
    uint32_t bytes_acked; /* towards the next MSS of congestion avoidance */
};
struct cc_cubic_state {
    double w_max;         /* window before the last reduction, in MSS (RFC 9438 W_max) */
    double cwnd_prior;    /* cwnd when the last reduction began, in MSS */
    double k;             /* seconds from the epoch's start to W_max again */
    double w_est;         /* the Reno-friendly estimate, in MSS */
    double growth;        /* fractional bytes of growth not yet added to cwnd */
    uint64_t epoch_start; /* when congestion avoidance began; 0: not begun */
    uint64_t srtt;        /* the smoothed RTT, microseconds (0 before a sample) */
    bool after_timeout;   /* the epoch follows a timeout: K = 0, W_max = cwnd_epoch */
};

/* Leaving the first slow start before its first loss (cc_slow_start_ack,
 * cc.c), shared by newreno and cubic.  Two signals, each per round trip
 * ("round": until snd_una passes what had been sent when it began):
 *   - RFC 9406 (HyStart++): the round's least RTT has risen by a threshold
 *     over the last round's: a queue is building.  Then Conservative Slow
 *     Start (CSS, a quarter of the growth) for CSS_ROUNDS rounds, back to
 *     slow start if the RTT falls again, else ssthresh = cwnd.
 *   - the ACK train of Hybrid Slow Start (Ha and Rhee; Linux's CUBIC has
 *     it): ACKs that come back to back for half the least RTT mean the
 *     bottleneck was busy with our data that long, so the flight already
 *     fills the path.  It sees the path fill before any queue builds,
 *     which the delay signal cannot.  It starts CSS too (its baseline:
 *     the least RTT seen), so a train that was not one costs little.
 * Times in microseconds; 0 means "none yet". */
struct cc_hystart {
    uint32_t window_end;         /* RFC 9406 windowEnd: the round ends once snd_una passes it */
    bool round_begun;            /* window_end is set */
    unsigned samples;            /* rttSampleCount: RTT samples in this round */
    uint64_t rtt;                /* the ACK's RTT sample, from on_rtt_sample; 0: none */
    uint64_t min_rtt;            /* the least RTT seen */
    uint64_t round_min_rtt;      /* currentRoundMinRTT */
    uint64_t last_round_min_rtt; /* lastRoundMinRTT */
    uint64_t css_baseline;       /* cssBaselineMinRtt; 0: not in CSS */
    unsigned css_rounds;         /* rounds begun in CSS */
    uint64_t train_start;        /* the first ACK of the current train */
    uint64_t train_last;         /* its latest ACK */
    uint32_t css_growth;         /* growth owed in CSS, bytes x CSS_GROWTH_DIVISOR */
    bool css_by_train;           /* CSS began on the ACK train, not on RTTs */
    bool ack_train;              /* the algorithm takes the ACK train as a signal */
    enum { CC_SS_NOT_LEFT, CC_SS_LEFT_DELAY, CC_SS_LEFT_TRAIN } left; /* how slow start ended */
};

/* What an algorithm works on.  The core sets mss, max_cwnd,
 * handshake_resent and hystart before init, snd_una and snd_max before
 * on_ack, and reads cwnd and ssthresh. */
struct cc_state {
    const struct cc_algo *algo;
    uint32_t cwnd;         /* congestion window */
    uint32_t ssthresh;     /* slow start threshold; UINT32_MAX: not yet set */
    uint32_t mss;          /* the connection's effective send MSS */
    uint32_t max_cwnd;     /* the configured window: more can never be in flight */
    bool handshake_resent; /* our SYN (or SYN-ACK) was sent again: IW is 1 MSS */
    bool after_timeout;    /* a timeout happened: slow start adds 1 MSS per ACK, not 2 */
    bool hystart;          /* leave the first slow start early (struct cc_hystart) */
    uint32_t snd_una;      /* the core's, after the ACK (rounds, for HyStart) */
    uint32_t snd_max;      /* the highest sequence number sent */
    struct cc_hystart hs;
    union {
        struct cc_newreno_state newreno;
        struct cc_cubic_state cubic;
    } priv;
};

struct cc_algo {
    const char *name;
    /* true: a timeout leaves cwnd at the loss window, and the core resends
     * from snd_una under it (go-back-N, RFC 5681 3.1).  false (none): the
     * classic STCP timeout, which resends only the oldest segment. */
    bool loss_window;
    /* The connection is established: set the initial cwnd and ssthresh. */
    void (*init)(struct cc_state *cc, uint64_t now);
    /* acked new bytes, outside fast recovery, while the sender was using
     * its whole congestion window (no growth while application-limited,
     * RFC 7661). */
    void (*on_ack)(struct cc_state *cc, uint32_t acked, uint64_t now);
    /* Duplicate ACKs: fast retransmit and the start of fast recovery.
     * flight is FlightSize (snd_max - snd_una), dupacks how many arrived. */
    void (*on_enter_recovery)(struct cc_state *cc, uint32_t flight, unsigned dupacks, uint64_t now);
    /* One more duplicate ACK during fast recovery. */
    void (*on_recovery_dupack)(struct cc_state *cc);
    /* An ACK of new data that stops short of the recover point (RFC 6582). */
    void (*on_partial_ack)(struct cc_state *cc, uint32_t acked);
    /* The ACK that ends fast recovery; flight is what is still outstanding. */
    void (*on_exit_recovery)(struct cc_state *cc, uint32_t flight, uint64_t now);
    /* The retransmission timer expired; repeated: it had already expired for
     * this data (ssthresh is then kept, RFC 5681 3.1). */
    void (*on_timeout)(struct cc_state *cc, uint32_t flight, bool repeated, uint64_t now);
    /* A new RTT sample, and the smoothed RTT after it. Optional. */
    void (*on_rtt_sample)(struct cc_state *cc, uint64_t rtt, uint64_t srtt);
};

/* The algorithm called name, or NULL. */
const struct cc_algo *cc_find(const char *name);
/* The registered algorithms, NULL-terminated (for usage messages). */
extern const struct cc_algo *const cc_algos[];
/* "none, newreno, cubic" */
const char *cc_names(void);

extern const struct cc_algo cc_none;
extern const struct cc_algo cc_newreno;
extern const struct cc_algo cc_cubic;

/* Pieces the window-based algorithms share. */
uint32_t cc_initial_window(const struct cc_state *cc);   /* RFC 6928 */
void cc_slow_start(struct cc_state *cc, uint32_t acked); /* RFC 5681 3.1 */
/* ack_train: the ACK train may start CSS too, not only RFC 9406's RTTs. */
void cc_hystart_init(struct cc_state *cc, bool ack_train);
void cc_hystart_rtt(struct cc_state *cc, uint64_t rtt); /* an RTT sample, from on_rtt_sample */
/* Slow start's growth for one ACK, with HyStart's exits (the first slow
 * start only); on_ack calls it while cwnd < ssthresh. */
void cc_slow_start_ack(struct cc_state *cc, uint32_t acked, uint64_t now);
void cc_reno_recovery_dupack(struct cc_state *cc);                /* RFC 5681 3.2 step 4 */
void cc_reno_partial_ack(struct cc_state *cc, uint32_t acked);    /* RFC 6582 3.2 step 5 */
void cc_reno_exit_recovery(struct cc_state *cc, uint32_t flight); /* RFC 6582 3.2 step 6 */

#endif /* CC_H */
