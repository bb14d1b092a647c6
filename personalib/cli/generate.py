"""`python -m personalib generate`: generate and store persona-prompted answers for a profile.

    python -m personalib generate --profile demo
    python -m personalib generate --profile paper --models zephyr --shard 0/8      # SLURM array task 0
    python -m personalib generate --profile paper --models gpt-4 --dry-run        # counts and API cost
    python -m personalib generate --profile paper --models gpt-4 --max-cost 500   # refuse above $500

Reruns skip every stored request; `--shard I/N` (I = 0..N-1, e.g. `$SLURM_ARRAY_TASK_ID/N`) runs
the I-th of N disjoint, deterministic parts of the plan (by request key), so N workers (nodes on a
shared filesystem) can write into one store at once. SIGTERM (SLURM preemption or time limit) and
Ctrl-C store what the backend finished, mark the run "interrupted" in its manifest and exit 130;
a kill -9 loses at most the chunk in flight.

SLURM array job (8 GPUs, one shard each, one store on the shared filesystem)::

    #!/bin/bash
    #SBATCH --array=0-7 --gres=gpu:1 --cpus-per-task=8 --time=24:00:00 --requeue
    python -m personalib generate --profile paper --models zephyr \
        --store /shared/personalib/store --shard ${SLURM_ARRAY_TASK_ID}/8

A requeued or resubmitted task skips what its shard already stored; `python -m personalib status
--store /shared/personalib/store` shows what is still missing.

`--workers N` runs N client processes on this node (one shard each, composing with `--shard`), for
a fast server that one Python process cannot keep busy (vLLM on a node of GPUs); see
`personalib.workers`.
"""

from __future__ import annotations

import argparse
import signal
import sys

from personalib.errors import PersonalibError
from personalib.generate import GenerateOptions, check_options, generate
from personalib.params import load_profile
from personalib.paths import user_path
from personalib.store import Store, corrupt_notices, parse_shard
from personalib.writable import check_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("--profile", required=True, help="profile name (params/profiles/<name>.yaml) or YAML path")
    parser.add_argument("--models", nargs="+", help="model params names (default: the profile's models)")
    parser.add_argument("--store", help="store folder (default: the profile's `store`)")
    parser.add_argument("--datasets", nargs="+", help="a subset of the profile's datasets")
    parser.add_argument(
        "--persona-sets",
        nargs="+",
        help="persona sets: the profile's, built-in (regular, empty, control) or YAML paths",
    )
    parser.add_argument("--limit", type=int, help="first N items of each dataset")
    parser.add_argument("--shard", help="I/N: run shard I (0-based) of N, partitioned by request key")
    parser.add_argument("--dry-run", action="store_true", help="print counts (and API cost estimates); send nothing")
    parser.add_argument("--max-cost", type=float, help="refuse to start when the API cost estimate exceeds this (USD)")
    parser.add_argument("--chunk-size", type=int, help="rows per stored part, and requests per backend call for the "
                        "hf and Batch API backends (default 8x batch_size or api.concurrency; openai: at least 4096)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="N client processes on this node, one shard each, one store (personalib/workers.py)")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    """Run the profile's generations; exit code 0 when nothing failed.

    The options are checked first, then the profile; command-line paths are relative to the
    current directory."""
    options = GenerateOptions(
        models=args.models,
        datasets=args.datasets,
        persona_sets=args.persona_sets,
        limit=args.limit,
        shard=parse_shard(args.shard) if args.shard else None,
        dry_run=args.dry_run,
        max_cost=args.max_cost,
        store=user_path(args.store) if args.store else None,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
        command=["personalib", "generate", *sys.argv[2:]] if sys.argv[1:2] == ["generate"] else [],
    )
    check_options(options)
    if args.workers < 1:
        raise PersonalibError(f"--workers must be >= 1, got {args.workers}")
    profile = load_profile(args.profile)
    if profile.generations == "released":
        return import_released(profile, args)
    if args.workers != 1 and not args.dry_run:
        from personalib.workers import run_workers

        return run_workers(args.profile, profile, options, args.workers)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SLURM's preemption / time limit
    try:
        summary = generate(profile, options, out=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: every finished chunk is stored; rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    for line in corrupt_notices(summary["corrupt_set_aside"]):
        print(line, file=sys.stderr)
    return 1 if summary["counts"]["failed"] else 0


def import_released(profile, args: argparse.Namespace) -> int:
    """A `generations: released` profile is not generated: its store is filled with the original
    study's released generations (`import-release --download`, pinned commit)."""
    from personalib.cli.import_release import print_summary
    from personalib.release import import_release
    from personalib.release_download import RELEASE_COMMIT, RELEASE_REPO, download_release

    store_path = user_path(args.store) if args.store else profile.store_path()
    models = args.models or profile.models
    print(f"profile {profile.name!r} analyses the study's released generations: importing "
          f"{RELEASE_REPO}@{RELEASE_COMMIT[:12]} into {store_path} (models: {', '.join(models)}); "
          "`python -m personalib import-release PATH` imports a local copy instead", file=sys.stderr)
    if args.dry_run:
        return 0
    check_store(store_path, "--store" if args.store else "the profile's `store`")
    path = download_release(RELEASE_COMMIT)
    summary = import_release(path, Store(store_path), commit=RELEASE_COMMIT, models=models,
                             datasets=args.datasets)
    print_summary(summary, store_path)
    return 0
