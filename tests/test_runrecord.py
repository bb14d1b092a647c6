"""A run's record: the heartbeat written into its manifest as chunks are stored (throttled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalib import runrecord
from personalib.store import Store
from tests.test_generate import EchoBackend, _run, _write_profile


def _heartbeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_s: float) -> list[str]:
    """The `heartbeat_at` of each manifest write of a run of 8 chunks (8 x 4 = 32 generations)."""
    written: list[str] = []
    real = Store.write_manifest

    def record(store: Store, manifest: dict) -> Path:
        written.append(manifest["heartbeat_at"])
        return real(store, manifest)

    monkeypatch.setattr(Store, "write_manifest", record)
    monkeypatch.setattr(runrecord, "HEARTBEAT_S", every_s)
    monkeypatch.setenv("PERSONALIB_ECHO_KEY", "echo-test-key")
    summary = _run(_write_profile(tmp_path), EchoBackend(), chunk_size=4)
    assert summary["counts"]["generated"] == 32
    return written


def test_each_stored_chunk_renews_the_heartbeat_when_it_is_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beats = _heartbeats(tmp_path, monkeypatch, every_s=0.0)
    assert len(beats) == 1 + 8 + 1  # the plan's manifest, one per stored chunk, the final one
    assert beats == sorted(beats)
    [manifest] = Store(tmp_path / "store").manifests()
    assert manifest["heartbeat_at"] == beats[-1] and manifest["process"]["pid"] > 0


def test_heartbeats_are_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(_heartbeats(tmp_path, monkeypatch, every_s=3600.0)) == 2  # the plan's and the final manifest
