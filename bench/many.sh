#!/usr/bin/env bash
# bench/many.sh -- many concurrent connections to one file server (issue 14).
#
#   bash bench/many.sh fetch [COUNT [BYTES [THREADS [WINDOW]]]]
#                                    (default 10000 65536 16, the default window)
#   bash bench/many.sh idle [COUNT]                      (default 2000)
#
# fetch: one server, one tests/mconn process opening COUNT connections, each
# asking for a BYTES-byte file (all open and asked before any is read), and
# checking every byte.  open_s: when all were open (and asked).
# Prints one line:
#   many: n=.. exact=.. open_s=.. wall_s=.. fresh_kb=.. peak_rss_kb=..
#         rss_per_conn_kb=.. peak_threads=.. peak_fds=..
# (peak threads and descriptors of the server are sampled every 0.5 s).
# idle: COUNT connections opened and held idle (the server's threads wait in
# myread for the request line); the server's RSS fresh and holding them, and
# the wake-ups and CPU of both processes over 3 s:
#   idle_many: n=.. fresh_kb=.. held_kb=.. per_conn_kb=.. threads=..
#         srv_wakeups_per_conn_s=.. cli_wakeups_per_conn_s=.. cpu_pct_per_conn=..
# Needs make all tests/mconn.  Exit 1 if the run failed (a line says why).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${1:-fetch}
N=${2:-$([ "$MODE" = idle ] && echo 2000 || echo 10000)}
BYTES=${3:-65536}
THREADS=${4:-16}
WINDOW=${5:-} # both ends' window (server -w, mconn -w); empty: the default
W=$(mktemp -d /tmp/stcp-many.XXXXXX)
SP=
MP=
SAMPLER=
cleanup() {
    for p in $MP $SP $SAMPLER; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${MANY_KEEP:-}" ] && cp "$W"/*.out "$W"/*.err "$MANY_KEEP"/ 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Room for the threads: the server's transport and serve threads and the
# client's transport threads, up to 3 per connection, under pid_max.
tasks=(/proc/[0-9]*/task/[0-9]*)
have=$(($(cat /proc/sys/kernel/pid_max) - ${#tasks[@]}))
if [ "$have" -lt $((3 * N + 1000)) ]; then
    echo "many: skipped: $((3 * N + 1000)) threads wanted, pid_max leaves $have"
    exit 1
fi
# One descriptor per connection (mysocket raises the soft limit to the hard).
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((N + 100)) ]; then
    echo "many: skipped: $N connections need $((N + 100)) descriptors, hard limit $(ulimit -Hn)"
    exit 1
fi

mkdir -p "$W/files"
head -c "$BYTES" /dev/urandom >"$W/files/f"
"$ROOT/server" -a 127.0.0.1 -d "$W/files" -m $((N + 100)) -b $((N + 100)) -t 600 \
    ${WINDOW:+-w "$WINDOW"} ${MANY_SERVER_ARGS:-} >"$W/s.out" 2>"$W/s.err" &
SP=$!
for _ in $(seq 250); do grep -q "address is" "$W/s.out" 2>/dev/null && break; sleep 0.02; done
PORT=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$W/s.out")
[ -n "$PORT" ] || { echo "many: the server did not start"; exit 1; }
kb() { awk "/^$1:/ {print \$2}" "/proc/$2/status"; }
wakeups() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fresh=$(kb VmRSS "$SP")

if [ "$MODE" = idle ]; then
    timeout 300 "$ROOT/tests/mconn" "127.0.0.1:$PORT" f "$W/files/f" "$N" 8 8 >"$W/m.out" 2>&1 &
    MP=$!
    for _ in $(seq 1200); do grep -q "open, idle" "$W/m.out" && break; sleep 0.1; done
    grep -q "open, idle" "$W/m.out" || { echo "many: idle: not all open"; exit 1; }
    MC=$(pgrep -P "$MP" | head -1) # mconn itself, under timeout
    sleep 1                        # the last requests' replies settle
    held=$(kb VmRSS "$SP")
    thr=$(ls "/proc/$SP/task" | wc -l)
    s0=$(wakeups "$SP") c0=$(wakeups "$MC") t0=$(($(ticks "$SP") + $(ticks "$MC")))
    sleep 3 # the observation window
    s1=$(wakeups "$SP") c1=$(wakeups "$MC") t1=$(($(ticks "$SP") + $(ticks "$MC")))
    hz=$(getconf CLK_TCK)
    wait "$MP"
    rc=$?
    MP=
    awk -v n="$N" -v f="$fresh" -v h="$held" -v thr="$thr" -v s=$((s1 - s0)) -v c=$((c1 - c0)) \
        -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {
        printf "idle_many: n=%d fresh_kb=%d held_kb=%d per_conn_kb=%.1f threads=%d " \
               "srv_wakeups_per_conn_s=%.3f cli_wakeups_per_conn_s=%.3f cpu_pct_per_conn=%.5f\n",
               n, f, h, (h - f) / n, thr, s / n / 3, c / n / 3, t / hz / 3 * 100 / n }'
    [ "$rc" -eq 0 ] || { echo "many: idle: $(tail -1 "$W/m.out")"; exit 1; }
    exit 0
fi

(while kill -0 "$SP" 2>/dev/null; do
    echo "$(ls "/proc/$SP/task" 2>/dev/null | wc -l) $(ls "/proc/$SP/fd" 2>/dev/null | wc -l)"
    sleep 0.5
done) >"$W/samples" &
SAMPLER=$!
t0=$(date +%s.%N)
# Each connection asks as soon as it is open; all are read once all have
# asked.  MANY_HOLD=1: every connection is open before the first request
# (the server holds all N at once), then all ask at once, then all are read.
timeout 900 "$ROOT/tests/mconn" ${WINDOW:+-w "$WINDOW"} "127.0.0.1:$PORT" f "$W/files/f" "$N" \
    "$THREADS" ${MANY_HOLD:+1} >"$W/m.out" 2>"$W/m.err"
rc=$?
t1=$(date +%s.%N)
peak=$(kb VmHWM "$SP")
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
SAMPLER=
exact=$(sed -n 's/^mconn: \([0-9]*\) of .*/\1/p' "$W/m.out")
open_s=$(sed -n 's/^mconn: all .* after \([0-9.]*\) s/\1/p' "$W/m.out" | head -1)
awk -v n="$N" -v e="${exact:-0}" -v o="${open_s:-0}" -v w="$(awk "BEGIN {print $t1 - $t0}")" \
    -v f="$fresh" -v p="${peak:-0}" -v thr="$(sort -n "$W/samples" | tail -1 | cut -d' ' -f1)" \
    -v fds="$(sort -k2 -n "$W/samples" | tail -1 | cut -d' ' -f2)" 'BEGIN {
    printf "many: n=%d exact=%d open_s=%s wall_s=%.1f fresh_kb=%d peak_rss_kb=%d " \
           "rss_per_conn_kb=%.1f peak_threads=%d peak_fds=%d\n",
           n, e, o, w, f, p, (p - f) / n, thr, fds }'
[ "$rc" -eq 0 ] || { echo "many: mconn exit $rc: $(sort "$W/m.err" | uniq -c | sort -rn | head -3)"; exit 1; }
