"""Each upstream bug the harness works around is asserted to be still there.

When an upgrade fixes one, its test here fails: delete the workaround it names.
"""

from __future__ import annotations

import pytest
import torch


def test_categorify_start_index_is_rejected():
    # workaround: etl.build_workflow uses Categorify() (values start at 3)
    import nvtabular as nvt

    with pytest.raises(ValueError):
        nvt.ops.Categorify(start_index=1)


def test_preprocessing_module_is_gone():
    # workaround: harness.pipeline.stages.splits is our own split function
    with pytest.raises(ImportError):
        import transformers4rec.data.preprocessing  # noqa: F401


def test_upstream_cpu_splits_fall_through_to_gpu(tmp_path):
    # workaround: harness.pipeline.stages.splits
    import pandas as pd
    from merlin.io import Dataset
    from transformers4rec.utils.data_utils import save_time_based_splits

    df = pd.DataFrame({"day": [1, 1, 2], "ts": [1, 2, 3]})
    with pytest.raises((ValueError, AttributeError, ImportError)):
        save_time_based_splits(Dataset(df), str(tmp_path), partition_col="day", timestamp_col="ts", cpu=True)


def test_trainer_wipe_memory_is_gone():
    # workaround: harness.pipeline.workarounds.wipe_memory
    from transformers4rec.torch import Trainer

    assert not hasattr(Trainer, "wipe_memory")


def test_hf_format_argument_is_gone():
    # workaround: harness.pipeline.stages.model builds NextItemPredictionTask without hf_format
    from transformers4rec import torch as tr

    with pytest.raises(TypeError):
        tr.NextItemPredictionTask(weight_tying=True, hf_format=True)


def test_upstream_recall_breaks_on_one_relevant_row_and_ours_does_not():
    # workaround: harness.pipeline.workarounds.RecallAt
    from transformers4rec.torch.ranking_metric import RecallAt as Upstream

    from harness.pipeline.workarounds import RecallAt

    scores = torch.tensor([[0.1, 0.9, 0.3, 0.2]])
    labels = torch.tensor([1])
    with pytest.raises((IndexError, RuntimeError)):
        Upstream(top_ks=[2], labels_onehot=True)(scores, labels)
    assert RecallAt(top_ks=[2], labels_onehot=True)(scores, labels).item() == 1.0  # item 1 scores highest
    many = torch.tensor([[0.1, 0.9, 0.3, 0.2], [0.8, 0.1, 0.0, 0.3], [0.2, 0.1, 0.6, 0.5]])
    target = torch.tensor([1, 3, 0])
    ours = RecallAt(top_ks=[1, 2], labels_onehot=True)(many, target)
    theirs = Upstream(top_ks=[1, 2], labels_onehot=True)(many, target)
    assert torch.equal(ours, theirs)
    assert RecallAt.__name__ == "RecallAt"  # metric keys stay recall_at_K


def test_upstream_checkpoint_loader_needs_cuda(tmp_path):
    # workaround: harness.pipeline.stages.checkpoint.load_weights (weights_only, no CUDA RNG restore)
    if torch.cuda.is_available():
        pytest.skip("the bug only shows without CUDA")
    from transformers4rec.torch import Trainer

    torch.save({"python": __import__("random").getstate(), "numpy": __import__("numpy").random.get_state(),
                "cpu": torch.random.get_rng_state()}, tmp_path / "rng_state.pth")
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    trainer = Trainer.__new__(Trainer)  # only the loader method is exercised
    # torch >= 2.6 loads with weights_only=True and already fails on the numpy RNG state;
    # older torch gets past that and raises KeyError('cuda'). Either way it cannot load here.
    import pickle

    with pytest.raises((KeyError, RuntimeError, pickle.UnpicklingError)):
        Trainer.load_model_trainer_states_from_checkpoint(trainer, str(tmp_path), model=model)


def test_schema_without_tags_has_no_item_id(tmp_path):
    # workaround: harness.pipeline.stages.schema.tag adds ITEM_ID and CONTINUOUS
    import nvtabular as nvt
    import pandas as pd
    from merlin.schema import Tags

    from harness.config import EtlConfig
    from harness.pipeline.stages import etl, schema

    df = pd.DataFrame({"session_id": [1, 1, 2, 2], "item_id": [5, 6, 7, 8], "category": [1, 1, 2, 2],
                       "timestamp/age_days": [0.1] * 4, "timestamp/weekday/sin": [0.2] * 4, "day": [1] * 4,
                       etl.ROW_ORDER: range(4)})
    wf = etl.build_workflow(EtlConfig(), tmp_path)
    wf.fit(nvt.Dataset(df, cpu=True))
    raw = wf.output_schema.select_by_name(list(schema.FEATURES))
    assert not raw.select_by_tag(Tags.ITEM_ID).column_names
    assert not raw.select_by_tag(Tags.CONTINUOUS).column_names
    tagged = schema.tag(wf.output_schema)
    assert tagged.select_by_tag(Tags.ITEM_ID).column_names == [schema.ITEM_ID]
    assert sorted(tagged.select_by_tag(Tags.CONTINUOUS).column_names) == sorted(schema.CONTINUOUS)


@pytest.mark.slow
def test_categorify_breaks_frequency_ties_with_an_unstable_sort(tmp_path, monkeypatch):
    # not worked around, recorded: Categorify orders categories by frequency with pandas'
    # default quicksort (nvtabular/ops/categorify.py), so the order of equal counts, and with it
    # every encoded id, is whatever the sort does with ties. numpy 1.26 sorts with AVX-512
    # kernels where the CPU has them and with its own introsort elsewhere, so hosts of one
    # machine class can encode (and score) differently: the record's numerics fingerprint names
    # the host's kernels (docs/usage.md, "Quality across hosts"). When upstream sorts stably, this fails.
    import pandas.core.frame as pandas_frame
    import pandas.core.sorting as pandas_sorting

    from harness.config import build_config
    from harness.pipeline.chain import etl_fingerprint
    from harness.pipeline.stages import etl, synthetic

    config = build_config("smoke", {"data.rows": 20000})
    raw = synthetic.generate(config.data, config.seed, tmp_path / "raw")

    def fingerprint(kind: str | None, where: str) -> str:
        original = pandas_sorting.nargsort
        if kind:
            monkeypatch.setattr(pandas_frame, "nargsort", lambda items, **kw: original(items, **{**kw, "kind": kind}))
        out = etl.run(config.etl, raw.path, raw.rows, tmp_path / where)
        monkeypatch.undo()
        return etl_fingerprint(out.output_path)

    default = fingerprint(None, "default")
    assert fingerprint("quicksort", "quicksort") == default  # the patch itself changes nothing
    assert fingerprint("stable", "stable") != default
