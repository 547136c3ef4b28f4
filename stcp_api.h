/* stcp_api.h -- what the framework offers a transport layer.
 *
 * These are the only framework calls a transport may make.  The first part is
 * the classic STCP interface, unchanged in name, signature and meaning, so a
 * transport.c written for the classic framework runs here.  The second part
 * is additions our transport uses; a classic transport simply ignores them.
 * Defining STCP_CLASSIC_ONLY before including this header hides the
 * additions.  C (gnu89 to C11) and C++ can include it.
 *
 * All functions take the mysocket descriptor the transport was started with
 * (transport_init's sd).  They are called from that connection's transport
 * thread only, except where noted.
 *
 * Where this framework differs from the classic one, a transport that works
 * there sees no difference: the classic framework asserted on misuse (a bad
 * descriptor, a NULL buffer, a segment shorter than a header), this one never
 * asserts: such a call returns 0, -1 with errno, or does nothing, as each
 * function says.  Notes marked "Classic:" below give the details.
 */
#ifndef STCP_API_H
#define STCP_API_H

#include <stdarg.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/types.h>
#include <time.h>

#include "mysock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* <time.h> defines it only from C11 or with POSIX features on; declaring
 * it here keeps the header usable from strict C99 too. */
struct timespec;

/* stcp_wait_for_event() flags */
typedef enum {
    TIMEOUT = 0,
    APP_DATA = 1,
    NETWORK_DATA = 2,
    APP_CLOSE_REQUESTED = 4,
    ANY_EVENT = APP_DATA | NETWORK_DATA | APP_CLOSE_REQUESTED
#ifndef STCP_CLASSIC_ONLY
    ,
    /* Addition, only reported when asked for: the application has read data
     * from the receive queue since this event was last reported, so the
     * window may have opened (stcp_app_space() says by how much). */
    APP_READ = 8,
    /* Addition, only reported when asked for, once: the application has
     * closed the socket (myclose).  It comes with or after
     * APP_CLOSE_REQUESTED: after a half-close (myshutdown SHUT_WR), which
     * is reported as APP_CLOSE_REQUESTED alone, it says the application
     * has now closed as well. */
    APP_CLOSED = 16
#endif
} stcp_event_type_t;

/* ---- Classic interface ---------------------------------------------------- */

/* Unblock the application's myconnect/myaccept: the connection is
 * established (errno 0) or failed (errno says why; myconnect then returns -1
 * with that errno).  As in the classic framework, errno EINTR counts as 0,
 * and only the first call has an effect.  If transport_init() returns
 * without calling it, the application is unblocked with transport_init's
 * errno at return, or, when that is 0 or EINTR, ECONNREFUSED (myconnect) or
 * ECONNABORTED (an accepted connection), as the classic framework did. */
void stcp_unblock_application(mysocket_t sd);

/* Wait for any of the events in wait_flags, or until the absolute time
 * abstime (CLOCK_REALTIME, the origin of time(2)); NULL waits indefinitely.
 * Returns the events that occurred (a mask of stcp_event_type_t bits), or
 * TIMEOUT (0) once abstime has passed with nothing to report.  Events already
 * pending are returned at once, even if abstime has passed.
 *   APP_DATA, NETWORK_DATA: level-triggered, reported only when asked for,
 *     and again until consumed (with stcp_app_recv / stcp_network_recv).
 *   APP_CLOSE_REQUESTED: reported once, after the application called
 *     myclose() and all it wrote has been taken with stcp_app_recv() --
 *     WHATEVER wait_flags says, as in the classic framework (a transport
 *     that waits for APP_DATA | NETWORK_DATA only still learns of the close).
 * NETWORK_DATA guarantees that the next stcp_network_recv() returns a
 * segment (or -1 with the path's error). */
unsigned int stcp_wait_for_event(mysocket_t sd, unsigned int wait_flags,
                                 const struct timespec *abstime);

/* A per-connection pointer for the transport's own use (NULL until set). */
void stcp_set_context(mysocket_t sd, const void *stcp_state);
void *stcp_get_context(mysocket_t sd);

/* Take the next segment that arrived from the peer (header included), with
 * ports and checksum already verified by the network layer.  As in the
 * classic framework, it blocks until one is there if none is pending.
 * Returns the number of bytes copied into dst (a longer segment is cut to
 * max_len; a buffer of STCP_MAX_SEGMENT_LEN never cuts), or -1 with errno
 * once for each error the path reports (ECONNREFUSED: the peer's host says
 * the port is closed).  Classic: never -1; it blocked for good once the
 * peer was gone. */
ssize_t stcp_network_recv(mysocket_t sd, void *dst, size_t max_len);

/* Send one segment made of the given buffer/length pairs, ended by NULL:
 *     stcp_network_send(sd, hdr, hdr_len, payload, payload_len, NULL);
 * Any number of pairs.  The network layer fills th_sport, th_dport, th_sum
 * and th_urp (0).  Returns the number of bytes handed to the network, or -1
 * with errno (EINVAL: shorter than a header; EMSGSIZE: longer than a
 * segment can be). */
ssize_t stcp_network_send(mysocket_t sd, const void *src, size_t src_len, ...);

/* Take up to max_len bytes the application wrote with mywrite().  As in the
 * classic framework, blocks until there is some if none is pending (unless
 * max_len is 0).  Classic: it blocked for good after myclose with nothing
 * left; here it returns 0 then. */
size_t stcp_app_recv(mysocket_t sd, void *dst, size_t max_len);

/* Pass in-order data up to the application for myread().  Classic: the
 * queue to the application was unbounded; here it is bounded (MYSO_RCVBUF),
 * and the call blocks while it is full until the application reads or
 * closes, so a transport that wants never to block hands up no more than
 * stcp_app_space() allows.  After myclose() the data is discarded. */
void stcp_app_send(mysocket_t sd, const void *src, size_t src_len);

/* The peer has sent FIN: myread() returns 0 once the queued data is read.
 * (It also does once transport_init() has returned.) */
void stcp_fin_received(mysocket_t sd);

/* ---- Additions ------------------------------------------------------------ */
#ifndef STCP_CLASSIC_ONLY

/* The longest segment stcp_network_recv() can return: a TCP header, options
 * and payload in one IPv4 packet.  A transport that receives into a buffer
 * this large never has a segment cut short, whatever the carrier. */
#define STCP_MAX_SEGMENT_LEN 65515

/* stcp_wait_for_event with abstime on CLOCK_MONOTONIC instead of
 * CLOCK_REALTIME: a transport that keeps time on the monotonic clock (ours
 * does) passes its deadlines as they are, and a change of the wall clock
 * cannot stretch or cut its timers. */
unsigned int stcp_wait_for_event_mono(mysocket_t sd, unsigned int wait_flags,
                                      const struct timespec *abstime);

/* stcp_network_recv without the copy: *seg points at the next segment
 * where the framework received it, valid until stcp_network_done(), which
 * must follow before the next stcp_network_peek/recv or wait.  Returns its
 * length (blocking as stcp_network_recv does), or -1 with errno once for
 * each error the path reports (*seg is then NULL and no done is due). */
ssize_t stcp_network_peek(mysocket_t sd, const void **seg);
void stcp_network_done(mysocket_t sd);

/* stcp_network_peek with the header and the payload apart.  The framework
 * receives a payload straight into the free space at the end of the
 * receive queue when it can; in_queue then says it lies exactly where
 * stcp_app_send would put the next bytes, and stcp_app_commit(sd, n) hands
 * its first n bytes to the application without copying them.  Otherwise
 * the payload follows the header in one piece and in_queue is 0.  Valid
 * until stcp_network_done(), as for stcp_network_peek. */
struct stcp_rx_segment {
    const void *hdr; /* TCP header, options included */
    size_t hdr_len;
    const void *payload;
    size_t payload_len;
    int in_queue;
};
ssize_t stcp_network_peek_split(mysocket_t sd, struct stcp_rx_segment *rx);
/* The first len bytes of the peeked payload (in_queue only) become data for
 * myread, as stcp_app_send(payload, len) would make them.  At most once
 * per segment, and before anything else is passed up with stcp_app_send. */
void stcp_app_commit(mysocket_t sd, size_t len);

/* The send queue as the transport's own send buffer, so what mywrite put
 * there is never copied in user space again.  stcp_app_take makes up to
 * max_len more of the application's bytes the transport's, without moving
 * them, and says where the queue's ring is: data (cap bytes), with the
 * oldest byte taken and not released at position head; the bytes taken
 * follow it in order, wrapping at cap.  They stay valid until
 * stcp_app_release(sd, len) gives the oldest len of them back (their room
 * goes to mywrite).  Returns how many bytes it took (0: none waiting; it
 * never blocks).  A transport uses either this or stcp_app_recv, not both
 * (stcp_app_recv returns 0, errno EINVAL, while bytes are taken).  As for
 * stcp_app_recv, APP_CLOSE_REQUESTED comes once everything is taken. */
struct stcp_app_ring {
    const unsigned char *data;
    size_t cap, head;
};
size_t stcp_app_take(mysocket_t sd, size_t max_len, struct stcp_app_ring *ring);
void stcp_app_release(mysocket_t sd, size_t len);

/* Batch the segments given to stcp_network_send from now (on) until
 * stcp_network_cork(sd, 0), which sends them together: fewer system calls
 * (sendmmsg on the udp carrier).  The headers are copied; the payload
 * pieces must stay unchanged until the uncork. */
void stcp_network_cork(mysocket_t sd, int on);

/* Free space in the receive queue: the most the receive window may offer. */
size_t stcp_app_space(mysocket_t sd);

/* Received bytes the application closed without reading (myclose discards
 * them); 0 before myclose.  A transport aborts with a RST when it is not 0. */
size_t stcp_app_discarded(mysocket_t sd);

/* The connection has failed with error err (ETIMEDOUT, ECONNRESET, ...):
 * blocked and later myread/mywrite calls return -1 with it, after any data
 * already queued for the application has been read. */
void stcp_set_error(mysocket_t sd, int err);

/* The application's myclose() may return: everything it wrote, and the FIN,
 * are acknowledged (err 0), or the connection failed (err).  Without this
 * call myclose() waits for transport_init() to return. */
void stcp_unblock_close(mysocket_t sd, int err);

/* Has the application closed the socket (myclose), rather than only shut
 * down writing (myshutdown SHUT_WR)?  1 or 0.  Both are reported as
 * APP_CLOSE_REQUESTED; a transport that keeps a half-closed connection
 * receiving (delivering data to myread) asks this, and learns of a later
 * myclose from APP_CLOSED. */
int stcp_app_closed(mysocket_t sd);

/* Has the application been waiting in myread for at least after_ms (an
 * addition, for keepalives)?  1 or 0.  The first call also asks the
 * framework to end the transport's stcp_wait_for_event (as TIMEOUT) when a
 * myread has waited that long, so the transport can look again; a
 * transport that never calls it sees no such early return. */
int stcp_app_reader_waiting(mysocket_t sd, long after_ms);

/* An option of the socket (mysock.h's MYSO_*), with its default applied. */
long stcp_get_option(mysocket_t sd, int option);

/* The congestion control algorithm the socket asks for (MYSO_CC, with its
 * default applied), copied into buf with its NUL (at most len bytes).  A
 * classic transport ignores it. */
void stcp_get_cc(mysocket_t sd, char *buf, size_t len);

/* Addresses of the connection (network byte order). */
void stcp_get_addresses(mysocket_t sd, struct sockaddr_in *local, struct sockaddr_in *peer);

/* Logging.  Levels as in STCP_LOG; each line names the connection. */
enum stcp_log_level {
    STCP_LOG_ERROR = 0,
    STCP_LOG_WARN = 1,
    STCP_LOG_INFO = 2,
    STCP_LOG_DEBUG = 3,
    STCP_LOG_TRACE = 4
};
int stcp_log_enabled(enum stcp_log_level level);
void stcp_log(mysocket_t sd, enum stcp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Publish the transport's view of the connection for mygetstats(): the
 * transport fields of *stats (the network fields are ignored). */
void stcp_report_stats(mysocket_t sd, const struct mystats *stats);

/* ---- Listening sockets (optional transport hook) -------------------------- */

/* A transport may define this function.  The framework then offers it every
 * segment that arrives at a listening socket and belongs to no connection,
 * before doing its default (a SYN opens a new connection, if the backlog has
 * room; anything else is dropped).  It runs in the listener's thread and must
 * not block.  Return 0 for the default, nonzero if the segment was handled:
 * positive if used, negative if dropped (the socket counts it).
 * The segment is already checked (length, th_off, checksum). */
int transport_listen_input(mysocket_t listen_sd, const void *segment, size_t len,
                           const struct sockaddr_in *local, const struct sockaddr_in *peer);

/* A transport may also define this: called by mylisten() once the socket
 * listens, so the transport can prepare (SYN cookies: the secret and the
 * hash) before the first SYN arrives. */
void transport_listen_start(mysocket_t listen_sd);

/* A transport may also define this: does it offer the congestion control
 * algorithm called name?  mysetsockopt_str(MYSO_CC) and STCP_CC accept
 * only such names (EINVAL otherwise).  Without it any name is taken, and
 * the transport is presumed to ignore MYSO_CC. */
int transport_cc_valid(const char *name);

/* From transport_listen_input: send a segment to peer from the listening
 * socket, keeping no state. */
ssize_t stcp_listen_reply(mysocket_t listen_sd, const struct sockaddr_in *local,
                          const struct sockaddr_in *peer, const void *segment, size_t len);

/* From transport_listen_input: open a connection to peer now, with context
 * already set (see stcp_get_context) and segment queued as its first input.
 * Returns the new descriptor, or -1 with errno (EAGAIN: backlog full). */
mysocket_t stcp_listen_open(mysocket_t listen_sd, const struct sockaddr_in *local,
                            const struct sockaddr_in *peer, void *context, const void *segment,
                            size_t len);

#endif /* !STCP_CLASSIC_ONLY */

#ifdef __cplusplus
}
#endif

#endif /* STCP_API_H */
