"""index.html: every report sidecar in the folder, grouped, ordered, escaped, demo label."""

from __future__ import annotations

import json
import re
from pathlib import Path

from personalib.reports.index import SCHEMA, read_sidecars, write_index


def _sidecar(folder: Path, notebook: str, scope: str, **extra) -> None:
    base = f"{notebook}__{scope}"
    data = {"schema": SCHEMA, "status": "ok", "notebook": notebook, "title": f"Title of {notebook}",
            "scope": scope, "models": ["zephyr", "mistral"] if scope == "all" else [scope],
            "headline": f"headline {base}", "built_at": "2026-01-01 00:00 UTC",
            "files": {"html": f"{base}.html", "ipynb": f"{base}.ipynb", "json": f"{base}.json",
                      "csv": f"{base}.csv", "tables": {"ranks": f"{base}__ranks.csv"}}}
    data.update(extra)
    (folder / f"{base}.json").write_text(json.dumps(data))


def test_index_links_every_report_with_its_headline(tmp_path: Path):
    for scope in ("mistral", "all", "zephyr"):
        _sidecar(tmp_path, "rq1_performance", scope)
    _sidecar(tmp_path, "rq2_bias", "zephyr", headline="Bias <b>&</b> gaps")
    _sidecar(tmp_path, "rq2_bias", "all", status="failed", headline=None,
             error="rq2_bias.ipynb: cell 4 failed with ValueError: boom",
             files={"ipynb": "rq2_bias__all.failed.ipynb"})
    (tmp_path / "unrelated.json").write_text('{"hello": 1}')
    (tmp_path / "broken.json").write_text("{not json")
    page = write_index(tmp_path, profile="paper", model_order=["zephyr", "mistral"]).read_text()

    assert len(read_sidecars(tmp_path)) == 5
    rows = re.findall(r'<tr class="report" data-status="(\w+)">.*?<td class="scope">(.*?)</td>', page, re.S)
    scopes = [re.sub(r"<.*?>.*", "", s) for _, s in rows]
    assert scopes == ["all models", "zephyr", "mistral", "all models", "zephyr"]
    assert [st for st, _ in rows] == ["ok", "ok", "ok", "failed", "ok"]
    assert 'href="rq1_performance__zephyr.html"' in page
    assert 'href="rq1_performance__all__ranks.csv"' in page
    assert "headline rq1_performance__mistral" in page
    assert "Bias &lt;b&gt;&amp;&lt;/b&gt; gaps" in page
    assert "cell 4 failed with ValueError: boom" in page
    assert 'href="rq2_bias__all.failed.ipynb"' in page
    assert "Title of rq1_performance" in page
    assert "demo-label" not in page


def test_demo_label_and_empty_folder(tmp_path: Path):
    page = write_index(tmp_path / "new", profile="demo", description="Offline demo",
                       demo_label="Invented demo items.").read_text()
    assert 'id="demo-label"' in page and "Invented demo items." in page
    assert "No reports have been built" in page and "Offline demo" in page


def test_report_without_headline_says_so(tmp_path: Path):
    _sidecar(tmp_path, "rq4_refusals", "all", headline=None)
    page = write_index(tmp_path, profile="demo").read_text()
    assert "no headline recorded" in page
