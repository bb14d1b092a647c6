"""The plan (personalib.plan, personalib.plan_table, `python -m personalib plan`): counts, tokens,
cost, JSON, offline reading; the plan's estimate is the dry run's."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
import yaml

from personalib.cli import plan as plan_cli
from personalib.errors import ConfigError
from personalib.params import load_model, load_profile
from personalib.personas import all_personas
from personalib.plan import build_plan
from personalib.plan_table import ROW_COLUMNS, PlanTable, plan_table
from personalib.prompts import build_messages
from personalib.sources import OFFLINE_ENV
from personalib.tasks import load_task, registry
from personalib.tokens import CHARS_PER_TOKEN, OPENAI_TOKENS_PER_MESSAGE, OPENAI_TOKENS_PER_REPLY

def _table(profile, *, models=None, tokens: bool = False) -> PlanTable:
    """The `plan` command's table of an offline plan (what the command shows without --fetch)."""
    return plan_table(build_plan(profile, models=models, offline=True), tokens=tokens)


STUDY_ITEMS = {"truthfulqa": 817, "mmlu": 14_042, "bbq": 58_492, "attitudes": 837, "toxicity": 1_252}


@pytest.fixture()
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data source in the cache, and the offline switch unset (the plan reads offline by itself)."""
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    return tmp_path / "cache"


def test_paper_counts_per_open_model(empty_cache: Path):
    plan = _table(load_profile("paper"))
    assert sum(STUDY_ITEMS.values()) == 75_440
    for name in ("mixtral", "zephyr", "mistral", "gemma-7b", "gemma-2b", "gpt-3.5"):
        mp = plan.models[name]
        assert (mp.personas, mp.items, mp.prompts) == (193, 75_440, 14_559_920)
        rows = plan.rows[plan.rows["model"] == name]
        assert dict(zip(rows["dataset"], rows["items"])) == STUDY_ITEMS
        assert rows.groupby("persona_set")["personas"].first().to_dict() == {"regular": 162, "empty": 1, "control": 30}
    gpt4 = plan.rows[(plan.rows["model"] == "gpt-4") & (plan.rows["persona_set"] == "regular")]
    items = dict(zip(gpt4["dataset"], gpt4["items"]))
    assert items["mmlu"] == registry.spec("mmlu").subsample.prompts == 10_219
    assert items["bbq"] == registry.spec("bbq").subsample.prompts == 5_788
    assert items["truthfulqa"] == 817
    assert OFFLINE_ENV not in os.environ  # the environment is left alone
    assert not empty_cache.exists() or not any(empty_cache.rglob("*.parquet"))  # nothing downloaded


def test_paper_api_estimates_without_data(empty_cache: Path):
    plan = _table(load_profile("paper"), models=["gpt-4", "mistral"])
    gpt4, mistral = plan.models["gpt-4"], plan.models["mistral"]
    assert gpt4.token_method == "estimate: 4 characters per token" and gpt4.placement == "system"
    assert gpt4.output_tokens == gpt4.prompts * 100
    assert gpt4.usd_output == pytest.approx(gpt4.prompts * 100 / 1e6 * 30.0)
    assert gpt4.input_tokens is None and gpt4.usd is None
    assert mistral.token_method is None and mistral.output_tokens is None
    assert any("input tokens not counted for truthfulqa" in note for note in plan.notes)
    assert list(plan.rows.columns) == list(ROW_COLUMNS)


def test_demo_counts_come_from_the_demo_items():
    profile = load_profile("demo")
    plan = _table(profile, tokens=True)
    mp = plan.models["gemma3-270m-demo"]
    n_items = {d: len(load_task(d, demo=True).items()) for d in STUDY_ITEMS}
    assert mp.personas == len(profile.personas) == 17
    assert mp.items == sum(n_items.values()) and mp.prompts == 17 * mp.items
    assert mp.output_tokens == mp.prompts * 8  # the profile's max_new_tokens override
    assert mp.placement == "completion" and mp.input_tokens > 0
    assert set(plan.rows["items_from"]) == {"demo items"}


def _truthfulqa_hf_file(reference_dir: Path, out: Path) -> Path:
    """The study's TruthfulQA file (v0 order) in the Hugging Face schema."""
    records = json.loads((reference_dir / "truthfulqa" / "v0" / "mc_task.json").read_text())
    with open(out, "w", encoding="utf-8") as fh:
        for rec in records:
            mc1 = {"choices": list(rec["mc1_targets"]), "labels": list(rec["mc1_targets"].values())}
            mc2 = {"choices": list(rec["mc2_targets"]), "labels": list(rec["mc2_targets"].values())}
            fh.write(json.dumps({"question": rec["question"], "mc1_targets": mc1, "mc2_targets": mc2}) + "\n")
    return out


@pytest.mark.reference
def test_api_input_tokens_and_cost_from_local_files(reference_dir: Path, tmp_path: Path, monkeypatch):
    """GPT-4 on the real 817 TruthfulQA prompts: the plan's estimate equals brute force."""
    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    (tmp_path / "params").symlink_to(Path(__file__).resolve().parents[1] / "params")
    data = _truthfulqa_hf_file(reference_dir, tmp_path / "validation.jsonl")
    profile_path = tmp_path / "tq.yaml"
    profile_path.write_text(yaml.safe_dump({
        "name": "tq", "models": ["gpt-4"], "datasets": {"truthfulqa": {"files": {"data_files": str(data)}}},
        "persona_sets": ["regular", "empty", "control"], "store": "s", "reports": "r",
    }))
    monkeypatch.setitem(__import__("sys").modules, "tiktoken", None)
    plan = _table(load_profile(profile_path))
    mp = plan.models["gpt-4"]
    prompts = list(load_task("truthfulqa", data_files=data).items()["prompt"])
    assert len(prompts) == 817 and mp.prompts == 193 * 817
    overhead = 2 * OPENAI_TOKENS_PER_MESSAGE + OPENAI_TOKENS_PER_REPLY
    chars = sum(len(m["content"]) for p in all_personas() for q in prompts for m in build_messages(p, q, "system"))
    expected = chars / CHARS_PER_TOKEN + 193 * 817 * overhead
    assert mp.input_tokens == pytest.approx(expected, abs=3)
    api = load_model("gpt-4").api
    assert mp.usd == pytest.approx(expected / 1e6 * api.usd_per_1m_input + 193 * 817 * 100 / 1e6 * api.usd_per_1m_output, abs=0.01)
    assert set(plan.rows["items_from"]) == {"local files"}


def test_limit_and_unknown_model(tmp_path: Path):
    path = tmp_path / "lim.yaml"
    path.write_text(yaml.safe_dump({
        "name": "lim", "models": ["zephyr"], "datasets": {"mmlu": {"limit": 100}, "truthfulqa": {}},
        "persona_sets": ["empty", "control"], "store": "s", "reports": "r",
    }))
    plan = _table(load_profile(path))
    rows = plan.rows.set_index(["dataset", "persona_set"])
    assert rows.loc[("mmlu", "control"), "prompts"] == 30 * 100
    assert rows.loc[("truthfulqa", "empty"), "prompts"] == 817
    assert plan.models["zephyr"].prompts == 31 * 917
    with pytest.raises(ConfigError, match="--models: gpt-4 not in profile 'lim'"):
        build_plan(load_profile(path), models=["gpt-4"], offline=True)


def _run(capsys, *argv: str) -> str:
    parser = argparse.ArgumentParser()
    plan_cli.add_arguments(parser)
    assert plan_cli.run(parser.parse_args(list(argv))) == 0
    return capsys.readouterr().out


def test_cli_entry_point_exit_codes(capsys, empty_cache: Path):
    from personalib.__main__ import main

    assert main(["plan", "--profile", "demo"]) == 0
    assert "17 personas x" in capsys.readouterr().out
    assert main(["plan", "--profile", "nope"]) == 2
    assert "error: unknown profile 'nope'" in capsys.readouterr().err
    assert main(["plan", "--profile", "paper", "--models", "gpt-5"]) == 2
    assert "--models: gpt-5 not in profile 'paper'" in capsys.readouterr().err


def test_cli_text_and_json(capsys, empty_cache: Path):
    text = _run(capsys, "--profile", "paper")
    assert "193 personas x 75,440 prompts = 14.56 M generations" in text
    assert "193 personas x 18,913 prompts" in text  # GPT-4 on the subsamples
    assert "tokens: estimate: 4 characters per token" in text
    assert "cost estimate: output at most $" in text
    data = json.loads(_run(capsys, "--profile", "paper", "--models", "zephyr,gpt-4", "--json"))
    assert list(data["models"]) == ["zephyr", "gpt-4"]
    assert data["models"]["zephyr"]["prompts"] == 14_559_920
    assert data["models"]["gpt-4"]["token_method"] == "estimate: 4 characters per token"
    assert data["total"]["prompts"] == 14_559_920 + data["models"]["gpt-4"]["prompts"]
    assert {r["dataset"] for r in data["rows"]} == set(STUDY_ITEMS) and len(data["rows"]) == 2 * 5 * 3


def test_offline_is_passed_down_and_the_plan_reads_nothing_until_asked(empty_cache: Path, monkeypatch):
    """`offline=` reaches the sources (no environment switch): an offline plan never tries a
    download, one that leaves it to the (online) environment tries only when items are needed;
    building a plan reads no items."""
    import personalib.sources as sources
    from personalib.errors import SourceMissingError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    tried: list[str] = []

    def no_network(url: str, dest: Path, **_: object) -> str:
        tried.append(url)
        raise SourceMissingError(f"no network in this test: {url}")

    monkeypatch.setattr(sources, "download", no_network)
    profile = load_profile("paper")
    offline = build_plan(profile, models=["gpt-4"], offline=True)
    online = build_plan(profile, models=["gpt-4"], offline=None)
    assert tried == []  # lazy: nothing read while building
    table = plan_table(offline)
    assert tried == [] and table.models["gpt-4"].input_tokens is None
    assert OFFLINE_ENV not in os.environ
    assert plan_table(online).models["gpt-4"].input_tokens is None
    assert any("nyu-mll/BBQ" in url for url in tried)  # an online plan tries the pinned source


def test_the_plan_estimate_is_the_dry_run_estimate(tmp_path: Path, monkeypatch):
    """`plan` and `generate --dry-run` give one estimate: on an empty store the dry run's tokens and
    requests per dataset are the plan table's."""
    import io

    from personalib.generate import GenerateOptions, generate
    from tests.test_generate import _write_profile

    monkeypatch.setenv("PERSONALIB_ECHO_KEY", "k")
    profile = load_profile(_write_profile(tmp_path))
    rows = plan_table(build_plan(profile, offline=True)).rows.groupby("dataset", sort=False)
    dry = generate(profile, GenerateOptions(dry_run=True, progress=False), out=io.StringIO())
    assert [(c["dataset"], c["requests"], c["input_tokens"], c["output_tokens"]) for c in dry["costs"]] == [
        (d, int(g["prompts"].sum()), round(g["input_tokens"].sum()), round(g["output_tokens"].sum())) for d, g in rows
    ]
