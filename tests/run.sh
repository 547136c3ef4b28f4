#!/usr/bin/env bash
# tests/run.sh -- every test suite, one after the other (make test).
# Each suite ends with "NAME: N passed, M failed"; the last line here is
# the sum: "N passed, M failed".  Exit status non-zero on any failure.
cd "$(dirname "$0")/.." || exit 2
total_pass=0
total_fail=0
LOG=$(mktemp -d /tmp/stcp-run.XXXXXX)

suite() { # suite NAME COMMAND...
    local name=$1; shift
    echo "=== $name"
    local start=$SECONDS
    "$@" 2>&1 | tee "$LOG/$name.log" | grep -E '^(not ok|ok) |^# |passed, .* failed'
    local line
    line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$LOG/$name.log" | tail -1)
    local p f
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    if [ -z "$p" ]; then
        echo "not ok - $name did not finish (no summary line); see below"
        tail -20 "$LOG/$name.log"
        p=0; f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    echo "=== $name: $p passed, $f failed ($((SECONDS - start)) s)"
}

suite unit ./tests/unit
suite e2e bash tests/e2e.sh full
suite classic bash tests/classic.sh
suite linkem bash tests/linkem.sh
suite trace bash tests/trace.sh
suite flood bash tests/flood.sh
suite capture bash tests/capture.sh
suite carriers bash tests/carriers.sh
suite kernel bash tests/kernel.sh full
suite robust bash tests/robust.sh
suite conns bash tests/conns.sh
suite tcpnode bash tests/tcpnode.sh
suite garbage bash tests/garbage.sh
suite kgarbage bash tests/kgarbage.sh
suite sanitize bash tests/sanitize.sh
suite fuzz bash tests/fuzz.sh 30
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite unit-asan build/asan/tests/unit
BIN=build/asan suite e2e-asan bash tests/e2e.sh quick

rm -rf "$LOG"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
