#!/usr/bin/env bash
# tests/demo.sh -- make demo: a server and a client on loopback, over the
# classic unreliable path (-U on both ends), fetching a generated file.
set -u
cd "$(dirname "$0")/.." || exit 2
dir=$(mktemp -d /tmp/stcp-demo.XXXXXX)
trap 'kill $spid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
head -c 1048576 /dev/urandom > "$dir/demo.bin"
./server -U -a 127.0.0.1 -d "$dir" > "$dir/server.out" &
spid=$!
for _ in $(seq 100); do grep -q address "$dir/server.out" && break; sleep 0.05; done
cat "$dir/server.out"
addr=$(sed -n "s/^Server's address is //p" "$dir/server.out")
echo "client -U -v -f demo.bin $addr"
start=$(date +%s.%N)
(cd "$dir" && "$OLDPWD/client" -U -v -f demo.bin "$addr")
rc=$?
end=$(date +%s.%N)
if [ $rc -eq 0 ] && cmp -s "$dir/demo.bin" "$dir/rcvd"; then
    awk -v s="$start" -v e="$end" \
        'BEGIN {printf "demo: 1 MiB arrived byte-exact over the unreliable path in %.2f s\n", e - s}'
else
    echo "demo: FAILED (client exit $rc)"
    exit 1
fi
