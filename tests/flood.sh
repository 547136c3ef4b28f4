#!/usr/bin/env bash
# flood.sh -- a SYN flood against the file server, with and without SYN cookies.
#
#   bash tests/flood.sh          (from the repository root, after
#                                 make all tests/synflood)
#
# Part 1, server -C: COUNT SYNs from SOURCES addresses in 127.1.0.0/16 while a
# legitimate client fetches a file.  Checks: the client's copy is byte-exact
# and it exits 0, the flood was answered with SYN-ACKs, the server's thread
# count is unchanged afterwards and its RSS grew by less than 2 MiB.
#
# The RSS and thread baseline is taken after one warm-up transfer, so that
# one-time costs (the crypto library's initialisation on the first cookie,
# the thread stacks the C library keeps for reuse) are not charged to the
# flood; the growth from a fresh server is printed too.
#
# Part 2, the same flood against a server without -C: the server must still
# be running with bounded memory (growth < 16 MiB) and its threads must come
# back to the baseline; what the legitimate client experienced is reported.
#
# Output: one "ok - ..." / "not ok - ..." line per check, "# ..." lines for
# information, and finally "flood: N passed, M failed".  Exit status 1 on
# any failure.
#
# Environment: FLOOD_COUNT (100000), FLOOD_RATE (10000 SYN/s), FLOOD_SOURCES
# (2000), FLOOD_FILE_SIZE (1048576 bytes), FLOOD_CLIENT_DELAY (2 s into the
# flood), FLOOD_STRICT_NOCOOKIE=1 makes the client's success without -C a check.
set -u

cd "$(dirname "$0")/.." || exit 1
# Threads are counted to see connections end: transport threads must not
# wait in the pool for the next connection (mysock.c), they exit at once.
export STCP_THREAD_IDLE_MS=0

SERVER=./server
CLIENT=./client
FLOOD=./tests/synflood
COUNT=${FLOOD_COUNT:-100000}
RATE=${FLOOD_RATE:-10000}
SOURCES=${FLOOD_SOURCES:-2000}
FILE_SIZE=${FLOOD_FILE_SIZE:-1048576}
CLIENT_DELAY=${FLOOD_CLIENT_DELAY:-2}
CLIENT_TIMEOUT=30 # seconds; a client that takes longer is killed and fails
SETTLE=8          # seconds to wait for the server's threads to come back

for f in "$SERVER" "$CLIENT" "$FLOOD"; do
    if [ ! -x "$f" ]; then
        echo "flood: $f is missing; run: make all tests/synflood" >&2
        exit 2
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stcp-flood.XXXXXX") || exit 2
PIDS=()

# Everything started is a child of this shell (servers, the flood tool,
# the subshells running clients) or is named in $TMP/*.tpid (the timeout(1)
# wrapping each client, which passes the signal on to the client).
cleanup() {
    local p f
    for f in "$TMP"/*.tpid; do
        [ -s "$f" ] && PIDS+=("$(cat "$f")")
    done
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0

check() { # check STATUS DESCRIPTION...
    local st=$1
    shift
    if [ "$st" -eq 0 ]; then
        echo "ok - $*"
        PASSED=$((PASSED + 1))
    else
        echo "not ok - $*"
        FAILED=$((FAILED + 1))
    fi
}

info() {
    echo "# $*"
}

now_ms() {
    date +%s%3N
}

# status_field PID FIELD: a number from /proc/PID/status (VmRSS in kB), or -1.
status_field() {
    local v
    v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null)
    echo "${v:--1}"
}

# start_server NAME ARGS...: sets SRV_PID and SRV_PORT.
start_server() {
    local name=$1
    shift
    "$SERVER" -a 127.0.0.1 -d "$TMP/srv" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_PORT=
    local _
    for _ in $(seq 1 50); do
        SRV_PORT=$(sed -n "s/^Server's address is 127\.0\.0\.1:\([0-9]*\)$/\1/p" "$TMP/$name.out")
        [ -n "$SRV_PORT" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# wait_threads PID N SECONDS: wait until PID has N threads; prints the count.
wait_threads() {
    local t end=$(($(now_ms) + $3 * 1000))
    while :; do
        t=$(status_field "$1" Threads)
        if [ "$t" = "$2" ] || [ "$(now_ms)" -ge "$end" ]; then
            echo "$t"
            return
        fi
        sleep 0.1
    done
}

# fetch NAME: fetch the test file from the server; writes "RC MS" to $TMP/NAME.res.
fetch() {
    local s e rc
    s=$(now_ms)
    timeout "$CLIENT_TIMEOUT" "$CLIENT" -f file -o "$TMP/$1.rcvd" "127.0.0.1:$SRV_PORT" \
        >"$TMP/$1.cout" 2>"$TMP/$1.cerr" &
    echo $! >"$TMP/$1.tpid"
    wait $!
    rc=$?
    e=$(now_ms)
    rm -f "$TMP/$1.tpid"
    echo "$rc $((e - s))" >"$TMP/$1.res"
}

# run_flood NAME: the flood in the background, a legitimate client started
# CLIENT_DELAY seconds into it, and the server's peak threads/RSS sampled
# meanwhile.  Sets FLOOD_RC, CLIENT_RC, CLIENT_MS, CLIENT_DONE_IN_FLOOD,
# PEAK_THREADS, PEAK_RSS.
run_flood() {
    local name=$1
    "$FLOOD" -c "$COUNT" -r "$RATE" -s "$SOURCES" "127.0.0.1:$SRV_PORT" \
        >"$TMP/$name.flood" 2>"$TMP/$name.flood.err" &
    local fpid=$!
    PIDS+=("$fpid")
    local start client_at cpid=
    start=$(now_ms)
    client_at=$((start + CLIENT_DELAY * 1000))
    PEAK_THREADS=0
    PEAK_RSS=0
    CLIENT_DONE_IN_FLOOD=0
    local t r
    while kill -0 "$fpid" 2>/dev/null; do
        if [ -z "$cpid" ] && [ "$(now_ms)" -ge "$client_at" ]; then
            fetch "$name" &
            cpid=$!
            PIDS+=("$cpid")
        fi
        if [ -n "$cpid" ] && [ "$CLIENT_DONE_IN_FLOOD" = 0 ] && [ -s "$TMP/$name.res" ]; then
            CLIENT_DONE_IN_FLOOD=1
        fi
        t=$(status_field "$SRV_PID" Threads)
        r=$(status_field "$SRV_PID" VmRSS)
        [ "$t" -gt "$PEAK_THREADS" ] && PEAK_THREADS=$t
        [ "$r" -gt "$PEAK_RSS" ] && PEAK_RSS=$r
        sleep 0.1
    done
    wait "$fpid"
    FLOOD_RC=$?
    if [ -n "$cpid" ]; then
        wait "$cpid"
        read -r CLIENT_RC CLIENT_MS <"$TMP/$name.res"
    else
        CLIENT_RC=-1
        CLIENT_MS=-1
    fi
}

# flood_field NAME KEY: a value from the flood tool's result line.
flood_field() {
    sed -n "s/^synflood-result: .*\<$2=\([0-9.]*\).*/\1/p" "$TMP/$1.flood"
}

mkdir -p "$TMP/srv"
head -c "$FILE_SIZE" /dev/urandom >"$TMP/srv/file"

info "flood: $COUNT SYNs at up to $RATE/s from $SOURCES sources; client fetches $FILE_SIZE bytes" \
    "${CLIENT_DELAY}s into the flood"

# ---------------------------------------------------------------- part 1: -C
start_server cookies -C
check $? "server -C started"
if [ -n "$SRV_PORT" ]; then
    threads0=$(status_field "$SRV_PID" Threads)
    rss0=$(status_field "$SRV_PID" VmRSS)
    fetch cookies-warm
    read -r rc ms <"$TMP/cookies-warm.res"
    cmp -s "$TMP/srv/file" "$TMP/cookies-warm.rcvd"
    check $(((rc != 0) + $?)) "-C: warm-up client before the flood (exit $rc, ${ms} ms)"
    threads1=$(wait_threads "$SRV_PID" "$threads0" "$SETTLE")
    rss1=$(status_field "$SRV_PID" VmRSS)
    info "-C: fresh server: $threads0 threads, RSS $rss0 kB; after warm-up: $threads1 threads," \
        "RSS $rss1 kB"

    run_flood cookies
    check "$FLOOD_RC" "-C: flood tool ran to its end (exit $FLOOD_RC)"
    info "-C: $(grep '^synflood: ' "$TMP/cookies.flood" | tr '\n' ' ')"
    sent=$(flood_field cookies sent)
    sources=$(flood_field cookies sources)
    synacks=$(flood_field cookies synacks)
    [ "${sent:-0}" -eq "$COUNT" ] && [ "${sources:-0}" -ge 1000 ]
    check $? "-C: flood sent ${sent:-0} SYNs from ${sources:-0} source addresses"
    [ "${synacks:-0}" -gt 0 ]
    check $? "-C: server answered the flood with cookie SYN-ACKs (${synacks:-0}," \
        "$(flood_field cookies synack_rate)/s)"

    cmp -s "$TMP/srv/file" "$TMP/cookies.rcvd"
    cmp_rc=$?
    check "$CLIENT_RC" "-C: legitimate client during the flood exits 0 (exit $CLIENT_RC," \
        "${CLIENT_MS} ms)"
    check "$cmp_rc" "-C: legitimate client's copy is byte-exact"
    [ "$CLIENT_DONE_IN_FLOOD" = 1 ]
    check $? "-C: legitimate client finished while the flood was still running"
    [ "$CLIENT_RC" = 0 ] || info "-C: client stderr: $(tr '\n' ' ' <"$TMP/cookies.cerr")"

    kill -0 "$SRV_PID" 2>/dev/null
    check $? "-C: server still running after the flood"
    threads2=$(wait_threads "$SRV_PID" "$threads1" "$SETTLE")
    rss2=$(status_field "$SRV_PID" VmRSS)
    info "-C: during the flood: peak $PEAK_THREADS threads, peak RSS $PEAK_RSS kB"
    info "-C: after the flood: $threads2 threads, RSS $rss2 kB (growth from warm-up" \
        "$((rss2 - rss1)) kB, from fresh start $((rss2 - rss0)) kB)"
    [ "$threads2" = "$threads1" ]
    check $? "-C: thread count unchanged by the flood ($threads1 -> $threads2)"
    [ "$rss2" -ge 0 ] && [ $((rss2 - rss1)) -lt 2048 ]
    check $? "-C: RSS grew by less than 2 MiB ($rss1 -> $rss2 kB)"
    kill "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    [ -s "$TMP/cookies.err" ] && info "-C: server stderr: $(sort "$TMP/cookies.err" | uniq -c |
        head -5 | tr -s ' \n' ' ')"
fi

# ------------------------------------------------------------ part 2: no -C
start_server plain
check $? "server without -C started"
if [ -n "$SRV_PORT" ]; then
    threads0=$(status_field "$SRV_PID" Threads)
    rss0=$(status_field "$SRV_PID" VmRSS)
    fetch plain-warm
    read -r rc ms <"$TMP/plain-warm.res"
    cmp -s "$TMP/srv/file" "$TMP/plain-warm.rcvd"
    check $(((rc != 0) + $?)) "no -C: warm-up client before the flood (exit $rc, ${ms} ms)"
    threads1=$(wait_threads "$SRV_PID" "$threads0" "$SETTLE")
    rss1=$(status_field "$SRV_PID" VmRSS)
    info "no -C: fresh server: $threads0 threads, RSS $rss0 kB; after warm-up: $threads1" \
        "threads, RSS $rss1 kB"

    run_flood plain
    check "$FLOOD_RC" "no -C: flood tool ran to its end (exit $FLOOD_RC)"
    info "no -C: $(grep '^synflood: ' "$TMP/plain.flood" | tr '\n' ' ')"

    cmp -s "$TMP/srv/file" "$TMP/plain.rcvd" 2>/dev/null
    cmp_rc=$?
    if [ "$CLIENT_RC" = 0 ] && [ "$cmp_rc" = 0 ]; then
        outcome="succeeded, byte-exact"
    elif [ "$CLIENT_RC" = 124 ]; then
        outcome="hung: killed after ${CLIENT_TIMEOUT}s"
    else
        outcome="FAILED (exit $CLIENT_RC, copy $([ "$cmp_rc" = 0 ] && echo exact ||
            echo differs/missing)): $(tr '\n' ' ' <"$TMP/plain.cerr")"
    fi
    if [ "$CLIENT_DONE_IN_FLOOD" = 1 ]; then
        when="while the flood was still running"
    else
        when="after the flood had ended"
    fi
    info "no -C: legitimate client started ${CLIENT_DELAY}s into the flood: $outcome in" \
        "${CLIENT_MS} ms, finished $when"
    if [ "${FLOOD_STRICT_NOCOOKIE:-0}" = 1 ]; then
        [ "$CLIENT_RC" = 0 ] && [ "$cmp_rc" = 0 ]
        check $? "no -C: legitimate client during the flood succeeds"
    fi

    kill -0 "$SRV_PID" 2>/dev/null
    check $? "no -C: server still running after the flood"
    rss2=$(status_field "$SRV_PID" VmRSS)
    info "no -C: during the flood: peak $PEAK_THREADS threads, peak RSS $PEAK_RSS kB;" \
        "right after it: $(status_field "$SRV_PID" Threads) threads, RSS $rss2 kB"
    [ "$PEAK_RSS" -ge 0 ] && [ $((PEAK_RSS - rss1)) -lt 16384 ] && [ $((rss2 - rss1)) -lt 16384 ]
    check $? "no -C: RSS bounded: growth < 16 MiB (baseline $rss1, peak $PEAK_RSS, after $rss2 kB)"
    s=$(now_ms)
    threads2=$(wait_threads "$SRV_PID" "$threads1" "$SETTLE")
    info "no -C: threads back to $threads2 after $(($(now_ms) - s)) ms"
    [ "$threads2" = "$threads1" ]
    check $? "no -C: half-open connections released: threads back to $threads1 within" \
        "${SETTLE}s (now $threads2)"
    kill -0 "$SRV_PID" 2>/dev/null
    check $? "no -C: server still running after the half-open connections expired"
    kill "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    [ -s "$TMP/plain.err" ] && info "no -C: server stderr: $(sort "$TMP/plain.err" | uniq -c |
        head -5 | tr -s ' \n' ' ')"
fi

echo "flood: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
