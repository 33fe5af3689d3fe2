"""The one door to git: every ``git`` subprocess of the harness runs here (as asv's ``plugins/git.py``).

``Repo(path)`` answers what the harness asks of a repository: the commit a revision names (``resolve``,
the one commit resolver; ``find`` for a revision that may be missing), a commit's tree extracted into a
folder (``archive``), the first-parent line between two commits and the order of all commits
(``first_parents``, ``order``), ancestry (``is_ancestor``), a commit's subject, and the working tree's
commit and whether it is dirty (``state``). A revision that is not a commit, or a git that cannot run,
is one HarnessError line that names the revision.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from harness import REPO_DIR
from harness.errors import HarnessError

TIMEOUT_S = 60  # one git query; a hung git (a lock, a network filesystem) must not hang a check
ARCHIVE_TIMEOUT_S = 300  # a whole tree
STATE_TIMEOUT_S = 10  # every run record asks: never worth waiting long for


class Repo:
    """A git repository (or any folder inside one) at ``path``, default this harness's checkout."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else REPO_DIR

    def _git(self, *args: str, timeout: float = TIMEOUT_S, text: bool = True) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=text, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HarnessError(f"git is not usable in {self.path} ({exc})") from exc

    def _out(self, *args: str) -> str | None:
        """The stripped output of a git query, or None when git says no (exit code not 0)."""
        out = self._git(*args)
        return out.stdout.strip() if out.returncode == 0 else None

    def find(self, rev: str) -> str | None:
        """The full sha of the commit ``rev`` names (a tag resolves to its commit), or None when it names
        none (a typo, a root's parent, a shallow clone's missing history)."""
        return self._out("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}") or None

    def resolve(self, rev: str) -> str:
        """The full sha of the commit ``rev`` names; HarnessError naming ``rev`` when there is none."""
        commit = self.find(rev)
        if commit is None:
            raise HarnessError(f"no such commit: {rev} (in {self.path}; a shallow clone? fetch it first)")
        return commit

    def parent(self, rev: str) -> str | None:
        """The first parent of ``rev`` (resolved), None for a root commit."""
        return self.find(f"{self.resolve(rev)}^")

    def archive(self, rev: str, dest: str | Path) -> str:
        """Extract the tree of ``rev`` into ``dest`` (no .git, nothing of the working tree); its sha."""
        commit = self.resolve(rev)
        out = self._git("archive", "--format=tar", commit, timeout=ARCHIVE_TIMEOUT_S, text=False)
        if out.returncode != 0:
            raise HarnessError(f"{commit[:10]}: git archive failed: {out.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
            tar.extractall(dest, filter="data")  # a tree of the repository being measured
        return commit

    def first_parents(self, good: str, bad: str) -> list[str]:
        """The commits after ``good`` up to ``bad`` on ``bad``'s first-parent line, oldest first (the
        history a bisection walks); HarnessError unless ``good`` is on that line, before ``bad``."""
        older, newer = self.resolve(good), self.resolve(bad)
        line = (self._out("rev-list", "--first-parent", "--reverse", f"{older}..{newer}") or "").split()
        if not line or self.find(f"{line[0]}^") != older:
            raise HarnessError(f"{good} is not an ancestor of {bad} on its first-parent line "
                               f"(git log --first-parent {bad} does not reach it)")
        return line

    def line(self, rev: str) -> list[str]:
        """``rev`` and its first-parent ancestors, newest first."""
        return (self._out("rev-list", "--first-parent", self.resolve(rev)) or "").split()

    def order(self) -> dict[str, int]:
        """Position of every commit in the repository's history (topological, oldest 0); empty when
        ``path`` is not in a git repository or git cannot run."""
        try:
            out = self._out("log", "--all", "--topo-order", "--reverse", "--format=%H")
        except HarnessError:
            return {}
        return {sha: i for i, sha in enumerate((out or "").split())}

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether ``older`` is ``newer`` or one of its ancestors (False when either is unknown)."""
        return self._git("merge-base", "--is-ancestor", older, newer).returncode == 0

    def subject(self, rev: str) -> str:
        """The first line of the commit message of ``rev``."""
        return self._out("log", "-1", "--format=%s", self.resolve(rev)) or ""

    def state(self) -> dict:
        """{"commit": HEAD's sha, "dirty": whether tracked files differ from it}; both None outside a
        repository or when git cannot run (a run record is written either way)."""
        try:
            head = self._git("rev-parse", "HEAD", timeout=STATE_TIMEOUT_S)
            if head.returncode != 0:
                return {"commit": None, "dirty": None}
            status = self._git("status", "--porcelain", "--untracked-files=no", timeout=STATE_TIMEOUT_S)
        except HarnessError:
            return {"commit": None, "dirty": None}
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def order(path: str | Path | None) -> dict[str, int]:
    """``Repo(path).order()``, empty for no path: the commit order the history views sort by."""
    return Repo(path).order() if path is not None else {}
