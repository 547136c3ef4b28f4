/* server.c -- serves files over STCP.
 *
 * The classic exchange: the client sends "NAME\r\n"; the server replies
 * "NAME,LENGTH,MESSAGE\r\n" and then LENGTH bytes, or LENGTH -1 and a
 * message if it will not serve the file.  One connection per request.
 * Files are served only from beneath the served directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"

#define REQUEST_MAX 1024 /* longest request line accepted, bytes */
/* -b and -m: the socket table (STCP_MAX_SOCKETS) is the real bound. */
#define SERVER_MAX_CONNS (1L << 20)

struct options {
    bool_t reliable;
    bool_t cookies;
    const char *bind_addr;
    unsigned port;
    const char *dir;
    long window;
    int backlog;
    long serve_count; /* exit after this many connections (0: never) */
    int verbose;
    long request_timeout_ms; /* the whole request line must arrive in this time */
    long max_conns;          /* connections served at once; more are refused */
    long mss;                /* our MSS limit (-M), 0: the carrier's default */
    const char *cc;          /* congestion control (-c), NULL: STCP_CC or the default */
};

static int root_fd = -1;
static int verbose;
static mysocket_t listen_sd = -1;
static long request_timeout_ms;

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-U] [-C] [-a ADDR] [-p PORT] [-d DIR] [-w WINDOW] [-M MSS]\n"
            "          [-b BACKLOG] [-n COUNT] [-t SECONDS] [-m MAXCONN] [-v]\n"
            "  -U          unreliable network (emulation; see STCP_NETEM)\n"
            "  -C          answer SYNs with SYN cookies\n"
            "  -a ADDR     address to listen on (default 0.0.0.0)\n"
            "  -p PORT     port to listen on (default: any free port)\n"
            "  -d DIR      directory to serve (default: the working directory)\n"
            "  -w WINDOW   receive/send window, 1..16777216 bytes (default 3072)\n"
            "  -M MSS      largest segment payload we send and announce, 64..65495\n"
            "              (default: 536 on the udp carrier)\n"
            "  -b BACKLOG  listen backlog (default 64)\n"
            "  -n COUNT    exit after serving COUNT connections\n"
            "  -t SECONDS  time allowed for the request line (default 10)\n"
            "  -m MAXCONN  connections served at once; more are refused (default 256)\n"
            "  -c ALGO     congestion control: none, newreno, cubic (default: STCP_CC, "
            "else cubic)\n"
            "  -v          print each connection's counters, and the listener's at exit\n"
            "SIGUSR1 lists the live connections on stderr.\n",
            prog);
    exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *prog)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage(prog);
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){TRUE, FALSE, "0.0.0.0", 0, ".", 3072, 64, 0, 0, 10000, 256, 0, NULL};
    int c;
    while ((c = getopt(argc, argv, "UCa:p:d:w:M:b:n:t:m:c:vh")) != -1) {
        switch (c) {
        case 'U':
            o->reliable = FALSE;
            break;
        case 'C':
            o->cookies = TRUE;
            break;
        case 'a':
            o->bind_addr = optarg;
            break;
        case 'p':
            o->port = (unsigned)parse_long(optarg, 0, 65535, argv[0]);
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'w':
            o->window = parse_long(optarg, 1, MYSO_WINDOW_MAX, argv[0]);
            break;
        case 'M':
            o->mss = parse_long(optarg, 64, 65495, argv[0]);
            break;
        case 'b':
            o->backlog = (int)parse_long(optarg, 1, SERVER_MAX_CONNS, argv[0]);
            break;
        case 'n':
            o->serve_count = parse_long(optarg, 1, 1L << 40, argv[0]);
            break;
        case 't':
            o->request_timeout_ms = 1000 * parse_long(optarg, 1, 3600, argv[0]);
            break;
        case 'm':
            o->max_conns = parse_long(optarg, 1, SERVER_MAX_CONNS, argv[0]);
            break;
        case 'c':
            if (!*optarg)
                usage(argv[0]);
            o->cc = optarg;
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
}

/* ---- The request ---- */

static long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one line ending in "\r\n" (or "\n") within request_timeout_ms.
 * Returns its length, or -1 (and why) if the connection ended first, the
 * time ran out, the line is too long, or it holds a NUL. */
static int read_request(mysocket_t sd, char *line, size_t cap, const char **why)
{
    long deadline = monotonic_ms() + request_timeout_ms;
    size_t n = 0;
    for (;;) {
        long left = deadline - monotonic_ms();
        char ch;
        if (left <= 0 || mysetsockopt(sd, MYSO_RCVTIMEO, left) < 0) {
            *why = "Request timed out";
            return -1;
        }
        int r = myread(sd, &ch, 1);
        if (r < 0 && errno == EAGAIN) {
            *why = "Request timed out";
            return -1;
        }
        if (r <= 0) {
            *why = "connection ended before the request line";
            return -1;
        }
        if (ch == '\n')
            break;
        if (ch == '\0') {
            *why = "Request line holds a NUL byte";
            return -1;
        }
        if (n + 1 >= cap) {
            *why = "Request line too long";
            return -1;
        }
        line[n++] = ch;
    }
    if (n && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return (int)n;
}

static char root_path[PATH_MAX]; /* the served directory, resolved */

/* Without openat2: resolve every symlink and "..", then require the result
 * to lie beneath the served directory.  Fails with EXDEV if it does not. */
static int open_beneath_by_path(const char *name)
{
    char joined[2 * PATH_MAX], resolved[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%s", root_path, name);
    bool exists = realpath(joined, resolved) != NULL;
    if (!exists) {
        /* Not there: still say so only if the place it names is inside. */
        int saved = errno;
        char *slash = strrchr(joined, '/');
        *slash = '\0';
        if (!realpath(joined, resolved)) {
            errno = saved;
            return -1;
        }
    }
    size_t n = strlen(root_path);
    if (strncmp(resolved, root_path, n) != 0 || (resolved[n] != '/' && resolved[n] != '\0')) {
        errno = EXDEV;
        return -1;
    }
    if (!exists) {
        errno = ENOENT;
        return -1;
    }
    return open(resolved, O_RDONLY | O_CLOEXEC);
}

/* Open name beneath the served directory, or say why not. */
static int open_beneath(const char *name, const char **why)
{
    if (!*name) {
        *why = "Empty file name";
        return -1;
    }
    if (name[0] == '/') {
        *why = "Absolute paths are not served";
        return -1;
    }
    /* No ".." component anywhere, symlinks included (RESOLVE_BENEATH). */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root_fd, name, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS)
        fd = open_beneath_by_path(name); /* no openat2 (old kernel, valgrind) */
    if (fd < 0) {
        *why = errno == EXDEV    ? "Path leaves the served directory"
               : errno == ENOENT ? "File not found"
               : errno == EACCES ? "Permission denied"
                                 : "Cannot open file";
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *why = "Not a regular file";
        return -1;
    }
    return fd;
}

static int write_all(mysocket_t sd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        int n = mywrite(sd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_reply(mysocket_t sd, const char *name, long long length, const char *msg)
{
    char line[REQUEST_MAX + 128];
    int n = snprintf(line, sizeof line, "%s,%lld,%s\r\n", name, length, msg);
    return write_all(sd, line, (size_t)n);
}

/* Sends the file and closes fd.  It is closed as soon as its last byte has
 * been read, before that byte is written: a client slow to take the last
 * 64 KiB of its reply (all of a file up to 64 KiB) then holds one
 * descriptor of ours (its connection), not two, so a server holding
 * 10,000 clients of small files stays within 10,000 and a few. */
static int send_file(mysocket_t sd, int fd, off_t length)
{
    char buf[65536];
    off_t left = length;
    int rc = 0;
    while (left > 0 && rc == 0) {
        ssize_t n = read(fd, buf, (size_t)(left < (off_t)sizeof buf ? left : (off_t)sizeof buf));
        if (n <= 0) {
            rc = -1; /* the file shrank: the client will see a short reply */
            break;
        }
        left -= n;
        if (left == 0) {
            close(fd);
            fd = -1;
        }
        rc = write_all(sd, buf, (size_t)n);
    }
    if (fd >= 0) {
        int err = errno; /* what failed, for the caller's message */
        close(fd);
        errno = err;
    }
    return rc;
}

static const char *ssthresh_str(uint32_t ssthresh, char *buf, size_t len)
{
    if (ssthresh == UINT32_MAX)
        snprintf(buf, len, "inf");
    else
        snprintf(buf, len, "%u", ssthresh);
    return buf;
}

/* A connection's final figures (myclose_stats), -v. */
static void print_conn_stats(const struct mystats *s, const char *name)
{
    struct mystats st = *s;
    char ssthresh[16];
    fprintf(stderr,
            "server: %s: sent %llu bytes in %llu segments; resent %llu on timeout, %llu on "
            "duplicate ACKs; %llu window probes; dropped %llu bad checksum, %llu malformed, "
            "%llu unacceptable; RSTs sent %llu, received %llu; srtt %u us, rto %u us; %s; "
            "%s cwnd %u ssthresh %s, %llu recoveries, %llu timeouts; SACK %s (blocks sent "
            "%llu, received %llu, %llu resent on them), window scaling %s (shift ours %u, "
            "peer's %u)\n",
            name, (unsigned long long)st.bytes_sent, (unsigned long long)st.segs_sent,
            (unsigned long long)st.rexmit_timeout, (unsigned long long)st.rexmit_other,
            (unsigned long long)st.window_probes, (unsigned long long)st.bad_checksum,
            (unsigned long long)st.malformed, (unsigned long long)st.dropped_transport,
            (unsigned long long)st.rsts_sent, (unsigned long long)st.rsts_received, st.srtt_us,
            st.rto_us, st.state, st.cc, st.cwnd,
            ssthresh_str(st.ssthresh, ssthresh, sizeof ssthresh),
            (unsigned long long)st.cc_recoveries, (unsigned long long)st.cc_timeouts,
            st.sack ? "on" : "off", (unsigned long long)st.sack_blocks_sent,
            (unsigned long long)st.sack_blocks_received, (unsigned long long)st.rexmit_sack,
            st.wscale ? "on" : "off", st.rcv_wscale, st.snd_wscale);
}

static void serve(mysocket_t sd)
{
    char name[REQUEST_MAX];
    const char *why = NULL;
    if (read_request(sd, name, sizeof name, &why) < 0) {
        fprintf(stderr, "server: %s\n", why);
        if (strcmp(why, "connection ended before the request line") != 0)
            send_reply(sd, "", -1, why);
        myclose(sd);
        return;
    }
    int fd = open_beneath(name, &why);
    if (fd < 0) {
        send_reply(sd, name, -1, why);
    } else {
        struct stat st;
        fstat(fd, &st);
        if (send_reply(sd, name, (long long)st.st_size, "OK") < 0)
            close(fd);
        else if (send_file(sd, fd, st.st_size) < 0)
            fprintf(stderr, "server: sending %s failed: %s\n", name, strerror(errno));
    }
    /* Printed after the close, so they are the final figures. */
    struct mystats st;
    memset(&st, 0, sizeof st);
    if (myclose_stats(sd, &st) < 0)
        fprintf(stderr, "server: close: %s\n", strerror(errno));
    if (verbose)
        print_conn_stats(&st, name);
}

/* Connections being served: for the SIGUSR1 listing, and so -n can wait
 * for the last ones to finish. */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_cv = PTHREAD_COND_INITIALIZER;
static long active;
static mysocket_t active_sd[MAX_NUM_CONNECTIONS];
static int nactive_sd;

static void active_add(mysocket_t sd)
{
    pthread_mutex_lock(&active_lock);
    active++;
    if (nactive_sd < MAX_NUM_CONNECTIONS)
        active_sd[nactive_sd++] = sd;
    pthread_mutex_unlock(&active_lock);
}

static void active_remove(mysocket_t sd)
{
    pthread_mutex_lock(&active_lock);
    for (int i = 0; i < nactive_sd; i++) {
        if (active_sd[i] == sd) {
            active_sd[i] = active_sd[--nactive_sd];
            break;
        }
    }
    if (--active == 0)
        pthread_cond_broadcast(&active_cv);
    pthread_mutex_unlock(&active_lock);
}

static void *serve_thread(void *arg)
{
    mysocket_t sd = *(mysocket_t *)arg;
    free(arg);
    serve(sd);
    active_remove(sd);
    return NULL;
}

/* ---- Looking at it: SIGUSR1 lists live connections, like ss ---- */

static void list_connections(void)
{
    pthread_mutex_lock(&active_lock);
    fprintf(stderr, "%-22s %-22s %-12s %6s %6s %8s %12s %12s %7s %7s %-8s %8s %10s %5s %5s\n",
            "Local", "Peer", "State", "SndWnd", "RcvWnd", "InFlight", "BytesOut", "BytesIn",
            "SRTTus", "Resent", "CC", "Cwnd", "Ssthresh", "Recov", "RTOs");
    for (int i = 0; i < nactive_sd; i++) {
        struct sockaddr_in l, p;
        socklen_t ll = sizeof l, pl = sizeof p;
        struct mystats st;
        if (mygetsockname(active_sd[i], (struct sockaddr *)&l, &ll) < 0 ||
            mygetpeername(active_sd[i], (struct sockaddr *)&p, &pl) < 0 ||
            mygetstats(active_sd[i], &st) < 0)
            continue; /* closing just now */
        char ls[32], ps[32];
        snprintf(ls, sizeof ls, "%s:%u", inet_ntoa(l.sin_addr), ntohs(l.sin_port));
        snprintf(ps, sizeof ps, "%s:%u", inet_ntoa(p.sin_addr), ntohs(p.sin_port));
        char ssthresh[16];
        fprintf(stderr,
                "%-22s %-22s %-12s %6u %6u %8u %12llu %12llu %7u %7llu %-8s %8u %10s %5llu %5llu\n",
                ls, ps, st.state, st.snd_wnd, st.rcv_wnd, st.in_flight,
                (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
                st.srtt_us,
                (unsigned long long)st.rexmit_timeout + (unsigned long long)st.rexmit_other, st.cc,
                st.cwnd, ssthresh_str(st.ssthresh, ssthresh, sizeof ssthresh),
                (unsigned long long)st.cc_recoveries, (unsigned long long)st.cc_timeouts);
    }
    fprintf(stderr, "%d connection(s)\n", nactive_sd);
    pthread_mutex_unlock(&active_lock);
}

static void print_listener_stats(mysocket_t ls)
{
    struct mystats st;
    if (mygetstats(ls, &st) < 0)
        return;
    fprintf(stderr,
            "server: listener: segments received %llu, sent %llu; dropped: %llu for no "
            "connection or a full backlog, %llu bad checksum, %llu malformed\n",
            (unsigned long long)st.segs_received, (unsigned long long)st.segs_sent,
            (unsigned long long)st.no_connection, (unsigned long long)st.bad_checksum,
            (unsigned long long)st.malformed);
    fprintf(stderr,
            "%s: carrier (process-wide): RSTs sent %llu, rate-limited %llu; dropped %llu for "
            "no socket, %llu IP malformed, %llu IP bad checksum, %llu fragments, %llu not for "
            "us, %llu other protocol, %llu TCP malformed, %llu TCP bad checksum; queue full "
            "%llu\n",
            "server", (unsigned long long)st.rst_sent, (unsigned long long)st.rst_limited,
            (unsigned long long)st.no_socket, (unsigned long long)st.ip_malformed,
            (unsigned long long)st.ip_bad_checksum, (unsigned long long)st.ip_fragments,
            (unsigned long long)st.ip_not_ours, (unsigned long long)st.ip_other_proto,
            (unsigned long long)st.stack_malformed, (unsigned long long)st.stack_bad_checksum,
            (unsigned long long)st.queue_full);
}

/* SIGUSR1 lists connections; SIGINT and SIGTERM end the server through
 * exit(), so buffered output (a packet capture) is flushed. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            list_connections();
            continue;
        }
        if (verbose && listen_sd >= 0)
            print_listener_stats(listen_sd);
        exit(0);
    }
    return NULL;
}

static void start_signal_thread(void)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread made later inherits it */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_create(&t, &attr, signal_thread, &set);
    pthread_attr_destroy(&attr);
}

static void print_address(mysocket_t sd, const char *bind_addr)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (mygetsockname(sd, (struct sockaddr *)&sin, &len) < 0) {
        perror("mygetsockname");
        exit(1);
    }
    char host[256];
    if (sin.sin_addr.s_addr != htonl(INADDR_ANY)) /* bound, or an IP carrier's address */
        inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
    else if (strcmp(bind_addr, "0.0.0.0") != 0 || gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "%s", strcmp(bind_addr, "0.0.0.0") ? bind_addr : "127.0.0.1");
    printf("Server's address is %s:%u\n", host, ntohs(sin.sin_port));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);
    verbose = o.verbose;
    request_timeout_ms = o.request_timeout_ms;
    signal(SIGPIPE, SIG_IGN);
    start_signal_thread();
    root_fd = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0 || !realpath(o.dir, root_path)) {
        fprintf(stderr, "server: %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    mysocket_t ls = mysocket(o.reliable);
    if (ls < 0) {
        perror("mysocket");
        return 1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.bind_addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "server: bad address %s\n", o.bind_addr);
        return 2;
    }
    if (mysetsockopt(ls, MYSO_WINDOW, o.window) < 0 ||
        mysetsockopt(ls, MYSO_SYNCOOKIES, o.cookies) < 0 ||
        (o.mss && mysetsockopt(ls, MYSO_MSS, o.mss) < 0)) {
        perror("mysetsockopt");
        return 1;
    }
    if (o.cc && mysetsockopt_str(ls, MYSO_CC, o.cc) < 0) {
        fprintf(stderr, "server: unknown congestion control '%s'\n", o.cc);
        usage(argv[0]); /* the accepted connections inherit it */
    }
    if (mybind(ls, (struct sockaddr *)&sin, sizeof sin) < 0) {
        fprintf(stderr, "server: bind %s:%u: %s\n", o.bind_addr, o.port, strerror(errno));
        return 1;
    }
    if (mylisten(ls, o.backlog) < 0) {
        perror("mylisten");
        return 1;
    }
    listen_sd = ls;
    print_address(ls, o.bind_addr);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (long served = 0; !o.serve_count || served < o.serve_count; served++) {
        mysocket_t sd = myaccept(ls, NULL, NULL);
        if (sd < 0) {
            perror("myaccept");
            continue;
        }
        pthread_mutex_lock(&active_lock);
        bool busy = active >= o.max_conns;
        pthread_mutex_unlock(&active_lock);
        if (busy) {
            /* Refused cleanly: the classic error reply, then close. */
            send_reply(sd, "", -1, "Server busy");
            myclose(sd);
            continue;
        }
        active_add(sd);
        pthread_t t;
        mysocket_t *arg = malloc(sizeof *arg);
        if (arg)
            *arg = sd;
        if (!arg || pthread_create(&t, &attr, serve_thread, arg) != 0) {
            free(arg);
            fprintf(stderr, "server: no thread for a client\n");
            myclose(sd);
            active_remove(sd);
        }
    }
    pthread_mutex_lock(&active_lock);
    while (active > 0)
        pthread_cond_wait(&active_cv, &active_lock);
    pthread_mutex_unlock(&active_lock);
    if (o.verbose)
        print_listener_stats(ls);
    myclose(ls);
    return 0;
}
