#!/usr/bin/env bash
# The GPU check, in at most 4 minutes on one H200, making its data included. ONE table:
#   - the compute ceiling (plain PyTorch loop, batches already on the GPU): fp32, bf16,
#     bf16 + channels_last (the run's settings), and + torch.compile;
#   - the Lightning tax: Trainer.fit versus the plain loop on the same on-device batches;
#   - each data path end to end (jpeg-cpu, jpeg-gpu = nvJPEG, packed-host, packed-device) with
#     its share of the ceiling and of its own input rate.
# All cases run in ONE Python process (scripts/benchmark.py; its method: --help).
#
# Device command (the `run` tool; first, on the CPU machine: bash /work/shared/device/wheels.sh
# from the worktree root, then carry [".whl"], timeout_s 300):
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src PYTHON=python3 && bash scripts/gpu_check.sh $OUT/gpu_check
#
#   bash scripts/gpu_check.sh [output folder]        # default logs/gpu_check/<stamp>
#   GPU_CHECK_SMOKE=1 bash scripts/gpu_check.sh      # tiny sizes on the CPU: checks the script
# Data: data/gpu_check/{jpeg,packed} (GPU_CHECK_DATA to move it); kept for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export PYTHONPATH=${PYTHONPATH:-$PWD/src}
OUT=${1:-logs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)}
mkdir -p "$OUT"
CORES=$(nproc)

if [[ -n "${GPU_CHECK_SMOKE:-}" ]]; then
    DATA=${GPU_CHECK_DATA:-data/gpu_check_smoke}
    CLASSES=4; PER_CLASS=16; SIDE=73   # 73 = image_size 64 x 256/224
    RUN=(accelerator=cpu data.image_size=64 data.batch_size=8 data.num_workers=1
         warmup_batches=2 windows=2 window_batches=2
         "compute_cases={fp32: {precision: 32-true}, bf16: {precision: bf16-mixed}}")
else
    DATA=${GPU_CHECK_DATA:-data/gpu_check}
    CLASSES=8; PER_CLASS=600; SIDE=256
    RUN=(accelerator=gpu data.image_size=224 data.batch_size=256 data.num_workers="$CORES"
         precision=bf16-mixed model.channels_last=true
         warmup_batches=10 windows=3 window_batches=15
         "compute_cases={fp32: {precision: 32-true, channels_last: false},
                         bf16: {precision: bf16-mixed, channels_last: false},
                         bf16_channels_last_compile: {compile: true}}")
fi

if ! $PY -c "import psutil" 2>/dev/null; then
    # the GPU machine's bare python may lack it; a psutil wheel in .whl/ brings it there
    echo "== psutil is not installed: the table reports worker memory (PSS) as not measured"
fi

SECONDS=0
echo "== data: $CLASSES x $PER_CLASS photo-sized JPEGs (500x375), packed at $SIDE px"
$PY -m alexnet_lightning.dataset_tools.photo_like --dest "$DATA/jpeg" --classes "$CLASSES" \
    --per-class "$PER_CLASS" --size 500x375 --workers "$CORES"
if [[ ! -f $DATA/packed/manifest.json ]] || ! grep -q '"side": '"$SIDE" "$DATA/packed/manifest.json"; then
    rm -rf "$DATA/packed"
    $PY scripts/pack_dataset.py --source "$DATA/jpeg" --dest "$DATA/packed" --side "$SIDE" \
        --workers "$CORES" --no-progress
fi
echo "== data ready after ${SECONDS} s; measuring"

if ! $PY scripts/benchmark.py data=imagefolder data.root="$DATA/jpeg" data.num_classes=null \
    packed_root="$DATA/packed" model.net.variant=half "${RUN[@]}" \
    hydra.run.dir="$OUT" >"$OUT/benchmark.log" 2>&1; then
    tail -n 30 "$OUT/benchmark.log"
    exit 1
fi
echo
cat "$OUT/table.md"
echo "== gpu_check done in ${SECONDS} s; $OUT/benchmark.json has every window"
