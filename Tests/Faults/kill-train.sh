#!/usr/bin/env bash
# Tests/Faults/kill-train.sh [TRIALS] [DSC]
#
# kill -9 of `dsc train` at random moments. The output path starts with a
# complete model (the "previous" one); dsc trains a 784-32-10 network on a
# small synthetic MNIST (make_idx.py) for many epochs, writing a checkpoint
# to the output path after every epoch (~20 ms per epoch in a release build,
# most of it spent writing and fsyncing the 300 KB checkpoint), and is killed
# with SIGKILL after a random delay of 0-600 ms. Afterwards the output path
# must hold a complete model that `dsc inspect` accepts (every byte checked
# by the XXH64 checksum): the previous model byte for byte, or a checkpoint
# of the killed run. A temporary file left beside it (model.dsm.tmp-PID)
# shows the kill landed inside a write (between creating the temporary file
# and renaming it); such leftovers are counted and removed.
#
# Prints one line per trial and a summary; exit status 1 if any trial left
# anything but a complete model. DSC defaults to .build/release/dsc.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TRIALS="${1:-50}"
DSC="${2:-$ROOT/.build/release/dsc}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/Tests/Faults/make_idx.py" "$WORK/data" 1000 200
"$DSC" train --data "$WORK/data" --hidden 32 --epochs 1 --dev 0 --threads 1 --batch 100 -o "$WORK/previous.dsm" >/dev/null 2>&1 \
    || { echo "kill-train.sh: the baseline training failed" >&2; exit 2; }
previous=$(sha256sum < "$WORK/previous.dsm")

kept=0; checkpoints=0; midwrite=0; bad=0
for ((t = 1; t <= TRIALS; t++)); do
    out="$WORK/out-$t"
    mkdir "$out"
    cp "$WORK/previous.dsm" "$out/model.dsm"
    delay=$(python3 -c "import random; print(f'{random.uniform(0, 0.6):.3f}')")
    "$DSC" train --data "$WORK/data" --hidden 32 --epochs 100000 --checkpoint-every 1 --dev 0 --threads 1 \
        --batch 100 --seed "$t" -o "$out/model.dsm" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    leftovers=$(find "$out" -name 'model.dsm.tmp-*' | wc -l)
    [ "$leftovers" -gt 0 ] && midwrite=$((midwrite + 1))
    if ! "$DSC" inspect "$out/model.dsm" >/dev/null 2>"$out/err"; then
        verdict="BROKEN: $(cat "$out/err")"; bad=$((bad + 1))
    elif [ "$(sha256sum < "$out/model.dsm")" = "$previous" ]; then
        verdict="previous model"; kept=$((kept + 1))
    elif "$DSC" inspect --json "$out/model.dsm" | grep -q '"checkpoint" : true'; then
        epochs=$("$DSC" inspect --json "$out/model.dsm" | grep -o '"checkpoint.epochs_done" : [0-9]*' | grep -o '[0-9]*$')
        verdict="checkpoint after ${epochs:-?} epochs"; checkpoints=$((checkpoints + 1))
    else
        verdict="BROKEN: a complete model that is neither the previous one nor a checkpoint"; bad=$((bad + 1))
    fi
    printf 'trial %2d: killed after %s s: %s%s\n' "$t" "$delay" "$verdict" \
        "$([ "$leftovers" -gt 0 ] && echo " (killed inside a write: temporary file left)")"
    rm -rf "$out"
done
echo "$TRIALS trials: $kept previous model, $checkpoints new checkpoint, $bad broken; $midwrite killed inside a write"
[ "$bad" -eq 0 ]
