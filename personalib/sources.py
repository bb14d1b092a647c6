"""Every external data source of the study, pinned and cached, fetched on first use (METHODS 3).

`SOURCES` (read from `personalib/data/sources.yaml`) lists each source with its pinned revision,
licence and, per file, the sha256 and size where known. `fetch(name, path, offline=...)` returns a
local path:

- hub sources (TruthfulQA, MMLU): `huggingface_hub.hf_hub_download` at the pinned commit into the
  user's Hugging Face cache, so `HF_HUB_OFFLINE`, `HF_ENDPOINT` and `HF_TOKEN` work as in the rest of
  the Hugging Face stack; a cached file is returned without a network call;
- other sources (BBQ's and the study's GitHub repositories): `download` (urllib, temp file + rename)
  into `cache_dir()/sources/<source>/<revision>/<path>`, with a sidecar `<file>.source.json` holding
  the sha256 (of the first download where none is pinned: "unknown" in `sources_table()`);
- every pinned (or recorded) sha256 is checked: a mismatch is a ChecksumError naming the file, both
  hashes and what to do, and a file that fails right after downloading is not kept;
- `offline=True` never downloads; `offline=None` reads `PERSONALIB_OFFLINE=1` (all sources) and
  huggingface_hub's `HF_HUB_OFFLINE=1` (hub sources). An uncached file then raises
  SourceMissingError saying how to get it.

`largeScale.csv` (Sap et al. 2022) is never downloaded (its terms forbid redistribution): the user
puts it at `source_path("sap2022", "largeScale.csv")` or passes `csv=` to `load_task("toxicity")`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pandas as pd
import yaml
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                    OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)

from personalib.errors import SourceMissingError
from personalib.files import file_sha256
from personalib.paths import DATA_DIR, cache_dir

OFFLINE_ENV = "PERSONALIB_OFFLINE"
SIDECAR_SUFFIX = ".source.json"
_CHUNK = 1 << 20


class ChecksumError(SourceMissingError):
    """A downloaded or cached file does not match its pinned (or first recorded) sha256/size."""


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: its path inside the source, sha256 and size in bytes (None: unknown)."""

    path: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Source:
    """An external source pinned at one revision: a Hugging Face dataset repository (`repo_id`), a
    plain URL prefix (`base_url`), or neither (user-supplied only, never downloaded)."""

    name: str
    title: str
    homepage: str
    revision: str | None
    licence: str
    files: tuple[SourceFile, ...]
    base_url: str | None = None
    repo_id: str | None = None
    notes: str = ""
    _index: dict[str, SourceFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f.path: f for f in self.files})

    @property
    def hub(self) -> bool:
        """True for a Hugging Face hub dataset (fetched with huggingface_hub)."""
        return self.repo_id is not None

    def file(self, path: str) -> SourceFile:
        """The declared file `path`; a PersonalibError names the source's files otherwise."""
        try:
            return self._index[path]
        except KeyError:
            raise SourceMissingError(
                f"source {self.name!r} has no file {path!r}; its files are: "
                + ", ".join(self._index)) from None

    def url(self, path: str) -> str | None:
        """Download URL of `path` (hub sources: on the endpoint huggingface_hub uses, `HF_ENDPOINT`)."""
        if self.repo_id is not None:
            return _hub_api().hf_hub_url(self.repo_id, path, repo_type="dataset", revision=self.revision)
        if self.base_url is None:
            return None
        return self.base_url.rstrip("/") + "/" + path


SOURCES_FILE = DATA_DIR / "sources.yaml"
BBQ_METADATA_PATH = "supplemental/additional_metadata.csv"


def read_sources(path: Path = SOURCES_FILE) -> dict[str, Source]:
    """The source registry: one `Source` per entry of the YAML file (`personalib/data/sources.yaml`),
    `{revision}` in a `base_url` replaced by the entry's revision."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    registry = {}
    for name, entry in table.items():
        entry = dict(entry)
        revision = entry.pop("revision", None)
        revision = None if revision is None else str(revision)
        files = tuple(SourceFile(str(f["path"]), f.get("sha256"), f.get("size")) for f in entry.pop("files"))
        if entry.get("base_url"):
            entry["base_url"] = entry["base_url"].format(revision=revision)
        registry[name] = Source(name=name, revision=revision, files=files, **entry)
    return registry


SOURCES: dict[str, Source] = read_sources()


def get_source(name: str) -> Source:
    """The source called `name`; a SourceMissingError lists the known names otherwise."""
    try:
        return SOURCES[name]
    except KeyError:
        raise SourceMissingError(
            f"unknown data source {name!r}; known sources: {', '.join(SOURCES)}") from None


def source_path(name: str, path: str) -> Path:
    """Where a source file is cached: for hub sources the snapshot path in the Hugging Face cache
    (`HF_HUB_CACHE/datasets--<org>--<name>/snapshots/<revision>/<path>`), otherwise
    `cache_dir()/sources/<name>/<revision>/<path>`."""
    source = get_source(name)
    source.file(path)
    if source.repo_id is not None:
        folder = "datasets--" + source.repo_id.replace("/", "--")
        return Path(hf_constants.HF_HUB_CACHE) / folder / "snapshots" / str(source.revision) / path
    return cache_dir() / "sources" / name / (source.revision or "user") / path


def env_offline() -> bool:
    """True when the user switched this package's downloads off with `PERSONALIB_OFFLINE=1`."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def is_offline(source: Source, offline: bool | None = None) -> bool:
    """Whether `source` may not be downloaded: `offline` when given, else `PERSONALIB_OFFLINE=1`
    (any source) or huggingface_hub's offline mode (`HF_HUB_OFFLINE=1`; hub sources only)."""
    if offline is not None:
        return offline
    return env_offline() or (source.hub and hf_constants.is_offline_mode())


def _offline_reason(offline: bool | None) -> str:
    return "offline=True was passed" if offline else f"{OFFLINE_ENV} or HF_HUB_OFFLINE is set"


def download(url: str, dest: Path, *, sha256: str | None = None, size: int | None = None,
             timeout: float = 60.0) -> str:
    """Download `url` to `dest` atomically (temp file + rename) and return its sha256.

    A pinned `sha256`/`size` that does not match raises ChecksumError and keeps nothing; a network
    or HTTP error raises SourceMissingError naming the URL and `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    n_bytes = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                n_bytes += len(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            raise ChecksumError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual} "
                f"({n_bytes} bytes); the file was not kept. The source changed or a proxy altered it: "
                f"put a verified copy at {dest} or report the new revision.")
        if size is not None and n_bytes != size:
            raise ChecksumError(
                f"size mismatch for {url}: expected {size} bytes, got {n_bytes}; the file was not "
                f"kept. Put a verified copy at {dest}.")
        os.replace(tmp, dest)
        return actual
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SourceMissingError(
            f"could not download {url} ({exc}); download it by hand and put it at {dest}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _write_sidecar(path: Path, record: dict) -> None:
    _sidecar(path).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _verify_cached(source: Source, spec: SourceFile, path: Path) -> None:
    """Check a cached file against its pinned or recorded sha256 (hashing it once per change)."""
    sidecar = _sidecar(path)
    record = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    stat = path.stat()
    expected = spec.sha256 or record.get("sha256")
    if record.get("sha256") == expected and record.get("size") == stat.st_size \
            and record.get("mtime_ns") == stat.st_mtime_ns and expected is not None:
        return
    actual = file_sha256(path)
    if expected is not None and actual != expected:
        where = source.url(spec.path) or source.homepage
        if spec.sha256:
            raise ChecksumError(
                f"cached file {path} does not match its pinned sha256 ({expected}, got {actual}): "
                f"delete it to download it again from {where}, or put the right file there.")
        raise ChecksumError(
            f"cached file {path} changed since its sha256 was recorded in {sidecar} ({expected}, got "
            f"{actual}): if you replaced it on purpose, delete {sidecar.name}; otherwise delete both "
            f"and get the file again from {where}.")
    record.update(sha256=actual, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                  verified="pinned sha256" if spec.sha256 else record.get("verified", "recorded"))
    _write_sidecar(path, record)


def fetch(name: str, path: str, *, offline: bool | None = None) -> Path:
    """Local path of a source file, fetched into its cache on first use (module doc).

    `offline=True` never downloads (only a cached copy is used); `offline=False` allows downloading
    even when `PERSONALIB_OFFLINE` is set (huggingface_hub still honours `HF_HUB_OFFLINE` for hub
    sources); None reads those switches. Raises SourceMissingError when the file is not cached and
    cannot be fetched, ChecksumError when it is not the pinned (or first recorded) file.
    """
    source = get_source(name)
    spec = source.file(path)
    if source.hub:
        return _fetch_hub(source, spec, is_offline(source, offline), offline)
    dest = source_path(name, path)
    if dest.is_file():
        _verify_cached(source, spec, dest)
        return dest
    url = source.url(path)
    if url is None:
        raise SourceMissingError(missing_message(name, path))
    if is_offline(source, offline):
        raise SourceMissingError(
            f"{source.title}: {path} is not in the cache and downloads are off ({_offline_reason(offline)}). "
            f"Get it from {url} (revision {source.revision}) and put it at {dest}, or allow downloads.")
    actual = download(url, dest, sha256=spec.sha256, size=spec.size)
    stat = dest.stat()
    _write_sidecar(dest, {
        "source": name, "path": path, "url": url, "revision": source.revision,
        "sha256": actual, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "verified": "pinned sha256" if spec.sha256 else "recorded on first download",
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return dest


def _hub_api() -> ModuleType:
    """huggingface_hub's download functions, imported on first use: they load `tqdm.auto`, which
    warns on stderr in a notebook kernel without ipywidgets, and reports must show no stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from huggingface_hub import file_download
    return file_download


def hub_download_command(source: Source, path: str) -> str:
    """The `hf download` command that puts a hub source file into the Hugging Face cache."""
    return f"hf download {source.repo_id} {path} --repo-type dataset --revision {source.revision}"


def _fetch_hub(source: Source, spec: SourceFile, offline: bool, requested: bool | None) -> Path:
    """`fetch` for a hub source: hf_hub_download at the pinned revision, then the sha256 check."""
    assert source.repo_id is not None and source.revision is not None
    where = f"{source.title}: {spec.path} at revision {source.revision} of {source.homepage}"
    how = (f"run `{hub_download_command(source, spec.path)}` on a machine with access to the hub "
           f"(HF_ENDPOINT selects a mirror, HF_HUB_CACHE the cache), or give a local copy "
           f"(data_files=<path>)")
    hub = _hub_api()
    was_cached = isinstance(hub.try_to_load_from_cache(source.repo_id, spec.path, revision=source.revision,
                                                       repo_type="dataset"), str)
    try:
        local = Path(hub.hf_hub_download(source.repo_id, spec.path, repo_type="dataset", revision=source.revision,
                                         local_files_only=offline))
    except (GatedRepoError, RepositoryNotFoundError) as exc:
        raise SourceMissingError(
            f"{where}: the hub refused access ({_status(exc)}): the dataset is gated or private, or the "
            f"token is not valid. Accept its terms on {source.homepage} with your account, then set "
            f"HF_TOKEN to an access token of that account (or run `hf auth login`).") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        state = (f"downloads are off ({_offline_reason(requested)})" if offline or hf_constants.is_offline_mode()
                 else f"the hub could not be reached ({exc})")
        raise SourceMissingError(f"{where} is not in the Hugging Face cache and {state}. To get it, {how}.") from None
    except (EntryNotFoundError, RevisionNotFoundError, HfHubHTTPError, OSError) as exc:
        raise SourceMissingError(f"could not download {where} ({_status(exc)}: {exc}). To get it, {how}.") from None
    actual = file_sha256(local)
    if spec.sha256 is not None and actual != spec.sha256:
        if not was_cached:
            _discard_hub_file(local)
        kept = ("it was not kept: the endpoint (HF_ENDPOINT) served other bytes than the pinned file"
                if not was_cached else f"delete {local} and the file it links to ({local.resolve()}) to "
                "download it again")
        raise ChecksumError(
            f"{local} ({source.title}, {spec.path}) does not match its pinned sha256: expected "
            f"{spec.sha256}, found {actual}; {kept}.")
    return local


def _status(exc: Exception) -> str:
    code = getattr(getattr(exc, "response", None), "status_code", None)
    return f"HTTP {code}" if code is not None else type(exc).__name__


def _discard_hub_file(pointer: Path) -> None:
    """Remove a just-downloaded hub file that failed its check: the snapshot entry and its blob."""
    blob = pointer.resolve()
    pointer.unlink(missing_ok=True)
    if blob != pointer:
        blob.unlink(missing_ok=True)


def missing_message(name: str, path: str, argument: str | None = None) -> str:
    """What a user must do to supply a source file by hand: where to get it and where to put it."""
    source = get_source(name)
    if source.hub:
        text = (f"{source.title}: {path} is missing. Get it with `{hub_download_command(source, path)}` "
                f"({source.licence})")
    else:
        where = source.url(path) or source.homepage
        text = (f"{source.title}: {path} is missing. Get it from {where} ({source.licence}) and put it "
                f"at {source_path(name, path)}")
    return text + (f", or pass {argument}=<path>." if argument else ".")


def sources_table() -> pd.DataFrame:
    """One row per source file: source, path, revision, licence, URL, sha256 ("unknown" where none
    was pinned), size and cache path (for reports and provenance)."""
    rows = []
    for source in SOURCES.values():
        for spec in source.files:
            rows.append({
                "source": source.name, "path": spec.path, "revision": source.revision or "",
                "licence": source.licence, "url": source.url(spec.path) or source.homepage,
                "sha256": spec.sha256 or "unknown", "size": spec.size,
                "cache_path": str(source_path(source.name, spec.path)),
            })
    return pd.DataFrame(rows)
