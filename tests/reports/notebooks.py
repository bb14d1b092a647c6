"""Small report notebooks written by the tests (nbformat), with the parameters cell every report
notebook has (personalib.reports.execute.PARAMETERS)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

DEFAULTS = ('models = ["default-model"]\nstore = "store/none"\npersona_sets = ["regular"]\n'
            'profile = "demo"\nparsing = "faithful"\noutput_dir = "reports/none"\n')

FIGURE = (
    "import matplotlib\nimport matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\n"
    "ax.bar(['a', 'b', 'c'], [3, 1, 2], color='tab:blue')\n"
    "ax.set_title('persona scores')\nplt.show()"
)

RECORDS = (
    "import math\nimport pandas as pd\n"
    "from personalib.reports import headline, record, record_table\n"
    "record('n_models', len(models))\n"
    "record('accuracy', 0.625)\n"
    "record('undefined', math.nan)\n"
    "record_table('ranks', pd.DataFrame({'persona': ['a', 'b'], 'rank': [1, 2]}))\n"
    "headline(f'{len(models)} model(s): ' + ', '.join(models))"
)


def write_notebook(path: Path, *cells: str, title: str = "Fixture report",
                   parameters: str = DEFAULTS) -> Path:
    """A notebook: a Markdown title, the tagged parameters cell, then one code cell per string."""
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nSome narrative."), params,
                             *(new_code_cell(c) for c in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def ok_notebook(path: Path) -> Path:
    """A report that records key numbers, a table and a headline, and draws one figure."""
    return write_notebook(path, RECORDS, FIGURE, "print('done')", title="Fixture report")


def failing_notebook(path: Path) -> Path:
    """A report whose fourth cell (1-based, counting the title and parameters) raises."""
    return write_notebook(path, "x = 1", "raise ValueError('no personas left after filtering')",
                          "print('never')", title="Failing report")
