"""Workarounds for upstream bugs in the pinned stack (stack-facts.md).

Each one has a test in tests/pipeline/test_workarounds.py that asserts the upstream bug is still
there; when an upgrade fixes it, that test fails and says which workaround to delete.
"""

from __future__ import annotations

import gc


def wipe_memory() -> None:
    """``Trainer.wipe_memory()`` is gone: collect garbage and empty the CUDA cache."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _recall_metric(ks, scores, labels):
    """Recall@k; upstream's ``squeeze()`` turns a one-row batch into a 0-d tensor and crashes."""
    import torch
    from transformers4rec.torch.utils import torch_utils

    ks, scores, labels = torch_utils.check_inputs(ks, scores, labels)
    _, _, topk_labels = torch_utils.extract_topk(ks, scores, labels)
    recalls = torch_utils.create_output_placeholder(scores, ks)
    num_relevant = torch.sum(labels, dim=-1)
    rel_indices = (num_relevant != 0).nonzero().squeeze(-1)
    rel_count = num_relevant[rel_indices]
    if rel_indices.shape[0] > 0:
        for index, k in enumerate(ks):
            rel_labels = topk_labels[rel_indices, : int(k)]
            recalls[rel_indices, index] = torch.div(torch.sum(rel_labels, dim=-1), rel_count).to(torch.float32)
    return recalls


def _make_recall_class():
    from transformers4rec.torch.ranking_metric import RecallAt as _UpstreamRecallAt

    class RecallAt(_UpstreamRecallAt):  # same class name, so metric keys stay recall_at_K
        def _metric(self, ks, scores, labels):
            return _recall_metric(ks, scores, labels)

    return RecallAt


def __getattr__(name):  # lazy, so importing this module does not import torch
    if name == "RecallAt":
        cls = _make_recall_class()
        globals()["RecallAt"] = cls
        return cls
    raise AttributeError(name)
