"""harness/vcs.py, the one door to git, against a real scratch repository (git is installed)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import vcs
from harness.errors import HarnessError

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=ENV).stdout.strip()


def commit(repo: Path, name: str, text: str, subject: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", subject)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Scratch:
    path: Path
    shas: list  # c0, c1, c2 on main, oldest first
    side: str  # s1, merged into main by HEAD

    @property
    def parent(self) -> Path:
        return self.path.parent

    def __truediv__(self, name: str) -> Path:
        return self.path / name


@pytest.fixture
def repo(tmp_path) -> Scratch:
    """main: c0 - c1 - c2 - m (merges side: s1, branched at c1)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = [commit(path, "f", f"{i}\n", f"c{i}: change f") for i in range(3)]
    git(path, "checkout", "-q", "-b", "side", shas[1])
    side = commit(path, "g", "side\n", "s1: on the side")
    git(path, "checkout", "-q", "main")
    git(path, "merge", "-q", "--no-ff", "-m", "m: merge side", "side")
    git(path, "tag", "-a", "v1", "-m", "annotated", shas[2])
    return Scratch(path, shas, side)


def test_resolve_names_the_commit_of_any_revision(repo):
    r = vcs.Repo(repo.path)
    assert r.resolve("HEAD~1") == repo.shas[2] and len(r.resolve("HEAD")) == 40
    assert r.resolve("v1") == repo.shas[2]  # an annotated tag resolves to its commit, not the tag object
    assert r.resolve(repo.shas[0][:8]) == repo.shas[0]


def test_an_unknown_revision_is_one_error_naming_it(repo):
    r = vcs.Repo(repo.path)
    assert r.find("nope") is None and r.find(f"{repo.shas[0]}^") is None  # a root has no parent
    with pytest.raises(HarnessError, match=r"^no such commit: nope \(in "):
        r.resolve("nope")
    with pytest.raises(HarnessError, match="no such commit: HEAD"):
        vcs.Repo(repo.parent).resolve("HEAD")  # not a repository at all


def test_archive_extracts_the_commit_not_the_working_tree(repo, tmp_path):
    (repo / "f").write_text("edited, uncommitted\n")
    (repo / "untracked").write_text("x\n")
    sha = vcs.Repo(repo.path).archive("HEAD~1", tmp_path / "tree")
    assert sha == repo.shas[2]
    assert (tmp_path / "tree" / "f").read_text() == "2\n"
    assert not (tmp_path / "tree" / "g").exists() and not (tmp_path / "tree" / "untracked").exists()
    assert not (tmp_path / "tree" / ".git").exists()


def test_first_parents_walk_the_mainline_oldest_first(repo):
    r = vcs.Repo(repo.path)
    head = r.resolve("HEAD")
    assert r.first_parents(repo.shas[0], "HEAD") == [repo.shas[1], repo.shas[2], head]  # not the side commit
    assert r.line("HEAD") == [head, repo.shas[2], repo.shas[1], repo.shas[0]]
    with pytest.raises(HarnessError, match="not an ancestor"):
        r.first_parents(repo.side, "HEAD")  # reachable, but through the merge's second parent
    with pytest.raises(HarnessError, match="not an ancestor"):
        r.first_parents("HEAD", repo.shas[0])  # backwards
    with pytest.raises(HarnessError, match="not an ancestor"):
        r.first_parents("HEAD", "HEAD")  # an empty range


def test_ancestry_parent_subject_and_order(repo):
    r = vcs.Repo(repo.path)
    assert r.is_ancestor(repo.shas[0], "HEAD") and r.is_ancestor(repo.side, "HEAD")
    assert not r.is_ancestor("HEAD", repo.shas[0]) and not r.is_ancestor("nope", "HEAD")
    assert r.parent("HEAD") == repo.shas[2] and r.parent(repo.shas[0]) is None
    assert r.subject(repo.shas[1]) == "c1: change f" and r.subject("HEAD") == "m: merge side"
    order = r.order()
    assert set(order) == {*repo.shas, repo.side, r.resolve("HEAD")}
    assert order[repo.shas[0]] == 0 and order[r.resolve("HEAD")] == len(order) - 1
    assert order[repo.shas[1]] < order[repo.side] and order[repo.shas[1]] < order[repo.shas[2]]
    assert vcs.order(None) == {} and vcs.order(repo.parent) == {}


def test_state_is_the_head_and_whether_tracked_files_changed(repo):
    r = vcs.Repo(repo.path)
    assert r.state() == {"commit": r.resolve("HEAD"), "dirty": False}
    (repo / "untracked").write_text("x\n")
    assert r.state()["dirty"] is False  # untracked files do not make a tree dirty
    (repo / "f").write_text("edited\n")
    assert r.state()["dirty"] is True
    assert vcs.Repo(repo.parent).state() == {"commit": None, "dirty": None}


def test_a_git_that_cannot_run_is_one_error(repo, monkeypatch):
    monkeypatch.setenv("PATH", str(repo.path))  # no git on the path
    r = vcs.Repo(repo.path)
    with pytest.raises(HarnessError, match="git is not usable"):
        r.resolve("HEAD")
    assert r.state() == {"commit": None, "dirty": None} and r.order() == {}


def test_the_default_repository_is_this_checkout():
    from harness import REPO_DIR

    assert vcs.Repo().path == REPO_DIR
