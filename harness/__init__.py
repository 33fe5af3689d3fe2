"""t4rec-bench: benchmark and regression harness for NVTabular + Transformers4Rec pipelines.

Public surface: run records (``harness.documents.record``), the runner (``harness.run.runner.run``),
configuration (``harness.config.build_config``) and the ``t4rec-bench`` command line.
"""

from pathlib import Path

__version__ = "0.1.0"

REPO_DIR = Path(__file__).resolve().parent.parent  # the checkout this harness runs from (its git work tree)
