#!/usr/bin/env python3
"""tests/pcap_ipv4.py FILE TTL -- check a capture written by an IP carrier
(STCP_PCAP on tun or vnet): every record is a whole IPv4 packet (IHL 5,
total length = record length, good header checksum), every TCP segment
in it has a good checksum over the real pseudo-header, and the packets we
sent carry TTL.  Exit 0 if so and it holds at least a handshake's worth
(3 TCP packets with that TTL)."""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    path, ttl = sys.argv[1], int(sys.argv[2])
    data = open(path, "rb").read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or link != 228:
        sys.exit("pcap_ipv4: not a raw-IPv4 capture")
    off, n, ours = 24, 0, 0
    while off < len(data):
        _, _, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        n += 1
        if incl != orig or pkt[0] != 0x45 or struct.unpack("!H", pkt[2:4])[0] != incl:
            sys.exit("pcap_ipv4: packet %d: not a whole IPv4 packet" % n)
        if csum(pkt[:20]) != 0xFFFF:
            sys.exit("pcap_ipv4: packet %d: bad IPv4 header checksum" % n)
        if pkt[9] == 6:
            seg = pkt[20:]
            if csum(pkt[12:20] + struct.pack("!BBH", 0, 6, len(seg)) + seg) != 0xFFFF:
                sys.exit("pcap_ipv4: packet %d: bad TCP checksum" % n)
            ours += pkt[8] == ttl
    print("# %s: %d packets, %d TCP with TTL %d" % (path.split("/")[-1], n, ours, ttl))
    sys.exit(0 if ours >= 3 else 1)  # at least a handshake


main()
