"""Steps of the scale benchmark that are package calls rather than commands, run as subprocesses.

    python -m benchmarks.scale.drive score PROFILE STORE MODEL [MODEL ...]
    python -m benchmarks.scale.drive across PROFILE STORE OUTPUT MODEL [MODEL ...]
    python -m benchmarks.scale.drive derive SOURCE TARGET BASE_MODEL MMLU_IDS BBQ_IDS JOBS

`score`: `personalib.analysis.load_study` for the models (what `python -m personalib report` runs
before its notebooks: every store part scored into the outcome cache, each model x dataset
assembled), with the profile's persona sets and parsing mode. `across`: that, then only the
across-model report (`<notebook>__all`) of every notebook, built by `personalib.reports.run.
build_report` as the `report` command builds it (forced, so a kept folder is rebuilt). `derive`:
`benchmarks.scale.derive.derive_store`. Each prints one JSON line of what it did.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def score(profile: str, store: str, models: list[str]) -> dict:
    from personalib.analysis.data import load_study
    from personalib.params import load_profile

    prof = load_profile(profile)
    study = load_study(prof, store, models, list(prof.persona_sets), prof.parsing)
    counts = study.counts
    return {"rows": int(counts["generations"].sum()), "models": study.models_present, "notes": len(study.notes)}


def across(profile: str, store: str, output: str, models: list[str]) -> dict:
    from personalib.cli.report import DEMO_LABEL, profile_inputs, uses_demo_data
    from personalib.params import load_profile, resolve_path
    from personalib.paths import project_root
    from personalib.reports.fingerprint import source_digest
    from personalib.reports.index import ALL_SCOPE
    from personalib.reports.run import ReportJob, ReportSettings, build_report, discover_notebooks

    prof = load_profile(profile)
    result = score(profile, store, models)
    settings = ReportSettings(
        profile=str(resolve_path(profile)), store=resolve_path(store), output_dir=resolve_path(output),
        persona_sets=tuple(prof.persona_sets), parsing=prof.parsing, description=prof.description,
        demo_label=DEMO_LABEL if uses_demo_data(prof, models) else None,
        inputs=profile_inputs(profile, prof, models), cwd=project_root())
    package = source_digest()
    reports = {}
    for notebook in discover_notebooks(project_root() / "notebooks"):
        outcome = build_report(ReportJob(notebook, ALL_SCOPE, tuple(models)), settings, force=True,
                               package_source=package)
        reports[outcome.job.base] = {"status": outcome.status, "seconds": round(outcome.seconds, 1),
                                     "reason": outcome.reason if outcome.status == "failed" else ""}
        print(f"{outcome.job.base}: {outcome.status} in {outcome.seconds:.1f} s {reports[outcome.job.base]['reason']}",
              file=sys.stderr, flush=True)
    return {**result, "reports": reports}


def derive(source: str, target: str, base_model: str, mmlu_ids: str, bbq_ids: str, jobs: str) -> dict:
    from benchmarks.scale.derive import derive_store

    return derive_store(Path(source), Path(target), base_model, Path(mmlu_ids), Path(bbq_ids), jobs=int(jobs))


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "score":
        result = score(args[0], args[1], args[2:])
    elif command == "across":
        result = across(args[0], args[1], args[2], args[3:])
    elif command == "derive":
        result = derive(*args)
    else:
        raise SystemExit(f"unknown driver command {command!r}: score, across or derive")
    print(json.dumps(result))
    failed = [name for name, r in result.get("reports", {}).items() if r["status"] == "failed"]
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
