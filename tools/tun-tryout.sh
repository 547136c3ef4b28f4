#!/usr/bin/env bash
# tools/tun-tryout.sh -- try STCP against the Linux kernel's TCP through a
# TUN device, in a private network namespace (run as root).
#
#   sudo tools/tun-tryout.sh          set up, print what to type
#   sudo tools/tun-tryout.sh down     stop what runs in it and remove it
#
# Creates namespace stcp-tryout with device tun0 (198.18.0.1/24, the
# kernel's side; 198.18.0.0/15 is reserved for such tests, RFC 2544) and
# /tmp/stcp-tryout with files to fetch.  Our programs run inside the
# namespace with STCP_CARRIER=tun:tun0,198.18.0.2: the kernel routes
# 198.18.0.2 to tun0, so its TCP is our peer.  The kernel's side is
# tests/kpeer (BSD sockets: "kpeer serve" is a file server speaking our
# client's protocol) and nc (Debian: netcat-openbsd; deps.sh installs it).
set -eu
NS=stcp-tryout
DIR=/tmp/stcp-tryout
cd "$(dirname "$0")/.."
D=$PWD

if [ "$(id -u)" -ne 0 ]; then
    echo "tun-tryout.sh: run as root (it creates a network namespace and a TUN device)" >&2
    exit 1
fi
if [ "${1:-}" = down ]; then
    if ip netns list | grep -qw "$NS"; then
        for p in $(ip netns pids "$NS"); do kill "$p" 2> /dev/null || true; done
        ip netns del "$NS"
        echo "stopped what ran in namespace $NS and removed it"
    else
        echo "no namespace $NS"
    fi
    rm -rf "$DIR"
    exit 0
fi
[ -x ./client ] && [ -x ./server ] && [ -x tests/kpeer ] || make -s all tests/kpeer
command -v nc > /dev/null || echo "(nc is missing: run ./deps.sh, or apt-get install netcat-openbsd)"
command -v tshark > /dev/null || echo "(tshark is missing: run ./deps.sh, or apt-get install tshark)"
if ! ip netns list | grep -qw "$NS"; then
    ip netns add "$NS"
    # No IPv6 on tun0: the kernel would send router solicitations into it.
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$NS" link set lo up
    ip -n "$NS" tuntap add dev tun0 mode tun
    ip -n "$NS" addr add 198.18.0.1/24 dev tun0
    ip -n "$NS" link set tun0 up
fi
mkdir -p "$DIR"
head -c 1048576 /dev/urandom > "$DIR/file1m"
echo "hello from STCP" > "$DIR/hello.txt"
E="STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec $NS"
cat << TXT
Namespace $NS is ready: tun0 is 198.18.0.1/24 (the kernel), we are 198.18.0.2.
Files to fetch are in $DIR.  A TUN device serves one process at a time:
run one of our programs (client or server) at a time.

1. Our client fetches a file from a kernel TCP server (tests/kpeer):
  ip netns exec $NS $D/tests/kpeer serve -a 198.18.0.1 -p 7000 -d $DIR &
  $E $D/client -v -f file1m -o $DIR/rcvd 198.18.0.1:7000
  cmp $DIR/file1m $DIR/rcvd && echo byte-exact

2. Kernel clients fetch from our server (start it; the prompt comes back):
  $E $D/server -v -a 198.18.0.2 -p 8000 -d $DIR &
  printf 'hello.txt\\r\\n' | ip netns exec $NS nc -N 198.18.0.2 8000
  ip netns exec $NS $D/tests/kpeer fetch -o $DIR/kgot 198.18.0.2 8000 file1m
  cmp $DIR/file1m $DIR/kgot && echo byte-exact
  kill %%        (stop our server before running our client again)

3. Watch the packets, in another shell (Ctrl-C ends it; start it first and
   wait for "Capture started", which can take seconds, then run 1 or 2):
  ip netns exec $NS tshark -i tun0
  # or let our side write a capture itself (open it with tshark -r):
  STCP_PCAP=$DIR/ours.pcap $E $D/client -q -f file1m 198.18.0.1:7000

4. Clean up (stops what runs in the namespace, removes it and $DIR):
  $D/tools/tun-tryout.sh down
TXT
