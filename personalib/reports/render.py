"""Render an executed notebook to one self-contained HTML page (nbconvert).

What a researcher reading a report wants: every output (tables, text, figures as embedded PNG
data URIs) in order, the narrative, and the code one click away rather than in the way. So code
inputs are collapsed under a "code" toggle (cell tag `show-input` opens it; `remove-input`,
`remove-output` and `remove-cell` drop parts, as in Jupyter Book). The page loads nothing from
the network (no require.js/MathJax/mermaid CDN scripts), so it opens offline and can be archived.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from personalib.paths import DATA_DIR
from personalib.reports.keynumbers import MIME_TYPE

TEMPLATE_DIR = DATA_DIR / "reports" / "nbconvert"
TEMPLATE_NAME = "personalib_report"
DEFAULT_PARAMETERS_TAG = "parameters"  # the notebook's defaults; papermill's injected cell follows


def render_html(nb: nbformat.NotebookNode, output: Path, *, title: str,
                header: Mapping[str, Any] | None = None) -> Path:
    """Write `nb` as an HTML report to `output`; `header` fills the page header.

    `header` keys: notebook, scope, profile, generated, version, index_href, demo_label (any may be absent).
    The defaults cell tagged `parameters` is left out: the injected cell shows the values used.
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells
                if DEFAULT_PARAMETERS_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:  # recorded key numbers are written as JSON/CSV, not shown
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if MIME_TYPE not in (o.get("data") or {})]
    exporter = HTMLExporter(template_name=TEMPLATE_NAME,
                            extra_template_basedirs=[str(TEMPLATE_DIR)])
    remover = TagRemovePreprocessor(
        remove_cell_tags={"remove-cell"},
        remove_input_tags={"remove-input"},
        remove_all_outputs_tags={"remove-output"},
        enabled=True,
    )
    exporter.register_preprocessor(remover, enabled=True)
    resources = {"metadata": {"name": title},
                 "personalib": {"title": title, **dict(header or {})}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body, encoding="utf-8")
    return output
