"""`python -m personalib status --store PATH [--json]`: what a generation store holds.

Per model, dataset and persona set: stored entries, planned (by the runs recorded in the store's
plans and manifests), missing (planned but not stored) and duplicates (entries stored more than
once, e.g. by two workers racing; dropped on read). `--json` prints the same with the totals
`stored`, `missing` and `duplicates` at the top level, and each recorded run with its `state`: a
run killed with SIGKILL still says "running" in its manifest; its state says "interrupted" (its
process on this host is gone) or "stale" (no heartbeat for hours). Runs not completed are listed
under the table. A corrupt part is moved to `corrupt/`; in a store this process cannot write (a
read-only mount) it is reported and left in place. A relative `--store` is relative to the
current directory.
"""

from __future__ import annotations

import argparse
import json
import sys

from personalib.errors import StoreError
from personalib.params import load_profile
from personalib.paths import user_path
from personalib.store import Store, corrupt_notices, summarize
from personalib.writable import STORE_FOLDERS, folder_problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", help="store folder")
    where.add_argument("--profile", help="use this profile's `store` folder")
    parser.add_argument("--json", action="store_true", help="print JSON (totals at the top level)")
    parser.add_argument("--verify", action="store_true",
                        help="check every part's content hash; set aside the parts that fail")


def _table(summary: dict) -> str:
    header = (
        f"{'model':<20} {'dataset':<11} {'persona set':<14} {'stored':>10} {'planned':>10} {'missing':>10} "
        f"{'dupl.':>7}"
    )
    lines = [header, "-" * len(header)]
    for g in summary["groups"]:
        lines.append(
            f"{g['model']:<20} {g['dataset']:<11} {g['persona_set']:<14} {g['stored']:>10,} {g['planned']:>10,} "
            f"{g['missing']:>10,} {g['duplicates']:>7,}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<47} {summary['stored']:>10,} {summary['planned']:>10,} {summary['missing']:>10,} "
        f"{summary['duplicates']:>7,}"
    )
    lines.append(f"{summary['parts']} parts, {len(summary['runs'])} runs recorded; store format {summary['format']}")
    if summary["parts_without_hash"]:
        lines.append(f"{summary['parts_without_hash']} part(s) written before store format 2 (no content hash, no "
                     "settings fingerprint): run `python -m personalib upgrade --store <path>`")
    for run in summary["runs"]:
        if run["state"] != "completed":
            reason = f": {run['state_reason']}" if run["state_reason"] else ""
            lines.append(f"run {run['run_id']}: {run['state']}{reason}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the store summary."""
    path = user_path(args.store) if args.store else load_profile(args.profile).store_path()
    if path.exists() and not path.is_dir():
        raise StoreError(f"--store {path} is a file, not a generation store folder; check --store")
    store = Store(path)
    if not store.exists():
        raise StoreError(f"no generation store at {path} (no parts/, plans/ or manifests/ folder); check --store")
    problem = next((p for p in (folder_problem(path), *(folder_problem(path / f) for f in STORE_FOLDERS)) if p), None)
    if problem:  # read it without moving anything
        store = Store(path, read_only=True)
        print(f"notice: the store is read-only here ({problem}): corrupt parts are reported, not moved",
              file=sys.stderr)
    if args.verify:
        bad = store.verify()
        print(f"verified the content hash of every part: {len(bad)} failed and were set aside", file=sys.stderr)
    summary = summarize(store)
    for line in corrupt_notices(summary["corrupt_set_aside"]):
        print(line, file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"store {path}")
        print(_table(summary))
    return 0
