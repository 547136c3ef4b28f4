#!/usr/bin/env python3
"""tests/vnet_peer.py -- a vnet neighbour written independently of the C
code, for tests/carriers.sh.  It plays the other end of one virtual link:
it binds the neighbour's UDP endpoint and speaks IPv4 to our process.

  vnet_peer.py routes MYHOST MYPORT THEIRHOST THEIRPORT MYVIP THEIRVIP
      send 5 route requests (protocol 200, command 1) and expect, within
      10 s, at least 5 responses announcing THEIRVIP with cost 0 and mask
      255.255.255.255 (periodic announcements alone give at most 2 in 10 s),
      each in a well-formed IPv4 packet: good header checksum, TTL 16,
      protocol 200, from THEIRVIP to MYVIP.
  vnet_peer.py rst MYHOST MYPORT THEIRHOST THEIRPORT MYVIP THEIRVIP DPORT
      send a SYN and then a bare ACK to THEIRVIP:DPORT (a port nobody
      listens on) and expect the RSTs of RFC 9293 3.10.7.1: for the SYN
      <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, for the ACK <SEQ=SEG.ACK><CTL=RST>,
      with correct TCP checksums; then send a RST and expect no answer.

Exit status 0 if everything held, 1 otherwise (with a line saying why).
"""
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_packet(src, dst, proto, payload, ttl=16):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, ttl, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def parse_ip(pkt):
    """(src, dst, proto, ttl, payload) of a well-formed packet, else None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    if ihl < 20 or total > len(pkt) or csum(pkt[:ihl]) != 0:
        return None
    return (socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), pkt[9], pkt[8],
            pkt[ihl:total])


def tcp_segment(src, dst, sport, dport, seq, ack, flags):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 1024, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    s = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", s) + hdr[18:]


def fail(why):
    print("vnet_peer: " + why)
    sys.exit(1)


def routes(sock, them, myvip, theirvip):
    request = struct.pack("!HH", 1, 0)
    for _ in range(5):
        sock.sendto(ip_packet(myvip, theirvip, 200, request), them)
    good = 0
    deadline = time.monotonic() + 10
    while good < 5 and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            pkt, _ = sock.recvfrom(2048)
        except socket.timeout:
            break
        p = parse_ip(pkt)
        if not p:
            fail("malformed IPv4 packet")
        src, dst, proto, ttl, payload = p
        if proto != 200:
            continue
        if (src, dst, ttl) != (theirvip, myvip, 16):
            fail("announcement from %s to %s, TTL %d" % (src, dst, ttl))
        cmd, n = struct.unpack("!HH", payload[:4])
        entries = [struct.unpack("!I4sI", payload[4 + 12 * i:16 + 12 * i]) for i in range(n)]
        if cmd != 2 or len(payload) != 4 + 12 * n:
            fail("bad announcement: command %d, %d entries, %d bytes" % (cmd, n, len(payload)))
        if (0, socket.inet_aton(theirvip), 0xFFFFFFFF) not in entries:
            fail("announcement without %s/32 at cost 0: %r" % (theirvip, entries))
        good += 1
    if good < 5:
        fail("%d responses to 5 requests" % good)
    print("vnet_peer: 5 requests answered")


def expect_rst(sock, myvip, theirvip, sport, want_seq, want_ack, want_flags):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            pkt, _ = sock.recvfrom(2048)
        except socket.timeout:
            break
        p = parse_ip(pkt)
        if not p or p[2] != 6:
            continue
        src, dst, _, _, seg = p
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(seg))
        if csum(pseudo + seg) != 0:
            fail("RST with a bad TCP checksum")
        _, dport, seq, ack, _, flags = struct.unpack("!HHIIBB", seg[:14])
        if dport != sport:
            continue
        if (seq, flags & 0x3F) != (want_seq, want_flags) or (want_flags & 0x10 and ack != want_ack):
            fail("got seq %d ack %d flags %#x, wanted seq %d ack %d flags %#x" %
                 (seq, ack, flags, want_seq, want_ack, want_flags))
        return
    fail("no RST")


def rst(sock, them, myvip, theirvip, dport):
    sport = 40000
    sock.sendto(ip_packet(myvip, theirvip, 6,
                          tcp_segment(myvip, theirvip, sport, dport, 1000, 0, 0x02)), them)
    expect_rst(sock, myvip, theirvip, sport, 0, 1001, 0x14)
    sock.sendto(ip_packet(myvip, theirvip, 6,
                          tcp_segment(myvip, theirvip, sport, dport, 1001, 777, 0x10)), them)
    expect_rst(sock, myvip, theirvip, sport, 777, 0, 0x04)
    sock.sendto(ip_packet(myvip, theirvip, 6,
                          tcp_segment(myvip, theirvip, sport, dport, 1001, 777, 0x04)), them)
    sock.settimeout(1)
    try:
        while True:
            p = parse_ip(sock.recvfrom(2048)[0])
            if p and p[2] == 6:
                fail("a RST was answered")
    except socket.timeout:
        pass
    print("vnet_peer: RSTs as RFC 9293 3.10.7.1 says")


def main():
    if len(sys.argv) < 8 or sys.argv[1] not in ("routes", "rst"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    myhost, myport, theirhost, theirport, myvip, theirvip = sys.argv[2:8]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((myhost, int(myport)))
    them = (theirhost, int(theirport))
    if sys.argv[1] == "routes":
        routes(sock, them, myvip, theirvip)
    else:
        rst(sock, them, myvip, theirvip, int(sys.argv[8]))


main()
