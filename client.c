/* client.c -- fetches files from an STCP server.
 *
 * client [-U] [-q] [-f FILE] HOST:PORT
 * With -f it fetches FILE once; otherwise it prompts for names on stdin,
 * one connection each.  What arrives is stored in "rcvd" (or -o NAME), or
 * discarded with -q.  Exit status 0 only if every file arrived whole.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"

struct options {
    bool_t reliable;
    bool_t quiet;
    const char *file;
    const char *output;
    long window;
    int verbose;
    long pause_ms;  /* stop reading this long halfway through (-P) */
    long mss;       /* our MSS limit (-M), 0: the carrier's default */
    const char *cc; /* congestion control (-c), NULL: STCP_CC or the default */
    struct sockaddr_in server;
};

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-U] [-q] [-f FILE] [-o OUTPUT] [-w WINDOW] [-M MSS] [-c ALGO] [-P MS] [-v] "
            "HOST:PORT\n"
            "  -U          unreliable network (emulation; see STCP_NETEM)\n"
            "  -q          discard the data instead of storing it\n"
            "  -f FILE     fetch FILE (default: prompt for names)\n"
            "  -o OUTPUT   store the data in OUTPUT (default: rcvd)\n"
            "  -w WINDOW   receive/send window, 1..16777216 bytes (default 3072)\n"
            "  -M MSS      largest segment payload we send and announce, 64..65495\n"
            "              (default: 536 on the udp carrier)\n"
            "  -c ALGO     congestion control: none, newreno, cubic (default: STCP_CC, "
            "else cubic)\n"
            "  -P MS       stop reading for MS milliseconds halfway (watch flow control)\n"
            "  -v          print counters at the end, and the transfer's timing\n",
            prog);
    exit(2);
}

static int parse_hostport(const char *arg, struct sockaddr_in *out)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return -1;
    char host[256];
    size_t hlen = (size_t)(colon - arg);
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, arg, hlen);
    host[hlen] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 1 || port > 65535)
        return -1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    memcpy(out, res->ai_addr, sizeof *out);
    freeaddrinfo(res);
    out->sin_port = htons((uint16_t)port);
    return 0;
}

/* Does the library offer congestion control name?  It is the judge. */
static bool cc_known(const char *name)
{
    mysocket_t sd = mysocket(TRUE);
    if (sd < 0)
        return true; /* cannot tell here: connect_to will say */
    int rc = mysetsockopt_str(sd, MYSO_CC, name);
    myclose(sd);
    return rc == 0;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){TRUE, FALSE, NULL, "rcvd", 3072, 0, 0, 0, NULL, {0}};
    int c;
    while ((c = getopt(argc, argv, "Uqf:o:w:M:c:P:vh")) != -1) {
        switch (c) {
        case 'U':
            o->reliable = FALSE;
            break;
        case 'q':
            o->quiet = TRUE;
            break;
        case 'f':
            o->file = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'w': {
            char *end;
            errno = 0;
            o->window = strtol(optarg, &end, 10);
            if (errno || *end || o->window < 1 || o->window > MYSO_WINDOW_MAX)
                usage(argv[0]);
            break;
        }
        case 'M': {
            char *end;
            errno = 0;
            o->mss = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || o->mss < 64 || o->mss > 65495)
                usage(argv[0]);
            break;
        }
        case 'P': {
            char *end;
            errno = 0;
            o->pause_ms = strtol(optarg, &end, 10);
            if (errno || *end || o->pause_ms < 0 || o->pause_ms > 3600000)
                usage(argv[0]);
            break;
        }
        case 'c':
            o->cc = optarg;
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind + 1 != argc)
        usage(argv[0]);
    if (o->cc && !cc_known(o->cc)) {
        fprintf(stderr, "%s: unknown congestion control '%s'\n", argv[0], o->cc);
        usage(argv[0]);
    }
    if (parse_hostport(argv[optind], &o->server) < 0) {
        fprintf(stderr, "%s: bad server address '%s' (want HOST:PORT)\n", argv[0], argv[optind]);
        usage(argv[0]);
    }
}

/* Read the reply line "NAME,LENGTH,MESSAGE\r\n" into line. */
static int read_line(mysocket_t sd, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        int r = myread(sd, &ch, 1);
        if (r <= 0)
            return -1;
        if (ch == '\n')
            break;
        if (n + 1 >= cap)
            return -1;
        line[n++] = ch;
    }
    if (n && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return 0;
}

/* LENGTH and MESSAGE from a reply line; the name may itself hold commas,
 * so the last two fields are taken from the right. */
static int parse_reply(char *line, long long *length, const char **message)
{
    char *last = strrchr(line, ',');
    if (!last)
        return -1;
    *last = '\0';
    char *mid = strrchr(line, ',');
    if (!mid)
        return -1;
    char *end;
    errno = 0;
    *length = strtoll(mid + 1, &end, 10);
    if (errno || end == mid + 1 || *end)
        return -1;
    *message = last + 1;
    return 0;
}

static int connect_to(const struct options *o)
{
    mysocket_t sd = mysocket(o->reliable);
    if (sd < 0) {
        perror("client: mysocket");
        return -1;
    }
    if (mysetsockopt(sd, MYSO_WINDOW, o->window) < 0 ||
        (o->mss && mysetsockopt(sd, MYSO_MSS, o->mss) < 0) ||
        (o->cc && mysetsockopt_str(sd, MYSO_CC, o->cc) < 0) ||
        myconnect(sd, (struct sockaddr *)&o->server, sizeof o->server) < 0) {
        fprintf(stderr, "client: connect: %s\n", strerror(errno));
        myclose(sd);
        return -1;
    }
    return sd;
}

static int write_all_fd(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(double bytes, char *buf, size_t len)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) {
        bytes /= 1024;
        i++;
    }
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", bytes, unit[i]);
}

/* A progress line on stderr: bytes, rate, ETA and a bar. */
struct progress {
    bool on;
    double start, last;
};

static void progress_show(struct progress *p, long long got, long long length, bool final)
{
    double now = now_seconds();
    if (!p->on || (!final && now - p->last < 0.1))
        return;
    p->last = now;
    double secs = now - p->start > 1e-6 ? now - p->start : 1e-6;
    double rate = (double)got / secs;
    char g[32], l[32], r[32];
    human((double)got, g, sizeof g);
    human((double)length, l, sizeof l);
    human(rate, r, sizeof r);
    int width = 30;
    int filled = length > 0 ? (int)((double)got * width / (double)length) : width;
    char bar[40];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    double eta = rate > 0 ? (double)(length - got) / rate : 0;
    fprintf(stderr, "\r[%s] %s / %s  %s/s  ETA %.0fs ", bar, g, l, r, eta);
    if (final)
        fputc('\n', stderr);
}

static void pause_reading(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Receive exactly length bytes into out_fd (-1: discard), then EOF.
 * *last_byte: when the application had the file's last byte (before the
 * end of the connection is read). */
static int receive_body(const struct options *o, mysocket_t sd, long long length, int out_fd,
                        double *last_byte)
{
    static char buf[65536];
    struct progress prog = {!o->quiet && isatty(STDERR_FILENO), now_seconds(), 0};
    bool paused = o->pause_ms == 0;
    long long got = 0;
    while (got < length) {
        if (!paused && got >= length / 2) {
            pause_reading(o->pause_ms);
            paused = true;
        }
        size_t want =
            (size_t)(length - got < (long long)sizeof buf ? length - got : (long long)sizeof buf);
        int n = myread(sd, buf, want);
        if (n < 0) {
            fprintf(stderr, "client: read: %s after %lld of %lld bytes\n", strerror(errno), got,
                    length);
            return -1;
        }
        if (n == 0) {
            fprintf(stderr, "client: connection closed after %lld of %lld bytes\n", got, length);
            return -1;
        }
        if (out_fd >= 0 && write_all_fd(out_fd, buf, (size_t)n) < 0) {
            perror("client: write");
            return -1;
        }
        got += n;
        progress_show(&prog, got, length, false);
    }
    *last_byte = now_seconds();
    progress_show(&prog, got, length, true);
    char extra;
    int n = myread(sd, &extra, 1);
    if (n > 0) {
        fprintf(stderr, "client: the server sent more than %lld bytes\n", length);
        return -1;
    }
    if (n < 0)
        fprintf(stderr, "client: warning: %s after the whole file arrived\n", strerror(errno));
    return 0;
}

/* The connection's final figures (myclose_stats), -v. */
static void print_stats(const struct mystats *s)
{
    struct mystats st = *s;
    char ssthresh[16];
    if (st.ssthresh == UINT32_MAX)
        snprintf(ssthresh, sizeof ssthresh, "inf");
    else
        snprintf(ssthresh, sizeof ssthresh, "%u", st.ssthresh);
    fprintf(stderr,
            "client: segments sent %llu, received %llu; payload bytes sent %llu, "
            "received %llu\n"
            "client: resent %llu on timeout, %llu on duplicate ACKs (%llu bytes); "
            "received %llu duplicate, %llu out of order, %llu duplicate ACKs; "
            "%llu window probes; RSTs sent %llu, received %llu\n"
            "client: dropped on receipt: %llu bad checksum, %llu malformed; emulation: "
            "%llu dropped, %llu duplicated, %llu reordered, %llu corrupted, %llu delayed\n"
            "client: srtt %u us, rttvar %u us, rto %u us; windows: peer %u, ours %u; %s\n"
            "client: congestion control %s: cwnd %u, ssthresh %s; %llu recoveries, "
            "%llu timeouts\n",
            (unsigned long long)st.segs_sent, (unsigned long long)st.segs_received,
            (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
            (unsigned long long)st.rexmit_timeout, (unsigned long long)st.rexmit_other,
            (unsigned long long)st.rexmit_bytes, (unsigned long long)st.dup_received,
            (unsigned long long)st.ooo_received, (unsigned long long)st.dupacks_received,
            (unsigned long long)st.window_probes, (unsigned long long)st.rsts_sent,
            (unsigned long long)st.rsts_received, (unsigned long long)st.bad_checksum,
            (unsigned long long)st.malformed, (unsigned long long)st.emu_dropped,
            (unsigned long long)st.emu_duplicated, (unsigned long long)st.emu_reordered,
            (unsigned long long)st.emu_corrupted, (unsigned long long)st.emu_delayed, st.srtt_us,
            st.rttvar_us, st.rto_us, st.snd_wnd, st.rcv_wnd, st.state, st.cc, st.cwnd, ssthresh,
            (unsigned long long)st.cc_recoveries, (unsigned long long)st.cc_timeouts);
    fprintf(stderr,
            "client: SACK %s: blocks sent %llu, received %llu, %llu segments resent on them; "
            "window scaling %s (shift ours %u, peer's %u); %llu bytes received in place\n",
            st.sack ? "on" : "off", (unsigned long long)st.sack_blocks_sent,
            (unsigned long long)st.sack_blocks_received, (unsigned long long)st.rexmit_sack,
            st.wscale ? "on" : "off", st.rcv_wscale, st.snd_wscale,
            (unsigned long long)st.bytes_in_place);
    fprintf(stderr,
            "%s: carrier (process-wide): RSTs sent %llu, rate-limited %llu; dropped %llu for "
            "no socket, %llu IP malformed, %llu IP bad checksum, %llu fragments, %llu not for "
            "us, %llu other protocol, %llu TCP malformed, %llu TCP bad checksum; queue full "
            "%llu\n",
            "client", (unsigned long long)st.rst_sent, (unsigned long long)st.rst_limited,
            (unsigned long long)st.no_socket, (unsigned long long)st.ip_malformed,
            (unsigned long long)st.ip_bad_checksum, (unsigned long long)st.ip_fragments,
            (unsigned long long)st.ip_not_ours, (unsigned long long)st.ip_other_proto,
            (unsigned long long)st.stack_malformed, (unsigned long long)st.stack_bad_checksum,
            (unsigned long long)st.queue_full);
}

/* -v: the transfer's timing: the connection
 * established, and the file's last byte in the application's hands (both
 * counted from mysocket, just before myconnect).  The
 * process's start-up and the close after the last byte are not in it, so
 * a bench can take a transfer's goodput from it (bench/bottleneck.sh); the
 * wall-clock (CLOCK_REALTIME) ends let it put several clients on one time
 * line. */
static void print_timing(double start, double start_wall, double established, double last_byte,
                         long long length)
{
    double secs = last_byte - start;
    fprintf(stderr,
            "client: timing: connected after %.6f s, last byte after %.6f s (from "
            "mysocket); %lld bytes, %.3f Mbit/s; wall clock %.6f to %.6f\n",
            established - start, secs, length, secs > 0 ? (double)length * 8 / secs / 1e6 : 0.0,
            start_wall, start_wall + secs);
}

static int fetch(const struct options *o, const char *name)
{
    if (strchr(name, '\n') || strchr(name, '\r')) {
        fprintf(stderr, "client: a file name cannot hold a line break\n");
        return -1;
    }
    double start = now_seconds();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double start_wall = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    mysocket_t sd = connect_to(o);
    if (sd < 0)
        return -1;
    double established = now_seconds(), last_byte = 0;
    int rc = -1;
    int out_fd = -1;
    char request[4096 + 3];
    int len = snprintf(request, sizeof request, "%s\r\n", name);
    if (len >= (int)sizeof request) {
        fprintf(stderr, "client: file name too long\n");
        goto out;
    }
    if (mywrite(sd, request, (size_t)len) != len) {
        fprintf(stderr, "client: sending the request: %s\n", strerror(errno));
        goto out;
    }
    char line[8192];
    long long length;
    const char *message;
    if (read_line(sd, line, sizeof line) < 0 || parse_reply(line, &length, &message) < 0) {
        fprintf(stderr, "client: no valid reply from the server\n");
        goto out;
    }
    if (length < 0) {
        fprintf(stderr, "client: server: %s\n", message);
        goto out;
    }
    if (!o->quiet) {
        out_fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            fprintf(stderr, "client: %s: %s\n", o->output, strerror(errno));
            goto out;
        }
    }
    if (receive_body(o, sd, length, out_fd, &last_byte) == 0)
        rc = 0;
    if (out_fd >= 0 && close(out_fd) < 0) {
        perror("client: close");
        rc = -1;
    }
out:;
    /* Printed after the close, so they are the final figures. */
    struct mystats st;
    memset(&st, 0, sizeof st);
    if (myclose_stats(sd, &st) < 0 && rc == 0)
        fprintf(stderr, "client: warning: close: %s\n", strerror(errno));
    if (o->verbose) {
        print_stats(&st);
        if (rc == 0)
            print_timing(start, start_wall, established, last_byte, length);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (o.file)
        return fetch(&o, o.file) == 0 ? 0 : 1;
    int status = 0;
    char name[4096];
    for (;;) {
        if (isatty(STDIN_FILENO))
            fprintf(stderr, "file name: ");
        if (!fgets(name, sizeof name, stdin))
            break;
        name[strcspn(name, "\r\n")] = '\0';
        if (!*name)
            continue;
        if (fetch(&o, name) != 0)
            status = 1;
    }
    return status;
}
