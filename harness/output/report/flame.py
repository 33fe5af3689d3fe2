"""A differential flame graph as inline SVG, drawn here from two folded-stack files (no script, no fetch).

Folded stacks are py-spy's raw format: one line per distinct stack, ``frame;frame;leaf count``, root
first, frames like ``fn (path/file.py:123)``. As in Brendan Gregg's differential flame graphs, a frame's
width is its samples in the current run (the graph is the current profile) and its colour is the change
of its time, current minus reference: red took longer than in the reference, blue less, grey the same.
A frame the current run no longer reaches has no width; the profile's function table names it. Each
frame carries an SVG ``<title>``, which a browser shows on hover. The root is at the top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from harness.errors import HarnessError

WIDTH = 1200  # viewBox units; the page scales the graph to its column
ROW = 17  # height of one frame
MIN_WIDTH = 0.5  # frames narrower than this (in viewBox units) are not drawn
CHAR = 6.6  # width of a label character at the font size below
NEUTRAL, WORSE, BETTER = (236, 236, 236), (214, 39, 40), (31, 95, 191)
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<where>[^()]*)\)$")


@dataclass
class Node:
    name: str
    current: int = 0  # samples of this frame (with its callees) in the current run
    reference: int = 0
    children: dict = field(default_factory=dict)

    def child(self, name: str) -> Node:
        return self.children.setdefault(name, Node(name))


def parse(text: str, where: str = "folded stacks") -> dict[tuple[str, ...], int]:
    """``{stack (root first): samples}`` of a folded-stack text; HarnessError names a malformed line."""
    out: dict[tuple[str, ...], int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise HarnessError(f"{where}: line {n}: not `frame;frame;leaf count`: {line[:80]!r}")
        key = tuple(stack.split(";"))
        out[key] = out.get(key, 0) + int(count)
    return out


def merge(current: dict, reference: dict) -> Node:
    """One tree of both profiles: every frame with its samples on each side."""
    root = Node("all")
    for side, stacks in (("current", current), ("reference", reference)):
        for stack, count in stacks.items():
            node = root
            setattr(node, side, getattr(node, side) + count)
            for frame in stack:
                node = node.child(frame)
                setattr(node, side, getattr(node, side) + count)
    return root


def svg(current_text: str, reference_text: str, rate_hz: float | None, chart_id: str = "flame-graph") -> str:
    """The differential flame graph of two folded-stack texts as an ``<svg>`` element."""
    root = merge(parse(current_text, "current folded stacks"), parse(reference_text, "reference folded stacks"))
    if root.current == 0:
        raise HarnessError("the current folded stacks hold no samples")
    per_s = float(rate_hz) if rate_hz else None
    scale = WIDTH / root.current
    boxes = list(_layout(root, 0.0, 0, scale))
    top = max((abs(n.current - n.reference) for n, *_ in boxes if n is not root), default=0) or 1
    depth = max(d for _, _, d, _ in boxes) + 1
    body = "".join(_frame(n, x, d, w, top, per_s, root) for n, x, d, w in boxes)
    return (f'<svg class="flame" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'viewBox="0 0 {WIDTH} {depth * ROW}" font-family="DejaVu Sans, sans-serif" font-size="11">'
            f"<title>Differential flame graph: width is the current run's samples, colour current minus "
            f"reference</title>{body}</svg>")


def _layout(node: Node, x: float, depth: int, scale: float):
    """(node, x, depth, width) of every frame wide enough to draw, parents before children."""
    width = node.current * scale
    if width < MIN_WIDTH:
        return
    yield node, x, depth, width
    for name in sorted(node.children):
        child = node.children[name]
        yield from _layout(child, x, depth + 1, scale)
        x += child.current * scale


def _frame(n: Node, x: float, depth: int, width: float, top: int, per_s: float | None, root: Node) -> str:
    fill = "rgb({},{},{})".format(*_colour(n.current - n.reference, top))
    label = _label(n.name, width)
    text = (f'<text x="{x + 3:.1f}" y="{depth * ROW + 12}">{escape(label)}</text>' if label else "")
    return (f'<g><title>{escape(_tooltip(n, per_s, root))}</title>'
            f'<rect x="{x:.1f}" y="{depth * ROW}" width="{width:.1f}" height="{ROW - 1}" fill={quoteattr(fill)}/>'
            f"{text}</g>")


def _colour(delta: int, top: int) -> tuple[int, int, int]:
    t = min(1.0, abs(delta) / top)
    to = WORSE if delta > 0 else BETTER
    red, green, blue = (round(a + (b - a) * t) for a, b in zip(NEUTRAL, to, strict=True))
    return red, green, blue


def _label(name: str, width: float) -> str:
    m = _FRAME.match(name)
    short = m.group("fn") if m else name
    fits = int((width - 6) / CHAR)
    if fits < 3:
        return ""
    return short if len(short) <= fits else short[: fits - 1] + "…"


def _tooltip(n: Node, per_s: float | None, root: Node) -> str:
    def amount(samples: int, total: int) -> str:
        share = f"{100 * samples / total:.1f}%" if total else "-"
        return f"{samples / per_s:.3g} s ({share})" if per_s else f"{samples} samples ({share})"

    delta = n.current - n.reference
    change = f"{delta / per_s:+.3g} s" if per_s else f"{delta:+d} samples"
    return (f"{n.name}\ncurrent {amount(n.current, root.current)}, reference "
            f"{amount(n.reference, root.reference)}, change {change}")
