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
check "server with a bad window: exit 2" usage_exit "$BIN/server" -w 70000
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

# Sequence numbers crossing 2^32, under loss.
STCP_ISN=4294966000 STCP_NETEM="loss=0.10,seed=9" start_server -U
STCP_ISN=4294967000 STCP_NETEM="loss=0.10,seed=9" \
    check "ISN near 2^32, loss 10%: 1 MiB byte-exact" fetch f1048576 -U
stop_server

# Both ends writing and closing at the same moment.
runs=50
[ "$MODE" = quick ] && runs=10
check "simultaneous close under the classic profile, $runs runs" \
    timeout 300 "$BIN/tests/duplex" -U -n 20000 -s -r $runs

summary e2e
[ "$FAILED" -eq 0 ]
