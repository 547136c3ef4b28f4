#!/usr/bin/env bash
# bench/cwnd-pictures.sh -- the README's congestion window pictures: one
# transfer per algorithm through linkem, traced on the server (the sender)
# with STCP_TRACE and drawn by tools/cwnd-plot.sh.
#
#     bash bench/cwnd-pictures.sh [OUTDIR]      (default doc/; about 30 s)
#
# PIC_BYTES (4 MiB) of file, PIC_RATE (5mbit), PIC_DELAY_MS (10) each way, a
# drop-tail queue of one bandwidth-delay product, window PIC_WINDOW (65535)
# on both ends, seed 1, no random loss.  The rate is low so that one BDP of
# path plus one BDP of queue (25 KB) is less than the window: the queue
# overflows unless the sender holds back.  Writes OUTDIR/cwnd-ALGO.png and
# keeps the traces in OUTDIR/cwnd-ALGO.trace only with PIC_KEEP=1.  PIC_BIN
# takes the programs from another build (e.g. build/chk) instead of making
# them here; PIC_ALGOS ("none newreno cubic") chooses the algorithms.
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/doc}
BYTES=${PIC_BYTES:-$((4 << 20))}
RATE=${PIC_RATE:-5mbit}
DELAY_MS=${PIC_DELAY_MS:-10}
WINDOW=${PIC_WINDOW:-65535}
LIMIT=${PIC_LIMIT:-120}
rate_bps=$(awk -v r="$RATE" 'BEGIN { n = r + 0; u = tolower(r); sub(/^[0-9.]+/, "", u);
    m = u == "gbit" ? 1e9 : u == "mbit" ? 1e6 : u == "kbit" ? 1e3 : 1; printf "%.0f", n * m }')
QUEUE=$((rate_bps * 2 * DELAY_MS / 1000 / 8))

BIN=${PIC_BIN:-}
if [ -z "$BIN" ]; then
    make -s -C "$ROOT" all >&2
    BIN=$ROOT
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/stcp-pic.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
head -c "$BYTES" /dev/urandom >"$WORK/file"

wait_line() {
    for _ in $(seq 250); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    echo "cwnd-pictures: no '$2' in $1" >&2
    return 1
}

for algo in ${PIC_ALGOS:-none newreno cubic}; do
    STCP_TRACE="$WORK/$algo.trace" timeout "$LIMIT" "$BIN/server" -v -a 127.0.0.1 -d "$WORK" \
        -n 1 -w "$WINDOW" -c "$algo" >"$WORK/$algo.srv.out" 2>"$WORK/$algo.srv.err" &
    srv=$!
    PIDS+=("$srv")
    wait_line "$WORK/$algo.srv.out" "Server's address is"
    "$BIN/linkem" -s "$(sed -n "s/^Server's address is //p" "$WORK/$algo.srv.out")" -r "$RATE" \
        -d "${DELAY_MS}ms" -q "${QUEUE}b" -S 1 >"$WORK/$algo.link.out" 2>"$WORK/$algo.link.err" &
    link=$!
    PIDS+=("$link")
    wait_line "$WORK/$algo.link.out" "Link's address is"
    s=$EPOCHREALTIME
    # A warning at close (the server may be gone) is not a failed transfer:
    # -q discards the data, and the trace and the drops are what we want.
    timeout "$LIMIT" "$BIN/client" -q -w "$WINDOW" -c "$algo" -f file \
        "$(sed -n "s/^Link's address is //p" "$WORK/$algo.link.out")" ||
        echo "cwnd-pictures: $algo: client exit $?" >&2
    e=$EPOCHREALTIME
    wait "$srv" || true
    kill -TERM "$link"
    wait "$link" || true
    drops=$(grep '^link dir=down ' "$WORK/$algo.link.out" | tail -1 | tr ' ' '\n' |
        awk -F= '$1 == "drop_queue" || $1 == "drop_cap" { s += $2 } END { print s + 0 }')
    # segments resent on timeout, on duplicate ACKs, and on SACK/RACK
    resent=$(sed -n 's/.*resent \([0-9]*\) on timeout, \([0-9]*\) on duplicate ACKs.*/\1 + \2/p' "$WORK/$algo.srv.err")
    resent="$resent + $(sed -n 's/.*SACK on ([^)]*, \([0-9]*\) resent on them).*/\1/p' "$WORK/$algo.srv.err" | head -1)"
    resent=${resent% + }
    goodput=$(awk -v b="$BYTES" -v s="$s" -v e="$e" -v r="$rate_bps" \
        'BEGIN { printf "%.0f%% of the link", 100 * b * 8 / (e - s) / r }')
    title="$algo: $((BYTES >> 20)) MiB through $RATE, ${DELAY_MS} ms each way, queue $QUEUE B, window $WINDOW; $goodput, $drops drops, resent $resent"
    "$ROOT/tools/cwnd-plot.sh" -t "$title" "$WORK/$algo.trace" "$OUT/cwnd-$algo.png" >/dev/null
    [ "${PIC_KEEP:-0}" = 1 ] && cp "$WORK/$algo.trace" "$OUT/cwnd-$algo.trace"
    echo "$OUT/cwnd-$algo.png: $title"
done
