"""`python -m personalib import-release`: import the original study's released generations.

    python -m personalib import-release ../persona-behavior                 # a local checkout
    python -m personalib import-release --download                          # fetch the pinned commit
    python -m personalib import-release PATH --models gpt-4 --datasets attitudes --store store/x

PATH is the study's repository checkout (or its `results/` folder). With `--download` the release
tarball at the pinned commit is fetched into PATH (default: the cache) and imported from there;
`--url` fetches it from a mirror instead, cached apart from the pinned release and recorded (URL,
sha256) in the import's manifest. The store defaults to the `released` profile's store. Relative
paths are relative to the current directory. Mapping rules: `personalib.release`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from personalib.errors import PersonalibError
from personalib.params import load_profile
from personalib.paths import user_path
from personalib.release import import_release
from personalib.release_download import RELEASE_COMMIT, RELEASE_REPO, download_record, download_release
from personalib.store import Store
from personalib.writable import check_folder, check_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("path", nargs="?", help="release folder (repository checkout or its results/); with "
                        "--download, where to download and extract it (default: the cache)")
    parser.add_argument("--store", help="store folder (default: the `released` profile's store)")
    parser.add_argument("--models", nargs="+", help="params model names to import (default: all in the release)")
    parser.add_argument("--datasets", nargs="+", help="datasets to import (default: all)")
    parser.add_argument("--download", action="store_true",
                        help=f"fetch {RELEASE_REPO} at the pinned commit (tarball) first")
    parser.add_argument("--commit", default=RELEASE_COMMIT,
                        help="release commit (download target; recorded in the row keys and manifest)")
    parser.add_argument("--url", help="download from this URL instead of GitHub (a mirror of the tarball)")
    parser.add_argument("--mmlu-ids", help="the study's data/mmlu/sampled_ids.json (GPT-4 subsample)")
    parser.add_argument("--bbq-ids", help="the study's data/bbq/sampled_ids.json (GPT-4 subsample)")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="skip (and list) files whose model folder, dataset folder or stem is unknown "
                        "instead of stopping")


def _check_arguments(args: argparse.Namespace) -> dict[str, Path | None]:
    """Every argument checked before anything is downloaded or written; the command-line paths
    (relative to the current directory): release, store, mmlu_ids, bbq_ids."""
    if args.url and not args.download:
        raise PersonalibError("--url is the address to --download the release from; add --download, or "
                              "give the release folder PATH without --url")
    if not re.fullmatch(r"[0-9a-f]{40}", args.commit):
        raise PersonalibError(f"--commit {args.commit!r}: expected a full 40-character commit hash (it is part "
                              "of every imported row's key)")
    if args.path is None and not args.download:
        raise PersonalibError("import-release needs the release folder PATH, or --download to fetch it")
    paths = {name: user_path(value) if value else None
             for name, value in (("release", args.path), ("mmlu_ids", args.mmlu_ids), ("bbq_ids", args.bbq_ids))}
    for name in ("mmlu_ids", "bbq_ids"):
        if paths[name] is not None and not paths[name].is_file():
            raise PersonalibError(f"--{name.replace('_', '-')} {paths[name]}: no such file")
    paths["store"] = user_path(args.store) if args.store else load_profile("released").store_path()
    check_store(paths["store"], "--store" if args.store else "the `released` profile's `store`")
    if args.download and paths["release"] is not None:
        check_folder(paths["release"], "download folder PATH")
    return paths


def run(args: argparse.Namespace) -> int:
    """Import, then print counts per model, dataset and persona set."""
    paths = _check_arguments(args)
    path = paths["release"]
    if args.download:
        path = download_release(args.commit, url=args.url, dest=path)
        record = download_record(path) or {}
        source = "pinned" if record.get("pinned", True) else f"mirror {record.get('url')}"
        print(f"release {RELEASE_REPO}@{args.commit[:12]} at {path} ({source}; tarball sha256 "
              f"{record.get('sha256', 'not recorded')})", file=sys.stderr)
    store_path = paths["store"]
    summary = import_release(path, Store(store_path), commit=args.commit, models=args.models,
                             datasets=args.datasets, mmlu_ids=paths["mmlu_ids"], bbq_ids=paths["bbq_ids"],
                             skip_unknown=args.skip_unknown)
    print_summary(summary, store_path)
    return 0


def print_summary(summary, store_path: Path) -> None:
    """Counts per model, dataset and persona set of one import, then the totals."""
    print(f"{'model':<12} {'dataset':<11} {'persona set':<12} {'personas':>8} {'rows':>10}")
    for model, datasets in sorted(summary.counts.items()):
        for dataset, sets in sorted(datasets.items()):
            for persona_set, counts in sorted(sets.items()):
                print(f"{model:<12} {dataset:<11} {persona_set:<12} {counts['personas']:>8,} {counts['rows']:>10,}")
    print(f"{summary.files} files, {summary.rows:,} generations ({summary.new_rows:,} new) into {store_path}; "
          f"{len(summary.skipped_files)} files skipped; run {summary.run_id}")
