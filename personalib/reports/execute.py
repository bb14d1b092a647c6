"""Execute one research-question notebook with papermill in the current interpreter's kernel.

The kernel is always `sys.executable -m ipykernel_launcher`: no `ipykernel install` is needed in a
fresh virtual environment, and a `python3` kernel installed elsewhere on the machine (another
interpreter, without personalib) is never picked up by mistake.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from personalib.errors import PersonalibError

PARAMETERS: tuple[str, ...] = ("models", "store", "persona_sets", "profile", "parsing", "output_dir")
"""Names every report notebook declares in its cell tagged `parameters` (docs/reports.md)."""

KERNEL_NAME = "python3"


class ReportError(PersonalibError):
    """A report could not be built: bad notebook, failing cell, leaked secret."""


class CellError(ReportError):
    """A notebook cell raised: names the notebook, the cell (1-based, as in the file) and error."""

    def __init__(self, notebook: Path, cell: int, ename: str, evalue: str, first_line: str,
                 executed: Path) -> None:
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        self.executed = executed
        super().__init__(
            f"{notebook}: cell {cell} ({first_line!r}) failed with {ename}: {evalue}\n"
            f"  the executed notebook with the full traceback is at {executed}"
        )


class CurrentInterpreterKernelManager(AsyncKernelManager):
    """Kernel manager whose kernel is this interpreter's ipykernel, whatever specs are installed."""

    @default("transport_encryption")
    def _encrypt_when_possible(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (personalib)",
                language="python",
                interrupt_mode="signal",
                # lets jupyter_client provision CurveZMQ keys when pyzmq has them (encrypted link)
                metadata={"supported_encryption": ["curve"]},
            )
        return self._kernel_spec

    kernel_log: str | None = None  # set on a per-run subclass: where the kernel's own output goes

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.kernel_log is None:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        # the kernel's own log (e.g. shutdown chatter) goes to a file, not the user's terminal
        with open(self.kernel_log, "ab") as sink:
            kw.setdefault("stdout", sink)
            kw.setdefault("stderr", sink)
            await super()._async_launch_kernel(kernel_cmd, **kw)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook file, or raise ReportError naming it and the problem."""
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise ReportError(f"notebook not found: {path}") from None
    except Exception as exc:  # nbformat raises several unrelated types for bad JSON/schema
        raise ReportError(f"{path} is not a readable Jupyter notebook: {exc}") from None


def check_parameters_cell(path: Path, nb: nbformat.NotebookNode,
                          required: tuple[str, ...] = PARAMETERS) -> None:
    """A report notebook needs one cell tagged `parameters` that assigns every required name."""
    from papermill.inspection import inspect_notebook

    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ReportError(
            f"{path}: found {len(tagged)} cells tagged 'parameters'; a report notebook needs exactly "
            f"one (a code cell assigning {', '.join(required)}; tag it in JupyterLab's property "
            "inspector)"
        )
    declared = set(inspect_notebook(str(path)))
    missing = [name for name in required if name not in declared]
    if missing:
        raise ReportError(
            f"{path}: the parameters cell does not assign {', '.join(missing)}; add a default for "
            f"each of {', '.join(required)}"
        )


def _source_cell_number(source_nb: nbformat.NotebookNode, executed_cell: Any,
                        executed_index: int, n_injected: int) -> int:
    """1-based position of the failing cell in the notebook file (by cell id when available)."""
    cell_id = executed_cell.get("id")
    for i, cell in enumerate(source_nb.cells):
        if cell_id is not None and cell.get("id") == cell_id:
            return i + 1
    return executed_index - n_injected + 1


def execute_notebook(notebook: Path, output: Path, parameters: Mapping[str, Any], *,
                     cwd: Path | None = None, cell_timeout: float | None = None
                     ) -> nbformat.NotebookNode:
    """Run `notebook` with `parameters` injected by papermill, saving the result to `output`.

    A failing cell raises CellError (notebook, cell number, exception name and message); the
    partly executed notebook stays at `output` for inspection.
    """
    source_nb = read_notebook(notebook)
    check_parameters_cell(notebook, source_nb)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="personalib-kernel-") as tmp:
        log = Path(tmp) / "kernel.log"
        manager = type("ReportKernelManager", (CurrentInterpreterKernelManager,),
                       {"kernel_log": str(log)})
        try:
            return _run_papermill(notebook, output, parameters, source_nb, manager, cwd,
                                  cell_timeout)
        except (RuntimeError, TimeoutError) as exc:  # dead kernel, start-up failure, cell timeout
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ReportError(
                f"{notebook}: the kernel stopped ({type(exc).__name__}: {exc})"
                + (f"\n  kernel log (end):\n{tail}" if tail.strip() else "")
            ) from None


def _run_papermill(notebook: Path, output: Path, parameters: Mapping[str, Any],
                   source_nb: nbformat.NotebookNode, manager: type, cwd: Path | None,
                   cell_timeout: float | None) -> nbformat.NotebookNode:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        return papermill.execute_notebook(
            str(notebook), str(output), parameters=dict(parameters),
            kernel_name=KERNEL_NAME, language="python", progress_bar=False,
            request_save_on_cell_execute=False, cwd=str(cwd) if cwd else None,
            execution_timeout=cell_timeout, kernel_manager_class=manager,
        )
    except PapermillExecutionError as exc:
        executed = nbformat.read(output, as_version=4)
        failing = next(
            ((i, c) for i, c in enumerate(executed.cells)
             if c.cell_type == "code"
             and any(o.get("output_type") == "error" for o in c.get("outputs", []))),
            (exc.cell_index, {}),
        )
        n_injected = sum(
            1 for c in executed.cells[: failing[0]]
            if {"injected-parameters", "papermill-error-cell-tag"}
            & set(c.get("metadata", {}).get("tags", []))
        )
        cell_no = _source_cell_number(source_nb, failing[1], failing[0], n_injected)
        first_line = next((ln for ln in exc.source.splitlines() if ln.strip()), "")[:80]
        raise CellError(notebook, cell_no, exc.ename, exc.evalue, first_line, output) from None
