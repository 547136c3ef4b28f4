#!/usr/bin/env bash
# tests/trace.sh -- STCP_TRACE, the per-connection congestion trace, and
# tools/cwnd-plot.sh, which draws one.
#
#   bash tests/trace.sh        (BIN=dir of the binaries, default .)
#
# A 1 MiB transfer under seeded 5% loss with newreno, the server (the
# sender) traced: the file is named as the pattern says, every line
# parses, time never goes back, cwnd is never 0, the loss shows as
# congestion events, the trace ends with "end"; the client, untraced,
# writes nothing.  Then the plot script makes a PNG of it (when gnuplot is
# installed: deps.sh installs it).  No timing thresholds.  Last line:
# "trace: N passed, M failed".
# shellcheck disable=SC2016 # awk programs: their own $, not the shell's
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

make_file f1m 1048576
mkdir -p "$WORK/tr"
export STCP_NETEM="loss=0.05,seed=7"
STCP_TRACE="$WORK/tr/srv.%p.%c.%%" start_server -U -n 1 -w 20000 -c newreno
check "a traced transfer under 5% loss arrives whole" fetch f1m -U -w 20000 -c newreno
wait "$SERVER_PID" 2>/dev/null
unset STCP_NETEM

trace=$WORK/tr/srv.$SERVER_PID.1.%
check "the file is named by the pattern (%p pid, %c connection 1, %% a %)" test -s "$trace"
check "one connection, one file (a listening TCB opens none)" test "$(find "$WORK/tr" -type f | wc -l)" -eq 1

# well_formed: comment lines, then lines of 8 fields: 7 numbers and an event.
well_formed() {
    head -1 "$trace" | grep -q '^# stcp trace 1: 127.0.0.1:[0-9]* -> 127.0.0.1:[0-9]*, cc newreno, mss [0-9]*, window 20000$' ||
        { echo "# header: $(head -1 "$trace")"; return 1; }
    awk 'BEGIN { num = "^-?[0-9]+(\\.[0-9]+)?$"; bad = 0; n = 0 }
        /^#/ { next }
        { n++ }
        NF != 8 { bad++; next }
        { for (i = 1; i <= 7; i++) if ($i !~ num) bad++ }
        $8 !~ /^(start|ack|dupack|recovery|timeout|recovered|end)$/ { bad++ }
        END { if (bad || n < 100) { printf "# %d bad of %d lines\n", bad, n; exit 1 } }' "$trace"
}
check "every line parses: 7 numbers and a known event" well_formed
check "time never goes back" awk '!/^#/ { if ($1 < t) exit 1; t = $1 }' "$trace"
check "cwnd is never 0" awk '!/^#/ && $2 <= 0 { exit 1 }' "$trace"
check "in flight never exceeds the window" awk '!/^#/ && $4 > 20000 + 1 { exit 1 }' "$trace"
check "the loss shows as congestion events (recovery or timeout)" \
    grep -Eq ' (recovery|timeout)$' "$trace"
check "RTT samples are recorded" awk '!/^#/ && $8 == "ack" && $6 > 0 { n++ } END { exit n == 0 }' "$trace"
check "first line start, last line end, nothing in flight at the end" \
    awk '!/^#/ { if (!first) first = $8; last = $8; flight = $4 }
        END { exit !(first == "start" && last == "end" && flight == 0) }' "$trace"

if command -v gnuplot >/dev/null; then
    check "cwnd-plot.sh draws it as a PNG" sh -c "tools/cwnd-plot.sh '$trace' '$WORK/plot.png' >/dev/null"
    check "the PNG is a PNG" sh -c "head -c 8 '$WORK/plot.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
    check "cwnd-plot.sh -s draws an SVG" sh -c "tools/cwnd-plot.sh -s '$trace' '$WORK/plot.svg' >/dev/null && grep -q '<svg' '$WORK/plot.svg'"
else
    echo "# gnuplot not installed (deps.sh installs it): the plot is not tested"
fi
check "cwnd-plot.sh: misuse exits 2" sh -c "tools/cwnd-plot.sh >/dev/null 2>&1; test \$? -eq 2"

summary trace
