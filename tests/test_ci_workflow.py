"""The pull-request workflow (.github/workflows/check.yml) cannot run here, so it is checked two ways: its
shape (what it must do, read with PyYAML) always, and a validator when one is installed: check-jsonschema with
its bundled SchemaStore schema of GitHub workflows (no network), which pyproject.toml's `lint` extra brings into
.venv-lint (`make lint`, which .ci/run runs first), and actionlint, when it is on PATH. The tests say so when
they skip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "check.yml"
VALIDATORS = {"check-jsonschema": ["--builtin-schema", "vendor.github-workflows"], "actionlint": []}
LINT_BIN = ROOT / ".venv-lint" / "bin"  # `make lint`'s venv: the lint extra, not on PATH


def _validator(name: str) -> str | None:
    """The validator on PATH, else the one in .venv-lint; None when neither has it."""
    return shutil.which(name) or shutil.which(name, path=str(LINT_BIN))


@pytest.fixture(scope="module")
def workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def _step(workflow: dict, uses: str) -> dict:
    return next(s for s in _steps(workflow) if s.get("uses", "").startswith(uses))


def test_it_runs_on_pull_requests_with_the_whole_history(workflow):
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert _step(workflow, "actions/checkout")["with"]["fetch-depth"] == 0


def test_make_check_runs_against_the_merge_base_and_writes_the_pull_request_markdown(workflow):
    base = next(s for s in _steps(workflow) if s.get("id") == "base")
    assert "git merge-base" in base["run"]
    check = next(s for s in _steps(workflow) if "make check" in s.get("run", ""))
    assert check["env"]["REFERENCE"] == "${{ steps.base.outputs.sha }}"
    assert 'CHECK_ARGS="--reference $REFERENCE --markdown-out $COMMENT"' in check["run"]
    assert "T4REC_BENCH_REPORT_URL" in check["env"] and check.get("continue-on-error") is True


def test_it_keeps_the_reports_comments_and_fails_with_the_verdict(workflow):
    assert _step(workflow, "actions/upload-artifact")["with"]["path"] == "reports/"
    runs = [s.get("run", "") for s in _steps(workflow)]
    assert any("GITHUB_STEP_SUMMARY" in r for r in runs)
    assert any("issues/$PR/comments" in r for r in runs)
    assert "reports/.check-exit-code" in runs[-1] and 'exit "$rc"' in runs[-1]
    assert all(s.get("if") == "always()" for s in _steps(workflow)[-4:])


def test_the_makefile_passes_check_args_on(workflow):
    make = (ROOT / "Makefile").read_text()
    assert "$(BENCH) check --profile $(PROFILE) $(CHECK_ARGS)" in make


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_the_workflow_passes_the_validator(name):
    binary = _validator(name)
    if binary is None:
        pytest.skip(f"{name} is not installed (neither on PATH nor in {LINT_BIN})")
    done = subprocess.run([binary, *VALIDATORS[name], str(WORKFLOW)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
