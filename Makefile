# Two commands on a fresh machine: `make check` (the main job) and `make test`.
# Every target is idempotent: setup re-installs only when the pins change.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
BENCH  := $(VENV)/bin/t4rec-bench
STAMP  := $(VENV)/.installed
PIP_INSTALL := $(PY) -m pip install -q -c constraints.txt -c constraints-cpu-torch.txt
PROFILE ?= ci

.PHONY: setup browser check test test-fast run-smoke nightly asv-check clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt constraints-cpu-torch.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "pip>=24,<26"   # pip 26 refuses transformers4rec (stack-facts.md)
	$(PIP_INSTALL) -e ".[pipeline,cpu,report,bench,test]"
	touch $@

# Headless Chromium for the report's browser test (Debian package; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

# The main job: run the ci profile alternating with the baseline's commit (the in-session
# reference, in the baseline's environment), compare, write the HTML report. make exits 0 when
# the verdict's code is 0 and 2 otherwise (make's own code for a failed recipe): the verdict's
# code (README, "Exit codes") is printed and kept in reports/.check-exit-code.
check: setup
	@mkdir -p reports
	$(BENCH) check --profile $(PROFILE); rc=$$?; echo $$rc > reports/.check-exit-code; \
	  [ $$rc -eq 0 ] || echo "make check: t4rec-bench check exited $$rc (README, 'Exit codes')" >&2; exit $$rc

# The whole test suite, including the regression gate and the browser test.
# pytest's exit code 5 (no tests collected) is reported and not treated as success.
test: setup browser
	@mkdir -p reports
	$(PY) -m pytest; rc=$$?; echo $$rc > reports/.pytest-exit-code; exit $$rc

# Unit tests only (no pipeline runs, no browser): seconds.
test-fast: setup
	$(PY) -m pytest -m "not slow and not regression"

run-smoke: setup
	$(BENCH) run --profile smoke

# Nightly: asv machine, asv run NEW, history record, asv publish, HTML report (README, "Nightly").
nightly: setup
	$(BENCH) nightly

asv-check: setup
	$(PY) -m asv check -E existing

clean:
	rm -rf $(VENV) reports/asv reports/history reports/*.html reports/*.json reports/*.md .pytest_cache
