"""Reference environments (harness/envs/build.py, env_commands.py, env_layered.py): real virtualenvs, real pip,
no network.

The tiny project builds with an in-tree PEP 517 backend (no build requirements), because the
setuptools a fresh Python 3.11 virtualenv carries cannot build a wheel without the ``wheel``
package, and fetching that would need the network. The asv commands otherwise mirror the
repository's: ``pip wheel --no-deps``, then ``pip install -c {build_dir}/constraints.txt
{wheel_file}``, with ``--no-index`` so nothing is fetched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.envs import install as env_commands
from harness.envs import layered as env_layered
from harness.envs import build as envs

# A PEP 517 backend (and the wheel writer the tests use for their own wheels): it packs the
# modules named in [tool.tiny] modules, with the [project] name, version and dependencies.
BACKEND = r'''
import base64, hashlib, pathlib, tomllib, zipfile


def write_wheel(directory, name, version, files, deps=()):
    """A pure-Python wheel of ``files`` (path -> text) in ``directory``; its file name."""
    stem = name.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {dep}" for dep in deps]
    files = dict(files)
    files[f"{info}/METADATA"] = "\n".join(meta) + "\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    wheel = f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(directory) / wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    conf = tomllib.loads(pathlib.Path("pyproject.toml").read_text())
    project = conf["project"]
    files = {m + ".py": pathlib.Path(m + ".py").read_text() for m in conf["tool"]["tiny"]["modules"]}
    return write_wheel(wheel_directory, project["name"], project["version"], files,
                       project.get("dependencies", []))
'''

_backend: dict = {}
exec(compile(BACKEND, "tiny_backend", "exec"), _backend)  # noqa: S102 - the constant above
write_wheel = _backend["write_wheel"]

PYPROJECT = """\
[build-system]
requires = []
build-backend = "tiny_backend"
backend-path = ["_backend"]

[project]
name = "tinyproj"
version = "0.1"
dependencies = {deps}

[tool.tiny]
modules = ["tinyproj"]
"""

ASV_CONF = """\
{
    // like the repository's asv.conf.json, offline
    "version": 1,
    "project": "tinyproj",
    "install_timeout": 120,
    "build_command": ["python -m pip wheel --no-deps --no-index -w {build_cache_dir} {build_dir}"],
    "install_command": [
        "in-dir={env_dir} python -m pip install --no-index --find-links {build_dir}/wheelhouse -c {build_dir}/constraints.txt {wheel_file}"
    ]
}
"""


def make_tree(path: Path, deps: list[str] = (), constraints: str = "# none\n") -> Path:
    """A tiny project whose asv.conf.json installs it the way the repository's does."""
    (path / "_backend").mkdir(parents=True)
    (path / "_backend" / "tiny_backend.py").write_text(BACKEND)
    (path / "pyproject.toml").write_text(PYPROJECT.format(deps=json.dumps(list(deps))))
    (path / "tinyproj.py").write_text("ANSWER = 42\n")
    (path / "constraints.txt").write_text(constraints)
    (path / "asv.conf.json").write_text(ASV_CONF)
    (path / "wheelhouse").mkdir()
    write_wheel(path / "wheelhouse", "tinydep", "1.0", {"tinydep.py": "X = 1\n"})
    return path


def plain_env(path: Path, wheels: list[Path]) -> Path:
    """A virtualenv at ``path`` (no pip of its own) with ``wheels`` installed by this pip."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-deps",
                    "--quiet", *map(str, wheels)], check=True)
    return python


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("T4REC_BENCH_ENV_CACHE", str(root))
    return root


# ---- pure parts ---------------------------------------------------------------------------------

def test_install_files_names_the_referenced_files_and_missing_ones(tmp_path):
    tree = make_tree(tmp_path / "tree")
    files = envs.install_files(tree)
    assert sorted(files) == ["asv.conf.json", "constraints.txt", "pyproject.toml", "wheelhouse"]
    write_wheel(tree / "wheelhouse", "tinydep", "2.0", {"tinydep.py": "X = 2\n"})
    assert envs.install_files(tree)["wheelhouse"] != files["wheelhouse"]
    (tree / "constraints.txt").unlink()
    with pytest.raises(HarnessError, match="needs constraints.txt"):
        envs.install_files(tree)


def test_the_repository_files_decide_this_repository_install():
    root = Path(__file__).resolve().parents[2]
    assert {"constraints.txt", "constraints-cpu-torch.txt"} <= set(envs.install_files(root))


def test_a_tree_without_asv_conf_uses_the_repository_commands(tmp_path):
    tree = make_tree(tmp_path / "tree")
    (tree / "asv.conf.json").unlink()
    assert envs.recipe(tree).conf == envs.ROOT / "asv.conf.json"


def test_key_follows_pins_constraints_and_python(tmp_path):
    tree = make_tree(tmp_path / "tree")
    key = envs.env_key(tree)
    assert len(key) == 16 and int(key, 16) >= 0
    assert envs.env_key(tree) == key
    assert envs.env_key(tree, {"b": "2", "a": "1"}) == envs.env_key(tree, {"a": "1", "b": "2"}) != key
    assert envs.env_key(tree, python_version="3.12.0") != key
    assert envs.env_key(tree, {"tinyproj": "9", "pip": "1", "Wheel": "1"}) == key  # never pinned
    (tree / "constraints.txt").write_text("tinyproj==0.1\n")
    assert envs.env_key(tree) != key


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("T4REC_BENCH_ENV_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert envs.cache_root() == tmp_path / "xdg" / "t4rec-bench" / "envs"
    monkeypatch.setenv("T4REC_BENCH_ENV_CACHE", str(tmp_path / "mine"))
    assert envs.cache_root() == tmp_path / "mine"


def test_interpolate_takes_asv_prefixes_and_the_env_python(tmp_path):
    python = tmp_path / "env" / "bin" / "python"
    cmd = env_commands.interpolate("return-code=any in-dir={env_dir} X=1 python -m pip install 'pip>=24.3,<26' "
                                   "{wheel_file}[a,b]", {"env_dir": "/e", "wheel_file": "/w/p.whl"}, python)
    assert cmd.argv == [str(python), "-m", "pip", "install", "pip>=24.3,<26", "/w/p.whl[a,b]"]
    assert (cmd.cwd, cmd.env, cmd.codes) == ("/e", {"X": "1"}, None)
    with pytest.raises(HarnessError, match="unknown placeholder"):
        env_commands.interpolate("python {nope}", {}, python)
    assert env_commands.describe("in-dir={env_dir} python -m pip install -c x {wheel_file}") == \
        "pip install -c x {wheel_file}"


@pytest.mark.parametrize("lines, name", [
    (["ERROR: Could not find a version that satisfies the requirement foo==9 (from versions: none)",
      "ERROR: No matching distribution found for foo==9"], "foo==9"),
    (["  Building wheel for bar (pyproject.toml): finished with status 'error'",
      "  ERROR: Failed building wheel for bar", "Failed to build bar"], "bar"),
    (["error: failed-wheel-build-for-install", "",
      "× Failed to build installable wheels for some pyproject.toml based projects", "╰─> baz"], "baz"),
    (["ERROR: Cannot install a==1 and b==2 because these package versions have conflicting dependencies.",
      "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io"], "a==1 and b==2"),
    (["ERROR: Cannot install tinyproj 0.1 (from /c/tinyproj-0.1-py3-none-any.whl) because these package "
      "versions have conflicting dependencies."], "tinyproj 0.1"),
    (["ERROR: ResolutionImpossible: for help visit https://pip.pypa.io"], None),
    (["ERROR: Cannot install x==1 because these package versions have conflicting dependencies.", "",
      "The conflict is caused by:", "    x 1 depends on y<2", "    The user requested (constraint) y==3", "",
      "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io"], "x==1"),
])
def test_pip_failure_names_the_package(lines, name):
    found, quote = env_commands.pip_failure(lines)
    assert found == name
    assert quote.startswith("ERROR") or quote.startswith("×")


def test_an_interpreter_scan_reads_as_this_process_scan():
    """The other interpreter only lists; the folding into canonical names is the one in environment.py.
    Isolated (-I), it skips PYTHONPATH, so the harness under test may be missing from its scan."""
    import sys

    from harness.measure import environment as envmod

    other = env_layered.interpreter_distributions(Path(sys.executable))
    here = envmod.installed_distributions()
    assert "pytest" in other and all(name == envmod.canonical_name(name) for name in other)
    def stack(dists):
        return {k: v for k, v in dists.items() if k != "t4rec-bench"}

    assert stack(other) == stack(here)



def _cached_env(tmp_path: Path, **meta) -> Path:
    """An environment folder whose python is this interpreter and whose env.json holds ``meta``."""
    env_dir = tmp_path / "env"
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").symlink_to(sys.executable)
    doc = {"kind": envs.KIND, "version": envs.ENV_FORMAT.current, "key": "k" * 16,
           "built_at": "2026-01-02T03:04:05+00:00", "distributions": {"a": "1"}}
    (env_dir / "env.json").write_text(json.dumps({k: v for k, v in {**doc, **meta}.items() if v is not None}))
    return env_dir


def test_env_json_of_this_format_is_a_cache_hit(tmp_path):
    env = envs._cached(_cached_env(tmp_path))
    assert env is not None and env.cached and env.key == "k" * 16 and env.distributions == {"a": "1"}
    assert env.where == f"cached environment {'k' * 16} built 2026-01-02T03:04"


@pytest.mark.parametrize("meta", [{"version": 2}, {"kind": "other"}])  # what versions.read refuses
def test_env_json_of_another_format_is_a_cache_miss(tmp_path, meta):
    assert envs._cached(_cached_env(tmp_path, **meta)) is None


def test_env_json_that_is_not_an_object_or_missing_is_a_cache_miss(tmp_path):
    env_dir = _cached_env(tmp_path)
    (env_dir / "env.json").write_text("[1]")
    assert envs._cached(env_dir) is None
    (env_dir / "env.json").write_text("{truncated")
    assert envs._cached(env_dir) is None
    (env_dir / "env.json").unlink()
    assert envs._cached(env_dir) is None

# ---- real builds --------------------------------------------------------------------------------

@pytest.mark.slow
def test_ensure_builds_once_then_reuses(tmp_path, cache):
    tree = make_tree(tmp_path / "tree")
    lines: list[str] = []
    first = envs.ensure(tree, progress=lines.append)
    assert not first.cached and first.build_s > 0
    assert first.distributions["tinyproj"] == "0.1"
    assert first.python == cache / first.key / "bin" / "python"
    assert subprocess.run([first.python, "-c", "import tinyproj; assert tinyproj.ANSWER == 42"]).returncode == 0
    meta = json.loads((cache / first.key / "env.json").read_text())
    assert meta["key"] == first.key and meta["distributions"] == first.distributions
    assert any("step 2/2: pip install --no-index" in line for line in lines)
    assert any(line.endswith("Successfully installed tinyproj-0.1") for line in lines)
    assert (cache / f"{first.key}.log").is_file()

    lines.clear()
    start = time.perf_counter()
    second = envs.ensure(tree, progress=lines.append)
    assert second.cached and second.build_s is None and second.key == first.key
    assert time.perf_counter() - start < first.build_s
    assert second.distributions == first.distributions
    assert len(lines) == 1 and "cached environment" in lines[0]


@pytest.mark.slow
def test_changed_constraints_build_a_second_environment(tmp_path, cache):
    tree = make_tree(tmp_path / "tree", constraints="tinyproj==0.1\n")
    one = envs.ensure(tree, progress=lambda line: None)
    (tree / "constraints.txt").write_text("tinyproj>=0.1\n")
    two = envs.ensure(tree, progress=lambda line: None)
    assert two.key != one.key and not two.cached
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == sorted([one.key, two.key])


@pytest.mark.slow
def test_an_unmet_dependency_names_the_package_and_leaves_nothing(tmp_path, cache):
    tree = make_tree(tmp_path / "tree", deps=["t4rec-bench-no-such-pkg"])
    with pytest.raises(HarnessError) as err:
        envs.ensure(tree, progress=lambda line: None)
    message = str(err.value)
    assert "could not install t4rec-bench-no-such-pkg (step 2/2: pip install" in message
    assert "\n" not in message and message.endswith(".log")
    key = envs.env_key(tree)
    assert not (cache / key).exists() and (cache / f"{key}.log").is_file()


@pytest.mark.slow
def test_layered_takes_the_donor_version_and_leaves_the_base(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1", "2"):
        write_wheel(wheels, "pkg-a", version, {"pkg_a.py": f"VERSION = '{version}'\n"})
    base = plain_env(tmp_path / "base", [wheels / "pkg_a-1-py3-none-any.whl"])
    donor = plain_env(tmp_path / "donor", [wheels / "pkg_a-2-py3-none-any.whl"])

    python = env_layered.layered(base, tmp_path / "layer", {"pkg-a": donor})
    assert env_layered.interpreter_distributions(python)["pkg-a"] == "2"
    out = subprocess.run([python, "-c", "import pkg_a; print(pkg_a.VERSION)"], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.strip() == "2"
    assert env_layered.interpreter_distributions(base)["pkg-a"] == "1"
    with pytest.raises(HarnessError, match="already exists"):
        env_layered.layered(base, tmp_path / "layer", {"pkg-a": donor})
    with pytest.raises(HarnessError, match="pkg-b is not installed"):
        env_layered.layered(base, tmp_path / "layer2", {"pkg-b": donor})


@pytest.mark.slow
def test_pins_constrain_the_wheel_install(tmp_path, cache):
    tree = make_tree(tmp_path / "tree", deps=["tinydep"])
    pins = {"tinydep": "2.0", "tinyproj": "9"}  # the project's own pin is dropped
    assert envs.env_key(tree, pins) != envs.env_key(tree)
    with pytest.raises(HarnessError) as err:
        envs.ensure(tree, pins=pins, progress=lambda line: None)
    message = str(err.value)
    assert "could not install tinyproj==0.1 (step 2/2: pip install " in message
    assert "-c t4rec-bench-pins.txt)" in message
    assert "conflict: tinyproj 0.1 depends on tinydep; The user requested (constraint) tinydep==2.0" in message


@pytest.mark.slow
def test_two_concurrent_ensures_build_once(tmp_path, cache):
    tree = make_tree(tmp_path / "tree")
    results, lines = [], []

    def one() -> None:
        results.append(envs.ensure(tree, progress=lines.append))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(env.cached for env in results) == [False, True]
    assert any("waiting for another process" in line for line in lines)
