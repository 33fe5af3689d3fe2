"""The HTML report in a real headless Chromium: it loads without console errors or network
requests, nothing overflows a 1280 px window, its first screen shows the headline and what moved,
its charts and flame graph render as non-empty SVG, and a full-page screenshot is written beside it.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: file
descriptors 3 and 4, NUL-separated JSON), so the test needs nothing beyond the standard library.
It needs Debian's ``chromium`` package (the Makefile's setup installs it); set T4REC_BENCH_CHROMIUM
to use another binary. Without a browser the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_report import build_fixture_report

pytestmark = pytest.mark.slow

WIDTH_PX = 1280
HEIGHT_PX = 900  # the first screen: what a 1280 x 900 window shows before any scrolling
TIMEOUT_S = 60
CHARTS = ("chart-quality", "chart-stages", "chart-memory", "chart-history")
SECTIONS = ("verdict", "quality", "time", "memory", "history", "environment", "configuration")


def chromium_binary() -> str | None:
    names = [os.environ.get("T4REC_BENCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    return next((shutil.which(n) for n in names if n and shutil.which(n)), None)


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, binary: str, profile_dir: Path):
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        fds = (_high(to_child_r), _high(from_child_w))

        def child_fds():  # Chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(fds[0], 3)
            os.dup2(fds[1], 4)

        argv = [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={profile_dir}", "about:blank"]
        self.proc = subprocess.Popen(argv, pass_fds=(3, 4, *fds), preexec_fn=child_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for fd in (to_child_r, from_child_w, *fds):
            os.close(fd)
        self._buf, self._next_id, self.events = b"", 0, []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        while True:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                return found
            self.events.append(self._read())

    def _read(self) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium within the timeout")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            os.close(fd)


def _high(fd: int) -> int:
    """The fd moved above 4, so that placing fds 3 and 4 in the child cannot clobber it."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


PAGE_FACTS = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('svg.chart')).map(s => {
    const r = s.getBoundingClientRect();
    return {id: s.id, width: r.width, height: r.height, shapes: s.querySelectorAll('path, text, use').length};
  }),
  sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
  headline: (document.querySelector('#verdict .headline') || {}).innerText || '',
  scripts: document.scripts.length,
  height: Math.ceil(document.documentElement.scrollHeight),
  scroll_width: document.documentElement.scrollWidth,
  overflowing: Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > innerWidth)
    .slice(0, 10).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined
      ? '.' + e.className : '') + ' right=' + Math.round(e.getBoundingClientRect().right)),
  boxes: Object.fromEntries(['#verdict .headline', '#moved', '#undecided', '#profile', 'svg.flame', 'details.all']
    .map(q => [q, document.querySelector(q)]).filter(([q, e]) => e)
    .map(([q, e]) => { const r = e.getBoundingClientRect(); return [q, {top: r.top, bottom: r.bottom, width: r.width,
      height: r.height, shapes: e.querySelectorAll('rect').length}]; })),
})"""


def open_page(dt: DevTools, url: str) -> str:
    target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        dt.send(f"{domain}.enable", session=session)
    dt.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH_PX, "height": HEIGHT_PX, "deviceScaleFactor": 1,
                                                   "mobile": False}, session=session)
    dt.send("Page.navigate", {"url": url}, session=session)
    dt.wait_event("Page.loadEventFired")
    return session


def problems(events: list[dict]) -> list[str]:
    """Console errors and warnings, uncaught exceptions, log errors, and any network request."""
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            out.append(f"console {p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"uncaught: {p['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            out.append(f"log {p['entry']['level']}: {p['entry'].get('text')}")
        elif method == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:")):
            out.append(f"network request: {p['request']['url']}")
    return out


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory):
    binary = chromium_binary()
    if binary is None:
        why = "no chromium binary: install Debian's `chromium` package (make setup does) or set T4REC_BENCH_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    out = tmp_path_factory.mktemp("browser")
    html = build_fixture_report(out / "index.html")
    facts, events, png = visit(binary, html, out / "chromium-profile")
    screenshot = html.with_name("screenshot.png")
    screenshot.write_bytes(png)
    _keep_copy(html, screenshot)
    return {"facts": facts, "events": events, "screenshot": screenshot}


def visit(binary: str, html: Path, profile_dir: Path) -> tuple[dict, list, bytes]:
    """Open ``html`` at 1280 px; return the page facts, every DevTools event, a full-page PNG."""
    dt = DevTools(binary, profile_dir)
    try:
        session = open_page(dt, html.resolve().as_uri())
        facts = json.loads(dt.send("Runtime.evaluate", {"expression": PAGE_FACTS, "returnByValue": True},
                                   session=session)["result"]["value"])
        clip = {"x": 0, "y": 0, "width": WIDTH_PX, "height": facts["height"], "scale": 1}
        shot = dt.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip},
                       session=session)
        dt.send("Runtime.evaluate", {"expression": "1"}, session=session)  # drain late console messages
        return facts, list(dt.events), base64.b64decode(shot["data"])
    finally:
        dt.close()
        shutil.rmtree(profile_dir, ignore_errors=True)


def _keep_copy(html: Path, screenshot: Path) -> None:
    """With T4REC_BENCH_REPORT_DIR set, keep the report and its screenshot there (CI artifacts)."""
    keep = os.environ.get("T4REC_BENCH_REPORT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for f in (html, screenshot):
            shutil.copy(f, Path(keep) / f.name)


def test_the_checks_notice_a_broken_page(tmp_path):
    """A page with a script error, a console error, a network fetch and a too-wide table fails every check."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary")
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); missing();</script>'
                   '<img src="http://192.0.2.1/x.png"><table style="width: 2000px"><tr><td>wide</td></tr></table>'
                   '</body></html>')
    facts, events, _ = visit(binary, bad, tmp_path / "profile")
    found = " | ".join(problems(events))
    assert "console error" in found and "uncaught" in found and "network request" in found
    assert facts["charts"] == [] and facts["scripts"] == 1
    assert facts["scroll_width"] > WIDTH_PX and any(e.startswith("table") for e in facts["overflowing"])


def test_page_loads_without_console_errors_or_network(browser_run):
    assert problems(browser_run["events"]) == []
    assert browser_run["facts"]["scripts"] == 0


def test_every_section_is_in_the_rendered_page(browser_run):
    assert browser_run["facts"]["sections"] == list(SECTIONS)
    assert "REGRESSED" in browser_run["facts"]["headline"]


def test_charts_render_as_non_empty_svg(browser_run):
    charts = {c["id"]: c for c in browser_run["facts"]["charts"]}
    assert sorted(charts) == sorted(CHARTS)
    for chart in charts.values():
        assert chart["width"] > 0.8 * (WIDTH_PX - 80), chart  # spans the page's column
        assert chart["height"] > 150, chart
        assert chart["shapes"] > 20, chart


def test_nothing_overflows_a_1280_px_window(browser_run):
    facts = browser_run["facts"]
    assert facts["scroll_width"] <= WIDTH_PX, facts["overflowing"]
    assert facts["overflowing"] == []


def test_the_first_screen_has_the_headline_and_what_moved(browser_run):
    boxes = browser_run["facts"]["boxes"]
    assert 0 <= boxes["#verdict .headline"]["top"] and boxes["#verdict .headline"]["bottom"] <= HEIGHT_PX
    assert boxes["#moved"]["top"] < HEIGHT_PX
    # then the undecided rows and the profile, and only after them the full table, folded
    order = [boxes[q]["top"] for q in ("#moved", "#undecided", "#profile", "details.all")]
    assert order == sorted(order)


def test_the_flame_graph_renders_across_the_column(browser_run):
    flame = browser_run["facts"]["boxes"]["svg.flame"]
    assert flame["width"] > 0.8 * (WIDTH_PX - 80) and flame["height"] > 100 and flame["shapes"] > 10, flame


def test_screenshot_written_beside_the_report(browser_run):
    png = browser_run["screenshot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == WIDTH_PX
    assert height == browser_run["facts"]["height"]
