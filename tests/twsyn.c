/* twsyn.c -- a SYN that reaches a connection in TIME_WAIT opens the new
 * connection at once (the framework hands it to the listener), rather than
 * being dropped and resent by the client after its retransmission timeout.
 *
 *   twsyn
 *
 * One process, udp carrier, loopback: a listener; a client bound to a fixed
 * port connects, the server side shuts down first (so it ends in
 * TIME_WAIT), the client closes; then the client connects again from the
 * same port while the server's old connection is still in TIME_WAIT.
 * Passes if that connection is accepted and its SYN was never resent.
 * Exit 0 on pass, 1 on failure, 77 if TIME_WAIT (1 s) had already ended
 * before the second SYN three times over (a very loaded machine). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mysock.h"

static const char *state_of(mysocket_t sd)
{
    static struct mystats st;
    memset(&st, 0, sizeof st);
    return mygetstats(sd, &st) == 0 ? st.state : "?";
}

/* Wait (bounded) until sd's transport reports state. */
static int await_state(mysocket_t sd, const char *state)
{
    for (int i = 0; i < 2000; i++) {
        if (strcmp(state_of(sd), state) == 0)
            return 0;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return -1;
}

/* The client socket bound to cport: its previous one may still be ending. */
static mysocket_t bound_client(const struct sockaddr_in *caddr)
{
    for (int i = 0; i < 2000; i++) {
        mysocket_t sd = mysocket(TRUE);
        if (sd < 0)
            return -1;
        if (mybind(sd, (struct sockaddr *)caddr, sizeof *caddr) == 0)
            return sd;
        myclose(sd);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return -1;
}

/* 1 pass, 0 fail, -1 TIME_WAIT over too soon to tell. */
static int attempt(mysocket_t ls, const struct sockaddr_in *saddr, const struct sockaddr_in *caddr)
{
    mysocket_t c1 = bound_client(caddr);
    if (c1 < 0 || myconnect(c1, (struct sockaddr *)saddr, sizeof *saddr) < 0)
        return 0;
    mysocket_t s1 = myaccept(ls, NULL, NULL);
    char b;
    if (s1 < 0 || myshutdown(s1, SHUT_WR) < 0 || myread(c1, &b, 1) != 0 || myclose(c1) < 0 ||
        await_state(s1, "TIME_WAIT") < 0) {
        fprintf(stderr, "twsyn: first connection did not reach TIME_WAIT (%s)\n", state_of(s1));
        return 0;
    }
    mysocket_t c2 = bound_client(caddr);
    if (c2 < 0)
        return 0;
    bool in_time_wait = strcmp(state_of(s1), "TIME_WAIT") == 0;
    if (myconnect(c2, (struct sockaddr *)saddr, sizeof *saddr) < 0) {
        fprintf(stderr, "twsyn: second connect: %s\n", strerror(errno));
        return 0;
    }
    mysocket_t s2 = myaccept(ls, NULL, NULL);
    struct mystats st;
    memset(&st, 0, sizeof st);
    int rc = s2 >= 0 && mygetstats(c2, &st) == 0 && st.rexmit_timeout == 0 ? 1 : 0;
    if (!rc)
        fprintf(stderr, "twsyn: second SYN resent %llu time(s)\n",
                (unsigned long long)st.rexmit_timeout);
    myclose(c2);
    if (s2 >= 0)
        myclose(s2);
    myclose(s1);
    return rc || in_time_wait ? rc : -1;
}

int main(void)
{
    mysocket_t ls = mysocket(TRUE);
    struct sockaddr_in saddr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof saddr;
    if (ls < 0 || mybind(ls, (struct sockaddr *)&saddr, sizeof saddr) < 0 || mylisten(ls, 8) < 0 ||
        mygetsockname(ls, (struct sockaddr *)&saddr, &len) < 0) {
        perror("twsyn: listen");
        return 1;
    }
    /* A free port for the client: bind 0, note it, give it back. */
    struct sockaddr_in caddr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    mysocket_t probe = mysocket(TRUE);
    len = sizeof caddr;
    if (probe < 0 || mybind(probe, (struct sockaddr *)&caddr, sizeof caddr) < 0 ||
        mygetsockname(probe, (struct sockaddr *)&caddr, &len) < 0) {
        perror("twsyn: client port");
        return 1;
    }
    myclose(probe);
    for (int i = 0; i < 3; i++) {
        int r = attempt(ls, &saddr, &caddr);
        if (r >= 0) {
            printf("twsyn: %s\n", r ? "SYN in TIME_WAIT accepted at once" : "FAILED");
            return r ? 0 : 1;
        }
    }
    printf("twsyn: TIME_WAIT always over before the second SYN\n");
    return 77;
}
