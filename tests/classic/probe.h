/* probe.h -- shared by probe_transport.c (a transport that checks the
 * classic calls one by one) and probe_main.c (the application side). */
#ifndef PROBE_H
#define PROBE_H

/* What the next active connection's transport does. */
enum probe_mode {
    PROBE_RUN,            /* the checks */
    PROBE_RETURN_ERRNO_0, /* return at once, errno 0, never unblocking */
    PROBE_RETURN_ETIMEDOUT
};
extern volatile int probe_mode;

/* One result per check, written by the transports, read by main once the
 * connection is over (myclose has returned). */
#define PROBE_MAX 32
struct probe_result {
    const char *name;
    int ok;
};
extern struct probe_result probe_results[PROBE_MAX];
extern int probe_count;
void probe_record(const char *name, int ok);

#define PROBE_PAYLOAD   "0123456789abcdefghijklmnopqrstuvwxyz"
#define PROBE_PIECES    12 /* header + 11 payload pieces: more than 8 */
#define PROBE_APP_BYTES 1000

#endif
