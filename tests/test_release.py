"""The released-generations importer (personalib.release; issue 4 item 5)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from personalib.__main__ import main
from personalib.errors import PersonalibError, SourceMissingError
from personalib.release import (
    import_release, item_ids, parse_release_path, read_generations, release_keys, scan_release,
)
from personalib.release_download import RELEASE_COMMIT, download_record, download_release
from personalib.store import Store
from personalib.tasks.bbq import CATEGORY_ROWS

GPT4, GPT35 = "gpt-4-0125-preview", "gpt-3.5-turbo-0125"
COMMIT = "0" * 40
COUNTS = {"truthfulqa": 817, "toxicity": 1252, "attitudes": 27, "attitudes_extra": 810}


def _no_ids(dataset: str) -> None:
    raise AssertionError(f"subsample ids of {dataset} were not needed")


def _texts(tag: str, n: int) -> list[str]:
    # invented answers with the kinds of text the study's files hold (digits, letters, non-ASCII)
    return [f"{i % 5 + 1}" if i % 3 else f"{tag} \u2019answer\u2019 {i}\n(B) caf\u00e9" for i in range(n)]


def _write(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([[{"generated_text": t}] for t in texts]), encoding="utf-8")  # the study's json.dump


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    """A small release tree in the exact layout, with subsample ids for GPT-4's mmlu and bbq."""
    root = tmp_path / "persona-behavior"
    zero, control = root / "results" / "zero", root / "results" / "control" / "zero"
    for stem in ("empty", "a_black_person", "Jorg_Haider"):
        for folder in ("attitudes", "attitudes_extra"):
            _write(zero / GPT4 / folder / f"{stem}.json", _texts(f"{stem}-{folder}", COUNTS[folder]))
    _write(zero / GPT4 / "toxicity" / "empty.json", _texts("tox", 1252))
    _write(zero / GPT35 / "truthfulqa" / "a_asexual_person.json", _texts("tqa", 817))
    _write(control / GPT35 / "truthfulqa" / "a_helpful_assistant.json", _texts("ctl", 817))
    (root / "data" / "mmlu").mkdir(parents=True)
    (root / "data" / "mmlu" / "sampled_ids.json").write_text("[3, 10, 4000, 14041]")
    (root / "data" / "bbq").mkdir(parents=True)
    # keys in alphabetical order, as the study's file; Race_x_SES sorts before Race_x_gender
    (root / "data" / "bbq" / "sampled_ids.json").write_text(
        json.dumps({"Age": [7, 2], "Race_x_SES": [5], "Race_x_gender": [9, 1]}))
    _write(zero / GPT4 / "mmlu" / "empty.json", _texts("mmlu", 4))
    _write(zero / GPT4 / "bbq" / "empty.json", _texts("bbq", 5))
    # not generation files: ignored
    _write(zero / GPT4 / "attitudes" / "temp" / "personas_0.json", ["x"])
    (zero / GPT4 / "attitude_answers.csv").write_text("a,b\n")
    return root


def test_parse_release_path() -> None:
    root = Path("/r/results")
    f = parse_release_path(PurePosixPath(f"zero/{GPT4}/attitudes_extra/empty.json"), root)
    assert f is not None and (f.model_folder, f.dataset_folder, f.stem, f.persona_set) == (
        GPT4, "attitudes_extra", "empty", "empty")
    assert f.path == root / "zero" / GPT4 / "attitudes_extra" / "empty.json"
    c = parse_release_path(PurePosixPath(f"control/zero/{GPT35}/truthfulqa/a_helpful_assistant.json"), root)
    assert c is not None and c.persona_set == "control" and c.path.parts[-5:-3] == ("control", "zero")
    r = parse_release_path(PurePosixPath(f"zero/{GPT4}/bbq/a_black_person.json"), root)
    assert r is not None and r.persona_set == "regular"
    for other in (f"zero/{GPT4}/attitudes/temp/personas_0.json", f"zero/{GPT4}/all_scores.json",
                  f"few/{GPT4}/bbq/empty.json", f"zero/{GPT4}/bbq/empty.csv"):
        assert parse_release_path(PurePosixPath(other), root) is None


def test_item_ids_per_dataset() -> None:
    assert item_ids("truthfulqa", 817, _no_ids)[::408] == ["0", "408", "816"]
    tox = item_ids("toxicity", 1252, _no_ids)
    assert (tox[0], tox[625], tox[626], tox[1251]) == ("off/0", "off/625", "rac/0", "rac/625")
    assert item_ids("attitudes", 27, _no_ids)[26] == "26/0"
    extra = item_ids("attitudes_extra", 810, _no_ids)
    assert (extra[0], extra[29], extra[30], extra[809]) == ("0/1", "0/30", "1/1", "26/30")
    assert item_ids("mmlu", 14042, _no_ids)[14041] == "14041"
    bbq = item_ids("bbq", 58492, _no_ids)
    assert len(set(bbq)) == 58492 and bbq[0] == "Age/0" and bbq[3679] == "Age/3679" and bbq[3680] == "Disability_status/0"
    start = sum(list(CATEGORY_ROWS.values())[:6])  # Race_x_gender follows Race_ethnicity in study order
    assert bbq[start] == "Race_x_gender/0" and bbq[-1] == "Sexual_orientation/863"


def test_item_ids_subsamples_follow_the_ids_files() -> None:
    ids = {"mmlu": [3, 10, 4000], "bbq": {"Age": [7, 2], "Race_x_SES": [5], "Race_x_gender": [9, 1]}}
    assert item_ids("mmlu", 3, ids.__getitem__) == ["3", "10", "4000"]
    assert item_ids("bbq", 5, ids.__getitem__) == [
        "Age/7", "Age/2", "Race_x_gender/9", "Race_x_gender/1", "Race_x_SES/5"]


@pytest.mark.parametrize(("folder", "n"), [("truthfulqa", 816), ("toxicity", 626), ("attitudes", 810),
                                            ("attitudes_extra", 837), ("mmlu", 5), ("bbq", 4)])
def test_item_ids_wrong_length(folder: str, n: int) -> None:
    ids = {"mmlu": [3, 10, 4000], "bbq": {"Age": [7, 2, 1]}}
    with pytest.raises(PersonalibError, match=f"holds {n:,} generations; expected"):
        item_ids(folder, n, ids.__getitem__)


def test_release_keys_are_the_canonical_hash() -> None:
    keys = release_keys("c0ffee", "gpt-4", "regular", "attitudes", "Jorg_Haider", 3)
    expected = hashlib.sha256(json.dumps(["c0ffee", "gpt-4", "regular", "attitudes", "Jorg_Haider", 2],
                                         separators=(",", ":")).encode()).hexdigest()
    assert keys[2] == expected and len(set(keys)) == 3
    assert keys[0] != release_keys("c0ffee", "gpt-4", "regular", "attitudes_extra", "Jorg_Haider", 1)[0]
    assert keys[0] != release_keys("c0ffef", "gpt-4", "regular", "attitudes", "Jorg_Haider", 1)[0]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot be read as JSON"),
    ('{"a": 1}', "expected a JSON list"),
    ('[[{"generated_text": "A"}], [{"text": "B"}]]', "element 1 is not"),
    ('[[{"generated_text": "A"}, {"generated_text": "B"}]]', "element 0 is not"),
])
def test_read_generations_rejects_other_shapes(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(PersonalibError, match=message):
        read_generations(path)


def test_import_fabricated_release(release: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    summary = import_release(release, store, commit=COMMIT)
    assert len(scan_release(release)) == summary.files == 11
    assert summary.counts["gpt-4"]["attitudes"] == {
        "empty": {"personas": 1, "rows": 837}, "regular": {"personas": 2, "rows": 1674}}
    assert summary.counts["gpt-3.5"]["truthfulqa"] == {
        "regular": {"personas": 1, "rows": 817}, "control": {"personas": 1, "rows": 817}}
    table = store.generations()
    assert len(table) == summary.new_rows == summary.rows == 837 * 3 + 1252 + 817 * 2 + 4 + 5
    assert set(table["origin"]) == {"imported"}
    got = table.set_index(["model", "persona_set", "persona", "dataset", "item_id"])["text"]
    extra = _texts("Jorg_Haider-attitudes_extra", 810)
    assert got[("gpt-4", "regular", "Jorg_Haider", "attitudes", "3/7")] == extra[3 * 30 + 6]
    assert got[("gpt-4", "regular", "Jorg_Haider", "attitudes", "3/0")] == _texts("Jorg_Haider-attitudes", 27)[3]
    tox = _texts("tox", 1252)
    assert got[("gpt-4", "empty", "empty", "toxicity", "rac/0")] == tox[626]
    assert got[("gpt-4", "empty", "empty", "toxicity", "off/3")] == tox[3] == "tox \u2019answer\u2019 3\n(B) caf\u00e9"
    assert got[("gpt-4", "empty", "empty", "mmlu", "14041")] == _texts("mmlu", 4)[3]
    assert got[("gpt-4", "empty", "empty", "bbq", "Race_x_SES/5")] == _texts("bbq", 5)[4]
    assert got[("gpt-3.5", "control", "a_helpful_assistant", "truthfulqa", "816")] == _texts("ctl", 817)[816]
    rows = store.read(["model_id", "revision", "run_id"]).to_pandas()
    assert set(rows["model_id"]) == {GPT4, GPT35} and rows["revision"].isna().all()
    assert set(rows["run_id"]) == {summary.run_id}
    manifest = [m for m in store.manifests() if m["run_id"] == summary.run_id][0]
    assert manifest["origin"] == "imported" and manifest["status"] == "completed"
    assert manifest["release"]["commit"] == COMMIT and manifest["counts"]["rows"] == summary.rows
    assert {m["name"] for m in manifest["models"]} == {"gpt-4", "gpt-3.5"}
    assert manifest["models"][1]["counts"]["toxicity"]["empty"] == {"personas": 1, "rows": 1252}


def test_reimport_adds_nothing(release: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    first = import_release(release, store, commit=COMMIT)
    parts = store.parts()
    again = import_release(release, store, commit=COMMIT)
    assert again.rows == first.rows and again.new_rows == 0
    assert store.parts() == parts and store.read_raw(["key"]).num_rows == first.rows
    assert len(store.manifests()) == 2


def test_filters_by_model_and_dataset(release: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    summary = import_release(release, store, models=["gpt-4"], datasets=["attitudes"])
    assert set(summary.counts) == {"gpt-4"} and set(summary.counts["gpt-4"]) == {"attitudes"}
    with pytest.raises(PersonalibError, match="--models nope"):
        import_release(release, store, models=["nope"])
    with pytest.raises(PersonalibError, match="--datasets mmmlu"):
        import_release(release, store, datasets=["mmmlu"])


def test_wrong_length_file_is_not_written(release: Path, tmp_path: Path) -> None:
    bad = release / "results" / "zero" / GPT4 / "attitudes" / "a_black_person.json"
    _write(bad, _texts("short", 26))
    store = Store(tmp_path / "store")
    with pytest.raises(PersonalibError, match=r"1 file\(s\) were not imported") as info:
        import_release(release, store)
    assert str(bad) in str(info.value) and "holds 26 generations; expected 27" in str(info.value)
    table = store.generations()
    black = table[(table["persona"] == "a_black_person")]
    assert set(black["item_id"].str.split("/").str[1]) - {"0"} and not (black["item_id"].str.endswith("/0")).any()
    assert len(table) == 837 * 3 + 1252 + 817 * 2 + 4 + 5 - 27
    manifest = store.manifests()[-1]
    assert manifest["status"] == "failed" and manifest["failed_files"][0].startswith(str(bad))


def test_unknown_stem_stops_before_writing(release: Path, tmp_path: Path) -> None:
    stray = release / "results" / "zero" / GPT4 / "attitudes" / "a_unicorn.json"
    _write(stray, _texts("x", 27))
    (release / "results" / "zero" / "some-other-model" / "bbq").mkdir(parents=True)
    _write(release / "results" / "zero" / "some-other-model" / "bbq" / "empty.json", ["x"])
    store = Store(tmp_path / "store")
    with pytest.raises(PersonalibError, match="2 file.s. of the release .* cannot be mapped") as info:
        import_release(release, store)
    assert "a_unicorn" in str(info.value) and "some-other-model" in str(info.value) and "--skip-unknown" in str(info.value)
    assert not store.exists()
    out = io.StringIO()
    summary = import_release(release, store, skip_unknown=True, out=out)
    assert summary.files == 11 and len(summary.skipped_files) == 2 and "warning: skipped" in out.getvalue()
    assert "a_unicorn" not in set(store.generations()["persona"])


def test_missing_subsample_ids(release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("mmlu", "bbq"):
        (release / "data" / name / "sampled_ids.json").unlink()
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")
    with pytest.raises(SourceMissingError, match="sampled_ids.json.*--mmlu-ids PATH"):
        import_release(release, Store(tmp_path / "store"), datasets=["mmlu"])
    ids = tmp_path / "ids.json"
    ids.write_text("[0, 1, 2, 3]")
    summary = import_release(release, Store(tmp_path / "store"), datasets=["mmlu"], mmlu_ids=ids)
    assert sorted(Store(tmp_path / "store").generations()["item_id"]) == ["0", "1", "2", "3"] and summary.files == 1


def test_cli(release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert main(["import-release", str(release / "results"), "--store", str(store), "--datasets", "toxicity"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4        toxicity    empty               1      1,252" in out and "1 files, 1,252 generations" in out
    assert main(["import-release", str(tmp_path / "nowhere"), "--store", str(store)]) == 2
    assert "no `results/` folder" in capsys.readouterr().err
    assert main(["import-release", "--store", str(store)]) == 2
    assert "needs the release folder PATH, or --download" in capsys.readouterr().err


@pytest.fixture()
def tarball_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A 127.0.0.1 HTTP server serving a release tarball built here (like GitHub's codeload)."""
    tree = tmp_path / "tree" / f"persona-behavior-{COMMIT}"
    _write(tree / "results" / "zero" / GPT4 / "toxicity" / "empty.json", _texts("tox", 1252))
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "release.tar.gz", "w:gz") as archive:
        archive.add(tree, arcname=tree.name)
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args: object) -> None:
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/release.tar.gz", hits
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_local_server(tarball_server: tuple[str, list[str]], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PERSONALIB_OFFLINE", raising=False)
    url, hits = tarball_server
    dest = tmp_path / "dl"
    root = download_release(COMMIT, url=url, dest=dest)
    assert root.parent.parent == dest and root.parent.name.startswith("mirror-")  # a mirror: its own folder
    assert root.name == f"persona-behavior-{COMMIT}" and (root / "results" / "zero" / GPT4 / "toxicity").is_dir()
    assert len(hits) == 1 and not list(root.parent.glob(".extract-*"))
    assert download_release(COMMIT, url=url, dest=dest) == root and len(hits) == 1  # cached: not fetched again
    store = tmp_path / "store"
    assert main(["import-release", str(tmp_path / "dl2"), "--download", "--url", url, "--commit", COMMIT,
                 "--store", str(store)]) == 0
    assert "1 files, 1,252 generations (1,252 new)" in capsys.readouterr().out
    assert Store(store).generations()["text"].tolist()[:2] == _texts("tox", 2)


def test_download_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONALIB_OFFLINE", raising=False)
    with pytest.raises(SourceMissingError) as info:
        download_release(COMMIT, url="http://127.0.0.1:9/release.tar.gz", dest=tmp_path / "dl")
    message = str(info.value)
    assert "could not download the study's release" in message
    assert str(tmp_path / "dl" / "mirror-") in message and f"persona-behavior-{COMMIT}.tar.gz" in message
    assert "import-release" in message
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")
    with pytest.raises(SourceMissingError, match="PERSONALIB_OFFLINE is set"):
        download_release(dest=tmp_path / "dl")
    monkeypatch.delenv("PERSONALIB_OFFLINE")
    with pytest.raises(SourceMissingError, match="offline=True was passed"):
        download_release(dest=tmp_path / "dl", offline=True)     # the explicit switch needs no variable
    assert RELEASE_COMMIT in str(tmp_path / "dl" / f"persona-behavior-{RELEASE_COMMIT}.tar.gz")


def test_download_rejects_a_broken_tarball(tmp_path: Path) -> None:
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / f"persona-behavior-{COMMIT}.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(SourceMissingError, match="not a readable release tarball"):
        download_release(COMMIT, dest=dest)


@pytest.mark.reference
def test_reference_release(reference_dir: Path, tmp_path: Path) -> None:
    release = reference_dir / "original-release"
    store = Store(tmp_path / "store")
    summary = import_release(release, store)
    assert summary.files == 17 and not summary.skipped_files
    assert summary.counts["gpt-3.5"]["truthfulqa"] == {
        "regular": {"personas": 2, "rows": 1634}, "empty": {"personas": 1, "rows": 817},
        "control": {"personas": 1, "rows": 817}}
    assert summary.counts["gpt-4"]["attitudes"] == {
        "regular": {"personas": 4, "rows": 4 * 837}, "empty": {"personas": 1, "rows": 837},
        "control": {"personas": 1, "rows": 837}}
    assert summary.counts["gpt-4"]["toxicity"] == {"empty": {"personas": 1, "rows": 1252}}
    table = store.generations().set_index(["model", "persona_set", "persona", "dataset", "item_id"])["text"]
    assert len(table) == 9542 and table.index.is_unique
    for f in scan_release(release):
        texts = [x[0]["generated_text"] for x in json.loads(f.path.read_text(encoding="utf-8"))]
        model = "gpt-4" if f.model_folder == GPT4 else "gpt-3.5"
        ids = item_ids(f.dataset_folder, len(texts), _no_ids)
        dataset = "attitudes" if f.dataset_folder.startswith("attitudes") else f.dataset_folder
        assert table.loc[[(model, f.persona_set, f.stem, dataset, i) for i in ids]].tolist() == texts
    assert import_release(release, store).new_rows == 0


def test_generate_on_a_released_profile_imports_the_release(release: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`generate` (hence `make reproduce PROFILE=released`) fills a `generations: released` store
    from the pinned release in the cache instead of running any model; offline without the release
    it says where to put it and writes nothing."""
    import shutil

    import yaml

    from tests.conftest import REPO

    profile = yaml.safe_load((REPO / "params" / "profiles" / "released.yaml").read_text())
    profile.update(store=str(tmp_path / "store"), reports=str(tmp_path / "reports"))
    path = tmp_path / "released.yaml"
    path.write_text(yaml.safe_dump(profile))
    cache = tmp_path / "cache"
    monkeypatch.setenv("PERSONALIB_CACHE", str(cache))
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")
    assert main(["generate", "--profile", str(path)]) == 2
    assert "PERSONALIB_OFFLINE" in capsys.readouterr().err and not (tmp_path / "store").exists()
    shutil.copytree(release, cache / "release" / f"persona-behavior-{RELEASE_COMMIT}")
    assert main(["generate", "--profile", str(path), "--models", "gpt-3.5"]) == 0
    out = capsys.readouterr().out
    assert "2 files, 1,634 generations (1,634 new)" in out
    stored = Store(tmp_path / "store").generations()
    assert set(stored["model"]) == {"gpt-3.5"} and len(stored) == 2 * 817


# -- hardening: mirrors never stand in for the pinned release; hostile files; through the CLI ------------

def _cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """`python -m personalib ARGS` in a subprocess (PYTHONPATH and the test cache inherited)."""
    return subprocess.run([sys.executable, "-m", "personalib", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def _release_manifest(store: Path) -> dict:
    [manifest] = [m for m in Store(store).manifests() if m["origin"] == "imported"]
    return manifest


def test_a_mirror_is_cached_apart_and_recorded_and_never_read_as_the_pinned_release(
        tarball_server: tuple[str, list[str]], tmp_path: Path) -> None:
    """A mirror's tarball (here: answers that are not the release's) is imported from its own cache
    folder with its URL and sha256 in the manifest; a later `--download` of the pinned release does
    not find it (offline: it says the pinned release is not in the cache) and imports nothing."""
    url, _ = tarball_server
    dest = tmp_path / "dl"
    served = hashlib.sha256((tmp_path / "served" / "release.tar.gz").read_bytes()).hexdigest()
    mirror = _cli("import-release", str(dest), "--download", "--url", url, "--commit", COMMIT,
                  "--store", str(tmp_path / "mirror-store"), PERSONALIB_OFFLINE="0")
    assert mirror.returncode == 0, mirror.stderr
    assert f"mirror {url}" in mirror.stderr and served in mirror.stderr
    download = _release_manifest(tmp_path / "mirror-store")["release"]["download"]
    assert download["url"] == url and download["pinned"] is False and download["sha256"] == served
    assert download["pinned_url"] == f"https://codeload.github.com/peluz/persona-behavior/tar.gz/{COMMIT}"
    pinned = _cli("import-release", str(dest), "--download", "--commit", COMMIT,
                  "--store", str(tmp_path / "pinned-store"), PERSONALIB_OFFLINE="1")
    assert pinned.returncode == 2 and "not in the cache and PERSONALIB_OFFLINE is set" in pinned.stderr
    assert "Traceback" not in pinned.stderr and not (tmp_path / "pinned-store").exists()


def test_a_cached_tarball_that_changed_is_refused(tarball_server: tuple[str, list[str]], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The sha256 recorded at the first extraction is checked when the tarball is extracted again."""
    monkeypatch.delenv("PERSONALIB_OFFLINE", raising=False)
    url, hits = tarball_server
    root = download_release(COMMIT, url=url, dest=tmp_path / "dl")
    record = download_record(root)
    assert record is not None and record["sha256"] == hashlib.sha256(
        (root.parent / f"{root.name}.tar.gz").read_bytes()).hexdigest()
    shutil.rmtree(root)
    assert download_release(COMMIT, url=url, dest=tmp_path / "dl") == root and len(hits) == 1  # same tarball: ok
    shutil.rmtree(root)
    with tarfile.open(root.parent / f"{root.name}.tar.gz", "w:gz") as archive:  # swapped behind our back
        archive.add(tmp_path / "served", arcname=root.name)
    with pytest.raises(SourceMissingError, match="not the recorded"):
        download_release(COMMIT, url=url, dest=tmp_path / "dl")


def test_a_pinned_release_placed_by_hand_is_recorded(tarball_server: tuple[str, list[str]], tmp_path: Path) -> None:
    """The pinned release's tarball (here put in the cache by hand) gets its sha256 recorded."""
    dest = tmp_path / "dl"
    dest.mkdir()
    tarball = dest / f"persona-behavior-{COMMIT}.tar.gz"
    shutil.copy(tmp_path / "served" / "release.tar.gz", tarball)
    result = _cli("import-release", str(dest), "--download", "--commit", COMMIT, "--store", str(tmp_path / "s"),
                  PERSONALIB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    download = _release_manifest(tmp_path / "s")["release"]["download"]
    assert download["pinned"] is True and download["url"] is None
    assert download["sha256"] == hashlib.sha256(tarball.read_bytes()).hexdigest()


def test_a_deeply_nested_json_file_is_named_and_the_rest_imported(release: Path, tmp_path: Path) -> None:
    nested = release / "results" / "zero" / GPT4 / "attitudes" / "a_black_person.json"
    nested.write_text("[" * 200_000 + "]" * 200_000)
    result = _cli("import-release", str(release), "--store", str(tmp_path / "store"), "--datasets", "attitudes")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"error: {nested}: cannot be read as JSON: it is nested too deeply" in result.stderr
    assert "1 file(s) were not imported (the other 5 were)" in result.stderr
    stored = Store(tmp_path / "store").generations()
    assert len(stored) == 3 * 837 - 27 and "a_black_person" in set(stored["persona"])  # its attitudes_extra


@pytest.mark.parametrize(("args", "message"), [
    (["--url", "http://127.0.0.1:9/x.tar.gz"], "--url is the address to --download"),
    (["--commit", "4a41789"], "full 40-character commit hash"),
    (["--mmlu-ids", "no/such/ids.json"], "no such file"),
])
def test_bad_arguments_are_refused_before_anything_is_written(release: Path, tmp_path: Path, args: list[str],
                                                              message: str) -> None:
    result = _cli("import-release", str(release), "--store", str(tmp_path / "store"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("seed", range(2))
def test_fuzzed_release_files_give_a_clear_error_or_an_import(tmp_path: Path, seed: int) -> None:
    """Random bit flips, truncations and garbage in a release's JSON files: the import either
    stores the file (a flip inside a text is still a valid file: it is the source) or names it
    in a clear error (PersonalibError) with the other files imported; never another exception,
    and never a row of a file that failed."""
    import random

    rng = random.Random(seed)
    root = tmp_path / "rel"
    files = [root / "results" / "zero" / GPT4 / "attitudes" / f"{stem}.json" for stem in ("empty", "a_black_person")]
    for i, path in enumerate(files):
        _write(path, _texts(f"f{i}", 27))
    pristine = {p: p.read_bytes() for p in files}
    for trial in range(25):
        for p, data in pristine.items():
            p.write_bytes(data)
        victim = rng.choice(files)
        data = bytearray(pristine[victim])
        kind = rng.choice(["flip", "truncate", "garbage"])
        if kind == "flip":
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            data = data[: rng.randrange(len(data))]
        else:
            start = rng.randrange(len(data))
            data[start:start + 32] = bytes(rng.randrange(256) for _ in range(32))
        victim.write_bytes(bytes(data))
        store = Store(tmp_path / f"s{trial}")
        try:
            summary = import_release(root, store, commit=COMMIT, workers=1, out=io.StringIO())
            failed = []
        except PersonalibError as exc:
            failed = [p for p in files if str(p) in str(exc)]
            assert failed == [victim], (trial, kind, str(exc)[:200])
            summary = None
        stored = store.read(["persona"]).column("persona").to_pylist() if store.exists() else []
        other = "empty" if victim.stem != "empty" else "a_black_person"
        assert stored.count(other) == 27, (trial, kind)  # the intact file is always imported
        if failed:
            assert victim.stem not in stored
        else:
            assert summary is not None and stored.count(victim.stem) == 27
