#!/usr/bin/env bash
# tools/cwnd-plot.sh -- draw an STCP_TRACE file with gnuplot.
#
#     tools/cwnd-plot.sh [-s] [-t TITLE] [-W WIDTH] [-H HEIGHT] TRACE [OUTPUT]
#
# Top panel: cwnd, ssthresh and bytes in flight (KiB) over time; bottom
# panel: the RTT samples and the smoothed RTT (ms).  OUTPUT defaults to
# TRACE.png (TRACE.svg with -s); -t sets the title (default: the trace's
# header line).  The trace format is in the README ("Congestion trace").
set -euo pipefail

usage() {
    echo "usage: $0 [-s] [-t TITLE] [-W WIDTH] [-H HEIGHT] TRACE [OUTPUT]" >&2
    exit 2
}
svg=0 title="" width=860 height=560
while getopts "st:W:H:h" o; do
    case $o in
    s) svg=1 ;;
    t) title=$OPTARG ;;
    W) width=$OPTARG ;;
    H) height=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
[[ $width =~ ^[0-9]+$ && $height =~ ^[0-9]+$ ]] || usage
trace=$1
[ -r "$trace" ] || { echo "$0: cannot read $trace" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "$0: gnuplot is not installed (deps.sh installs it)" >&2; exit 1; }
if [ "$svg" = 1 ]; then ext=svg; else ext=png; fi
out=${2:-$trace.$ext}
if [ -z "$title" ]; then
    title=$(sed -n '1s/^# stcp trace [0-9]*: //p' "$trace")
fi
title=${title//[\\\"\$\`]/} # it goes in gnuplot's double quotes
title=${title//'; '/'\n'}        # "; " starts a new line of it
grep -qv '^#' "$trace" || { echo "$0: $trace has no events" >&2; exit 1; }
if [ "$svg" = 1 ]; then
    term="svg size $width,$height dynamic font 'sans,11' background '#ffffff'"
else
    term="pngcairo size $width,$height font 'sans,10'"
    # gnuplot-nox may lack cairo: the libgd png terminal then.
    gnuplot -e "set terminal" 2>&1 | grep -q pngcairo || term="png size $width,$height small"
fi

# Congestion events as ticks along the bottom of the upper panel (full
# height lines would hide the curves of a flow with thousands of them).
marks() { awk -v e="$1" '!/^#/ && $8 == e { print $1 }' "$trace"; }
mark_cmds=""
for ev in recovery timeout; do
    if [ "$ev" = recovery ]; then lo=0 hi=0.05; else lo=0.05 hi=0.1; fi
    style=$([ "$ev" = recovery ] && echo "lc rgb '#e69f00' lw 1.5" || echo "lc rgb '#d55e00' lw 1.5")
    while read -r x; do
        mark_cmds+="set arrow from $x, graph $lo to $x, graph $hi nohead $style front;"
    done < <(marks "$ev" | awk 'NR <= 5000') # bounded: one gnuplot command each
done

gnuplot <<GP
set terminal $term
set output '${out//\'/\'\'}'
set datafile commentschars '#'
set datafile missing '?'
set multiplot layout 2,1 title "$title" font ',10'
set key top right horizontal font ',9' samplen 2 width 0 opaque box lc rgb '#cccccc'
set grid lc rgb '#dddddd'
set lmargin 10
set rmargin 3
# Upper panel: windows, in KiB.
set tmargin 2.5
set bmargin 0.5
set format x ''
set ylabel 'KiB'
set yrange [0:*]
set offsets 0, 0, graph 0.18, 0 # room for the key above the curves
set size 1, 0.60
set origin 0, 0.33
$mark_cmds
plot '$trace' using 1:(\$4/1024) with steps lw 0.8 lc rgb '#cc79a7' title 'in flight', \
     '' using 1:(\$3 < 0 ? 1/0 : \$3/1024) with steps lw 1.5 lc rgb '#009e73' dt 2 title 'ssthresh', \
     '' using 1:(\$2/1024) with steps lw 1.5 lc rgb '#0072b2' title 'cwnd', \
     NaN with impulses lc rgb '#e69f00' lw 3 title 'fast recovery', \
     NaN with impulses lc rgb '#d55e00' lw 3 title 'timeout'
unset arrow
# Lower panel: RTT, in ms.
set tmargin 0.5
set bmargin 3
set format x '%g'
set xlabel 'time since the connection opened (s)'
set ylabel 'RTT (ms)'
set size 1, 0.33
set origin 0, 0
plot '$trace' using 1:(\$6 > 0 ? \$6 : 1/0) with points pt 7 ps 0.25 lc rgb '#999999' title 'RTT sample', \
     '' using 1:(\$5 > 0 ? \$5 : 1/0) with lines lw 1.2 lc rgb '#000000' title 'srtt'
unset multiplot
GP
echo "$out"
