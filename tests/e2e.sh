#!/usr/bin/env bash
# tests/e2e.sh -- end-to-end tests with the real server and client.
#
#   bash tests/e2e.sh [full|quick]     (BIN=dir of the binaries, default .)
#
# quick is the subset the sanitizer builds run.  Last line:
# "e2e: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
MODE=${1:-full}

SIZES="0 1 535 536 537 3072 3073 1048576"
[ "$MODE" = full ] && SIZES="$SIZES 16777216"
for s in $SIZES; do make_file "f$s" "$s"; done

# ---- Reliable path ----
start_server || exit 1
for s in $SIZES; do
    check "reliable: $s bytes byte-exact" fetch "f$s"
done

if [ "$MODE" = full ]; then
    # Memory: a 16 MiB transfer keeps each process under 64 MiB.
    out=$WORK/rss.out
    /usr/bin/time -f "%M" -o "$WORK/client.rss" "$BIN/client" -q -f f16777216 \
        "127.0.0.1:$PORT" 2> /dev/null
    client_kb=$(tail -1 "$WORK/client.rss")
    server_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    echo "# peak RSS: client ${client_kb} kB, server ${server_kb} kB"
    check "16 MiB transfer: client peak RSS under 64 MiB" [ "${client_kb:-999999}" -lt 65536 ]
    check "16 MiB transfer: server peak RSS under 64 MiB" [ "${server_kb:-999999}" -lt 65536 ]
fi

# 20 clients at once, each a different file.
for i in $(seq 20); do make_file "c$i" $((100000 + i * 7919)); done
pids=()
for i in $(seq 20); do
    fetch "c$i" > "$WORK/c$i.result" 2>&1 &
    pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad=$((bad + 1)); done
check "20 concurrent clients, all byte-exact ($bad failed)" [ $bad -eq 0 ]

# Refusals: the classic error reply, and a client that says so.
refused() { # refused NAME EXPECTED-MESSAGE
    local err=$WORK/refused.err
    timeout 30 "$BIN/client" -q -f "$1" "127.0.0.1:$PORT" 2> "$err"
    local rc=$?
    [ $rc -eq 1 ] && grep -q "$2" "$err"
}
mkdir -p "$WORK/outside"
echo secret > "$WORK/outside/secret"
ln -s "$WORK/outside/secret" "$WORK/files/escape"
mkdir -p "$WORK/files/sub"
check "missing file refused" refused nosuchfile "File not found"
check "'..' refused" refused "../outside/secret" "leaves the served directory"
check "'sub/../..' refused" refused "sub/../../outside/secret" "leaves the served directory"
check "absolute path refused" refused "/etc/passwd" "Absolute paths"
check "symlink out of the directory refused" refused "escape" "leaves the served directory"
check "a directory refused" refused "sub" "Not a regular file"
make_file "sub/inner" 1000
check "a file in a subdirectory served" fetch "sub/inner"

# Full duplex through libstcp.a, mysock.h only.
check "full duplex: 4 MiB each way" timeout 120 "$BIN/tests/duplex" -n 4194304
# mywrite copies outside the socket's lock: writers on one socket take turns.
check "full duplex: 4 writer threads a side on one socket, each one's bytes whole and in order" \
    timeout 120 "$BIN/tests/duplex" -n 4194304 -W 4 -w 65535

if [ "$MODE" = full ]; then
    # An idle connection uses no CPU (no polling): under 1% of 5 s.
    idle=$(timeout 30 "$BIN/tests/duplex" -i 5)
    echo "# $idle"
    ms=$(echo "$idle" | sed -n 's/.*cpu \([0-9.]*\) ms/\1/p')
    check "idle connection for 5 s: under 1% CPU" awk -v m="${ms:-999}" 'BEGIN {exit !(m < 50)}'
fi
stop_server

# ---- Command lines ----
usage_exit() { "$@" > /dev/null 2>&1; [ $? -eq 2 ]; }
check "client without arguments: usage, exit 2" usage_exit "$BIN/client"
check "client with a bad address: exit 2" usage_exit "$BIN/client" -f x nohost
check "client with a bad window: exit 2" usage_exit "$BIN/client" -w 0 -f x 127.0.0.1:1
check "server with a bad option: exit 2" usage_exit "$BIN/server" -Z
check "server with a bad window: exit 2" usage_exit "$BIN/server" -w 16777217
check "bad STCP_NETEM is an error at mysocket" \
    sh -c "STCP_NETEM=loss=2 '$BIN/client' -U -f x 127.0.0.1:9 2>&1 | grep -q 'STCP_NETEM'"
check "connecting to a closed port fails with ECONNREFUSED" \
    sh -c "timeout 20 '$BIN/client' -f x 127.0.0.1:9 2>&1 | grep -q 'refused'"

# ---- Unreliable paths ----
unreliable() { # unreliable LABEL NETEM SIZES SEEDS
    local label=$1 netem=$2 sizes=$3 seeds=$4
    for seed in $seeds; do
        local em=$netem
        [ -n "$em" ] && em="$em,seed=$seed"
        STCP_NETEM=$em start_server -U || return
        for s in $sizes; do
            STCP_NETEM=$em check "$label seed $seed: $s bytes byte-exact" fetch "f$s" -U
        done
        stop_server
    done
}
unreliable "classic -U" "" "0 1 536 3073 1048576" "1 2 3"
unreliable "loss 10%" "loss=0.10" "1 3073 1048576" "1 2"
unreliable "loss 25% reorder 10% dup 5% corrupt 2%" \
    "loss=0.25,reorder=0.10,dup=0.05,corrupt=0.02" "0 1 536 3073" "1 2 3"

# SYN cookies: transfers through server -C, reliable and under the classic
# profile on both ends (SYN-ACK and final-ACK loss both happen there).
runs=20
[ "$MODE" = quick ] && runs=5
make_file cookie 70000
start_server -C
bad=0
for i in $(seq $runs); do fetch cookie > /dev/null || bad=$((bad + 1)); done
check "server -C, reliable: $runs transfers byte-exact ($bad failed)" [ $bad -eq 0 ]
stop_server
start_server -C -U
bad=0
for i in $(seq $runs); do fetch cookie -U > /dev/null || bad=$((bad + 1)); done
check "server -C, classic -U both ends: $runs transfers byte-exact ($bad failed)" [ $bad -eq 0 ]
stop_server

# Segment sizes: the client announces MSS 100, the server's limit is 200,
# so the server sends segments of at most 100 bytes (its -v line: at least
# one segment per 100 bytes); reliable and under the classic profile.
start_server -v -M 200
check "-M: client 100, server 200: 1 MiB byte-exact" fetch f1048576 -M 100
line=$(grep "f1048576: sent" "$SERVER_ERR" | tail -1)
bytes=$(echo "$line" | sed -n 's/.*sent \([0-9]*\) bytes in.*/\1/p')
segs=$(echo "$line" | sed -n 's/.* bytes in \([0-9]*\) segments.*/\1/p')
echo "# server sent ${bytes:-?} bytes in ${segs:-?} segments"
check "-M: the server's segments carried at most 100 bytes" \
    [ "${segs:-0}" -gt 0 ] && [ $((${segs:-0} * 100)) -ge "${bytes:-1}" ]
stop_server
start_server -U -M 300
check "-M under the classic profile: 1 MiB byte-exact" fetch f1048576 -U -M 64
stop_server

# Big segments on the udp carrier: one datagram up to 60 KB, the window
# 65535 (an odd ring: segments wrap at odd offsets, so the payload leaves
# in two pieces and the checksum is summed across an odd boundary).
start_server -v -w 65535 -M 65495
check "big MSS: -M 60000 -w 65535, 1 MiB byte-exact" fetch f1048576 -w 65535 -M 60000
line=$(grep "f1048576: sent" "$SERVER_ERR" | tail -1)
bytes=$(echo "$line" | sed -n 's/.*sent \([0-9]*\) bytes in.*/\1/p')
segs=$(echo "$line" | sed -n 's/.* bytes in \([0-9]*\) segments.*/\1/p')
echo "# server sent ${bytes:-?} bytes in ${segs:-?} segments"
check "big MSS: some segments carried more than 8960 bytes" \
    [ "${segs:-0}" -gt 0 ] && [ $((${segs:-0} * 8960)) -lt "${bytes:-0}" ]
stop_server
# Segments sent one sendmsg each, as where sendmmsg is missing.
STCP_SENDMMSG=0 start_server -w 65535 -M 65495
STCP_SENDMMSG=0 check "STCP_SENDMMSG=0 (no batching) both ends: 1 MiB byte-exact" \
    fetch f1048576 -w 65535 -M 8000
STCP_SENDMMSG=0 check "STCP_SENDMMSG=0, the classic wire: 1 MiB byte-exact" fetch f1048576
stop_server
start_server -v -w 65535 -M 65495
# The payload is received straight into the receive queue (no copy there).
check "big MSS: client -v says payload was received in place" \
    sh -c "'$BIN/client' -v -q -w 65535 -M 60000 -f f1048576 127.0.0.1:$PORT 2>&1 |
        grep -Eq '; [1-9][0-9]* bytes received in place'"
stop_server
start_server -U -w 65535 -M 65495
check "big MSS under -U: -M 8960, 1 MiB byte-exact" fetch f1048576 -U -w 65535 -M 8960
check "big MSS under -U: -M 60000, 1 MiB byte-exact" fetch f1048576 -U -w 65535 -M 60000
stop_server
check "client with a bad -M: exit 2" usage_exit "$BIN/client" -M 63 -f x 127.0.0.1:1
check "server with a bad -M: exit 2" usage_exit "$BIN/server" -M 65496

# Abort: a client that closes with data unread sends a RST; the server's
# send fails with ECONNRESET.
start_server -v -n 1
check "abort: the client read 5 bytes, then closed" \
    sh -c "timeout 20 tail --pid=$SERVER_PID -f /dev/null |
           timeout 20 '$BIN/tests/peer' -s 'f1048576\\r\\n' -a 5 127.0.0.1:$PORT > /dev/null"
# (the peer stays until the server, which exits after that connection, is gone)
check "abort: the server's send failed with ECONNRESET" \
    grep -q "sending f1048576 failed: Connection reset by peer" "$SERVER_ERR"
check "abort: the server counted the RST" grep -q "RSTs sent 0, received 1" "$SERVER_ERR"
stop_server

# Sequence numbers crossing 2^32, under loss.
STCP_ISN=4294966000 STCP_NETEM="loss=0.10,seed=9" start_server -U
STCP_ISN=4294967000 STCP_NETEM="loss=0.10,seed=9" \
    check "ISN near 2^32, loss 10%: 1 MiB byte-exact" fetch f1048576 -U
stop_server

if [ "$MODE" = full ]; then
    # A reader that stops for 3 s: the window closes, the server probes,
    # the transfer completes, and neither process grows with the file.
    start_server -U -v
    mkdir -p "$WORK/got"
    /usr/bin/time -f "%M" -o "$WORK/pause.rss" timeout 120 "$BIN/client" -U -P 3000 \
        -f f16777216 -o "$WORK/got/paused" "127.0.0.1:$PORT" 2> /dev/null
    rc=$?
    # the server's -v line for this transfer comes once its side is closed
    wait_for 10 grep -q "f16777216: .* window probes" "$SERVER_ERR"
    probes=$(sed -n 's/.*f16777216: .* \([0-9]*\) window probes.*/\1/p' "$SERVER_ERR" | tail -1)
    server_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    client_kb=$(tail -1 "$WORK/pause.rss")
    echo "# paused reader: $probes window probes; peak RSS client $client_kb kB, server $server_kb kB"
    check "reader paused 3 s: 16 MiB byte-exact" \
        sh -c "[ $rc -eq 0 ] && cmp -s '$WORK/files/f16777216' '$WORK/got/paused'"
    check "reader paused 3 s: the server probed the closed window" [ "${probes:-0}" -gt 0 ]
    check "reader paused 3 s: peak RSS under 64 MiB both ends" \
        [ "${client_kb:-999999}" -lt 65536 -a "${server_kb:-999999}" -lt 65536 ]
    stop_server

    # The server dies mid-transfer (kill -9): the client fails promptly.
    slow_path="delay=1ms,seed=4"
    STCP_NETEM=$slow_path start_server -U
    start=$SECONDS
    STCP_NETEM=$slow_path timeout 60 "$BIN/client" -U -f f16777216 -o "$WORK/kill.got" \
        "127.0.0.1:$PORT" 2> "$WORK/kill.err" &
    cpid=$!
    wait_for 10 test -s "$WORK/kill.got" # mid-transfer: bytes have arrived
    kill -9 "$SERVER_PID"
    wait "$cpid"
    rc=$?
    echo "# after kill -9: client exit $rc in $((SECONDS - start)) s: $(tail -1 "$WORK/kill.err")"
    check "server killed mid-transfer: client exits non-zero, no hang" \
        [ $rc -ne 0 -a $rc -ne 124 ]

    # The server stops answering (SIGSTOP): the client gives up by itself.
    STCP_NETEM=$slow_path start_server -U
    start=$SECONDS
    STCP_USER_TIMEOUT_MS=5000 STCP_NETEM=$slow_path timeout 60 "$BIN/client" -U -f f16777216 -o "$WORK/stop.got" \
        "127.0.0.1:$PORT" 2> "$WORK/stop.err" &
    cpid=$!
    wait_for 10 test -s "$WORK/stop.got" # mid-transfer: bytes have arrived
    kill -STOP "$SERVER_PID"
    wait "$cpid"
    rc=$?
    echo "# after SIGSTOP: client exit $rc in $((SECONDS - start)) s: $(tail -1 "$WORK/stop.err")"
    check "server silent mid-transfer: client gives up (timed out), no hang" \
        sh -c "[ $rc -ne 0 -a $rc -ne 124 ] && grep -q 'timed out' '$WORK/stop.err'"
    kill -CONT "$SERVER_PID"
    stop_server
fi

# ---- Congestion control: each algorithm, reliable and -U, window 65535 ----
# -v must give the final figures: the whole file sent, not a snapshot.
final_figures() { # final_figures ALGO: the server's -v line for f1048576
    local line
    for _ in $(seq 100); do # printed once the server's close returns
        grep -q "f1048576: sent" "$SERVER_ERR" && break
        sleep 0.1
    done
    line=$(grep "f1048576: sent" "$SERVER_ERR" | tail -1)
    local sent
    sent=$(echo "$line" | sed -n 's/.* sent \([0-9]*\) bytes.*/\1/p')
    [ "${sent:-0}" -ge 1048576 ] && echo "$line" | grep -q "; $1 cwnd" &&
        ! echo "$line" | grep -q ESTABLISHED
}
for algo in none newreno cubic; do
    start_server -w 65535 -c "$algo" -v
    check "-c $algo: 1 MiB byte-exact" fetch f1048576 -w 65535 -c "$algo"
    check "-c $algo: server -v reports the final figures" final_figures "$algo"
    stop_server
    STCP_NETEM="seed=5" start_server -U -w 65535 -c "$algo"
    STCP_NETEM="seed=5" check "-c $algo, classic -U: 1 MiB byte-exact" \
        fetch f1048576 -U -w 65535 -c "$algo"
    stop_server
done
STCP_CC=newreno start_server
check "STCP_CC=newreno: 3073 bytes byte-exact, client -v names it" \
    sh -c "STCP_CC=newreno '$BIN/client' -v -q -f f3073 127.0.0.1:$PORT 2>&1 |
        grep -q 'congestion control newreno'"
# -v's timing line: connected, then the last byte, both from mysocket; its
# wall-clock ends inside the time the client process ran.
timing_line_sane() {
    local before after
    before=$EPOCHREALTIME
    "$BIN/client" -v -q -f f3073 "127.0.0.1:$PORT" >"$WORK/timing.out" 2>&1
    after=$EPOCHREALTIME
    awk -v t0="$before" -v t1="$after" '
        /^client: timing: / { n++
            c = $5 + 0; l = $10 + 0; b = $14 + 0; w1 = $(NF - 2) + 0; w2 = $NF + 0
            ok = c > 0 && l >= c && b == 3073 && w1 >= t0 && w2 >= w1 && w2 <= t1 }
        END { exit !(n == 1 && ok) }' "$WORK/timing.out"
}
check "client -v: a timing line (connected, then the last byte)" timing_line_sane
stop_server
check "client -c with an unknown algorithm: usage, exit 2" \
    usage_exit "$BIN/client" -c vegas -f x 127.0.0.1:1
check "server -c with an unknown algorithm: usage, exit 2" usage_exit "$BIN/server" -c vegas
check "unknown STCP_CC is an error at mysocket" \
    sh -c "STCP_CC=vegas '$BIN/client' -f x 127.0.0.1:9 2>&1 | grep -q 'STCP_CC'"

# ---- SACK and window scaling: a 1 MiB window (shift 5) ----
start_server -w 1048576 -v
check "-w 1048576: 1 MiB byte-exact" fetch f1048576 -w 1048576
check "-w 1048576: client -v says SACK and window scaling are on" \
    sh -c "'$BIN/client' -v -q -w 1048576 -f f3073 127.0.0.1:$PORT 2>&1 |
        grep -q 'SACK on.*window scaling on (shift ours 5, peer.s 5)'"
stop_server
STCP_NETEM="seed=7" start_server -U -w 1048576 -v
STCP_NETEM="seed=7" check "-w 1048576, classic -U: 1 MiB byte-exact" \
    fetch f1048576 -U -w 1048576
stop_server
hostile="loss=0.25,reorder=0.1,dup=0.05,corrupt=0.02,seed=3"
STCP_NETEM=$hostile start_server -U -w 1048576 -v
STCP_NETEM=$hostile check "-w 1048576, $hostile: 1 MiB byte-exact" \
    fetch f1048576 -U -w 1048576
sack_used() { # the server resent segments on SACK information
    for _ in $(seq 100); do
        grep -q "f1048576: sent" "$SERVER_ERR" && break
        sleep 0.1
    done
    grep "f1048576: sent" "$SERVER_ERR" | tail -1 | grep -q "SACK on (blocks sent [0-9]*, received [1-9]"
}
check "-w 1048576 under loss: the server received SACK blocks" sack_used
stop_server
STCP_SACK=0 start_server -w 1048576 -v
check "STCP_SACK=0: 1 MiB byte-exact, SACK off" \
    sh -c "fetch() { :; }; STCP_SACK=0 '$BIN/client' -v -w 1048576 -q -f f1048576 127.0.0.1:$PORT 2>&1 |
        grep -q 'SACK off'"
stop_server
check "client -w 16777217: usage, exit 2" usage_exit "$BIN/client" -w 16777217 -f x 127.0.0.1:1

# Both ends writing and closing at the same moment.
runs=50
[ "$MODE" = quick ] && runs=10
check "simultaneous close under the classic profile, $runs runs" \
    timeout 300 "$BIN/tests/duplex" -U -n 20000 -s -r $runs

summary e2e
[ "$FAILED" -eq 0 ]
