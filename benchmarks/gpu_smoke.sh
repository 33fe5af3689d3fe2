#!/usr/bin/env bash
# GPU device check: a small torch transformer on CUDA, measured with the harness's own
# GPU code, and that measuring layer checked against itself (CUDA-synchronized stage times against CUDA
# events, torch peaks reset per stage, NVML per-process memory against torch's reserved bytes, clocks,
# power and throttle reasons read, repetitions under determinism equal). Two runs, A and B, each of
# --repeat repetitions pooled into one run record; `t4rec-bench compare` then judges B against A
# (written as a baseline), where jsonschema is installed. Runs in under 5 minutes: each run gets what
# is left of a 300 s budget.
#
# Needs: Python >= 3.11 with a CUDA build of torch, numpy, nvidia-ml-py and psutil (a stock GPU
# machine has them). No Merlin stack, no network. jsonschema (for the comparison, and to validate the
# records) is optional: without it the records are written unvalidated and the compare command to run
# elsewhere is printed. Offline, T4REC_WHEELS may name a folder of wheels to add first (jsonschema,
# jsonschema-specifications, referencing, rpds-py for the Python in use), installed with --no-deps.
#
# Usage: OUT=<dir> benchmarks/gpu_smoke.sh [extra options of python -m benchmarks.gpu_smoke]
# Writes: $OUT/gpu-smoke-a.json, $OUT/gpu-smoke-b.json, $OUT/gpu-smoke-baseline-a.json (with jsonschema),
#         $OUT/gpu-smoke-compare.txt (the comparison, with jsonschema).
# Exit:  0 both records written and every check passed; 4 a check failed (records written);
#        2 no GPU, a missing module or a failed run; 124 over the time budget; else compare's code.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3 || command -v python)}
out="${OUT:-.}"
mkdir -p "$out"
deadline=$((SECONDS + 300))

if [ -n "${T4REC_WHEELS:-}" ] && ! "$PY" -c "import jsonschema" 2>/dev/null; then
  target=$(mktemp -d)
  "$PY" -m pip install --quiet --no-index --no-deps --target "$target" "$T4REC_WHEELS"/*.whl
  export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,uuid,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv,noheader || true
fi
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
  "cuda", torch.version.cuda)' 2>/dev/null || echo "torch is not importable with $PY"

have_jsonschema=0
"$PY" -c "import jsonschema" 2>/dev/null && have_jsonschema=1
baseline=()
[ "$have_jsonschema" = 1 ] && baseline=(--baseline-out "$out/gpu-smoke-baseline-a.json")

status=0
smoke() {  # one run within what is left of the budget; 0 and 4 (a check failed) go on, the rest stop
  local left=$((deadline - SECONDS)) code=0
  [ "$left" -gt 0 ] || exit 124
  timeout "$left" "$PY" -m benchmarks.gpu_smoke "$@" || code=$?
  if [ "$code" != 0 ] && [ "$code" != 4 ]; then exit "$code"; fi
  [ "$code" = 0 ] || status=$code
}
echo "== run A"
smoke --out "$out/gpu-smoke-a.json" ${baseline[@]+"${baseline[@]}"} "$@"
echo "== run B"
smoke --out "$out/gpu-smoke-b.json" "$@"

compare=(-m harness.cli compare "$out/gpu-smoke-b.json" --baseline "$out/gpu-smoke-baseline-a.json")
if [ "$have_jsonschema" = 1 ]; then
  echo "== compare B against A"
  code=0
  "$PY" "${compare[@]}" --output "$out/gpu-smoke-compare.txt" || code=$?
  echo "compare exit code: $code"
  [ "$status" = 0 ] && status=$code
else
  echo "jsonschema is not installed here: where it is, write A as a baseline and compare B with it:"
  echo "  python -c 'from benchmarks import gpu_smoke as g; from harness.documents import record;" \
       "g.write_baseline(record.load(\"$out/gpu-smoke-a.json\"), \"$out/gpu-smoke-baseline-a.json\")'"
  echo "  python ${compare[*]}"
fi
exit "$status"
