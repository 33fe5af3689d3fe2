"""Determinism: one seed controls everything (python, numpy, torch, the HF seed, the loader shuffle),
and on a GPU the settings that make torch, cuBLAS and cupy repeatable.

``seed_everything`` is what the pipeline and the DDP workers call; ``configure_determinism`` is its
GPU part (also used alone by the GPU smoke test). ``process_environment`` names the variables that only
work when a process starts with them (PYTHONHASHSEED, CUBLAS_WORKSPACE_CONFIG): the runner puts them in
the worker's environment. torch and cupy are imported inside functions; importing this module is cheap.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import warnings
from collections.abc import Mapping

CUBLAS_WORKSPACE_CONFIG = ":4096:8"
_CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")  # the two values cuBLAS documents as deterministic


def process_environment(seed: int, device: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The determinism variables a worker process must start with, to add to ``environ`` (its environment).

    PYTHONHASHSEED is read when the interpreter starts, CUBLAS_WORKSPACE_CONFIG when cuBLAS is first
    used: set inside the process they come too late for it (children still inherit them). On cuda a
    deterministic CUBLAS_WORKSPACE_CONFIG already in ``environ`` is kept.
    """
    out = {"PYTHONHASHSEED": str(seed)}
    if device == "cuda" and environ.get("CUBLAS_WORKSPACE_CONFIG") not in _CUBLAS_DETERMINISTIC:
        out["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE_CONFIG
    return out


def seed_everything(seed: int, device: str) -> list[str]:
    """Seed every generator and enable deterministic algorithms; return notes on what could not be.

    The merlin dataloader shuffles with numpy's global state on CPU (cupy's on GPU), and the
    HF Trainer re-seeds python/numpy/torch from ``args.seed`` when it is built. PYTHONHASHSEED set
    here reaches only child processes: the runner starts the worker with it (``process_environment``).
    On cpu, ops without a deterministic implementation raise; on cuda they warn and are listed
    (``nondeterministic_ops``).
    """
    import numpy as np
    import torch

    notes: list[str] = []
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device == "cuda":
        notes.extend(configure_determinism(device, seed))
    else:
        torch.use_deterministic_algorithms(True)
    return notes


# the two texts torch warns with under use_deterministic_algorithms(True, warn_only=True): an op with no
# deterministic version ("<op> does not have a deterministic implementation, but ..."), and a kernel whose
# default is not deterministic ("Memory Efficient attention defaults to a non-deterministic algorithm", seen
# on an H200 with torch 2.11, 2026-12-04)
_NONDETERMINISTIC_MARKS = (" does not have a deterministic implementation",
                           " defaults to a non-deterministic algorithm")
_nondeterministic: set[str] = set()
_HOOK_MARK = "_t4rec_hook"  # an attribute our showwarning wrapper carries, so it is installed once


def _install_nondeterminism_hook() -> None:
    """Wrap warnings.showwarning to note torch's "<op> does not have a deterministic ..." warnings."""
    if getattr(warnings.showwarning, _HOOK_MARK, False):
        return
    previous = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        for mark in _NONDETERMINISTIC_MARKS:
            if mark in text:
                _nondeterministic.add(text.split(mark, 1)[0].strip())
        return previous(message, category, filename, lineno, file, line)

    setattr(showwarning, _HOOK_MARK, True)
    warnings.showwarning = showwarning
    # once per call site, so a training loop does not flood stderr, and never silenced
    for mark in _NONDETERMINISTIC_MARKS:
        warnings.filterwarnings("default", message=f".*{mark}.*")


def listing_ops() -> bool:
    """True when this process notes torch's nondeterministic ops (configure_determinism ran)."""
    return bool(getattr(warnings.showwarning, _HOOK_MARK, False))


def nondeterministic_ops(clear: bool = False) -> list[str]:
    """Ops torch reported as having no deterministic implementation since configure_determinism()."""
    ops = sorted(_nondeterministic)
    if clear:
        _nondeterministic.clear()
    return ops


def _seed_cupy(seed: int, cupy=None) -> str:
    try:
        module = cupy if cupy is not None else importlib.import_module("cupy")
        module.random.seed(seed)
    except ImportError:
        return "cupy not importable: its global RandomState was not seeded"
    except Exception as exc:  # e.g. a cupy built for another CUDA: note it, go on
        return f"cupy could not be seeded ({type(exc).__name__}: {exc})"
    return f"cupy global RandomState seeded with {seed} (the merlin dataloader shuffles with it)"


def _set_cublas_workspace() -> str:
    current = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    if current in _CUBLAS_DETERMINISTIC:
        return f"CUBLAS_WORKSPACE_CONFIG={current} (in the environment the process started with)"
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE_CONFIG
    note = f"CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE_CONFIG}"
    if _cuda_initialized():
        note += " (set after CUDA was initialised: cuBLAS may ignore it in this process)"
    return note


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def configure_determinism(device: str, seed: int, cupy=None) -> list[str]:
    """Make this process as deterministic as torch allows; return notes for the run record.

    Call it before any CUDA work. On cuda: CUBLAS_WORKSPACE_CONFIG and cupy's global seed.
    Always: torch deterministic algorithms (warn_only: ops without a deterministic version warn
    and are listed by nondeterministic_ops()), cudnn benchmark off, torch seeded.
    """
    import torch

    notes = []
    if device == "cuda":
        notes.append(_set_cublas_workspace())
    _install_nondeterminism_hook()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(seed)
    notes.append("torch.use_deterministic_algorithms(True, warn_only=True); cudnn.benchmark off")
    notes.append(f"torch seeded with {seed}")
    if device == "cuda":
        notes.append(_seed_cupy(seed, cupy))
    return notes
