"""The closing section of every report: where its generations came from and how the analysis
departs from the original (METHODS 7 deviations).

`runs_table` lists the store's run manifests (already free of secrets: the store scrubs them),
`environment_table` the versions this report ran with, `generations_table` what was analysed, and
`show_provenance` shows all of them with the deviations table.
"""

from __future__ import annotations

import pandas as pd

from personalib.analysis.data import Study
from personalib.analysis.show import heading, note, table
from personalib.deviations import deviations_table
from personalib.store import environment

LIBRARIES = ("pandas", "numpy", "scipy", "statsmodels", "pingouin", "krippendorff", "seaborn",
             "matplotlib", "papermill", "transformers", "torch", "openai")


def runs_table(study: Study) -> pd.DataFrame:
    """One row per run recorded in the store (generation runs and imports)."""
    rows = []
    for m in study.manifests:
        models = m.get("models") or []
        names = [x.get("name", "") if isinstance(x, dict) else str(x) for x in models]
        ids = [f"{x.get('model_id')}@{x.get('revision')}" if x.get("revision") else str(x.get("model_id"))
               for x in models if isinstance(x, dict) and x.get("model_id")]
        env = m.get("environment") or {}
        rows.append({
            "run_id": m.get("run_id"), "command": m.get("command"), "origin": m.get("origin"),
            "status": m.get("status"), "started_at": m.get("started_at"),
            "ended_at": m.get("ended_at"), "models": ", ".join(names),
            "model ids": ", ".join(ids) or None,
            "rows": (m.get("counts") or {}).get("rows") if isinstance(m.get("counts"), dict) else None,
            "personalib": env.get("personalib"), "git_commit": env.get("git_commit"),
            "release": (m.get("release") or {}).get("commit") if isinstance(m.get("release"), dict) else None,
        })
    return pd.DataFrame(rows)


def environment_table() -> pd.DataFrame:
    """The versions this report was computed with (package, Python, libraries, git commit)."""
    import importlib.metadata as md

    env = environment()
    rows = [("personalib", env["personalib"]), ("git commit", env["git_commit"] or "not a git checkout"),
            ("python", env["python"]), ("platform", env["platform"])]
    for lib in LIBRARIES:
        try:
            rows.append((lib, md.version(lib)))
        except md.PackageNotFoundError:
            rows.append((lib, "not installed"))
    return pd.DataFrame(rows, columns=["component", "version"])


def generations_table(study: Study) -> pd.DataFrame:
    """How many generations of each model, persona set and dataset the report analysed."""
    counts = study.counts
    return counts[counts["generations"] > 0].reset_index(drop=True)


def show_provenance(study: Study) -> None:
    """Show the provenance tables and the deviations from the original analysis."""
    heading("Generations analysed")
    table(generations_table(study), empty="no generations")
    notes = [f"Parsing: {study.parsing} (METHODS 4). Store: {study.store}."]
    if study.demo:
        notes.append("Demo data: the items are the package's invented demo items, not the study's "
                     "datasets; the numbers show the pipeline at work, not the paper's findings.")
    for text in notes:
        note(text)
    heading("Runs that produced them (store manifests)")
    table(runs_table(study), empty="the store records no run manifest")
    heading("Software of this report")
    table(environment_table())
    heading("Deviations from the original analysis (METHODS 7)")
    table(deviations_table(study.parsing), empty="none")


def overview_table(study: Study) -> pd.DataFrame:
    """Per model: personas, datasets and generations analysed."""
    rows = []
    for model in study.models_present:
        own = {d: a for (m, d), (a, _) in study.sources.items() if m == model and a.rows}
        names = {(s, n) for a in own.values() for s, c in a.counts["persona_sets"].items() for n in c["names"]}
        rows.append({"model": model, "personas": len({n for _, n in names}),
                     "datasets": ", ".join(d for d in study.datasets if d in own),
                     "generations": sum(a.rows for a in own.values())})
    return pd.DataFrame(rows, columns=["model", "personas", "datasets", "generations"])


def show_overview(study: Study) -> None:
    """What this report analyses (models, personas, datasets), the demo label and missing data."""
    if study.demo:
        note("**Demo data.** These generations answer the package's invented demo items, not the "
             "study's datasets: the numbers show the pipeline at work, not the paper's findings.")
    table(overview_table(study), caption=f"Profile {study.profile.name}, parsing {study.parsing}",
          empty="the store holds no generations for these models and persona sets")
    for text in study.notes:
        note(text)
