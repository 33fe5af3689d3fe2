"""The ETL output's fingerprint under each way of ordering ties in Categorify's frequency sort.

    .venv/bin/python benchmarks/etl_tie_orders.py                  # default stable heapsort random1 random2
    NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL" \\
        .venv/bin/python benchmarks/etl_tie_orders.py default      # on an AVX-512 host: numpy's AVX2 path

NVTabular's Categorify orders categories by frequency with pandas' default quicksort, which is not
stable, so the encoding of equal counts depends on the sort (docs/usage.md, "Quality across hosts"). This
runs the ci workload's synthetic data and ETL once per mode and prints one JSON line each: the
synthetic and ETL fingerprints. ``default`` is the pipeline as it runs; ``stable``/``heapsort``
force that sort kind; ``randomN`` breaks ties at random (seed N). On a host whose ``default``
differs from this machine's, compare it with the NPY_DISABLE_CPU_FEATURES run above.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np


def _argsort(original, mode: str):
    def nargsort(items, kind="quicksort", **kw):
        if mode == "default":
            return original(items, kind=kind, **kw)
        if not mode.startswith("random"):
            return original(items, kind=mode, **kw)
        stable = original(items, kind="stable", **kw)
        values = np.asarray(items)[stable]
        runs = np.concatenate([[0], np.cumsum(values[1:] != values[:-1])]) if len(values) else values
        noise = np.random.default_rng(int(mode[6:] or 0)).random(len(stable))
        return stable[np.lexsort((noise, runs))]  # value order kept, ties shuffled
    return nargsort


def main(modes: list[str]) -> int:
    warnings.filterwarnings("ignore")
    import pandas.core.frame as pandas_frame
    import pandas.core.sorting as pandas_sorting

    from harness.config import build_config
    from harness.pipeline.chain import etl_fingerprint
    from harness.pipeline.stages import etl, synthetic

    original, config = pandas_sorting.nargsort, build_config("ci")
    for mode in modes:
        pandas_frame.nargsort = _argsort(original, mode)
        with tempfile.TemporaryDirectory() as tmp:
            raw = synthetic.generate(config.data, config.seed, Path(tmp) / "raw")
            out = etl.run(config.etl, raw.path, raw.rows, Path(tmp))
            print(json.dumps({"mode": mode, "synthetic": etl_fingerprint(raw.path),
                              "etl_output": etl_fingerprint(out.output_path)}), flush=True)
    pandas_frame.nargsort = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["default", "stable", "heapsort", "random1", "random2"]))
