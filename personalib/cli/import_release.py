"""`python -m personalib import-release`: import the original study's released generations.

    python -m personalib import-release ../persona-behavior                 # a local checkout
    python -m personalib import-release --download                          # fetch the pinned commit
    python -m personalib import-release PATH --models gpt-4 --datasets attitudes --store store/x

PATH is the study's repository checkout (or its `results/` folder). With `--download` the release
tarball at the pinned commit is fetched into PATH (default: the cache) and imported from there.
The store defaults to the `released` profile's store. Mapping rules: `personalib.release`.
Issue 4 item 5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from personalib.errors import PersonalibError
from personalib.params import load_profile, resolve_path
from personalib.release import RELEASE_COMMIT, RELEASE_REPO, download_release, import_release
from personalib.store import Store


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
    parser.add_argument("--mmlu-ids", type=Path, help="the study's data/mmlu/sampled_ids.json (GPT-4 subsample)")
    parser.add_argument("--bbq-ids", type=Path, help="the study's data/bbq/sampled_ids.json (GPT-4 subsample)")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="skip (and list) files whose model folder, dataset folder or stem is unknown "
                        "instead of stopping")


def run(args: argparse.Namespace) -> int:
    """Import, then print counts per model, dataset and persona set."""
    if args.download:
        path = download_release(args.commit, url=args.url, dest=Path(args.path) if args.path else None)
        print(f"release {RELEASE_REPO}@{args.commit[:12]} at {path}", file=sys.stderr)
    elif args.path is None:
        raise PersonalibError("import-release needs the release folder PATH, or --download to fetch it")
    else:
        path = Path(args.path)
    store_path = resolve_path(args.store) if args.store else load_profile("released").store_path()
    summary = import_release(path, Store(store_path), commit=args.commit, models=args.models,
                             datasets=args.datasets, mmlu_ids=args.mmlu_ids, bbq_ids=args.bbq_ids,
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
