#!/usr/bin/env bash
# bench/profile.sh -- the profiles behind issue 14's missed targets: STCP
# beside its yardstick at the same setting, both processes counted.
#
#   bash bench/profile.sh [big|w3072|rate|all [ROUNDS]]     (default all 3)
#
#   big    one stream, 64 MiB, stcp_xfer xfer -M 65000 -w 262144, beside
#          kernel TCP moving the same 64 MiB (tcp_kernel xfer);
#   w3072  window 3072 on the classic wire, 16 MiB (stcp_xfer xfer -w 3072),
#          beside the minimal window-limited protocol on UDP at the same
#          window (udp_window: one thread a side, no reliability) and the
#          ping-pong RTT that sets the window/RTT bound;
#   rate   connect + 1-byte exchange + close (stcp_xfer rate -t 2, beside
#          tcp_kernel conn -t 1).
#
# For each program, ROUNDS runs under `perf stat` (software events and
# tracepoints: this VM has no hardware counters), the median of each figure
# per MiB (big), per 536-byte segment (w3072) or per connection (rate).
# The rates here are slowed by the syscall tracepoints (every system call
# takes the traced path): quote make bench's, not these.
#   profile: WHAT PROG mbps|rate=.. cpu_ms=.. csw=.. syscalls=.. wakeups=..
#            newtasks=.. (all per unit; cpu_ms is task-clock, both processes)
# then one run under perf stat of the system calls that matter, per unit,
# of STCP and its yardstick (recvmsg_eagain: reads that found nothing):
#   calls: WHAT NAME=N ...
# and one `perf record` (cpu-clock, 2 kHz) of the STCP run and its top
# functions, kernel and user space together:
#   top: WHAT PCT% SYMBOL
# Needs perf and the bench programs in build/bench (make bench builds them;
# or see bench/run.sh's build lines).  Exit 1 if a program failed.
set -u
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build/bench
WHAT=${1:-all}
ROUNDS=${2:-3}
W=$(mktemp -d /tmp/stcp-profile.XXXXXX)
trap 'rm -rf "$W"' EXIT
EVENTS=task-clock,context-switches,raw_syscalls:sys_enter,sched:sched_wakeup,task:task_newtask
command -v perf >/dev/null || { echo "profile: perf not found"; exit 1; }
for p in stcp_xfer tcp_kernel udp_window udp_pingpong; do
    [ -x "$B/$p" ] || { echo "profile: $B/$p missing (build the bench programs)"; exit 1; }
done

field() { sed -n "s/.*[ :]$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }

# stat LABEL UNITS RATE_KEY CMD...: ROUNDS runs under perf stat; one line of
# medians per unit (UNITS: how many units one run moves; "conns" takes the
# count from the program's own conns= field).
stat() {
    local label=$1 units=$2 key=$3 i out line n
    shift 3
    : >"$W/rows"
    for i in $(seq "$ROUNDS"); do
        out=$(perf stat -x, -e "$EVENTS" -o "$W/stat" -- "$@" 2>/dev/null) || return 1
        line=$(grep -E '^(stcp|tcp|udp)' <<<"$out" | tail -1)
        n=$units
        [ "$units" = conns ] && n=$(field "$line" conns)
        awk -F, -v n="$n" -v rate="$(field "$line" "$key")" '
            $3 == "task-clock" {c = $1} $3 == "context-switches" {s = $1}
            $3 == "raw_syscalls:sys_enter" {y = $1} $3 == "sched:sched_wakeup" {w = $1}
            $3 == "task:task_newtask" {t = $1}
            END {printf "%s %.3g %.3g %.3g %.3g %.3g\n", rate, c / n, s / n, y / n, w / n, t / n}' \
            "$W/stat" >>"$W/rows"
    done
    printf "profile: %s" "$label"
    local col name
    for col in 1 2 3 4 5 6; do
        name=$(echo "$key cpu_ms csw syscalls wakeups newtasks" | cut -d' ' -f"$col")
        printf " %s=%s" "$name" "$(cut -d' ' -f"$col" "$W/rows" | median)"
    done
    echo
}

# calls LABEL UNITS CMD...: one run under perf stat counting the system
# calls that matter here (their tracepoints; perf trace loses events at
# these rates and slows the run fourfold), per unit, the commonest first;
# recvmsg_eagain is the reads that found nothing:  calls: LABEL NAME=N ...
SYSCALLS="futex recvmsg sendmsg sendmmsg recvfrom sendto ppoll poll read write rt_sigprocmask tgkill clone3
          mprotect madvise mmap brk accept accept4 connect close socket"
calls() {
    local label=$1 units=$2 out line n ev=() c
    shift 2
    for c in $SYSCALLS; do ev+=(-e "syscalls:sys_enter_$c"); done
    out=$(perf stat -x, -o "$W/calls" "${ev[@]}" -e syscalls:sys_exit_recvmsg \
        --filter 'ret == -11' -- "$@" 2>/dev/null) || return 1
    line=$(grep -E '^(stcp|tcp|udp)' <<<"$out" | tail -1)
    n=$units
    [ "$units" = conns ] && n=$(field "$line" conns)
    awk -F, '$3 ~ /^syscalls:/ && $1 + 0 > 0 {
            name = $3; sub(/syscalls:sys_enter_/, "", name); sub(/syscalls:sys_exit_recvmsg/, "recvmsg_eagain", name)
            print $1, name }' "$W/calls" | sort -rn | head -10 |
        awk -v n="$n" -v l="$label" '{s = s sprintf(" %s=%.3g", $2, $1 / n)}
            END {print "calls: " l s}'
}

# top LABEL CMD...: one perf record of CMD, its 12 busiest functions.
top() {
    local label=$1
    shift
    perf record -q -F 2000 -g -o "$W/perf.data" -- "$@" >/dev/null 2>&1 || return 1
    perf report -i "$W/perf.data" --no-children --sort sym --stdio 2>/dev/null |
        awk -v l="$label" '/^ +[0-9.]+%/ && !/^ +[0-9.]+%.*\|/ {
            sub(/\[[.k]\] /, ""); printf "top: %s %s %s\n", l, $1, $2; if (++n == 12) exit }'
}

rc=0
MIB64=64 SEGS16=$(((16 << 20) / 536)) # units: MiB moved, 536-byte segments
case $WHAT in all | big)
    stat "big stcp -M 65000 -w 262144" $MIB64 mbps \
        "$B/stcp_xfer" xfer -M 65000 -w 262144 -n 64M || rc=1
    stat "big kernel-tcp" $MIB64 mbps "$B/tcp_kernel" xfer -n 64M || rc=1
    calls "big stcp (per MiB)" $MIB64 "$B/stcp_xfer" xfer -M 65000 -w 262144 -n 64M || rc=1
    calls "big kernel-tcp (per MiB)" $MIB64 "$B/tcp_kernel" xfer -n 64M || rc=1
    top "big" "$B/stcp_xfer" xfer -M 65000 -w 262144 -n 64M || rc=1
    ;;
esac
case $WHAT in all | w3072)
    rtt=$("$B/udp_pingpong" -n 20000 2>/dev/null | sed -n 's/.*median_us=\([0-9.]*\).*/\1/p')
    echo "profile: w3072 ping-pong median RTT ${rtt:-?} us: bound $(awk -v r="${rtt:-0}" \
        'BEGIN {printf "%.1f", (r > 0) ? 3072 / r : 0}') MB/s"
    stat "w3072 stcp -w 3072 (per segment)" "$SEGS16" mbps \
        "$B/stcp_xfer" xfer -w 3072 -n 16M || rc=1
    stat "w3072 udp_window -w 3072 (per segment)" "$SEGS16" mbps \
        "$B/udp_window" -w 3072 -n 16M || rc=1
    calls "w3072 stcp (per segment)" "$SEGS16" "$B/stcp_xfer" xfer -w 3072 -n 16M || rc=1
    calls "w3072 udp_window (per segment)" "$SEGS16" "$B/udp_window" -w 3072 -n 16M || rc=1
    top "w3072" "$B/stcp_xfer" xfer -w 3072 -n 16M || rc=1
    ;;
esac
case $WHAT in all | rate)
    stat "rate stcp (per connection)" conns rate "$B/stcp_xfer" rate -t 2 || rc=1
    stat "rate kernel-tcp (per connection)" conns rate "$B/tcp_kernel" conn -t 1 || rc=1
    calls "rate stcp (per connection)" conns "$B/stcp_xfer" rate -t 2 || rc=1
    calls "rate kernel-tcp (per connection)" conns "$B/tcp_kernel" conn -t 1 || rc=1
    top "rate" "$B/stcp_xfer" rate -t 2 || rc=1
    ;;
esac
exit $rc
