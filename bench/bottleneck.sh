#!/usr/bin/env bash
# bench/bottleneck.sh -- STCP through a shared bottleneck (linkem), the
# evidence section of make bench; also runnable on its own:
#
#     bash bench/bottleneck.sh          (about two minutes per algorithm)
#
# Through the link emulator, between the real server and client, on
# 127.0.0.1 only:
#   * one flow of BN_BYTES (16 MiB) at BN_RATE (100 Mbit/s), BN_DELAY (10 ms)
#     each way, a drop-tail queue of one bandwidth-delay product;
#   * BN_FLOWS (4) such flows at once: aggregate goodput and Jain's fairness
#     index over the flows' goodputs;
#   * one flow of BN_SLOW_BYTES (1 MiB) at BN_SLOW_RATE (10 Mbit/s), same
#     delay and a one-BDP queue: a path whose BDP + queue is smaller than the
#     window, so a sender without congestion control overflows the queue.
# Each for every algorithm in BN_CC, passed as -c ALGO to server and client
# when the client has -c; without it the transport's only behaviour is
# measured once, labelled "default".  And, when the client has -c (or
# BN_MIX_FORCE=1, which runs it without -c, to test the script), the flows
# of BN_MIX ("cubic cubic none none") at once through the fast path: one
# server per algorithm (congestion control is the sender's), all behind one
# linkem, each flow's share of the link.  And, without linkem, on loopback:
# BN_LOSS_BYTES (4 MiB) server to client under the classic -U profile and
# under BN_LOSSES (1/5/10/25%) random loss both ways (STCP_NETEM, seeded by
# the run), for each algorithm of BN_LOSS_CC ("cubic none"), against the
# same algorithm's lossless transfer, with a window of BN_LOSS_WINDOW
# (65535, as before).  The window through linkem is BN_WINDOW (1 MiB) on
# both ends.  `none` with a window above 65535 sends its whole window every
# round trip into the queue (the congestion collapse the bench is there to
# show) and reaches a few percent of the link, so its flows carry fewer
# bytes -- BN_NONE_BYTES (2 MiB) for BN_BYTES and BN_NONE_SLOW_BYTES
# (256 KiB) for BN_SLOW_BYTES -- to keep make bench within its time; the
# table says how many.  BN_SECTIONS ("link mix loss") chooses the parts.
# Goodput is file bytes over the time from the client's connect call (its
# mysocket, just before myconnect) to the file's last byte in its hands, as
# a share of the link rate: the client's -v timing line, as kernel tools
# time a transfer.  It used to be the client process's wall time, which
# also counted the process's start-up (25-100 ms on this shared machine,
# measured with STCP_LOG=info: the time from exec to the SYN) and the close
# after the last byte; that figure stays beside it, in its own column.  A
# client without the timing line falls back to the process's wall time (the
# table says so).  Drops are the emulator's (queue
# overflow, data direction); retransmissions are the server's (-v: on
# timeout + on duplicate ACKs + on SACK information).  Medians of BN_RUNS
# (3) runs, with the min-max.
#
# Prints a Markdown section on stdout (make bench appends it to
# bench/results.md).  Every process has a time limit; nothing is left running.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BN_RUNS:-3}
RATE=${BN_RATE:-100mbit}
DELAY_MS=${BN_DELAY_MS:-10}
BYTES=${BN_BYTES:-$((16 << 20))}
FLOWS=${BN_FLOWS:-4}
SLOW_RATE=${BN_SLOW_RATE:-10mbit}
SLOW_BYTES=${BN_SLOW_BYTES:-$((1 << 20))}
WINDOW=${BN_WINDOW:-1048576}
MSS=${BN_MSS-1460} # -M on both ends (link and mix): an Ethernet path's; BN_MSS= for the udp default (536)
NONE_BYTES=${BN_NONE_BYTES:-$((BYTES < (2 << 20) ? BYTES : 2 << 20))} # none's flows when WINDOW > 65535
NONE_SLOW_BYTES=${BN_NONE_SLOW_BYTES:-$((SLOW_BYTES < (256 << 10) ? SLOW_BYTES : 256 << 10))} # ... slow path
CC_LIST=${BN_CC:-cubic newreno none}
MIX=${BN_MIX:-cubic cubic none none} # flows of different algorithms at once
LIMIT=${BN_LIMIT:-120} # seconds, per client
SECTIONS=${BN_SECTIONS:-link mix loss} # which parts run (all by default)
LOSS_CC=${BN_LOSS_CC:-cubic none}
LOSS_BYTES=${BN_LOSS_BYTES:-$((4 << 20))}
LOSSES=${BN_LOSSES:-0.01 0.05 0.10 0.25}
LOSS_LIMIT=${BN_LOSS_LIMIT:-60} # seconds, per lossy transfer
LOSS_WINDOW=${BN_LOSS_WINDOW:-65535} # the loopback loss section keeps its window

log() { echo "[bottleneck] $*" >&2; }
calc() { awk "BEGIN { printf \"%.9g\", $* }"; }
# bps RATE: "100mbit" -> bit/s.
bps() {
    awk -v r="$1" 'BEGIN { n = r + 0; u = tolower(r); sub(/^[0-9.]+/, "", u);
        m = u == "gbit" ? 1e9 : u == "mbit" ? 1e6 : u == "kbit" ? 1e3 : 1; printf "%.0f", n * m }'
}
# bdp RATE: bytes in flight over one round trip (2 x DELAY_MS).
bdp() { calc "int($(bps "$1") * 2 * $DELAY_MS / 1000 / 8)"; }

make -s -C "$ROOT" all >&2 || { echo "bottleneck: make failed" >&2; exit 1; }

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/stcp-bn.XXXXXX)
else
    WORK=$(mktemp -d /tmp/stcp-bn.XXXXXX)
fi
mkdir -p "$WORK/files" "$WORK/m"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
head -c "$BYTES" /dev/urandom >"$WORK/files/big"
head -c "$SLOW_BYTES" /dev/urandom >"$WORK/files/small"
head -c "$LOSS_BYTES" /dev/urandom >"$WORK/files/lossy"
head -c "$NONE_BYTES" /dev/urandom >"$WORK/files/nbig"
head -c "$NONE_SLOW_BYTES" /dev/urandom >"$WORK/files/nsmall"
# capped ALGO: does ALGO's flow carry the smaller files (none, big window)?
capped() { [ "$1" = none ] && [ "$WINDOW" -gt 65535 ]; }
# file_of ALGO big|small, bytes_of ALGO big|small: what a flow fetches.
file_of() { if capped "$1"; then echo "n$2"; else echo "$2"; fi; }
bytes_of() {
    case $(file_of "$1" "$2") in
    big) echo "$BYTES" ;; small) echo "$SLOW_BYTES" ;; nbig) echo "$NONE_BYTES" ;; nsmall) echo "$NONE_SLOW_BYTES" ;;
    esac
}

# Does this client take -c ALGO?
if "$ROOT/client" -h 2>&1 | grep -q -- '-c '; then
    HAVE_CC=1
else
    HAVE_CC=0
    CC_LIST="default" # one word: the transport's only behaviour
fi
cc_args() { [ "$HAVE_CC" = 1 ] && echo "-c $1"; }
mss_args() { [ -n "$MSS" ] && echo "-M $MSS"; }

rec() { [ -n "$2" ] && echo "$2" >>"$WORK/m/$1"; }
note_fail() { echo "$1" >>"$WORK/failures"; log "FAILED: $1"; }

# wait_line FILE PATTERN: until FILE has PATTERN (bounded: 15 s).  The file
# must be emptied before its writer is started: a redirection happens in the
# child, so a look right after "&" could still find the last run's line.
wait_line() {
    for _ in $(seq 750); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    return 1
}

# start ALGO RATE QUEUE-BYTES CONNECTIONS SEED: a server (-n CONNECTIONS) and
# linkem in front of it; sets SRV_PID, LINK_PID, LINK_ADDR.
start() {
    local algo=$1 rate=$2 queue=$3 n=$4 seed=$5
    : >"$WORK/srv.out"
    # shellcheck disable=SC2046
    timeout $((LIMIT + 30)) "$ROOT/server" -v -a 127.0.0.1 -d "$WORK/files" -n "$n" \
        -w "$WINDOW" $(cc_args "$algo") $(mss_args) >"$WORK/srv.out" 2>"$WORK/srv.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_line "$WORK/srv.out" "Server's address is" || return 1
    local srv
    srv=$(sed -n "s/^Server's address is //p" "$WORK/srv.out")
    : >"$WORK/link.out"
    "$ROOT/linkem" -s "$srv" -r "$rate" -d "${DELAY_MS}ms" -q "${queue}b" -S "$seed" \
        >"$WORK/link.out" 2>"$WORK/link.err" &
    LINK_PID=$!
    PIDS+=("$LINK_PID")
    wait_line "$WORK/link.out" "Link's address is" || return 1
    LINK_ADDR=$(sed -n "s/^Link's address is //p" "$WORK/link.out")
}

# finish: wait for the server, stop linkem (its final report); sets DROPS
# (data direction, queue + cap) and REXMIT (the server's, all connections).
finish() {
    wait "$SRV_PID" 2>/dev/null
    kill -TERM "$LINK_PID" 2>/dev/null
    wait "$LINK_PID" 2>/dev/null
    local line
    line=$(grep '^link dir=down ' "$WORK/link.out" | tail -1)
    DROPS=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "drop_queue" || $1 == "drop_cap" { s += $2 } END { print s + 0 }')
    QMEAN=$(tr ' ' '\n' <<<"$line" | sed -n 's/^queue_mean_bytes=//p')
    KDROPS=$(grep '^linkem report=' "$WORK/link.out" | tail -1 | tr ' ' '\n' | sed -n 's/^kernel_drops=//p')
    REXMIT=$(sed -n 's/.*resent \([0-9]*\) on timeout, \([0-9]*\) on duplicate ACKs.*/\1 \2/p' \
        "$WORK/srv.err" | awk '{ s += $1 + $2 } END { print s + 0 }')
    REXMIT=$((REXMIT + $(sed -n 's/.*SACK on ([^)]*, \([0-9]*\) resent on them).*/\1/p' "$WORK/srv.err" |
        awk '{ s += $1 } END { print s + 0 }')))
}

# fetch FILE ALGO I: client number I; writes "rc start end pstart pend" to
# $WORK/res.I: start and end from the client's timing line (connect call to
# last byte, wall clock), pstart and pend around the process.
fetch() {
    local s e rc t
    s=$EPOCHREALTIME
    # shellcheck disable=SC2046
    timeout "$LIMIT" "$ROOT/client" -q -v -w "$WINDOW" $(cc_args "$2") $(mss_args) -f "$1" "$LINK_ADDR" \
        >/dev/null 2>"$WORK/err.$3"
    rc=$?
    e=$EPOCHREALTIME
    t=$(sed -n 's/^client: timing: .*; wall clock \([0-9.]*\) to \([0-9.]*\)$/\1 \2/p' "$WORK/err.$3")
    if [ -z "$t" ]; then
        t="$s $e"
        [ "$rc" = 0 ] && : >"$WORK/process_timing"
    fi
    echo "$rc $t $s $e" >"$WORK/res.$3"
}

# said I: what client I said beyond its -v counters (an error, a warning).
said() { grep -v -E '^client: (segments|resent|dropped|srtt|congestion|SACK|carrier|timing)' "$WORK/err.$1" | tail -1; }

# flows KEY ALGO RATE QUEUE FILE BYTES N RUN: N clients at once through one
# bottleneck; records goodput shares, Jain's index, drops, retransmissions.
flows() {
    local key=$1 algo=$2 rate=$3 queue=$4 file=$5 bytes=$6 n=$7 run=$8 i
    start "$algo" "$rate" "$queue" "$n" "$run" || { note_fail "$key run $run: start"; return; }
    for i in $(seq "$n"); do
        fetch "$file" "$algo" "$i" &
    done
    wait_clients "$n"
    finish
    local ok=1
    for i in $(seq "$n"); do
        read -r rc _ _ <"$WORK/res.$i"
        [ "$rc" = 0 ] || { ok=0; note_fail "$key run $run: client $i exit $rc: $(said "$i")"; }
        [ -n "$(said "$i")" ] && log "$key run $run: client $i said: $(said "$i")"
    done
    [ "$ok" = 1 ] || return
    local link agg jain pagg
    link=$(bps "$rate")
    # Aggregate: all the bytes over first start to last end; Jain's index
    # over each flow's own goodput.  pagg: the same over the processes'
    # wall times.
    read -r agg jain pagg < <(cat "$WORK"/res.* | awk -v b="$bytes" '{
        r = b * 8 / ($3 - $2); s += r; q += r * r; n++
        if (n == 1 || $2 < first) first = $2
        if (n == 1 || $3 > last) last = $3
        if (n == 1 || $4 < pfirst) pfirst = $4
        if (n == 1 || $5 > plast) plast = $5 }
        END { printf "%.0f %.4f %.0f\n", n * b * 8 / (last - first), s * s / (n * q), n * b * 8 / (plast - pfirst) }')
    rec "${key}_share" "$(calc "$agg / $link")"
    rec "${key}_pshare" "$(calc "$pagg / $link")"
    rec "${key}_jain" "$jain"
    rec "${key}_drops" "$DROPS"
    rec "${key}_rexmit" "$REXMIT"
    rec "${key}_qmean" "$QMEAN"
    rec "${key}_kdrops" "$KDROPS"
    log "$key run $run: $(calc "$agg / 1e6") Mbit/s ($(calc "100 * $agg / $link")% of the link), jain $jain, drops $DROPS (kernel $KDROPS), resent $REXMIT"
}

# wait_clients N [K]: until K (default all N) of the N background fetches
# have ended (and nothing else: the server and linkem are waited for by
# finish).  Bounded: LIMIT and 10 s more.  Every 10 ms, so that the mix's
# snapshot comes close to the first flow's end.
wait_clients() {
    local want=${2:-$1} ended i
    for _ in $(seq $((LIMIT * 100 + 1000))); do
        ended=0
        for i in $(seq "$1"); do [ -s "$WORK/res.$i" ] && ended=$((ended + 1)); done
        [ "$ended" -ge "$want" ] && return
        sleep 0.01
    done
}

# mix RUN: the flows of $MIX at once; one server per algorithm (the sender
# chooses the algorithm), all behind one linkem (-s per server).  Each
# flow's share is its bytes through the link from the start to the moment
# the first flow ends (linkem's per-flow counters, SIGUSR1 then), over the
# link's capacity in that time: a common interval, in which all the flows
# competed.  Flows of one algorithm are told apart only by their bytes, so
# each algorithm's flows are listed largest share first.  Each flow's
# goodput over its own transfer, as the table gave before, is kept too.
# `none`'s flows carry their smaller size (file_of): with 16 MiB one of
# them, stuck resending one segment a timeout, ran into the client's time
# limit (120 s) in one trial of two.  So the common interval ends early,
# after about 1.3 s, while cubic may still be in slow start; the table
# gives both figures.
mix() {
    local run=$1 algos a n k=0 i=0 addr sargs=() spids=()
    algos=$(tr ' ' '\n' <<<"$MIX" | awk 'NF && !seen[$1]++')
    for a in $algos; do
        k=$((k + 1))
        n=$(tr ' ' '\n' <<<"$MIX" | grep -cx -- "$a")
        : >"$WORK/srv$k.out"
        # shellcheck disable=SC2046
        timeout $((LIMIT + 30)) "$ROOT/server" -v -a 127.0.0.1 -d "$WORK/files" -n "$n" \
            -w "$WINDOW" $(cc_args "$a") $(mss_args) >"$WORK/srv$k.out" 2>"$WORK/srv$k.err" &
        spids+=($!)
        PIDS+=($!)
        wait_line "$WORK/srv$k.out" "Server's address is" || { note_fail "mix run $run: server $a"; return; }
        sargs+=(-s "$(sed -n "s/^Server's address is //p" "$WORK/srv$k.out")")
    done
    : >"$WORK/link.out"
    "$ROOT/linkem" "${sargs[@]}" -r "$RATE" -d "${DELAY_MS}ms" -q "${FAST_Q}b" -S "$run" \
        >"$WORK/link.out" 2>"$WORK/link.err" &
    LINK_PID=$!
    PIDS+=("$LINK_PID")
    wait_line "$WORK/link.out" "Link's address is" || { note_fail "mix run $run: linkem"; return; }
    rm -f "$WORK"/res.* "$WORK"/err.*
    for a in $MIX; do
        i=$((i + 1))
        k=$(awk -v a="$a" '$0 == a { print NR; exit }' <<<"$algos")
        if [ "$k" = 1 ]; then
            addr=$(sed -n "s/^Link's address is //p" "$WORK/link.out")
        else
            addr=$(sed -n "s/^Link's address for server $k is //p" "$WORK/link.out")
        fi
        LINK_ADDR=$addr fetch "$(file_of "$a" big)" "$a" "$i" &
    done
    wait_clients "$i" 1
    local t1=$EPOCHREALTIME
    kill -USR1 "$LINK_PID" 2>/dev/null
    wait_clients "$i"
    for p in "${spids[@]}"; do wait "$p" 2>/dev/null; done
    kill -TERM "$LINK_PID" 2>/dev/null
    wait "$LINK_PID" 2>/dev/null
    local link shares="" jain t0="" b own
    link=$(bps "$RATE")
    for i in $(seq "$i"); do
        read -r rc st en _ <"$WORK/res.$i"
        [ "$rc" = 0 ] || { note_fail "mix run $run: client $i exit $rc: $(said "$i")"; return; }
        b=$(bytes_of "$(tr ' ' '\n' <<<"$MIX" | awk -v i="$i" 'NF && ++n == i')" big)
        own+="$(calc "$b * 8 / ($en - $st) / $link") "
        t0=$(awk -v a="$t0" -v b="$st" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
    # The SIGUSR1 report's flow lines: "SERVER BYTES" for each flow.
    sed -n '/^linkem report=sigusr1/,/^end$/p' "$WORK/link.out" | grep '^flow ' | tr ' ' '\n' |
        awk -F= '$1 == "server" { s = $2 } $1 == "down_bytes" { print s, $2 }' >"$WORK/mix.flows"
    [ "$(wc -l <"$WORK/mix.flows")" = "$i" ] ||
        { note_fail "mix run $run: linkem's snapshot has $(wc -l <"$WORK/mix.flows") flows, not $i"; return; }
    # Server k's flows, largest first, go to $MIX's flows of algorithm k in order.
    local j=0 srv_k
    for a in $MIX; do
        j=$((j + 1))
        k=$(awk -v a="$a" '$0 == a { print NR; exit }' <<<"$algos")
        srv_k=$(sed -n "s/^Server's address is //p" "$WORK/srv$k.out")
        n=$(tr ' ' '\n' <<<"$MIX" | awk -v a="$a" -v j="$j" 'NF && ++c <= j && $1 == a { m++ } END { print m }')
        b=$(awk -v s="$srv_k" '$1 == s { print $2 }' "$WORK/mix.flows" | sort -rn | sed -n "${n}p")
        [ -n "$b" ] || { note_fail "mix run $run: no snapshot for flow $j ($a)"; return; }
        shares+="$(calc "$b * 8 / ($t1 - $t0) / $link") "
        rec "mix_${j}_common" "$(calc "$b * 8 / ($t1 - $t0) / $link")"
        rec "mix_${j}_share" "$(tr ' ' '\n' <<<"$own" | awk -v j="$j" 'NF && ++c == j')"
    done
    jain=$(tr ' ' '\n' <<<"$own" | awk 'NF { s += $1; q += $1 * $1; n++ } END { printf "%.4f", s * s / (n * q) }')
    rec mix_jain "$jain"
    log "mix run $run: shares to the first end $shares(over $(calc "$t1 - $t0") s); over each own transfer $own; jain $jain"
}

# lossy KEY ALGO PROFILE RUN: LOSS_BYTES on loopback, no linkem; PROFILE
# is "none" (reliable), "classic" (-U, its default profile) or a loss rate
# (-U with STCP_NETEM="loss=P,seed=RUN" on both ends).  Records goodput, MB/s.
lossy() {
    local key=$1 algo=$2 profile=$3 run=$4 u="" netem="" srv s e rc
    [ "$profile" != none ] && u=-U
    case $profile in none | classic) ;; *) netem="loss=$profile,seed=$run" ;; esac
    : >"$WORK/srv.out"
    # shellcheck disable=SC2046,SC2086
    STCP_NETEM=$netem timeout $((LOSS_LIMIT + 10)) "$ROOT/server" -v $u -a 127.0.0.1 \
        -d "$WORK/files" -n 1 -w "$LOSS_WINDOW" $(cc_args "$algo") >"$WORK/srv.out" 2>"$WORK/srv.err" &
    srv=$!
    PIDS+=("$srv")
    wait_line "$WORK/srv.out" "Server's address is" || { note_fail "$key run $run: server"; return; }
    s=$EPOCHREALTIME
    # shellcheck disable=SC2046,SC2086
    STCP_NETEM=$netem timeout "$LOSS_LIMIT" "$ROOT/client" -q $u -w "$LOSS_WINDOW" $(cc_args "$algo") \
        -f lossy "$(sed -n "s/^Server's address is //p" "$WORK/srv.out")" >/dev/null 2>"$WORK/err.loss"
    rc=$?
    e=$EPOCHREALTIME
    wait "$srv" 2>/dev/null
    [ "$rc" = 0 ] || { note_fail "$key run $run: client exit $rc: $(tail -1 "$WORK/err.loss")"; return; }
    rec "$key" "$(calc "$LOSS_BYTES / ($e - $s) / 1e6")"
    log "$key run $run: $(calc "$LOSS_BYTES / ($e - $s) / 1e6") MB/s"
}

START=$(date +%s)
FAST_Q=$(bdp "$RATE")
SLOW_Q=$(bdp "$SLOW_RATE")
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
has link || CC_LIST=""
for run in $(seq "$RUNS"); do
    for algo in $CC_LIST; do
        k=$(tr -c 'a-z0-9\n' '_' <<<"$algo")
        rm -f "$WORK"/res.* "$WORK"/err.*
        big=$(file_of "$algo" big) small=$(file_of "$algo" small)
        flows "${k}_one" "$algo" "$RATE" "$FAST_Q" "$big" "$(bytes_of "$algo" big)" 1 "$run"
        rm -f "$WORK"/res.* "$WORK"/err.*
        flows "${k}_many" "$algo" "$RATE" "$FAST_Q" "$big" "$(bytes_of "$algo" big)" "$FLOWS" "$run"
        rm -f "$WORK"/res.* "$WORK"/err.*
        flows "${k}_slow" "$algo" "$SLOW_RATE" "$SLOW_Q" "$small" "$(bytes_of "$algo" small)" 1 "$run"
    done
    if has mix && { [ "$HAVE_CC" = 1 ] || [ "${BN_MIX_FORCE:-0}" = 1 ]; }; then
        mix "$run"
    fi
    has loss || continue
    for algo in $LOSS_CC; do
        [ "$HAVE_CC" = 1 ] || { [ "$algo" = "${LOSS_CC%% *}" ] || continue; algo=default; }
        for profile in none classic $LOSSES; do
            lossy "loss_${algo}_$profile" "$algo" "$profile" "$run"
        done
    done
done

# med KEY [pct|frac]: "median (min–max)" of the runs, or n/a; as a
# percentage, a fraction with three decimals, or a whole number.
med() {
    [ -s "$WORK/m/$1" ] || { echo "n/a"; return; }
    sort -g "$WORK/m/$1" | awk -v how="${2:-}" '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        if (how == "pct") printf "%.1f%% (%.1f–%.1f)", 100 * m, 100 * v[1], 100 * v[NR];
        else if (how == "frac") printf "%.3f (%.3f–%.3f)", m, v[1], v[NR];
        else printf "%.0f (%.0f–%.0f)", m, v[1], v[NR] }'
}

echo
echo "## Bottleneck: STCP through linkem"
echo
echo "- $RUNS runs of each; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); load at the end $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - START)) s"
echo "- window $WINDOW and MSS ${MSS:-536 (the udp default)} on both ends; delay ${DELAY_MS} ms each way; drop-tail queue of one bandwidth-delay product (rate x ${DELAY_MS}x2 ms); no random loss"
[ "$HAVE_CC" = 1 ] || echo "- the client has no -c: the transport's only behaviour (no congestion control; the window is the window)"
echo
echo "| Algorithm | Path | Flows x bytes | Goodput, % of link (min–max) | Jain | Drops at the bottleneck | Server retransmissions | Mean queue, bytes | linkem's kernel drops | Over the processes' wall time |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for algo in $CC_LIST; do
    k=$(tr -c 'a-z0-9\n' '_' <<<"$algo")
    echo "| $algo | $RATE, queue $FAST_Q B | 1 x $(bytes_of "$algo" big) | $(med "${k}_one_share" pct) | — | $(med "${k}_one_drops") | $(med "${k}_one_rexmit") | $(med "${k}_one_qmean") | $(med "${k}_one_kdrops") | $(med "${k}_one_pshare" pct) |"
    echo "| $algo | $RATE, queue $FAST_Q B | $FLOWS x $(bytes_of "$algo" big) | $(med "${k}_many_share" pct) aggregate | $(med "${k}_many_jain" frac) | $(med "${k}_many_drops") | $(med "${k}_many_rexmit") | $(med "${k}_many_qmean") | $(med "${k}_many_kdrops") | $(med "${k}_many_pshare" pct) |"
    echo "| $algo | $SLOW_RATE, queue $SLOW_Q B | 1 x $(bytes_of "$algo" small) | $(med "${k}_slow_share" pct) | — | $(med "${k}_slow_drops") | $(med "${k}_slow_rexmit") | $(med "${k}_slow_qmean") | $(med "${k}_slow_kdrops") | $(med "${k}_slow_pshare" pct) |"
done
if [ -s "$WORK/m/mix_jain" ]; then
    i=0
    for a in $MIX; do
        i=$((i + 1))
        echo "| mix: flow $i of \"$MIX\" ($a) | $RATE, queue $FAST_Q B | its share of the link over its own transfer of $(bytes_of "$a" big) bytes (until the first flow ended: $(med "mix_${i}_common" pct)) | $(med "mix_${i}_share" pct) | $([ $i = 1 ] && med mix_jain frac) | | | | | |"
    done
elif [ "$HAVE_CC" != 1 ]; then
    echo "| mix \"$MIX\" | — | not run: the client has no -c | | | | | | | |"
fi
has loss && {
echo
echo "### Loss on loopback (no linkem): $LOSS_BYTES bytes, window $LOSS_WINDOW, loss both ways, seeded"
echo
loss_algos=$LOSS_CC
[ "$HAVE_CC" = 1 ] || loss_algos=default
printf "| Profile |"
for algo in $loss_algos; do printf " %s: MB/s (min–max) | %s: %% of its lossless |" "$algo" "$algo"; done
echo
printf "|---|"
for _ in $loss_algos; do printf -- "---|---|"; done
echo
for profile in none classic $LOSSES; do
    case $profile in
    none) label="lossless (no -U)" ;;
    classic) label="-U, the classic profile" ;;
    *) label="random loss $(calc "100 * $profile")%" ;;
    esac
    printf "| %s |" "$label"
    for algo in $loss_algos; do
        m=$(med "loss_${algo}_$profile" frac)
        base=$(med "loss_${algo}_none" frac)
        pct="—"
        if [ "$profile" != none ] && [ "$m" != n/a ] && [ "$base" != n/a ]; then
            pct="$(calc "int(1000 * ${m%% *} / ${base%% *} + 0.5) / 10")%"
        fi
        printf " %s | %s |" "$m" "$pct"
    done
    echo
done
}
echo
if [ -e "$WORK/process_timing" ]; then
    echo "Goodput is file bytes over the client process's wall time (this client prints no"
    echo "timing line), as a share of the link rate."
else
    echo "Goodput is file bytes over the time from the client's connect call to the file's"
    echo "last byte in its hands (client -v's timing line), as a share of the link rate; the"
    echo "last column takes the client process's wall time instead (its start-up and the"
    echo "close after the last byte included, as this table did before)."
fi
if [ -s "$WORK/m/mix_jain" ]; then
    echo "The mix: each flow's goodput over its own transfer (Jain's index over these),"
    echo "and, in brackets, its bytes through the link from the start until the first flow"
    echo "ended (linkem's per-flow counters, read with SIGUSR1 at that moment) over the link's"
    echo "capacity in that time: an interval in which all the flows competed.  Flows of one"
    echo "algorithm are told apart there only by their bytes, largest first, so a row's two"
    echo "figures need not be the same flow's."
fi
echo "Kernel drops are datagrams the kernel dropped on linkem's own sockets (receive"
echo "buffer full, SO_RXQ_OVFL): losses that are not the emulated link's."
echo "Goodput counts file bytes only; the link also carries each segment's 20-byte"
seg=${MSS:-536}
echo "header (linkem's rate applies to the whole datagram), so with $seg-byte segments"
echo "the most a flow can get is $seg/$((seg + 20)) = $(awk -v m="$seg" 'BEGIN { printf "%.1f", 100 * m / (m + 20) }')% of the link."
if [ -s "$WORK/failures" ]; then
    echo
    echo "Failures:"
    sed 's/^/- /' "$WORK/failures"
fi
