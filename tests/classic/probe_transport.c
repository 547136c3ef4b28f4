/* probe_transport.c -- a transport that checks, one call at a time, that
 * the classic interface means here what it meant in the classic framework
 * (built with make TRANSPORT= and STCP_CLASSIC_ONLY, used by probe_main.c
 * on a reliable path, so it needs no retransmission).
 *
 * Active side: handshake, then checks of stcp_wait_for_event (past
 * deadline, the close held back while the application's data is not all
 * taken, the close reported though not asked for, and only once),
 * stcp_app_recv blocking, the context, mylocalip, stcp_unblock_application
 * with errno EINTR, stcp_network_send with many pieces and with too few
 * bytes.  Passive side: stcp_network_recv called without waiting (it
 * blocks until a segment is there), th_urp cleared by the network layer,
 * stcp_app_send + stcp_fin_received seen by myread, the close reported with
 * no flags at all.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mysock.h"
#include "stcp_api.h"
#include "transport.h"

#include "probe.h"

static void send_flags(mysocket_t sd, uint8_t flags)
{
    STCPHeader h;
    memset(&h, 0, sizeof h);
    h.th_off = 5;
    h.th_flags = flags;
    h.th_win = htons(3072);
    stcp_network_send(sd, &h, sizeof h, NULL);
}

static struct timespec in_ms(int ms)
{
    struct timeval tv;
    struct timespec ts;
    gettimeofday(&tv, NULL);
    ts.tv_sec = tv.tv_sec + ms / 1000;
    ts.tv_nsec = tv.tv_usec * 1000L + (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void active_checks(mysocket_t sd)
{
    char buf[2048];
    int context_value = 7;
    struct timespec past, soon;
    size_t got;
    ssize_t n;
    STCPHeader h;
    const char *p = PROBE_PAYLOAD;

    send_flags(sd, TH_SYN);
    probe_record("wait for NETWORK_DATA returns it",
                 stcp_wait_for_event(sd, NETWORK_DATA, NULL) == NETWORK_DATA);
    n = stcp_network_recv(sd, buf, sizeof buf);
    probe_record("the SYN-ACK arrives whole",
                 n == (ssize_t)sizeof(STCPHeader) &&
                     ((STCPHeader *)buf)->th_flags == (TH_SYN | TH_ACK));
    probe_record("stcp_get_context is NULL until set", stcp_get_context(sd) == NULL);
    stcp_set_context(sd, &context_value);
    probe_record("stcp_set_context/get_context", stcp_get_context(sd) == &context_value);
    probe_record("mylocalip(127.0.0.1) is 127.0.0.1",
                 mylocalip(htonl(INADDR_LOOPBACK)) == htonl(INADDR_LOOPBACK));
    errno = EINTR; /* classic: EINTR counts as success */
    stcp_unblock_application(sd);

    past.tv_sec = 0;
    past.tv_nsec = 0;
    probe_record("a past abstime with nothing pending returns TIMEOUT",
                 stcp_wait_for_event(sd, NETWORK_DATA, &past) == TIMEOUT);
    probe_record("stcp_app_recv blocks until the application writes",
                 stcp_app_recv(sd, buf, 1) == 1);
    soon = in_ms(100);
    probe_record("the close is not reported while written data is left",
                 stcp_wait_for_event(sd, 0, &soon) == TIMEOUT);
    for (got = 1; got < PROBE_APP_BYTES;) {
        size_t r = stcp_app_recv(sd, buf, sizeof buf);
        if (!r)
            break;
        got += r;
    }
    probe_record("stcp_app_recv returns all the application wrote", got == PROBE_APP_BYTES);
    probe_record("APP_CLOSE_REQUESTED reported though only NETWORK_DATA was asked for",
                 stcp_wait_for_event(sd, NETWORK_DATA, NULL) == APP_CLOSE_REQUESTED);
    soon = in_ms(100);
    probe_record("APP_CLOSE_REQUESTED is reported only once",
                 stcp_wait_for_event(sd, ANY_EVENT, &soon) == TIMEOUT);
    probe_record("stcp_app_recv after the close, nothing left: 0 (no hang)",
                 stcp_app_recv(sd, buf, sizeof buf) == 0);

    memset(&h, 0, sizeof h);
    h.th_off = 5;
    h.th_flags = TH_ACK;
    h.th_urp = htons(0xffff); /* the network layer must clear it */
    n = stcp_network_send(sd, &h, sizeof h, p, (size_t)3, p + 3, (size_t)3, p + 6, (size_t)3, p + 9,
                          (size_t)3, p + 12, (size_t)3, p + 15, (size_t)3, p + 18, (size_t)3,
                          p + 21, (size_t)3, p + 24, (size_t)3, p + 27, (size_t)3, p + 30,
                          (size_t)6, NULL);
    probe_record("stcp_network_send with 12 pieces sends them all",
                 n == (ssize_t)(sizeof h + strlen(PROBE_PAYLOAD)));
    errno = 0;
    n = stcp_network_send(sd, &h, (size_t)4, NULL);
    probe_record("stcp_network_send shorter than a header: -1 EINVAL", n == -1 && errno == EINVAL);
}

static void passive_checks(mysocket_t sd)
{
    char buf[2048];
    const STCPHeader *h = (const STCPHeader *)buf;
    ssize_t n = stcp_network_recv(sd, buf, sizeof buf);
    probe_record("passive: stcp_network_recv without a wait returns the SYN",
                 n == (ssize_t)sizeof(STCPHeader) && h->th_flags == TH_SYN);
    send_flags(sd, TH_SYN | TH_ACK);
    errno = 0;
    stcp_unblock_application(sd);

    n = stcp_network_recv(sd, buf, sizeof buf); /* blocks until it comes */
    probe_record("passive: stcp_network_recv blocks until a segment, 12 pieces whole",
                 n == (ssize_t)(sizeof(STCPHeader) + strlen(PROBE_PAYLOAD)) &&
                     memcmp(buf + TCP_DATA_START(buf), PROBE_PAYLOAD, strlen(PROBE_PAYLOAD)) == 0);
    probe_record("passive: th_urp arrives cleared", n > 0 && h->th_urp == 0);
    stcp_app_send(sd, "hello", 5);
    stcp_fin_received(sd);
    probe_record("passive: APP_CLOSE_REQUESTED reported with no flags at all",
                 stcp_wait_for_event(sd, 0, NULL) == APP_CLOSE_REQUESTED);
}

void transport_init(mysocket_t sd, bool_t is_active)
{
    if (is_active && probe_mode == PROBE_RETURN_ERRNO_0) {
        errno = 0;
        return;
    }
    if (is_active && probe_mode == PROBE_RETURN_ETIMEDOUT) {
        errno = ETIMEDOUT;
        return;
    }
    our_dprintf("probe transport, %s side\n", is_active ? "active" : "passive");
    if (is_active)
        active_checks(sd);
    else
        passive_checks(sd);
}
