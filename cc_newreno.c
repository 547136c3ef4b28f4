/* cc_newreno.c -- NewReno congestion control (RFC 5681, RFC 6582).
 *
 * Slow start below ssthresh (one MSS per ACK), then congestion avoidance by
 * byte counting: one MSS more each time a whole cwnd of data has been
 * acknowledged, i.e. about one MSS per round trip.  Three duplicate ACKs
 * halve the window (ssthresh = max(FlightSize / 2, 2 MSS)) and start fast
 * recovery; a timeout leaves one MSS (the loss window). */
#include "cc.h"

/* The one piece of state: bytes acknowledged towards the next MSS of
 * congestion avoidance (struct cc_newreno_state). */
#define BYTES_ACKED(cc) ((cc)->priv.newreno.bytes_acked)

static uint32_t half_flight(const struct cc_state *cc, uint32_t flight)
{
    uint32_t half = flight / 2;
    return half > 2 * cc->mss ? half : 2 * cc->mss;
}

static void newreno_init(struct cc_state *cc, uint64_t now)
{
    (void)now;
    cc->cwnd = cc_initial_window(cc);
    cc->ssthresh = UINT32_MAX;
    BYTES_ACKED(cc) = 0;
    /* Both HyStart signals: after slow start's overshoot NewReno's
     * halvings, one per recovery, left cwnd below the path's BDP. */
    cc_hystart_init(cc, true);
}

static void newreno_on_ack(struct cc_state *cc, uint32_t acked, uint64_t now)
{
    if (cc->cwnd < cc->ssthresh) {
        cc_slow_start_ack(cc, acked, now);
        return;
    }
    BYTES_ACKED(cc) += acked;
    if (BYTES_ACKED(cc) >= cc->cwnd) {
        BYTES_ACKED(cc) -= cc->cwnd;
        cc->cwnd += cc->mss;
    }
}

static void newreno_enter_recovery(struct cc_state *cc, uint32_t flight, unsigned dupacks,
                                   uint64_t now)
{
    (void)now;
    cc->ssthresh = half_flight(cc, flight);
    cc->cwnd = cc->ssthresh + dupacks * cc->mss; /* the segments that have left */
    BYTES_ACKED(cc) = 0;
}

static void newreno_on_timeout(struct cc_state *cc, uint32_t flight, bool repeated, uint64_t now)
{
    (void)now;
    if (!repeated)
        cc->ssthresh = half_flight(cc, flight);
    cc->cwnd = cc->mss;
    cc->after_timeout = true;
    BYTES_ACKED(cc) = 0;
}

static void newreno_exit_recovery(struct cc_state *cc, uint32_t flight, uint64_t now)
{
    (void)now;
    cc_reno_exit_recovery(cc, flight);
}

/* RTT samples are for HyStart alone (slow start's early exit). */
static void newreno_on_rtt_sample(struct cc_state *cc, uint64_t rtt, uint64_t srtt)
{
    (void)srtt;
    cc_hystart_rtt(cc, rtt);
}

const struct cc_algo cc_newreno = {
    .name = "newreno",
    .loss_window = true,
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_enter_recovery = newreno_enter_recovery,
    .on_recovery_dupack = cc_reno_recovery_dupack,
    .on_partial_ack = cc_reno_partial_ack,
    .on_exit_recovery = newreno_exit_recovery,
    .on_timeout = newreno_on_timeout,
    .on_rtt_sample = newreno_on_rtt_sample,
};
