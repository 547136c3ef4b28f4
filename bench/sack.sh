#!/usr/bin/env bash
# bench/sack.sh -- goodput of a 4 MiB transfer with SACK against without,
# on a lossy emulated path (STCP_NETEM loss on both ends, -U), medians of
# several seeds.  Not part of make test (timing).
#
#   bash bench/sack.sh [LOSS...]        (default: 0 0.05 0.25; SEEDS="1 2 3",
#                                         WINDOW=65535, CC=cubic)
cd "$(dirname "$0")/.." || exit 2
LOSSES=${*:-0 0.05 0.25}
SEEDS=${SEEDS:-1 2 3}
WINDOW=${WINDOW:-65535}
CC=${CC:-cubic}
W=$(mktemp -d /tmp/stcp-sackbench.XXXXXX)
trap 'kill $SP 2> /dev/null; rm -rf "$W"' EXIT
head -c 4194304 /dev/urandom > "$W/f4m"

# run LOSS SEED SACK: prints the seconds of one transfer (byte-exact or "fail")
run() {
    local netem="loss=$1,seed=$2"
    STCP_NETEM=$netem STCP_SACK=$3 ./server -U -a 127.0.0.1 -n 1 -w "$WINDOW" -c "$CC" -d "$W" \
        > "$W/srv.out" 2> /dev/null &
    SP=$!
    for _ in $(seq 100); do grep -q "address is" "$W/srv.out" && break; sleep 0.05; done
    local port start end
    port=$(sed -n "s/.*:\([0-9]*\)$/\1/p" "$W/srv.out")
    start=$EPOCHREALTIME
    STCP_NETEM=$netem STCP_SACK=$3 timeout 300 ./client -U -w "$WINDOW" -c "$CC" -f f4m \
        -o "$W/got" "127.0.0.1:$port" 2> /dev/null
    local rc=$?
    end=$EPOCHREALTIME
    wait $SP 2> /dev/null
    if [ $rc -eq 0 ] && cmp -s "$W/f4m" "$W/got"; then
        echo "$start $end" | awk '{printf "%.3f\n", $2 - $1}'
    else
        echo fail
    fi
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "4 MiB, window $WINDOW, $CC, -U with STCP_NETEM=loss=L,seed=N (N in $SEEDS) on both ends"
printf "%-6s %-28s %-28s\n" loss "SACK (median s, MB/s)" "no SACK (median s, MB/s)"
for loss in $LOSSES; do
    line=$(printf "%-6s" "$loss")
    for sack in 1 0; do
        times=$(for s in $SEEDS; do run "$loss" "$s" "$sack"; done)
        m=$(echo "$times" | median)
        line="$line $(printf "%-28s" "$m s $(awk -v t="$m" 'BEGIN {printf "(%.2f MB/s)", 4.194304 / t}')  [$(echo $times)]")"
    done
    echo "$line"
done
