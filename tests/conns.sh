#!/usr/bin/env bash
# tests/conns.sh -- many connections: setup, concurrency, idle cost.
#
#   bash tests/conns.sh          (after make tools)
#
# A SYN that reaches a connection in TIME_WAIT opens the new connection at
# once; 2,000 concurrent connections to one server, each fetching a file,
# all byte-exact, from one client process with 8 threads; an idle
# connection's threads wake up only for the keepalive (counted, not timed).
# Last line: "conns: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

check "a SYN in TIME_WAIT is handed to the listener (no resend)" timeout 60 "$BIN/tests/twsyn"

# ---- 2,000 concurrent connections ----
make_file f16k 16384
start_server -m 4000 -b 4096 -t 600
check "2000 concurrent connections, 16 KiB each, byte-exact" \
    timeout 240 "$BIN/tests/mconn" "127.0.0.1:$PORT" f16k "$WORK/files/f16k" 2000 8
echo "# server peak: $(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status") kB RSS, $(proc_threads "$SERVER_PID") threads now"
check "the server still serves after 2000 connections" fetch f16k
stop_server

# ---- An idle connection sleeps ----
# Voluntary context switches of all the server's threads: each is a
# wake-up.  With one connection idle (a request line never finished, the
# server's thread waiting in myread), the only wake-ups in 3 s are the
# reader's nudge to the transport and, 10 s after the last segment, the
# keepalive's, so at most a few; a polling loop would make hundreds.
wakeups() {
    cat /proc/"$1"/task/*/status 2> /dev/null |
        awk '/^voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'
}
start_server -t 600
"$BIN/tests/peer" -s "f16" -T 20000 "127.0.0.1:$PORT" > /dev/null 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
serving() { [ "$(proc_threads "$SERVER_PID")" -ge 5 ]; } # + transport and serve threads
wait_for 10 serving
w0=$(wakeups "$SERVER_PID")
sleep 3 # an observation window: the count, not the time, is checked
w1=$(wakeups "$SERVER_PID")
echo "# idle connection: $((w1 - w0)) wake-ups of the server's threads in 3 s"
check "an idle connection: at most 20 wake-ups in 3 s ($((w1 - w0)))" [ $((w1 - w0)) -le 20 ]
kill "$HOLDER" 2> /dev/null
stop_server

summary conns
[ "$FAILED" -eq 0 ]
