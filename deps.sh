#!/usr/bin/env bash
# Install what the build and tests need, if it is missing (Debian).
set -euo pipefail
need=()
pkg-config --exists libcrypto 2>/dev/null || need+=(libssl-dev)
pkg-config --exists cunit 2>/dev/null || need+=(libcunit1-dev)
[ -f /usr/include/readline/readline.h ] || need+=(libreadline-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++) # tests/classic.sh: a transport built as C++
command -v make >/dev/null || need+=(make)
command -v cmp >/dev/null || need+=(diffutils)
[ -x /usr/bin/time ] || need+=(time)
command -v valgrind >/dev/null || need+=(valgrind)
command -v python3 >/dev/null || need+=(python3)   # tests/carriers.sh: the peers
command -v ip >/dev/null || need+=(iproute2)       # tests/carriers.sh: netns, TUN
command -v nc >/dev/null || need+=(netcat-openbsd) # tools/tun-tryout.sh: a kernel client
command -v tshark >/dev/null || need+=(tshark)     # tests/kernel.sh, tools/tun-tryout.sh
command -v ping >/dev/null || need+=(iputils-ping)  # tests/kernel.sh: waits until tshark records
command -v gnuplot >/dev/null || need+=(gnuplot-nox) # tools/cwnd-plot.sh: STCP_TRACE pictures
if [ "${#need[@]}" -eq 0 ]; then
    exit 0
fi
echo "deps.sh: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: need root to install ${need[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
