/* kpeer.c -- the kernel's TCP as a test peer, through the BSD socket API.
 *
 *   kpeer serve [-a ADDR] [-p PORT] [-d DIR] [-A BYTES] [-n CONNS]
 *   kpeer fetch [-o FILE] HOST PORT NAME
 *
 * serve speaks the STCP file protocol (request "NAME\r\n", reply
 * "NAME,LENGTH,OK\r\n" and the bytes) over kernel TCP, one thread a
 * connection, and prints "Kernel server at ADDR:PORT", then one line per
 * finished connection: "conn sent=N end=closed|reset|error:..." (how the
 * client's side ended: its FIN, a RST, or another error).  -A BYTES aborts
 * each connection with a RST (SO_LINGER 0) after that many file bytes.
 * -n CONNS exits after that many connections.
 *
 * fetch asks our server for NAME over kernel TCP, stores the file (or
 * discards it without -o), and exits 0 only if the whole file and the
 * server's FIN arrived.  It prints "fetch bytes=N usec=T" on success.
 *
 * Both exit 2 on misuse.  This program is a test tool: it is a peer we did
 * not write the TCP of, so our own misreadings cannot cancel out. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *serve_dir = ".";
static long long abort_after = -1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(void)
{
    fprintf(stderr, "usage: kpeer serve [-a ADDR] [-p PORT] [-d DIR] [-A BYTES] [-n CONNS]\n"
                    "       kpeer fetch [-o FILE] HOST PORT NAME\n");
    exit(2);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read a request line of at most cap - 1 bytes, without its line end. */
static int read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
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

/* How the client's side ended, after we sent everything (or aborted). */
static const char *client_end(int fd, char *buf, size_t cap)
{
    char junk[4096];
    for (;;) {
        ssize_t r = read(fd, junk, sizeof junk);
        if (r > 0)
            continue;
        if (r == 0)
            return "closed";
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return "reset";
        snprintf(buf, cap, "error:%s", strerror(errno));
        return buf;
    }
}

static long long send_file(int fd, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", serve_dir, name);
    int file = open(path, O_RDONLY);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0) {
        dprintf(fd, "%s,-1,File not found\r\n", name);
        if (file >= 0)
            close(file);
        return 0;
    }
    dprintf(fd, "%s,%lld,OK\r\n", name, (long long)st.st_size);
    long long sent = 0;
    char buf[65536];
    for (;;) {
        size_t want = sizeof buf;
        if (abort_after >= 0 && (long long)want > abort_after - sent)
            want = (size_t)(abort_after - sent);
        ssize_t n = want ? read(file, buf, want) : 0;
        if (n <= 0 || write_all(fd, buf, (size_t)n) < 0)
            break;
        sent += n;
    }
    close(file);
    return sent;
}

static void *serve_conn(void *arg)
{
    int fd = *(int *)arg;
    free(arg);
    char name[1024];
    long long sent = 0;
    char why[128];
    const char *end;
    if (read_line(fd, name, sizeof name) < 0) {
        end = "error:no request";
    } else {
        sent = send_file(fd, name);
        if (abort_after >= 0) {
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            end = "aborted";
        } else {
            shutdown(fd, SHUT_WR);
            end = client_end(fd, why, sizeof why);
        }
    }
    close(fd);
    pthread_mutex_lock(&out_lock);
    printf("conn sent=%lld end=%s\n", sent, end);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    return NULL;
}

static int serve(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    long conns = -1;
    int c;
    while ((c = getopt(argc, argv, "a:p:d:A:n:")) != -1) {
        switch (c) {
        case 'a':
            if (inet_pton(AF_INET, optarg, &sin.sin_addr) != 1)
                usage();
            break;
        case 'p':
            sin.sin_port = htons((uint16_t)atoi(optarg));
            break;
        case 'd':
            serve_dir = optarg;
            break;
        case 'A':
            abort_after = atoll(optarg);
            break;
        case 'n':
            conns = atol(optarg);
            break;
        default:
            usage();
        }
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(ls, 128) < 0) {
        perror("kpeer: listen");
        return 1;
    }
    socklen_t len = sizeof sin;
    getsockname(ls, (struct sockaddr *)&sin, &len);
    char a[INET_ADDRSTRLEN];
    printf("Kernel server at %s:%u\n", inet_ntop(AF_INET, &sin.sin_addr, a, sizeof a),
           ntohs(sin.sin_port));
    fflush(stdout);
    for (long i = 0; conns < 0 || i < conns; i++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            perror("kpeer: accept");
            return 1;
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        if (conns < 0)
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int *arg = malloc(sizeof *arg);
        if (arg)
            *arg = fd;
        if (!arg || pthread_create(&t, &attr, serve_conn, arg) != 0) {
            free(arg);
            close(fd);
            continue;
        }
        if (conns >= 0)
            pthread_join(t, NULL); /* counted connections: one at a time */
    }
    close(ls);
    return 0;
}

static int fetch(int argc, char **argv)
{
    const char *out = NULL;
    int c;
    while ((c = getopt(argc, argv, "o:")) != -1) {
        if (c != 'o')
            usage();
        out = optarg;
    }
    if (optind + 3 != argc)
        usage();
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
        usage();
    sin.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
    const char *name = argv[optind + 2];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        fprintf(stderr, "kpeer: connect: %s\n", strerror(errno));
        return 1;
    }
    dprintf(fd, "%s\r\n", name);
    char line[2048];
    long long length;
    if (read_line(fd, line, sizeof line) < 0) {
        fprintf(stderr, "kpeer: no reply line: %s\n", strerror(errno));
        return 1;
    }
    char *comma = strrchr(line, ',');
    if (!comma)
        return 1;
    *comma = '\0';
    comma = strrchr(line, ',');
    if (!comma || (length = atoll(comma + 1)) < 0) {
        fprintf(stderr, "kpeer: refused: %s\n", line);
        return 1;
    }
    int file = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    long long got = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        got += n;
        if (file >= 0 && write_all(file, buf, (size_t)n) < 0)
            return 1;
    }
    if (n < 0) {
        fprintf(stderr, "kpeer: read after %lld bytes: %s\n", got, strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    if (file >= 0)
        close(file);
    if (got != length) {
        fprintf(stderr, "kpeer: got %lld of %lld bytes\n", got, length);
        return 1;
    }
    long long usec = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    printf("fetch bytes=%lld usec=%lld\n", got, usec);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a reset connection is reported, not fatal */
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "fetch") == 0)
        return fetch(argc - 1, argv + 1);
    usage();
}
