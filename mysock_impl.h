/* mysock_impl.h -- framework internals shared by mysock.c, stcp_api.c and
 * network.c.  Nothing here is for applications or transports. */
#ifndef MYSOCK_IMPL_H
#define MYSOCK_IMPL_H

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "mysock.h"
#include "network.h"
#include "stcp_api.h"

/* ---- Clocks ----------------------------------------------------------------- */

uint64_t clock_mono_ns(void);
/* Nanoseconds from now (>= 0) until the absolute time abstime on clock. */
int64_t ns_until(clockid_t clock, const struct timespec *abstime);

/* ---- Logging (STCP_LOG) ----------------------------------------------------- */

/* who names the connection ("127.0.0.1:5000>127.0.0.1:41000") or a part. */
void log_msg(enum stcp_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum stcp_log_level level, const char *who, const char *fmt, va_list ap);
/* "a.b.c.d:port" */
void addr_str(const struct sockaddr_in *a, char *buf, size_t len);

/* ---- Byte queues between application and transport ---------------------- */

struct byteq {
    uint8_t *buf;
    size_t cap, head, len;
};
void byteq_init(struct byteq *q, size_t cap);
void byteq_free(struct byteq *q);
size_t byteq_space(const struct byteq *q);
size_t byteq_put(struct byteq *q, const void *src, size_t len);
size_t byteq_get(struct byteq *q, void *dst, size_t len);
/* Drop up to len bytes from the head without reading them; returns how many. */
size_t byteq_drop(struct byteq *q, size_t len);
/* byteq_put of len bytes took nothing for want of memory. */
bool byteq_put_failed(const struct byteq *q, size_t len);
/* A put in two steps, so that the copy can be made without the lock: the
 * free space after the queued bytes, in one piece of at most max bytes
 * (*room of them; NULL if the queue is full or out of memory), then
 * byteq_commit of what was written there.  Only one writer may hold a
 * piece, and nothing else writes the free space meanwhile. */
uint8_t *byteq_tail(struct byteq *q, size_t max, size_t *room);
void byteq_commit(struct byteq *q, size_t len);

/* ---- Segments a listener forwards to a connection -------------------------- */

/* A few slots, each holding one segment allocated at its own size. */
#define SEGQ_SLOTS 8
struct segq {
    unsigned head, count;
    size_t len[SEGQ_SLOTS];
    uint8_t *data[SEGQ_SLOTS];
};

/* ---- Sockets ---------------------------------------------------------------- */

enum sock_kind { SOCK_FRESH, SOCK_LISTENER, SOCK_CONN };

struct listener_child;
struct mysock;

struct listener {
    struct net_ep *ep;
    pthread_t thread;
    int wake_fd; /* eventfd: tells the listener thread to stop */
    int backlog;
    int pending;       /* connections opened and not yet accepted */
    mysocket_t *ready; /* established, waiting for myaccept: a ring of backlog */
    int ready_head, ready_count;
    struct listener_child *children; /* connections it opened, by peer */
    int nchildren, children_cap;
    bool stopping;
    bool thread_running;
    /* SYNs that ended a connection's TIME_WAIT, for the listener thread to
     * route (listener_reroute). */
    struct rerouted_syn {
        struct sockaddr_in peer, local;
        uint8_t *seg;
        size_t len;
    } reroute[SEGQ_SLOTS];
    int nreroute;
};

struct conn {
    struct net_ep *ep; /* its own endpoint, connected to the peer */
    struct sockaddr_in local, peer;
    char name[48];    /* "local>peer" for log lines */
    pthread_t thread; /* its transport thread, woken by conn_wake's signal */
    unsigned waiting; /* events the transport is blocked on, 0 if running */

    struct byteq sndq;             /* mywrite -> transport */
    size_t sndq_taken;             /* its first bytes, the transport's (stcp_app_take) */
    bool writing;                  /* a mywrite copies into sndq's free space, unlocked */
    unsigned writers_queued;       /* mywrites waiting for it to finish */
    struct byteq rcvq;             /* transport -> myread */
    pthread_cond_t rd_cv, wr_cv;   /* myread / mywrite wait here */
    bool wake_reader, wake_writer; /* signals owed, sent when the transport waits */
    bool app_send_blocked;         /* the transport waits in stcp_app_send for room */

    uint8_t *stage; /* one received segment, checked: net_carrier_max_segment()
                       bytes, allocated at the first receive */
    size_t stage_len;
    /* Of the staged segment, stage_room payload bytes lie in the receive
     * queue's free space at rcvq position rx_pos (received there: fill_stage),
     * and the stage holds only its 20-byte header; 0: all in the stage. */
    size_t stage_room, rx_pos;
    bool net_empty;     /* the endpoint had nothing at the last read and no poll
                           has seen it readable since: reading again would only
                           cost a system call that fails */
    int peeked;         /* stcp_network_peek: 1 the stage, 2 the inbox head */
    struct segq *inbox; /* segments forwarded by the listener (allocated lazily) */
    int net_error;      /* error the path reported (ECONNREFUSED), sticky */

    bool app_read;        /* myread freed space since APP_READ was reported */
    long reader_watch_ms; /* stcp_app_reader_waiting's after_ms (atomic; 0: not asked) */
    bool reader_idle;     /* a myread has waited reader_watch_ms (atomic) */
    bool reader_news;     /* reader_idle was set: end the transport's wait once */
    bool close_requested; /* myclose was called */
    size_t discarded;     /* bytes of rcvq myclose threw away unread */
    bool close_reported;  /* APP_CLOSE_REQUESTED was reported */
    bool shut_wr;         /* myshutdown SHUT_WR: no more writes, FIN after the data */
    bool shut_rd;         /* myshutdown SHUT_RD: myread returns 0, arrivals discarded */
    bool closed_reported; /* APP_CLOSED was reported */
    bool fin_received;    /* the peer's FIN: myread returns 0 when drained */
    int error;            /* stcp_set_error */

    bool is_active;
    bool unblocked; /* stcp_unblock_application was called */
    int connect_errno;
    bool close_done; /* stcp_unblock_close was called */
    int close_err;
    bool transport_done; /* transport_init returned */
    bool accepted;       /* handed to the application by myaccept */
    bool lingering;      /* counted by the exit linger (see mysock.c) */

    void *context;             /* stcp_set_context */
    struct mysock *parent;     /* the listener that opened it (a reference), or NULL */
    struct mysock *next_start; /* waiting for a transport thread (mysock.c's pool) */
    /* The last segment handed to the transport, if it was a SYN (without
     * ACK): should the transport end on it (a SYN in TIME_WAIT), it goes
     * to the listener.  Transport thread only. */
    uint8_t *last_syn;
    size_t last_syn_len;
    bool has_first_syn;     /* the SYN that opened it is known: */
    uint32_t first_syn_seq; /* its sequence number */
};

enum { MYSO_COUNT = 10 }; /* opt[MYSO_CC] unused: a string */

struct mysock {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* application threads wait here */
    mysocket_t sd;
    int refs;      /* guarded by the table lock */
    bool app_open; /* the application may use the descriptor */
    bool reliable;
    enum sock_kind kind;
    long opt[MYSO_COUNT]; /* -1: default */
    struct net_ep *ep;    /* bound, before listen or connect */
    struct netem_profile netem;
    struct net_counters ctr;
    struct mystats tstats; /* the transport's last report */
    char cc[MYSO_STR_MAX]; /* MYSO_CC; "": the default (CC_DEFAULT) */
    struct listener *lst;
    struct conn *conn;
};

/* Table access.  sock_get takes a reference the caller drops with sock_put. */
struct mysock *sock_get(mysocket_t sd);
void sock_put(struct mysock *s);
/* For transport-side calls: the transport thread holds a reference for as
 * long as it runs, so no extra reference is needed.  NULL if no such socket. */
struct mysock *sock_transport(mysocket_t sd);

/* The most sockets the table holds: STCP_MAX_SOCKETS (default 16384). */
int sock_table_limit(void);

/* Option value with the default applied. */
long sock_option(const struct mysock *s, int option);
/* MYSO_CC with its default applied, into buf.  Socket lock held. */
void sock_cc(const struct mysock *s, char *buf, size_t len);

/* Listener side (mysock.c), used by stcp_api.c. */
mysocket_t listener_open_conn(struct mysock *ls, const struct sockaddr_in *local,
                              const struct sockaddr_in *peer, void *context, const void *segment,
                              size_t len);
void conn_established(struct mysock *s);
/* Wake the transport thread if it waits for any of events. */
void conn_wake(struct conn *c, unsigned events);
/* The signal mask for the transport thread's sleep (ppoll): its own mask
 * without the wake-up signal, which is blocked at every other moment. */
const sigset_t *conn_sleep_mask(void);
/* Closed by the application, FIN acknowledged, the peer's FIN awaited:
 * the process waits for it (briefly) at exit.  Socket lock held. */
void conn_update_linger(struct conn *c);
/* Remember whether the segment the transport takes is a SYN (see last_syn). */
void conn_note_segment(struct conn *c, const void *seg, size_t len);
/* Queue a forwarded segment for the connection; false if the inbox is full. */
bool conn_inbox_put(struct conn *c, const void *seg, size_t len);
/* Free the inbox's oldest segment (there is one).  Socket lock held. */
void conn_inbox_drop_head(struct conn *c);

#endif /* MYSOCK_IMPL_H */
