/* mysock.c -- the mysocket layer: the socket table, the application's calls,
 * and the threads behind them (one transport thread per connection, one
 * listener thread per listening socket).
 *
 * Locking: the table lock guards the table and every socket's reference
 * count; each socket's own lock guards the rest of it.  No thread holds two
 * socket locks at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mysock_impl.h"
#include "transport.h"

/* A transport may leave the listener hook out (a classic transport.c). */
#pragma weak transport_listen_input
#pragma weak transport_listen_start
#pragma weak transport_cc_valid

/* ============================== Byte queues =============================== */

/* The memory comes with the first byte put: an idle connection holds none. */
void byteq_init(struct byteq *q, size_t cap)
{
    q->buf = NULL;
    q->cap = cap;
    q->head = q->len = 0;
}

void byteq_free(struct byteq *q)
{
    free(q->buf);
    q->buf = NULL;
    q->len = 0;
}

size_t byteq_space(const struct byteq *q)
{
    return q->cap - q->len;
}

size_t byteq_put(struct byteq *q, const void *src, size_t len)
{
    /* One piece up to the end of the buffer, one after the wrap.
     * memmove: src may lie in the free space itself (a payload received
     * into it, handed up from a little further on). */
    size_t done = 0, room;
    uint8_t *dst;
    while (done < len && (dst = byteq_tail(q, len - done, &room))) {
        memmove(dst, (const uint8_t *)src + done, room);
        byteq_commit(q, room);
        done += room;
    }
    return done; /* short: full, or no memory (byteq_put_failed) */
}

bool byteq_put_failed(const struct byteq *q, size_t len)
{
    return len && !q->buf && byteq_space(q);
}

uint8_t *byteq_tail(struct byteq *q, size_t max, size_t *room)
{
    *room = 0;
    if (!max || !byteq_space(q) || (!q->buf && !(q->buf = malloc(q->cap))))
        return NULL;
    size_t tail = (q->head + q->len) % q->cap;
    *room = MIN(max, MIN(byteq_space(q), q->cap - tail));
    return q->buf + tail;
}

void byteq_commit(struct byteq *q, size_t len)
{
    q->len += MIN(len, byteq_space(q));
}

size_t byteq_get(struct byteq *q, void *dst, size_t len)
{
    len = MIN(len, q->len);
    if (!len)
        return 0;
    size_t first = MIN(len, q->cap - q->head);
    memcpy(dst, q->buf + q->head, first);
    memcpy((uint8_t *)dst + first, q->buf, len - first);
    byteq_drop(q, len);
    return len;
}

size_t byteq_drop(struct byteq *q, size_t len)
{
    len = MIN(len, q->len);
    if (!len)
        return 0;
    /* head is not reset when the queue empties: the transport may have
     * received a payload into the free space just past the end. */
    q->head = (q->head + len) % q->cap;
    q->len -= len;
    return len;
}

/* ============================ Exit lingering ============================== */

/* A process that exits right after myclose would leave its peer's FIN
 * unanswered (the peer then sees ECONNRESET).  So at exit we wait, at most
 * EXIT_LINGER_NS, for connections the application has closed, whose FIN is
 * acknowledged, and whose peer has not sent its FIN yet.  TIME_WAIT is not
 * waited for. */
#define EXIT_LINGER_NS (2000000000LL)

static pthread_mutex_t linger_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t linger_cv;
static int lingering; /* connections in that state */
static pthread_once_t linger_once = PTHREAD_ONCE_INIT;

static void linger_at_exit(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += EXIT_LINGER_NS / 1000000000LL;
    pthread_mutex_lock(&linger_lock);
    while (lingering > 0 &&
           pthread_cond_timedwait(&linger_cv, &linger_lock, &deadline) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&linger_lock);
}

static void linger_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&linger_cv, &attr);
    pthread_condattr_destroy(&attr);
    atexit(linger_at_exit);
}

/* Re-evaluate whether c lingers.  Called with its socket's lock held. */
void conn_update_linger(struct conn *c)
{
    bool now = c->close_requested && c->close_done && !c->close_err && !c->fin_received &&
               !c->transport_done;
    if (now == c->lingering)
        return;
    c->lingering = now;
    pthread_mutex_lock(&linger_lock);
    lingering += now ? 1 : -1;
    if (!lingering)
        pthread_cond_broadcast(&linger_cv);
    pthread_mutex_unlock(&linger_lock);
}

/* ============================== Socket table ============================== */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
/* Grown under the table lock, never shrunk nor moved while in use: a
 * transport reads its entry without the lock (sock_transport), so a grown
 * table keeps the old array alive (tables_old) until exit. */
static struct mysock **table;
static int table_size;  /* entries allocated */
static int table_limit; /* STCP_MAX_SOCKETS */
static unsigned next_slot;
static struct mysock **tables_old[24]; /* each growth doubles: 2^24 > the limit */
static int ntables_old;
static int live_socks, trim_mark; /* sockets now; and when malloc_trim last ran */

#define DEFAULT_MAX_SOCKETS 16384
#define MAX_MAX_SOCKETS     (1 << 20)

/* The udp carrier takes a descriptor per connection (its socket): take
 * all the process may have. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Out of descriptors: say so once, with the limit, not just "EMFILE". */
static void report_fd_limit(int err)
{
    static bool reported;
    struct rlimit rl;
    if (err != EMFILE || __atomic_exchange_n(&reported, true, __ATOMIC_RELAXED) ||
        getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    fprintf(stderr,
            "stcp: out of file descriptors (RLIMIT_NOFILE %llu): each connection takes one; "
            "raise the hard limit (ulimit -Hn) for more connections\n",
            (unsigned long long)rl.rlim_cur);
}

/* The most sockets a process may hold: STCP_MAX_SOCKETS, or the default. */
int sock_table_limit(void)
{
    pthread_mutex_lock(&table_lock);
    if (!table_limit) {
        const char *v = getenv("STCP_MAX_SOCKETS");
        long n = v && *v ? strtol(v, NULL, 10) : DEFAULT_MAX_SOCKETS;
        if (n < 1 || n > MAX_MAX_SOCKETS) {
            fprintf(stderr, "STCP_MAX_SOCKETS: %s is not 1..%d: using %d\n", v, MAX_MAX_SOCKETS,
                    DEFAULT_MAX_SOCKETS);
            n = DEFAULT_MAX_SOCKETS;
        }
        table_limit = (int)n;
        raise_fd_limit();
    }
    int limit = table_limit;
    pthread_mutex_unlock(&table_lock);
    return limit;
}

/* Double the table (up to the limit).  Table lock held.  The old array
 * stays allocated: a transport thread may be reading it right now. */
static int table_grow(void)
{
    int size = table_size ? MIN(2 * table_size, table_limit) : MIN(1024, table_limit);
    if (size <= table_size)
        return -1;
    struct mysock **t = calloc((size_t)size, sizeof(struct mysock *));
    if (!t)
        return -1;
    if (table_size)
        memcpy(t, table, (size_t)table_size * sizeof(struct mysock *));
    if (table)
        tables_old[ntables_old++] = table;
    __atomic_store_n(&table, t, __ATOMIC_RELEASE);
    __atomic_store_n(&table_size, size, __ATOMIC_RELEASE);
    return 0;
}

static struct mysock *sock_alloc(bool reliable)
{
    sock_table_limit();
    struct mysock *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->reliable = reliable;
    s->kind = SOCK_FRESH;
    s->app_open = true;
    for (int i = 0; i < MYSO_COUNT; i++)
        s->opt[i] = -1;
    pthread_mutex_lock(&table_lock);
    /* Hand out descriptors round-robin so a closed one is not reused at once;
     * grow the table only when every entry is taken. */
    for (int tries = 0; tries < 2; tries++) {
        for (int i = 0; i < table_size; i++) {
            unsigned slot = (next_slot + (unsigned)i) % (unsigned)table_size;
            if (!table[slot]) {
                s->sd = (mysocket_t)slot;
                s->refs = 1; /* the application's */
                __atomic_store_n(&table[slot], s, __ATOMIC_RELEASE);
                live_socks++;
                trim_mark = MAX(trim_mark, live_socks);
                next_slot = slot + 1;
                pthread_mutex_unlock(&table_lock);
                return s;
            }
        }
        if (table_grow() < 0)
            break;
        next_slot = 0;
    }
    pthread_mutex_unlock(&table_lock);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cv);
    free(s);
    errno = EMFILE;
    return NULL;
}

static void conn_free(struct conn *c)
{
    net_ep_close(c->ep);
    byteq_free(&c->sndq);
    byteq_free(&c->rcvq);
    pthread_cond_destroy(&c->rd_cv);
    pthread_cond_destroy(&c->wr_cv);
    if (c->inbox)
        for (unsigned i = 0; i < c->inbox->count; i++)
            free(c->inbox->data[(c->inbox->head + i) % SEGQ_SLOTS]);
    free(c->inbox);
    free(c->stage);
    free(c->last_syn);
    free(c);
}

/* A connection's queues are large blocks the allocator would keep: give
 * them back, so memory follows the connections that are open.  But not on
 * every close: malloc_trim's madvise flushes the TLB of every CPU running
 * one of our threads, which with thousands of connections cost more than
 * the connections themselves.  Trimming each time the number of sockets
 * has halved since the last trim keeps memory within twice what is in use. */
static bool trim_due(void)
{
    pthread_mutex_lock(&table_lock);
    bool due = live_socks <= trim_mark / 2;
    if (due)
        trim_mark = live_socks;
    pthread_mutex_unlock(&table_lock);
    return due;
}

static void sock_destroy(struct mysock *s)
{
    if (s->conn)
        conn_free(s->conn);
    if (s->lst) {
        if (s->lst->wake_fd >= 0)
            close(s->lst->wake_fd);
        free(s->lst->ready);
        free(s->lst->children);
        for (int i = 0; i < s->lst->nreroute; i++)
            free(s->lst->reroute[i].seg);
        free(s->lst);
    }
    net_ep_close(s->ep);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cv);
    free(s);
    if (trim_due())
        malloc_trim(0);
}

static struct mysock *sock_ref_locked(mysocket_t sd, bool need_app)
{
    if (sd < 0 || sd >= table_size)
        return NULL;
    struct mysock *s = table[sd];
    if (!s || (need_app && !s->app_open))
        return NULL;
    s->refs++;
    return s;
}

struct mysock *sock_get(mysocket_t sd)
{
    pthread_mutex_lock(&table_lock);
    struct mysock *s = sock_ref_locked(sd, true);
    pthread_mutex_unlock(&table_lock);
    if (!s)
        errno = EBADF;
    return s;
}

/* A reference whether or not the application still has the descriptor. */
static struct mysock *sock_ref(mysocket_t sd)
{
    pthread_mutex_lock(&table_lock);
    struct mysock *s = sock_ref_locked(sd, false);
    pthread_mutex_unlock(&table_lock);
    return s;
}

static void sock_hold(struct mysock *s)
{
    pthread_mutex_lock(&table_lock);
    s->refs++;
    pthread_mutex_unlock(&table_lock);
}

void sock_put(struct mysock *s)
{
    pthread_mutex_lock(&table_lock);
    bool last = --s->refs == 0;
    if (last) {
        __atomic_store_n(&table[s->sd], NULL, __ATOMIC_RELEASE);
        live_socks--;
    }
    pthread_mutex_unlock(&table_lock);
    if (last)
        sock_destroy(s);
}

struct mysock *sock_transport(mysocket_t sd)
{
    if (sd < 0 || sd >= __atomic_load_n(&table_size, __ATOMIC_ACQUIRE))
        return NULL;
    struct mysock **t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&t[sd], __ATOMIC_ACQUIRE);
}

/* ================================ Options ================================= */

long sock_option(const struct mysock *s, int option)
{
    if (option <= 0 || option >= MYSO_COUNT)
        return -1;
    long v = s->opt[option];
    if (v >= 0 || option == MYSO_ISN)
        return v;
    long window = s->opt[MYSO_WINDOW] > 0 ? s->opt[MYSO_WINDOW] : 3072;
    switch (option) {
    case MYSO_WINDOW:
        return window;
    case MYSO_RCVBUF: {
        /* A whole number of full segments: payloads are received straight
         * into the queue's free space when it has room for them in one
         * piece, and full segments then never straddle its end. */
        long mss = sock_option(s, MYSO_MSS);
        long size = MAX(2 * window, 65536L);
        return mss > 0 ? (size + mss - 1) / mss * mss : size;
    }
    case MYSO_SNDBUF:
        /* Room for the window twice over, and at least 64 KiB, so neither
         * the reader nor the writer is woken once per segment; plus a
         * window, because our transport keeps the bytes in flight in this
         * queue (stcp_app_take) rather than in a ring of its own. */
        return MAX(3 * window, 65536L);
    case MYSO_SYNCOOKIES:
    case MYSO_RCVTIMEO:
    case MYSO_USER_TIMEOUT:
        return 0;
    case MYSO_MSS:
        return net_carrier_mss();
    default:
        return -1;
    }
}

static bool option_valid(int option, long value)
{
    switch (option) {
    case MYSO_WINDOW:
        return value >= 1 && value <= MYSO_WINDOW_MAX;
    case MYSO_RCVBUF:
    case MYSO_SNDBUF:
        /* Room for the largest window twice over (their default). */
        return value >= 1 && value <= 2 * MYSO_WINDOW_MAX;
    case MYSO_SYNCOOKIES:
        return value == 0 || value == 1;
    case MYSO_ISN:
        return value >= -1 && value <= 0xffffffffL;
    case MYSO_RCVTIMEO: /* milliseconds, up to a day as the user timeout */
    case MYSO_USER_TIMEOUT:
        return value >= 0 && value <= MYSO_USER_TIMEOUT_MAX;
    case MYSO_MSS:
        return value >= 64 && value <= 65495;
    default:
        return false;
    }
}

int mysetsockopt(mysocket_t sd, int option, long value)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = 0;
    if (option == MYSO_CC) {
        errno = EINVAL; /* a string: mysetsockopt_str */
        rc = -1;
    } else if (!option_valid(option, value)) {
        errno = (option <= 0 || option >= MYSO_COUNT) ? ENOPROTOOPT : EINVAL;
        rc = -1;
    } else {
        pthread_mutex_lock(&s->lock);
        s->opt[option] = value;
        pthread_mutex_unlock(&s->lock);
    }
    sock_put(s);
    return rc;
}

int mygetsockopt(mysocket_t sd, int option, long *value)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = 0;
    if (option == MYSO_CC) {
        errno = EINVAL; /* a string: mygetsockopt_str */
        rc = -1;
    } else if (!value || option <= 0 || option >= MYSO_COUNT) {
        errno = value ? ENOPROTOOPT : EFAULT;
        rc = -1;
    } else {
        pthread_mutex_lock(&s->lock);
        *value = sock_option(s, option);
        pthread_mutex_unlock(&s->lock);
    }
    sock_put(s);
    return rc;
}

/* Is name a congestion control algorithm the transport offers? */
static bool cc_name_valid(const char *name)
{
    size_t len = strnlen(name, MYSO_STR_MAX);
    if (len == 0 || len == MYSO_STR_MAX)
        return false;
    return &transport_cc_valid == NULL || transport_cc_valid(name);
}

int mysetsockopt_str(mysocket_t sd, int option, const char *value)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = 0;
    if (option != MYSO_CC) {
        errno = ENOPROTOOPT;
        rc = -1;
    } else if (!value) {
        errno = EFAULT;
        rc = -1;
    } else if (!cc_name_valid(value)) {
        errno = EINVAL;
        rc = -1;
    } else {
        pthread_mutex_lock(&s->lock);
        snprintf(s->cc, sizeof s->cc, "%s", value);
        pthread_mutex_unlock(&s->lock);
    }
    sock_put(s);
    return rc;
}

void sock_cc(const struct mysock *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s->cc[0] ? s->cc : CC_DEFAULT);
}

int mygetsockopt_str(mysocket_t sd, int option, char *buf, size_t len)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = 0;
    char name[MYSO_STR_MAX];
    pthread_mutex_lock(&s->lock);
    sock_cc(s, name, sizeof name);
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    if (option != MYSO_CC) {
        errno = ENOPROTOOPT;
        rc = -1;
    } else if (!buf) {
        errno = EFAULT;
        rc = -1;
    } else if (strlen(name) >= len) {
        errno = ERANGE;
        rc = -1;
    } else {
        memcpy(buf, name, strlen(name) + 1);
    }
    return rc;
}

static void stats_read(struct mysock *s, struct mystats *stats)
{
    struct net_counters ctr;
    net_counters_read(&s->ctr, &ctr);
    pthread_mutex_lock(&s->lock);
    *stats = s->tstats;
    pthread_mutex_unlock(&s->lock);
    stats->segs_sent = ctr.segs_sent;
    stats->segs_received = ctr.segs_received;
    stats->emu_dropped = ctr.dropped;
    stats->emu_duplicated = ctr.duplicated;
    stats->emu_reordered = ctr.reordered;
    stats->emu_corrupted = ctr.corrupted;
    stats->emu_delayed = ctr.delayed;
    stats->bad_checksum = ctr.bad_checksum;
    stats->malformed = ctr.malformed;
    stats->no_connection = ctr.no_connection;
    stats->queue_full = ctr.queue_full;
    struct net_counters stack;
    net_counters_read(net_stack_counters(), &stack);
    stats->ip_malformed = stack.ip_malformed;
    stats->ip_bad_checksum = stack.ip_bad_checksum;
    stats->ip_fragments = stack.ip_fragments;
    stats->ip_not_ours = stack.ip_not_ours;
    stats->ip_other_proto = stack.ip_other_proto;
    stats->no_socket = stack.no_socket;
    stats->rst_sent = stack.rst_sent;
    stats->rst_limited = stack.rst_limited;
    stats->stack_malformed = stack.malformed;
    stats->stack_bad_checksum = stack.bad_checksum;
}

int mygetstats(mysocket_t sd, struct mystats *stats)
{
    if (!stats) {
        errno = EFAULT;
        return -1;
    }
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    stats_read(s, stats);
    sock_put(s);
    return 0;
}

/* ============================== Connections =============================== */

/* Waking a transport thread.  A signal sent to the thread, not an eventfd,
 * so that a connection costs one descriptor (its socket) and a process
 * holds twice as many connections within its RLIMIT_NOFILE.  The signal
 * is blocked in transport threads except inside their ppoll, which
 * returns EINTR for it; its handler does nothing. */
#define WAKE_SIGNAL (SIGRTMAX - 2)

static __thread sigset_t sleep_mask; /* a transport thread's mask, wake-up allowed */

static void on_wake_signal(int sig)
{
    (void)sig;
}

static void wake_signal_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(WAKE_SIGNAL, &sa, NULL);
}

/* On a new transport thread: the signal only interrupts its ppoll. */
static void block_wake_signal(void)
{
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, WAKE_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &wake, &sleep_mask);
    sigdelset(&sleep_mask, WAKE_SIGNAL);
}

const sigset_t *conn_sleep_mask(void)
{
    return &sleep_mask;
}

static struct conn *conn_new(const struct mysock *s, const struct sockaddr_in *local,
                             const struct sockaddr_in *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&c->rd_cv, &mono); /* myread's timeout is on this clock */
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&c->wr_cv, NULL);
    byteq_init(&c->sndq, (size_t)sock_option(s, MYSO_SNDBUF));
    byteq_init(&c->rcvq, (size_t)sock_option(s, MYSO_RCVBUF));
    c->local = *local;
    c->peer = *peer;
    char l[24], p[24];
    addr_str(local, l, sizeof l);
    addr_str(peer, p, sizeof p);
    snprintf(c->name, sizeof c->name, "%s>%s", l, p);
    return c;
}

void conn_wake(struct conn *c, unsigned events)
{
    if (c->waiting & events) {
        c->waiting = 0; /* one wake-up is enough: it will look again */
        /* The thread is inside sleep_for_events (it set waiting under the
         * lock we hold), so it exists; the signal stays pending until its
         * ppoll unblocks it, so a wake-up sent before the ppoll is not lost. */
        pthread_kill(c->thread, WAKE_SIGNAL);
    }
}

bool conn_inbox_put(struct conn *c, const void *seg, size_t len)
{
    if (!c->inbox) {
        c->inbox = calloc(1, sizeof *c->inbox);
        if (!c->inbox)
            return false;
    }
    struct segq *q = c->inbox;
    if (q->count == SEGQ_SLOTS || len > NET_MAX_SEGMENT)
        return false;
    unsigned slot = (q->head + q->count) % SEGQ_SLOTS;
    q->data[slot] = malloc(len ? len : 1);
    if (!q->data[slot])
        return false;
    memcpy(q->data[slot], seg, len);
    q->len[slot] = len;
    q->count++;
    conn_wake(c, NETWORK_DATA);
    return true;
}

void conn_inbox_drop_head(struct conn *c)
{
    struct segq *q = c->inbox;
    free(q->data[q->head]);
    q->data[q->head] = NULL;
    q->head = (q->head + 1) % SEGQ_SLOTS;
    q->count--;
}

static bool is_pure_syn(const void *seg, size_t len)
{
    const STCPHeader *h = seg;
    return len >= sizeof *h && (h->th_flags & (TH_SYN | TH_ACK | TH_FIN | TH_RST)) == TH_SYN;
}

void conn_note_segment(struct conn *c, const void *seg, size_t len)
{
    if (!is_pure_syn(seg, len)) {
        if (c->last_syn) {
            free(c->last_syn);
            c->last_syn = NULL;
        }
        return;
    }
    uint8_t *copy = realloc(c->last_syn, len);
    if (!copy)
        return; /* then the peer resends it, as before */
    memcpy(copy, seg, len);
    c->last_syn = copy;
    c->last_syn_len = len;
}

/* The transport ended right after a new SYN from its peer (RFC 9293
 * 3.10.7.4 / RFC 1122 4.2.2.13: a SYN ends TIME_WAIT and opens a new
 * connection): give it to the listener, so the client does not wait an
 * RTO to send it again.  Only for a connection that was established, and
 * not for a copy of the SYN that opened it. */
static bool conn_syn_for_listener(const struct conn *c, bool never_ready)
{
    if (!c->last_syn || !c->parent || never_ready)
        return false;
    const STCPHeader *h = (const STCPHeader *)c->last_syn;
    return !c->has_first_syn || ntohl(h->th_seq) != c->first_syn_seq;
}

/* Queue the SYN for ls's listener thread, which routes it as if it had just
 * arrived there (the connection is out of its children by now). */
static void listener_reroute(struct mysock *ls, struct conn *c)
{
    pthread_mutex_lock(&ls->lock);
    struct listener *l = ls->lst;
    if (!l->stopping && l->nreroute < SEGQ_SLOTS) {
        l->reroute[l->nreroute++] =
            (struct rerouted_syn){c->peer, c->local, c->last_syn, c->last_syn_len};
        c->last_syn = NULL;
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n; /* the counter is read on every wake */
    }
    pthread_mutex_unlock(&ls->lock);
}

/* The connection's transport thread has returned: release whoever waits. */
static void listener_child_gone(struct mysock *ls, struct mysock *child, bool never_ready);

/* transport_init returned, with errno transport_errno.  As in the classic
 * framework, a connection never unblocked fails with that errno, or with
 * ECONNREFUSED (active) / ECONNABORTED (passive) if it is 0 or EINTR. */
static void conn_transport_finished(struct mysock *s, int transport_errno)
{
    struct conn *c = s->conn;
    pthread_mutex_lock(&s->lock);
    c->transport_done = true;
    bool never_ready = !c->unblocked || c->connect_errno;
    if (!c->unblocked) {
        int err = c->error ? c->error : transport_errno;
        if (!err || err == EINTR)
            err = c->is_active ? ECONNREFUSED : ECONNABORTED;
        c->unblocked = true;
        c->connect_errno = err;
    }
    if (!c->close_done) {
        c->close_done = true;
        c->close_err = c->error;
    }
    conn_update_linger(c);
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&c->rd_cv);
    pthread_cond_broadcast(&c->wr_cv);
    struct mysock *parent = c->parent;
    bool reroute = conn_syn_for_listener(c, never_ready);
    if (parent) {
        /* Nobody reads its endpoint any more: what the peer sends from now
         * on reaches the listener (a new SYN, or a segment it answers
         * with RST, as for no connection). */
        net_ep_close(c->ep);
        c->ep = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (parent) {
        listener_child_gone(parent, s, never_ready);
        if (reroute)
            listener_reroute(parent, c);
        sock_put(parent);
    }
}

/* Run one connection's transport to its end, on the calling thread. */
static void conn_run(struct mysock *s)
{
    log_msg(STCP_LOG_DEBUG, s->conn->name, "transport starts (%s)",
            s->conn->is_active ? "active" : "passive");
    s->conn->thread = pthread_self();
    errno = 0;
    transport_init(s->sd, s->conn->is_active ? TRUE : FALSE);
    conn_transport_finished(s, errno);
    log_msg(STCP_LOG_DEBUG, s->conn->name, "transport ends");
    sock_put(s); /* the transport's reference */
}

static int spawn_detached(void *(*fn)(void *), void *arg, pthread_t *tid, bool detached)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Only the pages a thread touches are resident; the transport's
     * deepest frame holds one received segment (up to 64 KiB). */
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (detached)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(tid ? tid : &t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc) {
        errno = rc;
        return -1;
    }
    return 0;
}

/* ------------------------- The transport threads ------------------------- */

/* Each connection runs on a transport thread, as in the classic framework
 * (transport_init blocks for the connection's life).  A thread whose
 * transport_init returned waits, up to STCP_THREAD_IDLE_MS (default 10 s),
 * for the next connection instead of exiting, so opening a connection
 * creates no thread while one is idle.  There are never more threads than
 * connections, so the socket table's limit bounds them. */
#define POOL_IDLE_MS_DEFAULT 10000

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static struct mysock *pool_head, *pool_tail; /* connections waiting for a thread */
static int pool_waiting;                     /* their number */
static int pool_idle;                        /* threads waiting for a connection */
static long pool_idle_ms = POOL_IDLE_MS_DEFAULT;

static void pool_init(void)
{
    wake_signal_init();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool_cv, &attr);
    pthread_condattr_destroy(&attr);
    const char *v = getenv("STCP_THREAD_IDLE_MS");
    if (v && *v)
        pool_idle_ms = MAX(0L, strtol(v, NULL, 10));
}

/* CLOCK_MONOTONIC now + ms. */
static struct timespec deadline_after_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* The next connection to run, or NULL once the thread has idled long enough.
 * Pool lock held. */
static struct mysock *pool_next(void)
{
    struct timespec deadline = deadline_after_ms(pool_idle_ms);
    pool_idle++;
    while (!pool_head)
        if (pthread_cond_timedwait(&pool_cv, &pool_lock, &deadline) == ETIMEDOUT)
            break;
    pool_idle--;
    struct mysock *s = pool_head;
    if (s) {
        pool_head = s->conn->next_start;
        if (!pool_head)
            pool_tail = NULL;
        s->conn->next_start = NULL;
        pool_waiting--;
    }
    return s;
}

static void *transport_thread(void *arg)
{
    struct mysock *s = arg;
    block_wake_signal();
    while (s) {
        conn_run(s);
        pthread_mutex_lock(&pool_lock);
        s = pool_next();
        pthread_mutex_unlock(&pool_lock);
    }
    return NULL;
}

static int conn_start(struct mysock *s)
{
    pthread_once(&pool_once, pool_init);
    sock_hold(s); /* the transport's reference */
    pthread_mutex_lock(&pool_lock);
    bool handed = pool_idle > pool_waiting; /* an idle thread is free to take it */
    if (handed) {
        if (pool_tail)
            pool_tail->conn->next_start = s;
        else
            pool_head = s;
        pool_tail = s;
        pool_waiting++;
        pthread_cond_signal(&pool_cv);
    }
    pthread_mutex_unlock(&pool_lock);
    if (!handed && spawn_detached(transport_thread, s, NULL, true) < 0) {
        int saved = errno;
        sock_put(s);
        errno = saved;
        return -1;
    }
    return 0;
}

/* =============================== Listeners ================================ */

struct listener_child {
    uint32_t ip;
    uint16_t port;
    mysocket_t sd;
};

/* Room for one more child: the array doubles as needed.  Listener lock held. */
static int children_room(struct listener *l)
{
    if (l->nchildren < l->children_cap)
        return 0;
    int cap = 2 * l->children_cap;
    struct listener_child *c = realloc(l->children, (size_t)cap * sizeof *c);
    if (!c)
        return -1;
    l->children = c;
    l->children_cap = cap;
    return 0;
}

static mysocket_t listener_find_child(struct listener *l, const struct sockaddr_in *peer)
{
    for (int i = 0; i < l->nchildren; i++)
        if (l->children[i].ip == peer->sin_addr.s_addr && l->children[i].port == peer->sin_port)
            return l->children[i].sd;
    return -1;
}

static void listener_child_gone(struct mysock *ls, struct mysock *child, bool never_ready)
{
    pthread_mutex_lock(&ls->lock);
    struct listener *l = ls->lst;
    for (int i = 0; i < l->nchildren; i++) {
        if (l->children[i].sd == child->sd) {
            l->children[i] = l->children[--l->nchildren];
            break;
        }
    }
    bool drop_app_ref = never_ready;
    if (never_ready)
        l->pending--;
    pthread_mutex_unlock(&ls->lock);
    if (drop_app_ref) {
        /* Nobody will ever accept it: it was the application's reference. */
        pthread_mutex_lock(&child->lock);
        child->app_open = false;
        pthread_mutex_unlock(&child->lock);
        sock_put(child);
    }
}

/* Close a connection on the application's behalf (its listener closed
 * before accepting it). */
static void conn_orphan(struct mysock *s)
{
    pthread_mutex_lock(&s->lock);
    s->app_open = false;
    s->conn->close_requested = true;
    conn_wake(s->conn, APP_CLOSE_REQUESTED);
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
}

mysocket_t listener_open_conn(struct mysock *ls, const struct sockaddr_in *local,
                              const struct sockaddr_in *peer, void *context, const void *segment,
                              size_t len)
{
    pthread_mutex_lock(&ls->lock);
    struct listener *l = ls->lst;
    if (l->stopping || l->pending >= l->backlog || children_room(l) < 0) {
        pthread_mutex_unlock(&ls->lock);
        errno = EAGAIN;
        return -1;
    }
    l->pending++;
    pthread_mutex_unlock(&ls->lock);

    struct mysock *s = sock_alloc(ls->reliable);
    struct conn *c = NULL;
    if (!s)
        goto fail;
    memcpy(s->opt, ls->opt, sizeof s->opt);
    memcpy(s->cc, ls->cc, sizeof s->cc);
    s->netem = ls->netem;
    s->kind = SOCK_CONN;
    c = conn_new(s, local, peer);
    if (!c)
        goto fail;
    s->conn = c;
    c->ep = net_ep_open(local, peer, true);
    if (!c->ep)
        goto fail;
    net_ep_set_counters(c->ep, &s->ctr);
    net_ep_set_name(c->ep, c->name);
    net_ep_size_buffers(c->ep, (size_t)sock_option(s, MYSO_WINDOW));
    if (!s->reliable)
        net_ep_set_netem(c->ep, &s->netem);
    c->context = context;
    sock_hold(ls);
    c->parent = ls;
    if (segment)
        conn_inbox_put(c, segment, len);
    if (segment && is_pure_syn(segment, len)) {
        c->has_first_syn = true;
        c->first_syn_seq = ntohl(((const STCPHeader *)segment)->th_seq);
    }

    pthread_mutex_lock(&ls->lock);
    if (children_room(l) == 0) /* else only its racing segments go unrouted */
        l->children[l->nchildren++] =
            (struct listener_child){peer->sin_addr.s_addr, peer->sin_port, s->sd};
    pthread_mutex_unlock(&ls->lock);
    /* Once its thread runs the connection may end and be freed at any
     * moment: nothing of it is touched after conn_start. */
    mysocket_t sd = s->sd;
    log_msg(STCP_LOG_INFO, c->name, "connection opened by listener sd %d", ls->sd);
    if (conn_start(s) < 0) {
        /* Undo as if its transport had run and failed. */
        c->unblocked = true;
        c->connect_errno = errno;
        conn_transport_finished(s, c->connect_errno);
        return -1;
    }
    return sd;
fail : {
    int saved = errno;
    report_fd_limit(saved);
    if (s)
        sock_put(s);
    pthread_mutex_lock(&ls->lock);
    l->pending--;
    pthread_mutex_unlock(&ls->lock);
    errno = saved;
    return -1;
}
}

/* A passive connection is established: queue it for myaccept. */
void conn_established(struct mysock *s)
{
    struct mysock *ls = s->conn->parent;
    if (!ls)
        return;
    pthread_mutex_lock(&ls->lock);
    struct listener *l = ls->lst;
    bool queued = false;
    if (!l->stopping && l->ready_count < l->backlog) {
        l->ready[(l->ready_head + l->ready_count) % l->backlog] = s->sd;
        l->ready_count++;
        queued = true;
        pthread_cond_broadcast(&ls->cv);
    }
    if (!queued)
        l->pending--;
    pthread_mutex_unlock(&ls->lock);
    if (!queued)
        conn_orphan(s);
}

/* Route one segment that arrived at the listening socket. */
static void listener_route(struct mysock *ls, const uint8_t *seg, size_t len,
                           const struct sockaddr_in *peer, const struct sockaddr_in *local)
{
    pthread_mutex_lock(&ls->lock);
    mysocket_t sd = listener_find_child(ls->lst, peer);
    pthread_mutex_unlock(&ls->lock);
    if (sd >= 0) {
        /* It raced the connection's own endpoint into existence. */
        struct mysock *child = sock_ref(sd);
        if (child) {
            pthread_mutex_lock(&child->lock);
            if (!conn_inbox_put(child->conn, seg, len))
                NET_COUNT(&ls->ctr, no_connection);
            pthread_mutex_unlock(&child->lock);
            sock_put(child);
        }
        return;
    }
    if (&transport_listen_input != NULL) {
        int used = transport_listen_input(ls->sd, seg, len, local, peer);
        if (used < 0)
            NET_COUNT(&ls->ctr, no_connection);
        if (used)
            return;
    }
    const STCPHeader *h = (const STCPHeader *)seg;
    /* A SYN (not SYN+FIN, a scanner's trick) opens a connection. */
    if ((h->th_flags & (TH_SYN | TH_ACK | TH_FIN)) == TH_SYN) {
        if (listener_open_conn(ls, local, peer, NULL, seg, len) < 0)
            NET_COUNT(&ls->ctr, no_connection);
        return;
    }
    NET_COUNT(&ls->ctr, no_connection);
    /* Anything else is for a connection that does not exist (RFC 9293
     * 3.10.7.1); a SYN+FIN gets nothing, as a SYN would open nothing. */
    if (!(h->th_flags & TH_SYN))
        net_send_rst(ls->lst->ep, local, peer, seg, len);
}

/* The wake eventfd was written: true if for myclose, else route the SYNs
 * that ended TIME_WAITs (listener_reroute). */
static bool listener_wake(struct mysock *ls)
{
    struct listener *l = ls->lst;
    uint64_t count;
    ssize_t r = read(l->wake_fd, &count, sizeof count);
    (void)r; /* nonblocking: already read by an earlier wake */
    pthread_mutex_lock(&ls->lock);
    bool stop = l->stopping;
    int n = stop ? 0 : l->nreroute;
    struct rerouted_syn syns[SEGQ_SLOTS];
    memcpy(syns, l->reroute, (size_t)n * sizeof *syns);
    l->nreroute -= n;
    pthread_mutex_unlock(&ls->lock);
    for (int i = 0; i < n; i++) {
        listener_route(ls, syns[i].seg, syns[i].len, &syns[i].peer, &syns[i].local);
        free(syns[i].seg);
    }
    return stop;
}

static void *listener_thread(void *arg)
{
    struct mysock *ls = arg;
    struct listener *l = ls->lst;
    size_t cap = net_carrier_max_segment();
    uint8_t *seg = malloc(cap);
    if (!seg)
        return NULL;
    struct pollfd pfd[2] = {{net_ep_fd(l->ep), POLLIN, 0}, {l->wake_fd, POLLIN, 0}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents && listener_wake(ls))
            break; /* myclose */
        for (int i = 0; i < 64; i++) {
            struct sockaddr_in peer, local;
            ssize_t n = net_recv_segment(l->ep, seg, cap, &peer, &local);
            if (n < 0)
                break;
            listener_route(ls, seg, (size_t)n, &peer, &local);
        }
    }
    free(seg);
    return NULL;
}

/* ========================= The application's calls ======================== */

mysocket_t mysocket(bool_t is_reliable)
{
    struct netem_profile em;
    if (net_carrier_init() < 0)
        return -1;
    if (!is_reliable && netem_process_profile(&em) < 0)
        return -1;
    pthread_once(&linger_once, linger_init);
    struct mysock *s = sock_alloc(is_reliable != FALSE);
    if (!s)
        return -1;
    if (!is_reliable)
        s->netem = em;
    const char *isn = getenv("STCP_ISN");
    if (isn && *isn)
        s->opt[MYSO_ISN] = (long)strtoul(isn, NULL, 0);
    /* The one place STCP_CC is read: the default of MYSO_CC. */
    const char *cc = getenv("STCP_CC");
    if (cc && *cc) {
        if (!cc_name_valid(cc)) {
            fprintf(stderr, "STCP_CC: unknown congestion control '%s'\n", cc);
            sock_put(s);
            errno = EINVAL;
            return -1;
        }
        snprintf(s->cc, sizeof s->cc, "%s", cc);
    }
    return s->sd;
}

static int check_inet(const struct sockaddr *addr, int addrlen)
{
    if (!addr || addrlen < (int)sizeof(struct sockaddr_in)) {
        errno = EINVAL;
        return -1;
    }
    if (addr->sa_family != AF_INET) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return 0;
}

int mybind(mysocket_t sd, struct sockaddr *addr, int addrlen)
{
    if (check_inet(addr, addrlen) < 0)
        return -1;
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (s->kind != SOCK_FRESH || s->ep) {
        errno = EINVAL;
    } else {
        struct sockaddr_in local;
        memcpy(&local, addr, sizeof local);
        s->ep = net_ep_open(&local, NULL, false);
        if (s->ep) {
            net_ep_set_counters(s->ep, &s->ctr);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    return rc;
}

static struct net_ep *any_endpoint(void)
{
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct net_ep *ep = net_ep_open(&any, NULL, false);
    if (!ep)
        report_fd_limit(errno);
    return ep;
}

static int listen_start(struct mysock *s, int backlog)
{
    if (!s->ep && !(s->ep = any_endpoint()))
        return -1;
    if (net_ep_share(s->ep) < 0)
        return -1;
    struct listener *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    l->backlog = backlog;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->ready = calloc((size_t)backlog, sizeof *l->ready);
    l->children_cap = 64; /* grows with the connections (listener_open_conn) */
    l->children = calloc((size_t)l->children_cap, sizeof *l->children);
    if (l->wake_fd < 0 || !l->ready || !l->children) {
        if (l->wake_fd >= 0)
            close(l->wake_fd);
        free(l->ready);
        free(l->children);
        free(l);
        errno = ENOMEM;
        return -1;
    }
    l->ep = s->ep;
    s->ep = NULL;
    net_ep_set_counters(l->ep, &s->ctr);
    net_ep_set_name(l->ep, "listener");
    if (!s->reliable)
        net_ep_set_netem(l->ep, &s->netem);
    s->lst = l;
    s->kind = SOCK_LISTENER;
    if (spawn_detached(listener_thread, s, &l->thread, false) < 0)
        return -1;
    l->thread_running = true;
    return 0;
}

int mylisten(mysocket_t sd, int backlog)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    if (backlog < 1)
        backlog = 1;
    if (backlog > sock_table_limit())
        backlog = sock_table_limit();
    int rc = 0;
    bool started = false;
    pthread_mutex_lock(&s->lock);
    if (s->kind == SOCK_CONN) {
        errno = EINVAL;
        rc = -1;
    } else if (s->kind == SOCK_FRESH) {
        rc = listen_start(s, backlog);
        started = rc == 0;
    }
    pthread_mutex_unlock(&s->lock);
    if (started && &transport_listen_start != NULL)
        transport_listen_start(sd);
    sock_put(s);
    return rc;
}

int myconnect(mysocket_t sd, struct sockaddr *name, int namelen)
{
    if (check_inet(name, namelen) < 0)
        return -1;
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    struct sockaddr_in peer;
    memcpy(&peer, name, sizeof peer);
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (s->kind != SOCK_FRESH) {
        errno = s->kind == SOCK_CONN ? EISCONN : EINVAL;
        goto out;
    }
    if (!s->ep && !(s->ep = any_endpoint()))
        goto out;
    if (net_ep_connect(s->ep, &peer) < 0)
        goto out;
    struct sockaddr_in local;
    net_ep_local(s->ep, &local);
    struct conn *c = conn_new(s, &local, &peer);
    if (!c)
        goto out;
    c->ep = s->ep;
    s->ep = NULL;
    c->is_active = true;
    net_ep_set_counters(c->ep, &s->ctr);
    net_ep_set_name(c->ep, c->name);
    net_ep_size_buffers(c->ep, (size_t)sock_option(s, MYSO_WINDOW));
    if (!s->reliable)
        net_ep_set_netem(c->ep, &s->netem);
    s->conn = c;
    s->kind = SOCK_CONN;
    if (conn_start(s) < 0) {
        c->unblocked = c->transport_done = c->close_done = true;
        c->connect_errno = errno;
        goto out;
    }
    while (!c->unblocked)
        pthread_cond_wait(&s->cv, &s->lock);
    if (c->connect_errno)
        errno = c->connect_errno;
    else
        rc = 0;
out:
    pthread_mutex_unlock(&s->lock);
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): reference counted (sock_put) */
    sock_put(s);
    return rc;
}

int myaccept(mysocket_t sd, struct sockaddr *addr, int *addrlen)
{
    struct mysock *ls = sock_get(sd);
    if (!ls)
        return -1;
    mysocket_t child = -1;
    pthread_mutex_lock(&ls->lock);
    if (ls->kind != SOCK_LISTENER) {
        errno = EINVAL;
    } else {
        struct listener *l = ls->lst;
        while (!l->ready_count && ls->app_open)
            pthread_cond_wait(&ls->cv, &ls->lock);
        if (l->ready_count) {
            child = l->ready[l->ready_head];
            l->ready_head = (l->ready_head + 1) % l->backlog;
            l->ready_count--;
            l->pending--;
        } else {
            errno = EBADF; /* closed while we waited */
        }
    }
    pthread_mutex_unlock(&ls->lock);
    sock_put(ls);
    if (child >= 0 && addr && addrlen) {
        struct mysock *s = sock_ref(child);
        if (s) {
            pthread_mutex_lock(&s->lock);
            s->conn->accepted = true;
            int n = MIN(*addrlen, (int)sizeof s->conn->peer);
            memcpy(addr, &s->conn->peer, (size_t)n);
            *addrlen = (int)sizeof s->conn->peer;
            pthread_mutex_unlock(&s->lock);
            sock_put(s);
        }
    }
    return child;
}

/* The connection of an application call, or NULL with errno. */
static struct conn *app_conn(struct mysock *s)
{
    if (s->kind != SOCK_CONN) {
        errno = s->kind == SOCK_LISTENER ? EINVAL : ENOTCONN;
        return NULL;
    }
    return s->conn;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A myread has waited as long as the transport asked (its keepalive idle
 * time): tell it, once, so it can start keepalives.  Lock held. */
static void reader_went_idle(struct conn *c)
{
    __atomic_store_n(&c->reader_idle, true, __ATOMIC_RELAXED);
    c->reader_news = true;
    conn_wake(c, ~0u);
}

int myread(mysocket_t sd, void *buffer, size_t length)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    struct conn *c = app_conn(s);
    if (!c)
        goto out;
    if (!buffer && length) {
        errno = EFAULT;
        goto out;
    }
    length = MIN(length, (size_t)INT32_MAX);
    long timeout_ms = sock_option(s, MYSO_RCVTIMEO);
    struct timespec deadline = deadline_after_ms(timeout_ms);
    bool timed_out = false;
    long watch_ms = __atomic_load_n(&c->reader_watch_ms, __ATOMIC_RELAXED);
    struct timespec idle_at = deadline_after_ms(watch_ms);
    while (!c->rcvq.len && length && !c->fin_received && !c->error && !c->transport_done &&
           s->app_open && !c->shut_rd && !timed_out) {
        if (watch_ms > 0 && !c->reader_idle && (!timeout_ms || ts_before(&idle_at, &deadline))) {
            if (pthread_cond_timedwait(&c->rd_cv, &s->lock, &idle_at) == ETIMEDOUT)
                reader_went_idle(c);
        } else if (timeout_ms) {
            timed_out = pthread_cond_timedwait(&c->rd_cv, &s->lock, &deadline) == ETIMEDOUT;
        } else {
            pthread_cond_wait(&c->rd_cv, &s->lock);
        }
    }
    if (c->reader_idle)
        __atomic_store_n(&c->reader_idle, false, __ATOMIC_RELAXED);
    if (c->rcvq.len || !length) {
        rc = (int)byteq_get(&c->rcvq, buffer, length);
        c->app_read = true;
        conn_wake(c, APP_READ);
        if (c->app_send_blocked)
            pthread_cond_broadcast(&s->cv);
    } else if (c->error && !c->fin_received && !c->shut_rd) {
        errno = c->error;
    } else if (c->fin_received || c->transport_done || c->shut_rd) {
        rc = 0; /* end of the peer's data, or shut down for reading */
    } else if (timed_out) {
        errno = EAGAIN;
    } else {
        errno = EBADF;
    }
out:
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    return rc;
}

/* What mywrite copies between two looks at the queue: the transport is
 * woken with the first piece instead of after the whole call. */
#define WRITE_PIECE (64u << 10)

/* Why mywrite cannot go on (0: it can).  Lock held. */
static int write_refused(const struct mysock *s, const struct conn *c)
{
    if (c->error)
        return c->error;
    if (c->transport_done || c->close_requested || c->shut_wr)
        return EPIPE;
    return s->app_open ? 0 : EBADF;
}

/* The bytes are copied into the send queue without the lock: the first
 * touch of a large queue's pages costs page faults (about 20 us each on a
 * virtual machine, 15 ms for a 3 MiB queue), and a writer that held the
 * lock through them kept the transport thread from taking the first
 * bytes -- the first data segment of a 16 MiB transfer went 19 ms after
 * the request.  Only the writer writes the queue's free space, so the
 * piece is its own until committed; concurrent mywrites wait for the
 * call whose piece is out (c->writing). */
int mywrite(mysocket_t sd, const void *buffer, size_t length)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    size_t done = 0;
    int err = 0;
    pthread_mutex_lock(&s->lock);
    struct conn *c = app_conn(s);
    if (!c)
        err = errno ? errno : ENOTCONN;
    else if (!buffer && length)
        err = EFAULT;
    length = MIN(length, (size_t)INT32_MAX);
    while (c && !err && done < length && !(err = write_refused(s, c))) {
        if (c->writing) { /* another thread's piece is being copied */
            c->writers_queued++;
            pthread_cond_wait(&c->wr_cv, &s->lock);
            c->writers_queued--;
            continue;
        }
        size_t room;
        uint8_t *dst = byteq_tail(&c->sndq, MIN(length - done, WRITE_PIECE), &room);
        if (!dst) {
            if (byteq_put_failed(&c->sndq, length - done)) {
                err = ENOMEM;
                break;
            }
            pthread_cond_wait(&c->wr_cv, &s->lock);
            continue;
        }
        c->writing = true;
        pthread_mutex_unlock(&s->lock);
        memcpy(dst, (const uint8_t *)buffer + done, room);
        pthread_mutex_lock(&s->lock);
        c->writing = false;
        /* A close or SHUT_WR meanwhile: the piece is not taken (as if it
         * had come after them), and the loop's check says EPIPE. */
        if (write_refused(s, c))
            continue;
        byteq_commit(&c->sndq, room);
        done += room;
        conn_wake(c, APP_DATA);
    }
    /* The turn ends with the call (a writer keeps it from piece to piece,
     * so one call's bytes go in one run unless the queue fills). */
    if (c && c->writers_queued)
        pthread_cond_broadcast(&c->wr_cv);
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    if (err && !done) {
        errno = err;
        return -1;
    }
    return (int)done;
}

static void listener_close(struct mysock *s)
{
    struct listener *l = s->lst;
    pthread_mutex_lock(&s->lock);
    l->stopping = true;
    int n = l->ready_count;
    mysocket_t *unaccepted = malloc(sizeof *unaccepted * (size_t)(n ? n : 1));
    for (int i = 0; i < n && unaccepted; i++)
        unaccepted[i] = l->ready[(l->ready_head + i) % l->backlog];
    l->ready_count = 0;
    l->pending -= n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);

    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) == (ssize_t)sizeof one && l->thread_running)
        pthread_join(l->thread, NULL);
    l->thread_running = false;
    net_ep_close(l->ep);
    l->ep = NULL;
    for (int i = 0; i < n && unaccepted; i++) {
        struct mysock *child = sock_ref(unaccepted[i]);
        if (child) {
            conn_orphan(child); /* drops the application's reference */
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): reference counted (sock_put) */
            sock_put(child);
        }
    }
    free(unaccepted);
}

static int conn_close(struct mysock *s)
{
    struct conn *c = s->conn;
    pthread_mutex_lock(&s->lock);
    c->close_requested = true;
    c->discarded = c->rcvq.len; /* the transport aborts if this is not 0 */
    c->rcvq.len = 0;            /* nobody will read it now */
    conn_wake(c, APP_CLOSE_REQUESTED | APP_CLOSED);
    pthread_cond_broadcast(&s->cv); /* a transport blocked in stcp_app_send */
    pthread_cond_broadcast(&c->rd_cv);
    pthread_cond_broadcast(&c->wr_cv);
    while (!c->close_done)
        pthread_cond_wait(&s->cv, &s->lock);
    conn_update_linger(c);
    int err = c->close_err;
    pthread_mutex_unlock(&s->lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int myclose_stats(mysocket_t sd, struct mystats *stats)
{
    struct mysock *s = sock_get(sd); /* keeps the figures readable after myclose */
    if (!s)
        return -1;
    int rc = myclose(sd);
    int err = errno;
    if (stats)
        stats_read(s, stats);
    sock_put(s);
    errno = err;
    return rc;
}

int myclose(mysocket_t sd)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    pthread_mutex_lock(&s->lock);
    bool was_open = s->app_open;
    s->app_open = false; /* new calls on sd fail with EBADF from here on */
    pthread_mutex_unlock(&s->lock);
    int rc = 0;
    if (!was_open) {
        errno = EBADF;
        rc = -1;
    } else {
        if (s->kind == SOCK_LISTENER)
            listener_close(s);
        else if (s->kind == SOCK_CONN)
            rc = conn_close(s);
        sock_put(s); /* the application's reference */
    }
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): reference counted (sock_put) */
    sock_put(s);
    return rc;
}

/* Half-close.  The transport learns of SHUT_WR as APP_CLOSE_REQUESTED once
 * the data written before it is taken; SHUT_RD stays here: the receive
 * queue is emptied and whatever arrives later is discarded (stcp_app_space
 * then reports the whole queue free, so the peer is never stalled). */
static void conn_shutdown(struct mysock *s, struct conn *c, int how)
{
    if (how == SHUT_WR || how == SHUT_RDWR) {
        c->shut_wr = true;
        conn_wake(c, APP_CLOSE_REQUESTED);
        pthread_cond_broadcast(&c->wr_cv); /* a blocked mywrite fails with EPIPE */
    }
    if (how == SHUT_RD || how == SHUT_RDWR) {
        c->shut_rd = true;
        c->rcvq.len = 0;
        c->app_read = true; /* the window opens: tell the transport */
        conn_wake(c, APP_READ);
        pthread_cond_broadcast(&s->cv); /* a transport blocked in stcp_app_send */
        pthread_cond_broadcast(&c->rd_cv);
    }
}

int myshutdown(mysocket_t sd, int how)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        errno = EINVAL;
    else if (s->kind != SOCK_CONN || s->conn->transport_done || s->conn->error)
        errno = ENOTCONN;
    else {
        conn_shutdown(s, s->conn, how);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    return rc;
}

static int copy_addr(const struct sockaddr_in *a, struct sockaddr *addr, socklen_t *addrlen)
{
    if (!addr || !addrlen) {
        errno = EFAULT;
        return -1;
    }
    memcpy(addr, a, MIN((size_t)*addrlen, sizeof *a));
    *addrlen = sizeof *a;
    return 0;
}

int mygetsockname(mysocket_t sd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    struct sockaddr_in local = {.sin_family = AF_INET};
    pthread_mutex_lock(&s->lock);
    if (s->conn)
        local = s->conn->local;
    else if (s->lst)
        net_ep_local(s->lst->ep, &local);
    else if (s->ep)
        net_ep_local(s->ep, &local);
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    return copy_addr(&local, addr, addrlen);
}

int mygetpeername(mysocket_t sd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct mysock *s = sock_get(sd);
    if (!s)
        return -1;
    struct sockaddr_in peer;
    pthread_mutex_lock(&s->lock);
    bool connected = s->conn != NULL;
    if (connected)
        peer = s->conn->peer;
    pthread_mutex_unlock(&s->lock);
    sock_put(s);
    if (!connected) {
        errno = ENOTCONN;
        return -1;
    }
    return copy_addr(&peer, addr, addrlen);
}

uint32_t mylocalip(uint32_t peer_addr)
{
    if (net_carrier_shared())
        return net_carrier_local_ip(peer_addr);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(9)};
    peer.sin_addr.s_addr = peer_addr;
    struct sockaddr_in local = {0};
    socklen_t len = sizeof local;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return htonl(INADDR_ANY);
    if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0 ||
        getsockname(fd, (struct sockaddr *)&local, &len) < 0)
        local.sin_addr.s_addr = htonl(INADDR_ANY);
    close(fd);
    return local.sin_addr.s_addr;
}
