"""`python -m personalib report`: profile -> reports, exit codes, model/notebook selection."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from personalib.__main__ import main
from personalib.cli.report import DEMO_LABEL, uses_demo_data
from personalib.params import load_profile
from tests.reports.notebooks import failing_notebook, write_notebook

PROFILE = """name: {name}
description: {description}
models: [gemma3-270m-demo, zephyr]
datasets:
  truthfulqa: {{demo: true}}
persona_sets: [empty, control]
store: {tmp}/store
reports: {tmp}/reports
parsing: strict
"""

RECORD_PARAMS = ("from personalib.reports import headline, record\n"
                 "record('profile', profile)\nrecord('store', store)\nrecord('parsing', parsing)\n"
                 "record('persona_sets', ','.join(persona_sets))\nrecord('output_dir', output_dir)\n"
                 "headline('params: ' + ','.join(models))")


def _profile(tmp: Path, description: str = "CLI test") -> Path:
    path = tmp / "clitest.yaml"
    path.write_text(PROFILE.format(name="clitest", description=description, tmp=tmp))
    return path


@pytest.mark.slow
def test_report_builds_skips_and_rebuilds_on_profile_edit(tmp_path: Path, capsys):
    profile = _profile(tmp_path)
    write_notebook(tmp_path / "nbs" / "rq1_params.ipynb", RECORD_PARAMS)
    argv = ["report", "--profile", str(profile), "--notebooks-dir", str(tmp_path / "nbs"),
            "--models", "gemma3-270m-demo"]
    assert main(argv) == 0
    assert "reports: 2 built, 0 up to date, 0 failed" in capsys.readouterr().out
    data = json.loads((tmp_path / "reports" / "rq1_params__gemma3-270m-demo.json").read_text())
    assert data["values"] == {"profile": str(profile), "store": str(tmp_path / "store"),
                              "parsing": "strict", "persona_sets": "empty,control",
                              "output_dir": str(tmp_path / "reports")}
    assert data["headline"] == "params: gemma3-270m-demo"
    index = (tmp_path / "reports" / "index.html").read_text()
    assert DEMO_LABEL in html.unescape(index) and "CLI test" in index

    assert main(argv) == 0
    assert "reports: 0 built, 2 up to date, 0 failed" in capsys.readouterr().out

    _profile(tmp_path, description="CLI test, edited")
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "reports: 2 built" in captured.out and "changed: inputs" in captured.err


@pytest.mark.slow
def test_failing_notebook_exits_2_naming_notebook_and_cell(tmp_path: Path, capsys):
    failing_notebook(tmp_path / "nbs" / "rq9_broken.ipynb")
    argv = ["report", "--profile", str(_profile(tmp_path)), "--notebooks-dir",
            str(tmp_path / "nbs"), "--models", "zephyr"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: 2 report(s) failed" in err
    assert "- rq9_broken__zephyr:" in err and "rq9_broken.ipynb: cell 4" in err
    assert "ValueError: no personas left after filtering" in err
    assert (tmp_path / "reports" / "index.html").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--models", "gpt-4"], "--models: gpt-4 not in profile 'clitest'"),
    (["--notebooks", "rq7"], "--notebooks 'rq7' matches no notebook"),
    (["--notebooks-dir", "/nonexistent/nbs"], "notebook folder not found"),
])
def test_bad_selection_exits_2_before_running_anything(tmp_path: Path, capsys, extra, message):
    write_notebook(tmp_path / "nbs" / "rq1_x.ipynb", "x = 1")
    argv = ["report", "--profile", str(_profile(tmp_path)), "--notebooks-dir", str(tmp_path / "nbs"),
            *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_unknown_profile_exits_2(capsys):
    assert main(["report", "--profile", "no-such-profile"]) == 2
    assert "no-such-profile" in capsys.readouterr().err


def test_demo_label_only_for_profiles_reading_demo_items():
    demo, released = load_profile("demo"), load_profile("released")
    assert uses_demo_data(demo, demo.models)
    assert not uses_demo_data(released, released.models)
