"""t4rec-bench: benchmark and regression harness for NVTabular + Transformers4Rec pipelines.

Public surface: run records (``harness.record``), the runner (``harness.runner.run``),
configuration (``harness.config.build_config``) and the ``t4rec-bench`` command line.
"""

__version__ = "0.1.0"
