"""The tutorial's XLNet-MLM next-item model."""

from __future__ import annotations

from harness.config import ModelConfig


def build(cfg: ModelConfig, schema, max_sequence_length: int, d_model: int | None = None):
    """TabularSequenceFeatures -> MLPBlock -> XLNet -> NextItemPredictionTask (weight tying)."""
    from transformers4rec import torch as tr
    from transformers4rec.torch.ranking_metric import NDCGAt

    from harness.pipeline.workarounds import RecallAt

    d_model = d_model or cfg.d_model
    inputs = tr.TabularSequenceFeatures.from_schema(
        schema,
        max_sequence_length=max_sequence_length,
        continuous_projection=cfg.continuous_projection,
        d_output=cfg.d_output,
        masking="mlm",
    )
    transformer_config = tr.XLNetConfig.build(
        d_model=d_model, n_head=cfg.n_head, n_layer=cfg.n_layer, total_seq_length=max_sequence_length
    )
    body = tr.SequentialBlock(
        inputs, tr.MLPBlock(list(cfg.mlp_layers)), tr.TransformerBlock(transformer_config, masking=inputs.masking)
    )
    metrics = [NDCGAt(top_ks=list(cfg.top_ks), labels_onehot=True),
               RecallAt(top_ks=list(cfg.top_ks), labels_onehot=True)]
    # hf_format=... was removed upstream (TypeError); the default output is what the Trainer expects.
    head = tr.Head(body, tr.NextItemPredictionTask(weight_tying=True, metrics=metrics), inputs=inputs)
    return tr.Model(head)
