"""HTML rendering of an executed notebook: outputs kept, code collapsed, self-contained page."""

from __future__ import annotations

import base64
import io
import re
import warnings
from pathlib import Path

import matplotlib
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from personalib.reports.keynumbers import MIME_TYPE
from personalib.reports.render import render_html

matplotlib.use("Agg")


def _png() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _cell(source: str, tags=(), outputs=()):
    cell = new_code_cell(source, execution_count=1)
    cell.metadata["tags"] = list(tags)
    cell.outputs = list(outputs)
    return cell


@pytest.fixture
def page(tmp_path: Path) -> str:
    nb = new_notebook(cells=[
        new_markdown_cell("# RQ1 <performance>\n\nNarrative text."),
        _cell("models = ['default']", tags=["parameters"]),
        _cell("models = ['gemma3-270m-demo']", tags=["injected-parameters"]),
        _cell("plot_scores()", outputs=[new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]),
        _cell("secret_helper_code()", tags=["remove-input"],
              outputs=[new_output("stream", name="stdout", text="visible result 42\n")]),
        _cell("scratch_cell()", tags=["remove-cell"], outputs=[new_output("stream", name="stdout", text="scratch output\n")]),
        _cell("shown_code()", tags=["show-input"]),
        _cell("record('acc', 0.5)", outputs=[new_output("display_data", data={MIME_TYPE: {"kind": "value", "key": "acc", "value": 0.5}})]),
    ])
    out = tmp_path / "rq1__all.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. nbconvert's "not able to be represented"
        render_html(nb, out, title="RQ1 <performance>", header={
            "notebook": "rq1.ipynb", "scope": "all models", "profile": "demo", "index_href": "index.html",
            "demo_label": "Invented items & a small model."})
    return out.read_text()


def test_figure_is_embedded_as_png_data_uri(page: str):
    assert re.search(r'<img[^>]+src="data:image/png;base64,iVBOR', page)


def test_page_loads_nothing_from_the_network(page: str):
    assert not re.search(r"<script[^>]+src=", page)
    assert "cdnjs" not in page and "cdn.jsdelivr" not in page


def test_code_is_collapsed_and_tags_are_honoured(page: str):
    assert "<details class=\"pl-code\"><summary>code</summary>" in page
    assert re.search(r"<details class=\"pl-code\" open(=\"\")?><summary>code</summary>", page)  # show-input
    assert page.count("<details") == 4  # injected parameters, figure, show-input, record cell
    assert "visible result 42" in page and "secret_helper_code" not in page
    assert "scratch" not in page


def test_defaults_cell_dropped_injected_parameters_kept(page: str):
    assert "gemma3-270m-demo" in page
    shown = re.sub(r"<style.*?</style>|<meta [^>]*>", "", page, flags=re.S)  # CSS, the policy
    assert "default" not in shown.replace("defaults", "")


def test_page_allows_no_script(page: str):
    meta = re.search(r"<meta [^>]*Content-Security-Policy[^>]*>", page)
    policy = re.search(r'content="([^"]*)"', meta.group(0)).group(1) if meta else ""
    assert "default-src 'none'" in policy and "script" not in policy
    assert "<script" not in page


def test_header_and_demo_label_escaped(page: str):
    assert 'id="personalib-demo-label"' in page
    assert "Invented items &amp; a small model." in page
    assert "<title>RQ1 &lt;performance&gt;</title>" in page
    assert 'href="index.html"' in page and "all models" in page


def test_recorded_values_are_not_shown(page: str):
    assert MIME_TYPE not in page
