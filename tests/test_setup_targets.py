"""The supported GPU setups as make targets (README, "GPU machines"), their pins, and `t4rec-bench stack`.

`make -n` prints what each target would run, without running it; the stack check runs for real
against this environment's installed distributions (read with importlib.metadata).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from harness import REPO_DIR, cli
from harness.documents import constraints
from harness.errors import EXIT_ERROR, EXIT_NO_BASELINE, EXIT_OK
from harness.measure import environment as envmod

PYPROJECT = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())


def _make_n(*args: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # not the calling make's flags
    out = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO_DIR), *args], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return [line.strip() for line in out.stdout.replace("\\\n", " ").splitlines() if line.strip()]


# ---- make setup-container: the harness alone, into the container's Python -------------------

def test_setup_container_installs_the_harness_alone_into_the_given_python():
    python = "/opt/container/bin/python3"
    lines = _make_n("setup-container", f"CONTAINER_PYTHON={python}")
    text = " ".join(lines)
    install = next(line for line in lines if f"{python} -m pip install" in line)
    # every installed distribution pinned at its installed version, the harness itself excepted
    assert f"{python} -m pip list --format=freeze" in text and "grep -iv '^t4rec[-_]bench=='" in text
    assert re.search(r'-m pip install --disable-pip-version-check -c "\$frozen" -e \.$', install)
    # nothing of the stack: no extra, no stack constraints, no upgrade, no other Python, no venv
    for absent in (".[", "constraints-cpu-torch", "constraints-cuda-torch", "--upgrade", " -U ", "venv",
                   "--force-reinstall"):
        assert absent not in text, absent
    assert all(python in line for line in lines if " -m " in line)
    assert lines[-1].startswith(f"{python} -m harness.cli stack --constraints constraints.txt;")


def test_setup_container_tolerates_only_the_stacks_exit_code():
    lines = _make_n("setup-container", "CONTAINER_PYTHON=python3")
    assert lines[-1].endswith("[ $rc -eq 0 ] || [ $rc -eq 3 ] || exit $rc")
    assert EXIT_NO_BASELINE == 3  # the code `stack` returns when versions differ


# ---- make setup-gpu: CUDA torch, pandas ETL, its own venv -------------------------------------

def test_setup_gpu_uses_its_own_venv_and_the_cuda_torch(tmp_path):
    venv = tmp_path / "gpu-venv"
    lines = _make_n("setup-gpu", f"GPU_VENV={venv}")
    text = " ".join(lines)
    assert f"-m venv {venv}" in text
    install = next(line for line in lines if "-e " in line)
    assert install.startswith(f"{venv}/bin/python -m pip install")
    assert "-c constraints.txt -c constraints-cuda-torch.txt" in install
    assert '-e ".[pipeline,report,test]"' in install  # no cpu extra: it would pin the CPU torch
    assert "constraints-cpu-torch" not in text and "cpu]" not in text
    assert not re.search(r"(?<![\w-])\.venv/", text), "setup-gpu must never touch .venv"
    assert any("torch.version.cuda" in line and "transformers4rec.torch" in line for line in lines)


def test_setup_and_setup_gpu_pin_different_torch_builds():
    def pin(name: str) -> str:
        return constraints.read_pins(REPO_DIR / name)["torch"]

    assert "torch" not in constraints.read_pins(REPO_DIR / "constraints.txt")
    assert pin("constraints-cuda-torch.txt") != pin("constraints-cpu-torch.txt")
    assert f"torch=={pin('constraints-cpu-torch.txt')}" in PYPROJECT["project"]["optional-dependencies"]["cpu"]


# ---- make setup: every distribution pinned (constraints-lock.txt) ------------------------------

LOCK = REPO_DIR / "constraints-lock.txt"
STACK_PINS = ("constraints.txt", "constraints-cpu-torch.txt")


def test_setup_installs_pip_and_the_stack_under_the_lock(tmp_path):
    lines = _make_n("setup", f"VENV={tmp_path / 'venv'}")
    installs = [line for line in lines if " -m pip install" in line]
    assert len(installs) == 2 and all("-c constraints-lock.txt" in line for line in installs), installs


def test_lock_installs_under_the_stack_pins_alone_then_writes_the_lock(tmp_path):
    venv = tmp_path / "venv"
    lines = _make_n("lock", f"VENV={venv}")
    installs = [line for line in lines if " -m pip install" in line]
    assert installs and not any("constraints-lock" in line for line in installs), installs
    assert "-c constraints.txt -c constraints-cpu-torch.txt -e" in installs[-1]
    writes = [i for i, line in enumerate(lines) if "write_lock('constraints-lock.txt'" in line]
    assert writes and writes[0] > lines.index(installs[-1]) and lines[-1] == f"touch {venv}/.installed"


def test_the_lock_and_the_stack_files_pin_each_name_once():
    lock = constraints.read_pins(LOCK)
    for name in STACK_PINS:
        both = sorted(set(lock) & set(constraints.read_pins(REPO_DIR / name)))
        assert not both, f"pinned both in constraints-lock.txt and {name}: {both}"
    assert "t4rec-bench" not in lock


def test_every_distribution_make_setup_installed_is_pinned_at_its_version():
    if Path(sys.prefix).resolve() != (REPO_DIR / ".venv").resolve():
        pytest.skip(f"not running in the environment `make setup` builds ({REPO_DIR / '.venv'})")
    installed = envmod.installed_distributions()
    pins = {k: v for f in (*STACK_PINS, LOCK.name) for k, v in constraints.read_pins(REPO_DIR / f).items()}
    loose = constraints.unpinned(installed, pins)
    assert not loose, f"installed but pinned nowhere (run `make lock`): {loose}"
    wrong = constraints.differences(constraints.read_pins(LOCK), installed)
    assert not wrong, f"installed at another version than constraints-lock.txt pins: {wrong}"


def test_the_lock_is_written_from_the_installed_distributions(tmp_path):
    installed = envmod.installed_distributions()
    keep = _write(tmp_path / "stack.txt", _pins_of_this_environment())
    count = constraints.write_lock(tmp_path / "lock.txt", [keep])
    lock = constraints.read_pins(tmp_path / "lock.txt")
    assert count == len(lock) and list(lock) == sorted(lock)
    assert lock == {k: v for k, v in installed.items()
                    if k not in constraints.read_pins(keep) and k != "t4rec-bench"}


# ---- finding 1: no extra that cannot install -----------------------------------------------

def test_no_extra_asks_for_cudf():
    # cudf-cu12 23.8 on the index is a placeholder; the first cuDF for Python 3.11 needs pandas>=2,
    # which merlin-core 23.8 (pandas<1.6) excludes. cuDF comes with the Merlin container.
    for extra, requirements in PYPROJECT["project"]["optional-dependencies"].items():
        for requirement in requirements:
            assert not re.match(r"(dask-)?cudf|rmm", requirement), (extra, requirement)


# ---- finding 7: the NVML binding declared is the one `import pynvml` loads -------------------

def _declared(name: str) -> str | None:
    return next((r for r in PYPROJECT["project"]["dependencies"] if re.match(rf"{name}\b", r)), None)


def test_the_declared_nvml_binding_is_the_one_imported():
    spec = importlib.util.find_spec("pynvml")
    if spec is None:
        pytest.skip("no NVML binding is installed here")
    # a folder is the old pynvml package (merlin-core and dask-cuda require it); a file is nvidia-ml-py's
    loaded = "pynvml" if spec.submodule_search_locations is not None else "nvidia-ml-py"
    assert _declared(loaded), f"`import pynvml` loads {loaded}, which pyproject.toml does not declare"
    other = {"pynvml": "nvidia-ml-py", "nvidia-ml-py": "pynvml"}[loaded]
    assert _declared(other) is None, f"pyproject.toml declares {other}, which `import pynvml` does not load"
    assert constraints.read_pins(REPO_DIR / "constraints.txt").get(loaded) == metadata.version(loaded)


# ---- t4rec-bench stack -----------------------------------------------------------------------

def _pins_of_this_environment(names=("numpy", "pandas", "jinja2", "scipy", "psutil")) -> dict[str, str]:
    installed = envmod.installed_distributions()
    pins = {name: installed[name] for name in names if name in installed}
    assert len(pins) >= 3, "the test needs a few installed distributions"
    return pins


def _write(path: Path, pins: dict[str, str]) -> Path:
    path.write_text("# pins\n" + "".join(f"{name}=={version}  # why\n" for name, version in pins.items()))
    return path


def test_stack_matches_pins_taken_from_this_environment(tmp_path, capsys):
    pins = _pins_of_this_environment()
    code = cli.main(["stack", "--constraints", str(_write(tmp_path / "c.txt", pins))])
    out = capsys.readouterr().out.splitlines()
    assert code == EXIT_OK
    assert out == [f"the installed versions match all {len(pins)} pins in c.txt"]


def test_stack_names_a_planted_difference_and_a_missing_package(tmp_path, capsys):
    pins = _pins_of_this_environment()
    name, version = next(iter(pins.items()))
    planted = {**pins, name: version + ".post9", "no-such-distribution-t4rec": "1.0"}
    code = cli.main(["stack", "--constraints", str(_write(tmp_path / "c.txt", planted))])
    out = capsys.readouterr().out.splitlines()
    assert code == EXIT_NO_BASELINE
    assert out == [f"{name}: {version} (pinned {version}.post9)", "no-such-distribution-t4rec: not installed (pinned 1.0)",
                   f"2 of {len(planted)} pins in c.txt differ from the installed versions"]


def test_stack_matches_names_as_pip_normalises_them(tmp_path, capsys):
    installed = envmod.installed_distributions()
    if "merlin-core" not in installed:
        pytest.skip("merlin-core is not installed here")
    path = tmp_path / "c.txt"
    path.write_text(f"Merlin_Core=={installed['merlin-core']}\n")
    assert cli.main(["stack", "--constraints", str(path)]) == EXIT_OK


@pytest.mark.parametrize("line", ["numpy>=1.26", "numpy", "-e .", "numpy==1.26.4; python_version < '3.12'",
                                  "numpy[extra]==1.0", "numpy==", "==1.0"])
def test_stack_refuses_a_line_that_is_not_a_pin(tmp_path, capsys, line):
    path = tmp_path / "c.txt"
    path.write_text(f"# first\n{line}\n")
    assert cli.main(["stack", "--constraints", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}:2: ") and "NAME==VERSION" in err[0]


def test_stack_without_the_file_is_one_error_line(tmp_path, capsys):
    assert cli.main(["stack", "--constraints", str(tmp_path / "absent.txt")]) == EXIT_ERROR
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read the constraints file")


def test_stack_runs_as_the_make_target_runs_it(tmp_path):
    path = _write(tmp_path / "c.txt", _pins_of_this_environment())
    out = subprocess.run([sys.executable, "-m", "harness.cli", "stack", "--constraints", str(path)],
                         cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_OK, out.stderr
    assert "match all" in out.stdout


def test_the_harness_needs_no_newer_python_than_the_merlin_containers():
    # requires-python admits 3.10 (the Python of NVIDIA's Merlin PyTorch containers 23.08 and 23.12,
    # `make setup-container`); this machine has no 3.10, so vermin reads the code for newer features.


    low = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]["requires-python"].split(",")[0]
    assert low.startswith(">=")
    proc = subprocess.run([str(Path(sys.executable).parent / "vermin"), f"--target={low[2:]}-", "--violations", "--no-tips",
                           "--eval-annotations", "harness", "benchmarks"],
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


# ---- make lint: ruff and mypy from their own venv -----------------------------------------------

def test_lint_runs_ruff_and_mypy_from_their_own_venv(tmp_path):
    venv = tmp_path / "lint-venv"
    lines = _make_n("-B", "lint", f"LINT_VENV={venv}")
    text = " ".join(lines)
    install = next(line for line in lines if f"{venv}/bin/python -m pip install" in line)
    assert install.endswith(f"-c constraints.txt -r {venv}/requirements-lint.txt")
    # the line that writes that file, run here (with this Python in .venv's place): the whole lint extra
    reqs = next(line for line in lines if line.endswith(f"> {venv}/requirements-lint.txt"))
    assert reqs.startswith(".venv/bin/python -c ")
    venv.mkdir()
    subprocess.run(shlex.quote(sys.executable) + reqs.removeprefix(".venv/bin/python"), shell=True, cwd=REPO_DIR,
                   check=True, timeout=60)
    lint_extra = PYPROJECT["project"]["optional-dependencies"]["lint"]
    assert (venv / "requirements-lint.txt").read_text().split() == lint_extra
    into_venv = [line for line in lines if line.startswith(".venv/bin/python -m pip install")]
    assert into_venv and not any(re.search(r"\bruff\b|\bmypy\b|[\[,]lint[\],]", line) for line in into_venv), \
        "the lint tools must never go into .venv (the baselines' environment)"
    assert f"{venv}/bin/python -m ruff check harness" in text
    assert f"{venv}/bin/python -m mypy --python-executable .venv/bin/python" in text
    pins = constraints.read_pins(REPO_DIR / "constraints.txt")
    assert {"ruff", "mypy", "check-jsonschema"} <= set(pins)


def test_the_fast_tests_lint_first():
    lines = _make_n("-B", "test-fast")
    lint = next(i for i, line in enumerate(lines) if "-m ruff check" in line)
    assert lint < next(i for i, line in enumerate(lines) if "-m pytest" in line)
