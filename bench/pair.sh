#!/usr/bin/env bash
# bench/pair.sh BASE_XFER NEW_XFER [ROUNDS] -- paired rounds of two stcp_xfer
# builds (e.g. main's, from `git archive`, and this tree's build/bench/stcp_xfer):
# each round runs tcp_kernel xfer -n 64M, then every setting with BASE and NEW
# in turn, and prints "NAME MB/s CPU-ms/MiB context-switches" lines, then the
# medians (min-max) per name.  Not part of make bench; for before/after runs.
set -u
BASE=$1 NEW=$2 R=${3:-7}
K=$(dirname "$0")/../build/bench/tcp_kernel
SETTINGS=${PAIR_SETTINGS:-"-w 262144 -M 65000 -n 64M|-w 65535 -M 65000 -n 64M|-w 3072 -n 16M"}
field() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }
cpu_per_mib() { echo "($(field "$1" cpu_writer) + $(field "$1" cpu_reader)) / $2 * 1000" | bc -l; }
out=$(mktemp /tmp/pair.XXXXXX)
for r in $(seq "$R"); do
    l=$("$K" xfer -n 64M) && echo "kernel[64M] $(field "$l" mbps) $(cpu_per_mib "$l" 64) 0" >> "$out"
    IFS='|' read -ra sets <<< "$SETTINGS"
    for set in "${sets[@]}"; do
        mib=$(echo "$set" | grep -o '[0-9]*M$' | tr -d M)
        for v in base new; do
            bin=$BASE; [ $v = new ] && bin=$NEW
            # shellcheck disable=SC2086 # the setting's words
            l=$(timeout 120 "$bin" xfer $set) || continue
            echo "$v[${set// /_}] $(field "$l" mbps) $(cpu_per_mib "$l" "$mib") $(($(field "$l" csw_writer) + $(field "$l" csw_reader)))" >> "$out"
        done
    done
done
cat "$out"
python3 - "$out" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, *vals = line.split()
    rows[name].append([float(v) for v in vals])
print("name  MB/s  CPU-ms/MiB  switches   (median (min-max))")
for name, vals in rows.items():
    print(name, "  ".join("%.2f (%.2f-%.2f)" % (statistics.median(c), min(c), max(c)) for c in zip(*vals)))
PY
rm -f "$out"
