/* cprobe.c -- how long a connect to a closed port takes to fail, timed
 * inside the process (no process start-up in the figure).
 *
 *   cprobe [-k] [-n TIMES] HOST:PORT
 *
 * Connects TIMES times (default 20) to HOST:PORT, each on a fresh socket,
 * and times each attempt from the connect call to its return with
 * CLOCK_MONOTONIC: our stack's myconnect (mysock.h, on the carrier
 * STCP_CARRIER selects), or with -k the kernel's own connect().  Prints
 * "cprobe: STACK N attempts: first F us, median M us, min A us, max B us;
 * errno E (text)" where the first attempt also pays for starting the
 * carrier (ours: opening the device and its threads).  Exit 0 if every
 * attempt failed with ECONNREFUSED, 1 otherwise, 2 on misuse. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mysock.h"
#include "traffic.h"

#define TIMES_MAX 1000

static int connect_ours(const struct sockaddr_in *to)
{
    mysocket_t sd = mysocket(TRUE);
    if (sd < 0)
        return errno;
    int rc = myconnect(sd, (struct sockaddr *)to, sizeof *to) < 0 ? errno : 0;
    myclose(sd);
    return rc;
}

static int connect_kernel(const struct sockaddr_in *to)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int rc = connect(fd, (const struct sockaddr *)to, sizeof *to) < 0 ? errno : 0;
    close(fd);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-k] [-n TIMES] HOST:PORT\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int kernel = 0, c;
    long times = 20;
    while ((c = getopt(argc, argv, "kn:")) != -1) {
        if (c == 'k')
            kernel = 1;
        else if (c != 'n' || !traffic_parse_long(optarg, 1, TIMES_MAX, &times))
            usage(argv[0]);
    }
    struct sockaddr_in to;
    if (optind != argc - 1 || traffic_parse_addr(argv[optind], &to) < 0)
        usage(argv[0]);

    static uint64_t us[TIMES_MAX];
    int err = 0, all_refused = 1;
    for (long i = 0; i < times; i++) {
        uint64_t t0 = traffic_now_ns();
        err = kernel ? connect_kernel(&to) : connect_ours(&to);
        us[i] = (traffic_now_ns() - t0) / 1000;
        if (err != ECONNREFUSED)
            all_refused = 0;
    }
    uint64_t first = us[0];
    qsort(us, (size_t)times, sizeof us[0], cmp_u64);
    printf("cprobe: %s %ld attempts: first %llu us, median %llu us, min %llu us, max %llu us; "
           "errno %d (%s)\n",
           kernel ? "kernel" : "ours", times, (unsigned long long)first,
           (unsigned long long)us[times / 2], (unsigned long long)us[0],
           (unsigned long long)us[times - 1], err, strerror(err));
    return all_refused ? 0 : 1;
}
