#!/usr/bin/env bash
# tests/kgarbage.sh -- garbage IPv4 packets at a TUN-carried server while the
# kernel's clients fetch files from it (needs root).
#
#   bash tests/kgarbage.sh                  (BIN=dir of the binaries)
#
# A private namespace stcp-g-PID holds tun0 (198.18.0.1/24, IPv6 off so the
# kernel sends nothing of its own but TCP) and our server -v on
# STCP_CARRIER=tun:tun0,198.18.0.2.  tests/ipgarbage writes KG_COUNT
# packets (default 12000) at KG_RATE a second (default 4000) into tun0, of
# every category it knows (bad IP version, IHL, total length, header
# checksum; fragments; other protocols; another address; TCP with a bad
# checksum or th_off; random flags, RSTs and ACKs for no connection;
# malformed options and plain SYNs at the listener), while three kernel
# clients (tests/kpeer fetch) fetch 1 MiB files from our server one after
# another until the garbage ends.
#
# Checks: every fetch is byte-exact; the server survives, serves one more
# file, and exits 0 on SIGTERM; its process-wide carrier counters account
# for each kind of garbage (> 0, and no more than was sent of that kind);
# RSTs sent stay within the token bucket (20 at once, then 100 a second, over
# the server's lifetime) and some were withheld (a burst of 500 ACKs for no
# connection after the mix); no garbage became a connection.  The namespace and its processes are removed on exit.  Last
# line: "kgarbage: N passed, M failed".  KG_SEED replays a run's garbage.
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
NS=stcp-g-$$
KADDR=198.18.0.1
OURS=198.18.0.2
COUNT=${KG_COUNT:-12000}
RATE=${KG_RATE:-4000}
SEED=${KG_SEED:-$((RANDOM * 32768 + RANDOM))}
FETCHERS=3
BURST=500
RST_BURST=20 RST_PER_SEC=100 # network.c's RST budget

if [ "$(id -u)" -ne 0 ]; then
    echo "# kgarbage needs root (network namespace and TUN device)"
    not_ok "kgarbage: running as root"
    summary kgarbage
    exit 1
fi

kg_cleanup() {
    netns_remove "$NS"
    cleanup
}
trap kg_cleanup EXIT

ip netns add "$NS" || exit 1
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tun0 mode tun
ip -n "$NS" addr add "$KADDR/24" dev tun0
ip -n "$NS" link set tun0 up

make_file f1 1048576
make_file last 100000

# Our server, -v: per-connection lines and the counters at exit on stderr.
start=$EPOCHREALTIME
STCP_CARRIER=tun:tun0,$OURS ip netns exec "$NS" "$BIN/server" -v -a "$OURS" -d "$WORK/files" \
    > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER=$!
PIDS+=("$SERVER")
wait_for 10 grep -q "Server's address is" "$WORK/server.out" || { echo "# server did not start: $(cat "$WORK/server.err")"; exit 1; }
PORT=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$WORK/server.out")

# kfetch NAME: a kernel client fetches NAME from our server, byte-exact.
kfetch() {
    local out="$WORK/got.$1.$BASHPID.$RANDOM"
    timeout 60 ip netns exec "$NS" "$BIN/tests/kpeer" fetch -o "$out" "$OURS" "$PORT" "$1" \
        > "$out.log" 2>&1 || { echo "# kpeer: $(tail -1 "$out.log")"; return 1; }
    cmp -s "$WORK/files/$1" "$out" || { echo "# $1 differs"; return 1; }
    rm -f "$out" "$out.log"
}

# fetcher N: fetch f1 until the garbage is over (at most 100 times); writes
# "fetches bad" to $WORK/fetcher.N.
fetcher() {
    local n=0 bad=0
    while :; do
        kfetch f1 || bad=$((bad + 1))
        n=$((n + 1))
        [ -e "$WORK/garbage.done" ] || [ $n -ge 100 ] && break
    done
    echo "$n $bad" > "$WORK/fetcher.$1"
}
for i in $(seq $FETCHERS); do
    fetcher "$i" &
    PIDS+=($!)
done

echo "# ipgarbage: $COUNT packets at $RATE/s into tun0, seed $SEED"
ip netns exec "$NS" "$BIN/tests/ipgarbage" -i tun0 -s "$KADDR" -t "$OURS" -l "$PORT" \
    -c "$COUNT" -r "$RATE" -S "$SEED" > "$WORK/garbage.out" 2>&1
grc=$?
# Then a burst of ACKs for no connection, far faster than the RST budget
# refills, however slowly this machine runs the rest.
ip netns exec "$NS" "$BIN/tests/ipgarbage" -i tun0 -s "$KADDR" -t "$OURS" -l "$PORT" \
    -c $BURST -r 200000 -m ack -S "$SEED" > "$WORK/burst.out" 2>&1
brc=$?
touch "$WORK/garbage.done"
wait_for 120 test -s "$WORK/fetcher.1" -a -s "$WORK/fetcher.2" -a -s "$WORK/fetcher.3"
cat "$WORK/garbage.out" | sed 's/^/# /'

result=$(grep '^ipgarbage-result:' "$WORK/garbage.out")
sent() { echo "$result" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
check "ipgarbage sent all $COUNT packets" [ $grc -eq 0 -a "$(sent sent)" = "$COUNT" ]
burst_sent() { [ $brc -eq 0 ] && grep -q "^ipgarbage-result: sent=$BURST " "$WORK/burst.out"; }
check "ipgarbage sent a burst of $BURST ACKs" burst_sent

fetches=0 bad=0
for i in $(seq $FETCHERS); do
    read -r n b < "$WORK/fetcher.$i" || n=0
    fetches=$((fetches + n)) bad=$((bad + ${b:-1}))
done
echo "# $fetches fetches of 1 MiB by $FETCHERS kernel clients during the garbage, $bad failed"
check "kernel clients' fetches during the garbage all byte-exact ($fetches)" [ "$fetches" -ge $FETCHERS -a "$bad" -eq 0 ]
check "the server is alive after the garbage" kill -0 "$SERVER"
check "the server serves another file after the garbage, byte-exact" kfetch last

kill -TERM "$SERVER"
wait "$SERVER"
src=$?
end=$EPOCHREALTIME
check "the server exits 0 on SIGTERM (no crash)" [ $src -eq 0 ]

carrier=$(grep 'carrier (process-wide)' "$WORK/server.err")
echo "# $carrier"
# counter TEXT: the number before TEXT in the carrier line.
counter() { echo "$carrier" | sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p"; }
# accounts NAME GOT SENT: 0 < GOT <= SENT
accounts() {
    echo "# $1: counted $2, sent $3"
    [ -n "$2" ] && [ "$2" -gt 0 ] && [ "$2" -le "$3" ]
}
check "IP malformed (version, IHL, total length) counted" \
    accounts "IP malformed" "$(counter "IP malformed")" $(($(sent ipver) + $(sent ihl) + $(sent totlen)))
check "IP bad header checksum counted" accounts "IP bad checksum" "$(counter "IP bad checksum")" "$(sent ipsum)"
check "fragments counted" accounts fragments "$(counter fragments)" "$(sent frag)"
check "other protocols counted" accounts "other protocol" "$(counter "other protocol")" "$(sent proto)"
check "packets for another address counted" accounts "not for us" "$(counter "not for us")" "$(sent notours)"
check "TCP malformed (th_off, short) for no socket counted" accounts "TCP malformed" "$(counter "TCP malformed")" "$(sent tcpoff)"
check "TCP bad checksum for no socket counted" accounts "TCP bad checksum" "$(counter "TCP bad checksum")" "$(sent tcpsum)"
check "segments for no connection (flags, RST, ACK) counted" \
    accounts "no socket" "$(counter "for no socket")" $(($(sent flags) + $(sent rst) + $(sent ack) + BURST))

rst_sent=$(echo "$carrier" | sed -n 's/.*RSTs sent \([0-9]*\),.*/\1/p')
rst_limited=$(echo "$carrier" | sed -n 's/.*, rate-limited \([0-9]*\);.*/\1/p')
bucket=$(awk -v s="$start" -v e="$end" -v b=$RST_BURST -v r=$RST_PER_SEC 'BEGIN { printf "%d", b + r * (e - s) + 1 }')
echo "# RSTs: sent $rst_sent, withheld $rst_limited; the bucket allows $bucket over the server's $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s"
check "RSTs sent within the rate limit (burst $RST_BURST + $RST_PER_SEC/s)" [ "${rst_sent:-999999}" -le "$bucket" ]
check "the rate limit withheld RSTs (a burst of $BURST ACKs)" [ "${rst_limited:-0}" -gt 0 ]

# Every connection the server reports is a kernel client's fetch: no SYN of
# the flood and no SYN with malformed options became a connection.
conns=$(grep -c '^server: [^ ]*: sent' "$WORK/server.err")
ours=$(grep -c '^server: \(f1\|last\): sent' "$WORK/server.err")
echo "# connections reported by the server: $conns; fetches: $((fetches + 1))"
check "no garbage became a connection" [ "$conns" -eq "$ours" -a "$conns" -eq $((fetches + 1)) ]

summary kgarbage
[ "$FAILED" -eq 0 ]
