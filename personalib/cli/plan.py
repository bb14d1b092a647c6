"""`python -m personalib plan --profile PROFILE`: what a run of the profile would send, without
sending or downloading anything.

    python -m personalib plan --profile paper                 # 193 personas x 75,440 prompts per open model
    python -m personalib plan --profile paper --models gpt-4  # one model, with its API cost estimate
    python -m personalib plan --profile paper --fetch         # download the data to count input tokens
    python -m personalib plan --profile demo --tokens --json  # token estimates for every model, as JSON

Per model, dataset and persona set: items, prompts (personas x items) and, for API models (all
models with --tokens), input/output token estimates and cost. The printout names the token method
(the model's own tokenizer when it is on this machine, tiktoken when cached, else 4 characters per
token; see personalib.tokens).
"""

from __future__ import annotations

import argparse
import json
import sys

from personalib.dryrun import bytes_per_generation, human_size
from personalib.params import load_profile
from personalib.plan import build_plan
from personalib.plan_table import ModelTotals, PlanTable, plan_table
from personalib.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("--profile", default="demo", help="profile name (params/profiles/<name>.yaml) or YAML path (default: demo)")
    parser.add_argument("--models", nargs="+", help="some of the profile's models (space or comma separated)")
    parser.add_argument("--tokens", action="store_true", help="estimate tokens for local models too (API models always)")
    parser.add_argument("--fetch", action="store_true", help="allow downloading the data sources needed to count input tokens")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args: argparse.Namespace) -> int:
    """Build the plan and print it as text or JSON."""
    profile = load_profile(args.profile)
    models = [m for chunk in args.models or [] for m in chunk.split(",") if m]
    plan = build_plan(profile, models=models or None, offline=None if args.fetch else True)
    table = plan_table(plan, tokens=args.tokens)
    if args.json:
        json.dump(table.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_plan(table))
    return 0


def format_plan(table: PlanTable) -> str:
    """The plan as a readable report: one table per model, then the totals and notes."""
    profile = table.plan.profile
    persona_sets = {name: len(members) for name, members in table.plan.persona_sets.items()}
    sets = " + ".join(f"{name} {n}" for name, n in persona_sets.items())
    n_personas = sum(persona_sets.values())
    lines = [
        f"Plan for profile {profile.name!r}: {profile.description}".rstrip(": "),
        f"Persona sets: {sets} = {n_personas} personas"
        + ("" if profile.personas is None else " (the profile's `personas` subset)"),
        "",
    ]
    for name, totals in table.models.items():
        lines += _model_block(table, name, totals)
    total = sum(m.prompts for m in table.models.values())
    lines.append(f"All models: {total:,} generations" + (f" ({_millions(total)})" if total >= 1e5 else ""))
    per_row, source = bytes_per_generation(Store(profile.store_path()))
    lines.append(f"Disk for all of them in the store: about {human_size(total * per_row)} "
                 f"({per_row:,.0f} bytes per generation, {source}; `generate --dry-run` gives what is still missing)")
    costs = [m.usd for m in table.models.values() if m.model.params.is_api]
    if costs and None not in costs:
        lines.append(f"API cost estimate, all models: ${sum(costs):,.2f}")
    for note in table.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _model_block(table: PlanTable, name: str, mp: ModelTotals) -> list[str]:
    model = mp.model.params
    rows = table.rows[table.rows["model"] == name]
    sets = list(table.plan.persona_sets)
    where = f"{model.backend}, {model.model_id}"
    placement = f"; placement {mp.placement}" if mp.placement else ""
    lines = [f"{name} ({model.display_name}; {where}{placement}; max_new_tokens {mp.max_new_tokens})"]
    head = f"  {'dataset':<11}{'items':>8}  " + "".join(f"{s[:10]:>11}" for s in sets) + f"{'prompts':>13}"
    tokens = mp.token_method is not None
    if tokens:
        head += f"{'input tok':>15}{'output tok<=':>15}"
    lines += [head + "  items from", "  " + "-" * (len(head) - 2 + 12)]
    for dataset, group in rows.groupby("dataset", sort=False):
        by_set = dict(zip(group["persona_set"], group["prompts"]))
        line = f"  {dataset:<11}{int(group['items'].iloc[0]):>8,}  " + "".join(f"{by_set.get(s, 0):>11,}" for s in sets)
        line += f"{int(group['prompts'].sum()):>13,}"
        if tokens:
            line += f"{_count(group['input_tokens']):>15}{_count(group['output_tokens']):>15}"
        lines.append(line + f"  {group['items_from'].iloc[0]}")
    per_set = rows.groupby("persona_set", sort=False)["prompts"].sum()
    line = f"  {'total':<11}{mp.items:>8,}  " + "".join(f"{int(per_set.get(s, 0)):>11,}" for s in sets)
    line += f"{mp.prompts:>13,}"
    if tokens:
        line += f"{_count([mp.input_tokens]):>15}{_count([mp.output_tokens]):>15}"
    lines.append(line)
    lines.append(f"  = {mp.personas} personas x {mp.items:,} prompts = {_millions(mp.prompts)} generations")
    if tokens:
        lines.append(f"  tokens: {mp.token_method}; output = max_new_tokens per prompt (upper bound)")
    if model.is_api:
        if mp.usd is not None:
            lines.append(f"  cost estimate: ${mp.usd:,.2f} (output at most ${mp.usd_output:,.2f}), "
                         f"at ${model.api.usd_per_1m_input}/${model.api.usd_per_1m_output} per 1M input/output tokens")
        elif mp.usd_output is not None:
            lines.append(f"  cost estimate: output at most ${mp.usd_output:,.2f}; input not counted (see notes)")
        else:
            lines.append("  cost estimate: no prices in the model's params (api.usd_per_1m_*)")
    lines.append("")
    return lines


def _count(values) -> str:
    values = list(values)
    if any(v is None or v != v for v in values):  # None or NaN: not counted
        return "-"
    return f"{int(round(sum(values))):,}"


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"
