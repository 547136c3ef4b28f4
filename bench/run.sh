#!/usr/bin/env bash
# bench/run.sh -- the STCP benchmark (make bench).
#
# Builds the library and programs (make all), the benchmark programs in
# bench/ (cc -O2, into build/bench), runs every measurement several times on
# 127.0.0.1 only, and prints one Markdown table, also written to
# bench/results.md with the machine and the date.  Then two sections of their
# own scripts: the bottleneck (bench/bottleneck.sh) and, as root, our stack
# against the kernel's TCP over TUN beside kernel <-> kernel over veth, in
# private namespaces (bench/tun.sh; skipped with a note when not root).
#
# Every figure is judged as a ratio against something measured in the same
# run on the same machine: the rounds below interleave the yardsticks (UDP
# ping-pong, UDP blast, kernel TCP) with the STCP transfers, so a noisy
# neighbour slows both sides of a ratio alike.
#
# Environment: BENCH_RUNS (default 7) rounds per measurement; BENCH_OUT
# (default bench/results.md) where the table goes; BENCH_BUDGET (default 420)
# seconds after which remaining rounds are skipped (and listed), so the whole
# run stays under ten minutes; BENCH_QUICK=1 for a short smoke run (fewer
# rounds, shorter idle and loss tests; not for results).
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build/bench
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
RUNS=${BENCH_RUNS:-7}
BUDGET=${BENCH_BUDGET:-420} # seconds; after this, remaining rounds are skipped
QUICK=${BENCH_QUICK:-0}
IDLE_S=10
SLOW_RUNS=3 # rounds of the slowest measurements (25% loss, concurrency, SYN flood)
if [ "$QUICK" = 1 ]; then
    RUNS=2
    IDLE_S=2
    SLOW_RUNS=1
fi
XFER_BYTES=$((16 << 20))
LOSS_BYTES=$((4 << 20))
BIG_WINDOW=65535
STCP_WINDOW=3072
MSS=536
BIG_MSS=${BENCH_BIG_MSS:-65000}  # the big-segment stream (issue 14): MSS, window, bytes
BIG_STREAM_WINDOW=${BENCH_BIG_WINDOW:-262144}
BIG_BYTES=$((64 << 20))
SEGS=$(((XFER_BYTES + MSS - 1) / MSS)) # full segments in a 16 MiB transfer
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '[bench %3ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
# over_budget WHAT: true (and noted once per WHAT) when the run is out of time.
over_budget() {
    [ $(($(date +%s) - START)) -lt "$BUDGET" ] && return 1
    grep -qxF "skipped for time: $1" "$WORK/failures" 2>/dev/null ||
        echo "skipped for time: $1" >>"$WORK/failures"
    return 0
}

# ---- Build -----------------------------------------------------------------

log "building (make all tests/synflood tests/duplex tests/mconn)"
make -s -C "$ROOT" all tests/synflood tests/duplex tests/mconn >&2 || { echo "bench: make failed" >&2; exit 1; }
mkdir -p "$B"
CRYPTO_LIBS=$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror"
for p in udp_pingpong udp_blast udp_window tcp_kernel runcpu; do
    cc $CFLAGS -o "$B/$p" "$ROOT/bench/$p.c" || exit 1
done
cc $CFLAGS -o "$B/stcp_xfer" "$ROOT/bench/stcp_xfer.c" "$ROOT/libstcp.a" $CRYPTO_LIBS -pthread || exit 1

# ---- Scratch space and cleanup -----------------------------------------------

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/stcp-bench.XXXXXX)
else
    WORK=$(mktemp -d /tmp/stcp-bench.XXXXXX)
fi
mkdir -p "$WORK/m" "$WORK/files"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

head -c "$XFER_BYTES" /dev/urandom >"$WORK/files/f16"
head -c "$LOSS_BYTES" /dev/urandom >"$WORK/files/f4"
head -c $((1 << 20)) /dev/urandom >"$WORK/files/f1"
printf x >"$WORK/files/one"

# ---- Recording ---------------------------------------------------------------

# rec METRIC VALUE: one sample (one round) of a metric.
rec() { [ -n "$2" ] && echo "$2" >>"$WORK/m/$1"; }
# field LINE KEY: the value of KEY=value in a result line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
calc() { awk "BEGIN { printf \"%.9g\", $* }"; }
note_fail() { echo "$1" >>"$WORK/failures"; log "FAILED: $1"; }

# ---- The file server and client ----------------------------------------------

SRV_PID=
SRV_ADDR=
# start_server ARGS...: server on 127.0.0.1 under runcpu; sets SRV_PID, SRV_ADDR.
start_server() {
    rm -f "$WORK/srv.out" "$WORK/srv.cpu"
    "$B/runcpu" -o "$WORK/srv.cpu" -k 120 "$ROOT/server" -a 127.0.0.1 -d "$WORK/files" "$@" \
        >"$WORK/srv.out" 2>>"$WORK/srv.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_ADDR=
    for _ in $(seq 250); do
        SRV_ADDR=$(sed -n "s/^Server's address is //p" "$WORK/srv.out" 2>/dev/null)
        [ -n "$SRV_ADDR" ] && return 0
        sleep 0.02
    done
    kill "$SRV_PID" 2>/dev/null
    return 1
}

# Wait for the server (it exits after -n COUNT connections); its CPU seconds.
server_cpu() {
    wait "$SRV_PID" 2>/dev/null
    field "$(cat "$WORK/srv.cpu" 2>/dev/null)" cpu
}

# sc_xfer FILE WINDOW [-U]: one server/client transfer of FILE (discarded by
# the client); prints "wall cpu_total" or nothing on failure.
sc_xfer() {
    local file=$1 window=$2 u=${3:-}
    start_server -n 1 -w "$window" $u || return 1
    "$B/runcpu" -o "$WORK/cli.cpu" -k "${SC_LIMIT:-120}" "$ROOT/client" $u -q -w "$window" -f "$file" \
        "$SRV_ADDR" >/dev/null 2>>"$WORK/cli.err"
    local rc=$?
    local scpu
    scpu=$(server_cpu)
    local line
    line=$(cat "$WORK/cli.cpu")
    [ $rc -eq 0 ] || return 1
    echo "$(field "$line" wall) $(calc "$(field "$line" cpu) + ${scpu:-0}")"
}

# ---- Round: path limit, throughput, cost ---------------------------------------

round() {
    local r=$1 line out rtt="" pps="" mbps bound raw
    line=$("$B/udp_pingpong" -s 556 -n 20000 -t 5) && rtt=$(field "$line" median_us)
    [ -n "$rtt" ] && rec rtt_us "$rtt" || note_fail "udp_pingpong round $r"
    if [ "$(nproc)" -ge 2 ]; then # for context: the two placements
        for p in split same; do
            line=$("$B/udp_pingpong" -s 556 -n 20000 -t 5 -p $p) &&
                rec "rtt_${p}_us" "$(field "$line" median_us)" || note_fail "udp_pingpong -p $p round $r"
        done
    fi
    line=$("$B/udp_blast" -s 556 -t 1) && pps=$(field "$line" rate_pps)
    [ -n "$pps" ] && rec blast_pps "$pps" || note_fail "udp_blast round $r"
    [ -n "$rtt" ] && bound=$(calc "$STCP_WINDOW / $rtt") && rec bound "$bound"
    [ -n "$pps" ] && raw=$(calc "$pps * $MSS / 1e6") && rec raw_mbps "$raw"
    for w in $STCP_WINDOW $BIG_WINDOW; do
        line=$(timeout 60 "$B/udp_window" -w $w -n $XFER_BYTES) &&
            rec "uw${w}_mbps" "$(field "$line" mbps)" || note_fail "udp_window -w $w round $r"
    done
    line=$("$B/tcp_kernel" xfer -n $XFER_BYTES) && {
        rec tcp_mbps "$(field "$line" mbps)"
        rec tcp_cpu "$(calc "($(field "$line" cpu_writer) + $(field "$line" cpu_reader)) / 16")"
        rec tcp_csw "$(calc "($(field "$line" csw_writer) + $(field "$line" csw_reader)) / $SEGS")"
    } || note_fail "tcp_kernel xfer round $r"
    for w in $STCP_WINDOW $BIG_WINDOW; do
        mbps=
        line=$(timeout 120 "$B/stcp_xfer" xfer -w $w -n $XFER_BYTES) && {
            mbps=$(field "$line" mbps)
            rec "x${w}_mbps" "$mbps"
            rec "x${w}_cpu" "$(calc "($(field "$line" cpu_writer) + $(field "$line" cpu_reader)) / 16")"
            rec "x${w}_csw" "$(calc "($(field "$line" csw_writer) + $(field "$line" csw_reader)) / $SEGS")"
        } || note_fail "stcp_xfer xfer -w $w round $r"
        per_round_ratios "x$w" "$mbps"
        mbps=
        out=$(sc_xfer f16 $w) && {
            set -- $out
            mbps=$(calc "$XFER_BYTES / $1 / 1e6")
            rec "sc${w}_mbps" "$mbps"
            rec "sc${w}_cpu" "$(calc "$2 / 16")"
        } || note_fail "server/client 16 MiB -w $w round $r"
        per_round_ratios "sc$w" "$mbps"
    done
    big_round "$r"
}

# One stream of 64 MiB with big segments, window $BIG_STREAM_WINDOW, against kernel
# TCP moving the same bytes and the UDP ceiling at the same datagram size
# (payload + 20-byte header).
big_round() {
    local r=$1 line k="" s=""
    line=$("$B/udp_blast" -s $((BIG_MSS + 20)) -t 1) && rec big_udp_mbps "$(field "$line" payload_mbps)" ||
        note_fail "udp_blast -s $((BIG_MSS + 20)) round $r"
    line=$("$B/tcp_kernel" xfer -n $BIG_BYTES) && {
        k=$(field "$line" mbps)
        rec big_tcp_mbps "$k"
        rec big_tcp_cpu "$(calc "($(field "$line" cpu_writer) + $(field "$line" cpu_reader)) / 64")"
    } || note_fail "tcp_kernel xfer -n 64M round $r"
    line=$(timeout 120 "$B/stcp_xfer" xfer -w $BIG_STREAM_WINDOW -M $BIG_MSS -n $BIG_BYTES) && {
        s=$(field "$line" mbps)
        rec big_mbps "$s"
        rec big_cpu "$(calc "($(field "$line" cpu_writer) + $(field "$line" cpu_reader)) / 64")"
    } || note_fail "stcp_xfer xfer -M $BIG_MSS round $r"
    [ -n "$k" ] && [ -n "$s" ] && rec rr_big_tcp "$(calc "$s / $k")"
    return 0
}

# per_round_ratios NAME MBPS: this round's ratios to this round's bound and
# raw rate (uses round's locals bound and raw).
per_round_ratios() {
    [ -n "$2" ] || return 0
    [ -n "${bound:-}" ] && rec "rr_$1_bound" "$(calc "$2 / $bound")"
    [ -n "${raw:-}" ] && rec "rr_$1_raw" "$(calc "$2 / $raw")"
    return 0
}

# ---- Run everything ----------------------------------------------------------

log "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$RUNS"); do
    over_budget "rounds $r-$RUNS of path limit and throughput" && break
    log "round $r/$RUNS: ping-pong, blast, kernel TCP, STCP 16 MiB (w $STCP_WINDOW, $BIG_WINDOW), 64 MiB -M $BIG_MSS"
    round "$r"
done

log "goodput under loss: 4 MiB, server/client -w $STCP_WINDOW, seeded STCP_NETEM on both ends"
export SC_LIMIT=60
for r in $(seq "$RUNS"); do
    over_budget "rounds $r-$RUNS of goodput under loss" && break
    out=$(sc_xfer f4 $STCP_WINDOW) && rec loss_none "$(calc "$LOSS_BYTES / ${out%% *} / 1e6")" ||
        note_fail "server/client 4 MiB lossless round $r"
    for loss in 0 0.01 0.05 0.10 0.25; do
        if [ "$loss" = 0.25 ] && [ "$r" -gt "$SLOW_RUNS" ]; then
            continue
        fi
        if [ "$loss" = 0 ]; then spec="seed=$r"; else spec="loss=$loss,seed=$r"; fi
        out=$(export STCP_NETEM=$spec; sc_xfer f4 $STCP_WINDOW -U) &&
            rec "loss_$loss" "$(calc "$LOSS_BYTES / ${out%% *} / 1e6")" ||
            note_fail "server/client 4 MiB $spec round $r"
    done
    out=$(export STCP_NETEM="loss=0.05,seed=$r"; sc_xfer f4 $BIG_WINDOW -U) &&
        rec loss_big_0.05 "$(calc "$LOSS_BYTES / ${out%% *} / 1e6")" ||
        note_fail "server/client 4 MiB -w $BIG_WINDOW loss=0.05 round $r"
    out=$(sc_xfer f4 $BIG_WINDOW) && rec loss_big_none "$(calc "$LOSS_BYTES / ${out%% *} / 1e6")" ||
        note_fail "server/client 4 MiB -w $BIG_WINDOW lossless round $r"
done
unset SC_LIMIT

log "connections: STCP and kernel TCP connect + 1-byte request + close loops"
for r in $(seq "$RUNS"); do
    over_budget "rounds $r-$RUNS of the connection loops" && break
    line=$(timeout 60 "$B/stcp_xfer" rate -t 2 -c 20000) && {
        rec conn_stcp "$(field "$line" rate)"
        rec conn_stcp_p50 "$(field "$line" p50_us)"
        rec conn_stcp_slow "$(field "$line" over_100ms)"
        rec conn_stcp_max "$(calc "$(field "$line" max_us) / 1000")"
    } || note_fail "stcp_xfer rate round $r"
    line=$("$B/tcp_kernel" conn -t 1 -c 20000) && {
        rec conn_tcp "$(field "$line" rate)"
        rec conn_tcp_p50 "$(field "$line" p50_us)"
    } || note_fail "tcp_kernel conn round $r"
done
for r in $(seq "$SLOW_RUNS"); do
    over_budget "rounds $r-$SLOW_RUNS of the file-server loop and SYN flood" && break
    # The file server: one client process fetching a 1-byte file N times.
    n=300
    if start_server -n $n; then
        yes one | head -n $n >"$WORK/names"
        "$B/runcpu" -o "$WORK/cli.cpu" -k 60 "$ROOT/client" -q "$SRV_ADDR" <"$WORK/names" \
            >/dev/null 2>>"$WORK/cli.err"
        rc=$?
        wait "$SRV_PID" 2>/dev/null
        [ $rc -eq 0 ] && rec conn_sc "$(calc "$n / $(field "$(cat "$WORK/cli.cpu")" wall)")" ||
            note_fail "server/client 300 x 1-byte file round $r"
    else
        note_fail "server start (connection loop) round $r"
    fi
    # SYN cookies: SYN-ACKs per second under a bounded flood.
    if start_server -C; then
        line=$(timeout 60 "$ROOT/tests/synflood" -c 200000 -r 1000000 -s 1000 "$SRV_ADDR" |
            grep '^synflood-result:')
        kill "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
        [ -n "$line" ] && {
            rec synack_rate "$(field "$line" synack_rate)"
            rec syn_rate "$(field "$line" rate)"
            rec synack_frac "$(calc "$(field "$line" synacks) / $(field "$line" sent)")"
        } || note_fail "synflood round $r"
    else
        note_fail "server -C start round $r"
    fi
done

log "concurrency: 100 simultaneous 1 MiB transfers"
for r in $(seq "$SLOW_RUNS"); do
    over_budget "rounds $r-$SLOW_RUNS of concurrency" && break
    if start_server -n 100; then
        rm -rf "$WORK/conc"
        mkdir -p "$WORK/conc"
        t0=$(date +%s.%N)
        cpids=()
        for i in $(seq 100); do
            timeout 120 "$ROOT/client" -f f1 -o "$WORK/conc/o$i" "$SRV_ADDR" \
                >/dev/null 2>>"$WORK/cli.err" &
            cpids+=($!)
        done
        fails=0
        for p in "${cpids[@]}"; do wait "$p" || fails=$((fails + 1)); done
        t1=$(date +%s.%N)
        wait "$SRV_PID" 2>/dev/null
        exact=0
        for i in $(seq 100); do
            cmp -s "$WORK/files/f1" "$WORK/conc/o$i" && exact=$((exact + 1))
        done
        rec conc_sc "$(calc "100 * 1048576 / ($t1 - $t0) / 1e6")"
        rec conc_sc_exact "$exact"
        [ "$exact" -eq 100 ] || note_fail "concurrency (server): $exact/100 byte-exact, $fails failed"
        rm -rf "$WORK/conc"
    else
        note_fail "server start (concurrency) round $r"
    fi
    line=$(timeout 120 "$B/stcp_xfer" conc -c 100 -n 1M)
    if [ -n "$line" ]; then
        rec conc_x "$(field "$line" mbps)"
        rec conc_x_exact "$(field "$line" ok)"
        [ "$(field "$line" ok)" = 100 ] || note_fail "concurrency (stcp_xfer): $line"
    else
        note_fail "stcp_xfer conc round $r"
    fi
done

log "idle connections: ${IDLE_S} s (3 x stcp_xfer idle, tests/duplex -i, at once)"
for i in 1 2 3; do
    "$B/stcp_xfer" idle -t "$IDLE_S" >"$WORK/idle.$i" 2>>"$WORK/idle.err" &
    PIDS+=($!)
done
"$ROOT/tests/duplex" -i "$IDLE_S" >"$WORK/idle.duplex" 2>>"$WORK/idle.err" &
PIDS+=($!)
wait
for i in 1 2 3; do
    line=$(cat "$WORK/idle.$i")
    [ -n "$line" ] && rec idle_pct "$(field "$line" core_pct)" || note_fail "stcp_xfer idle $i"
done
ms=$(sed -n 's/.*cpu \([0-9.]*\) ms.*/\1/p' "$WORK/idle.duplex")
[ -n "$ms" ] && rec idle_duplex_pct "$(calc "$ms / 1000 / $IDLE_S * 100")" || note_fail "duplex -i"

# Many connections (bench/many.sh, runnable alone): one round each, the
# fetch run takes minutes.  Held first (MANY_HOLD=1): every connection is
# open before any asks, so the server holds all of them at once.
MANY=10000
[ "$QUICK" = 1 ] && MANY=1000
log "many connections: $MANY connections held at once, then a 64 KiB fetch on each; 1000 held idle (bench/many.sh)"
if over_budget "many connections"; then
    :
else
    # Its summary line comes even when some fetches failed (then followed
    # by the clients' commonest errors): the count is recorded either way.
    out=$(MANY_HOLD=1 bash "$ROOT/bench/many.sh" fetch "$MANY" 65536 16 2>&1)
    line=$(grep '^many: n=' <<<"$out" | tail -1)
    case $line in
    "many: n="*)
        for k in exact open_s wall_s peak_rss_kb rss_per_conn_kb peak_threads peak_fds; do
            rec "many_$k" "$(field "$line" "$k")"
        done
        [ "$(field "$line" exact)" = "$MANY" ] ||
            note_fail "many: $line; $(grep '^many: mconn' <<<"$out" | tail -1)"
        ;;
    *) note_fail "bench/many.sh fetch: $(tail -1 <<<"$out")" ;;
    esac
    line=$(bash "$ROOT/bench/many.sh" idle 1000 | tail -1)
    case $line in
    "idle_many: n="*)
        for k in per_conn_kb threads srv_wakeups_per_conn_s cli_wakeups_per_conn_s cpu_pct_per_conn; do
            rec "idle_many_$k" "$(field "$line" "$k")"
        done
        ;;
    *) note_fail "bench/many.sh idle: $line" ;;
    esac
fi

# Profiles of issue 14's targets that are still missed (bench/profile.sh,
# runnable alone; one round here, about 25 s): what the gap is made of,
# STCP beside its yardstick in the same minute.  Written under the table.
log "profiles: big stream, window $STCP_WINDOW, connection loop (bench/profile.sh all 1)"
if ! command -v perf >/dev/null; then
    echo "perf not found: no profiles in this run (bash bench/profile.sh needs it)" >"$WORK/profile.txt"
elif ! over_budget "profiles"; then
    bash "$ROOT/bench/profile.sh" all 1 >"$WORK/profile.txt" 2>&1 ||
        note_fail "bench/profile.sh: $(tail -1 "$WORK/profile.txt")"
fi

# ---- The table -----------------------------------------------------------------

# stat METRIC: "median min max n" of its samples, or "" if none.
stat() {
    [ -s "$WORK/m/$1" ] || return 0
    sort -g "$WORK/m/$1" | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "%.9g %.9g %.9g %d\n", m, v[1], v[NR], NR }'
}
med() { local s; s=$(stat "$1"); echo "${s%% *}"; }
# fmt NUMBER: three significant figures or so.
fmt() {
    [ -z "$1" ] && { echo "n/a"; return; }
    awk -v x="$1" 'BEGIN { a = x < 0 ? -x : x;
        if (a >= 1000) printf "%.0f", x; else if (a >= 100) printf "%.1f", x;
        else if (a >= 10) printf "%.2f", x; else if (a >= 1) printf "%.3f", x;
        else if (a == 0) printf "0"; else printf "%.3g", x }'
}
pct() { [ -z "$1" ] && echo "n/a" || awk -v x="$1" 'BEGIN { printf "%.0f%%", x * 100 }'; }
# ratio A B: A / B, or "" if either is missing.
ratio() { [ -n "$1" ] && [ -n "$2" ] && calc "$1 / $2"; }
# verdict VALUE OP LIMIT: "met" / "**missed**".
verdict() {
    [ -z "$1" ] && { echo "n/a"; return; }
    awk -v x="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == ">=") ? x >= l : x < l; printf "%s", ok ? "met" : "**missed**" }'
}
# rrange METRIC: the per-round spread of a ratio, "lo–hi".
rrange() {
    local s
    s=$(stat "$1")
    [ -z "$s" ] && return 0
    set -- $s
    echo " (rounds $(pct "$2")–$(pct "$3"))"
}

ROWS=()
# row WHAT METRIC UNIT RATIOS TARGET
row() {
    local s med_s range="n/a" n=0
    s=$(stat "$2")
    if [ -n "$s" ]; then
        set -- "$1" "$2" "$3" "$4" "$5" $s
        med_s=$(fmt "$6")
        range="$(fmt "$7")–$(fmt "$8")"
        n=$9
    else
        med_s="n/a"
    fi
    ROWS+=("| $1 | $med_s $3 | $range | $n | $4 | $5 |")
}
section() { ROWS+=("| **$1** | | | | | |"); }

RTT=$(med rtt_us)
BOUND=$(med bound)
PPS=$(med blast_pps)
RAW=$(med raw_mbps)
TCP=$(med tcp_mbps)
TCPCPU=$(med tcp_cpu)
X3=$(med x${STCP_WINDOW}_mbps)
X64=$(med x${BIG_WINDOW}_mbps)
SC3=$(med sc${STCP_WINDOW}_mbps)
SC64=$(med sc${BIG_WINDOW}_mbps)
LOSS0=$(med loss_none)
LOSSBIG0=$(med loss_big_none)
CONNTCP=$(med conn_tcp)

thr_ratios() { # MEDIAN PER-ROUND-BOUND-METRIC PER-ROUND-RAW-METRIC WINDOW
    local s
    s="$(pct "$(ratio "$1" "$BOUND")") of bound"
    [ -n "$2" ] && s+="$(rrange "$2")"
    s+="; $(pct "$(ratio "$1" "$RAW")") of raw"
    [ -n "$3" ] && s+="$(rrange "$3")"
    s+="; $(pct "$(ratio "$1" "$(med "uw${4}_mbps")")") of the minimal protocol"
    s+="; $(pct "$(ratio "$1" "$TCP")") of kernel TCP"
    echo "$s"
}

section "Path limit (loopback, 556-byte datagrams)"
row "UDP ping-pong RTT, two processes (median of 20000 round trips per run)" rtt_us "µs" "—" ""
row "  … both pinned to one CPU (context)" rtt_same_us "µs" \
    "bound would be $(fmt "$(ratio "$STCP_WINDOW" "$(med rtt_same_us)")") MB/s" ""
row "  … pinned to two CPUs (context)" rtt_split_us "µs" \
    "bound would be $(fmt "$(ratio "$STCP_WINDOW" "$(med rtt_split_us)")") MB/s" ""
row "Window-limited bound: $STCP_WINDOW bytes / RTT" bound "MB/s" \
    "$(pct "$(ratio "$BOUND" "$RAW")") of the raw datagram rate" ""
row "Raw one-way datagram rate (receiver-counted, one per syscall)" blast_pps "datagrams/s" \
    "= $(fmt "$RAW") MB/s at $MSS payload bytes each" ""
for w in $STCP_WINDOW $BIG_WINDOW; do
    row "Minimal window-limited protocol on UDP, window $w (one thread a side, ACK every 2nd, no reliability)" \
        "uw${w}_mbps" "MB/s" \
        "$(pct "$(ratio "$(med "uw${w}_mbps")" "$BOUND")") of bound; $(pct "$(ratio "$(med "uw${w}_mbps")" "$RAW")") of raw" ""
done
section "Throughput, reliable path, 16 MiB"
row "stcp_xfer (libstcp.a, no files), window $STCP_WINDOW" x${STCP_WINDOW}_mbps "MB/s" \
    "$(thr_ratios "$X3" rr_x${STCP_WINDOW}_bound rr_x${STCP_WINDOW}_raw $STCP_WINDOW)" \
    "≥ 90% of bound: $(verdict "$(ratio "$X3" "$BOUND")" ">=" 0.90)"
row "server/client, window $STCP_WINDOW" sc${STCP_WINDOW}_mbps "MB/s" \
    "$(thr_ratios "$SC3" rr_sc${STCP_WINDOW}_bound rr_sc${STCP_WINDOW}_raw $STCP_WINDOW)" \
    "≥ 90% of bound: $(verdict "$(ratio "$SC3" "$BOUND")" ">=" 0.90)"
row "stcp_xfer, window $BIG_WINDOW" x${BIG_WINDOW}_mbps "MB/s" \
    "$(thr_ratios "$X64" rr_x${BIG_WINDOW}_bound rr_x${BIG_WINDOW}_raw $BIG_WINDOW)" \
    "≥ 50% of raw: $(verdict "$(ratio "$X64" "$RAW")" ">=" 0.50)"
row "server/client, window $BIG_WINDOW" sc${BIG_WINDOW}_mbps "MB/s" \
    "$(thr_ratios "$SC64" rr_sc${BIG_WINDOW}_bound rr_sc${BIG_WINDOW}_raw $BIG_WINDOW)" \
    "≥ 50% of raw: $(verdict "$(ratio "$SC64" "$RAW")" ">=" 0.50)"
row "Kernel TCP over loopback (same 16 MiB, default buffers)" tcp_mbps "MB/s" \
    "$(pct "$(ratio "$TCP" "$RAW")") of raw" ""
section "One stream, big segments: 64 MiB, stcp_xfer -M $BIG_MSS -w $BIG_STREAM_WINDOW, udp carrier"
BIG=$(med big_mbps)
BIGTCP=$(med big_tcp_mbps)
row "stcp_xfer -M $BIG_MSS -w $BIG_STREAM_WINDOW" big_mbps "MB/s" \
    "$(pct "$(ratio "$BIG" "$BIGTCP")") of kernel TCP$(rrange rr_big_tcp); $(pct "$(ratio "$BIG" "$(med big_udp_mbps)")") of the UDP ceiling" \
    "≥ 50% of kernel TCP (first milestone): $(verdict "$(ratio "$BIG" "$BIGTCP")" ">=" 0.50); ≥ 100%: $(verdict "$(ratio "$BIG" "$BIGTCP")" ">=" 1.0)"
row "Kernel TCP over loopback, the same 64 MiB" big_tcp_mbps "MB/s" "" ""
row "UDP ceiling: one-way $((BIG_MSS + 20))-byte datagrams (udp_blast)" big_udp_mbps "MB/s payload" "" ""
row "CPU: stcp_xfer -M $BIG_MSS -w $BIG_STREAM_WINDOW" big_cpu "CPU s/MiB" \
    "$(fmt "$(ratio "$(med big_cpu)" "$(med big_tcp_cpu)")") × kernel TCP (64 MiB)" \
    "≤ 2×: $(verdict "$(ratio "$(med big_cpu)" "$(med big_tcp_cpu)")" "<" 2.000001)"
row "CPU: kernel TCP, 64 MiB" big_tcp_cpu "CPU s/MiB" "—" ""
section "Goodput under loss, 4 MiB, server/client, window $STCP_WINDOW, loss both ways (seeded)"
row "lossless (no -U): the reference" loss_none "MB/s" "—" ""
row "-U, STCP_NETEM seed only (emulator on, nothing lost)" loss_0 "MB/s" \
    "$(pct "$(ratio "$(med loss_0)" "$LOSS0")") of lossless" ""
for l in 0.01 0.05 0.10 0.25; do
    t=""
    [ $l = 0.05 ] && t="≥ 50%: $(verdict "$(ratio "$(med loss_$l)" "$LOSS0")" ">=" 0.50)"
    row "loss $(pct $l)" "loss_$l" "MB/s" "$(pct "$(ratio "$(med loss_$l)" "$LOSS0")") of lossless" "$t"
done
row "window $BIG_WINDOW, lossless (reference)" loss_big_none "MB/s" "—" ""
row "window $BIG_WINDOW, loss 5%" loss_big_0.05 "MB/s" \
    "$(pct "$(ratio "$(med loss_big_0.05)" "$LOSSBIG0")") of lossless (w $BIG_WINDOW)" ""
section "Cost: CPU seconds per MiB moved (both processes)"
for k in x${STCP_WINDOW} sc${STCP_WINDOW} x${BIG_WINDOW} sc${BIG_WINDOW}; do
    case $k in
    x*) what="CPU: stcp_xfer, window ${k#x}" ;;
    sc*) what="CPU: server/client, window ${k#sc}" ;;
    esac
    row "$what" "${k}_cpu" "CPU s/MiB" \
        "$(fmt "$(ratio "$(med "${k}_cpu")" "$TCPCPU")") × kernel TCP" ""
done
row "CPU: kernel TCP" tcp_cpu "CPU s/MiB" "—" ""
row "Context switches per $MSS-byte segment moved, stcp_xfer window $STCP_WINDOW (both processes)" \
    x${STCP_WINDOW}_csw "" "" ""
row "  … context switches, stcp_xfer window $BIG_WINDOW" x${BIG_WINDOW}_csw "" "" ""
row "  … context switches, kernel TCP, same bytes" tcp_csw "" "" ""
row "Idle connection, ${IDLE_S} s, both processes (stcp_xfer idle)" idle_pct "% of a core" \
    "$(fmt "$(ratio "$(med idle_pct)" 0.1)") × the 0.1% limit" \
    "< 0.1%: $(verdict "$(med idle_pct)" "<" 0.1)"
row "Idle connection, ${IDLE_S} s, both ends in one process (tests/duplex -i)" idle_duplex_pct \
    "% of a core" "" "< 0.1%: $(verdict "$(med idle_duplex_pct)" "<" 0.1)"
section "Connections: connect + 1-byte request + 1-byte reply + close, in a loop"
row "STCP (stcp_xfer rate, 2 s per run)" conn_stcp "conn/s" \
    "$(pct "$(ratio "$(med conn_stcp)" "$CONNTCP")") of kernel TCP" \
    "≥ 50% of kernel TCP: $(verdict "$(ratio "$(med conn_stcp)" "$CONNTCP")" ">=" 0.50)"
row "  … STCP: one loop's median time" conn_stcp_p50 "µs" \
    "$(fmt "$(ratio "$(med conn_stcp_p50)" "$RTT")") × RTT; vs kernel $(fmt "$(ratio "$(med conn_stcp_p50)" "$(med conn_tcp_p50)")") ×" ""
row "  … STCP: loops over 100 ms, per run" conn_stcp_slow "" "" ""
row "  … STCP: slowest loop, per run" conn_stcp_max "ms" "" \
    "≤ 10 ms: $(verdict "$(med conn_stcp_max)" "<" 10.000001)"
row "server/client, 300 × a 1-byte file, one client process" conn_sc "conn/s" \
    "$(pct "$(ratio "$(med conn_sc)" "$CONNTCP")") of kernel TCP" ""
row "Kernel TCP, same loop (1 s per run)" conn_tcp conn/s "—" ""
row "  … kernel TCP: one loop's median time" conn_tcp_p50 "µs" "" ""
row "SYN-ACKs per second, server -C, 200000 SYNs from 1000 sources" synack_rate "SYN-ACK/s" \
    "$(pct "$(med synack_frac)") of SYNs answered (offered $(fmt "$(med syn_rate)")/s); $(pct "$(ratio "$(med synack_rate)" "$PPS")") of raw datagram rate" ""
section "Concurrency: 100 simultaneous 1 MiB transfers, one server, window $STCP_WINDOW"
row "server + 100 client processes, aggregate" conc_sc "MB/s" \
    "$(pct "$(ratio "$(med conc_sc)" "$SC3")") of one server/client stream; $(pct "$(ratio "$(med conc_sc)" "$RAW")") of raw" \
    "byte-exact: $(med conc_sc_exact)/100 (median)"
row "stcp_xfer, 100 threads each side, aggregate" conc_x "MB/s" \
    "$(pct "$(ratio "$(med conc_x)" "$X3")") of one stcp_xfer stream; $(pct "$(ratio "$(med conc_x)" "$RAW")") of raw" \
    "byte-exact: $(med conc_x_exact)/100 (median)"
section "Many connections: one server, tests/mconn (16 threads), bench/many.sh"
row "$MANY concurrent connections, all held at once, then 64 KiB each: byte-exact" many_exact "of $MANY" "" \
    "all byte-exact: $([ "$(med many_exact)" = "$MANY" ] && echo met || echo "**missed**")"
row "  … wall time (all open and asked after $(fmt "$(med many_open_s)") s)" many_wall_s "s" "" ""
row "  … server peak RSS" many_peak_rss_kb "kB" \
    "$(fmt "$(med many_rss_per_conn_kb)") kB a connection (peak less fresh, over $MANY)" ""
row "  … server peak threads (sampled every 0.5 s)" many_peak_threads "" \
    "descriptors at most $(fmt "$(med many_peak_fds)")" \
    "all $MANY held at once (two threads a connection, ≥ $((2 * MANY))): $(verdict "$(med many_peak_threads)" ">=" "$((2 * MANY))")"
row "1000 idle connections: server RSS per connection" idle_many_per_conn_kb "kB" \
    "threads and their stacks included" \
    "≤ 64 KiB: $(verdict "$(med idle_many_per_conn_kb)" "<" 64.001)"
row "  … CPU per idle connection (both processes, 3 s)" idle_many_cpu_pct_per_conn "% of a core" \
    "wake-ups a second per connection: server $(fmt "$(med idle_many_srv_wakeups_per_conn_s)"), client $(fmt "$(med idle_many_cli_wakeups_per_conn_s)")" \
    "< 0.1%: $(verdict "$(med idle_many_cpu_pct_per_conn)" "<" 0.1)"

# The bottleneck section (linkem), its own script (runnable alone).
log "bottleneck: STCP through linkem (bench/bottleneck.sh)"
if [ "$QUICK" = 1 ]; then
    BN_RUNS=1 BN_BYTES=$((1 << 20)) BN_SLOW_BYTES=$((256 << 10)) bash "$ROOT/bench/bottleneck.sh" >"$WORK/bottleneck.md"
else
    bash "$ROOT/bench/bottleneck.sh" >"$WORK/bottleneck.md"
fi || note_fail "bench/bottleneck.sh"

# STCP against the kernel's TCP over a TUN device, beside kernel <-> kernel
# over a veth pair (bench/tun.sh, runnable alone; needs root for namespaces).
log "tun: 16 MiB kernel <-> ours over TUN (bench/tun.sh)"
{
    echo
    echo "## Against the kernel's TCP over TUN"
    echo
    if [ "$(id -u)" -ne 0 ]; then
        echo "Skipped: bench/tun.sh needs root (a network namespace and a TUN device)."
    else
        echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); bash bench/tun.sh $([ "$QUICK" = 1 ] && echo 1 || echo 3)"
        echo
        bash "$ROOT/bench/tun.sh" "$([ "$QUICK" = 1 ] && echo 1 || echo 3)" 2>/dev/null || note_fail "bench/tun.sh"
    fi
} >"$WORK/tun.md"

# gap WHAT TARGET VERDICT GAP WHY: one missed target's note, its profile
# lines from this run (bench/profile.sh's lines for WHAT) and why.
gap() {
    [ "$3" = met ] && return
    echo
    echo "**$2** -- $([ "$3" = n/a ] && echo "not measured" || echo "missed"): $4"
    echo
    if grep -qE "^(profile|calls|top): $1 " "$WORK/profile.txt" 2>/dev/null; then
        echo '```'
        grep -E "^(profile|calls): $1 " "$WORK/profile.txt" | sed 's/^/  /'
        grep -E "^top: $1 " "$WORK/profile.txt" | head -6 | sed 's/^top: [^ ]* /  top function: /'
        echo '```'
    else
        echo "(No profile in this run: $(head -1 "$WORK/profile.txt" 2>/dev/null || echo "skipped for time").)"
    fi
    echo
    echo "$5"
}
# The section under the table: each of issue 14's missed targets, the gap,
# and the profile that explains it (the full profiles and their reading
# are in the README, Performance, "The gaps, profiled").
gap_section() {
    echo
    echo "## Missed targets: the gap and its profile"
    echo
    echo "From \`bash bench/profile.sh all 1\` in this run (perf stat of both processes,"
    echo "per MiB, per 536-byte segment or per connection; cpu_ms is task-clock; calls are"
    echo "system calls, recvmsg_eagain the reads that found nothing; top functions from"
    echo "perf record, kernel and user space).  The reading, and the profiles before and"
    echo "after each change: README, Performance, \"The gaps, profiled\".  The MB/s and"
    echo "rates in these lines are slowed by perf's system-call tracepoints: the table's are"
    echo "the figures; these are for the counts per unit."
    local r
    r=$(ratio "$BIG" "$BIGTCP")
    gap big "One stream, 64 MiB, -M $BIG_MSS -w $BIG_STREAM_WINDOW: ≥ 100% of kernel TCP" \
        "$(verdict "$r" ">=" 1.0)" "$(pct "$r") of kernel TCP in this run" \
        "Per MiB STCP makes many times the kernel's context switches, wake-ups and system calls: every segment is handed between each side's application thread and its transport thread (futex, the wake-up signal), and every payload byte is copied twice in user space and checksummed at both ends on top of the kernel's own two copies."
    r=$(ratio "$X3" "$BOUND")
    gap w3072 "Window $STCP_WINDOW, classic wire: ≥ 90% of the window/RTT bound" \
        "$(verdict "$r" ">=" 0.90)" "$(pct "$r") of the bound in this run" \
        "System calls per segment are nearly the minimal protocol's (udp_window); the difference is the switching: udp_window's two threads, one per CPU, rarely sleep on a quiet machine, while STCP's four (writer, two transport threads, reader) on two CPUs hand each window to each other, about one context switch per 536-byte segment (futex: the application-transport hand-offs)."
    r=$(ratio "$(med conn_stcp)" "$CONNTCP")
    gap rate "Connect + 1-byte exchange + close: ≥ 50% of kernel TCP's rate" \
        "$(verdict "$r" ">=" 0.50)" "$(pct "$r") of kernel TCP in this run" \
        "A connection costs STCP eight to twelve times the kernel's context switches and system calls and over twenty times its CPU: the handshake, the byte each way and both closes each pass between the application, transport and listener threads of both processes, and thread creation (the benchmark's own server thread per connection, and transport threads while the pool grows to cover the 1 s TIME_WAIT) shows in the top functions."
}

ELAPSED=$(($(date +%s) - START))
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
{
    echo "# STCP benchmark results"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- Machine: $(nproc) CPUs, ${CPU_MODEL:-unknown CPU}; kernel $(uname -sr); load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Source: commit $COMMIT; compiler $(cc --version | head -n 1)"
    echo "- Runs: $RUNS rounds (25% loss, connection loops through the file server, SYN flood and concurrency: $SLOW_RUNS); total $ELAPSED s"
    [ "$QUICK" = 1 ] && echo "- **BENCH_QUICK=1: a smoke run, not results**"
    if awk -v a="${LOAD_START%% *}" -v b="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" \
        'BEGIN { exit !(a > n / 2 || b > n / 2) }'; then
        echo "- **The machine was busy with other work during this run (see the load averages):"
        echo "  the yardsticks and the STCP figures suffer differently, so ratios are noisy.**"
    fi
    echo
    echo "| Measurement | Median | Min–max | Runs | Ratio | Target |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "MB/s is 10^6 bytes a second of payload.  \"bound\" is the window-limited bound,"
    echo "$STCP_WINDOW bytes per ping-pong RTT; \"raw\" is the raw one-way datagram rate times"
    echo "$MSS payload bytes (a full segment's payload); ratios are of the medians, with the"
    echo "spread of the same ratio taken round by round where both sides ran in one round."
    echo "Throughput is timed by the receiving process from before connect to end of file"
    echo "(stcp_xfer, kernel TCP) or as the client process's wall time (server/client)."
    if [ -s "$WORK/failures" ]; then
        echo
        echo "Failures and skipped rounds:"
        sed 's/^/- /' "$WORK/failures"
    fi
    gap_section
    cat "$WORK/bottleneck.md" 2>/dev/null
    cat "$WORK/tun.md" 2>/dev/null
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
log "done in $ELAPSED s; table written to $OUT"
