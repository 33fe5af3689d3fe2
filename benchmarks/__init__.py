"""asv benchmark suites for t4rec-bench: thin wrappers over the harness (see asv.conf.json).

Modules:
  pipeline   track_ benchmarks read from ONE harness run record per profile and commit
             (stage wall/CPU times, throughput, peak host and GPU memory, ranking metrics, loss)
  stages     time_ and peakmem_ benchmarks of the ETL transform and one training epoch

Environment variables (read when asv discovers and runs the suites):
  T4REC_BENCH_PROFILES    comma-separated profiles to run (default "nightly"; "smoke" for quick checks).
                          Every benchmark is parameterised by profile over smoke and nightly (plus any
                          other profile named here); profiles not selected are skipped (n/a).
  T4REC_BENCH_RECORD_DIR  if set, each run record is also appended to this history folder
                          (``t4rec-bench nightly`` points it at reports/history).
  T4REC_BENCH_COMMIT      commit to stamp into the record when asv does not say (``-E existing``);
                          with managed environments asv's own ASV_COMMIT is used.
  T4REC_BENCH_DEVICE      cpu (default) or cuda.
"""
