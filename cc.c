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
