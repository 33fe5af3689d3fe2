#!/usr/bin/env bash
# GPU smoke benchmark (issue #7): a small torch transformer on CUDA, measured with the harness's own
# GPU code (CUDA-synchronized stage timers, per-stage torch memory peaks, the NVML sampler, CUDA-event
# step timing, GPU health). Writes a run record and prints a summary. Runs in well under 5 minutes.
#
# Needs: Python >= 3.11 with a CUDA build of torch, nvidia-ml-py, jsonschema and psutil. No Merlin
# stack, no network. On an offline machine without jsonschema/psutil, set T4REC_WHEELS to a folder
# of wheels for them (pip download jsonschema psutil --only-binary=:all: --python-version 3.12 ...).
#
# Usage: OUT=<dir> benchmarks/gpu_smoke.sh [extra options of python -m benchmarks.gpu_smoke]
# Exit:  0 record written; 2 no GPU, a missing module or a failed run; 124 over 300 s.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3 || command -v python)}
out="${OUT:-.}/gpu-smoke-record.json"

if [ -n "${T4REC_WHEELS:-}" ] && ! "$PY" -c "import jsonschema, psutil" 2>/dev/null; then
  target=$(mktemp -d)
  "$PY" -m pip install --quiet --no-index --find-links "$T4REC_WHEELS" --target "$target" jsonschema psutil
  export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv,noheader || true
fi
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
  "cuda", torch.version.cuda)' 2>/dev/null || echo "torch is not importable with $PY"
exec timeout 300 "$PY" -m benchmarks.gpu_smoke --out "$out" "$@"
