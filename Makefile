# Two commands on a fresh machine: `make check` (the main job) and `make test`.
# Every target is idempotent: setup re-installs only when the pins change.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
BENCH  := $(VENV)/bin/t4rec-bench
STAMP  := $(VENV)/.installed
LOCK   := constraints-lock.txt
STACK_PINS := constraints.txt constraints-cpu-torch.txt
PIP    := "pip>=24,<26"   # pip 26 refuses transformers4rec (stack-facts.md)
EXTRAS := ".[pipeline,cpu,report,bench,test]"
PIP_INSTALL := $(PY) -m pip install -q $(addprefix -c ,$(STACK_PINS)) -c $(LOCK)
PROFILE ?= ci

.PHONY: setup lock browser check test test-fast lint run-smoke nightly asv-check clean setup-container setup-gpu

setup: $(STAMP)

$(STAMP): pyproject.toml $(STACK_PINS) $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c $(LOCK) $(PIP)
	$(PIP_INSTALL) -e $(EXTRAS)
	touch $@

# constraints-lock.txt from .venv (harness/documents/constraints.py write_lock): every distribution that
# constraints.txt and constraints-cpu-torch.txt do not pin, at its installed version. Run it after a
# deliberate change of the stack, then record the baselines in that environment. It installs under the
# stack's pins only (the old lock could refuse the change), so pip moves only what the change needs.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(PIP)
	$(PY) -m pip install -q $(addprefix -c ,$(STACK_PINS)) -e $(EXTRAS)
	$(PY) -c "from harness.documents.constraints import write_lock; \
	  print(write_lock('$(LOCK)', '$(STACK_PINS)'.split()), 'pins in $(LOCK)')"
	touch $(STAMP)

# Headless Chromium for the report's browser test (Debian package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

# The main job: run the ci profile in pairs with the baseline's commit (the in-session reference, in
# the baseline's environment; [gate] in harness/policies.toml), compare, write the HTML report. make exits 0 when
# the verdict's code is 0 and 2 otherwise (make's own code for a failed recipe): the verdict's
# code (README, "Exit codes") is printed and kept in reports/.check-exit-code.
# CHECK_ARGS: more options for `t4rec-bench check`, e.g. the pull-request workflow's
# CHECK_ARGS="--reference <merge base> --markdown-out reports/pr-comment.md" (.github/workflows/check.yml).
CHECK_ARGS ?=

check: setup
	@mkdir -p reports
	$(BENCH) check --profile $(PROFILE) $(CHECK_ARGS); rc=$$?; echo $$rc > reports/.check-exit-code; \
	  [ $$rc -eq 0 ] || echo "make check: t4rec-bench check exited $$rc (README, 'Exit codes')" >&2; exit $$rc

# The whole test suite, including the regression gate and the browser test.
# pytest's exit code 5 (no tests collected) is reported and not treated as success.
test: setup browser
	@mkdir -p reports
	$(PY) -m pytest --durations=30; rc=$$?; echo $$rc > reports/.pytest-exit-code; exit $$rc

# Unit tests only (no pipeline runs, no browser): seconds. The lint runs first.
test-fast: setup lint
	$(PY) -m pytest -m "not slow and not regression"

# ruff and mypy (their settings: pyproject.toml) from a venv of their own: in .venv they would add
# distributions the stored baselines' environments lack, and the gate would then rebuild the baseline's
# environment. mypy reads the stack's packages from .venv. The whole of pyproject.toml's `lint` extra,
# read by .venv's Python (tomllib; tomli on Python 3.10), at constraints.txt's versions.
LINT_VENV ?= .venv-lint
LINT_PY   := $(LINT_VENV)/bin/python
LINT_REQS := $(LINT_VENV)/requirements-lint.txt
LINT_PATHS ?= harness

lint: setup $(LINT_VENV)/.installed
	rc=0; $(LINT_PY) -m ruff check $(LINT_PATHS) || rc=$$?; \
	  $(LINT_PY) -m mypy --python-executable $(PY) || rc=$$?; exit $$rc

$(LINT_VENV)/.installed: pyproject.toml constraints.txt | $(STAMP)
	test -x $(LINT_PY) || $(PYTHON) -m venv $(LINT_VENV)
	$(PY) -c "import sys; t = __import__('tomllib' if sys.version_info >= (3, 11) else 'tomli'); \
	  print(*t.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['lint'], sep='\n')" \
	  > $(LINT_REQS)
	$(LINT_PY) -m pip install -q -c constraints.txt -r $(LINT_REQS)
	touch $@

run-smoke: setup
	$(BENCH) run --profile smoke

# Nightly: asv machine, asv run NEW, history record, asv publish, HTML report (docs/usage.md, "Nightly runs under asv").
nightly: setup
	$(BENCH) nightly

asv-check: setup
	$(PY) -m asv check -E existing

# ---- supported GPU setups (docs/gpu.md); each records its etl_backend ---------------

# Inside NVIDIA's Merlin PyTorch container (23.08 or 23.12), which carries cuDF, NVTabular,
# Transformers4Rec and a CUDA torch: the harness alone, into the container's own Python (its users
# run that Python, as root; a venv would need --system-site-packages to see the stack and would
# add nothing). Every distribution already installed is pinned at its installed version for this
# one install, so pip adds only what is missing (the harness and its light dependencies) and
# changes nothing of the stack; where a light dependency cannot fit, pip stops and says which
# (not quiet: its "conflict is caused by" lines name the packages).
# Then `stack` names each package whose version differs from constraints.txt (exit 3: not fatal).
CONTAINER_PYTHON ?= python3

setup-container:
	frozen=$$(mktemp) && trap 'rm -f "$$frozen"' EXIT && \
	  $(CONTAINER_PYTHON) -m pip list --format=freeze --disable-pip-version-check \
	    | grep -iv '^t4rec[-_]bench==' > "$$frozen" && \
	  $(CONTAINER_PYTHON) -m pip install --disable-pip-version-check -c "$$frozen" -e .
	$(CONTAINER_PYTHON) -m harness.cli stack --constraints constraints.txt; rc=$$?; \
	  [ $$rc -eq 0 ] || [ $$rc -eq 3 ] || exit $$rc

# pip on Python 3.11: a CUDA torch (constraints-cuda-torch.txt instead of the CPU one) for training
# on the GPU, the ETL on the CPU with pandas (no cuDF release installs beside merlin-core 23.8 on
# Python 3.11). Its own venv, so .venv (the CPU baseline's environment) is never touched.
GPU_VENV ?= .venv-gpu
GPU_PY   := $(GPU_VENV)/bin/python

setup-gpu: $(GPU_VENV)/.installed

$(GPU_VENV)/.installed: pyproject.toml constraints.txt constraints-cuda-torch.txt
	test -x $(GPU_PY) || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_PY) -m pip install -q $(PIP)
	$(GPU_PY) -m pip install -q -c constraints.txt -c constraints-cuda-torch.txt -e ".[pipeline,report,test]"
	$(GPU_PY) -c "import torch, transformers4rec.torch; print('torch', torch.__version__, 'CUDA', \
	  torch.version.cuda, 'sees a GPU:', torch.cuda.is_available())"
	touch $@

clean:
	rm -rf $(VENV) $(LINT_VENV) reports/asv reports/history reports/*.html reports/*.json reports/*.md .pytest_cache
