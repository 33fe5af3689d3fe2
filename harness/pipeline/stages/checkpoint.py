"""Save the trained model, reload it into a fresh model, and re-evaluate the last day."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def save(trainer) -> Path:
    trainer._save_model_and_checkpoint(save_model_class=True)
    return Path(trainer.args.output_dir) / f"checkpoint-{trainer.state.global_step}"


def load_weights(model, checkpoint: Path):
    """Load saved weights into ``model``; ``weights_only`` so no pickled code runs.

    Upstream's ``load_model_trainer_states_from_checkpoint`` unpickles the model class with
    cloudpickle and raises KeyError('cuda') without CUDA (stack-facts.md), so it is not used.
    """
    import torch

    state = torch.load(os.path.join(checkpoint, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
