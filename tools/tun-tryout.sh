#!/usr/bin/env bash
# tools/tun-tryout.sh -- try STCP against the Linux kernel's TCP through a
# TUN device, in a private network namespace (run as root).
#
#   sudo tools/tun-tryout.sh          set up, print what to type
#   sudo tools/tun-tryout.sh down     remove it again
#
# Creates namespace stcp-tryout with device tun0 (198.18.0.1/24, the
# kernel's side; 198.18.0.0/15 is reserved for such tests, RFC 2544).  Our
# programs run inside the namespace with STCP_CARRIER=tun:tun0,198.18.0.2:
# the kernel routes 198.18.0.2 to tun0, so its TCP is our peer.
set -eu
NS=stcp-tryout
cd "$(dirname "$0")/.."

if [ "${1:-}" = down ]; then
    ip netns del "$NS" 2>/dev/null && echo "removed namespace $NS" || echo "no namespace $NS"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "tun-tryout.sh: run as root (it creates a network namespace and a TUN device)" >&2
    exit 1
fi
[ -x ./client ] && [ -x ./server ] || make
if ! ip netns list | grep -qw "$NS"; then
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" tuntap add dev tun0 mode tun
    ip -n "$NS" addr add 198.18.0.1/24 dev tun0
    ip -n "$NS" link set tun0 up
fi
mkdir -p /tmp/stcp-tryout
head -c 1048576 /dev/urandom > /tmp/stcp-tryout/file1m
echo "hello from the kernel" > /tmp/stcp-tryout/hello.txt
D=$PWD
cat <<TXT
Namespace $NS is ready: tun0 is 198.18.0.1/24 (the kernel), we are 198.18.0.2.
Files to fetch are in /tmp/stcp-tryout.  In one shell:

  # 1. Our client fetching from a kernel TCP server (python's, speaking the
  #    client's protocol: "NAME\\r\\n" -> "NAME,LENGTH,OK\\r\\n" + bytes):
  ip netns exec $NS python3 $D/tools/kernel-fileserver.py /tmp/stcp-tryout 198.18.0.1 7000 &
  STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec $NS $D/client -v -f file1m -o /tmp/stcp-tryout/rcvd 198.18.0.1:7000
  cmp /tmp/stcp-tryout/file1m /tmp/stcp-tryout/rcvd && echo byte-exact

  # 2. A kernel client (nc, Debian: netcat-openbsd) fetching from our server:
  STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec $NS $D/server -v -p 8000 -d /tmp/stcp-tryout &
  printf 'hello.txt\\r\\n' | ip netns exec $NS nc -N 198.18.0.2 8000

  # 3. Watch it (Debian: tshark), in another shell while 1 or 2 runs:
  ip netns exec $NS tshark -i tun0
  #    or have our side write a capture of the packets as they are on tun0:
  STCP_PCAP=/tmp/stcp-tryout/ours.pcap STCP_CARRIER=tun:tun0,198.18.0.2 ip netns exec $NS $D/client ...

When done:  $0 down
TXT
