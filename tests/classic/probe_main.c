/* probe_main.c -- the application side of the probe (probe_transport.c):
 * one connection in this process runs the checks at both ends, two more
 * check how myconnect fails when transport_init returns without unblocking
 * it.  Prints "ok - NAME" / "not ok - NAME"; exit 0 if all passed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mysock.h"

#include "probe.h"

volatile int probe_mode = PROBE_RUN;
struct probe_result probe_results[PROBE_MAX];
int probe_count;
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed;

void probe_record(const char *name, int ok)
{
    pthread_mutex_lock(&probe_lock);
    if (probe_count < PROBE_MAX)
        probe_results[probe_count++] = (struct probe_result){name, ok};
    pthread_mutex_unlock(&probe_lock);
}

static void report(const char *name, int ok)
{
    printf("%sok - %s\n", ok ? "" : "not ", name);
    failed += !ok;
}

static mysocket_t listener;
static char accepted_data[64];
static int accepted_len = -1;

static void *accept_one(void *arg)
{
    (void)arg;
    mysocket_t sd = myaccept(listener, NULL, NULL);
    if (sd < 0)
        return NULL;
    int n, total = 0;
    while ((n = myread(sd, accepted_data + total, sizeof accepted_data - 1 - (size_t)total)) > 0)
        total += n;
    accepted_len = n == 0 ? total : -1;
    myclose(sd);
    return NULL;
}

static int connect_to(const struct sockaddr_in *addr, mysocket_t *out)
{
    *out = mysocket(TRUE);
    errno = 0;
    return myconnect(*out, (struct sockaddr *)addr, sizeof *addr);
}

int main(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    listener = mysocket(TRUE);
    if (listener < 0 || mybind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        mylisten(listener, 4) < 0 || mygetsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
        perror("probe: listener");
        return 2;
    }
    pthread_t acceptor;
    pthread_create(&acceptor, NULL, accept_one, NULL);

    mysocket_t sd;
    report("myconnect succeeds when unblocked with errno EINTR", connect_to(&addr, &sd) == 0);
    char data[PROBE_APP_BYTES];
    memset(data, 'x', sizeof data);
    report("mywrite of the application's bytes",
           mywrite(sd, data, sizeof data) == (int)sizeof data);
    myclose(sd);
    pthread_join(acceptor, NULL);
    report("myread sees stcp_app_send's bytes, then 0 after stcp_fin_received",
           accepted_len == 5 && memcmp(accepted_data, "hello", 5) == 0);
    for (int i = 0; i < probe_count; i++)
        report(probe_results[i].name, probe_results[i].ok);
    report("every check ran (18)", probe_count == 18);

    probe_mode = PROBE_RETURN_ERRNO_0;
    int rc = connect_to(&addr, &sd);
    report("transport_init returns, errno 0, never unblocking: myconnect fails ECONNREFUSED",
           rc == -1 && errno == ECONNREFUSED);
    myclose(sd);
    probe_mode = PROBE_RETURN_ETIMEDOUT;
    rc = connect_to(&addr, &sd);
    report("... errno ETIMEDOUT: myconnect fails with it", rc == -1 && errno == ETIMEDOUT);
    myclose(sd);
    myclose(listener);
    return failed ? 1 : 0;
}
