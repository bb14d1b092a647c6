"""personalib.sources: pinned table, download on first use from a real local HTTP server, cache
reuse without network, offline behaviour, checksum and size mismatches, missing-source messages."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import constants as hf_constants

from personalib import sources
from personalib.errors import PersonalibError, SourceMissingError
from personalib.paths import DATA_DIR
from personalib.sources import ChecksumError, SourceFile, fetch, source_path, sources_table
from personalib.tasks import load_task

DEMO_ATTITUDES = DATA_DIR / "demo" / "attitudes"


class _Server:
    """A real HTTP server on 127.0.0.1 serving `files` (URL path -> bytes) and recording requests.

    Paths under `/datasets/` are answered as the Hugging Face hub answers `resolve` URLs: HEAD and GET
    with the `X-Repo-Commit` (the revision in the URL), `ETag` (the file's sha256, as the hub gives
    for LFS files) and `Content-Length` headers that huggingface_hub needs. With `token` set they
    are gated: a request without `Authorization: Bearer <token>` gets the hub's 401 GatedRepo answer.
    Side calls huggingface_hub makes to the hub's `/api/` (none of them needed for a download) get a
    404 and are not recorded.
    """

    def __init__(self, files: dict[str, bytes], token: str | None = None) -> None:
        self.files = files
        self.token = token
        self.requests: list[str] = []
        self.auth: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                if self.path.startswith("/api/"):
                    self.send_error(404)
                    return
                server.requests.append(f"{self.command} {self.path}")
                server.auth.append(self.headers.get("Authorization"))
                hub = self.path.startswith("/datasets/")
                if hub and server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
                    self.send_response(401)
                    self.send_header("X-Error-Code", "GatedRepo")
                    self.send_header("X-Error-Message", "Access to this dataset is restricted.")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if hub:
                    self.send_header("X-Repo-Commit", self.path.split("/resolve/", 1)[1].split("/", 1)[0])
                    self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802 (http.server API)
                self._answer(False)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test, downloads switched on."""
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERSONALIB_OFFLINE", raising=False)
    return tmp_path / "cache"


PAYLOAD = b'{"hello": "world"}\n'
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server() -> Iterator[_Server]:
    with _Server({"/repo/rev1/data/a.json": PAYLOAD, "/repo/rev1/data/b.json": b"[1, 2, 3]"}) as srv:
        yield srv


@pytest.fixture
def test_source(server: _Server, monkeypatch: pytest.MonkeyPatch) -> sources.Source:
    """A source served by the local server: a.json with pinned sha256/size, b.json unknown."""
    source = sources.Source(
        name="testsrc", title="Test source", homepage="https://example.org/test", revision="rev1",
        licence="CC0", base_url=f"{server.url}/repo/rev1",
        files=(SourceFile("data/a.json", PAYLOAD_SHA, len(PAYLOAD)), SourceFile("data/b.json")))
    monkeypatch.setitem(sources.SOURCES, "testsrc", source)
    return source


def test_table_lists_every_source_with_revision_licence_and_cache_path(cache: Path) -> None:
    table = sources_table()
    assert set(table["source"]) == {"truthfulqa", "mmlu", "bbq", "study", "sap2022"}
    assert (table.loc[table["source"] != "sap2022", "revision"].str.len() == 40).all()
    bbq = table[table["source"] == "bbq"]
    assert len(bbq) == 12 and (bbq["sha256"] != "unknown").sum() == 11
    assert table.loc[table["path"] == "data/bbq/sampled_ids.json", "sha256"].item() == "unknown"
    hub = table["source"].isin(["truthfulqa", "mmlu"])
    assert all(Path(p).is_relative_to(cache / "sources") for p in table.loc[~hub, "cache_path"])
    assert all(Path(p).is_relative_to(hf_constants.HF_HUB_CACHE) for p in table.loc[hub, "cache_path"])
    assert table.loc[table["source"] == "mmlu", "url"].item().startswith(
        f"{hf_constants.ENDPOINT}/datasets/cais/mmlu/resolve/c30699e8")
    assert table["licence"].str.len().min() > 0
    assert "edeadf7cad6f585799599a320854731d51a18351" in table.loc[table["source"] == "study", "url"].iloc[0]


def test_first_use_downloads_then_cache_is_used_without_network(cache: Path, server: _Server,
                                                                test_source: sources.Source) -> None:
    path = fetch("testsrc", "data/a.json")
    assert path == cache / "sources" / "testsrc" / "rev1" / "data" / "a.json"
    assert path.read_bytes() == PAYLOAD
    record = json.loads(path.with_name("a.json.source.json").read_text())
    assert record["sha256"] == PAYLOAD_SHA and record["verified"] == "pinned sha256"
    assert server.requests == ["GET /repo/rev1/data/a.json"]
    server.files.clear()                          # the server now has nothing: only the cache can answer
    assert fetch("testsrc", "data/a.json").read_bytes() == PAYLOAD
    assert server.requests == ["GET /repo/rev1/data/a.json"]   # no second request


def test_unknown_checksum_is_recorded_on_first_download_and_checked_later(
        cache: Path, test_source: sources.Source) -> None:
    path = fetch("testsrc", "data/b.json")
    record = json.loads(path.with_name("b.json.source.json").read_text())
    assert record["sha256"] == hashlib.sha256(b"[1, 2, 3]").hexdigest()
    assert record["verified"] == "recorded on first download"
    path.write_bytes(b"[1, 2, 4]")                # the cached copy changes behind our back
    with pytest.raises(ChecksumError, match="recorded in") as info:
        fetch("testsrc", "data/b.json")
    assert str(path) in str(info.value)


def test_pinned_checksum_mismatch_keeps_nothing(cache: Path, server: _Server,
                                                test_source: sources.Source) -> None:
    server.files["/repo/rev1/data/a.json"] = b'{"hello": "there"}\n'     # same size, other bytes
    with pytest.raises(ChecksumError, match="checksum mismatch") as info:
        fetch("testsrc", "data/a.json")
    assert PAYLOAD_SHA in str(info.value)
    folder = cache / "sources" / "testsrc" / "rev1" / "data"
    assert not any(folder.iterdir())              # neither the file nor a temp part is left


def test_size_mismatch_is_reported(cache: Path, server: _Server, monkeypatch: pytest.MonkeyPatch,
                                   test_source: sources.Source) -> None:
    spec = SourceFile("data/a.json", None, len(PAYLOAD) + 1)
    monkeypatch.setitem(sources.SOURCES, "testsrc", dataclasses.replace(test_source, files=(spec,)))
    with pytest.raises(ChecksumError, match="size mismatch"):
        fetch("testsrc", "data/a.json")


def test_cached_file_with_wrong_pinned_checksum_is_refused(cache: Path, test_source: sources.Source) -> None:
    dest = source_path("testsrc", "data/a.json")
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"something else")           # e.g. a user copied a different version there
    with pytest.raises(ChecksumError, match="pinned sha256") as info:
        fetch("testsrc", "data/a.json")
    assert "delete it" in str(info.value)


def test_offline_and_not_cached_says_what_where_and_how(cache: Path, server: _Server,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       test_source: sources.Source) -> None:
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")
    with pytest.raises(SourceMissingError) as info:
        fetch("testsrc", "data/a.json")
    message = str(info.value)
    assert f"{server.url}/repo/rev1/data/a.json" in message
    assert str(cache / "sources" / "testsrc" / "rev1" / "data" / "a.json") in message
    with pytest.raises(SourceMissingError, match="offline=True"):
        fetch("testsrc", "data/a.json", offline=True)  # the explicit switch, whatever the environment says
    assert server.requests == []
    monkeypatch.delenv("PERSONALIB_OFFLINE")
    assert fetch("testsrc", "data/a.json").read_bytes() == PAYLOAD
    assert fetch("testsrc", "data/a.json", offline=True).read_bytes() == PAYLOAD   # now cached


def test_http_error_is_a_missing_source_naming_url_and_cache_path(cache: Path, server: _Server,
                                                                  test_source: sources.Source,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SourceFile("data/absent.json")
    monkeypatch.setitem(sources.SOURCES, "testsrc", dataclasses.replace(test_source, files=(spec,)))
    with pytest.raises(SourceMissingError, match="404") as info:
        fetch("testsrc", "data/absent.json")
    assert "absent.json" in str(info.value) and str(cache) in str(info.value)


def test_largescale_csv_is_never_downloaded_and_the_error_says_where_to_put_it(cache: Path) -> None:
    with pytest.raises(SourceMissingError) as info:
        load_task("toxicity").items()
    message = str(info.value)
    assert "https://maartensap.com/racial-bias-hatespeech/" in message
    assert str(cache / "sources" / "sap2022" / "user" / "largeScale.csv") in message
    assert "csv=" in message


def test_unknown_source_or_file_is_a_clear_error() -> None:
    with pytest.raises(PersonalibError, match="known sources"):
        source_path("nope", "x")
    with pytest.raises(PersonalibError, match="data/attitude_questions.json"):
        source_path("study", "data/missing.json")


def test_load_task_downloads_the_study_files_once_then_works_offline(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"/peluz/rev/data/{name}": (DEMO_ATTITUDES / name).read_bytes()
             for name in ("attitude_questions.json", "att_augment.json")}
    with _Server(files) as srv:
        study = sources.get_source("study")
        unpinned = tuple(SourceFile(f.path) for f in study.files)   # the demo files are not the pinned ones
        monkeypatch.setitem(sources.SOURCES, "study",
                            dataclasses.replace(study, base_url=f"{srv.url}/peluz/rev", files=unpinned))
        first = load_task("attitudes", allow_partial=True).items()
        assert len(srv.requests) == 2
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")          # server gone and downloads off: cache only
    again = load_task("attitudes", allow_partial=True).items()
    assert again.equals(first) and len(first) == 40


def test_user_supplied_largescale_csv_in_the_cache_is_used_and_recorded(cache: Path) -> None:
    dest = source_path("sap2022", "largeScale.csv")
    dest.parent.mkdir(parents=True)
    dest.write_bytes((DATA_DIR / "demo" / "toxicity" / "largeScale.csv").read_bytes())
    assert len(load_task("toxicity", allow_partial=True).items()) == 24
    record = json.loads(dest.with_name("largeScale.csv.source.json").read_text())
    assert record["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    dest.write_bytes(dest.read_bytes() + b"\n")
    with pytest.raises(ChecksumError, match="if you replaced it on purpose, delete largeScale.csv.source.json"):
        load_task("toxicity", allow_partial=True).items()


def test_a_wrong_cached_optional_file_is_an_error_not_a_silent_absence(cache: Path, tmp_path: Path) -> None:
    """BBQ metadata and the subsample ids are optional for accuracy, but a cached copy that fails its
    checksum must stop the run rather than be treated as missing."""
    dest = source_path("study", "data/mmlu/sampled_ids.json")
    dest.parent.mkdir(parents=True)
    dest.write_text("[0, 1]")
    dest.with_name("sampled_ids.json.source.json").write_text(json.dumps({"sha256": "0" * 64}))
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps({"question": "q", "subject": "anatomy", "choices": ["a", "b", "c", "d"],
                                        "answer": 0}) + "\n" for _ in range(14042)))
    with pytest.raises(ChecksumError, match="sampled_ids.json"):
        load_task("mmlu", data_files=data).items()


# ---- Hugging Face hub sources: the real huggingface_hub download path against a local hub ----------

TQA = "multiple_choice/validation-00000-of-00001.parquet"
TQA_URL = f"/datasets/truthfulqa/truthful_qa/resolve/{sources.get_source('truthfulqa').revision}/{TQA}"
MMLU = "all/test-00000-of-00001.parquet"
MMLU_URL = f"/datasets/cais/mmlu/resolve/{sources.get_source('mmlu').revision}/{MMLU}"


def _parquet(frame: pd.DataFrame, path: Path) -> bytes:
    frame.to_parquet(path, index=False)
    return path.read_bytes()


def truthfulqa_parquet(tmp_path: Path) -> bytes:
    """Three rows in the schema of the hub's TruthfulQA multiple_choice Parquet file."""
    rows = [{"question": f"Question {i}?",
             "mc1_targets": {"choices": [f"right {i}", f"wrong {i}", "other"], "labels": [1, 0, 0]},
             "mc2_targets": {"choices": [f"right {i}", f"wrong {i}"], "labels": [1, 0]}} for i in range(3)]
    return _parquet(pd.DataFrame(rows), tmp_path / "tqa.parquet")


def mmlu_parquet(tmp_path: Path) -> bytes:
    """Four rows in the schema of the hub's MMLU all/test Parquet file."""
    rows = [{"question": f"Q{i}", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": i % 4}
            for i in range(4)]
    return _parquet(pd.DataFrame(rows), tmp_path / "mmlu.parquet")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Server, bytes]]:
    """A local hub serving a TruthfulQA fixture at the pinned revision; huggingface_hub pointed at it
    (endpoint, an empty HF cache under tmp_path, online) and the source pinned to the fixture's sha256.

    huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, at import, into its
    `constants`; this fixture sets those constants as the variables would (the last test of this
    file sets the variables themselves in a fresh process)."""
    body = truthfulqa_parquet(tmp_path)
    with _Server({TQA_URL: body}) as srv:
        monkeypatch.setattr(hf_constants, "ENDPOINT", srv.url)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            srv.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("PERSONALIB_OFFLINE", raising=False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        pinned = SourceFile(TQA, hashlib.sha256(body).hexdigest(), len(body))
        monkeypatch.setitem(sources.SOURCES, "truthfulqa",
                            dataclasses.replace(sources.get_source("truthfulqa"), files=(pinned,)))
        yield srv, body


def test_hub_source_is_downloaded_by_huggingface_hub_into_the_hf_cache_then_read_without_network(
        hub: tuple[_Server, bytes], tmp_path: Path) -> None:
    server, body = hub
    path = fetch("truthfulqa", TQA)
    assert path == source_path("truthfulqa", TQA)
    assert path.is_relative_to(tmp_path / "hf" / "datasets--truthfulqa--truthful_qa" / "snapshots")
    assert path.read_bytes() == body
    assert server.requests == [f"HEAD {TQA_URL}", f"GET {TQA_URL}"]
    items = load_task("truthfulqa", allow_partial=True).items()
    assert len(items) == 3 and items["prompt"].str.startswith("Question: Question ").all()
    server.files.clear()                          # only the cache can answer now, with no request
    assert fetch("truthfulqa", TQA).read_bytes() == body
    assert len(server.requests) == 2


def test_hub_offline_with_an_empty_cache_says_how_to_get_the_file(
        hub: tuple[_Server, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    server, body = hub
    with pytest.raises(SourceMissingError) as info:
        fetch("truthfulqa", TQA, offline=True)
    message = str(info.value)
    assert "not in the Hugging Face cache" in message and "offline=True" in message
    assert (f"hf download truthfulqa/truthful_qa {TQA} --repo-type dataset "
            f"--revision {sources.get_source('truthfulqa').revision}") in message
    assert "data_files=" in message
    with pytest.raises(SourceMissingError, match="offline=True"):
        load_task("truthfulqa", allow_partial=True, offline=True).items()
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)   # huggingface_hub's own switch
    with pytest.raises(SourceMissingError, match="HF_HUB_OFFLINE"):
        fetch("truthfulqa", TQA)
    assert server.requests == []
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    fetch("truthfulqa", TQA)                      # warm the cache, then offline works
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert fetch("truthfulqa", TQA, offline=True).read_bytes() == body
    assert fetch("truthfulqa", TQA).read_bytes() == body


def test_hub_file_with_another_sha256_is_refused_and_not_kept(
        hub: tuple[_Server, bytes], tmp_path: Path) -> None:
    server, body = hub
    server.files[TQA_URL] = body[:-1] + b"\x00"    # the endpoint serves other bytes
    with pytest.raises(ChecksumError) as info:
        fetch("truthfulqa", TQA)
    message = str(info.value)
    assert hashlib.sha256(body).hexdigest() in message
    assert hashlib.sha256(server.files[TQA_URL]).hexdigest() in message
    assert TQA in message and "not kept" in message
    assert not source_path("truthfulqa", TQA).exists()
    assert not [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and "blobs" in p.parts]
    server.files[TQA_URL] = body                  # a good download, then the cached copy is altered
    path = fetch("truthfulqa", TQA)
    path.resolve().write_bytes(b"changed")
    with pytest.raises(ChecksumError, match="delete") as info:
        fetch("truthfulqa", TQA)
    assert str(path) in str(info.value)


def test_gated_hub_source_names_hf_token_and_works_with_it(
        hub: tuple[_Server, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    server, body = hub
    server.token = "hf_test_token_0123456789"
    with pytest.raises(SourceMissingError) as info:
        fetch("truthfulqa", TQA)
    message = str(info.value)
    assert "HTTP 401" in message and "HF_TOKEN" in message and "gated" in message
    assert server.token not in message
    monkeypatch.setenv("HF_TOKEN", server.token)
    assert fetch("truthfulqa", TQA).read_bytes() == body
    assert server.auth[-1] == f"Bearer {server.token}"


_FETCH_MMLU = """
import dataclasses, sys
from personalib import sources
pinned = sources.SourceFile(sys.argv[1], sys.argv[2])
sources.SOURCES["mmlu"] = dataclasses.replace(sources.SOURCES["mmlu"], files=(pinned,))
print(sources.fetch("mmlu", sys.argv[1]))
"""


def test_hub_environment_variables_reach_huggingface_hub(tmp_path: Path) -> None:
    """HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN and HF_HUB_OFFLINE as a user sets them, in a fresh process."""
    body = mmlu_parquet(tmp_path)
    sha = hashlib.sha256(body).hexdigest()
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_TOKEN": "hf_user_token_abcdef", "PERSONALIB_OFFLINE": "0"}
    with _Server({MMLU_URL: body}, token="hf_user_token_abcdef") as srv:
        env["HF_ENDPOINT"] = srv.url
        online = subprocess.run([sys.executable, "-c", _FETCH_MMLU, MMLU, sha], env=env,
                                capture_output=True, text=True, timeout=120)
    assert online.returncode == 0, online.stderr
    path = Path(online.stdout.strip().splitlines()[-1])
    assert path.is_relative_to(tmp_path / "hf") and path.read_bytes() == body
    assert srv.requests == [f"HEAD {MMLU_URL}", f"GET {MMLU_URL}"]
    assert set(srv.auth) == {"Bearer hf_user_token_abcdef"}
    offline = subprocess.run([sys.executable, "-c", _FETCH_MMLU, MMLU, sha],   # server gone, cache warm
                             env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120)
    assert offline.returncode == 0, offline.stderr
    assert Path(offline.stdout.strip().splitlines()[-1]) == path


def test_cli_run_offline_without_the_hub_file_exits_2_naming_the_download_command(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"name: p\nmodels: [gemma3-270m-demo]\ndatasets:\n  truthfulqa: {{limit: 2}}\n"
                       f"persona_sets: [empty]\nstore: {tmp_path / 'store'}\nreports: {tmp_path / 'reports'}\n")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "personalib", "generate", "--profile", str(profile)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "not in the Hugging Face cache" in run.stderr
    assert "hf download truthfulqa/truthful_qa multiple_choice/validation-00000-of-00001.parquet" in run.stderr
