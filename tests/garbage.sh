#!/usr/bin/env bash
# tests/garbage.sh -- garbage on the wire: random and malformed datagrams at a
# live server and at live clients' ports while files are being transferred.
#
#   bash tests/garbage.sh          (from the repository root, after make all;
#                                   builds tests/garbage if it is missing or old)
#
# Each phase starts "server -a 127.0.0.1 -v -n 4 -d DIR" (plain; with -C; with
# -U) and two clients: C1 fetches 4 MiB slowly (its own segments delayed 2 ms
# by emulation, so it is mid-transfer throughout), C2 fetches 1 MiB and stops
# reading for 3 s halfway (-P).  Each client's UDP port is found in
# /proc/net/udp (its socket's inode, connected to 127.0.0.1:SERVERPORT, state
# 01).  Then, at the same time, tests/garbage sends:
#   (a) to the server's port from random 127.x.y.z sources (the listener);
#   (b) to each client's port from 127.0.0.1:SERVERPORT (raw socket), which
#       passes the client's connected-socket filter;
#   (c) to the server's port from each client's 127.0.0.1:CLIENTPORT (raw
#       socket), which reaches the server's per-connection socket;
# and a third client C3 connects in the middle of it.  After the garbage a
# fourth client C4 fetches 1 MiB; the server then exits by itself (-n 4) and
# prints its listener's counters.
#
# Checks: every transfer exits 0 and is byte-exact; the garbage tools ran to
# their end; the server survived the garbage, its threads and descriptors
# came back to where they were before the clients (half-open connections
# from the garbage's SYNs gone), it served C4 and exited 0 with a
# per-connection line for each client and its listener line; the counters
# show the drops: the clients that were hit report bad checksum + malformed
# > 0 (and no more than was sent at them), clients that were not hit report
# none, the listener's bad checksum and malformed counts are > 0 (and no more
# than was sent at the server's port), and the server's debug log shows drops
# on the hit connections' own sockets.  Counters are printed as "# " lines.
#
# Raw sockets (b, c) need CAP_NET_RAW; without it those parts are skipped
# (said in a "# " line).  Only 127.0.0.0/8 is used.  Last line:
# "garbage: N passed, M failed"; exit status 1 on any failure.
#
# Environment: BIN (directory of server and client, default .), GARBAGE_COUNT
# (datagrams per target per phase, 20000), GARBAGE_RATE (per target, 6000/s),
# GARBAGE_PHASES ("plain cookies unreliable"), GARBAGE_SEED (base seed of the
# tools; printed, so a run's garbage can be replayed), GARBAGE_KEEP=1 (keep the
# work directory: logs, the tools' output, the servers' debug logs).
#
# BIN=build/asan (or any sanitizer build of server and client) runs the same
# against sanitized binaries: that is where a use-after-free shows up.
set -u

cd "$(dirname "$0")/.." || exit 2
# Threads are counted to see connections end: transport threads must not
# wait in the pool for the next connection (mysock.c), they exit at once.
export STCP_THREAD_IDLE_MS=0

BIN=${BIN:-.}
SERVER=$BIN/server
CLIENT=$BIN/client
TOOL=./tests/garbage
COUNT=${GARBAGE_COUNT:-20000}
RATE=${GARBAGE_RATE:-6000}
PHASES=${GARBAGE_PHASES:-"plain cookies unreliable"}
SEED=${GARBAGE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
CLIENT_TIMEOUT=40 # seconds for a transfer; longer is a hang
SERVER_EXIT_TIMEOUT=15
SETTLE=10 # seconds for the server's threads and descriptors to come back

for f in "$SERVER" "$CLIENT" libstcp.a; do
    if [ ! -e "$f" ]; then
        echo "garbage: $f is missing; run: make all" >&2
        exit 2
    fi
done

# Build the tool if it is missing or older than what it is made of.
stale=0
[ -x "$TOOL" ] || stale=1
for src in tests/garbage.c network.h transport.h mysock.h libstcp.a; do
    [ "$src" -nt "$TOOL" ] && stale=1
done
if [ "$stale" = 1 ]; then
    # shellcheck disable=SC2046
    if ! cc -std=c11 -Wall -Wextra -Werror -O2 -I. tests/garbage.c libstcp.a \
        $(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto) -pthread -o "$TOOL"; then
        echo "garbage: could not build $TOOL" >&2
        exit 2
    fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stcp-garbage.XXXXXX") || exit 2
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${GARBAGE_KEEP:-0}" = 1 ]; then
        echo "# work directory kept: $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0

check() { # check STATUS DESCRIPTION...
    local st=$1
    shift
    if [ "$st" -eq 0 ]; then
        echo "ok - $*"
        PASSED=$((PASSED + 1))
    else
        echo "not ok - $*"
        FAILED=$((FAILED + 1))
    fi
}

info() {
    echo "# $*"
}

now_ms() {
    date +%s%3N
}

# wait_pid PID SECONDS: wait for a child; its exit status, or 124 after
# killing it when it takes longer.
wait_pid() {
    local pid=$1 end=$(($(now_ms) + $2 * 1000))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(now_ms)" -ge "$end" ]; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 0.05
    done
    wait "$pid"
}

# proc_threads PID, proc_fds PID, proc_rss PID (kB): -1 if PID is gone.
proc_threads() {
    local v
    v=$(awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null)
    echo "${v:--1}"
}
proc_fds() {
    local fds=(/proc/"$1"/fd/*)
    [ -e "${fds[0]}" ] && echo "${#fds[@]}" || echo -1
}
proc_rss() {
    local v
    v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null)
    echo "${v:--1}"
}

# udp_port_of PID SERVERPORT: the local port of PID's UDP socket connected to
# 127.0.0.1:SERVERPORT (from /proc/net/udp: remote address, state 01, and the
# socket's inode among PID's file descriptors); empty if none (yet).
udp_port_of() {
    local pid=$1 rem l ino hex
    rem=$(printf '0100007F:%04X' "$2")
    for l in /proc/"$pid"/fd/*; do
        ino=$(readlink "$l" 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
        [ -n "$ino" ] || continue
        hex=$(awk -v ino="$ino" -v rem="$rem" \
            '$10 == ino && $3 == rem && $4 == "01" { split($2, a, ":"); print a[2] }' \
            /proc/net/udp)
        if [ -n "$hex" ]; then
            echo $((16#$hex))
            return
        fi
    done
}

# wait_port PID SERVERPORT: udp_port_of, waiting up to 3 s for it.
wait_port() {
    local _ p
    for _ in $(seq 60); do
        p=$(udp_port_of "$1" "$2")
        [ -n "$p" ] && { echo "$p"; return; }
        kill -0 "$1" 2>/dev/null || return
        sleep 0.05
    done
}

# result_field FILE KEY: a number from a garbage-result line (0 if none).
result_field() {
    local v
    v=$(sed -n "s/^garbage-result: .*\<$2=\([0-9]*\).*/\1/p" "$1" 2>/dev/null)
    echo "${v:-0}"
}

# client_drops FILE: "N M" from "client: dropped on receipt: N bad checksum, M malformed".
client_drops() {
    local v
    v=$(sed -n 's/^client: dropped on receipt: \([0-9]*\) bad checksum, \([0-9]*\) malformed.*/\1 \2/p' \
        "$1" | tail -1)
    echo "${v:--1 -1}"
}

# Raw sockets (parts b and c): one datagram to the discard port to find out.
RAW=1
"$TOOL" -c 1 -r 1 -m short -t 127.0.0.1:9 -f 127.0.0.1:9 >/dev/null 2>"$TMP/rawprobe.err"
case $? in
0) ;;
3)
    RAW=0
    info "raw sockets unavailable ($(head -1 "$TMP/rawprobe.err")): parts (b) and (c)" \
        "are skipped"
    ;;
*)
    check 1 "garbage tool runs ($(head -1 "$TMP/rawprobe.err"))"
    ;;
esac

mkdir -p "$TMP/files"
head -c 1048576 /dev/urandom >"$TMP/files/f1m"
head -c 4194304 /dev/urandom >"$TMP/files/f4m"
info "each phase: $COUNT datagrams per target at up to $RATE/s; base seed $SEED" \
    "(GARBAGE_SEED=$SEED replays the garbage)"

SRV_PID=
SRV_PORT=

# start_server NAME ARGS...: sets SRV_PID and SRV_PORT.  Debug logging shows
# drops on the per-connection sockets, which -v does not count.
start_server() {
    local name=$1
    shift
    STCP_LOG=debug "$SERVER" -a 127.0.0.1 -v -n 4 -d "$TMP/files" "$@" \
        >"$TMP/$name.srv.out" 2>"$TMP/$name.srv.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_PORT=
    local _
    for _ in $(seq 100); do
        SRV_PORT=$(sed -n "s/^Server's address is 127\.0\.0\.1:\([0-9]*\)$/\1/p" \
            "$TMP/$name.srv.out" 2>/dev/null)
        [ -n "$SRV_PORT" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

# start_client TAG FILE [ENV=VALUE...] -- [client args...]: sets CLI_PID.
start_client() {
    local tag=$1 file=$2
    shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    env "${envs[@]}" "$CLIENT" -v "$@" -f "$file" -o "$TMP/$tag.rcvd" \
        "127.0.0.1:$SRV_PORT" >"$TMP/$tag.cout" 2>"$TMP/$tag.cerr" &
    CLI_PID=$!
    PIDS+=("$CLI_PID")
}

# start_garbage TAG ARGS...: the tool in the background; sets G_PID.
GSEQ=0
start_garbage() {
    local tag=$1
    shift
    GSEQ=$((GSEQ + 1))
    "$TOOL" -c "$COUNT" -r "$RATE" -S $((SEED + GSEQ)) "$@" >"$TMP/$tag.g" 2>"$TMP/$tag.gerr" &
    G_PID=$!
    PIDS+=("$G_PID")
}

# transfer_ok PHASE TAG FILE RC [WHAT]: the client's exit status and copy.
transfer_ok() {
    local ph=$1 tag=$2 file=$3 rc=$4 what=${5:-} same=1
    cmp -s "$TMP/files/$file" "$TMP/$ph-$tag.rcvd" && same=0
    check "$rc" "$ph: $tag$what ($file) exits 0 (exit $rc)"
    check "$same" "$ph: $tag$what ($file) copy is byte-exact"
    if [ "$rc" != 0 ] || [ "$same" != 0 ]; then
        info "$ph: $tag stderr: $(grep -v '^client: \(segments\|resent\|srtt\)' \
            "$TMP/$ph-$tag.cerr" | tr '\n' ' ' | cut -c1-400)"
    fi
}

run_phase() {
    local ph=$1
    shift
    info "---- phase $ph: server $*"
    GSEQ=$((GSEQ + 100))
    if ! start_server "$ph" "$@"; then
        check 1 "$ph: server started ($(head -3 "$TMP/$ph.srv.err" | tr '\n' ' '))"
        return
    fi
    check 0 "$ph: server started on port $SRV_PORT"
    local thr0 fds0 rss0
    thr0=$(proc_threads "$SRV_PID")
    fds0=$(proc_fds "$SRV_PID")
    rss0=$(proc_rss "$SRV_PID")

    local t0
    t0=$(now_ms)
    start_client "$ph-C1" f4m STCP_NETEM=delay=2ms -- -U
    local c1=$CLI_PID
    start_client "$ph-C2" f1m -- -P 3000
    local c2=$CLI_PID
    local p1 p2
    p1=$(wait_port "$c1" "$SRV_PORT")
    p2=$(wait_port "$c2" "$SRV_PORT")
    [ -n "$p1" ] && [ -n "$p2" ]
    check $? "$ph: clients' UDP ports found in /proc/net/udp (C1 ${p1:-?}, C2 ${p2:-?})"

    # The garbage, all at once.
    local gpids=() gtags=()
    start_garbage "$ph-a" -t "127.0.0.1:$SRV_PORT"
    gpids+=("$G_PID")
    gtags+=("$ph-a")
    if [ "$RAW" = 1 ]; then
        local i p
        for i in 1 2; do
            p=$([ $i = 1 ] && echo "${p1:-}" || echo "${p2:-}")
            [ -n "$p" ] || continue
            start_garbage "$ph-b$i" -t "127.0.0.1:$p" -f "127.0.0.1:$SRV_PORT"
            gpids+=("$G_PID")
            gtags+=("$ph-b$i")
            start_garbage "$ph-c$i" -t "127.0.0.1:$SRV_PORT" -f "127.0.0.1:$p"
            gpids+=("$G_PID")
            gtags+=("$ph-c$i")
        done
    fi
    # A new connection in the middle of it.
    sleep 1
    start_client "$ph-C3" f1m --
    local c3=$CLI_PID

    local k rc gmax=$((COUNT / RATE + 30))
    for k in "${!gpids[@]}"; do
        wait_pid "${gpids[$k]}" "$gmax"
        rc=$?
        check "$rc" "$ph: garbage ${gtags[$k]#"$ph-"} ran to its end (exit $rc)"
        info "$ph: ${gtags[$k]#"$ph-"}: $(grep '^garbage: \(sent\|by category\)' \
            "$TMP/${gtags[$k]}.g" | sed 's/^garbage: //' | tr '\n' ';' | sed 's/;$//')"
    done
    info "$ph: garbage over after $(($(now_ms) - t0)) ms"

    local rc1 rc2 rc3 rc4
    wait_pid "$c1" "$CLIENT_TIMEOUT"
    rc1=$?
    wait_pid "$c2" "$CLIENT_TIMEOUT"
    rc2=$?
    wait_pid "$c3" "$CLIENT_TIMEOUT"
    rc3=$?
    transfer_ok "$ph" C1 f4m "$rc1" " (slow, hit)"
    transfer_ok "$ph" C2 f1m "$rc2" " (paused, hit)"
    transfer_ok "$ph" C3 f1m "$rc3" " (connected during the garbage)"

    kill -0 "$SRV_PID" 2>/dev/null
    check $? "$ph: server still running after the garbage"
    # Nothing left behind: the half-open connections the garbage's SYNs
    # opened, and the clients' connections, are gone within SETTLE seconds.
    # (-U: the emulation's timer thread, started on first use, stays.)
    local tol=0 thr fds end
    [ "$ph" = unreliable ] && tol=1
    end=$(($(now_ms) + SETTLE * 1000))
    while :; do
        thr=$(proc_threads "$SRV_PID")
        fds=$(proc_fds "$SRV_PID")
        [ "$fds" = "$fds0" ] && [ "$thr" -le $((thr0 + tol)) ] && break
        [ "$(now_ms)" -ge "$end" ] && break
        sleep 0.1
    done
    info "$ph: server before: $thr0 threads, $fds0 fds, RSS $rss0 kB; after the garbage:" \
        "$thr threads, $fds fds, RSS $(proc_rss "$SRV_PID") kB"
    [ "$fds" = "$fds0" ] && [ "$thr" -le $((thr0 + tol)) ]
    check $? "$ph: server's threads and descriptors back to where they were ($thr0 -> $thr," \
        "$fds0 -> $fds) within ${SETTLE}s"
    start_client "$ph-C4" f1m --
    wait_pid "$CLI_PID" "$CLIENT_TIMEOUT"
    rc4=$?
    transfer_ok "$ph" C4 f1m "$rc4" " (after the garbage)"

    # -n 4: the server exits once the fourth connection is done.
    wait_pid "$SRV_PID" "$SERVER_EXIT_TIMEOUT"
    rc=$?
    check "$rc" "$ph: server exits 0 after serving 4 connections (exit $rc)"
    local serr=$TMP/$ph.srv.err
    if grep -q 'AddressSanitizer\|runtime error\|Segmentation\|Aborted\|assert' "$serr"; then
        check 1 "$ph: server stderr free of crash reports"
        info "$ph: $(grep -m3 'AddressSanitizer\|runtime error\|Segmentation\|Aborted\|assert' "$serr")"
    else
        check 0 "$ph: server stderr free of crash reports"
    fi
    local nconn
    nconn=$(grep -c '^server: .*: sent [0-9]* bytes in [0-9]* segments' "$serr")
    [ "$nconn" = 4 ]
    check $? "$ph: server printed a per-connection line for each of the 4 clients ($nconn)"

    # Clients' counters: hit ones dropped something, and no more than was sent at them.
    local tag n m g exp_b exp_m
    for tag in C1 C2 C3 C4; do
        read -r n m <<<"$(client_drops "$TMP/$ph-$tag.cerr")"
        info "$ph: $tag: dropped on receipt: $n bad checksum, $m malformed"
        g=
        [ "$tag" = C1 ] && g=$ph-b1
        [ "$tag" = C2 ] && g=$ph-b2
        if [ -n "$g" ] && [ -s "$TMP/$g.g" ]; then
            exp_b=$(result_field "$TMP/$g.g" expect_badsum)
            exp_m=$(result_field "$TMP/$g.g" expect_malformed)
            [ "$n" -ge 0 ] && [ $((n + m)) -gt 0 ]
            check $? "$ph: $tag was hit: its counters show drops ($n bad checksum + $m malformed)"
            [ "$n" -ge 0 ] && [ "$n" -le "$exp_b" ] && [ "$m" -le "$exp_m" ]
            check $? "$ph: $tag's counters within what was sent at it ($n <= $exp_b," \
                "$m <= $exp_m)"
        elif [ "$tag" = C3 ] || [ "$tag" = C4 ]; then
            [ "$n" = 0 ] && [ "$m" = 0 ]
            check $? "$ph: $tag was not hit: no drops counted ($n, $m)"
        fi
    done

    # The listener's counters.
    local line a b c
    line=$(grep '^server: listener:' "$serr" | tail -1)
    info "$ph: ${line:-no listener line}"
    a=$(echo "$line" | sed -n 's/.*dropped: \([0-9]*\) for no connection.*/\1/p')
    b=$(echo "$line" | sed -n 's/.* \([0-9]*\) bad checksum.*/\1/p')
    c=$(echo "$line" | sed -n 's/.* \([0-9]*\) malformed.*/\1/p')
    [ -n "$line" ] && [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ]
    check $? "$ph: server printed its listener's counters at exit"
    exp_b=0
    exp_m=0
    for g in "$ph-a" "$ph-c1" "$ph-c2"; do
        [ -s "$TMP/$g.g" ] || continue
        exp_b=$((exp_b + $(result_field "$TMP/$g.g" expect_badsum)))
        exp_m=$((exp_m + $(result_field "$TMP/$g.g" expect_malformed)))
    done
    [ "${b:-0}" -gt 0 ] && [ "${c:-0}" -gt 0 ]
    check $? "$ph: listener's counters show drops (no connection ${a:-?}, bad checksum" \
        "${b:-?}, malformed ${c:-?})"
    [ -n "$b" ] && [ -n "$c" ] && [ "$b" -le "$exp_b" ] && [ "$c" -le "$exp_m" ]
    check $? "$ph: listener's counters within what was sent at the port (${b:-?} <= $exp_b," \
        "${c:-?} <= $exp_m)"

    # Drops on the hit connections' own sockets (part c), from the debug log.
    if [ "$RAW" = 1 ]; then
        local p d
        for p in "${p1:-}" "${p2:-}"; do
            [ -n "$p" ] || continue
            d=$(grep -c "\[127\.0\.0\.1:$SRV_PORT>127\.0\.0\.1:$p\] dropped a bad segment" "$serr")
            info "$ph: server's connection to port $p dropped $d bad segments (debug log)"
            [ "$d" -gt 0 ]
            check $? "$ph: garbage from client port $p reached that connection's socket and" \
                "was dropped ($d)"
        done
    fi
    local failed_conns
    failed_conns=$(grep -c '127\.0\.0\.1:'"$SRV_PORT"'>127\.0\.0\.1:[0-9]*\] connection failed' "$serr")
    info "$ph: server's connections from 127.0.0.1 that failed: $failed_conns; half-open" \
        "ones from garbage SYNs: $(grep -c '>127\.[0-9.]*:[0-9]*\] SYN_RECEIVED -> CLOSED' \
            "$serr")"
}

for ph in $PHASES; do
    case $ph in
    plain) run_phase plain ;;
    cookies) run_phase cookies -C ;;
    unreliable) run_phase unreliable -U ;;
    *)
        echo "garbage: unknown phase $ph" >&2
        exit 2
        ;;
    esac
done

echo "garbage: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
