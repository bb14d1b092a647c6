"""Building reports: per model and across models, key numbers, failures, skips, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from personalib.reports.execute import ReportError
from personalib.reports.leaks import SecretLeakError
from personalib.reports.run import (ReportSettings, build_reports, discover_notebooks, plan_jobs)
from tests.reports.notebooks import FIGURE, failing_notebook, ok_notebook, write_notebook

MODELS = ["m1", "m2"]


def _settings(tmp: Path, **kw) -> ReportSettings:
    (tmp / "store").mkdir(exist_ok=True)
    return ReportSettings(profile="demo", store=tmp / "store", output_dir=tmp / "reports",
                          persona_sets=("regular", "control"), demo_label="Invented demo items.",
                          **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    ok_notebook(tmp / "notebooks" / "rq1_ok.ipynb")
    failing_notebook(tmp / "notebooks" / "rq2_fail.ipynb")
    settings = _settings(tmp)
    messages: list[str] = []
    outcomes = build_reports(discover_notebooks(tmp / "notebooks"), MODELS, settings,
                             log=messages.append)
    return tmp / "reports", outcomes, messages


@pytest.mark.slow
def test_each_notebook_runs_across_models_then_per_model(built):
    _, outcomes, messages = built
    assert [(o.job.base, o.status) for o in outcomes] == [
        ("rq1_ok__all", "built"), ("rq1_ok__m1", "built"), ("rq1_ok__m2", "built"),
        ("rq2_fail__all", "failed"), ("rq2_fail__m1", "failed"), ("rq2_fail__m2", "failed")]
    assert outcomes[0].job.models == ("m1", "m2") and outcomes[1].job.models == ("m1",)
    assert any("rq1_ok__all" in m for m in messages) and any("index:" in m for m in messages)


@pytest.mark.slow
def test_key_numbers_written_as_json_and_csv(built):
    out, _, _ = built
    data = json.loads((out / "rq1_ok__all.json").read_text())
    assert data["status"] == "ok" and data["title"] == "Fixture report"
    assert data["headline"] == "2 model(s): m1, m2"
    assert data["values"] == {"n_models": 2, "accuracy": 0.625, "undefined": None}
    assert data["tables"]["ranks"] == {"columns": ["persona", "rank"], "data": [["a", 1], ["b", 2]]}
    assert data["parameters"]["models"] == ["m1", "m2"]
    assert data["parameters"]["persona_sets"] == ["regular", "control"]
    assert set(data["fingerprint"]) >= {"notebook", "parameters", "store", "package_version"}
    csv = pd.read_csv(out / "rq1_ok__all.csv", keep_default_na=False)
    assert csv.to_dict("records") == [
        {"key": "headline", "value": "2 model(s): m1, m2"}, {"key": "n_models", "value": "2"},
        {"key": "accuracy", "value": "0.625"}, {"key": "undefined", "value": ""}]
    assert pd.read_csv(out / "rq1_ok__m1__ranks.csv").to_dict("list") == {"persona": ["a", "b"], "rank": [1, 2]}
    assert json.loads((out / "rq1_ok__m2.json").read_text())["headline"] == "1 model(s): m2"


@pytest.mark.slow
def test_html_report_has_figure_and_demo_label(built):
    out, _, _ = built
    page = (out / "rq1_ok__m1.html").read_text()
    assert 'src="data:image/png;base64,' in page
    assert "Invented demo items." in page and "scope: <strong>m1</strong>" in page
    assert (out / "rq1_ok__m1.ipynb").exists()


@pytest.mark.slow
def test_failed_report_names_cell_and_keeps_partial_notebook(built):
    out, outcomes, _ = built
    failed = outcomes[3]
    assert "rq2_fail.ipynb: cell 4" in failed.reason
    assert "ValueError: no personas left after filtering" in failed.reason
    assert "rq2_fail__all.failed.ipynb" in failed.reason
    assert (out / "rq2_fail__all.failed.ipynb").exists()
    assert not (out / "rq2_fail__all.html").exists() and not (out / "rq2_fail__all.ipynb").exists()
    data = json.loads((out / "rq2_fail__all.json").read_text())
    assert data["status"] == "failed" and "cell 4" in data["error"]


@pytest.mark.slow
def test_index_lists_all_reports(built):
    out, _, _ = built
    page = (out / "index.html").read_text()
    for base in ("rq1_ok__all", "rq1_ok__m1", "rq1_ok__m2"):
        assert f'href="{base}.html"' in page
    assert "2 model(s): m1, m2" in page and "1 model(s): m1" in page
    assert page.count('data-status="failed"') == 3
    assert "Invented demo items." in page


@pytest.mark.slow
def test_reruns_skip_up_to_date_reports_and_rebuild_what_changed(tmp_path: Path):
    nb = write_notebook(tmp_path / "nbs" / "rq1.ipynb",
                        "from personalib.reports import headline, record_table\nimport pandas as pd\n"
                        "record_table('t', pd.DataFrame({'a': [1]}))\nheadline('first')")
    settings = _settings(tmp_path)

    def build(models=("m1",), **kw):
        return {o.job.base: (o.status, o.reason)
                for o in build_reports([nb], list(models), settings, log=lambda _: None, **kw)}

    assert build() == {"rq1__all": ("built", "first build"), "rq1__m1": ("built", "first build")}
    html = tmp_path / "reports" / "rq1__m1.html"
    stamp = html.stat().st_mtime_ns
    assert build() == {"rq1__all": ("up-to-date", ""), "rq1__m1": ("up-to-date", "")}
    assert html.stat().st_mtime_ns == stamp

    (tmp_path / "store" / "outcomes").mkdir(parents=True)
    (tmp_path / "store" / "outcomes" / "cache.parquet").write_bytes(b"the outcome cache")
    assert build() == {"rq1__all": ("up-to-date", ""), "rq1__m1": ("up-to-date", "")}  # not generations
    (tmp_path / "store" / "parts").mkdir()
    (tmp_path / "store" / "parts" / "part-0001.parquet").write_bytes(b"new generations")
    assert build() == {"rq1__all": ("built", "changed: store"), "rq1__m1": ("built", "changed: store")}

    write_notebook(nb, "from personalib.reports import headline\nheadline('second')")
    assert set(build().values()) == {("built", "changed: notebook")}
    assert not (tmp_path / "reports" / "rq1__m1__t.csv").exists()  # the dropped table's CSV is gone
    assert json.loads((tmp_path / "reports" / "rq1__m1.json").read_text())["headline"] == "second"

    assert build(("m1", "m2")) == {"rq1__all": ("built", "changed: parameters"),
                                   "rq1__m1": ("up-to-date", ""),
                                   "rq1__m2": ("built", "first build")}
    assert build(("m1",), force=True)["rq1__m1"] == ("built", "forced")
    index = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="rq1__m2.html"' in index  # reports of earlier runs stay listed


@pytest.mark.slow
def test_secret_printed_by_a_cell_fails_the_run_and_leaves_no_report(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PERSONALIB_TEST_API_KEY", "sk-never-in-a-report-123456")
    nb = write_notebook(tmp_path / "nbs" / "rq_leak.ipynb",
                        "import os\nprint(os.environ['PERSONALIB_TEST_API_KEY'])", FIGURE)
    with pytest.raises(SecretLeakError, match="PERSONALIB_TEST_API_KEY") as err:
        build_reports([nb], ["m1"], _settings(tmp_path), log=lambda _: None)
    assert "sk-never" not in str(err.value)
    left = {p.name for p in (tmp_path / "reports").iterdir()}
    assert not {"rq_leak__all.html", "rq_leak__all.ipynb", "rq_leak__all.json"} & left
    for path in (tmp_path / "reports").iterdir():
        assert "sk-never-in-a-report" not in path.read_text(errors="replace")


def test_discover_and_select_notebooks(tmp_path: Path):
    for name in ("rq1_performance", "rq2_bias", "rq20_extra", "_scratch"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert [p.stem for p in discover_notebooks(tmp_path)] == ["rq1_performance", "rq20_extra", "rq2_bias"]
    assert [p.stem for p in discover_notebooks(tmp_path, ["rq2_bias", "rq1"])] == ["rq2_bias", "rq1_performance"]
    with pytest.raises(ReportError, match="'rq2' matches 2 notebooks; choose from"):
        discover_notebooks(tmp_path, ["rq2"])
    with pytest.raises(ReportError, match="'rq9' matches no notebook"):
        discover_notebooks(tmp_path, ["rq9"])
    with pytest.raises(ReportError, match="no report notebooks"):
        discover_notebooks(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
    with pytest.raises(ReportError, match="notebook folder not found"):
        discover_notebooks(tmp_path / "missing")


def test_plan_refuses_names_that_break_file_names(tmp_path: Path):
    nb = tmp_path / "rq1.ipynb"
    assert [j.base for j in plan_jobs([nb], ["gpt-3.5", "zephyr"])] == [
        "rq1__all", "rq1__gpt-3.5", "rq1__zephyr"]
    for bad in (["all"], ["a__b"], ["x/y"]):
        with pytest.raises(ReportError, match="reserved"):
            plan_jobs([nb], bad)
    with pytest.raises(ReportError, match="reserved"):
        plan_jobs([tmp_path / "rq__1.ipynb"], ["m"])
    with pytest.raises(ReportError, match="no models"):
        plan_jobs([nb], [])


@pytest.mark.slow
def test_an_across_model_only_notebook_is_one_page_listed_first(tmp_path: Path):
    """A notebook whose metadata says {"personalib": {"scope": "all"}} (the claims scorecard) runs
    once across the models, under its own name, and the index lists it before the others."""
    import nbformat

    from personalib.reports.index import INDEX_NAME

    ok_notebook(tmp_path / "notebooks" / "rq1_ok.ipynb")
    path = ok_notebook(tmp_path / "notebooks" / "claims.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.metadata["personalib"] = {"scope": "all"}
    nbformat.write(nb, path)
    settings = _settings(tmp_path)
    jobs = plan_jobs(discover_notebooks(tmp_path / "notebooks"), MODELS)
    assert [j.base for j in jobs] == ["claims", "rq1_ok__all", "rq1_ok__m1", "rq1_ok__m2"]
    outcomes = build_reports([path], MODELS, settings, log=lambda m: None)
    assert [(o.job.base, o.status) for o in outcomes] == [("claims", "built")]
    out = tmp_path / "reports"
    assert {p.name for p in out.iterdir() if p.name.startswith("claims")} >= {
        "claims.html", "claims.ipynb", "claims.json", "claims.csv", "claims__ranks.csv"}
    side = json.loads((out / "claims.json").read_text())
    assert side["single"] is True and side["models"] == MODELS and side["files"]["html"] == "claims.html"
    build_reports([tmp_path / "notebooks" / "rq1_ok.ipynb"], MODELS, settings, log=lambda m: None)
    page = (out / INDEX_NAME).read_text()
    assert page.index('href="claims.html"') < page.index('href="rq1_ok__all.html"')
