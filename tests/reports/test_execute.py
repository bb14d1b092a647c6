"""Executing a report notebook with papermill in this interpreter's kernel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from personalib.reports.execute import CellError, ReportError, execute_notebook, read_notebook
from personalib.reports.keynumbers import collect
from tests.reports.notebooks import DEFAULTS, failing_notebook, write_notebook

PARAMS = {"models": ["zephyr", "mistral"], "store": "/tmp/store", "persona_sets": ["regular"],
          "profile": "paper", "parsing": "strict", "output_dir": "/tmp/out"}


@pytest.mark.slow
def test_parameters_injected_and_kernel_is_this_interpreter(tmp_path: Path, monkeypatch):
    # a broken `python3` kernelspec first on the Jupyter path must not be used
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "broken", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    nb_path = write_notebook(
        tmp_path / "rq.ipynb",
        "import sys\nfrom personalib.reports import record\n"
        "record('executable', sys.executable)\nrecord('models', ','.join(models))\n"
        "record('parsing', parsing)\nrecord('cwd', __import__('os').getcwd())")
    out = tmp_path / "out" / "rq.ipynb"
    nb = execute_notebook(nb_path, out, PARAMS, cwd=tmp_path)
    values = collect(nb).values
    assert values == {"executable": sys.executable, "models": "zephyr,mistral", "parsing": "strict",
                      "cwd": str(tmp_path)}
    assert collect(nbformat.read(out, as_version=4)).values == values
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and '"zephyr"' in injected[0].source


@pytest.mark.slow
def test_failing_cell_names_notebook_cell_and_error(tmp_path: Path):
    nb_path = failing_notebook(tmp_path / "rq_fail.ipynb")
    out = tmp_path / "out.ipynb"
    with pytest.raises(CellError) as err:
        execute_notebook(nb_path, out, PARAMS)
    exc = err.value
    assert (exc.notebook, exc.cell, exc.ename) == (nb_path, 4, "ValueError")
    message = str(exc)
    assert str(nb_path) in message and "cell 4" in message
    assert "ValueError: no personas left after filtering" in message
    assert "raise ValueError" in message and str(out) in message
    assert out.exists()  # the partial notebook with the traceback stays for inspection


@pytest.mark.slow
def test_cell_timeout_stops_the_kernel_with_a_clear_error(tmp_path: Path):
    nb_path = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(ReportError, match="slow.ipynb: the kernel stopped"):
        execute_notebook(nb_path, tmp_path / "out.ipynb", PARAMS, cell_timeout=2)


def test_notebook_needs_exactly_one_parameters_cell(tmp_path: Path):
    nb_path = write_notebook(tmp_path / "rq.ipynb", "x = 1")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[1].metadata["tags"] = []
    nbformat.write(nb, nb_path)
    with pytest.raises(ReportError, match=r"rq.ipynb: found 0 cells tagged 'parameters'"):
        execute_notebook(nb_path, tmp_path / "out.ipynb", PARAMS)
    assert not (tmp_path / "out.ipynb").exists()


def test_parameters_cell_must_assign_every_parameter(tmp_path: Path):
    nb_path = write_notebook(tmp_path / "rq.ipynb", "x = 1",
                             parameters=DEFAULTS.replace('parsing = "faithful"\n', ""))
    with pytest.raises(ReportError, match="does not assign parsing"):
        execute_notebook(nb_path, tmp_path / "out.ipynb", PARAMS)


def test_unreadable_or_missing_notebook(tmp_path: Path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    with pytest.raises(ReportError, match="bad.ipynb is not a readable Jupyter notebook"):
        read_notebook(bad)
    with pytest.raises(ReportError, match="notebook not found"):
        read_notebook(tmp_path / "missing.ipynb")
