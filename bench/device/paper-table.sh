#!/bin/bash
# The 16-label segmentation table at the recipes' own sizes (10,000 synthetic
# images, 10 members, 10% dropped, 8,000 downstream steps), 3 seeds, on one
# GPU. Run it on the lent device machine (docs/results.md, "On a GPU"):
#
#   bench/device/prepare.sh                      # here: the dgan wheel into .whl/
#   device run: bash bench/device/paper-table.sh  (carry .whl; OUT set by the tool)
#
# The GPU is idle most of the time a small toy job runs, so the seeds (and the
# paths) run as parallel processes on it. Summaries and logs land in $OUT.
# PART=1 runs DatasetGAN + few-shot, PART=2 HandsOff + full supervision: each
# fits one 10-minute device command. SMOKE=1 shrinks every size (a CPU check
# of the plumbing; its figures mean nothing).
set -uo pipefail
OUT=${OUT:-runs/device-out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export DGAN_DEVICE=${DGAN_DEVICE:-cuda} PYTHONUNBUFFERED=1
PART=${PART:-1}
SIZES=()
[ "${SMOKE:-0}" = 1 ] && SIZES=(--set synth_images=40 --set eval_steps=20 --set curve_every=10 --set members=2 --set invert_steps=5)
LE=recipes/toy/label-efficiency.toml
BASE=recipes/toy/baselines.toml
LE_ROOT=(--set root=runs/gpu/label-efficiency --set labels=16)
BASE_ROOT=(--set root=runs/gpu/baselines --set head=segmentation)
BASE_SIZES=(); [ "${SMOKE:-0}" = 1 ] && BASE_SIZES=(--set eval_steps=20 --set curve_every=10)
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null | tee "$OUT/gpu.txt"
start=$(date +%s)

# the inputs every parallel process shares, made once (markers make the processes skip them)
dgan run $LE "${LE_ROOT[@]}" "${SIZES[@]}" --only real-test --only real-train --only sample --only import \
  > "$OUT/shared.log" 2>&1 || { tail -n 5 "$OUT/shared.log"; exit 1; }
dgan run $BASE "${BASE_ROOT[@]}" "${BASE_SIZES[@]}" --only real-train --only real-full --only real-test \
  >> "$OUT/shared.log" 2>&1 || { tail -n 5 "$OUT/shared.log"; exit 1; }
if [ "$PART" = 2 ]; then
  dgan run $LE "${LE_ROOT[@]}" "${SIZES[@]}" --only invert >> "$OUT/shared.log" 2>&1 || { tail -n 5 "$OUT/shared.log"; exit 1; }
  PATH_STAGES=(--only train-handsoff --only synth-handsoff --only handsoff); BASE_STAGE=full
else
  PATH_STAGES=(--only train-datasetgan --only synth-datasetgan --only datasetgan); BASE_STAGE=few-shot
fi
pids=()
for s in 0 1 2; do
  dgan run $LE "${LE_ROOT[@]}" "${SIZES[@]}" --set seed=$s "${PATH_STAGES[@]}" > "$OUT/path-seed$s.log" 2>&1 &
  pids+=($!)
  dgan run $BASE "${BASE_ROOT[@]}" "${BASE_SIZES[@]}" --set seed=$s --only $BASE_STAGE > "$OUT/$BASE_STAGE-seed$s.log" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
echo "part $PART: $(( $(date +%s) - start )) s, failed=$failed" | tee "$OUT/time.txt"

# collect what is finished (every stage is marked done, so nothing reruns)
dgan run $LE "${LE_ROOT[@]}" "${SIZES[@]}" "${PATH_STAGES[@]: -2}" --json "$OUT/part$PART-path.json" > /dev/null 2>&1
dgan run $BASE "${BASE_ROOT[@]}" "${BASE_SIZES[@]}" --only $BASE_STAGE --json "$OUT/part$PART-$BASE_STAGE.json" > /dev/null 2>&1
tail -n 3 "$OUT"/*seed*.log
exit $failed
