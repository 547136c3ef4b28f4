/* peer.c -- a scriptable STCP peer for tests, using only mysock.h.
 *
 *   peer [-s TEXT] [-n N] [-H MS] [-T MS] [-a N] HOST:PORT
 *
 * Connects, sends TEXT (C escapes \r \n \0 \\ understood) and then N bytes
 * of 'A', waits MS milliseconds (-H), then prints everything the server
 * sends until it closes (or -T MS pass without data) on stdout.
 * Exit 0 if it connected and saw the end of the connection, 1 otherwise.
 * With -a N it reads only until N bytes have come, then closes with
 * whatever else arrived unread (an abort: a RST), waits for the end of its
 * standard input, and exits 0 if it got them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"

static size_t unescape(const char *in, char *out)
{
    size_t n = 0;
    for (; *in; in++) {
        if (*in != '\\' || !in[1]) {
            out[n++] = *in;
            continue;
        }
        in++;
        out[n++] = *in == 'r' ? '\r' : *in == 'n' ? '\n' : *in == '0' ? '\0' : *in;
    }
    return n;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-s TEXT] [-n N] [-H MS] [-T MS] [-a N] HOST:PORT\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *text = "";
    long fill = 0, hold_ms = 0, timeout_ms = 0, abort_after = 0;
    int c;
    while ((c = getopt(argc, argv, "s:n:H:T:a:")) != -1) {
        switch (c) {
        case 's':
            text = optarg;
            break;
        case 'n':
            fill = strtol(optarg, NULL, 10);
            break;
        case 'H':
            hold_ms = strtol(optarg, NULL, 10);
            break;
        case 'T':
            timeout_ms = strtol(optarg, NULL, 10);
            break;
        case 'a':
            abort_after = strtol(optarg, NULL, 10);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind + 1 != argc || fill < 0 || hold_ms < 0 || timeout_ms < 0 || abort_after < 0)
        usage(argv[0]);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char *colon = strrchr(argv[optind], ':');
    if (!colon)
        usage(argv[0]);
    *colon = '\0';
    sin.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
        usage(argv[0]);

    mysocket_t sd = mysocket(TRUE);
    if (sd < 0 || myconnect(sd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        fprintf(stderr, "peer: connect: %s\n", strerror(errno));
        return 1;
    }
    char *buf = malloc(strlen(text) + (size_t)fill + 1);
    size_t len = unescape(text, buf);
    memset(buf + len, 'A', (size_t)fill);
    len += (size_t)fill;
    if (len && mywrite(sd, buf, len) != (int)len)
        fprintf(stderr, "peer: write: %s\n", strerror(errno));
    free(buf);
    if (hold_ms) {
        struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    mysetsockopt(sd, MYSO_RCVTIMEO, timeout_ms);
    char in[4096];
    int n, rc = 1;
    if (abort_after) {
        long got = 0;
        while (got < abort_after) {
            size_t want = (size_t)(abort_after - got);
            n = myread(sd, in, want < sizeof in ? want : sizeof in);
            if (n <= 0)
                break;
            fwrite(in, 1, (size_t)n, stdout);
            got += n;
        }
        myclose(sd); /* the rest, unread */
        /* -a: stay until standard input ends, so the peer's stack reads our
         * RST before its sends can draw an ICMP "port unreachable" from a
         * process that has gone. */
        while (getchar() != EOF)
            ;
        return got == abort_after ? 0 : 1;
    }
    while ((n = myread(sd, in, sizeof in)) > 0)
        fwrite(in, 1, (size_t)n, stdout);
    if (n == 0)
        rc = 0;
    else
        fprintf(stderr, "peer: read: %s\n", strerror(errno));
    myclose(sd);
    return rc;
}
