#!/usr/bin/env bash
# tests/fuzz.sh -- build the libFuzzer targets and run each for a while.
#
#   tests/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS (default 30) is each target's -max_total_time; the targets
# (default: all of fuzz_net fuzz_core fuzz_ip) run side by side.  Targets:
#   fuzz_net   datagrams through net_check_segment/net_tcp_checksum, tcp_parse,
#              netem_parse and the SYN cookie functions (tests/fuzz_net.c)
#   fuzz_ip    packets through the IP carriers' IPv4 checks (ip_parse), the
#              RST builder and ip_build (tests/fuzz_ip.c)
#   fuzz_core  segment sequences, writes, reads, closes and time into the
#              protocol core in every state, with invariants (tests/fuzz_core.c)
#
# Both are built with clang, -fsanitize=fuzzer,address,undefined, into
# build/fuzz/, the library sources compiled in with the same sanitizers.
# Each run starts from build/fuzz/corpus/NAME (kept between runs; FUZZ_FRESH=1
# starts it again), into which the committed seeds (tests/fuzz/NAME/) and
# the reproducers of past findings (tests/fuzz/crashes/NAME-*) are copied;
# libFuzzer runs them all first.  Output, one line per target, then the total:
#
#   ok - fuzz_net: 1234567 runs in 30 s, no finding
#   not ok - fuzz_core: finding after 4567 runs in 3 s: ...; reproducer build/fuzz/artifacts/...
#   fuzz: 1 passed, 1 failed
#
# Exit status non-zero on a finding (or a failed build).  A reproducer runs
# again with:  build/fuzz/fuzz_core FILE   (FUZZ_ARGS: more libFuzzer flags.)
#
# clang and libFuzzer (Debian: clang, libclang-rt-N-dev) are installed with
# apt-get if missing, as root or through sudo.
cd "$(dirname "$0")/.." || exit 2

SECS=${1:-30}
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
    echo "usage: tests/fuzz.sh [SECONDS] [fuzz_net] [fuzz_core] [fuzz_ip]" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_net fuzz_core fuzz_ip)
for t in "${TARGETS[@]}"; do
    case $t in
    fuzz_net | fuzz_core | fuzz_ip) ;;
    *)
        echo "fuzz.sh: unknown target $t (fuzz_net, fuzz_core, fuzz_ip)" >&2
        exit 2
        ;;
    esac
done

OUT=build/fuzz
CC=${FUZZ_CC:-clang}
LIB_SRCS=(mysock.c stcp_api.c network.c net_ip.c carrier_tun.c carrier_vnet.c pcap.c transport.c cc.c cc_newreno.c cc_cubic.c)
mkdir -p "$OUT/obj" "$OUT/artifacts" || exit 2

# ---- Tools -------------------------------------------------------------------

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "fuzz.sh: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

apt_install() {
    echo "fuzz.sh: installing $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq && as_root apt-get install -y -qq "$@" >/dev/null
}

# Can $CC build and link a libFuzzer target with ASan and UBSan?
fuzzer_works() {
    command -v "$CC" >/dev/null || return 1
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$OUT/probe.c"
    "$CC" -fsanitize=fuzzer,address,undefined "$OUT/probe.c" -o "$OUT/probe" 2>"$OUT/probe.log"
}

if ! fuzzer_works; then
    command -v "$CC" >/dev/null || apt_install clang || exit 2
    if ! fuzzer_works; then
        ver=$("$CC" -dumpversion 2>/dev/null | cut -d. -f1)
        apt_install "libclang-rt-$ver-dev" || exit 2
    fi
    if ! fuzzer_works; then
        echo "fuzz.sh: $CC cannot build a libFuzzer target:" >&2
        cat "$OUT/probe.log" >&2
        exit 2
    fi
fi
if ! pkg-config --exists libcrypto 2>/dev/null; then
    bash deps.sh || exit 2
fi

# ---- Build -------------------------------------------------------------------

read -ra CRYPTO_CFLAGS <<<"$(pkg-config --cflags libcrypto 2>/dev/null)"
read -ra CRYPTO_LIBS <<<"$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)"
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer
    -fno-sanitize-recover=all -I. -I/usr/include "${CRYPTO_CFLAGS[@]}" -pthread)
LIBS=("${CRYPTO_LIBS[@]}" -pthread)

# Is $1 missing or older than any of the rest?
stale() {
    local out=$1
    shift
    [ -e "$out" ] || return 0
    local f
    for f in "$@"; do
        [ "$f" -nt "$out" ] && return 0
    done
    return 1
}

build() {
    local pids=() objs=() src obj
    for src in "${LIB_SRCS[@]}"; do
        obj=$OUT/obj/${src%.c}.o
        objs+=("$obj")
        if stale "$obj" "$src" ./*.h tests/fuzz.sh; then
            "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined \
                -c "$src" -o "$obj" &
            pids+=($!)
        fi
    done
    local ok=0 p
    for p in "${pids[@]}"; do
        wait "$p" || ok=1
    done
    [ $ok -eq 0 ] || return 1
    pids=()
    local t
    for t in "${TARGETS[@]}"; do
        if stale "$OUT/$t" "tests/$t.c" "${objs[@]}" ./*.h; then
            "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer,address,undefined "tests/$t.c" \
                "${objs[@]}" -o "$OUT/$t" "${LIBS[@]}" &
            pids+=($!)
        fi
    done
    for p in "${pids[@]}"; do
        wait "$p" || ok=1
    done
    return $ok
}

if ! build; then
    echo "not ok - fuzz: build failed"
    echo "fuzz: 0 passed, ${#TARGETS[@]} failed"
    exit 1
fi

# ---- Run ---------------------------------------------------------------------

export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:symbolize=1}

max_len() {
    case $1 in
    fuzz_net) echo 1200 ;; # 13-byte prefix + a segment, or an emulation profile
    fuzz_ip) echo 1600 ;;  # selector + a packet a little beyond a 1500-byte MTU
    *) echo 4096 ;;
    esac
}

run() { # run TARGET: writes $OUT/TARGET.log and $OUT/TARGET.rc
    local t=$1 short=${1#fuzz_}
    local corpus=$OUT/corpus/$short
    [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
    mkdir -p "$corpus"
    if [ -d "tests/fuzz/$short" ]; then
        cp -n "tests/fuzz/$short"/* "$corpus"/ 2>/dev/null
    fi
    # Past findings' reproducers run first, as regression tests.
    cp -n "tests/fuzz/crashes/$short"-* "$corpus"/ 2>/dev/null
    local dict=()
    [ -f "tests/fuzz/$short.dict" ] && dict=(-dict="tests/fuzz/$short.dict")
    local start=$SECONDS
    # shellcheck disable=SC2086
    "$OUT/$t" -max_total_time="$SECS" -timeout=10 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" "${dict[@]}" \
        ${FUZZ_ARGS:-} "$corpus" >"$OUT/$t.log" 2>&1
    echo "$? $((SECONDS - start))" >"$OUT/$t.rc"
}

pids=()
for t in "${TARGETS[@]}"; do
    run "$t" &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p"
done

pass=0
fail=0
for t in "${TARGETS[@]}"; do
    log=$OUT/$t.log
    read -r rc secs <"$OUT/$t.rc"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
    stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE '(cov|ft|corp): [0-9]+(/[0-9]+[a-zA-Z]*)?' |
        tr '\n' ' ')
    if [ "$rc" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
        echo "ok - $t: ${runs:-?} runs in $secs s, no finding"
        echo "# $t: ${stats% }"
        pass=$((pass + 1))
    else
        what=$(grep -m1 -E 'INVARIANT VIOLATED|CHECK FAILED|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log")
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "not ok - $t: finding after ${runs:-?} runs in $secs s: ${what:-exit status $rc}; reproducer ${repro:-none} (log $log)"
        grep -A12 -E 'INVARIANT VIOLATED|CHECK FAILED|ERROR: |runtime error:' "$log" |
            head -30 | sed 's/^/# /'
        [ -n "$repro" ] && echo "# reproduce: $OUT/$t $repro"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
