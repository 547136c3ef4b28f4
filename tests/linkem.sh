#!/usr/bin/env bash
# tests/linkem.sh -- the link emulator between the real server and client.
#
#   bash tests/linkem.sh        (BIN=dir of the binaries, default .)
#
# Transfers through a 50 Mbit/s, 2 ms bottleneck: plain, with 2% random loss
# each way, with a queue small enough to overflow, and two flows at once;
# the emulator's counters are read from its report and checked against each
# other and against the files.  No timing thresholds.  Last line:
# "linkem: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

make_file f1m 1048576
make_file g1m 1048576

LINK_PID=
LINK_OUT=
# start_link ARGS...: linkem in front of the server on $PORT; sets LINK_PID,
# LINK_OUT (its stdout) and LPORT.
start_link() {
    LINK_OUT=$WORK/link.$RANDOM.out
    "$BIN/linkem" -s "127.0.0.1:$PORT" "$@" > "$LINK_OUT" 2> "$LINK_OUT.err" &
    LINK_PID=$!
    PIDS+=("$LINK_PID")
    for _ in $(seq 200); do
        grep -q "Link's address is" "$LINK_OUT" 2>/dev/null && break
        sleep 0.05
    done
    LPORT=$(sed -n "s/^Link's address is .*:\([0-9]*\)$/\1/p" "$LINK_OUT")
    [ -n "$LPORT" ] || { echo "# linkem did not start: $(cat "$LINK_OUT.err")"; return 1; }
}

# stop_link: SIGTERM, and wait for the final report.
stop_link() {
    kill -TERM "$LINK_PID" 2>/dev/null
    wait "$LINK_PID" 2>/dev/null
    LINK_RC=$?
    # shellcheck disable=SC2016 # sed's own $, not the shell's
    sed -n '/^linkem report=/h; /^linkem report=/!H; ${x;p}' "$LINK_OUT" > "$LINK_OUT.report"
}

# fetch_via NAME [client args...]: fetch through the emulator (lib.sh's
# fetch talks to $PORT).
fetch_via() {
    local saved=$PORT
    PORT=$LPORT
    fetch "$@"
    local rc=$?
    PORT=$saved
    return $rc
}

# The last report's lines (kept by stop_link).
report() { cat "$LINK_OUT.report"; }
# value LINE-PATTERN KEY: KEY's value on the report's first line matching the
# pattern (an extended regex).
value() {
    awk -v pat="$1" -v key="$2" '$0 ~ pat {
        for (i = 1; i <= NF; i++) if (index($i, key "=") == 1) { print substr($i, length(key) + 2); exit }
    }' "$LINK_OUT.report"
}
# sum_flows KEY: KEY summed over the report's flow lines.
sum_flows() {
    awk -v key="$1" '/^flow / {
        for (i = 1; i <= NF; i++) if (index($i, key "=") == 1) s += substr($i, length(key) + 2)
    } END { print s + 0 }' "$LINK_OUT.report"
}

# Every flow, each way: what arrived = what was delivered + what was dropped
# + what the link still held at the report (a last ACK can be on its way),
# and the links' drop counts are the flows' drop counts summed.
counters_consistent() {
    local ok=0 dir
    for dir in down up; do
        local in out drops
        in=$(sum_flows "${dir}_in_pkts")
        out=$(sum_flows "${dir}_pkts")
        drops=$(($(sum_flows "${dir}_drop_loss") + $(sum_flows "${dir}_drop_queue") +
            $(sum_flows "${dir}_drop_cap") + $(sum_flows "${dir}_drop_send") +
            $(sum_flows "${dir}_held")))
        if [ "$in" -ne $((out + drops)) ] || [ "$in" -eq 0 ]; then
            echo "# $dir: $in in, $out out, $drops dropped or held"
            ok=1
        fi
        local kind
        for kind in loss queue cap; do
            local link flows
            link=$(value "^link dir=$dir " "drop_$kind")
            flows=$(sum_flows "${dir}_drop_$kind")
            if [ "${link:-x}" != "$flows" ]; then
                echo "# $dir: link says $link $kind drops, flows $flows"
                ok=1
            fi
        done
    done
    return $ok
}

# flows_carried N BYTES: N flow lines, each delivered at least BYTES to its client.
flows_carried() {
    local n
    n=$(grep -c '^flow ' "$LINK_OUT.report")
    [ "$n" -eq "$1" ] || { echo "# $n flows, expected $1"; return 1; }
    local b
    for b in $(report | grep '^flow ' | tr ' ' '\n' | sed -n 's/^down_bytes=//p'); do
        [ "$b" -ge "$2" ] || { echo "# a flow delivered $b bytes"; return 1; }
    done
}

start_server -w 65535 || exit 1 # the clients choose their window

# ---- One flow, 50 Mbit/s, 2 ms each way ----
start_link -r 50mbit -d 2ms -S 1 || exit 1
check "1 MiB through 50 Mbit/s, 2 ms: byte-exact" fetch_via f1m
kill -USR1 "$LINK_PID"
for _ in $(seq 100); do grep -q '^linkem report=sigusr1' "$LINK_OUT" && break; sleep 0.05; done
check "SIGUSR1: a report, and it keeps running" \
    bash -c "grep -q '^linkem report=sigusr1' '$LINK_OUT' && kill -0 $LINK_PID"
stop_link
check "SIGTERM: exit 0 with a final report" \
    bash -c "[ $LINK_RC -eq 0 ] && grep -q '^linkem report=sigterm' '$LINK_OUT'"
check "one flow, it delivered the whole file to the client" flows_carried 1 1048576
check "counters consistent (in = out + drops; link = sum of flows)" counters_consistent
check "nothing dropped on a clean link" \
    [ "$(value '^link dir=down ' drop_loss)$(value '^link dir=down ' drop_queue)" = 00 ]
# What the link transmitted was delivered, or is still in its delay line.
sent=$(value '^link dir=down ' sent_pkts)
check "the down link's packets: delivered or still held" \
    [ "$sent" -ge "$(sum_flows down_pkts)" ] && [ "$sent" -le $(($(sum_flows down_pkts) + $(sum_flows down_held))) ]

# ---- 2% random loss each way: the transport retransmits ----
start_link -r 50mbit -d 2ms -L 0.02 -S 7 || exit 1
check "1 MiB with 2% loss each way: byte-exact" fetch_via f1m
stop_link
drops=$(value '^link dir=down ' drop_loss)
echo "# 2% loss: the emulator dropped $drops data-way and $(value '^link dir=up ' drop_loss) ACK-way"
check "2% loss: the emulator dropped some ($drops)" [ "${drops:-0}" -gt 0 ]
check "2% loss: counters consistent" counters_consistent
check "2% loss: the flow delivered at least the file" flows_carried 1 1048576

# ---- A queue that overflows: window 65535 into 20 packets at 20 Mbit/s ----
start_link -r 20mbit -d 2ms -q 20p -S 3 || exit 1
check "1 MiB, window 65535, 20-packet queue: byte-exact" fetch_via f1m -w 65535
stop_link
qdrops=$(value '^link dir=down ' drop_queue)
echo "# queue overflow: $qdrops drops, queue max $(value '^link dir=down ' queue_max_pkts) packets"
check "small queue: it overflowed ($qdrops drops)" [ "${qdrops:-0}" -gt 0 ]
check "small queue: never above its limit" [ "$(value '^link dir=down ' queue_max_pkts)" -le 20 ]
check "small queue: counters consistent" counters_consistent

# ---- Two flows at once share the bottleneck ----
start_link -r 50mbit -d 2ms -q 150000b -S 5 || exit 1
fetch_via f1m > "$WORK/two.1" 2>&1 &
p1=$!
fetch_via g1m > "$WORK/two.2" 2>&1 &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
cat "$WORK/two.1" "$WORK/two.2"
check "two flows at once: both byte-exact" [ $r1 -eq 0 ] && [ $r2 -eq 0 ]
stop_link
check "two flows: two flow lines, each delivered its file" flows_carried 2 1048576
check "two flows: distinct upstream ports" \
    [ "$(report | grep '^flow ' | tr ' ' '\n' | grep -c '^upstream=')" -eq 2 ] &&
    [ "$(report | grep '^flow ' | tr ' ' '\n' | sed -n 's/^upstream=//p' | sort -u | wc -l)" -eq 2 ]
check "two flows: counters consistent" counters_consistent

# ---- Two servers behind one bottleneck (e.g. two algorithms competing) ----
PORT1=$PORT
SERVER1_PID=$SERVER_PID
start_server -w 65535 || exit 1
PORT2=$PORT
PORT=$PORT1
start_link -s "127.0.0.1:$PORT2" -r 50mbit -d 2ms -S 9 || exit 1
LPORT2=$(sed -n "s/^Link's address for server 2 is .*:\([0-9]*\)$/\1/p" "$LINK_OUT")
fetch_via f1m > "$WORK/srv.1" 2>&1 &
p1=$!
LPORT_SAVED=$LPORT
LPORT=$LPORT2
fetch_via g1m > "$WORK/srv.2" 2>&1 &
p2=$!
LPORT=$LPORT_SAVED
wait $p1
r1=$?
wait $p2
r2=$?
cat "$WORK/srv.1" "$WORK/srv.2"
check "two servers, one link: both byte-exact" [ -n "$LPORT2" ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ]
stop_link
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=$SERVER1_PID
check "two servers: one flow to each" \
    [ "$(tr ' ' '\n' < "$LINK_OUT.report" | sed -n 's/^server=//p' | sort -u | wc -l)" -eq 2 ]
check "two servers: counters consistent" counters_consistent

# ---- Congestion control at a bottleneck: the short version of make bench ----
# 256 KiB from a server with a 1 MiB window through 10 Mbit/s, 1 ms each
# way, a 10-packet queue: path and queue hold about 12 segments of 1460.
# `none` puts its whole window into the queue at once (hundreds dropped:
# 170-655 in trials); cubic and newreno grow into the path and lose at
# most a slow start's overshoot (26-31 and 9-20 in trials).  A count of
# what the protocol did, not a time: asserted with a factor of 3 to
# spare.
make_file f256k 262144
declare -A ccdrop
cc_drops() { # cc_drops ALGO: fetch f256k through the link; ccdrop[ALGO] = its drops, or "failed"
    ccdrop[$1]=failed
    stop_server
    start_server -w 1048576 -M 1460 -c "$1" -n 1 || return
    start_link -r 10mbit -d 1ms -q 10p -S 5 || return
    fetch_via f256k -w 1048576 -M 1460 -c "$1" || { stop_link; return; }
    stop_link
    ccdrop[$1]=$(value '^link dir=down ' drop_queue)
}
for algo in none cubic newreno; do cc_drops "$algo"; done
echo "# drops at the 10-packet queue: none ${ccdrop[none]}, cubic ${ccdrop[cubic]}, newreno ${ccdrop[newreno]}"
counted() { [[ ${ccdrop[$1]} =~ ^[0-9]+$ ]]; }
none_overflowed() { counted none && [ "${ccdrop[none]}" -gt 0 ]; }
fewer_drops() { # fewer_drops ALGO: byte-exact, and a third of none's drops or fewer
    counted "$1" && counted none && [ $((ccdrop[$1] * 3)) -lt "${ccdrop[none]}" ]
}
check "bottleneck: none overflows the queue (byte-exact all the same)" none_overflowed
check "bottleneck: cubic byte-exact, under a third of none's drops" fewer_drops cubic
check "bottleneck: newreno byte-exact, under a third of none's drops" fewer_drops newreno
stop_server
start_server -w 65535 || exit 1

# ---- Flow limit, junk, idle expiry ----
start_link -m 2 -i 1 || exit 1
for _ in 1 2 3; do # three datagrams from three source ports: three would-be flows
    printf 'not a segment, 28 bytes long' > "/dev/udp/127.0.0.1/$LPORT"
done
for _ in $(seq 200); do [ "$(grep -c 'state=expired' "$LINK_OUT")" -ge 2 ] && break; sleep 0.05; done
stop_link
check "flow limit: the third flow refused" [ "$(value '^linkem report' refused)" = 1 ]
check "junk with the wrong ports: dropped as malformed" [ "$(value '^linkem report' malformed)" = 2 ]
check "idle flows expire (-i 1)" [ "$(value '^linkem report' expired)" = 2 ]

# ---- Command lines ----
usage_exit() { "$@" > /dev/null 2>&1; [ $? -eq 2 ]; }
check "no arguments: usage, exit 2" usage_exit "$BIN/linkem"
check "no -s: exit 2" usage_exit "$BIN/linkem" -r 10mbit
check "bad rate: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -r 10mbps
check "bad delay: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -d 20s
check "bad queue: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -q 0p
check "bad loss: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -L 2
check "bad -R spec: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -R rate=1mbit,jitter=1
check "stray argument: exit 2" usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" extra
check "server not on loopback: refused, exit 2" usage_exit "$BIN/linkem" -s 10.1.2.3:80
check "listening not on loopback: refused, exit 2" \
    usage_exit "$BIN/linkem" -s "127.0.0.1:$PORT" -l 0.0.0.0:0
"$BIN/linkem" -s 192.0.2.1:80 2> "$WORK/nonloop.err"
check "non-loopback refusal says why" grep -q "not a loopback address" "$WORK/nonloop.err"

stop_server
summary linkem
[ "$FAILED" -eq 0 ]
