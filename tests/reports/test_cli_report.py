"""`python -m personalib report`: profile -> reports, exit codes, model/notebook selection."""

from __future__ import annotations

import html
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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


SLOW_WHEN_ASKED = (
    "import os, time\nfrom pathlib import Path\n"
    "from personalib.reports import headline\n"
    "flag = Path(output_dir).parent / 'slow'\n"
    "if flag.exists():\n"
    "    Path(output_dir, 'started').write_text(str(os.getpid()))\n"
    "    time.sleep(300)\n"
    "headline('built with ' + ','.join(models))"
)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "personalib", *args]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # a zombie has exited (its reaper is init)


@pytest.mark.slow
def test_interrupted_report_keeps_the_previous_one_and_exits_130(tmp_path: Path):
    """SIGINT (Ctrl-C) or SIGTERM while a notebook runs: a clear message, exit 130, no traceback;
    the report's previous files stay byte-identical and linked from index.html."""
    write_notebook(tmp_path / "nbs" / "rq1_slow.ipynb", SLOW_WHEN_ASKED)
    argv = _cli("report", "--profile", str(_profile(tmp_path)), "--notebooks-dir",
                str(tmp_path / "nbs"), "--models", "zephyr")
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "reports"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "index.html"}
    assert {"rq1_slow__all.html", "rq1_slow__all.json", "rq1_slow__zephyr.html"} <= set(before)
    (tmp_path / "slow").touch()
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([*argv, "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        started = out / "started"
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), proc.communicate()[1] if proc.poll() is not None else "no start"
        kernel = int(started.read_text())
        started.unlink()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert "interrupted" in err and "rq1_slow__all" in err
        assert not [p.name for p in out.iterdir() if p.is_dir()]  # no staging folder left
        after = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "index.html"}
        assert after == before, sorted(set(after) ^ set(before))
        deadline = time.monotonic() + 20
        while not _gone(kernel) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gone(kernel), f"the notebook kernel {kernel} outlived the interrupted run"
    index = (out / "index.html").read_text()
    assert 'href="rq1_slow__all.html"' in index and "built with zephyr" in index


def _report_argv(tmp: Path, output: Path) -> list[str]:
    write_notebook(tmp / "nbs" / "rq1_x.ipynb", "x = 1")
    return _cli("report", "--profile", str(_profile(tmp)), "--notebooks-dir", str(tmp / "nbs"),
                "--output", str(output))


def _assert_refused(proc: subprocess.CompletedProcess, path: Path, why: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and str(path) in proc.stderr and why in proc.stderr
    assert "[1/" not in proc.stderr  # refused before any notebook ran


@pytest.mark.parametrize("below", [False, True], ids=["file", "under-a-file"])
def test_output_that_is_a_file_exits_2_before_any_work(tmp_path: Path, below: bool):
    blocker = tmp_path / "reports.txt"
    blocker.write_text("keep me")
    output = blocker / "sub" if below else blocker
    proc = subprocess.run(_report_argv(tmp_path, output), capture_output=True, text=True,
                          timeout=120)
    _assert_refused(proc, output, "Not a directory" if below else "is a file, not a folder")
    assert blocker.read_text() == "keep me"


def _read_only_runner(folder: Path) -> list[str] | None:
    """A command prefix under which `folder` cannot be written although the tests run as root: a
    private mount namespace with a read-only tmpfs mounted on it (`unshare -m`), else an
    unprivileged user (`setpriv`, folder owned by root); None when neither works here."""
    probe = f"touch {folder}/probe"
    unshare = ["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o ro none {folder} && exec "$@"', "sh"]
    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    for prefix in (unshare, setpriv):
        if not shutil.which(prefix[0]):
            continue
        works = subprocess.run([*prefix, sys.executable, "-c", "import personalib"],
                               capture_output=True, timeout=60).returncode == 0
        if works and subprocess.run([*prefix, "sh", "-c", probe], capture_output=True,
                                    timeout=60).returncode != 0:
            return prefix
    return None


@pytest.mark.parametrize("below", [False, True], ids=["folder", "new-subfolder"])
def test_read_only_output_exits_2_before_any_work(below: bool):
    root = Path(tempfile.mkdtemp(prefix="personalib-ro-"))  # outside pytest's 0700 tmp folders
    try:
        root.chmod(0o755)
        folder = root / "ro"
        folder.mkdir(mode=0o755)
        prefix = _read_only_runner(folder)
        if prefix is None:
            pytest.skip("no way to make a read-only folder here: `unshare -m` cannot mount and "
                        "`setpriv` cannot run this Python as an unprivileged user")
        output = folder / "reports" if below else folder
        proc = subprocess.run([*prefix, *_report_argv(root, output)], capture_output=True,
                              text=True, timeout=120)
        _assert_refused(proc, output, "cannot write the reports to")
    finally:
        shutil.rmtree(root, ignore_errors=True)
