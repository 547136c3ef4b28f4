#!/usr/bin/env bash
# bench/tun.sh -- STCP against the kernel's TCP over a TUN device, next to
# kernel <-> kernel over a veth pair, measured in the same run (root).
#
#   bash bench/tun.sh [RUNS]        (default 5; after make tools)
#
# Three transfers of 16 MiB, each RUNS times, interleaved:
#   kernel -> ours   tests/kpeer serve in a namespace, our client on
#                    STCP_CARRIER=tun:tun0,198.18.0.2 (client -q, timed whole)
#   ours -> kernel   our server on the TUN carrier, tests/kpeer fetch (it
#                    times the request to the last byte)
#   kernel <-> kernel over veth: tests/kpeer serve in one namespace, kpeer
#                    fetch in another, linked by a veth pair (same timing)
# Then the refusal time: tests/cprobe connects 20 times to a kernel port with
# no listener (198.18.0.1:9) and times each connect inside the process, with
# our myconnect over TUN and with the kernel's own connect() in the same
# namespace.
# Our side uses a window of TUN_WINDOW bytes (default 1048576: window
# scaling, as the kernel's own TCP would have), both ends.
# Prints Markdown tables of medians (MB/s = 10^6 bytes/s) on stdout.
# Everything lives in namespaces created here and deleted on exit.
set -u
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-5}
BYTES=$((16 << 20))
WINDOW=${TUN_WINDOW:-1048576}
NS=stcp-bt-$$
NA=stcp-bva-$$
NB=stcp-bvb-$$
WORK=$(mktemp -d /tmp/stcp-bench-tun.XXXXXX)
cleanup() {
    for n in "$NS" "$NA" "$NB"; do
        for p in $(ip netns pids "$n" 2> /dev/null); do kill "$p" 2> /dev/null; done
        ip netns del "$n" 2> /dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench/tun.sh: needs root" >&2; exit 1; }
make -s -C "$ROOT" all tests/kpeer tests/cprobe >&2 || exit 1
mkdir -p "$WORK/files"
head -c "$BYTES" /dev/urandom > "$WORK/files/f"

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tun0 mode tun
ip -n "$NS" addr add 198.18.0.1/24 dev tun0
ip -n "$NS" link set tun0 up
ip netns add "$NA"
ip netns add "$NB"
ip link add "va$$" netns "$NA" type veth peer name "vb$$" netns "$NB"
ip -n "$NA" addr add 198.18.1.1/24 dev "va$$"
ip -n "$NB" addr add 198.18.1.2/24 dev "vb$$"
ip -n "$NA" link set "va$$" up
ip -n "$NB" link set "vb$$" up

wait_line() {
    for _ in $(seq 200); do
        grep -q "$2" "$1" 2> /dev/null && return 0
        sleep 0.05
    done
    return 1
}
ip netns exec "$NS" "$ROOT/tests/kpeer" serve -a 198.18.0.1 -p 8000 -d "$WORK/files" > "$WORK/k1" 2>&1 &
ip netns exec "$NB" "$ROOT/tests/kpeer" serve -a 198.18.1.2 -p 8000 -d "$WORK/files" > "$WORK/k2" 2>&1 &
wait_line "$WORK/k1" "Kernel server" && wait_line "$WORK/k2" "Kernel server" ||
    { echo "bench/tun.sh: a kernel server did not start" >&2; exit 1; }

# A TUN device is attached by one process at a time: our server runs only
# while the kernel fetches from it, our client only while it is gone.
ours_to_kernel() {
    STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec "$NS" "$ROOT/server" -a 198.18.0.2 \
        -w "$WINDOW" -d "$WORK/files" > "$WORK/s" 2>&1 &
    local spid=$!
    if wait_line "$WORK/s" "Server's address"; then
        local port
        port=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$WORK/s")
        ip netns exec "$NS" "$ROOT/tests/kpeer" fetch 198.18.0.2 "$port" f | sed -n 's/.*usec=//p'
    fi
    kill "$spid" 2> /dev/null
    wait "$spid" 2> /dev/null
}

mbps() { awk -v b="$BYTES" -v u="$1" 'BEGIN { printf "%.1f\n", b / u }'; }
for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec "$NS" "$ROOT/client" -q -w "$WINDOW" -f f 198.18.0.1:8000 \
        2> /dev/null && t1=$(date +%s%N) && mbps $(((t1 - t0) / 1000)) >> "$WORK/k2o"
    u=$(ours_to_kernel)
    [ -n "$u" ] && mbps "$u" >> "$WORK/o2k"
    u=$(ip netns exec "$NA" "$ROOT/tests/kpeer" fetch 198.18.1.2 8000 f | sed -n 's/.*usec=//p')
    [ -n "$u" ] && mbps "$u" >> "$WORK/k2k"
done
med() { [ -s "$1" ] && sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' || echo "n/a"; }
K2K=$(med "$WORK/k2k")
ratio() { awk -v a="$1" -v b="$K2K" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.1f%%", 100 * a / b; else print "n/a" }'; }
echo "| 16 MiB over TUN, median of $RUNS, our window $WINDOW | MB/s | of kernel <-> kernel |"
echo "|---|---|---|"
echo "| kernel -> ours (our client, STCP_CARRIER=tun) | $(med "$WORK/k2o") | $(ratio "$(med "$WORK/k2o")") |"
echo "| ours -> kernel (our server, STCP_CARRIER=tun) | $(med "$WORK/o2k") | $(ratio "$(med "$WORK/o2k")") |"
echo "| kernel <-> kernel over a veth pair | $K2K | 100% |"

# field NAME LINE: the number after "NAME " in a cprobe line.
field() { echo "$2" | sed -n "s/.*$1 \([0-9]*\) us.*/\1/p"; }
ours=$(STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec "$NS" "$ROOT/tests/cprobe" 198.18.0.1:9)
kern=$(ip netns exec "$NS" "$ROOT/tests/cprobe" -k 198.18.0.1:9)
echo
echo "| connect to a kernel port with no listener (ECONNREFUSED), 20 tries, timed in the process | median | min | max | first try |"
echo "|---|---|---|---|---|"
echo "| ours: myconnect over TUN | $(field median "$ours") us | $(field min "$ours") us | $(field max "$ours") us | $(field first "$ours") us (starts the carrier) |"
echo "| the kernel's connect() in the same namespace | $(field median "$kern") us | $(field min "$kern") us | $(field max "$kern") us | $(field first "$kern") us |"
