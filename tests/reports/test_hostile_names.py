"""Reports built from names users chose: a hostile persona set (markup, script, quotes, `$`,
spaces in its set name, categories, stems and texts) and a dataset whose source is missing.

One run of the real `report` command builds every report (the four notebooks, across models and
per model, and the claims scorecard) on a small store; then:
- no page holds an element or attribute that comes from those names (parsed with html.parser),
  and where Chromium is installed no script runs in any page (nothing it had to block either);
- the set name with spaces and markup gives valid key numbers (RQ3 records one per family);
- the toxicity source (user-supplied `largeScale.csv`) is missing: every report is built and says
  in a note that its generations are left out and how to get the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from personalib.reports.keynumbers import key_name
from personalib.store import Store, environment, new_run_id, utc_now
from tests.analysis.fixture_store import fixture_rows
from tests.test_browser import CHROMIUM, Page, page  # noqa: F401  (page: the Chromium fixture)

REPO = Path(__file__).resolve().parents[2]
MODEL = "zephyr"
SET_NAME = "farm and care <img src=x onerror=\"document.title='pwned-set'\"><xss-set>"
PERSONAS = [
    {"text": "<script>document.title='pwned-text'</script> a farmer",
     "category": "<img src=x onerror=\"document.title='pwned-cat'\"> $_$ care & \"quoted\"",
     "stem": "<xss-stem>a_farmer\"'$_$&amp;"},
    {"text": "a $x$ nurse <svg onload=\"document.title='pwned-svg'\">",
     "category": "<script>document.title='pwned-cat2'</script>",
     "stem": "nurse<xss-stem2>'"},
    {"text": "a retired teacher", "category": "plain care"},
]
CONTROL = ("a_helpful_assistant", "a_useful_helper")
DATASETS = ("truthfulqa", "mmlu", "bbq", "attitudes", "toxicity")
# tags and attributes the hostile names would bring if they were not escaped
FOREIGN_TAGS = {"script", "svg", "iframe", "object", "embed"}
MISSING_SOURCE_NOTE = "toxicity: its items cannot be loaded, so its generations are left out"


def _stems() -> list[str]:
    return [p.get("stem", p["text"].replace(" ", "_")) for p in PERSONAS]


def _write_study(tmp: Path) -> Path:
    """Store (one model, the hostile set + no persona + two control personas, all demo items) and
    a profile reading every dataset from the demo items except toxicity (`{}`: its source)."""
    set_file = tmp / "hostile_set.yaml"
    set_file.write_text(yaml.safe_dump({"name": SET_NAME, "personas": PERSONAS}), encoding="utf-8")
    personas = {SET_NAME: tuple(_stems()), "empty": ("empty",), "control": CONTROL}
    run_id = new_run_id()
    rows = [{**row, "run_id": run_id} for row in fixture_rows((MODEL,), personas, DATASETS)]
    store = Store(tmp / "store")
    store.append(rows)
    store.write_manifest({"run_id": run_id, "origin": "generated", "status": "completed",
                          "command": "tests/reports/test_hostile_names.py",
                          "started_at": utc_now(), "ended_at": utc_now(),
                          "environment": environment(),
                          "models": [{"name": MODEL, "model_id": f"fixture/{MODEL}"}],
                          "counts": {"rows": len(rows)}})
    profile = {
        "name": "hostile", "description": "names from a user's file <xss-description>",
        "models": [MODEL],
        "datasets": {d: ({} if d == "toxicity" else {"demo": True}) for d in DATASETS},
        "persona_sets": [str(set_file), "empty", "control"],
        "personas": [*_stems(), "empty", *CONTROL],
        "store": str(tmp / "store"), "reports": str(tmp / "reports"), "parsing": "faithful",
    }
    path = tmp / "hostile.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    profile = _write_study(tmp)
    env = {**os.environ, "PERSONALIB_CACHE": str(tmp / "empty-cache")}  # no largeScale.csv
    proc = subprocess.run([sys.executable, "-m", "personalib", "report", "--profile", str(profile)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "reports: 9 built, 0 up to date, 0 failed" in proc.stdout
    return tmp / "reports"


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text (entities decoded) of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> _Page:
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    parsed.close()
    return parsed


def _pages(reports: Path) -> list[Path]:
    pages = sorted(reports.glob("*.html"))
    assert len(pages) == 10, [p.name for p in pages]  # 4 notebooks x (all, zephyr) + claims + index
    return pages


@pytest.mark.slow
def test_no_markup_from_the_persona_set_reaches_any_page(reports: Path):
    shown: dict[str, str] = {}
    for path in _pages(reports):
        page = _parse(path)
        for tag, attrs in page.tags:
            where = f"{path.name}: <{tag} {attrs}>"
            assert tag not in FOREIGN_TAGS and not tag.startswith("xss"), where
            assert not any(name.startswith("on") for name, _ in attrs), where
            if tag == "img":
                assert dict(attrs).get("src", "").startswith("data:image/png;base64,"), where
        shown[path.name] = "".join(page.text)
    # the names did reach the pages, as text: the check above is not vacuous
    for path_name, text in shown.items():
        if path_name != "index.html":
            assert SET_NAME in text or PERSONAS[0]["stem"] in text, path_name
    everything = "\n".join(shown.values())
    for value in (SET_NAME, PERSONAS[0]["stem"], PERSONAS[1]["stem"], PERSONAS[0]["category"],
                  PERSONAS[1]["category"], "<xss-description>"):
        assert value in everything, value


@pytest.mark.slow
def test_set_name_with_spaces_and_markup_gives_valid_key_numbers(reports: Path):
    side = json.loads((reports / f"rq3_attitudes__{MODEL}.json").read_text(encoding="utf-8"))
    assert side["status"] == "ok"
    key = key_name(MODEL, f"friedman_significant_{SET_NAME}")
    assert key.startswith("zephyr.friedman_significant_farm_and_care_") and key in side["values"]
    assert f"{MODEL}.friedman_significant_control" in side["values"]  # ordinary names unchanged


@pytest.mark.slow
def test_missing_source_is_left_out_with_a_note_in_every_report(reports: Path):
    for path in _pages(reports):
        if path.name == "index.html":
            continue
        text = " ".join("".join(_parse(path).text).split())
        assert MISSING_SOURCE_NOTE in text, path.name
        assert "largeScale.csv is missing. Get it from" in text, path.name


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_no_script_runs_in_chromium(reports: Path, page: Page):  # noqa: F811
    # installed before each page's own content: records what the page's policy had to block
    page.call("Page.addScriptToEvaluateOnNewDocument", source=(
        "window.__blocked = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__blocked.push(e.violatedDirective + ' ' + e.blockedURI));"))
    for path in _pages(reports):
        page.open(path.as_uri())
        assert "pwned" not in page.js("document.title"), path.name
        assert page.js("document.querySelectorAll('script, svg, [onerror], [onload]').length") == 0
        assert page.js("window.__blocked") == [], path.name
        text = page.js("document.body.innerText")
        assert "Traceback" not in text and (path.name == "index.html" or SET_NAME in text
                                            or PERSONAS[0]["stem"] in text), path.name
