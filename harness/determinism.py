"""One seed controls everything: python, numpy, torch, the HF seed and the loader shuffle."""

from __future__ import annotations

import os
import random


def seed_everything(seed: int, device: str) -> list[str]:
    """Seed every generator and enable deterministic algorithms; return notes on what could not be.

    The merlin dataloader shuffles with numpy's global state on CPU (cupy's on GPU), and the
    HF Trainer re-seeds python/numpy/torch from ``args.seed`` when it is built.
    """
    import numpy as np
    import torch

    notes: list[str] = []
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device == "cuda":
        from . import gpu

        notes.extend(gpu.configure_determinism(device, seed))
    else:
        torch.use_deterministic_algorithms(True)
    return notes
