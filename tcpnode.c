/* tcpnode.c -- an interactive TCP node on the STCP stack.
 *
 *   tcpnode [-U] [-a ADDR] [-w WINDOW]
 *
 * Reads commands from standard input, one a line, with the names and
 * argument order of the nodes that TCP courses drive their stacks with
 * (a, c, s, r, sf, rf, sd, cl, ls, ...; "h" lists them).  On a terminal it
 * offers GNU readline editing and history with a "> " prompt; from a pipe
 * or file it reads silently, so sessions can be scripted.  Listeners and
 * file transfers run in threads of their own; what they print goes through
 * one lock (and, at a prompt, around readline), so lines never interleave.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cc.h" /* the registry of congestion-control algorithms, for lc */
#include "mysock.h"

/* ================================ Options ================================= */

static struct {
    bool_t reliable;
    long window;              /* 0: the stack's default */
    struct in_addr bind_addr; /* what a and rf listen on */
    bool interactive;         /* stdin is a terminal: readline */
} opt = {TRUE, 0, {0}, false};

/* Largest r: the bytes are held and printed in one line. */
#define READ_MAX (1L << 20)
/* File transfers running at once. */
#define MAX_TRANSFERS  16
#define LISTEN_BACKLOG 16

/* ================================ Output ================================== */

/* Every line goes through say().  While readline shows the prompt (the
 * main thread is idle), lines from other threads are queued and the main
 * thread prints them around the prompt; otherwise they print at once. */
struct line {
    struct line *next;
    char text[];
};
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool prompt_up; /* readline owns the terminal line */
static struct line *queued, **queued_tail = &queued;
static int wake_pipe[2] = {-1, -1};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    pthread_mutex_lock(&out_lock);
    struct line *l = prompt_up ? malloc(sizeof *l + (size_t)n + 1) : NULL;
    if (l) {
        l->next = NULL;
        memcpy(l->text, text, (size_t)n + 1);
        *queued_tail = l;
        queued_tail = &l->next;
        char one = 1;
        ssize_t w = write(wake_pipe[1], &one, 1);
        (void)w; /* a full pipe already means "wake up" */
    } else {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    pthread_mutex_unlock(&out_lock);
    free(text);
}

/* "connection refused": strerror, lower case, for one-line errors. */
static const char *why(int err)
{
    static __thread char buf[128];
    snprintf(buf, sizeof buf, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

static void addr_text(const struct sockaddr_in *a, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
}

/* ============================== Socket table ============================== */

/* The sockets this node knows.  A socket a file transfer uses is "busy":
 * the commands that act on sockets leave it alone (ls still shows it). */
enum kind { KIND_NONE, KIND_LISTENER, KIND_CONN };
struct entry {
    pthread_t thread;  /* a listener's accepting thread */
    const char *owner; /* "sf", "rf" or NULL (the user's) */
    enum kind kind;
    bool acceptor; /* thread runs (a) */
};
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[MAX_NUM_CONNECTIONS];

static void entry_add(mysocket_t sd, enum kind kind, const char *owner)
{
    pthread_mutex_lock(&table_lock);
    table[sd] = (struct entry){.kind = kind, .owner = owner};
    pthread_mutex_unlock(&table_lock);
}

static void entry_remove(mysocket_t sd)
{
    pthread_mutex_lock(&table_lock);
    table[sd].kind = KIND_NONE;
    pthread_mutex_unlock(&table_lock);
}

/* A socket that cmd may act on, or -1 after saying why. */
static mysocket_t user_socket(const char *cmd, const char *arg, enum kind want)
{
    char *end;
    errno = 0;
    long sd = arg ? strtol(arg, &end, 10) : -1;
    if (!arg || errno || *end || sd < 0 || sd >= MAX_NUM_CONNECTIONS) {
        say("%s: '%s' is not a socket number", cmd, arg ? arg : "");
        return -1;
    }
    pthread_mutex_lock(&table_lock);
    struct entry e = table[sd];
    pthread_mutex_unlock(&table_lock);
    if (e.kind == KIND_NONE) {
        say("%s: no socket %ld", cmd, sd);
        return -1;
    }
    if (e.owner) {
        say("%s: socket %ld is in use by a file transfer (%s)", cmd, sd, e.owner);
        return -1;
    }
    if (want != KIND_NONE && e.kind != want) {
        say("%s: socket %ld is %s", cmd, sd,
            e.kind == KIND_LISTENER ? "a listening socket" : "not a listening socket");
        return -1;
    }
    return (mysocket_t)sd;
}

/* ================================ Helpers ================================= */

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || errno || *end || v < 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool parse_addr(const char *ip, const char *port, struct sockaddr_in *out)
{
    *out = (struct sockaddr_in){.sin_family = AF_INET};
    uint16_t p;
    if (!ip || inet_pton(AF_INET, ip, &out->sin_addr) != 1 || !parse_port(port, &p) || !p)
        return false;
    out->sin_port = htons(p);
    return true;
}

/* The algorithm new sockets get ("sc default ALGO"); "": the framework's
 * default (STCP_CC, else cubic).  Only the main thread touches it. */
static char default_cc[MYSO_STR_MAX];

/* A new socket with the node's options, and congestion control cc (NULL
 * or "": the node's default).  The algorithm is read when the connection
 * starts, so it must be set here, before mylisten or myconnect. */
static mysocket_t new_socket(const char *cc)
{
    if (!cc || !*cc)
        cc = default_cc;
    mysocket_t sd = mysocket(opt.reliable);
    if (sd >= 0 && ((opt.window && mysetsockopt(sd, MYSO_WINDOW, opt.window) < 0) ||
                    (*cc && mysetsockopt_str(sd, MYSO_CC, cc) < 0))) {
        int err = errno;
        myclose(sd);
        errno = err;
        return -1;
    }
    return sd;
}

/* A listening socket on port (0: any), or -1 with errno. */
static mysocket_t open_listener(uint16_t port)
{
    mysocket_t sd = new_socket(NULL);
    if (sd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr = opt.bind_addr;
    if (mybind(sd, (struct sockaddr *)&a, sizeof a) < 0 || mylisten(sd, LISTEN_BACKLOG) < 0) {
        int err = errno;
        myclose(sd);
        errno = err;
        return -1;
    }
    return sd;
}

/* A socket connected with congestion control cc (see new_socket), or -1
 * with errno. */
static mysocket_t open_connection(const struct sockaddr_in *peer, const char *cc)
{
    mysocket_t sd = new_socket(cc);
    if (sd < 0)
        return -1;
    if (myconnect(sd, (struct sockaddr *)peer, sizeof *peer) < 0) {
        int err = errno;
        myclose(sd);
        errno = err;
        return -1;
    }
    return sd;
}

/* A socket's address as get (mygetsockname or mygetpeername) gives it, or
 * "-". */
static void sock_text(mysocket_t sd, int (*get)(mysocket_t, struct sockaddr *, socklen_t *),
                      char *buf, size_t len)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    if (get(sd, (struct sockaddr *)&a, &alen) < 0)
        snprintf(buf, len, "-");
    else
        addr_text(&a, buf, len);
}

static void local_text(mysocket_t sd, char *buf, size_t len)
{
    sock_text(sd, mygetsockname, buf, len);
}

static void peer_text(mysocket_t sd, char *buf, size_t len)
{
    sock_text(sd, mygetpeername, buf, len);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void rate_text(double bytes, double secs, char *buf, size_t len)
{
    if (secs <= 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2f MB/s", bytes / secs / 1e6);
}

/* Bytes as one printable line: \n, \r, \t, \\ and \xNN for the rest. */
static char *escape(const uint8_t *p, size_t n)
{
    char *out = malloc(n * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\\') {
            *o++ = '\\';
            *o++ = '\\';
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c > 0x7e) {
            o += sprintf(o, "\\x%02x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* A socket's congestion control: what its transport reports once the
 * connection runs, else the option (what a listener's connections or a
 * connection yet to start will use). */
static void cc_text(mysocket_t sd, const struct mystats *st, char *buf, size_t len)
{
    if (st && st->cc[0])
        snprintf(buf, len, "%s", st->cc);
    else if (mygetsockopt_str(sd, MYSO_CC, buf, len) < 0)
        snprintf(buf, len, "-");
}

/* The framework's default algorithm (STCP_CC, else cubic), read once at
 * start from a socket made for the purpose: STCP_CC is the framework's to
 * read.  (So the user's first socket is number 1.) */
static char framework_cc[MYSO_STR_MAX] = "-";

static void read_framework_cc(void)
{
    mysocket_t sd = mysocket(TRUE);
    if (sd >= 0) {
        cc_text(sd, NULL, framework_cc, sizeof framework_cc);
        myclose(sd);
    }
}

/* ============================== Accepting (a) ============================= */

static void *acceptor(void *arg)
{
    mysocket_t lsd = (mysocket_t)((struct entry *)arg - table);
    for (;;) {
        struct sockaddr_in peer;
        int plen = sizeof peer;
        mysocket_t sd = myaccept(lsd, (struct sockaddr *)&peer, &plen);
        if (sd < 0)
            break; /* the listener was closed (cl, q) */
        entry_add(sd, KIND_CONN, NULL);
        char p[32];
        addr_text(&peer, p, sizeof p);
        say("socket %d: accepted from %s (listener %d)", sd, p, lsd);
    }
    return NULL;
}

/* ============================= File transfers ============================= */

struct transfer {
    pthread_t thread;
    FILE *file;
    struct sockaddr_in peer; /* sf: where to */
    mysocket_t lsd;          /* rf: the listener while it waits, else -1 */
    bool used, done;
    bool receive;          /* rf, else sf */
    char cc[MYSO_STR_MAX]; /* sf: congestion control ("": the default) */
    char name[256];
};
static struct transfer transfers[MAX_TRANSFERS];

static void *send_file(void *arg)
{
    struct transfer *t = arg;
    char p[32];
    addr_text(&t->peer, p, sizeof p);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mysocket_t sd = open_connection(&t->peer, t->cc);
    if (sd < 0) {
        say("sf: %s to %s: %s", t->name, p, why(errno));
        goto out;
    }
    entry_add(sd, KIND_CONN, "sf");
    uint8_t chunk[65536];
    size_t sent = 0, n;
    int err = 0;
    while (!err && (n = fread(chunk, 1, sizeof chunk, t->file)) > 0) {
        if (mywrite(sd, chunk, n) != (int)n)
            err = errno ? errno : EIO;
        else
            sent += n;
    }
    if (!err && ferror(t->file))
        err = EIO;
    entry_remove(sd);
    struct mystats st = {0};
    char cc[MYSO_STR_MAX];
    cc_text(sd, NULL, cc, sizeof cc);
    if (myclose_stats(sd, &st) < 0 && !err)
        err = errno;
    double secs = seconds_since(&t0);
    char rate[32];
    rate_text((double)sent, secs, rate, sizeof rate);
    if (err)
        say("sf: %s to %s failed after %zu bytes: %s", t->name, p, sent, why(err));
    else
        say("sf: sent %zu bytes of %s to %s in %.3f s (%s, %s)", sent, t->name, p, secs, rate,
            st.cc[0] ? st.cc : cc);
out:
    fclose(t->file);
    pthread_mutex_lock(&table_lock);
    t->done = true;
    pthread_mutex_unlock(&table_lock);
    return NULL;
}

static void *receive_file(void *arg)
{
    struct transfer *t = arg;
    pthread_mutex_lock(&table_lock);
    mysocket_t lsd = t->lsd;
    pthread_mutex_unlock(&table_lock);
    struct sockaddr_in peer;
    int plen = sizeof peer;
    mysocket_t sd = myaccept(lsd, (struct sockaddr *)&peer, &plen);
    /* One connection only: the listener goes (unless q closed it). */
    pthread_mutex_lock(&table_lock);
    bool ours = t->lsd >= 0;
    t->lsd = -1;
    pthread_mutex_unlock(&table_lock);
    if (ours) {
        entry_remove(lsd);
        myclose(lsd);
    }
    if (sd < 0) {
        say("rf: %s: cancelled, no connection came", t->name);
        goto out;
    }
    entry_add(sd, KIND_CONN, "rf");
    char p[32];
    addr_text(&peer, p, sizeof p);
    say("rf: socket %d: receiving from %s into %s", sd, p, t->name);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint8_t chunk[65536];
    size_t got = 0;
    int err = 0, n;
    while ((n = myread(sd, chunk, sizeof chunk)) > 0) {
        if (fwrite(chunk, 1, (size_t)n, t->file) != (size_t)n) {
            err = errno ? errno : EIO;
            break;
        }
        got += (size_t)n;
    }
    if (n < 0)
        err = errno;
    double secs = seconds_since(&t0);
    entry_remove(sd);
    myclose(sd);
    if (fflush(t->file) != 0 && !err)
        err = errno;
    char rate[32];
    rate_text((double)got, secs, rate, sizeof rate);
    if (err)
        say("rf: %s from %s failed after %zu bytes: %s", t->name, p, got, why(err));
    else
        say("rf: received %zu bytes from %s into %s in %.3f s (%s)", got, p, t->name, secs, rate);
out:
    fclose(t->file);
    pthread_mutex_lock(&table_lock);
    t->done = true;
    pthread_mutex_unlock(&table_lock);
    return NULL;
}

/* A free transfer slot (finished ones are joined here), or NULL. */
static struct transfer *transfer_slot(void)
{
    struct transfer *free_slot = NULL;
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        struct transfer *t = &transfers[i];
        pthread_mutex_lock(&table_lock);
        bool finished = t->used && t->done;
        pthread_mutex_unlock(&table_lock);
        if (finished) {
            pthread_join(t->thread, NULL);
            t->used = false;
        }
        if (!t->used && !free_slot)
            free_slot = t;
    }
    return free_slot;
}

static bool transfer_start(struct transfer *t, void *(*fn)(void *))
{
    t->used = true;
    t->done = false;
    int rc = pthread_create(&t->thread, NULL, fn, t);
    if (rc) {
        t->used = false;
        errno = rc;
        return false;
    }
    return true;
}

/* ================================ Commands ================================ */

/* Each command gets its argument words (argv[0] is the command) and the
 * raw text after the command word (s needs the rest of the line). */
struct command {
    const char *name;
    const char *args;
    const char *help;
    int min_args, max_args;
    void (*run)(int argc, char **argv, const char *rest);
};
static const struct command commands[];
static bool quit;

static void cmd_a(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    uint16_t port;
    if (!parse_port(argv[1], &port)) {
        say("usage: a PORT");
        return;
    }
    mysocket_t sd = open_listener(port);
    if (sd < 0) {
        say("a: %s", why(errno));
        return;
    }
    entry_add(sd, KIND_LISTENER, NULL);
    char l[32];
    local_text(sd, l, sizeof l);
    pthread_mutex_lock(&table_lock);
    int rc = pthread_create(&table[sd].thread, NULL, acceptor, &table[sd]);
    table[sd].acceptor = rc == 0;
    pthread_mutex_unlock(&table_lock);
    if (rc) {
        entry_remove(sd);
        myclose(sd);
        say("a: %s", why(rc));
        return;
    }
    say("socket %d: listening on %s", sd, l);
}

static void cmd_c(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    struct sockaddr_in peer;
    if (!parse_addr(argv[1], argv[2], &peer)) {
        say("usage: c IP PORT");
        return;
    }
    mysocket_t sd = open_connection(&peer, NULL);
    if (sd < 0) {
        say("c: %s", why(errno));
        return;
    }
    entry_add(sd, KIND_CONN, NULL);
    char l[32], p[32];
    local_text(sd, l, sizeof l);
    addr_text(&peer, p, sizeof p);
    say("socket %d: connected to %s from %s", sd, p, l);
}

static void cmd_s(int argc, char **argv, const char *rest)
{
    (void)argc;
    /* The data is the rest of the line after the socket number and one
     * space, exactly as typed. */
    const char *data = rest + strspn(rest, " \t");
    data += strcspn(data, " \t");
    if (*data)
        data++;
    if (!*data) {
        say("usage: s SOCKET DATA");
        return;
    }
    mysocket_t sd = user_socket("s", argv[1], KIND_CONN);
    if (sd < 0)
        return;
    size_t len = strlen(data);
    int n = mywrite(sd, data, len);
    if (n < 0)
        say("s: %s", why(errno));
    else if ((size_t)n < len)
        say("socket %d: sent %d of %zu bytes: %s", sd, n, len, why(errno));
    else
        say("socket %d: sent %d bytes", sd, n);
}

static void cmd_r(int argc, char **argv, const char *rest)
{
    (void)rest;
    char *end;
    errno = 0;
    long want = strtol(argv[2], &end, 10);
    bool all = argc == 4 && strcmp(argv[3], "y") == 0;
    if (errno || *end || want < 1 || want > READ_MAX ||
        (argc == 4 && strcmp(argv[3], "y") != 0 && strcmp(argv[3], "n") != 0)) {
        say("usage: r SOCKET N [y|n]   (1 <= N <= %ld)", READ_MAX);
        return;
    }
    mysocket_t sd = user_socket("r", argv[1], KIND_CONN);
    if (sd < 0)
        return;
    uint8_t *buf = malloc((size_t)want);
    if (!buf) {
        say("r: %s", why(ENOMEM));
        return;
    }
    long got = 0;
    int n = 0;
    do {
        n = myread(sd, buf + got, (size_t)(want - got));
        if (n > 0)
            got += n;
    } while (all && n > 0 && got < want);
    int err = n < 0 ? errno : 0;
    char *text = escape(buf, (size_t)got);
    const char *end_note = n == 0 ? " (end of data)" : "";
    if (err && !got)
        say("r: %s", why(err));
    else if (err)
        say("socket %d: read %ld bytes, then %s: %s", sd, got, why(err), text ? text : "");
    else
        say("socket %d: read %ld bytes%s%s%s", sd, got, end_note, got ? ": " : "",
            text ? text : "");
    free(text);
    free(buf);
}

static void cmd_sf(int argc, char **argv, const char *rest)
{
    (void)rest;
    struct sockaddr_in peer;
    if (!parse_addr(argv[2], argv[3], &peer)) {
        say("usage: sf FILE IP PORT [CC]");
        return;
    }
    if (argc == 5 && !cc_find(argv[4])) {
        say("sf: unknown congestion control '%s' (lc lists them)", argv[4]);
        return;
    }
    struct transfer *t = transfer_slot();
    if (!t) {
        say("sf: %d file transfers are running already", MAX_TRANSFERS);
        return;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        say("sf: %s: %s", argv[1], why(errno));
        return;
    }
    *t = (struct transfer){.receive = false, .lsd = -1, .file = f, .peer = peer};
    snprintf(t->cc, sizeof t->cc, "%s", argc == 5 ? argv[4] : "");
    snprintf(t->name, sizeof t->name, "%s", argv[1]);
    if (!transfer_start(t, send_file)) {
        fclose(f);
        say("sf: %s", why(errno));
        return;
    }
    say("sf: sending %s to %s:%s", argv[1], argv[2], argv[3]);
}

static void cmd_rf(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    uint16_t port;
    if (!parse_port(argv[2], &port)) {
        say("usage: rf FILE PORT");
        return;
    }
    struct transfer *t = transfer_slot();
    if (!t) {
        say("rf: %d file transfers are running already", MAX_TRANSFERS);
        return;
    }
    mysocket_t lsd = open_listener(port);
    if (lsd < 0) {
        say("rf: %s", why(errno));
        return;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        int err = errno;
        myclose(lsd);
        say("rf: %s: %s", argv[1], why(err));
        return;
    }
    entry_add(lsd, KIND_LISTENER, "rf");
    *t = (struct transfer){.receive = true, .lsd = lsd, .file = f};
    snprintf(t->name, sizeof t->name, "%s", argv[1]);
    char l[32];
    local_text(lsd, l, sizeof l);
    if (!transfer_start(t, receive_file)) {
        entry_remove(lsd);
        myclose(lsd);
        fclose(f);
        say("rf: %s", why(errno));
        return;
    }
    say("rf: socket %d: waiting on %s for %s", lsd, l, argv[1]);
}

static void cmd_sd(int argc, char **argv, const char *rest)
{
    (void)rest;
    static const struct {
        const char *word, *text;
        int how;
    } modes[] = {{"write", "writing", SHUT_WR},
                 {"read", "reading", SHUT_RD},
                 {"both", "reading and writing", SHUT_RDWR}};
    int m = argc == 2 ? 0 : -1;
    for (int i = 0; m < 0 && i < 3; i++)
        if (!strcmp(argv[2], modes[i].word))
            m = i;
    if (m < 0) {
        say("usage: sd SOCKET [read|write|both]");
        return;
    }
    mysocket_t sd = user_socket("sd", argv[1], KIND_CONN);
    if (sd < 0)
        return;
    if (myshutdown(sd, modes[m].how) < 0)
        say("sd: %s", why(errno));
    else
        say("socket %d: shut down for %s", sd, modes[m].text);
}

/* Close a listener: its accepting thread ends with it. */
static void close_listener(mysocket_t sd)
{
    pthread_mutex_lock(&table_lock);
    bool joinable = table[sd].acceptor;
    pthread_t thread = table[sd].thread;
    table[sd].kind = KIND_NONE;
    pthread_mutex_unlock(&table_lock);
    myclose(sd);
    if (joinable)
        pthread_join(thread, NULL);
}

static void cmd_cl(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    mysocket_t sd = user_socket("cl", argv[1], KIND_NONE);
    if (sd < 0)
        return;
    pthread_mutex_lock(&table_lock);
    bool listener = table[sd].kind == KIND_LISTENER;
    pthread_mutex_unlock(&table_lock);
    if (listener) {
        close_listener(sd);
        say("socket %d: closed", sd);
        return;
    }
    entry_remove(sd);
    if (myclose(sd) < 0)
        say("socket %d: closed (%s)", sd, why(errno));
    else
        say("socket %d: closed", sd);
}

/* ---- ls and window: one row per socket, from mygetstats ---- */

struct row {
    mysocket_t sd;
    struct entry e;
    struct mystats st;
    bool have_stats;
};

/* The columns of ls.  Adding one is adding a line here. */
static void col_sock(const struct row *r, char *b, size_t n)
{
    snprintf(b, n, "%d", r->sd);
}
static void col_local(const struct row *r, char *b, size_t n)
{
    local_text(r->sd, b, n);
}
static void col_peer(const struct row *r, char *b, size_t n)
{
    if (r->e.kind == KIND_LISTENER)
        snprintf(b, n, "-");
    else
        peer_text(r->sd, b, n);
}
static void col_state(const struct row *r, char *b, size_t n)
{
    const char *s = r->e.kind == KIND_LISTENER                ? "LISTEN"
                    : r->have_stats && r->st.state[0] != '\0' ? r->st.state
                                                              : "?";
    snprintf(b, n, "%s", s);
}
static void col_sndwnd(const struct row *r, char *b, size_t n)
{
    if (r->e.kind == KIND_CONN && r->have_stats)
        snprintf(b, n, "%u", r->st.snd_wnd);
    else
        snprintf(b, n, "-");
}
static void col_rcvwnd(const struct row *r, char *b, size_t n)
{
    if (r->e.kind == KIND_CONN && r->have_stats)
        snprintf(b, n, "%u", r->st.rcv_wnd);
    else
        snprintf(b, n, "-");
}
static void col_inflight(const struct row *r, char *b, size_t n)
{
    if (r->e.kind == KIND_CONN && r->have_stats)
        snprintf(b, n, "%u", r->st.in_flight);
    else
        snprintf(b, n, "-");
}
static void col_cc(const struct row *r, char *b, size_t n)
{
    cc_text(r->sd, r->have_stats ? &r->st : NULL, b, n);
}
static bool cc_running(const struct row *r)
{
    return r->e.kind == KIND_CONN && r->have_stats && r->st.cc[0];
}
static void col_cwnd(const struct row *r, char *b, size_t n)
{
    if (cc_running(r))
        snprintf(b, n, "%u", r->st.cwnd);
    else
        snprintf(b, n, "-");
}
static void col_ssthresh(const struct row *r, char *b, size_t n)
{
    if (cc_running(r) && r->st.ssthresh != UINT32_MAX)
        snprintf(b, n, "%u", r->st.ssthresh);
    else
        snprintf(b, n, "-"); /* not a connection, or not set yet (slow start) */
}
static void col_use(const struct row *r, char *b, size_t n)
{
    snprintf(b, n, "%s", r->e.owner ? r->e.owner : "");
}

static const struct column {
    const char *title;
    int width; /* negative: left-aligned */
    void (*fill)(const struct row *r, char *buf, size_t len);
} columns[] = {
    {"SOCK", 4, col_sock},         {"LOCAL", -21, col_local}, {"PEER", -21, col_peer},
    {"STATE", -11, col_state},     {"SNDWND", 6, col_sndwnd}, {"RCVWND", 6, col_rcvwnd},
    {"INFLIGHT", 8, col_inflight}, {"CC", -7, col_cc},        {"CWND", 7, col_cwnd},
    {"SSTHRESH", 8, col_ssthresh}, {"USE", -3, col_use},
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

static void print_row(const char *const cells[NCOLUMNS])
{
    char line[512];
    size_t used = 0;
    for (size_t i = 0; i < NCOLUMNS && used < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%*s", i ? " " : "",
                                 columns[i].width, cells[i]);
    while (used > 0 && line[used - 1] == ' ')
        line[--used] = '\0';
    say("%s", line);
}

static bool row_of(mysocket_t sd, struct row *r)
{
    pthread_mutex_lock(&table_lock);
    r->sd = sd;
    r->e = table[sd];
    pthread_mutex_unlock(&table_lock);
    if (r->e.kind == KIND_NONE)
        return false;
    r->have_stats = mygetstats(sd, &r->st) == 0;
    return true;
}

static void cmd_ls(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    const char *titles[NCOLUMNS];
    for (size_t i = 0; i < NCOLUMNS; i++)
        titles[i] = columns[i].title;
    print_row(titles);
    for (mysocket_t sd = 0; sd < MAX_NUM_CONNECTIONS; sd++) {
        struct row r;
        if (!row_of(sd, &r))
            continue;
        char cell[NCOLUMNS][64];
        const char *cells[NCOLUMNS];
        for (size_t i = 0; i < NCOLUMNS; i++) {
            columns[i].fill(&r, cell[i], sizeof cell[i]);
            cells[i] = cell[i];
        }
        print_row(cells);
    }
}

static void cmd_window(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    char *end;
    long sd = strtol(argv[1], &end, 10);
    struct row r;
    if (*end || sd < 0 || sd >= MAX_NUM_CONNECTIONS || !row_of((mysocket_t)sd, &r)) {
        say("window: no socket %s", argv[1]);
        return;
    }
    if (r.e.kind != KIND_CONN || !r.have_stats) {
        say("window: socket %ld is not a connection", sd);
        return;
    }
    char cc[MYSO_STR_MAX], cwnd[16], ssthresh[16];
    col_cc(&r, cc, sizeof cc);
    col_cwnd(&r, cwnd, sizeof cwnd);
    col_ssthresh(&r, ssthresh, sizeof ssthresh);
    say("socket %ld: send window %u (the peer's), receive window %u (ours), %u bytes in "
        "flight, state %s; %s: cwnd %s, ssthresh %s",
        sd, r.st.snd_wnd, r.st.rcv_wnd, r.st.in_flight, r.st.state, cc, cwnd, ssthresh);
}

/* ---- The carrier: li and lr ---- */

/* What the carrier (STCP_CARRIER) says of itself, a line at a time; on
 * udp also where a and rf listen (-a). */
static void print_carrier(int what, const char *cmd)
{
    char text[4096];
    int n = mycarrier_info(what, text, sizeof text);
    if (n < 0) {
        say("%s: the carrier: %s", cmd, why(errno));
        return;
    }
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        say("%s", l);
    if ((size_t)n >= sizeof text)
        say("%s: (more than %zu bytes, cut)", cmd, sizeof text);
    if (what == MYCARRIER_INTERFACES && !strncmp(text, "udp", 3)) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &opt.bind_addr, a, sizeof a);
        say("a and rf listen on %s", strcmp(a, "0.0.0.0") ? a : "every local address");
    }
}

static void cmd_li(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    print_carrier(MYCARRIER_INTERFACES, "li");
}

static void cmd_lr(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    print_carrier(MYCARRIER_ROUTES, "lr");
}

static void cmd_lc(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    const char *def = default_cc[0] ? default_cc : framework_cc;
    for (const struct cc_algo *const *a = cc_algos; *a; a++)
        say("%s%s", (*a)->name, strcmp((*a)->name, def) ? "" : "  (default for new sockets)");
}

/* sc SOCKET ALGO: the algorithm is read when a connection starts, and the
 * transport cannot swap it under a running connection (its state is the
 * algorithm's own).  So sc applies to listeners (the connections they
 * accept from now on), and "sc default ALGO" to the sockets a, c, rf and
 * sf make from now on; a connection says why not. */
static void cmd_sc(int argc, char **argv, const char *rest)
{
    (void)argc, (void)rest;
    if (!cc_find(argv[2])) {
        say("sc: unknown congestion control '%s' (lc lists them)", argv[2]);
        return;
    }
    if (!strcmp(argv[1], "default")) {
        snprintf(default_cc, sizeof default_cc, "%s", argv[2]);
        say("new sockets: congestion control %s", argv[2]);
        return;
    }
    mysocket_t sd = user_socket("sc", argv[1], KIND_NONE);
    if (sd < 0)
        return;
    pthread_mutex_lock(&table_lock);
    bool listener = table[sd].kind == KIND_LISTENER;
    pthread_mutex_unlock(&table_lock);
    if (!listener) {
        char cc[MYSO_STR_MAX];
        struct mystats st;
        cc_text(sd, mygetstats(sd, &st) == 0 ? &st : NULL, cc, sizeof cc);
        say("sc: socket %d is a connection: its congestion control (%s) was fixed when it "
            "started; sc a listener, or 'sc default %s' before c or sf",
            sd, cc, argv[2]);
        return;
    }
    if (mysetsockopt_str(sd, MYSO_CC, argv[2]) < 0)
        say("sc: %s", why(errno));
    else
        say("socket %d: congestion control %s for the connections it accepts", sd, argv[2]);
}

static void cmd_h(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    for (const struct command *c = commands; c->name; c++) {
        char use[64];
        snprintf(use, sizeof use, "%s%s%s", c->name, *c->args ? " " : "", c->args);
        say("  %-28s %s", use, c->help);
    }
}

static void cmd_q(int argc, char **argv, const char *rest)
{
    (void)argc, (void)argv, (void)rest;
    quit = true;
}

static const struct command commands[] = {
    {"a", "PORT", "listen on PORT (0: any) and accept in the background", 1, 1, cmd_a},
    {"c", "IP PORT", "connect; prints the socket number", 2, 2, cmd_c},
    {"s", "SOCKET DATA", "send the rest of the line", 1, 1000, cmd_s},
    {"r", "SOCKET N [y|n]", "read up to N bytes (y: block for all N or the end)", 2, 3, cmd_r},
    {"sf", "FILE IP PORT [CC]", "connect, send FILE, close (in the background)", 3, 4, cmd_sf},
    {"rf", "FILE PORT", "accept one connection, store what arrives in FILE", 2, 2, cmd_rf},
    {"sd", "SOCKET [read|write|both]", "shut down (default: write)", 1, 2, cmd_sd},
    {"cl", "SOCKET", "close", 1, 1, cmd_cl},
    {"ls", "", "list sockets: addresses, state, windows, congestion control", 0, 0, cmd_ls},
    {"window", "SOCKET", "a socket's windows", 1, 1, cmd_window},
    {"li", "", "list the carrier's interfaces", 0, 0, cmd_li},
    {"lr", "", "list the carrier's routes", 0, 0, cmd_lr},
    {"lc", "", "list congestion-control algorithms", 0, 0, cmd_lc},
    {"sc", "SOCKET|default ALGO", "congestion control of a listener, or of new sockets", 2, 2,
     cmd_sc},
    {"h", "", "this help", 0, 0, cmd_h},
    {"q", "", "close everything and quit", 0, 0, cmd_q},
    {NULL, NULL, NULL, 0, 0, NULL},
};

#define MAX_WORDS 8

static void run_line(char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *start = line + strspn(line, " \t");
    if (!*start || *start == '#')
        return; /* blank, or a comment in a script */
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", start);
    char *argv[MAX_WORDS + 1] = {0};
    int argc = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        if (argc < MAX_WORDS + 1)
            argv[argc++] = w;
    if (!argc)
        return;
    const char *rest = start + strcspn(start, " \t");
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(c->name, argv[0]) != 0)
            continue;
        if (argc - 1 < c->min_args || argc - 1 > c->max_args)
            say("usage: %s%s%s", c->name, *c->args ? " " : "", c->args);
        else
            c->run(argc, argv, rest);
        return;
    }
    say("unknown command '%s' (h lists the commands)", argv[0]);
}

/* ============================ Quitting (q, EOF) =========================== */

/* rf still waiting for a connection is cancelled; transfers under way are
 * waited for (their results print); then listeners and connections close. */
static void shut_everything(void)
{
    int running = 0;
    mysocket_t waiting[MAX_TRANSFERS];
    int nwaiting = 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        struct transfer *t = &transfers[i];
        if (!t->used)
            continue;
        if (!t->done)
            running++;
        if (t->lsd >= 0) {
            waiting[nwaiting++] = t->lsd;
            t->lsd = -1;
        }
    }
    pthread_mutex_unlock(&table_lock);
    for (int i = 0; i < nwaiting; i++) {
        entry_remove(waiting[i]);
        myclose(waiting[i]);
    }
    if (running)
        say("q: waiting for %d file transfer(s) to finish", running);
    for (int i = 0; i < MAX_TRANSFERS; i++)
        if (transfers[i].used)
            pthread_join(transfers[i].thread, NULL);
    for (mysocket_t sd = 0; sd < MAX_NUM_CONNECTIONS; sd++) {
        pthread_mutex_lock(&table_lock);
        bool listener = table[sd].kind == KIND_LISTENER;
        pthread_mutex_unlock(&table_lock);
        if (listener)
            close_listener(sd);
    }
    for (mysocket_t sd = 0; sd < MAX_NUM_CONNECTIONS; sd++) {
        pthread_mutex_lock(&table_lock);
        bool conn = table[sd].kind == KIND_CONN;
        table[sd].kind = KIND_NONE;
        pthread_mutex_unlock(&table_lock);
        if (conn)
            myclose(sd);
    }
}

/* ============================== Input loops =============================== */

static void read_script(void)
{
    char *line = NULL;
    size_t cap = 0;
    while (!quit && getline(&line, &cap, stdin) >= 0)
        run_line(line);
    free(line);
}

static void on_line(char *line)
{
    if (!line) {
        quit = true; /* end of input (Ctrl-D) */
        rl_callback_handler_remove();
        putchar('\n');
        return;
    }
    pthread_mutex_lock(&out_lock);
    prompt_up = false; /* the command's own output prints at once */
    pthread_mutex_unlock(&out_lock);
    if (line[strspn(line, " \t")])
        add_history(line);
    run_line(line);
    free(line);
    pthread_mutex_lock(&out_lock);
    prompt_up = !quit;
    pthread_mutex_unlock(&out_lock);
    if (quit)
        rl_callback_handler_remove(); /* no prompt after q */
}

/* Print lines other threads queued while the prompt was up, and put the
 * prompt and the half-typed line back under them. */
static void print_queued(void)
{
    char drain[64];
    while (read(wake_pipe[0], drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&out_lock);
    struct line *l = queued;
    queued = NULL;
    queued_tail = &queued;
    if (l) {
        char *typed = rl_copy_text(0, rl_end);
        int point = rl_point;
        rl_set_prompt("");
        rl_replace_line("", 0);
        rl_redisplay();
        for (; l; l = queued) {
            queued = l->next;
            printf("%s\n", l->text);
            free(l);
        }
        queued = NULL;
        fflush(stdout);
        rl_set_prompt("> ");
        rl_replace_line(typed ? typed : "", 0);
        rl_point = point;
        rl_redisplay();
        free(typed);
    }
    pthread_mutex_unlock(&out_lock);
}

static void read_terminal(void)
{
    if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror("tcpnode: pipe");
        read_script();
        return;
    }
    rl_callback_handler_install("> ", on_line);
    pthread_mutex_lock(&out_lock);
    prompt_up = true;
    pthread_mutex_unlock(&out_lock);
    while (!quit) {
        struct pollfd pfd[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            print_queued();
        if (pfd[0].revents)
            rl_callback_read_char();
    }
    pthread_mutex_lock(&out_lock);
    prompt_up = false;
    pthread_mutex_unlock(&out_lock);
    print_queued();
}

/* ================================= main =================================== */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-U] [-a ADDR] [-w WINDOW]\n"
            "  -U          unreliable network (emulation; see STCP_NETEM)\n"
            "  -a ADDR     address a and rf listen on (default 0.0.0.0)\n"
            "  -w WINDOW   window of every socket, 1..16777216 bytes (default 3072)\n"
            "Commands are read from standard input; 'h' lists them.\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "Ua:w:h")) != -1) {
        switch (c) {
        case 'U':
            opt.reliable = FALSE;
            break;
        case 'a':
            if (inet_pton(AF_INET, optarg, &opt.bind_addr) != 1)
                usage(argv[0]);
            break;
        case 'w': {
            char *end;
            errno = 0;
            opt.window = strtol(optarg, &end, 10);
            if (errno || *end || opt.window < 1 || opt.window > MYSO_WINDOW_MAX)
                usage(argv[0]);
            break;
        }
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    read_framework_cc();
    opt.interactive = isatty(STDIN_FILENO);
    if (opt.interactive)
        read_terminal();
    else
        read_script();
    shut_everything();
    return 0;
}
