"""Every external data source of the study, pinned, cached and downloaded on first use (METHODS 3).

One table (`SOURCES`) lists each source with its pinned revision, licence, download URL and, per
file, the sha256 and size where they are known. Files live in the cache at
`cache_dir()/sources/<source>/<revision>/<path>` (`source_path`). `fetch` returns that path:

- cached: used as is, never downloaded again (it is hashed once and the result recorded in a
  sidecar `<file>.source.json`; a pinned sha256 that does not match stops with an error);
- not cached: downloaded with urllib to a temporary file, checked against the pinned sha256 and
  size, then renamed into place. Where no sha256 could be pinned offline ("unknown" in
  `sources_table()`), the hash of the first download is recorded in the sidecar and later reads
  are checked against it;
- offline (`PERSONALIB_OFFLINE=1`, or `HF_HUB_OFFLINE=1` for Hugging Face sources) or the download
  fails: `SourceMissingError` saying what is missing, its URL and the exact cache path to put it.

`largeScale.csv` (Sap et al. 2022) is never downloaded: its terms forbid redistribution. The user
downloads it from the authors' page and puts it at `source_path("sap2022", "largeScale.csv")`, or
passes `csv=` to `load_task("toxicity", ...)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from personalib.errors import SourceMissingError
from personalib.files import file_sha256
from personalib.paths import cache_dir

HF_ENDPOINT_ENV = "HF_ENDPOINT"
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
    """An external source pinned at one revision; `base_url` None means never downloaded."""

    name: str
    title: str
    homepage: str
    revision: str | None
    licence: str
    base_url: str | None
    files: tuple[SourceFile, ...]
    hub: bool = False
    notes: str = ""
    _index: dict[str, SourceFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f.path: f for f in self.files})

    def file(self, path: str) -> SourceFile:
        """The declared file `path`; a PersonalibError names the source's files otherwise."""
        try:
            return self._index[path]
        except KeyError:
            raise SourceMissingError(
                f"source {self.name!r} has no file {path!r}; its files are: "
                + ", ".join(self._index)) from None

    def url(self, path: str, base_url: str | None = None) -> str | None:
        """Download URL of `path` (`base_url` overrides the pinned one, e.g. a mirror)."""
        base = base_url or self.base_url
        if base is None:
            return None
        if self.hub and base_url is None:
            endpoint = os.environ.get(HF_ENDPOINT_ENV, "https://huggingface.co").rstrip("/")
            base = base.replace("https://huggingface.co", endpoint, 1)
        return base.rstrip("/") + "/" + path


def _hub(repo: str, revision: str) -> str:
    return f"https://huggingface.co/datasets/{repo}/resolve/{revision}"


TRUTHFULQA_REVISION = "741b8276f2d1982aa3d5b832d3ee81ed3b896490"
MMLU_REVISION = "c30699e8356da336a370243923dbaf21066bb9fe"
MMLU_ZEPHYR_REVISION = "7a00892cd331d78a88c8c869d0224a5cdd149848"
BBQ_REVISION = "bea11bd97d79217245b5871acd247b9d6eb24598"
STUDY_REVISION = "edeadf7cad6f585799599a320854731d51a18351"
SAP2022_URL = "https://maartensap.com/racial-bias-hatespeech/"

BBQ_FILES: dict[str, tuple[str, int]] = {
    "Age": ("46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60", 3091834),
    "Disability_status": ("375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f", 1336984),
    "Gender_identity": ("8b5adbb368510a97d5775dc43e1c719e0249fe2da33f13c83e3e29edafec7a00", 4331406),
    "Nationality": ("a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090", 2900040),
    "Physical_appearance": ("e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb", 1347476),
    "Race_ethnicity": ("4a9f1214cfaa115ce7f0bdb40609122e431f5152c71b8ca64d665e483b946ae6", 6062426),
    "Race_x_gender": ("e5dbba782f8c4e25b99dd5470b5136e2db73dbf401cf6d4a5a3ed31b02f95696", 13094106),
    "Race_x_SES": ("af8e2ae3d0e5be9ebcbfe7149e591d47ff649e263307f4548f7fb12f6a6d83e8", 11222218),
    "Religion": ("cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616", 1118728),
    "SES": ("9f92754bb037b0982604b9112705fb81d60a19d9e759c67e4a85e484a070f528", 5696950),
    "Sexual_orientation": ("2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd", 729010),
}
"""BBQ category files at `BBQ_REVISION` (sha256, bytes), in the study's category order."""

BBQ_METADATA_PATH = "supplemental/additional_metadata.csv"

SOURCES: dict[str, Source] = {
    "truthfulqa": Source(
        name="truthfulqa",
        title="TruthfulQA, config multiple_choice, split validation (Lin et al. 2022)",
        homepage="https://huggingface.co/datasets/truthfulqa/truthful_qa",
        revision=TRUTHFULQA_REVISION,
        licence="Apache-2.0",
        base_url=_hub("truthfulqa/truthful_qa", TRUTHFULQA_REVISION),
        files=(SourceFile("multiple_choice/validation-00000-of-00001.parquet",
                          "23f08e230ca4ed66babf3a72419af7cbde1f3d734dd396ac4cf6d088bd162afd",
                          271033),),
        hub=True,
        notes="817 questions in the order the study used (that of the repository's v0 mc_task.json).",
    ),
    "mmlu": Source(
        name="mmlu",
        title="MMLU, config all, split test (Hendrycks et al. 2021)",
        homepage="https://huggingface.co/datasets/cais/mmlu",
        revision=MMLU_REVISION,
        licence="MIT",
        base_url=_hub("cais/mmlu", MMLU_REVISION),
        files=(SourceFile("all/test-00000-of-00001.parquet",
                          "74a41822ce7d3def56e1682f958469c04642a5336a5ce912fa375fdb90fb25d7"),),
        hub=True,
        notes=(f"14,042 rows. The original analysed Zephyr's answers against revision "
               f"{MMLU_ZEPHYR_REVISION[:8]} (a loading-script revision from before the Parquet "
               "conversion, which `datasets` 4+ can no longer run) and the other models against the "
               "then-current Parquet data; this package pins a Parquet revision."),
    ),
    "bbq": Source(
        name="bbq",
        title="BBQ, Bias Benchmark for QA (Parrish et al. 2022), 11 category files + bias metadata",
        homepage="https://github.com/nyu-mll/BBQ",
        revision=BBQ_REVISION,
        licence="CC-BY-4.0",
        base_url=f"https://raw.githubusercontent.com/nyu-mll/BBQ/{BBQ_REVISION}",
        files=tuple(SourceFile(f"data/{cat}.jsonl", sha, size)
                    for cat, (sha, size) in BBQ_FILES.items()) + (SourceFile(BBQ_METADATA_PATH),),
        notes=("Commit of 2022-07-07. Its 11 data files (58,492 rows) have the same sha256 as the "
               "default branch's files (as published by other projects pinning this commit); the "
               "study read the same rows through HF heegyu/bbq (METHODS 3). The sha256 of "
               "supplemental/additional_metadata.csv is recorded on first download."),
    ),
    "study": Source(
        name="study",
        title="Original study repository peluz/persona-behavior (Araujo & Roth 2024): data files",
        homepage="https://github.com/peluz/persona-behavior",
        revision=STUDY_REVISION,
        licence="none stated (the repository has no LICENSE file); fetched, never redistributed",
        base_url=f"https://raw.githubusercontent.com/peluz/persona-behavior/{STUDY_REVISION}",
        files=(
            SourceFile("data/attitude_questions.json",
                       "1cfef046549cde631ab4c8b20027c5100b657baafc84253a5dc0c863a9ee0d4f", 5077),
            SourceFile("data/att_augment.json",
                       "e44d3e851a191cc445a0575565580a5d4a08b43d694e6eb6f70399eb3a887b77", 6186),
            SourceFile("data/mmlu/sampled_ids.json", None, 62482),
            SourceFile("data/bbq/sampled_ids.json", None, 32101),
        ),
        notes="Attitude questionnaires, instruction paraphrases and the GPT-4 subsample ids.",
    ),
    "sap2022": Source(
        name="sap2022",
        title="largeScale.csv of 'Annotators with Attitudes' (Sap et al. 2022)",
        homepage=SAP2022_URL,
        revision=None,
        licence="terms of the authors' data release forbid redistribution: user-supplied only",
        base_url=None,
        files=(SourceFile("largeScale.csv"),),
        notes="Download and extract it from the authors' page; never downloaded by this package.",
    ),
}


def get_source(name: str) -> Source:
    """The source called `name`; a SourceMissingError lists the known names otherwise."""
    try:
        return SOURCES[name]
    except KeyError:
        raise SourceMissingError(
            f"unknown data source {name!r}; known sources: {', '.join(SOURCES)}") from None


def source_path(name: str, path: str) -> Path:
    """Cache location of a source file: `cache_dir()/sources/<name>/<revision>/<path>`."""
    source = get_source(name)
    source.file(path)
    return cache_dir() / "sources" / name / (source.revision or "user") / path


def is_offline(source: Source, mirror: bool = False) -> bool:
    """True when downloads are switched off: `PERSONALIB_OFFLINE=1` (any source) or
    `HF_HUB_OFFLINE=1` (Hugging Face hub sources, unless a mirror `base_url` is used)."""
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return True
    return source.hub and not mirror and os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


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


def fetch(name: str, path: str, *, base_url: str | None = None, offline: bool | None = None) -> Path:
    """Local path of a source file, downloading it into the cache on first use (module doc).

    `base_url` replaces the pinned URL prefix (a mirror with the same layout; tests use a local
    server). `offline=True` never downloads (only a cached copy is used), `offline=False` may;
    None follows the environment (`is_offline`). Raises SourceMissingError when the file is not
    cached and cannot be downloaded.
    """
    source = get_source(name)
    spec = source.file(path)
    dest = source_path(name, path)
    if dest.is_file():
        _verify_cached(source, spec, dest)
        return dest
    url = source.url(path, base_url)
    if url is None or source.base_url is None:
        raise SourceMissingError(missing_message(name, path))
    if offline if offline is not None else is_offline(source, mirror=base_url is not None):
        reason = "offline=True was passed" if offline else f"{OFFLINE_ENV} or HF_HUB_OFFLINE is set"
        raise SourceMissingError(
            f"{source.title}: {path} is not in the cache and downloads are off "
            f"({reason}). Get it from {url} "
            f"(revision {source.revision}) and put it at {dest}, or unset the variable.")
    actual = download(url, dest, sha256=spec.sha256, size=spec.size)
    stat = dest.stat()
    _write_sidecar(dest, {
        "source": name, "path": path, "url": url, "revision": source.revision,
        "sha256": actual, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "verified": "pinned sha256" if spec.sha256 else "recorded on first download",
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return dest


def missing_message(name: str, path: str, argument: str | None = None) -> str:
    """What a user must do to supply a source file by hand: where to get it and where to put it."""
    source = get_source(name)
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
