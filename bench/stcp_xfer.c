/* stcp_xfer.c -- a minimal program on libstcp.a (mysock.h only), for the
 * benchmarks: no file system, no request line, just the socket calls.
 *
 * Every mode runs two processes (the process forks before the first mysock
 * call): the parent listens on 127.0.0.1 and accepts, the child connects.
 *
 *   stcp_xfer xfer [-U] [-w WINDOW] [-M MSS] [-n BYTES]
 *       The parent writes BYTES (default 16 MiB) of the bench pattern in
 *       64 KiB mywrite calls and closes; the child reads, checks every byte,
 *       and times from before myconnect to end of file.
 *         stcpxfer: bytes=N window=W seconds=S mbps=MB/s cpu_writer=S cpu_reader=S
 *                   csw_writer=N csw_reader=N   (context switches, all threads)
 *
 *   stcp_xfer conc [-U] [-w WINDOW] [-n BYTES] [-c CONNS]
 *       CONNS (default 100) transfers at once: the child starts CONNS threads
 *       that each connect and read BYTES (default 1 MiB); the parent serves
 *       each accepted connection from its own thread.  Aggregate rate over
 *       the time from the first connect to the last end of file.
 *         stcpconc: conns=C ok=K bytes=N seconds=S mbps=MB/s
 *
 *   stcp_xfer rate [-w WINDOW] [-t SECONDS] [-c MAXCOUNT]
 *       Connection rate: the child, in a loop, makes a socket, connects,
 *       writes one byte, reads the one-byte reply and closes; the parent
 *       accepts each connection and, in a thread, reads the byte, writes it
 *       back and closes.  SECONDS (default 2) or MAXCOUNT (default 100000)
 *       connections, whichever ends first.
 *         stcpconn: conns=N failed=F seconds=S rate=conn/s p50_us=.. p99_us=.. max_us=..
 *                   over_100ms=N first_error=...
 *
 *   stcp_xfer idle [-t SECONDS]
 *       One established connection left idle for SECONDS (default 10); each
 *       process measures the CPU it uses meanwhile.
 *         stcpidle: seconds=S cpu_ms_listener=.. cpu_ms_connector=.. core_pct=..
 *
 * -U makes both ends' sockets unreliable (the emulation follows STCP_NETEM).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../mysock.h"
#include "bench.h"

struct opts {
    bool_t reliable;
    long window;
    long mss; /* 0: the default (536 on udp) */
    uint64_t bytes;
    long conns;
    double seconds;
};

/* What the child sends the parent at the end. */
struct result {
    double seconds;
    double cpu;
    uint64_t bytes;
    long ok, failed;
    int first_error;
    double p50_us, p99_us, max_us; /* rate: one connection's time */
    long slow;                     /* rate: connections that took over 100 ms */
};

static int to_child[2], to_parent[2];

static void send_result(const struct result *r)
{
    if (write(to_parent[1], r, sizeof *r) != (ssize_t)sizeof *r)
        _exit(1);
}

static int get_result(struct result *r)
{
    return read(to_parent[0], r, sizeof *r) == (ssize_t)sizeof *r ? 0 : -1;
}

static mysocket_t new_socket(const struct opts *o)
{
    mysocket_t sd = mysocket(o->reliable);
    if (sd < 0)
        return -1;
    if (mysetsockopt(sd, MYSO_WINDOW, o->window) < 0 ||
        (o->mss && mysetsockopt(sd, MYSO_MSS, o->mss) < 0)) {
        int err = errno;
        myclose(sd);
        errno = err;
        return -1;
    }
    return sd;
}

/* Parent: listen on 127.0.0.1, any port, and tell the child the port. */
static mysocket_t listen_and_tell(const struct opts *o, int backlog)
{
    mysocket_t ls = new_socket(o);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (ls < 0 || mybind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        mylisten(ls, backlog) < 0 || mygetsockname(ls, (struct sockaddr *)&sin, &len) < 0)
        die("stcp_xfer: listen");
    if (write(to_child[1], &sin, sizeof sin) != (ssize_t)sizeof sin)
        die("stcp_xfer: pipe");
    return ls;
}

static struct sockaddr_in server_addr;

static void child_wait_address(void)
{
    if (read(to_child[0], &server_addr, sizeof server_addr) != (ssize_t)sizeof server_addr)
        _exit(1);
}

static mysocket_t connect_server(const struct opts *o)
{
    mysocket_t sd = new_socket(o);
    if (sd < 0)
        return -1;
    if (myconnect(sd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0) {
        int err = errno;
        myclose(sd);
        errno = err;
        return -1;
    }
    return sd;
}

static int write_pattern(mysocket_t sd, uint64_t bytes)
{
    for (uint64_t sent = 0; sent < bytes;) {
        size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
        int w = mywrite(sd, pattern_at(sent), n);
        if (w <= 0)
            return -1;
        sent += (uint64_t)w;
    }
    return 0;
}

/* Read to end of file, checking the pattern; the byte count, or -1. */
static int64_t read_pattern(mysocket_t sd, uint8_t *buf)
{
    uint64_t got = 0;
    for (;;) {
        int n = myread(sd, buf, CHUNK);
        if (n < 0)
            return -1;
        if (n == 0)
            return (int64_t)got;
        if (!pattern_check(buf, (size_t)n, got)) {
            fprintf(stderr, "stcp_xfer: data differs near byte %llu\n", (unsigned long long)got);
            errno = EILSEQ;
            return -1;
        }
        got += (uint64_t)n;
    }
}

static pid_t start_child(void (*body)(const struct opts *), const struct opts *o)
{
    if (pipe(to_child) < 0 || pipe(to_parent) < 0)
        die("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        child_wait_address();
        body(o);
        exit(0); /* exit, not _exit: the library lingers for the last FIN */
    }
    close(to_child[0]);
    close(to_parent[1]);
    return pid;
}

static void finish_child(pid_t pid, struct rusage *ru)
{
    int status;
    if (wait4(pid, &status, 0, ru) < 0)
        die("wait4");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = 0;
        die("stcp_xfer: the connecting process failed (status %d)", status);
    }
}

/* ---- xfer ---- */

static void xfer_child(const struct opts *o)
{
    static uint8_t buf[CHUNK];
    struct result r = {0};
    double t0 = now_s();
    mysocket_t sd = connect_server(o);
    int64_t got = sd < 0 ? -1 : read_pattern(sd, buf);
    r.seconds = now_s() - t0;
    r.first_error = got < 0 ? errno : 0;
    r.bytes = got < 0 ? 0 : (uint64_t)got;
    r.ok = got == (int64_t)o->bytes;
    if (sd >= 0)
        myclose(sd);
    r.cpu = self_cpu_s();
    send_result(&r);
}

static int xfer(const struct opts *o)
{
    pid_t pid = start_child(xfer_child, o);
    mysocket_t ls = listen_and_tell(o, 4);
    mysocket_t sd = myaccept(ls, NULL, NULL);
    if (sd < 0)
        die("myaccept");
    if (write_pattern(sd, o->bytes) < 0)
        die("mywrite");
    if (myclose(sd) < 0)
        fprintf(stderr, "stcp_xfer: close: %s\n", strerror(errno));
    myclose(ls);
    struct result r;
    if (get_result(&r) < 0) {
        errno = 0;
        die("stcp_xfer: no result from the reader");
    }
    double cpu_writer = self_cpu_s();
    long csw_writer = self_switches();
    struct rusage ru;
    finish_child(pid, &ru);
    if (!r.ok) {
        errno = r.first_error;
        die("stcpxfer: read %llu of %llu bytes", (unsigned long long)r.bytes,
            (unsigned long long)o->bytes);
    }
    printf("stcpxfer: bytes=%llu window=%ld seconds=%.6f mbps=%.2f cpu_writer=%.4f "
           "cpu_reader=%.4f csw_writer=%ld csw_reader=%ld\n",
           (unsigned long long)o->bytes, o->window, r.seconds, (double)o->bytes / r.seconds / 1e6,
           cpu_writer, ru_cpu_s(&ru), csw_writer, ru_switches(&ru));
    return 0;
}

/* ---- conc ---- */

struct conc_arg {
    const struct opts *o;
    pthread_barrier_t *start;
    int64_t got;
    int err;
    double done_at;
};

static void *conc_reader(void *arg)
{
    struct conc_arg *a = arg;
    uint8_t *buf = malloc(CHUNK);
    pthread_barrier_wait(a->start);
    mysocket_t sd = buf ? connect_server(a->o) : -1;
    a->got = sd < 0 ? -1 : read_pattern(sd, buf);
    a->err = a->got < 0 ? errno : 0;
    a->done_at = now_s();
    if (sd >= 0)
        myclose(sd);
    free(buf);
    return NULL;
}

static void conc_child(const struct opts *o)
{
    long n = o->conns;
    struct conc_arg *a = calloc((size_t)n, sizeof *a);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_barrier_t start;
    if (!a || !t)
        _exit(1);
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (long i = 0; i < n; i++) {
        a[i] = (struct conc_arg){o, &start, 0, 0, 0};
        if (pthread_create(&t[i], &attr, conc_reader, &a[i]) != 0)
            _exit(1);
    }
    pthread_barrier_wait(&start);
    double t0 = now_s(), last = t0;
    struct result r = {0};
    for (long i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (a[i].got == (int64_t)o->bytes)
            r.ok++;
        else if (!r.first_error)
            r.first_error = a[i].err ? a[i].err : EIO;
        if (a[i].got > 0)
            r.bytes += (uint64_t)a[i].got;
        if (a[i].done_at > last)
            last = a[i].done_at;
    }
    r.seconds = last - t0;
    r.failed = n - r.ok;
    r.cpu = self_cpu_s();
    send_result(&r);
}

static uint64_t conc_bytes; /* what each of the parent's threads writes */

static void *conc_writer(void *arg)
{
    mysocket_t sd = (mysocket_t)(long)arg;
    if (write_pattern(sd, conc_bytes) < 0)
        fprintf(stderr, "stcp_xfer: conc: mywrite: %s\n", strerror(errno));
    myclose(sd);
    return NULL;
}

static int conc(const struct opts *o)
{
    conc_bytes = o->bytes;
    pid_t pid = start_child(conc_child, o);
    long n = o->conns;
    mysocket_t ls = listen_and_tell(o, (int)(n < MAX_NUM_CONNECTIONS ? n : MAX_NUM_CONNECTIONS));
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    long accepted = 0;
    for (; accepted < n; accepted++) {
        mysocket_t sd = myaccept(ls, NULL, NULL);
        if (sd < 0)
            die("myaccept");
        if (pthread_create(&t[accepted], &attr, conc_writer, (void *)(long)sd) != 0)
            die("pthread_create");
    }
    for (long i = 0; i < accepted; i++)
        pthread_join(t[i], NULL);
    myclose(ls);
    struct result r;
    if (get_result(&r) < 0) {
        errno = 0;
        die("stcp_xfer: no result from the readers");
    }
    double cpu_writer = self_cpu_s();
    struct rusage ru;
    finish_child(pid, &ru);
    printf("stcpconc: conns=%ld ok=%ld bytes=%llu window=%ld seconds=%.4f mbps=%.2f "
           "cpu_writer=%.3f cpu_reader=%.3f error=%s\n",
           n, r.ok, (unsigned long long)r.bytes, o->window, r.seconds,
           (double)r.bytes / r.seconds / 1e6, cpu_writer, ru_cpu_s(&ru),
           r.first_error ? strerror(r.first_error) : "none");
    return r.ok == n ? 0 : 1;
}

/* ---- rate ---- */

static void rate_child(const struct opts *o)
{
    struct result r = {0};
    double *took = malloc((size_t)o->conns * sizeof *took);
    if (!took)
        _exit(1);
    double t0 = now_s(), end = t0 + o->seconds;
    while (r.ok < o->conns && now_s() < end) {
        char ch = 'x', reply = 0;
        double c0 = now_s();
        mysocket_t sd = connect_server(o);
        if (sd < 0 || mywrite(sd, &ch, 1) != 1 || myread(sd, &reply, 1) != 1 || reply != ch) {
            if (!r.first_error)
                r.first_error = errno ? errno : EIO;
            if (sd >= 0)
                myclose(sd);
            if (++r.failed > 100)
                break;
            continue;
        }
        if (myclose(sd) < 0 && !r.first_error)
            r.first_error = errno;
        took[r.ok++] = (now_s() - c0) * 1e6;
    }
    r.seconds = now_s() - t0;
    r.cpu = self_cpu_s();
    if (r.ok > 0) {
        qsort(took, (size_t)r.ok, sizeof *took, cmp_double);
        r.p50_us = took[r.ok / 2];
        r.p99_us = took[r.ok * 99 / 100];
        r.max_us = took[r.ok - 1];
        for (long i = 0; i < r.ok; i++)
            r.slow += took[i] > 100e3;
    }
    send_result(&r);
}

static void *rate_serve(void *arg)
{
    mysocket_t sd = (mysocket_t)(long)arg;
    char ch;
    if (myread(sd, &ch, 1) == 1)
        mywrite(sd, &ch, 1);
    myclose(sd);
    return NULL;
}

static void *rate_acceptor(void *arg)
{
    mysocket_t ls = (mysocket_t)(long)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (;;) {
        mysocket_t sd = myaccept(ls, NULL, NULL);
        if (sd < 0)
            break;
        pthread_t t;
        if (pthread_create(&t, &attr, rate_serve, (void *)(long)sd) != 0)
            myclose(sd);
    }
    return NULL;
}

static int rate(const struct opts *o)
{
    pid_t pid = start_child(rate_child, o);
    mysocket_t ls = listen_and_tell(o, 64);
    pthread_t t;
    if (pthread_create(&t, NULL, rate_acceptor, (void *)(long)ls) != 0)
        die("pthread_create");
    struct result r;
    if (get_result(&r) < 0) {
        errno = 0;
        die("stcp_xfer: no result from the connecting process");
    }
    struct rusage ru;
    finish_child(pid, &ru);
    printf("stcpconn: conns=%ld failed=%ld seconds=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f "
           "max_us=%.0f over_100ms=%ld first_error=%s\n",
           r.ok, r.failed, r.seconds, r.seconds > 0 ? (double)r.ok / r.seconds : 0.0, r.p50_us,
           r.p99_us, r.max_us, r.slow, r.first_error ? strerror(r.first_error) : "none");
    fflush(stdout);
    _exit(r.ok > 0 ? 0 : 1); /* the acceptor thread is still in myaccept */
}

/* ---- idle ---- */

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void idle_child(const struct opts *o)
{
    struct result r = {0};
    mysocket_t sd = connect_server(o);
    if (sd < 0)
        _exit(1);
    char go;
    if (read(to_child[0], &go, 1) != 1) /* the parent is ready too */
        _exit(1);
    double c0 = self_cpu_s();
    sleep_s(o->seconds);
    r.cpu = self_cpu_s() - c0;
    send_result(&r);
    myclose(sd);
}

static int idle(const struct opts *o)
{
    pid_t pid = start_child(idle_child, o);
    mysocket_t ls = listen_and_tell(o, 4);
    mysocket_t sd = myaccept(ls, NULL, NULL);
    if (sd < 0)
        die("myaccept");
    char go = 1;
    if (write(to_child[1], &go, 1) != 1)
        die("pipe");
    double c0 = self_cpu_s();
    sleep_s(o->seconds);
    double cpu = self_cpu_s() - c0;
    struct result r;
    if (get_result(&r) < 0) {
        errno = 0;
        die("stcp_xfer: no result from the connecting process");
    }
    myclose(sd);
    myclose(ls);
    struct rusage ru;
    finish_child(pid, &ru);
    printf("stcpidle: seconds=%.1f cpu_ms_listener=%.2f cpu_ms_connector=%.2f core_pct=%.4f\n",
           o->seconds, cpu * 1e3, r.cpu * 1e3, (cpu + r.cpu) / o->seconds * 100);
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s xfer [-U] [-w WINDOW] [-M MSS] [-n BYTES]\n"
            "       %s conc [-U] [-w WINDOW] [-n BYTES] [-c CONNS]\n"
            "       %s rate [-w WINDOW] [-t SECONDS] [-c MAXCOUNT]\n"
            "       %s idle [-t SECONDS]\n",
            prog, prog, prog, prog);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage(argv[0]);
    const char *mode = argv[1];
    int is_conc = !strcmp(mode, "conc"), is_rate = !strcmp(mode, "rate");
    struct opts o = {TRUE,
                     3072,
                     0,
                     is_conc ? 1u << 20 : 16u << 20,
                     is_conc ? 100 : 100000,
                     !strcmp(mode, "idle") ? 10 : 2};
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "Uw:M:n:c:t:")) != -1) {
        switch (c) {
        case 'U':
            o.reliable = FALSE;
            break;
        case 'w':
            o.window = (long)parse_size(optarg);
            break;
        case 'M':
            o.mss = (long)parse_size(optarg);
            break;
        case 'n':
            o.bytes = parse_size(optarg);
            break;
        case 'c':
            o.conns = (long)parse_size(optarg);
            break;
        case 't':
            o.seconds = atof(optarg);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc || o.window < 1 || o.window > MYSO_WINDOW_MAX || o.mss < 0 ||
        o.mss > 65495 || o.bytes < 1 || o.conns < 1 || o.seconds <= 0 || o.seconds > 120 ||
        (is_conc && o.conns > 400))
        usage(argv[0]);
    (void)is_rate;
    signal(SIGPIPE, SIG_IGN);
    pattern_init();
    if (!strcmp(mode, "xfer"))
        return xfer(&o);
    if (is_conc)
        return conc(&o);
    if (is_rate)
        return rate(&o);
    if (!strcmp(mode, "idle"))
        return idle(&o);
    usage(argv[0]);
    return 2;
}
