"""harness.measure.numerics (what selects the numeric kernels), env.installed_distributions and the
fingerprint order."""

import pytest

from harness.documents import record
from harness.measure import environment as env
from harness.measure import numerics

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""
ZEN4 = (ZEN3.replace("model\t\t: 1", "model\t\t: 17")
        .replace("avx2 bmi2", "avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx_vnni bmi2"))
GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid sve
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x1
CPU part\t: 0xd40
CPU revision\t: 1
"""


def test_host_reads_identity_and_kernel_flags():
    assert numerics.host(ZEN3) == {
        "cpu": {"vendor": "AuthenticAMD", "family": 25, "model": 1, "stepping": 1, "model_name": "AMD EPYC"},
        "isa": ["avx", "avx2", "f16c", "fma", "sse4_2"]}
    assert numerics.host(ZEN4)["isa"] == ["avx", "avx2", "avx512_vnni", "avx512bw", "avx512dq", "avx512f",
                                          "avx512vl", "avx_vnni", "f16c", "fma", "sse4_2"]
    assert numerics.host(GRAVITON) == {
        "cpu": {"vendor": "0x41", "family": 8, "model": "0xd40", "stepping": 1, "model_name": None},
        "isa": ["asimd", "sve"]}
    assert numerics.host("") == {"cpu": dict.fromkeys(("vendor", "family", "model", "stepping", "model_name")),
                                 "isa": []}


def test_parse_torch_config():
    text = ("PyTorch built with:\n  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605\n"
            "  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa7)\n  - CPU capability usage: AVX2\n"
            "  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, LAPACK_INFO=mkl, TORCH_VERSION=2.13.0,\n")
    assert numerics.parse_torch_config(text) == {
        "blas": {"blas_info": "mkl", "lapack_info": "mkl", "mkl": "2024.2"}, "onednn": "3.12.0"}
    arm = "  - OpenBLAS 0.3.27\n  - Build settings: BLAS_INFO=open, LAPACK_INFO=open,\n"
    assert numerics.parse_torch_config(arm) == {"blas": {"blas_info": "open", "lapack_info": "open",
                                                         "openblas": "0.3.27"}, "onednn": None}


@pytest.fixture(scope="module")
def here():
    return numerics.collect()


def test_collect_on_this_host(here):
    assert set(here) == {"cpu", "isa", "numpy", "torch", "gpu", "fingerprint"}
    assert set(here["numpy"]) == {"version", "cpu_features", "dispatch_disabled"}
    features = here["numpy"]["cpu_features"]
    assert features == sorted(features) and "SSE2" in features
    assert set(here["torch"]) == {"version", "cpu_capability", "blas", "onednn", "threads"}
    assert here["torch"]["threads"] >= 1 and here["gpu"] == {}
    assert len(here["fingerprint"]) == 16 and here["fingerprint"] == numerics.fingerprint(here)
    assert numerics.collect()["fingerprint"] == here["fingerprint"]  # stable across calls


def test_fingerprint_tells_an_avx512_host_apart_but_not_a_renamed_cpu(here):
    avx512 = numerics.collect(cpuinfo=ZEN4)
    assert "avx512f" in avx512["isa"] and avx512["fingerprint"] != numerics.collect(cpuinfo=ZEN3)["fingerprint"]
    renamed = {**here, "cpu": {**here["cpu"], "model_name": "something else"}}
    assert numerics.fingerprint(renamed) == here["fingerprint"]
    assert numerics.fingerprint({**here, "numpy": {**here["numpy"], "dispatch_disabled": "AVX512_SKX"}}) \
        != here["fingerprint"]


def test_distributions_are_canonical_and_complete():
    dists = env.installed_distributions()
    assert dists["numpy"] and dists["t4rec-bench"] and dists["merlin-core"]
    assert all(name == env.canonical_name(name) for name in dists)
    assert env.canonical_name("Merlin_Core") == env.canonical_name("merlin.core") == "merlin-core"
    assert env.installed_distributions(path=[]) == {}


def test_the_first_of_a_name_wins_in_path_order():
    found = [("Zope.Interface", "6"), ("numpy", "2"), ("zope-interface", "5"), (None, "1")]
    assert env.by_canonical_name(found) == {"numpy": "2", "zope-interface": "6"}


def test_distribution_diff():
    base = {"distributions": {"numpy": "1.26.4", "torch": "2.1", "t4rec-bench": "0.1", "gone": "1"},
            "packages": {"numpy": "1.26.4"}}
    cur = {"distributions": {"numpy": "1.26.4", "torch": "2.2", "t4rec-bench": "0.2", "new": "3"}}
    assert env.distribution_diff(base, cur) == [("gone", "1", None), ("new", None, "3"), ("torch", "2.1", "2.2")]
    old = {"packages": {"numpy": "1.26.3", "cudf": None, "torch": "2.1", "t4rec-bench": "0.1", "only-old": "1"}}
    now = {"packages": {"numpy": "1.26.4", "cudf": None, "torch": "2.1", "t4rec-bench": "0.2"},
           "distributions": {"numpy": "1.26.4"}}
    assert env.distribution_diff(old, now) == [("numpy", "1.26.3", "1.26.4")]  # intersection of packages


def test_environment_fingerprint_covers_distributions():
    e = {"python": "3.11", "cpu_model": "AMD EPYC", "packages": {"numpy": "1"}, "cuda": {},
         "distributions": {"numpy": "1", "tzdata": "2024.1"}}
    assert env.fingerprint(e) != env.fingerprint({**e, "distributions": {**e["distributions"], "tzdata": "2025.1"}})
    assert env.fingerprint(e) == env.fingerprint({**e, "packages": {"numpy": "2"}})  # superseded
    old = {k: v for k, v in e.items() if k != "distributions"}
    assert env.fingerprint(old) != env.fingerprint({**old, "packages": {"numpy": "2"}})


def test_first_divergence_in_pipeline_order():
    base = {"synthetic": "s", "etl_output": "e", "splits": "p", "model_weights": "w", "metrics": "m"}
    assert record.first_divergence(base, dict(base)) is None
    assert record.first_divergence(base, {**base, "metrics": "M", "etl_output": "E"}) == ("etl_output", "e", "E")
    assert record.first_divergence(base, {**base, "model_weights": "W", "metrics": "M"}) == ("model_weights", "w", "W")
    old = {"etl_output": "e", "model_weights": "w", "metrics": "m"}  # no synthetic/splits: skipped
    assert record.first_divergence(old, {**base, "synthetic": "S", "splits": "P"}) is None
    assert record.first_divergence(old, {**base, "metrics": "M"}) == ("metrics", "m", "M")
    assert record.first_divergence({}, base) is None
