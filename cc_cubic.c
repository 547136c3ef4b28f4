/* cc_cubic.c -- CUBIC congestion control (RFC 9438).
 *
 * Below ssthresh: slow start, as NewReno.  In congestion avoidance the
 * window follows the cubic W_cubic(t) = C (t - K)^3 + W_max of the time t
 * since the epoch began (the first ACK after a reduction): concave up to
 * the W_max where the last loss happened, convex beyond it.  Where
 * Reno's AIMD (with CUBIC's beta) would be ahead -- short RTTs, small
 * windows -- cwnd follows that estimate W_est instead (the Reno-friendly
 * region).  A loss multiplies the window by beta = 0.7; fast convergence
 * lowers W_max further when the last loss came before reaching it.
 *
 * Windows are computed in MSS units, as in the RFC, and kept in bytes.
 * State: struct cc_cubic_state (cc.h). */
#include "cc.h"

#define CUBIC_C     0.4
#define CUBIC_BETA  0.7
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)) /* RFC 9438 4.3 */
#define USEC_PER_S  1e6

/* Cube root of x >= 0 by Newton's method (no libm needed by the library's
 * users): converges in a few dozen steps for any window. */
static double cube_root(double x)
{
    if (x <= 0)
        return 0;
    double y = x > 1 ? x / 3 : 1;
    for (int i = 0; i < 200; i++) {
        double next = y - (y * y * y - x) / (3 * y * y);
        if (next == y)
            break;
        y = next;
    }
    return y;
}

static double w_cubic(const struct cc_cubic_state *c, double t)
{
    double d = t - c->k;
    return CUBIC_C * d * d * d + c->w_max;
}

static double in_mss(const struct cc_state *cc, uint32_t bytes)
{
    return (double)bytes / cc->mss;
}

static void cubic_init(struct cc_state *cc, uint64_t now)
{
    (void)now;
    cc->cwnd = cc_initial_window(cc);
    cc->ssthresh = UINT32_MAX;
    cc->priv.cubic = (struct cc_cubic_state){0};
    /* RFC 9406's RTTs only, no ACK train: a flow that joins a busy link
     * sees its ACKs come back to back from the start (the others' data
     * spaces them), and left slow start with a small share, which CUBIC's
     * curve, flat where slow start ended, was slow to make up (Jain's
     * index of four cubic flows below 0.95 in 3 runs of 6, 1 of 6 without
     * HyStart); and CUBIC's cuts of 0.7 after the overshoot stayed above
     * the BDP on the bench's path. */
    cc_hystart_init(cc, false);
}

/* The first ACK of congestion avoidance: t starts now (RFC 9438 4.2). */
static void begin_epoch(struct cc_state *cc, uint64_t now)
{
    struct cc_cubic_state *c = &cc->priv.cubic;
    double cwnd_epoch = in_mss(cc, cc->cwnd);
    c->epoch_start = now ? now : 1;
    if (c->after_timeout || c->w_max < cwnd_epoch) {
        /* After a timeout (RFC 9438 4.8), or above the old maximum: the
         * curve starts at its plateau, here. */
        c->w_max = cwnd_epoch;
        c->k = 0;
    } else {
        c->k = cube_root((c->w_max - cwnd_epoch) / CUBIC_C);
    }
    c->w_est = cwnd_epoch;
    c->growth = 0;
}

/* Add grow_mss MSS to cwnd, carrying the fraction of a byte over. */
static void grow(struct cc_state *cc, double grow_mss)
{
    struct cc_cubic_state *c = &cc->priv.cubic;
    if (grow_mss <= 0)
        return;
    c->growth += grow_mss * cc->mss;
    double whole = (double)(uint64_t)c->growth; /* floor: growth >= 0 */
    double room = (double)(UINT32_MAX - cc->cwnd);
    if (whole > room)
        whole = room;
    cc->cwnd += (uint32_t)whole;
    c->growth -= whole;
}

static void congestion_avoidance(struct cc_state *cc, uint32_t acked, uint64_t now)
{
    struct cc_cubic_state *c = &cc->priv.cubic;
    if (!c->epoch_start)
        begin_epoch(cc, now);
    double cwnd = in_mss(cc, cc->cwnd);
    double segs = in_mss(cc, acked);
    double t = (double)(now - c->epoch_start) / USEC_PER_S;
    double rtt = (double)c->srtt / USEC_PER_S;
    /* Reno's estimate: alpha per RTT, 1 once past the previous cwnd. */
    double alpha = c->w_est >= c->cwnd_prior ? 1.0 : CUBIC_ALPHA;
    c->w_est += alpha * segs / cwnd;
    if (w_cubic(c, t) < c->w_est) {
        grow(cc, c->w_est - cwnd); /* Reno-friendly region */
        return;
    }
    /* Concave or convex region: aim at the curve one RTT ahead, growing
     * at most by half the window per RTT (RFC 9438 4.4, 4.5). */
    double target = w_cubic(c, t + rtt);
    if (target < cwnd)
        target = cwnd;
    if (target > 1.5 * cwnd)
        target = 1.5 * cwnd;
    grow(cc, (target - cwnd) / cwnd * segs);
}

static void cubic_on_ack(struct cc_state *cc, uint32_t acked, uint64_t now)
{
    if (cc->cwnd < cc->ssthresh)
        cc_slow_start_ack(cc, acked, now);
    else
        congestion_avoidance(cc, acked, now);
}

/* A congestion event: remember where it happened, and multiply by beta
 * (RFC 9438 4.6, 4.7).  ssthresh comes from cwnd, not FlightSize, as the
 * RFC writes it; the core keeps cwnd from growing while it is not used. */
static void reduce(struct cc_state *cc)
{
    struct cc_cubic_state *c = &cc->priv.cubic;
    double cwnd = in_mss(cc, cc->cwnd);
    c->w_max = cwnd < c->w_max ? cwnd * (1.0 + CUBIC_BETA) / 2.0 : cwnd; /* fast convergence */
    c->cwnd_prior = cwnd;
    double ssthresh = (double)cc->cwnd * CUBIC_BETA;
    cc->ssthresh = ssthresh > 2.0 * cc->mss ? (uint32_t)ssthresh : 2 * cc->mss;
    c->epoch_start = 0;
    c->after_timeout = false;
}

static void cubic_enter_recovery(struct cc_state *cc, uint32_t flight, unsigned dupacks,
                                 uint64_t now)
{
    (void)flight;
    (void)now;
    reduce(cc);
    cc->cwnd = cc->ssthresh + dupacks * cc->mss; /* the segments that have left */
}

static void cubic_exit_recovery(struct cc_state *cc, uint32_t flight, uint64_t now)
{
    (void)now;
    cc_reno_exit_recovery(cc, flight);
}

/* RFC 9438 4.8: Reno's loss window, CUBIC's ssthresh, and a curve that
 * starts afresh (K = 0) when congestion avoidance begins again. */
static void cubic_on_timeout(struct cc_state *cc, uint32_t flight, bool repeated, uint64_t now)
{
    (void)flight;
    (void)now;
    if (!repeated)
        reduce(cc);
    cc->cwnd = cc->mss;
    cc->after_timeout = true;
    cc->priv.cubic.epoch_start = 0;
    cc->priv.cubic.after_timeout = true;
}

static void cubic_on_rtt_sample(struct cc_state *cc, uint64_t rtt, uint64_t srtt)
{
    cc->priv.cubic.srtt = srtt;
    cc_hystart_rtt(cc, rtt);
}

const struct cc_algo cc_cubic = {
    .name = "cubic",
    .loss_window = true,
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_enter_recovery = cubic_enter_recovery,
    .on_recovery_dupack = cc_reno_recovery_dupack,
    .on_partial_ack = cc_reno_partial_ack,
    .on_exit_recovery = cubic_exit_recovery,
    .on_timeout = cubic_on_timeout,
    .on_rtt_sample = cubic_on_rtt_sample,
};
