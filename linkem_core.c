/* linkem_core.c -- the pure parts of the link emulator (see linkem.h).
 *
 * Sections: parsing; the bottleneck (queue, serialisation, delay line);
 * the NAT rewrite.
 */
#define _GNU_SOURCE
#include "linkem.h"
#include "rng.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================ Parsing ================================== */

void lk_spec_default(struct lk_spec *s)
{
    memset(s, 0, sizeof *s);
    s->queue_limit = LK_QUEUE_DEFAULT;
}

/* A non-negative finite number followed by a suffix (returned in *end). */
static int parse_number(const char *s, double *out, const char **end)
{
    char *e;
    errno = 0;
    double d = strtod(s, &e);
    if (errno || e == s || !(d >= 0 && d <= 1e15)) /* NaN and inf fail too */
        return -1;
    *out = d;
    *end = e;
    return 0;
}

int lk_parse_rate(const char *s, uint64_t *bps)
{
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};
    double d;
    const char *end;
    if (parse_number(s, &d, &end) < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        double v = d * units[i].scale;
        if (v != 0 && (v < (double)LK_RATE_MIN || v > (double)LK_RATE_MAX))
            return -1;
        *bps = (uint64_t)(v + 0.5);
        return 0;
    }
    return -1;
}

int lk_parse_delay(const char *s, uint64_t *ns)
{
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1e6}, {"ms", 1e6}, {"us", 1e3}, {"s", 1e9}};
    double d;
    const char *end;
    if (parse_number(s, &d, &end) < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        double v = d * units[i].scale;
        if (v > (double)LK_DELAY_MAX_NS)
            return -1;
        *ns = (uint64_t)(v + 0.5);
        return 0;
    }
    return -1;
}

int lk_parse_queue(const char *s, uint32_t *limit, bool *in_bytes)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v == 0)
        return -1;
    bool bytes;
    if (!strcmp(end, "") || !strcmp(end, "p"))
        bytes = false;
    else if (!strcmp(end, "b"))
        bytes = true;
    else
        return -1;
    if (v > (bytes ? LK_HOLD_BYTES_MAX : LK_HOLD_PKTS_MAX))
        return -1;
    *limit = (uint32_t)v;
    *in_bytes = bytes;
    return 0;
}

int lk_parse_loss(const char *s, double *p)
{
    double d;
    const char *end;
    if (parse_number(s, &d, &end) < 0)
        return -1;
    if (!strcmp(end, "%"))
        d /= 100;
    else if (*end)
        return -1;
    if (d > 1)
        return -1;
    *p = d;
    return 0;
}

static int spec_set(struct lk_spec *s, const char *key, const char *val)
{
    if (!strcmp(key, "rate"))
        return lk_parse_rate(val, &s->rate_bps);
    if (!strcmp(key, "delay"))
        return lk_parse_delay(val, &s->delay_ns);
    if (!strcmp(key, "queue"))
        return lk_parse_queue(val, &s->queue_limit, &s->queue_in_bytes);
    if (!strcmp(key, "loss"))
        return lk_parse_loss(val, &s->loss);
    return -2;
}

int lk_parse_spec(const char *spec, struct lk_spec *s, char *err, size_t errlen)
{
    char copy[256];
    if (strlen(spec) >= sizeof copy) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    memcpy(copy, spec, strlen(spec) + 1);
    struct lk_spec next = *s; /* *s is untouched on error */
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, errlen, "'%s' is not key=value", item);
            return -1;
        }
        *eq = '\0';
        int rc = spec_set(&next, item, eq + 1);
        if (rc == -2) {
            snprintf(err, errlen, "unknown key '%s' (known: rate, delay, queue, loss)", item);
            return -1;
        }
        if (rc < 0) {
            snprintf(err, errlen, "bad value '%s' for %s", eq + 1, item);
            return -1;
        }
    }
    *s = next;
    return 0;
}

int lk_parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= 32 || !colon[1])
        return -1;
    char host[32];
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return -1;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

bool lk_is_loopback(const struct sockaddr_in *a)
{
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

/* ============================ The bottleneck ================================ */

uint64_t lk_tx_ns(uint64_t rate_bps, uint32_t len)
{
    if (!rate_bps)
        return 0;
    uint64_t bits_ns = (uint64_t)len * 8 * 1000000000ull; /* no overflow: len < 2^30 */
    return (bits_ns + rate_bps - 1) / rate_bps;
}

int lk_link_init(struct lk_link *l, const struct lk_spec *spec, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->spec = *spec;
    l->rng = seed;
    l->ring = calloc(LK_HOLD_PKTS_MAX, sizeof *l->ring);
    if (!l->ring) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void lk_link_free(struct lk_link *l)
{
    free(l->ring);
    l->ring = NULL;
}

static struct lk_pkt *slot(const struct lk_link *l, uint64_t i)
{
    return &l->ring[i % LK_HOLD_PKTS_MAX];
}

/* Add the occupancy since the last change to the integrals. */
static void integrate_to(struct lk_link *l, uint64_t t)
{
    if (t <= l->stat_last_ns)
        return;
    uint64_t dt = t - l->stat_last_ns;
    l->q_pkt_ns += (long double)l->q_pkts * dt;
    l->q_byte_ns += (long double)l->q_bytes * dt;
    l->stat_last_ns = t;
}

void lk_link_advance(struct lk_link *l, uint64_t now)
{
    if (!l->started)
        return;
    while (l->qfirst < l->tail && slot(l, l->qfirst)->depart_ns <= now) {
        const struct lk_pkt *p = slot(l, l->qfirst);
        integrate_to(l, p->depart_ns);
        l->q_pkts--;
        l->q_bytes -= p->len;
        l->sent_pkts++;
        l->sent_bytes += p->len;
        l->last_depart_ns = p->depart_ns;
        l->qfirst++;
    }
    integrate_to(l, now);
}

static bool queue_full(const struct lk_link *l, uint32_t len)
{
    if (l->spec.queue_in_bytes)
        return (uint64_t)l->q_bytes + len > l->spec.queue_limit;
    return l->q_pkts + 1 > l->spec.queue_limit;
}

enum lk_verdict lk_link_offer(struct lk_link *l, uint64_t now, void *data, void *owner,
                              uint32_t len)
{
    if (!l->started) {
        l->started = true;
        l->first_ns = l->stat_since_ns = l->stat_last_ns = now;
    }
    lk_link_advance(l, now);
    l->offered_pkts++;
    if (l->spec.loss > 0 && rng_unit(&l->rng) < l->spec.loss) {
        l->drop_loss++;
        return LK_DROP_LOSS;
    }
    if (queue_full(l, len)) {
        l->drop_queue++;
        return LK_DROP_QUEUE;
    }
    if (l->tail - l->head >= LK_HOLD_PKTS_MAX || l->held_bytes + len > LK_HOLD_BYTES_MAX) {
        l->drop_cap++;
        return LK_DROP_CAP;
    }
    /* One transmitter: the packet starts when the link has sent the ones
     * before it, and arrives a fixed delay after its last bit left. */
    uint64_t tx = lk_tx_ns(l->spec.rate_bps, len);
    uint64_t start = now > l->busy_until_ns ? now : l->busy_until_ns;
    struct lk_pkt *p = slot(l, l->tail++);
    p->depart_ns = start + tx;
    p->deliver_ns = p->depart_ns + l->spec.delay_ns;
    p->data = data;
    p->owner = owner;
    p->len = len;
    l->busy_until_ns = p->depart_ns;
    l->busy_ns += tx;
    l->held_bytes += len;
    l->q_pkts++;
    l->q_bytes += len;
    if (l->q_pkts > l->q_max_pkts)
        l->q_max_pkts = l->q_pkts;
    if (l->q_bytes > l->q_max_bytes)
        l->q_max_bytes = l->q_bytes;
    return LK_ACCEPT;
}

const struct lk_pkt *lk_link_due(struct lk_link *l, uint64_t now)
{
    lk_link_advance(l, now);
    if (l->head == l->tail || slot(l, l->head)->deliver_ns > now)
        return NULL;
    return slot(l, l->head);
}

void lk_link_pop(struct lk_link *l)
{
    if (l->head == l->tail || l->head == l->qfirst) /* not delivered yet: misuse */
        return;
    l->held_bytes -= slot(l, l->head)->len;
    l->head++;
}

uint64_t lk_link_next_ns(const struct lk_link *l)
{
    return l->head == l->tail ? UINT64_MAX : slot(l, l->head)->deliver_ns;
}

uint64_t lk_link_held(const struct lk_link *l)
{
    return l->tail - l->head;
}

double lk_link_mean_pkts(struct lk_link *l, uint64_t now)
{
    lk_link_advance(l, now);
    if (!l->started || now <= l->stat_since_ns)
        return 0;
    return (double)(l->q_pkt_ns / (long double)(now - l->stat_since_ns));
}

double lk_link_mean_bytes(struct lk_link *l, uint64_t now)
{
    lk_link_advance(l, now);
    if (!l->started || now <= l->stat_since_ns)
        return 0;
    return (double)(l->q_byte_ns / (long double)(now - l->stat_since_ns));
}

double lk_link_achieved_bps(const struct lk_link *l)
{
    if (!l->sent_pkts || l->last_depart_ns <= l->first_ns)
        return 0;
    return (double)l->sent_bytes * 8e9 / (double)(l->last_depart_ns - l->first_ns);
}

/* ============================== NAT rewrite ================================= */

static uint16_t word_at(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1624, equation 3: HC' = ~(~HC + ~m + m') for each changed word m. */
uint16_t lk_csum_replace(uint16_t csum, const void *old, const void *new, size_t len)
{
    const uint8_t *o = old, *n = new;
    uint32_t sum = (uint16_t)~ntohs(csum);
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint16_t)~word_at(o + i);
        sum += word_at(n + i);
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* The words a NAT changes: the pseudo-header's addresses and the ports. */
static void nat_words(uint8_t out[12], const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
    memcpy(out, &src->sin_addr.s_addr, 4);
    memcpy(out + 4, &dst->sin_addr.s_addr, 4);
    memcpy(out + 8, &src->sin_port, 2);
    memcpy(out + 10, &dst->sin_port, 2);
}

int lk_rewrite(uint8_t *seg, size_t len, const struct sockaddr_in *from_src,
               const struct sockaddr_in *from_dst, const struct sockaddr_in *to_src,
               const struct sockaddr_in *to_dst)
{
    if (len < LK_TH_LEN || memcmp(seg + LK_TH_SPORT, &from_src->sin_port, 2) != 0 ||
        memcmp(seg + LK_TH_DPORT, &from_dst->sin_port, 2) != 0)
        return -1;
    uint8_t old_words[12], new_words[12];
    nat_words(old_words, from_src, from_dst);
    nat_words(new_words, to_src, to_dst);
    uint16_t sum;
    memcpy(&sum, seg + LK_TH_SUM, 2);
    sum = lk_csum_replace(sum, old_words, new_words, sizeof old_words);
    memcpy(seg + LK_TH_SUM, &sum, 2);
    memcpy(seg + LK_TH_SPORT, &to_src->sin_port, 2);
    memcpy(seg + LK_TH_DPORT, &to_dst->sin_port, 2);
    return 0;
}
