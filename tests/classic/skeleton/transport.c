/* transport.c -- the shape of the classic STCP skeleton, for the build
 * tests in tests/classic.sh (it is linked, never run for a transfer).
 *
 * Like the classic starting point a student was given, it defines
 * our_dprintf() itself (the framework's is weak, so this one wins at link
 * time), leaves parameters unused, and passes our_dprintf a format whose
 * arguments do not match: all warnings at most, never build errors.  The
 * decoy headers next to it must not be the ones it gets.
 */
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <assert.h>
#include "mysock.h"
#include "stcp_api.h"
#include "transport.h"

enum { CSTATE_ESTABLISHED };

typedef struct {
    int done;
    int connection_state;
    tcp_seq initial_sequence_num;
} context_t;

static void generate_initial_seq_num(context_t *ctx);
static void control_loop(mysocket_t sd, context_t *ctx);

void transport_init(mysocket_t sd, bool_t is_active)
{
    context_t *ctx;
    int unused_variable; /* a warning the build shows and does not fail on */

    ctx = (context_t *)calloc(1, sizeof(context_t));
    assert(ctx);
    generate_initial_seq_num(ctx);
    ctx->connection_state = CSTATE_ESTABLISHED;
    stcp_unblock_application(sd);
    control_loop(sd, ctx);
    free(ctx);
}

static void generate_initial_seq_num(context_t *ctx)
{
    assert(ctx);
    ctx->initial_sequence_num = 1;
}

static void control_loop(mysocket_t sd, context_t *ctx)
{
    assert(ctx);
    while (!ctx->done) {
        unsigned int event = stcp_wait_for_event(sd, ANY_EVENT, NULL);
        if (event & APP_CLOSE_REQUESTED)
            ctx->done = 1;
        /* sloppy on purpose: %d given a size_t */
        our_dprintf("event %d, header %d bytes\n", event, sizeof(STCPHeader));
        dprintf("only with DEBUG: %s\n", "classic dprintf");
    }
}

/* The classic skeleton's own debug print. */
void our_dprintf(const char *format, ...)
{
    va_list argptr;
    char buffer[1024];

    assert(format);
    va_start(argptr, format);
    vsnprintf(buffer, sizeof(buffer), format, argptr);
    va_end(argptr);
    fputs(buffer, stdout);
    fflush(stdout);
}
