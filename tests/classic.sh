#!/usr/bin/env bash
# tests/classic.sh -- classic transports run here unchanged (suite "classic").
#
#   bash tests/classic.sh
#
# * The public headers (mysock.h, stcp_api.h, transport.h) compile alone as
#   C from gnu89 to C11 and as C++, with warnings as errors; with
#   STCP_CLASSIC_ONLY they declare only the classic interface.
# * tests/classic/transport_classic.c, a transport in the classic style, is
#   built with `make TRANSPORT=` as C and as C++ (against the classic-only
#   headers) and moves files of 0 B to 1 MiB, reliable and under the classic
#   -U profile, between our server and client built with it.
# * tests/classic/probe_transport.c checks the classic calls one by one.
# * The classic skeleton's shape (tests/classic/skeleton/transport.c: its own
#   our_dprintf, warnings, decoy headers next to it) builds and links.
# Builds go to build/classic/*.  Last line: "classic: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
OUT=build/classic
mkdir -p "$OUT"
CXX=${CXX:-g++}

# ---- Headers alone ----
# header_ok COMPILER... : each variant of each header compiles warning-free.
header_ok() {
    local h=$1; shift
    local v src=$WORK/hdr.c
    printf '#include "%s"\nint stcp_header_test_%s;\n' "$h" "${h%.h}" > "$src"
    for v in "" -DSTCP_CLASSIC_ONLY -DSTCP_TRANSPORT_DROPIN; do
        if ! "$@" -Wall -Wextra -Werror -I. $v -fsyntax-only "$src" 2> "$WORK/hdr.err"; then
            echo "# $* $v: $(head -3 "$WORK/hdr.err")"
            return 1
        fi
    done
}
compilers=("gcc -x c -std=gnu89" "gcc -x c -std=c99" "gcc -x c -std=c11" "$CXX -x c++ -std=c++11")
command -v clang++ > /dev/null && compilers+=("clang++ -x c++ -std=c++17")
for h in mysock.h stcp_api.h transport.h; do
    for c in "${compilers[@]}"; do
        # shellcheck disable=SC2086 # the compiler and its flags
        check "$h alone: $c" header_ok "$h" $c
    done
done

# STCP_CLASSIC_ONLY leaves the classic interface only: an addition is
# undeclared, and the classic test transport compiles with nothing else,
# as C89 with GNU extensions and as C++.
printf '#include "stcp_api.h"\nsize_t f(mysocket_t sd) { return stcp_app_space(sd); }\n' \
    > "$WORK/ext.c"
check "STCP_CLASSIC_ONLY hides the additions (stcp_app_space undeclared)" \
    sh -c "! gcc -std=gnu89 -Wall -Werror -I. -DSTCP_CLASSIC_ONLY -c '$WORK/ext.c' -o '$WORK/ext.o' 2>/dev/null"
check "... and without it they are there" \
    gcc -std=gnu89 -Wall -Werror -I. -c "$WORK/ext.c" -o "$WORK/ext.o"
for c in "gcc -x c -std=gnu89" "$CXX -x c++ -std=c++11"; do
    # shellcheck disable=SC2086
    check "transport_classic.c, classic headers only, $c -Werror" \
        $c -Wall -Wextra -Werror -I. -DSTCP_CLASSIC_ONLY -fsyntax-only tests/classic/transport_classic.c
done

# ---- Builds with make TRANSPORT= ----
# build DIR LOG make-args...: build libstcp.a, client and server into DIR.
# The transport and the programs are always built again, so LOG shows how.
build() {
    local dir=$1 log=$2; shift 2
    rm -rf "$dir/obj/dropin" "$dir/client" "$dir/server"
    if ! nice make --no-print-directory -j2 O="$dir" "$@" > "$log" 2>&1 ||
        [ ! -x "$dir/client" ] || [ ! -x "$dir/server" ] || [ ! -f "$dir/libstcp.a" ]; then
        echo "# $(grep -m3 -E 'error|Error' "$log")"
        return 1
    fi
}
CLASSIC_FLAGS="TRANSPORT_CFLAGS=-O2 -g -Wall -Wextra -DSTCP_CLASSIC_ONLY"
check "make TRANSPORT=transport_classic.c (C) builds" \
    build "$OUT/c" "$WORK/build-c.log" TRANSPORT=tests/classic/transport_classic.c "$CLASSIC_FLAGS"
check "make TRANSPORT=transport_classic.c TRANSPORT_CC=$CXX (C++) builds" \
    build "$OUT/cxx" "$WORK/build-cxx.log" TRANSPORT=tests/classic/transport_classic.c \
    TRANSPORT_CC="$CXX" "$CLASSIC_FLAGS"
check "... it was compiled as C++ and linked by the C++ driver" \
    sh -c "grep -q -- '$CXX -x c++ ' '$WORK/build-cxx.log' && grep -q -- '^$CXX .*-o $OUT/cxx/server' '$WORK/build-cxx.log'"
cp tests/classic/transport_classic.c "$WORK/transport_classic.cc"
check "a .cc transport builds as C++ without TRANSPORT_CC" \
    build "$OUT/cc" "$WORK/build-cc.log" TRANSPORT="$WORK/transport_classic.cc"
check "... compiled as C++" grep -q -- ' -x c++ ' "$WORK/build-cc.log"
check "the classic skeleton shape (its own our_dprintf, warnings, decoy headers) links" \
    build "$OUT/skel" "$WORK/build-skel.log" TRANSPORT=tests/classic/skeleton/transport.c
check "... its warnings are shown, not fatal" \
    grep -q "warning: unused parameter" "$WORK/build-skel.log"
check "... its own our_dprintf is the one linked (the framework's is weak)" \
    sh -c "nm '$OUT/skel/server' | grep -q ' T our_dprintf'"
check "the skeleton shape as C++ links" \
    build "$OUT/skel-cxx" "$WORK/build-skel-cxx.log" TRANSPORT=tests/classic/skeleton/transport.c \
    TRANSPORT_CC="$CXX"

# ---- The classic calls, one by one (tests/classic/probe_transport.c) ----
read -r -a CRYPTO_LIBS <<< "$(pkg-config --libs libcrypto 2> /dev/null || echo -lcrypto)"
probe_build() {
    if ! nice make --no-print-directory -j2 O="$OUT/probe" TRANSPORT=tests/classic/probe_transport.c \
        "$CLASSIC_FLAGS" "$OUT/probe/libstcp.a" > "$WORK/build-probe.log" 2>&1 ||
        ! gcc -std=c11 -Wall -Wextra -Werror -O2 -g -I. -Itests/classic -pthread \
            tests/classic/probe_main.c "$OUT/probe/libstcp.a" "${CRYPTO_LIBS[@]}" \
            -o "$OUT/probe/probe" 2>> "$WORK/build-probe.log"; then
        echo "# $(grep -m3 -E 'error|Error' "$WORK/build-probe.log")"
        return 1
    fi
}
if check "the probe transport builds (classic headers only)" probe_build; then
    timeout 60 "$OUT/probe/probe" > "$WORK/probe.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "probe: ${line#ok - }" ;;
            "not ok - "*) not_ok "probe: ${line#not ok - }" ;;
        esac
    done < "$WORK/probe.out"
    check "probe: exits 0, no hang (exit $rc)" [ $rc -eq 0 ]
fi

# ---- Transfers ----
SIZES="0 1 535 536 537 3072 3073 1048576"
for s in $SIZES; do make_file "f$s" "$s"; done
export FETCH_TIMEOUT=60
matrix() { # matrix LABEL DIR
    local label=$1
    BIN=$2
    [ -x "$BIN/server" ] || { not_ok "$label: not built"; return; }
    start_server || { not_ok "$label: server"; return; }
    for s in $SIZES; do check "$label, reliable: $s bytes byte-exact" fetch "f$s"; done
    stop_server
    start_server -U || { not_ok "$label: server -U"; return; }
    for s in $SIZES; do check "$label, classic -U: $s bytes byte-exact" fetch "f$s" -U; done
    stop_server
}
matrix "classic transport (C)" "$OUT/c"
matrix "classic transport (C++)" "$OUT/cxx"

# Our transport and the classic one talk to each other.
if [ -x ./client ] && [ -x "$OUT/c/server" ]; then
    BIN=$OUT/c
    start_server -U
    BIN=. check "our client, classic server, classic -U: 1 MiB byte-exact" fetch f1048576 -U
    stop_server
    BIN=.
    start_server -U
    BIN=$OUT/c check "classic client, our server, classic -U: 1 MiB byte-exact" fetch f1048576 -U
    stop_server
fi

summary classic
[ "$FAILED" -eq 0 ]
