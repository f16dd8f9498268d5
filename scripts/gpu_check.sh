#!/usr/bin/env bash
# One short check on a GPU machine (about 4 minutes on one H100): images/s of AlexNet training
# on one GPU for fp32, bf16-mixed, channels_last and torch.compile, each on synthetic in-memory
# batches (the compute ceiling, plain PyTorch and through Trainer.fit) and through the real JPEG
# loader; then CPU versus GPU (nvJPEG) decoding, and the pre-resized copy of the data.
#
#   bash scripts/gpu_check.sh [output folder]        # default logs/gpu_check/<stamp>
#   GPU_CHECK_SMOKE=1 bash scripts/gpu_check.sh      # tiny sizes on the CPU: checks the script
#
# The data is generated: ImageNet-like 500x375 JPEGs in data/gpu_check/{copy,resize}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-logs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)}
DATA=data/gpu_check
mkdir -p "$OUT"

if [[ -n "${GPU_CHECK_SMOKE:-}" ]]; then
    PER_CLASS=20; SIZE=(data.image_size=64 data.batch_size=8 accelerator=cpu)
    WORKERS=1; TIMING=(warmup_batches=2 windows=2 window_batches=2)
else
    PER_CLASS=1000; SIZE=(data.image_size=224 data.batch_size=256 accelerator=gpu)
    WORKERS=$(nproc); TIMING=(warmup_batches=10 windows=5 window_batches=20)
fi

if [[ ! -f $DATA/resize/manifest.json ]]; then
    echo "== generating 4 x $PER_CLASS ImageNet-sized JPEGs under $DATA"
    $PY scripts/benchmark_subset.py --classes 4 --per-class "$PER_CLASS" --size 500x375 \
        --resize 160 --workers "$WORKERS" --keep "$DATA" --out "$OUT/subset.json"
fi

bench() {  # bench <case name> <data folder> [overrides...]
    local name=$1 root=$2
    shift 2
    echo "== $name"
    if ! $PY scripts/benchmark.py data=imagefolder data.root="$root" data.num_classes=null \
        data.num_workers="$WORKERS" "loader_workers=[$WORKERS]" decode_images=0 \
        memory_epochs=0 model.net.variant=seed "${SIZE[@]}" "${TIMING[@]}" \
        hydra.run.dir="$OUT/$name" "$@" >"$OUT/$name.out" 2>"$OUT/$name.log"; then
        tail -n 20 "$OUT/$name.log"
        exit 1
    fi
    tail -n 2 "$OUT/$name.out"
}

bench fp32 $DATA/copy precision=32-true
bench bf16 $DATA/copy precision=bf16-mixed
bench bf16_channels_last $DATA/copy precision=bf16-mixed model.channels_last=true
bench bf16_channels_last_compile $DATA/copy precision=bf16-mixed model.channels_last=true \
    model.compile=true
bench bf16_channels_last_gpu_decode $DATA/copy precision=bf16-mixed model.channels_last=true \
    data.decode_on_device=true
bench bf16_channels_last_resized160 $DATA/resize precision=bf16-mixed model.channels_last=true

$PY - "$OUT" <<'EOF'
"""One table of every case; the real loader's share of the synthetic rate is the target
(at least 80% for seed, 224 px, bf16-mixed, channels_last)."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
print(f"\n| case | plain loop, synthetic | Trainer.fit, synthetic | Trainer.fit, real loader "
      f"| real / synthetic | loader alone |\n|---|---|---|---|---|---|")
for path in sorted(out.glob("*/benchmark.json"), key=lambda p: p.stat().st_mtime):
    r = json.loads(path.read_text())
    loader = next(iter(r["loader_img_s"].values()))
    print(f"| {path.parent.name} | {r['compute_img_s']:.0f} | {r['lightning_img_s']:.0f} | "
          f"{r['end_to_end_img_s']:.0f} | {r['end_to_end_img_s'] / r['lightning_img_s']:.0%} | "
          f"{loader:.0f} |")
EOF
