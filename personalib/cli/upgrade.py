"""`python -m personalib upgrade --store PATH`: bring a store to the current store format.

A store written by an earlier version (format 1: parts without a content hash, rows without a
settings fingerprint) stays readable; this command rewrites its parts in format 2 without losing or
changing a generation (personalib.store.upgrade). `status` says which format a store has.
"""

from __future__ import annotations

import argparse
import sys

from personalib.errors import StoreError
from personalib.params import load_profile, resolve_path
from personalib.store import Store
from personalib.store.upgrade import upgrade


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", help="store folder")
    where.add_argument("--profile", help="use this profile's `store` folder")


def run(args: argparse.Namespace) -> int:
    """Upgrade the store and print what was done."""
    path = resolve_path(args.store) if args.store else load_profile(args.profile).store_path()
    store = Store(path)
    if not store.exists():
        raise StoreError(f"no generation store at {path} (no parts/, plans/ or manifests/ folder); check --store")
    summary = upgrade(store, out=sys.stderr)
    print(f"store {path}: format {summary.format_before} -> {store.format()}; {summary.parts_rewritten} part(s) "
          f"rewritten ({summary.rows:,} rows), {summary.parts_current} already current")
    if summary.unknown_settings:
        print(f"note: {summary.unknown_settings:,} generated row(s) of run(s) without a manifest "
              f"({', '.join(summary.runs_without_manifest[:5])}) keep an unknown settings fingerprint; the "
              "analysis uses them as made with the profile's current settings and says so")
    return 0
