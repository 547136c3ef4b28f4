#!/usr/bin/env bash
# tests/sanitize.sh -- ThreadSanitizer and valgrind memcheck runs.
#
#   bash tests/sanitize.sh     (after make tools and the build/tsan build)
#
# Last line: "sanitize: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

make_file f1m 1048576
make_file f256k 262144
for i in $(seq 20); do make_file "c$i" $((50000 + i * 4099)); done

# ---- ThreadSanitizer ----
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
T=build/tsan
check "tsan: full duplex, 1 MB each way" timeout 300 "$T/tests/duplex" -n 1000000
check "tsan: 4 writer threads a side on one socket (mywrite's unlocked copy)" \
    timeout 300 "$T/tests/duplex" -n 1000000 -W 4 -w 65535
check "tsan: myshutdown cases (half-close both ways, SHUT_RD)" \
    timeout 300 "$T/tests/halfclose" -n 200000
check "tsan: simultaneous close under the classic profile, 5 runs" \
    timeout 300 "$T/tests/duplex" -U -n 20000 -s -r 5

BIN=$T start_server
pids=()
for i in $(seq 20); do
    BIN=$T FETCH_TIMEOUT=300 fetch "c$i" > "$WORK/t$i.result" 2>&1 &
    pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
check "tsan: 20 concurrent clients byte-exact ($bad failed)" [ $bad -eq 0 ]
stop_server
check "tsan: the server reported no race" sh -c "! grep -q ThreadSanitizer '$SERVER_ERR'"
grep -A12 "WARNING: ThreadSanitizer" "$SERVER_ERR" | head -30

BIN=$T start_server -C -U
bad=0
for i in 1 2 3 4 5; do BIN=$T FETCH_TIMEOUT=300 fetch "c$i" -U > /dev/null || bad=$((bad + 1)); done
check "tsan: server -C, classic -U, 5 transfers byte-exact ($bad failed)" [ $bad -eq 0 ]
stop_server
check "tsan: the cookie server reported no race" sh -c "! grep -q ThreadSanitizer '$SERVER_ERR'"

# ---- valgrind memcheck ----
unset TSAN_OPTIONS
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
out=$WORK/vg.server.out
$VG ./server -a 127.0.0.1 -d "$WORK/files" -n 4 > "$out" 2> "$WORK/vg.server.err" &
vgpid=$!
PIDS+=("$vgpid")
for _ in $(seq 200); do grep -q "address" "$out" 2> /dev/null && break; sleep 0.1; done
PORT=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$out")
vg_fetch() { # vg_fetch NAME [client args]: the client under valgrind
    local name=$1; shift
    mkdir -p "$WORK/got"
    timeout 300 $VG ./client "$@" -f "$name" -o "$WORK/got/vg.$name" "127.0.0.1:$PORT" \
        2> "$WORK/vg.client.err" &&
        cmp -s "$WORK/files/$name" "$WORK/got/vg.$name"
}
check "valgrind: client, reliable 1 MiB, no error or leak" vg_fetch f1m
check "valgrind: client, classic -U 256 KiB, no error or leak" vg_fetch f256k -U
check "valgrind: refusal of '../' path" sh -c \
    "timeout 120 ./client -q -f ../x 127.0.0.1:$PORT 2>&1 | grep -q 'leaves the served directory'"
check "valgrind: plain client against the valgrind server" fetch f1m
wait "$vgpid"
rc=$?
check "valgrind: server served 4 connections, exited with no error or leak (exit $rc)" [ $rc -eq 0 ]
grep -B2 -A12 "definitely lost\|Invalid\|uninitialised" "$WORK/vg.server.err" | head -30

summary sanitize
[ "$FAILED" -eq 0 ]
