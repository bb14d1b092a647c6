"""`python -m personalib report`: execute the research-question notebooks and render HTML reports.

    python -m personalib report --profile demo
    python -m personalib report --profile paper --models zephyr mistral --notebooks rq1,rq2
    python -m personalib report --profile demo --force          # rebuild even when up to date

Each notebook in `notebooks/` runs once per model and once across the models, under the profile's
`reports` folder (`<notebook>__<model|all>.html`, `.ipynb`, `.json`, `.csv`), then `index.html`
links them all. Up-to-date reports are skipped. Exit code 2 when a report fails, naming the
notebook, cell and error, or when an option is wrong (checked before any notebook runs); 130 when
stopped by Ctrl-C or SIGTERM, with the interrupted report's previous files kept. Relative paths
given here are relative to the current directory (those inside the profile, to the project root).
New generations are scored into the store's outcome tables once, before the notebooks run.
docs/reports.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from personalib.cli.interrupt import EXIT_INTERRUPTED, sigterm_as_interrupt
from personalib.params import Profile, load_profile
from personalib.paths import params_dir, project_root, user_path
from personalib.reports.execute import ReportError
from personalib.reports.run import ReportSettings, build_reports, check_output_dir, discover_notebooks
from personalib.tasks import registry

DEMO_LABEL = (
    "This profile answers the package's demo items (invented for personalib, in each source's "
    "own schema), not the study's datasets, with a small model: the numbers show the pipeline "
    "at work, not the paper's findings."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("--profile", required=True,
                        help="profile name (params/profiles/<name>.yaml) or YAML path")
    parser.add_argument("--models", nargs="+",
                        help="a subset of the profile's models (space- or comma-separated)")
    parser.add_argument("--notebooks",
                        help="comma-separated notebook names or prefixes, e.g. rq1,rq3 (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild reports even when up to date")
    parser.add_argument("--notebooks-dir", help="folder of the report notebooks (default: notebooks/)")
    parser.add_argument("--output", help="report folder (default: the profile's `reports`)")
    parser.add_argument("--store", help="store folder (default: the profile's `store`)")
    parser.add_argument("--cell-timeout", type=float,
                        help="seconds one notebook cell may run (default: no limit)")


def _split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.split(",") if v.strip()]


def select_models(profile: Profile, requested: list[str]) -> list[str]:
    """The requested models in the order given, each one of the profile's (else an error)."""
    unknown = [m for m in requested if m not in profile.models]
    if unknown:
        raise ReportError(f"--models: {', '.join(unknown)} not in profile {profile.name!r} "
                          f"(its models: {', '.join(profile.models)})")
    return list(dict.fromkeys(requested)) or list(profile.models)


def profile_inputs(profile_arg: str, profile: Profile, models: list[str]) -> tuple[Path, ...]:
    """Files whose edits make the reports stale: the profile, model params, persona-set YAMLs, and
    the task files and demo items of the project's own datasets (params/tasks/)."""
    is_path = profile_arg.endswith((".yaml", ".yml")) or "/" in profile_arg or "\\" in profile_arg
    files = [user_path(profile_arg) if is_path else params_dir() / "profiles" / f"{profile_arg}.yaml"]
    files += [params_dir() / "models" / f"{m}.yaml" for m in models]
    files += [ref for ref in profile.persona_set_refs() if isinstance(ref, Path)]
    datasets = dict.fromkeys(d for m in models for d in profile.datasets_for(m))
    files += [path for name in datasets for path in registry.project_files(name)]
    return tuple(files)


def uses_demo_data(profile: Profile, models: list[str]) -> bool:
    """True when any selected model reads any dataset from the package's demo items."""
    return any(spec.demo for m in models for spec in profile.datasets_for(m).values())


def run(args: argparse.Namespace) -> int:
    """Build the profile's reports; exit code 2 (PersonalibError) when any report failed, 130
    when interrupted (Ctrl-C, SIGTERM)."""
    with sigterm_as_interrupt():
        try:
            return _run(args)
        except KeyboardInterrupt:
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the abandoned kernel's tasks
            print("interrupted: the report being built was left out and its previous files, if "
                  "any, are kept; reports finished before are saved. Rerun the same command to "
                  "build the rest.", file=sys.stderr)
            return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    if args.cell_timeout is not None and not args.cell_timeout > 0:
        raise ReportError(f"--cell-timeout must be a number of seconds > 0, got {args.cell_timeout:g}")
    profile = load_profile(args.profile)
    models = select_models(profile, _split(args.models))
    folder = user_path(args.notebooks_dir) if args.notebooks_dir else project_root() / "notebooks"
    notebooks = discover_notebooks(folder, _split([args.notebooks]) if args.notebooks else None)
    is_path = args.profile.endswith((".yaml", ".yml")) or "/" in args.profile
    settings = ReportSettings(
        profile=str(user_path(args.profile)) if is_path else profile.name,
        store=user_path(args.store) if args.store else profile.store_path(),
        output_dir=user_path(args.output) if args.output else profile.reports_path(),
        persona_sets=tuple(profile.persona_sets),
        parsing=profile.parsing,
        description=profile.description,
        demo_label=DEMO_LABEL if uses_demo_data(profile, models) else None,
        inputs=profile_inputs(args.profile, profile, models),
        cwd=project_root(),
        cell_timeout=args.cell_timeout,
    )
    check_output_dir(Path(settings.output_dir))
    if Path(settings.store).exists():  # score new generations once, here, with a progress bar
        from personalib.analysis.data import load_study

        load_study(profile, settings.store, models, list(profile.persona_sets), profile.parsing, progress=True)
    outcomes = build_reports(notebooks, models, settings, force=args.force)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("built", "up-to-date", "failed")}
    print(f"reports: {counts['built']} built, {counts['up-to-date']} up to date, "
          f"{counts['failed']} failed -> {settings.output_dir / 'index.html'}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise ReportError(f"{len(failed)} report(s) failed:\n" + "\n".join(
            f"- {o.job.base}: {o.reason}" for o in failed))
    return 0
