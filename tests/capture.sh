#!/usr/bin/env bash
# tests/capture.sh -- packet captures (STCP_PCAP) checked by tshark.
#
#   bash tests/capture.sh        (after make all)
#
# Installs tshark (Debian package) when it is missing.  Last line:
# "capture: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

if ! command -v tshark > /dev/null; then
    echo "# installing tshark"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tshark > /dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq &&
          DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tshark > /dev/null; }
fi
if ! command -v tshark > /dev/null; then
    not_ok "tshark could not be installed"
    summary capture
    exit 1
fi
TS="tshark -o tcp.check_checksum:TRUE"

make_file f1m 1048576
make_file f16m 16777216

# capture_fetch PCAP NETEM CLIENT-ARGS...: fetch f1m with a capture at the client
capture_fetch() {
    local pcap=$1 netem=$2; shift 2
    STCP_NETEM=$netem STCP_PCAP=$pcap fetch f1m "$@"
}

# Frames that tshark does not decode as TCP.
non_tcp() { $TS -r "$1" -Y "!tcp" 2> /dev/null | wc -l; }
frames() { $TS -r "$1" 2> /dev/null | wc -l; }
# checksum status: 0 bad, 1 good, 2 not verified
bad_sums() { $TS -r "$1" -Y "tcp.checksum.status == 0" 2> /dev/null | wc -l; }

# The server-to-client stream, reassembled by tshark, after the reply line,
# must be the file.
stream_is_file() { # stream_is_file PCAP FILE
    $TS -r "$1" -q -z follow,tcp,raw,0 2> /dev/null | python3 -c '
import re, sys
data = b""
for line in sys.stdin.read().splitlines():
    if re.fullmatch(r"\t[0-9a-f]+", line):   # tab: the second node (the server)
        data += bytes.fromhex(line.strip())
want = open(sys.argv[1], "rb").read()
end = data.find(b"\r\n")
sys.exit(0 if end >= 0 and data[end + 2:] == want else 1)' "$2"
}

# ---- Classic unreliable profile ----
start_server -U
pcap=$WORK/classic.pcap
check "classic -U: 1 MiB transfer with a capture, byte-exact" capture_fetch "$pcap" "seed=3" -U
n=$(frames "$pcap")
echo "# classic capture: $n frames"
check "classic -U: every frame decodes as TCP" [ "$n" -gt 1000 -a "$(non_tcp "$pcap")" -eq 0 ]
check "classic -U: every checksum good (no corruption in this profile)" [ "$(bad_sums "$pcap")" -eq 0 ]
check "classic -U: tshark's reassembled server stream is the file" stream_is_file "$pcap" \
    "$WORK/files/f1m"
rexmit=$($TS -r "$pcap" -Y tcp.analysis.retransmission 2> /dev/null | wc -l)
echo "# classic capture: $rexmit frames flagged as retransmissions"
check "classic -U: tshark flags retransmissions" [ "$rexmit" -gt 0 ]
stop_server

# ---- Corruption: bad checksums exactly where the emulation put them ----
netem="loss=0.02,corrupt=0.02,seed=11"
STCP_NETEM=$netem start_server -U
pcap=$WORK/corrupt.pcap
mkdir -p "$WORK/got"
STCP_NETEM=$netem STCP_PCAP=$pcap timeout 120 "$BIN/client" -U -v -f f1m -o "$WORK/got/c" \
    "127.0.0.1:$PORT" 2> "$WORK/corrupt.err"
rc=$?
check "corruption 2%: byte-exact" sh -c "[ $rc -eq 0 ] && cmp -s '$WORK/files/f1m' '$WORK/got/c'"
corrupted=$(sed -n 's/.*, \([0-9]*\) corrupted,.*/\1/p' "$WORK/corrupt.err")
received_bad=$(sed -n 's/.*receipt: \([0-9]*\) bad checksum.*/\1/p' "$WORK/corrupt.err")
malformed=$(sed -n 's/.*bad checksum, \([0-9]*\) malformed.*/\1/p' "$WORK/corrupt.err")
bad=$(bad_sums "$pcap")
echo "# corruption: client corrupted $corrupted sent, dropped $received_bad bad + $malformed malformed received; tshark: $bad bad checksums"
# A received frame with a flipped port bit is counted as malformed by us
# while tshark still sees its bad checksum; a frame whose th_off bit flipped
# may not be verifiable by tshark at all.  Allow exactly those.
unverified=$($TS -r "$pcap" -Y "!tcp || tcp.checksum.status == 2" 2> /dev/null | wc -l)
expected=$((corrupted + received_bad))
echo "# corruption: expected $expected bad (+ up to $malformed malformed, - up to $unverified unverifiable)"
check "corruption: tshark's bad checksums are the corrupted frames" \
    [ "$bad" -ge $((expected - unverified)) -a "$bad" -le $((expected + malformed)) ]
check "corruption: the emulation corrupted something" [ "${corrupted:-0}" -gt 0 ]
stop_server

# ---- Reliable: clean, and only the expert notes the README explains ----
start_server
pcap=$WORK/reliable.pcap
check "reliable: 1 MiB with a capture, byte-exact" capture_fetch "$pcap" ""
check "reliable: no bad checksum" [ "$(bad_sums "$pcap")" -eq 0 ]
unexplained=$($TS -r "$pcap" -q -z expert,warn 2> /dev/null | grep -E '^ +[0-9]+ ' |
    grep -v -e 'window specified by the receiver is now completely full' \
        -e 'Zero Window segment' -e 'Zero Window Probe' -e 'D-SACK Sequence' | wc -l)
$TS -r "$pcap" -q -z expert,warn 2> /dev/null | grep -E '^ +[0-9]+ ' | sed 's/^/# expert: /'
check "reliable: no tshark warning besides those explained in the README" [ "$unexplained" -eq 0 ]

# ---- 16 MiB with capture and trace logging on both ends ----
stop_server
STCP_LOG=trace STCP_PCAP=$WORK/s16.pcap start_server
STCP_LOG=trace STCP_PCAP=$WORK/c16.pcap check "16 MiB with capture and trace logs: byte-exact" \
    fetch f16m
n=$(frames "$WORK/c16.pcap")
echo "# 16 MiB capture: $n frames"
check "16 MiB capture is complete (at least one frame per data segment)" [ "$n" -gt 31300 ]
stop_server

summary capture
[ "$FAILED" -eq 0 ]
