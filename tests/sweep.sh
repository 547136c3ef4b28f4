#!/usr/bin/env bash
# tests/sweep.sh -- the full hostile-network sweep (make sweep; long).
#
# Profiles {classic -U on both ends; loss 10%; loss 25% + reorder 10% +
# dup 5% + corrupt 2%} x sizes {0, 1, 536, 3073, 1 MiB} x SEEDS seeds, and
# 16 MiB under the classic profile; every transfer compared byte for byte.
# SEEDS defaults to 10.  Last line: "sweep: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
SEEDS=${SEEDS:-10}
SIZES="0 1 536 3073 1048576"
for s in $SIZES 16777216; do make_file "f$s" "$s"; done

sweep() { # sweep LABEL NETEM SIZES
    local label=$1 netem=$2 sizes=$3 seed start
    for seed in $(seq "$SEEDS"); do
        local em="seed=$seed"
        [ -n "$netem" ] && em="$netem,seed=$seed"
        [ "$label" = classic ] && em="loss=0.03125,dup=0.03125,reorder=0.03125,seed=$seed"
        STCP_NETEM=$em start_server -U || return
        for s in $sizes; do
            start=$SECONDS
            STCP_NETEM=$em check "$label seed $seed: $s bytes" fetch "f$s" -U
            echo "# $label seed $seed $s bytes: $((SECONDS - start)) s"
        done
        stop_server
    done
}
sweep classic "" "$SIZES 16777216"
sweep "loss 10%" "loss=0.10" "$SIZES"
sweep "loss 25% reorder 10% dup 5% corrupt 2%" "loss=0.25,reorder=0.10,dup=0.05,corrupt=0.02" "$SIZES"
summary sweep
[ "$FAILED" -eq 0 ]
