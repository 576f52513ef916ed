#!/usr/bin/env bash
# Every benchmark on a CUDA device, the same table and JSON as `python -m benchmarks` (sized for
# well under 5 minutes on one H200), then the large GPU runs (regret_gpu.py, escape_gpu.py) when
# time is left. Run from the repository root:
#     bash benchmarks/gpu.sh [OUT_DIR]        # default OUT_DIR: benchmarks-gpu
# Fails at once, with a message, where CUDA is not available.
set -euo pipefail
out="${1:-benchmarks-gpu}"
python=${PYTHON:-python}
if ! "$python" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"benchmarks/gpu.sh: CUDA is not available (torch {torch.__version__}, cuda build "
             f"{torch.version.cuda}); run this on a machine with an NVIDIA GPU and a CUDA build of torch")
print(f"CUDA device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
PY
then
    exit 2
fi
mkdir -p "$out"
start=$(date +%s)
# The table: regret, nonconvex, escape and the optimizer on the device (the sampler's references, scipy and numpy, are CPU code).
timeout 240 "$python" -m benchmarks --device cuda --only regret,nonconvex,escape,optimizer --out "$out/benchmarks.json"
left=$((280 - ($(date +%s) - start)))
if [ "$left" -gt 60 ]; then
    timeout "$left" "$python" benchmarks/regret_gpu.py --budget-s $((left - 30)) --out "$out" || echo "regret_gpu.py stopped (time budget)"
fi
echo "wrote $out/benchmarks.json"
