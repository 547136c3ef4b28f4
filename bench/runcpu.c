/* runcpu.c -- run a command and report its wall time and CPU time.
 *
 *   runcpu [-o FILE] [-k SECONDS] COMMAND [ARG...]
 *
 * Forks, execs COMMAND (its standard streams are left alone), waits for it
 * with wait4, and writes one line to FILE (default: standard error):
 *
 *   runcpu: status=S wall=SECONDS user=SECONDS sys=SECONDS cpu=SECONDS
 *
 * wall runs from just before fork to the child's exit; the CPU times are
 * the child's and its waited-for descendants'.  -k kills the command
 * (SIGKILL) if it runs longer than SECONDS, and the line says status=killed.
 * SIGTERM, SIGINT and SIGHUP are passed on to the command.  The exit status
 * is the command's (or 124 if it was killed).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0)
        kill(child, SIGKILL);
}

/* SIGTERM, SIGINT and SIGHUP go on to the command. */
static void on_forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    double limit = 0;
    int c;
    while ((c = getopt(argc, argv, "+o:k:")) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'k':
            limit = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-o FILE] [-k SECONDS] COMMAND [ARG...]\n", argv[0]);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: %s [-o FILE] [-k SECONDS] COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    double t0 = now_s();
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        execvp(argv[optind], argv + optind);
        die("exec %s", argv[optind]);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (limit > 0) {
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 0},
                               {(time_t)limit, (long)((limit - (double)(time_t)limit) * 1e6)}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(child, &status, 0, &ru)) < 0 && errno == EINTR)
        ;
    double wall = now_s() - t0;
    if (w < 0)
        die("wait4");
    FILE *f = out ? fopen(out, "w") : stderr;
    if (!f)
        die("%s", out);
    char st[32];
    if (timed_out)
        snprintf(st, sizeof st, "killed");
    else if (WIFEXITED(status))
        snprintf(st, sizeof st, "%d", WEXITSTATUS(status));
    else
        snprintf(st, sizeof st, "signal%d", WTERMSIG(status));
    double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    fprintf(f, "runcpu: status=%s wall=%.6f user=%.4f sys=%.4f cpu=%.4f\n", st, wall, user, sys,
            user + sys);
    if (f != stderr)
        fclose(f);
    if (timed_out)
        return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
