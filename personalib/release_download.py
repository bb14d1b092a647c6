"""Download of the original study's released generations: the pinned release, or a mirror.

`download_release` fetches GitHub's tarball of the study's repository at the pinned commit (or at
`--commit`) once into the cache (with `personalib.sources.download`, the package's one helper for
files that are not on the Hugging Face hub) and extracts it; `personalib.release.import_release` imports the
extracted folder. A mirror (`--url`) is cached in its own folder and never read as the pinned
release; each extracted folder has a download record beside it (URL, pinned or not, sha256 of the
tarball) that the import copies into its manifest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from personalib.errors import SourceMissingError
from personalib.files import file_sha256
from personalib.paths import cache_dir
from personalib.sources import ChecksumError, download, env_offline
from personalib.store import utc_now

__all__ = [
    "RECORD_SUFFIX", "RELEASE_COMMIT", "RELEASE_REPO", "RELEASE_SHA256", "RELEASE_URL", "download_record",
    "download_release", "release_url",
]

RELEASE_REPO = "peluz/persona-behavior"
RELEASE_COMMIT = "4a41789facfdcd420ff3e5ed85c66cb8483ff016"
"""The repository commit whose README announces the complete `results/` folder (pinned)."""
RELEASE_URL = "https://codeload.github.com/{repo}/tar.gz/{commit}"
RELEASE_SHA256: str | None = None
"""sha256 of the pinned release tarball, where known. GitHub builds codeload tarballs on request and
publishes no checksum, so none is pinned: the sha256 of the first download is recorded beside it,
checked when the tarball is extracted again, and written into every import's manifest."""
RECORD_SUFFIX = ".download.json"


def release_url(commit: str = RELEASE_COMMIT) -> str:
    """The pinned source of the release at `commit`: GitHub's tarball of the study's repository."""
    return RELEASE_URL.format(repo=RELEASE_REPO, commit=commit)


def download_record(release: str | Path) -> dict[str, Any] | None:
    """Where a release folder made by `download_release` came from (URL, sha256 of the tarball,
    pinned or mirror), or None for a folder it did not make (a checkout given by the user)."""
    release = Path(release)
    path = release.parent / f"{release.name}{RECORD_SUFFIX}"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def download_release(commit: str = RELEASE_COMMIT, *, url: str | None = None, dest: Path | None = None,
                     offline: bool | None = None) -> Path:
    """The release checkout at `commit`, fetched once (tarball via urllib) and extracted into
    `dest` (default `<cache>/release`); returns the folder holding `results/`.

    A mirror (`url` other than `release_url(commit)`) is cached in its own folder,
    `<dest>/mirror-<sha256 of the URL, 16 hex>/`, never where the pinned release is cached, so what
    a mirror serves is never read by a later download of the pinned release. Every extraction
    writes a record beside the folder (`<folder>.download.json`: URL, pinned or mirror, sha256 and
    size of the tarball) that `import_release` copies into the import's manifest. The tarball is
    checked against `RELEASE_SHA256` (pinned release) or else against the sha256 recorded when it
    was first extracted there. Offline (`offline=True`, or `PERSONALIB_OFFLINE=1` when `offline` is
    None) or failing: SourceMissingError saying what to download and where to put it.
    """
    pinned_url = release_url(commit)
    url = url or pinned_url
    pinned = url == pinned_url
    base = Path(dest) if dest is not None else cache_dir() / "release"
    folder = base if pinned else base / f"mirror-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    target = folder / f"persona-behavior-{commit}"
    if (target / "results").is_dir():
        return target
    tarball = folder / f"persona-behavior-{commit}.tar.gz"
    hint = (f"Download {url} by hand and put it at {tarball} (then rerun with --download), or extract it "
            f"and run `python -m personalib import-release <extracted folder>`.")
    fetched = not tarball.is_file()
    if fetched:
        if offline or (offline is None and env_offline()):
            reason = "offline=True was passed" if offline else "PERSONALIB_OFFLINE is set"
            raise SourceMissingError(f"the study's release is not in the cache and {reason}. {hint}")
        try:
            download(url, tarball, sha256=RELEASE_SHA256 if pinned else None)
        except SourceMissingError as exc:
            raise SourceMissingError(f"could not download the study's release ({exc}). {hint}") from exc
    record = _check_tarball(tarball, target, url if fetched else None, pinned, commit)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    try:
        try:
            with tarfile.open(tarball) as archive:
                archive.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceMissingError(f"{tarball} is not a readable release tarball ({exc}); delete it and "
                                     f"try again. {hint}") from exc
        tops = [p for p in scratch.iterdir() if p.is_dir()]
        if len(tops) != 1 or not (tops[0] / "results").is_dir():
            raise SourceMissingError(f"{tarball} does not hold one repository folder with results/; delete "
                                     f"it and try again. {hint}")
        if not target.exists():
            (folder / f"{target.name}{RECORD_SUFFIX}").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            tops[0].rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _check_tarball(tarball: Path, target: Path, url: str | None, pinned: bool, commit: str) -> dict[str, Any]:
    """The download record of `tarball` (module `download_release`); ChecksumError when its sha256
    is not the pinned one or not the one recorded when it was first extracted at `target`."""
    sha256 = file_sha256(tarball)
    previous = download_record(target) or {}
    expected = (RELEASE_SHA256 if pinned else None) or previous.get("sha256")
    if expected and sha256 != expected:
        raise ChecksumError(
            f"{tarball} has sha256 {sha256}, not the {'pinned' if pinned and RELEASE_SHA256 else 'recorded'} "
            f"{expected}: it is not the release that was downloaded there before. Delete it and its "
            f"{target.name}{RECORD_SUFFIX}, then download again.")
    return {
        "url": url if url is not None else previous.get("url"),
        "pinned": pinned, "pinned_url": release_url(commit), "commit": commit,
        "tarball": str(tarball), "sha256": sha256, "size": tarball.stat().st_size,
        "verified": "pinned sha256" if pinned and RELEASE_SHA256 else "recorded at first extraction",
        "obtained": "downloaded" if url is not None else "found in the cache (placed by hand or an earlier run)",
        "extracted_at": utc_now(),
    }
