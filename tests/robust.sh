#!/usr/bin/env bash
# tests/robust.sh -- a server that can't be tricked or exhausted.
#
#   bash tests/robust.sh          (after make tools)
#
# Request-line limits, slow and silent clients, the connection limit, and
# 1,000 sequential connections leaving threads, descriptors and memory where
# they were.  Last line: "robust: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
# Threads are counted to see connections end: transport threads must not
# wait in the pool for the next connection (mysock.c), they exit at once.
export STCP_THREAD_IDLE_MS=0

make_file small 1000

# peer_says EXPECTED PEER-ARGS...: the server's reply contains EXPECTED
peer_says() {
    local want=$1; shift
    local out
    out=$(timeout 30 "$BIN/tests/peer" "$@" "127.0.0.1:$PORT" 2> /dev/null)
    echo "$out" | grep -q "$want" || { echo "# got: $(echo "$out" | head -c 200)"; return 1; }
}

proc_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
proc_fds() { ls "/proc/$1/fd" | wc -l; }

# ---- Request lines ----
start_server -t 1 -m 3
IDLE_THREADS=$(proc_threads "$SERVER_PID")
long=$(head -c 2000 /dev/zero | tr '\0' 'x')
check "request line over 1023 bytes refused with the classic error reply" \
    peer_says ",-1,Request line too long" -s "$long\\r\\n"
check "request line holding a NUL refused" peer_says ",-1,Request line holds a NUL" -s "ab\\0c\\r\\n"
check "a file name with a NUL after it is not served" peer_says ",-1," -s "small\\0x\\r\\n"

# server_serving N: the server has at least N clients in hand (each one a
# transport thread and a thread serving it, beyond its idle threads);
# idle: every connection is over, TIME_WAIT included.
server_serving() { [ "$(proc_threads "$SERVER_PID")" -ge $((IDLE_THREADS + 2 * $1)) ]; }
idle() { [ "$(proc_threads "$SERVER_PID")" -le "$IDLE_THREADS" ]; }

# A client that never finishes its line is timed out, and meanwhile the
# server serves others.
wait_for 10 idle # the connections above are over, so the count below is the dawdler's
start=$SECONDS
"$BIN/tests/peer" -s "small" -T 20000 "127.0.0.1:$PORT" > "$WORK/slow.out" 2> /dev/null &
slow=$!
wait_for 10 server_serving 1
check "another client is served while one dawdles" fetch small
wait "$slow"
echo "# dawdling client got: $(cat "$WORK/slow.out") after $((SECONDS - start)) s"
check "a client that never sends a full line is timed out (-t 1)" \
    grep -q ",-1,Request timed out" "$WORK/slow.out"

# ---- The connection limit (-m 3) ----
wait_for 10 idle # the connections above are over, so the count below is the holders'
holders=()
for i in 1 2 3; do
    "$BIN/tests/peer" -s "sma" -T 20000 "127.0.0.1:$PORT" > "$WORK/hold$i.out" 2> /dev/null &
    holders+=($!)
done
wait_for 10 server_serving 3
check "beyond -m connections a client is refused cleanly (Server busy)" \
    peer_says ",-1,Server busy" -s "small\\r\\n"
wait "${holders[@]}"
check "the held connections were timed out, not dropped" \
    grep -q "Request timed out" "$WORK/hold1.out"
check "after the limit is freed clients are served again" fetch small
stop_server

# ---- 1,000 sequential connections ----
# A warm-up round first: while connections overlap in TIME_WAIT (1 s), the
# C library's caches of thread stacks and malloc arenas grow to a steady
# size once (a few MiB); that is reported, and growth is checked after it.
start_server
r_fresh=$(proc_rss "$SERVER_PID")
IDLE_THREADS=$(proc_threads "$SERVER_PID")
for i in $(seq 300); do "$BIN/client" -q -f small "127.0.0.1:$PORT" 2> /dev/null; done
wait_for 10 idle
t0=$(proc_threads "$SERVER_PID"); f0=$(proc_fds "$SERVER_PID"); r0=$(proc_rss "$SERVER_PID")
echo "# RSS fresh $r_fresh kB, after a 300-connection warm-up $r0 kB"
bad=0
for i in $(seq 1000); do
    timeout 20 "$BIN/client" -q -f small "127.0.0.1:$PORT" 2> /dev/null || bad=$((bad + 1))
done
check "1000 sequential connections all succeed ($bad failed)" [ $bad -eq 0 ]
wait_for 10 idle
t1=$(proc_threads "$SERVER_PID"); f1=$(proc_fds "$SERVER_PID"); r1=$(proc_rss "$SERVER_PID")
echo "# server before/after 1000 connections: threads $t0/$t1, descriptors $f0/$f1, RSS $r0/$r1 kB"
check "1000 connections: thread count back where it was" [ "$t1" -eq "$t0" ]
check "1000 connections: open descriptors back where they were" [ "$f1" -eq "$f0" ]
check "1000 connections: RSS grew by less than 1 MiB" [ $((r1 - r0)) -lt 1024 ]
stop_server

summary robust
[ "$FAILED" -eq 0 ]
