/* carrier_ports.c -- the stack's port and address rules on an IP carrier,
 * for tests/carriers.sh.  Run with STCP_CARRIER=vnet:FILE (or tun:...)
 * and the carrier's address as the argument:
 *
 *     carrier_ports OURADDR
 *
 * Checks, in one process: 50 sockets bound to port 0 get 50 different
 * ports in 49152-65535; a bind to a port a socket holds (bound or
 * listening) fails with EADDRINUSE, and succeeds again once it is closed;
 * a bind to an address that is not the carrier's fails with EADDRNOTAVAIL;
 * mygetsockname and mylocalip give the carrier's address; MYSO_MSS defaults
 * to the carrier's.  Prints "ok - ..." / "not ok - ..." lines; exit status 0
 * if all held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysock.h"

static int failed;

static void report(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    if (!ok)
        failed = 1;
}

static int bind_to(mysocket_t sd, uint32_t addr, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = addr;
    return mybind(sd, (struct sockaddr *)&a, sizeof a);
}

static uint16_t port_of(mysocket_t sd, uint32_t *addr)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (mygetsockname(sd, (struct sockaddr *)&a, &len) < 0)
        return 0;
    if (addr)
        *addr = a.sin_addr.s_addr;
    return ntohs(a.sin_port);
}

#define N 50

static void ephemeral_ports(uint32_t ours)
{
    mysocket_t sd[N];
    uint16_t port[N];
    int distinct = 1, in_range = 1, named = 1;
    for (int i = 0; i < N; i++) {
        sd[i] = mysocket(TRUE);
        uint32_t addr = 0;
        port[i] =
            sd[i] >= 0 && bind_to(sd[i], htonl(INADDR_ANY), 0) == 0 ? port_of(sd[i], &addr) : 0;
        in_range &= port[i] >= 49152;
        named &= addr == ours;
        for (int j = 0; j < i; j++)
            distinct &= port[j] != port[i];
    }
    report(in_range, "port 0 gives ports in 49152-65535");
    report(distinct, "50 sockets bound to port 0 get 50 different ports");
    report(named, "mygetsockname gives the carrier's address");
    for (int i = 0; i < N; i++)
        myclose(sd[i]);
}

static void taken_ports(uint32_t ours)
{
    mysocket_t a = mysocket(TRUE), b = mysocket(TRUE), c = mysocket(TRUE);
    int rc = bind_to(a, htonl(INADDR_ANY), 5555);
    report(rc == 0, "bind to a free port");
    errno = 0;
    rc = bind_to(b, ours, 5555);
    report(rc < 0 && errno == EADDRINUSE, "bind to a bound port: EADDRINUSE");
    myclose(a);
    rc = bind_to(b, ours, 5555);
    report(rc == 0, "the port is free again once closed");
    report(mylisten(b, 5) == 0, "listen on it");
    errno = 0;
    rc = bind_to(c, htonl(INADDR_ANY), 5555);
    report(rc < 0 && errno == EADDRINUSE, "bind to a listener's port: EADDRINUSE");
    errno = 0;
    rc = bind_to(c, htonl(INADDR_LOOPBACK), 5556);
    report(rc < 0 && errno == EADDRNOTAVAIL, "bind to an address not ours: EADDRNOTAVAIL");
    myclose(b);
    myclose(c);
}

int main(int argc, char **argv)
{
    struct in_addr ours;
    if (argc != 2 || inet_pton(AF_INET, argv[1], &ours) != 1) {
        fprintf(stderr, "usage: STCP_CARRIER=... carrier_ports OURADDR\n");
        return 2;
    }
    mysocket_t sd = mysocket(TRUE);
    if (sd < 0) {
        perror("carrier_ports: mysocket");
        return 1;
    }
    long mss = 0;
    mygetsockopt(sd, MYSO_MSS, &mss);
    printf("# MYSO_MSS default %ld\n", mss);
    report(mss > 536, "MYSO_MSS defaults to the carrier's (MTU - 40)");
    report(mylocalip(htonl(0x0a000001)) == ours.s_addr, "mylocalip gives the carrier's address");
    myclose(sd);
    ephemeral_ports(ours.s_addr);
    taken_ports(ours.s_addr);
    return failed;
}
