/* cc.c -- the congestion control registry, `none`, and the pieces the
 * window-based algorithms share (see cc.h). */
#include "cc.h"

#include <stddef.h>
#include <string.h>

/* ---- none: the classic STCP sender, whose only limit is the window ---- */

static void none_init(struct cc_state *cc, uint64_t now)
{
    (void)now;
    cc->cwnd = cc->max_cwnd;
    cc->ssthresh = UINT32_MAX;
}

const struct cc_algo cc_none = {
    .name = "none",
    .loss_window = false,
    .init = none_init,
};

/* ---- The registry ---- */

const struct cc_algo *const cc_algos[] = {&cc_none, &cc_newreno, &cc_cubic, NULL};

const struct cc_algo *cc_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; cc_algos[i]; i++)
        if (strcmp(cc_algos[i]->name, name) == 0)
            return cc_algos[i];
    return NULL;
}

const char *cc_names(void)
{
    return "none, newreno, cubic";
}

/* ---- Shared pieces ---- */

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* RFC 6928: min(10*MSS, max(2*MSS, 14600)); one segment if the handshake
 * had to be repeated (RFC 6928 2, RFC 5681 3.1). */
uint32_t cc_initial_window(const struct cc_state *cc)
{
    if (cc->handshake_resent)
        return cc->mss;
    return min_u32(10 * cc->mss, max_u32(2 * cc->mss, 14600));
}

/* Appropriate byte counting (RFC 3465 2.2) with L = 2 MSS: what the ACK
 * covers, at most two MSS, so that with an ACK for every second segment
 * slow start doubles cwnd per round trip (with RFC 5681's one MSS per ACK
 * it grew 1.5x, and a 100 Mbit/s, 20 ms path took 1.4 times as many round
 * trips to fill).  After a timeout, L = 1 MSS (RFC 3465 2.3). */
void cc_slow_start(struct cc_state *cc, uint32_t acked)
{
    cc->cwnd += min_u32(acked, cc->after_timeout ? cc->mss : 2 * cc->mss);
}

/* Each further duplicate ACK means a segment has left the network. */
void cc_reno_recovery_dupack(struct cc_state *cc)
{
    cc->cwnd += cc->mss;
}

/* Deflate by what the partial ACK covered, add back one MSS if it covered
 * at least one, so about ssthresh stays in flight when recovery ends. */
void cc_reno_partial_ack(struct cc_state *cc, uint32_t acked)
{
    cc->cwnd = cc->cwnd > acked ? cc->cwnd - acked : 0;
    if (acked >= cc->mss)
        cc->cwnd += cc->mss;
    cc->cwnd = max_u32(cc->cwnd, cc->mss);
}

/* RFC 6582 3.2 step 6, option 1: min(ssthresh, max(FlightSize, MSS) + MSS),
 * which avoids a burst when little is left in flight. */
void cc_reno_exit_recovery(struct cc_state *cc, uint32_t flight)
{
    cc->cwnd = min_u32(cc->ssthresh, max_u32(flight, cc->mss) + cc->mss);
}

/* ---- HyStart: leaving the first slow start early (struct cc_hystart) ---- */

#define HS_LOW_WINDOW         16    /* segments: below it, plain slow start (as Linux) */
#define HS_MIN_RTT_THRESH     4000  /* us, RFC 9406 */
#define HS_MAX_RTT_THRESH     16000 /* us, RFC 9406 */
#define HS_MIN_RTT_DIVISOR    8     /* RFC 9406 */
#define HS_N_RTT_SAMPLE       8     /* RFC 9406 */
#define HS_CSS_GROWTH_DIVISOR 4     /* RFC 9406 */
#define HS_CSS_ROUNDS         5     /* RFC 9406 */
#define HS_TRAIN_GAP          2000  /* us: the least gap that ends a train (Linux: always 2 ms) */
#define HS_TRAIN_MIN          4000  /* us: a shorter train is no evidence (jitter, loopback) */

void cc_hystart_init(struct cc_state *cc, bool ack_train)
{
    cc->hs = (struct cc_hystart){0};
    cc->hs.ack_train = ack_train;
}

void cc_hystart_rtt(struct cc_state *cc, uint64_t rtt)
{
    cc->hs.rtt = rtt;
}

static void hs_leave(struct cc_state *cc)
{
    cc->ssthresh = cc->cwnd;
    cc->hs.left = cc->hs.css_by_train ? CC_SS_LEFT_TRAIN : CC_SS_LEFT_DELAY;
}

/* RFC 9406's RttThresh for a least RTT of min_rtt. */
static uint64_t hs_rtt_thresh(uint64_t min_rtt)
{
    uint64_t thresh = min_rtt / HS_MIN_RTT_DIVISOR;
    return thresh < HS_MIN_RTT_THRESH   ? HS_MIN_RTT_THRESH
           : thresh > HS_MAX_RTT_THRESH ? HS_MAX_RTT_THRESH
                                        : thresh;
}

/* RFC 9406: at each round's start, the last round's least RTT is kept and
 * counting begins again; a round in CSS counts towards its end. */
static void hs_new_round(struct cc_state *cc)
{
    struct cc_hystart *hs = &cc->hs;
    hs->last_round_min_rtt = hs->round_min_rtt;
    hs->round_min_rtt = 0;
    hs->samples = 0;
    hs->window_end = cc->snd_max;
    hs->round_begun = true;
    if (hs->css_baseline && ++hs->css_rounds >= HS_CSS_ROUNDS)
        hs_leave(cc);
}

/* Is the round still on: its end beyond snd_una, but not beyond snd_max?
 * (An end outside [snd_una, snd_max] is stale: the ACKs that ended the
 * round did not reach on_ack -- the sender was held back by the peer's
 * window or the application -- and after 2^31 bytes of that a plain
 * sequence comparison would say the round had not even begun.) */
static bool hs_in_round(const struct cc_state *cc)
{
    uint32_t ahead = cc->hs.window_end - cc->snd_una;
    return ahead != 0 && ahead <= cc->snd_max - cc->snd_una;
}

/* This ACK's RTT sample, into the round's and the path's least RTT. */
static void hs_take_sample(struct cc_hystart *hs)
{
    if (!hs->rtt)
        return;
    if (!hs->round_min_rtt || hs->rtt < hs->round_min_rtt)
        hs->round_min_rtt = hs->rtt;
    if (!hs->min_rtt || hs->rtt < hs->min_rtt)
        hs->min_rtt = hs->rtt;
    hs->samples++;
    hs->rtt = 0;
}

/* RFC 9406 4.2: has this round's least RTT risen enough over the last's? */
static bool hs_delay_increased(const struct cc_hystart *hs)
{
    if (hs->samples < HS_N_RTT_SAMPLE || !hs->round_min_rtt || !hs->last_round_min_rtt)
        return false;
    return hs->round_min_rtt >= hs->last_round_min_rtt + hs_rtt_thresh(hs->last_round_min_rtt);
}

/* The ACK train: true once ACKs have come back to back for half the least
 * RTT, and at least HS_TRAIN_MIN.  Back to back: no gap above a quarter
 * of the least RTT (at least HS_TRAIN_GAP).  While the flight is below
 * the path's BDP, each round's ACKs are followed by an idle gap of RTT
 * minus their train; with this tolerance trains merge once the flight
 * reaches about 3/4 of the BDP, and slow start ends half an RTT later,
 * near 1.25 BDP -- the path is full, the queue is not.  (Linux's 2 ms
 * alone broke the train on a loaded machine whenever a process was
 * descheduled for a moment, and slow start then ran into the queue.) */
static bool hs_train_long(struct cc_hystart *hs, uint64_t now)
{
    uint64_t gap = hs->min_rtt / 4 > HS_TRAIN_GAP ? hs->min_rtt / 4 : HS_TRAIN_GAP;
    if (!hs->train_start || now - hs->train_last > gap)
        hs->train_start = now;
    hs->train_last = now;
    uint64_t len = now - hs->train_start;
    return hs->min_rtt && len >= HS_TRAIN_MIN && len > hs->min_rtt / 2;
}

/* Conservative slow start begins: RTTs are now measured against
 * baseline. */
static void hs_enter_css(struct cc_hystart *hs, uint64_t baseline, bool by_train)
{
    hs->css_baseline = baseline ? baseline : 1;
    hs->css_by_train = by_train;
    hs->css_rounds = 0;
    hs->css_growth = 0;
}

/* One ACK in CSS: a quarter of slow start's growth; back to slow start
 * if the RTT has come down below the baseline (the rise was jitter).
 * CSS lasts CSS_ROUNDS rounds, whatever the RTT does meanwhile (RFC
 * 9406): a signal that was not one -- on a loaded machine both the RTT
 * and the ACKs' timing jitter by milliseconds -- then still leaves cwnd
 * three times larger, not stuck where it fired (ending CSS at the next
 * RTT rise was tried: a cubic flow left slow start at half the path's
 * BDP and took the rest of a 16 MiB transfer to fill it). */
static void hs_css_ack(struct cc_state *cc, uint32_t inc)
{
    struct cc_hystart *hs = &cc->hs;
    hs->css_growth += inc;
    cc->cwnd += hs->css_growth / HS_CSS_GROWTH_DIVISOR;
    hs->css_growth %= HS_CSS_GROWTH_DIVISOR;
    if (hs->samples >= HS_N_RTT_SAMPLE && hs->round_min_rtt < hs->css_baseline) {
        hs->css_baseline = 0;
        hs->css_rounds = 0;
    }
}

void cc_slow_start_ack(struct cc_state *cc, uint32_t acked, uint64_t now)
{
    struct cc_hystart *hs = &cc->hs;
    /* Only the first slow start: later ones have ssthresh from a loss. */
    if (!cc->hystart || cc->ssthresh != UINT32_MAX || cc->after_timeout) {
        cc_slow_start(cc, acked);
        return;
    }
    if (!hs->round_begun || !hs_in_round(cc))
        hs_new_round(cc);
    hs_take_sample(hs);
    if (cc->ssthresh != UINT32_MAX)
        return; /* CSS's last round is over: congestion avoidance */
    uint32_t inc = min_u32(acked, 2 * cc->mss);
    if (hs->css_baseline) {
        hs_css_ack(cc, inc);
        return;
    }
    cc->cwnd += inc;
    bool train = hs->ack_train && hs_train_long(hs, now);
    if (cc->cwnd < HS_LOW_WINDOW * cc->mss)
        return;
    if (train)
        hs_enter_css(hs, hs->min_rtt, true); /* the path's own RTT: no queue yet */
    else if (hs_delay_increased(hs))
        hs_enter_css(hs, hs->round_min_rtt, false);
}
