"""Real browser check of rendered reports (issue 5 item 5): headless Chromium opens index.html
and a report through the Chrome DevTools protocol, and checks that the links are there, the
figures decode (naturalWidth > 0) and paint non-blank pixels, and no cell shows an error.
Skipped with a reason when Chromium is not installed (.ci/run installs the Debian package)."""

from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from personalib.reports.run import ReportSettings, build_reports
from tests.reports.notebooks import ok_notebook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000", "--remote-debugging-port=0", "--remote-allow-origins=*"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)"),
]


class Page:
    """A minimal DevTools-protocol client for one page target (websocket-client)."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            self.events.append(json.loads(self.ws.recv()))

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, clip: dict | None = None):
        from PIL import Image

        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        return Image.open(io.BytesIO(data)).convert("RGB")


def _ink(image) -> float:
    """Share of pixels that are not (near) white."""
    gray = image.convert("L")
    hist = gray.histogram()
    return 1 - sum(hist[245:]) / max(1, sum(hist))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    ok_notebook(tmp / "notebooks" / "rq1_browser.ipynb")
    settings = ReportSettings(profile="demo", store=tmp / "store", output_dir=tmp / "reports",
                              demo_label="Invented demo items.")
    outcomes = build_reports([tmp / "notebooks" / "rq1_browser.ipynb"], ["m1"], settings,
                             log=lambda _: None)
    assert [o.status for o in outcomes] == ["built", "built"]
    return tmp / "reports"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start its DevTools endpoint (exit {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        target = next(t for t in targets if t.get("type") == "page")
        client = Page(target["webSocketDebuggerUrl"])
        client.call("Page.enable")
        yield client
        client.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_index_lists_the_reports_with_headlines(reports: Path, page: Page):
    page.open((reports / "index.html").as_uri())
    links = page.js("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert {"rq1_browser__all.html", "rq1_browser__m1.html", "rq1_browser__m1__ranks.csv"} <= set(links)
    text = page.js("document.body.innerText")
    assert "1 model(s): m1" in text and "Demo data." in text and "failed" not in text
    assert _ink(page.screenshot()) > 0.01


def test_report_figure_renders_and_no_cell_shows_an_error(reports: Path, page: Page):
    page.open((reports / "rq1_browser__m1.html").as_uri())
    images = page.js(
        "Array.from(document.images).map(i => {const r = i.getBoundingClientRect();"
        " return {src: i.src.slice(0, 22), complete: i.complete, w: i.naturalWidth,"
        " h: i.naturalHeight, x: r.x + window.scrollX, y: r.y + window.scrollY,"
        " cw: r.width, ch: r.height};})")
    assert len(images) == 1
    img = images[0]
    assert img["src"] == "data:image/png;base64," and img["complete"]
    assert img["w"] > 100 and img["h"] > 100 and img["cw"] > 0 and img["ch"] > 0
    figure = page.screenshot({"x": img["x"], "y": img["y"], "width": img["cw"], "height": img["ch"]})
    assert _ink(figure) > 0.02  # axes, bars and labels, not a blank box
    text = page.js("document.body.innerText")
    assert "Traceback" not in text and "Error" not in text
    assert page.js("document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]').length") == 0
    assert "Demo data." in text and "done" in text
    # code is collapsed but present: one click away
    assert page.js("document.querySelectorAll('details.pl-code:not([open])').length") >= 3
    assert _ink(page.screenshot()) > 0.01


@pytest.fixture(scope="module")
def study_reports(tmp_path_factory) -> Path:
    """The real RQ notebooks' across-model reports on the analysis fixture store, and the index."""
    from personalib.reports.index import write_index
    from personalib.reports.run import ReportJob, build_report
    from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture

    tmp = tmp_path_factory.mktemp("browser-rq")
    profile, store = write_fixture(tmp)
    out = tmp / "reports"
    settings = ReportSettings(profile=str(profile), store=store, output_dir=out,
                              persona_sets=tuple(PERSONAS), demo_label="Invented demo items.",
                              cwd=Path(__file__).resolve().parents[1])
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for name in ("rq1_performance", "rq4_refusals"):
        outcome = build_report(ReportJob(notebooks / f"{name}.ipynb", "all", MODELS), settings)
        assert outcome.status == "built", outcome.reason
    write_index(out, profile="fixture", description="", demo_label="Invented demo items.",
                model_order=list(MODELS))
    return out


@pytest.mark.parametrize("name", ["rq1_performance", "rq4_refusals"])
def test_research_question_report_figures_render(study_reports: Path, page: Page, name: str):
    page.open((study_reports / "index.html").as_uri())
    links = page.js("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert f"{name}__all.html" in links
    page.open((study_reports / f"{name}__all.html").as_uri())
    images = page.js(
        "Array.from(document.images).map(i => {const r = i.getBoundingClientRect();"
        " return {src: i.src.slice(0, 22), complete: i.complete, w: i.naturalWidth,"
        " h: i.naturalHeight, x: r.x + window.scrollX, y: r.y + window.scrollY,"
        " cw: r.width, ch: r.height};})")
    assert len(images) >= 2
    for img in images:
        assert img["src"] == "data:image/png;base64," and img["complete"] and img["w"] > 100
        shot = page.screenshot({"x": img["x"], "y": img["y"], "width": img["cw"], "height": img["ch"]})
        assert _ink(shot) > 0.02, img  # painted axes, points and labels, not a blank box
    text = page.js("document.body.innerText")
    assert "Traceback" not in text and "Demo data." in text
    assert "Deviations from the original analysis" in text
    assert page.js("document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]').length") == 0


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory) -> Path:
    """The demo profile end to end, as `make reproduce` runs it, on the first item of each
    dataset (17 personas x 5 prompts) so that it fits the test budget: generate with the embedded
    model, then every report and the index."""
    import os
    import sys

    tmp = tmp_path_factory.mktemp("demo")
    repo = Path(__file__).resolve().parents[1]
    for args in (["generate", "--profile", "demo", "--limit", "1", "--store", str(tmp / "store"),
                  "--no-progress"],
                 ["report", "--profile", "demo", "--store", str(tmp / "store"),
                  "--output", str(tmp / "reports")]):
        proc = subprocess.run([sys.executable, "-m", "personalib", *args], cwd=repo, env=os.environ,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert "9 built, 0 up to date, 0 failed" in proc.stdout  # 4 notebooks x (all, model) + claims
    return tmp / "reports"


def test_demo_index_and_a_report_render(demo_reports: Path, page: Page):
    page.open((demo_reports / "index.html").as_uri())
    links = page.js("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    for name in ("rq1_performance", "rq2_bias", "rq3_attitudes", "rq4_refusals"):
        assert {f"{name}__all.html", f"{name}__gemma3-270m-demo.html"} <= set(links)
    assert links.index("claims.html") < links.index("rq1_performance__all.html")  # the scorecard first
    text = page.js("document.body.innerText")
    assert "Demo data." in text and "failed" not in text and "no headline recorded" not in text
    assert "Claims of the paper:" in text
    page.open((demo_reports / "claims.html").as_uri())
    text = page.js("document.body.innerText")
    assert "Traceback" not in text and "model gpt-3.5 not in this profile" in text
    assert "gemma3-270m-demo (" in text  # the demo model's own readings, beside the claims it lacks
    page.open((demo_reports / "rq1_performance__gemma3-270m-demo.html").as_uri())
    images = page.js(
        "Array.from(document.images).map(i => {const r = i.getBoundingClientRect();"
        " return {complete: i.complete, w: i.naturalWidth, x: r.x + window.scrollX,"
        " y: r.y + window.scrollY, cw: r.width, ch: r.height};})")
    assert images
    for img in images:
        assert img["complete"] and img["w"] > 100
        shot = page.screenshot({"x": img["x"], "y": img["y"], "width": img["cw"], "height": img["ch"]})
        assert _ink(shot) > 0.02, img
    text = page.js("document.body.innerText")
    assert "Traceback" not in text and "Demo data." in text
