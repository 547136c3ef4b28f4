# tests/lib.sh -- helpers for the end-to-end test scripts (sourced).
#
# Every test prints "ok - NAME" or "not ok - NAME" and counts itself;
# summary prints "SUITE: N passed, M failed".  Servers listen on
# 127.0.0.1 only and are killed when the script exits.

PASSED=0
FAILED=0
PIDS=()
BIN=${BIN:-.}
WORK=$(mktemp -d /tmp/stcp-test.XXXXXX)

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
summary() { echo "$1: $PASSED passed, $FAILED failed"; }

# wait_for SECONDS COMMAND...: until COMMAND succeeds (checked every 20 ms),
# at most SECONDS.  Tests wait on a condition, never for a fixed time.
wait_for() {
    local limit=$(($1 * 50)); shift
    for _ in $(seq "$limit"); do
        "$@" && return 0
        sleep 0.02
    done
    "$@"
}

# netns_remove NS: stop what still runs in the namespace, then delete it.
netns_remove() {
    for p in $(ip netns pids "$1" 2> /dev/null); do kill "$p" 2> /dev/null; done
    ip netns del "$1" 2> /dev/null
}

proc_threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }

# make_file NAME BYTES: a file of random bytes in $WORK/files
make_file() {
    mkdir -p "$WORK/files"
    head -c "$2" /dev/urandom > "$WORK/files/$1"
}

# start_server [server args...]: sets SERVER_PID and PORT
start_server() {
    local out="$WORK/server.$RANDOM.out"
    "$BIN/server" -a 127.0.0.1 -d "$WORK/files" "$@" > "$out" 2> "$out.err" &
    SERVER_PID=$!
    SERVER_ERR=$out.err
    PIDS+=("$SERVER_PID")
    for _ in $(seq 200); do
        grep -q "Server's address is" "$out" 2>/dev/null && break
        sleep 0.05
    done
    PORT=$(sed -n "s/^Server's address is .*:\([0-9]*\)$/\1/p" "$out")
    [ -n "$PORT" ] || { echo "# server did not start: $(cat "$out.err")"; return 1; }
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
}

# fetch NAME [client args...]: fetch files/NAME into $WORK/got/NAME.$RANDOM
# and compare; true if the client exited 0 and the bytes match.
fetch() {
    local name=$1; shift
    mkdir -p "$WORK/got"
    local out="$WORK/got/${name//\//_}.$RANDOM$RANDOM"
    timeout "${FETCH_TIMEOUT:-120}" "$BIN/client" "$@" -f "$name" -o "$out" "127.0.0.1:$PORT" \
        2> "$out.err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "# client exit $rc: $(tail -3 "$out.err")"
        return 1
    fi
    if ! cmp -s "$WORK/files/$name" "$out"; then
        echo "# $name differs"
        return 1
    fi
    rm -f "$out" "$out.err"
}
