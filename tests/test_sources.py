"""personalib.sources: pinned table, download on first use from a real local HTTP server, cache
reuse without network, offline behaviour, checksum and size mismatches, missing-source messages."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from personalib import sources
from personalib.errors import PersonalibError, SourceMissingError
from personalib.paths import DATA_DIR
from personalib.sources import ChecksumError, SourceFile, fetch, source_path, sources_table
from personalib.tasks import load_task

DEMO_ATTITUDES = DATA_DIR / "demo" / "attitudes"


class _Server:
    """A real HTTP server on 127.0.0.1 serving `files` (URL path -> bytes) and counting requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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
    assert all(Path(p).is_relative_to(cache / "sources") for p in table["cache_path"])
    assert table["licence"].str.len().min() > 0
    assert "edeadf7cad6f585799599a320854731d51a18351" in table.loc[table["source"] == "study", "url"].iloc[0]


def test_first_use_downloads_then_cache_is_used_without_network(cache: Path, server: _Server,
                                                                test_source: sources.Source) -> None:
    path = fetch("testsrc", "data/a.json")
    assert path == cache / "sources" / "testsrc" / "rev1" / "data" / "a.json"
    assert path.read_bytes() == PAYLOAD
    record = json.loads(path.with_name("a.json.source.json").read_text())
    assert record["sha256"] == PAYLOAD_SHA and record["verified"] == "pinned sha256"
    assert server.requests == ["/repo/rev1/data/a.json"]
    server.files.clear()                          # the server now has nothing: only the cache can answer
    assert fetch("testsrc", "data/a.json").read_bytes() == PAYLOAD
    assert server.requests == ["/repo/rev1/data/a.json"]   # no second request


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
    assert server.requests == []


def test_http_error_is_a_missing_source_naming_url_and_cache_path(cache: Path, server: _Server,
                                                                  test_source: sources.Source,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SourceFile("data/absent.json")
    monkeypatch.setitem(sources.SOURCES, "testsrc", dataclasses.replace(test_source, files=(spec,)))
    with pytest.raises(SourceMissingError, match="404") as info:
        fetch("testsrc", "data/absent.json")
    assert "absent.json" in str(info.value) and str(cache) in str(info.value)


def test_hub_sources_honour_hf_hub_offline(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceMissingError) as info:
        fetch("truthfulqa", "multiple_choice/validation-00000-of-00001.parquet")
    message = str(info.value)
    assert "huggingface.co/datasets/truthfulqa/truthful_qa/resolve/741b8276" in message
    assert str(source_path("truthfulqa", "multiple_choice/validation-00000-of-00001.parquet")) in message


def test_hf_endpoint_variable_redirects_hub_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example/")
    url = sources.get_source("mmlu").url("all/test-00000-of-00001.parquet")
    assert url.startswith("https://mirror.example/datasets/cais/mmlu/resolve/c30699e8")


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


def test_offline_switch_also_stops_mirror_downloads(cache: Path, server: _Server, test_source: sources.Source,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")
    with pytest.raises(SourceMissingError, match="downloads are off"):
        fetch("testsrc", "data/a.json", base_url=f"{server.url}/repo/rev1")
    assert server.requests == []
    monkeypatch.delenv("PERSONALIB_OFFLINE")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = dataclasses.replace(test_source, hub=True)              # HF_HUB_OFFLINE stops the hub URL ...
    monkeypatch.setitem(sources.SOURCES, "testsrc", hub)
    with pytest.raises(SourceMissingError, match="HF_HUB_OFFLINE"):
        fetch("testsrc", "data/a.json")
    path = fetch("testsrc", "data/a.json", base_url=f"{server.url}/repo/rev1")   # ... but not for a mirror
    assert path.read_bytes() == PAYLOAD


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
