import pytest

from harness import config
from harness.config import FaultConfig, RunConfig, build_config, config_from_dict, profile_names
from harness.errors import HarnessError


def test_profiles_exist_and_validate():
    assert {"smoke", "ci", "seed", "nightly", "scale"} <= set(profile_names())
    for name in profile_names():
        assert build_config(name).profile == name


def test_seed_profile_is_exactly_the_tutorial():
    c = build_config("seed")
    assert (c.data.rows, c.data.sessions) == (100_000, 10_000)
    assert (c.train.train_batch_size, c.train.eval_batch_size, c.train.epochs) == (256, 32, 5)
    assert (c.train.learning_rate, c.train.cosine_cycles_per_epoch) == (5e-4, 1.5)
    assert (c.train.first_day, c.train.last_day) == (1, 6)
    assert (c.model.d_model, c.model.n_head, c.model.n_layer, c.model.d_output) == (64, 4, 2, 100)


def test_sessions_scale_with_rows():
    assert build_config("nightly").data.sessions == 100_000
    assert build_config("scale").data.sessions == 1_000_000


def test_overrides_apply_after_profile():
    c = build_config("ci", {"train.epochs": "3", "seed": 7})
    assert c.train.epochs == 3 and c.seed == 7 and c.data.rows == build_config("ci").data.rows


@pytest.mark.parametrize("overrides, message", [
    ({"train.epoch": 1}, "did you mean 'epochs'"),
    ({"train.epochs": 0}, "train.epochs=0"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"train.last_day": 9}, "train.last_day=9"),
    ({"data.rows": "many"}, "not a valid int"),
    ({"faults.slowdown_stage": "etll"}, "faults.slowdown_stage"),
    ({"faults.slowdown_kind": "nap"}, "faults.slowdown_kind=.nap.: must be one of spin, sleep"),
])
def test_bad_values_name_the_field(overrides, message):
    with pytest.raises(HarnessError, match=message):
        build_config("smoke", overrides)


def test_stage_lists_are_selections_of_the_one_list_in_its_order():
    for chosen in (config.tutorial_stages(), config.growing_stages()):
        assert chosen and list(chosen) == [s for s in config.STAGE_ORDER if s in chosen]
    assert "total" in config.growing_stages() and "schema" not in config.growing_stages()
    assert {"imports", "cluster", "total"}.isdisjoint(config.tutorial_stages())


@pytest.mark.parametrize("stage", ["evaluate", "checkpoint", "synthetic"])
def test_a_fault_can_be_planted_in_each_step_of_the_tutorial(stage):
    assert build_config("smoke", {"faults.slowdown_stage": stage}).faults.slowdown_stage == stage


@pytest.mark.parametrize("stage", ["imports", "cluster", "total"])
def test_a_fault_cannot_be_planted_outside_the_tutorial(stage):
    with pytest.raises(HarnessError, match=f"faults.hang_stage='{stage}': must be one of synthetic, "):
        build_config("smoke", {"faults.hang_stage": stage})


def test_unknown_profile_suggests():
    with pytest.raises(HarnessError, match="did you mean 'smoke'"):
        build_config("smok")


def test_hashes_separate_workload_from_observation():
    a = build_config("smoke")
    b = build_config("smoke", {"instrument": False, "stage_timeout_s": 5})
    c = build_config("smoke", {"train.epochs": 2})
    assert a.workload_hash() == b.workload_hash() != c.workload_hash()
    assert a.hash() != b.hash()


def test_faults_are_off_by_default_and_listed_when_set():
    assert RunConfig().faults.active() == {}
    assert FaultConfig(lr_scale=2.0, ballast_mb=200).active() == {"lr_scale": 2.0, "ballast_mb": 200}


def test_config_round_trips_through_dict():
    c = build_config("ci", {"faults.ballast_mb": 10})
    assert config_from_dict(c.to_dict()) == c
