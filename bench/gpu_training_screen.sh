#!/usr/bin/env bash
# Issue 14's training-side levers at a GPU's scale, in one prepared call, for a session lent a
# GPU machine: every run fine-tunes the shipped `genres` with the shipped recipe (models/genres.md,
# docs/quality.md "The nearest-take term": the manner and harmony terms, one critic step a
# generator step, Adam 2.53e-4, batch 64) side by side on the one GPU, a control without a lever
# among them, for TRAIN_S seconds, and brings back each run's last checkpoint and three before it
# (slim: no optimizer moments), with its log. A CPU screen (400 steps a run, sessions 41-42)
# could not tell a lever from the control's own drift; thousands of steps a run can.
#
#   here, once: the wheels as bench/gpu_checks.sh's header says (.whl/), and the phrase pack
#     .venv/bin/bytes2beats phrases --data ../shared/data/lpd --steps-per-beat 12 --out runs/lpd48.phrases.npz
#   then:  run(command="bash bench/gpu_training_screen.sh", carry=[".whl", "runs/lpd48.phrases.npz"], timeout_s=480)
#   (what travels: the working tree, about 46 MiB, the wheels 0.5 MB and the pack 14.4 MB, under
#   the tool's 64 MiB; what comes back: a 12 MB tar a run, at most 8 files. A lent session has 15
#   minutes of device time, the machine's start included: bench/gpu_checks.sh first, issue 18's,
#   then this on the machine still warm, with TRAIN_S what status's budget_left_s leaves less 150)
#   back here, each checkpoint read as issue 14 reads one (docs/quality.md, "The control with its
#   decoding refitted"): through the shipped decoding,
#     OMP_NUM_THREADS=1 PYTHONPATH=bench .venv/bin/python bench/classifier_groups.py --model genres \
#         --weights CHECKPOINT.pt --all-only --samples 1000
#   and through its own, refitted: `train --resume CHECKPOINT.pt --epochs N --out FILE`, then
#   `bytes2beats calibrate --model FILE --data runs/lpd48.phrases.npz` and the screen with --model FILE.
#   First, in a minute for every checkpoint at once, where each part's probabilities sit (the
#   control thins on the CPU as its mass greys below 0.5: docs/quality.md, "The fine-tune's
#   drift on the CPU, run on (session 48)"):
#     OMP_NUM_THREADS=1 PYTHONPATH=bench .venv/bin/python bench/probability_mass.py shipped CHECKPOINT.pt ...
#   Read a lever over its checkpoints against the controls' at the same steps, not against the
#   shipped file's figure: two draws of the shipped recipe read 86.6-94.7 % from checkpoint to
#   checkpoint on the CPU (docs/quality.md, "The shipped recipe drawn again").
#
# RUNS picks the runs (names below); TRAIN_S the seconds they train (the install and the packing
# take about a minute more); STEPS the critic steps between checkpoints.
# DEVICE=cpu PYTHON=.venv/bin/python TRAIN_S=150 STEPS=1 RUNS="control nearest64" bash bench/gpu_training_screen.sh:
# a dry run of the same commands here (a nearest64 step takes about a minute on this CPU).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-training-screen}
DEVICE=${DEVICE:-cuda}
TRAIN_S=${TRAIN_S:-330}
STEPS=${STEPS:-250}
RUNS=${RUNS:-"control variety nearest64 feature"}
PYTHON=${PYTHON:-python3}
DATA=${DATA:-runs/lpd48.phrases.npz}
WORK=${WORK:-/tmp/gpu-training-screen-work}
mkdir -p "$OUT" "$WORK"
[ -f "$DATA" ] || { echo "no phrase pack at $DATA (bytes2beats phrases, above)"; exit 1; }
if [ "$DEVICE" = cuda ]; then
    source bench/gpu_install.sh
fi
export PYTHONUNBUFFERED=1

lever() {  # a run's name -> what it adds to the recipe
    case $1 in
        control) ;;
        control-seed1) echo "--seed 1" ;;
        control-glr5) echo "--g-lr 5.06e-5" ;;  # the generator at a fifth of the rate: flat on the CPU (session 48)
        stochastic) echo "--binary-neurons stochastic" ;;  # the critic hears the mass below 0.5; on the CPU the drums fell silent (session 48)
        variety) echo "--critic-batch-variety" ;;  # docs/quality.md, "The critic's variety view"
        nearest64) echo "--nearest-take-loss 20 --nearest-take-view harmony --nearest-takes 64" ;;
        nearest64-notes) echo "--nearest-take-loss 300 --nearest-take-view notes --nearest-takes 64" ;;
        feature) echo "--feature-critic-loss 0.2" ;;  # docs/quality.md, "The feature critic"
        *) echo "unknown run $1" >&2; return 1 ;;
    esac
}

# Every run's threads share the machine's cores; a run's device work shares the one GPU.
threads=$(( $(nproc) / $(wc -w <<< "$RUNS") )); threads=$(( threads > 0 ? threads : 1 ))
pids=()
for name in $RUNS; do
    extra=$(lever "$name") || exit 1
    # shellcheck disable=SC2086  # the lever's flags are words
    OMP_NUM_THREADS=$threads timeout "$TRAIN_S" "$PYTHON" -m bytes2beats train --data "$DATA" \
        --out "$WORK/$name.safetensors" --run-dir "$WORK/$name" --device "$DEVICE" \
        --fine-tune genres --adapt all --g-lr 2.53e-4 --d-lr 2.53e-4 --n-critic 1 --batch-size 64 \
        --binary-neurons deterministic --harmony-loss 3 --harmony-notes-only \
        --harmony-tracks Piano,Guitar,Strings --harmony-anchors Bass --pitch-variety-loss 1 \
        --bar-fill-loss 10 --manner-loss 1 --manner-held-weight 4 \
        --steps-per-epoch "$STEPS" --epochs 100000 --checkpoint-every 1 --keep-checkpoints \
        --sample-every 100000 $extra > "$WORK/$name.log" 2>&1 &
    pids+=($!)
    echo "== $name: started ($extra; $threads threads)"
done
for pid in "${pids[@]}"; do wait "$pid"; done

# Each run's last checkpoint whole, and three before it (a quarter, half and three quarters of
# the way) without their optimizers' moments, 2 MB instead of 6: at the CPU's scale the recipe's
# own swing from checkpoint to checkpoint is larger than a lever's effect (docs/quality.md, "The
# shipped recipe drawn again"), so a run is read over several. A slim checkpoint reads as any
# (bench/classifier_groups.py --weights, bench/probability_mass.py) and resumes as a warm start's
# fresh moments would, which session 49 found trains alike. One file a run, with its log (the
# device tool brings back at most 8 files of 16 MiB).
slim() {  # CHECKPOINT OUT: the checkpoint with its optimizers' moments left out
    "$PYTHON" - "$1" "$2" <<'PY'
import sys

import torch

state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
for name in [key for key in state if key.startswith("opt_")]:
    state[name]["state"] = {}
torch.save(state, sys.argv[2])
PY
}
for name in $RUNS; do
    kept=("$WORK/$name"/checkpoints/epoch_*.pt)
    if [ ! -e "${kept[0]}" ]; then
        echo "== $name: no checkpoint ($(tail -c 300 "$WORK/$name.log" | tr '\r' '\n' | tail -n 2))"
        continue
    fi
    last=$(( ${#kept[@]} - 1 ))
    back="$WORK/$name/back"
    rm -rf "$back"; mkdir -p "$back"
    cp "${kept[$last]}" "$back/"
    for at in $(( last / 4 )) $(( last / 2 )) $(( 3 * last / 4 )); do
        [ "$at" -lt "$last" ] && [ ! -e "$back/$(basename "${kept[$at]}")" ] \
            && slim "${kept[$at]}" "$back/$(basename "${kept[$at]}")"
    done
    tr '\r' '\n' < "$WORK/$name.log" | grep -v '^$' | tail -n 20 > "$WORK/$name/train.log"
    tar -cf "$OUT/$name.tar" -C "$WORK/$name" train.log log.jsonl back
    echo "== $name: ${#kept[@]} checkpoints of $STEPS critic steps; brought back: $(ls "$back" | tr '\n' ' ')" \
        "($(du -h "$OUT/$name.tar" | cut -f1))"
done
