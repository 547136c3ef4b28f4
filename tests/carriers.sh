#!/usr/bin/env bash
# tests/carriers.sh -- the carriers (STCP_CARRIER): a bad value fails
# cleanly; two of our processes over vnet links on loopback UDP, both ways,
# reliable and -U; a vnet process answers route requests and sends the
# stack's RSTs (tests/vnet_peer.py, an independent neighbour); and, in a
# private network namespace with a TUN device, our client against a kernel
# TCP server and a kernel client against our server.
#
#   bash tests/carriers.sh      (BIN=dir of the binaries, default .)
#
# Last line: "carriers: N passed, M failed".  The TUN part needs root and
# /dev/net/tun; without them it says so and is skipped.
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

SIZES="0 1 536 537 1048576"
for s in $SIZES; do make_file "f$s" "$s"; done

# ---- A bad STCP_CARRIER --------------------------------------------------------

bad_carrier() { # bad_carrier VALUE: mysocket fails with EINVAL and says why
    local err=$WORK/bad.err
    STCP_CARRIER=$1 timeout 10 "$BIN/client" -q -f x 127.0.0.1:9 2> "$err"
    local rc=$?
    [ $rc -ne 0 ] && grep -q "STCP_CARRIER" "$err" && grep -q "Invalid argument" "$err"
}
check "STCP_CARRIER=bogus fails cleanly" bad_carrier bogus
check "STCP_CARRIER=tun:nodev fails cleanly" bad_carrier "tun:nodev"
check "STCP_CARRIER=tun:nosuchdev0,10.1.1.1 fails cleanly" bad_carrier "tun:nosuchdev0,10.1.1.1"
check "STCP_CARRIER=vnet:/nonexistent fails cleanly" bad_carrier "vnet:/nonexistent"
printf '127.0.0.1 1\n127.0.0.1 2 10.0.0.1\n' > "$WORK/short.lnk"
check "a vnet link file with a short line fails cleanly" bad_carrier "vnet:$WORK/short.lnk"

# ---- vnet: two processes over one virtual link ----------------------------------

# Two free UDP ports on loopback for the two ends of the link.
read -r PA PB < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
VA=10.77.0.1
VB=10.77.0.2
printf '127.0.0.1 %s\n# our neighbour\n127.0.0.1 %s %s %s\n' "$PA" "$PB" "$VA" "$VB" > "$WORK/a.lnk"
printf '127.0.0.1 %s\n127.0.0.1 %s %s %s\n' "$PB" "$PA" "$VB" "$VA" > "$WORK/b.lnk"

# The stack's ports and addresses, in one process (tests/carrier_ports.c).
while read -r line; do
    case $line in
    "ok - "*) ok "vnet: ${line#ok - }" ;;
    "not ok - "*) not_ok "vnet: ${line#not ok - }" ;;
    *) echo "$line" ;;
    esac
done < <(STCP_CARRIER=vnet:$WORK/a.lnk timeout 30 "$BIN/tests/carrier_ports" "$VA" 2>&1 ||
    echo "not ok - carrier_ports exited with status $?")

# vstart LINKFILE [server args]: our server on a vnet link; sets SERVER_PID, ADDR
vstart() {
    local lnk=$1; shift
    local out="$WORK/vserver.$RANDOM.out"
    STCP_CARRIER=vnet:$lnk "$BIN/server" -d "$WORK/files" "$@" > "$out" 2> "$out.err" &
    SERVER_PID=$!
    SERVER_ERR=$out.err
    PIDS+=("$SERVER_PID")
    for _ in $(seq 200); do
        grep -q "Server's address is" "$out" 2> /dev/null && break
        sleep 0.05
    done
    ADDR=$(sed -n "s/^Server's address is //p" "$out")
    [ -n "$ADDR" ] || { echo "# server did not start: $(cat "$out.err")"; return 1; }
}

# vfetch LINKFILE NAME [client args]: our client over vnet, byte-exact
vfetch() {
    local lnk=$1 name=$2; shift 2
    local out="$WORK/got.$name.$RANDOM"
    STCP_CARRIER=vnet:$lnk timeout 60 "$BIN/client" "$@" -f "$name" -o "$out" "$ADDR" \
        2> "$out.err" || {
        echo "# client: $(tail -2 "$out.err")"
        grep -A20 -m1 -E "WARNING|ERROR|runtime error" "$SERVER_ERR" | sed 's/^/# server: /'
        return 1
    }
    cmp -s "$WORK/files/$name" "$out" || { echo "# $name differs"; return 1; }
    rm -f "$out" "$out.err"
}

vnet_pair() { # vnet_pair SERVERLINK CLIENTLINK SERVERVIP LABEL [-U]
    local slink=$1 clink=$2 vip=$3 label=$4 u=$5
    vstart "$slink" $u || { not_ok "vnet $label: server starts"; return; }
    check "vnet $label: server's address is its virtual one ($ADDR)" [ "${ADDR%%:*}" = "$vip" ]
    for s in $SIZES; do
        check "vnet $label${u:+ -U}: $s bytes byte-exact" vfetch "$clink" "f$s" $u
    done
    stop_server
}
vnet_pair "$WORK/a.lnk" "$WORK/b.lnk" "$VA" "A serves B"
vnet_pair "$WORK/b.lnk" "$WORK/a.lnk" "$VB" "B serves A"
vnet_pair "$WORK/a.lnk" "$WORK/b.lnk" "$VA" "A serves B" -U

# STCP_PCAP on an IP carrier: the packets as they are on the wire.
vstart "$WORK/a.lnk" || not_ok "vnet: server starts for the capture"
STCP_PCAP=$WORK/vnet.pcap vfetch "$WORK/b.lnk" f537
check "vnet: STCP_PCAP holds the IPv4 packets as sent and received" \
    python3 tests/pcap_ipv4.py "$WORK/vnet.pcap" 16
stop_server

# Route requests and the stack's RSTs, from an independent neighbour.
vstart "$WORK/a.lnk" -v || not_ok "vnet: server starts for the neighbour tests"
check "vnet: route requests answered at once" \
    timeout 30 python3 tests/vnet_peer.py routes 127.0.0.1 "$PB" 127.0.0.1 "$PA" "$VB" "$VA"
closed_port=9 # the server's port is an ephemeral one (49152 and up)
check "vnet: RSTs for a port nobody listens on, none for a RST" \
    timeout 30 python3 tests/vnet_peer.py rst 127.0.0.1 "$PB" 127.0.0.1 "$PA" "$VB" "$VA" \
    "$closed_port"
kill -INT "$SERVER_PID" 2> /dev/null
wait "$SERVER_PID" 2> /dev/null
grep "carrier (process-wide)" "$SERVER_ERR" | sed 's/^/# /'
grep -A20 -m1 -E "WARNING|ERROR|runtime error" "$SERVER_ERR" | sed 's/^/# server: /'
check "vnet: the server counts the RSTs it sent" grep -q "RSTs sent 2," "$SERVER_ERR"

# ---- tun: the kernel's TCP as the peer ------------------------------------------

NS=stcp-car-$$
tun_ok() { [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] && command -v ip > /dev/null; }
if ! tun_ok; then
    echo "# tun tests skipped: need root, /dev/net/tun and ip(8)"
    summary carriers
    [ "$FAILED" -eq 0 ]
    exit
fi
trap 'ip netns del "$NS" 2> /dev/null; cleanup' EXIT
ip netns add "$NS" &&
    ip -n "$NS" link set lo up &&
    ip -n "$NS" tuntap add dev tun0 mode tun &&
    ip -n "$NS" addr add 198.18.0.1/24 dev tun0 &&
    ip -n "$NS" link set tun0 up || { not_ok "tun: namespace $NS with tun0"; summary carriers; exit 1; }
IN_NS=(ip netns exec "$NS")
TUN=tun:tun0,198.18.0.2

# A kernel TCP file server speaking the client's protocol, on 198.18.0.1.
cat > "$WORK/kserver.py" << 'EOF'
import os, socket, sys
d = sys.argv[1]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.0.1", 0))
ls.listen(8)
print(ls.getsockname()[1], flush=True)
while True:
    c, _ = ls.accept()
    with c:
        req = b""
        while not req.endswith(b"\r\n"):
            b = c.recv(1)
            if not b:
                break
            req += b
        name = req.decode().strip()
        data = open(os.path.join(d, name), "rb").read()
        c.sendall(b"%s,%d,OK\r\n" % (name.encode(), len(data)) + data)
EOF
# A kernel TCP client: fetch NAME from HOST:PORT, check the reply line and bytes.
cat > "$WORK/kclient.py" << 'EOF'
import socket, sys
host, port, name, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = socket.create_connection((host, port), timeout=60)
c.sendall(name.encode() + b"\r\n")
got = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    got += b
want = open(path, "rb").read()
head = b"%s,%d,OK\r\n" % (name.encode(), len(want))
sys.exit(0 if got == head + want else 1)
EOF

"${IN_NS[@]}" python3 "$WORK/kserver.py" "$WORK/files" > "$WORK/kserver.out" 2> "$WORK/kserver.err" &
KPID=$!
PIDS+=("$KPID")
for _ in $(seq 200); do [ -s "$WORK/kserver.out" ] && break; sleep 0.05; done
KPORT=$(head -1 "$WORK/kserver.out")

tfetch() { # tfetch NAME: our client (tun) from the kernel's server
    local out="$WORK/tgot.$1"
    STCP_CARRIER=$TUN timeout 60 "${IN_NS[@]}" "$BIN/client" -f "$1" -o "$out" \
        "198.18.0.1:$KPORT" 2> "$out.err" || { echo "# client: $(tail -2 "$out.err")"; return 1; }
    cmp -s "$WORK/files/$1" "$out" || { echo "# $1 differs"; return 1; }
}
for s in $SIZES; do
    check "tun: our client from a kernel server: $s bytes byte-exact" tfetch "f$s"
done
kill "$KPID" 2> /dev/null

out=$WORK/tserver.out
STCP_CARRIER=$TUN "${IN_NS[@]}" "$BIN/server" -v -d "$WORK/files" > "$out" 2> "$out.err" &
SERVER_PID=$!
SERVER_ERR=$out.err
PIDS+=("$SERVER_PID")
for _ in $(seq 200); do grep -q "Server's address is" "$out" 2> /dev/null && break; sleep 0.05; done
check "tun: server's address is the carrier's ($(cat "$out"))" \
    grep -q "^Server's address is 198.18.0.2:" "$out"
TPORT=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$out")
for s in $SIZES; do
    check "tun: a kernel client from our server: $s bytes byte-exact" \
        timeout 60 "${IN_NS[@]}" python3 "$WORK/kclient.py" 198.18.0.2 "$TPORT" "f$s" \
        "$WORK/files/f$s"
done
stop_server

summary carriers
[ "$FAILED" -eq 0 ]
