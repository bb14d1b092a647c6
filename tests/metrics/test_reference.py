"""The metrics on the real released generations in ../shared/reference (printed with -s)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personalib.metrics import attitude_scores, refusal_rates, score, toxicity_scores, truthfulqa_accuracy
from personalib.parsing import extract_rating
from tests.metrics.helpers import truthfulqa_reference_items

pytestmark = pytest.mark.reference
MODELS = {"gpt-4-0125-preview": "gpt-4", "gpt-3.5-turbo-0125": "gpt-3.5"}


def _texts(path) -> list[str]:
    return [entry[0]["generated_text"] for entry in json.loads(path.read_text())]


def _release_generations(results, dataset: str) -> pd.DataFrame:
    """Generations table from the release layout, with the DESIGN item_id mapping of each dataset."""
    rows = []
    for path in sorted(results.rglob(f"*/{dataset}/*.json")):
        control = "control" in path.relative_to(results).parts
        stem = path.stem
        persona_set = "control" if control else ("empty" if stem == "empty" else "regular")
        model = MODELS[path.parent.parent.name]
        texts = _texts(path)
        if dataset == "attitudes":
            ids = [f"{s}/0" for s in range(len(texts))]
            extra = _texts(path.parent.parent / "attitudes_extra" / path.name)
            ids += [f"{i // 30}/{i % 30 + 1}" for i in range(len(extra))]
            texts = texts + extra
        elif dataset == "toxicity":
            half = len(texts) // 2
            ids = [f"off/{i}" if i < half else f"rac/{i - half}" for i in range(len(texts))]
        else:
            ids = [str(i) for i in range(len(texts))]
        rows += [{"model": model, "persona_set": persona_set, "persona": stem, "dataset": dataset,
                  "item_id": i, "text": t} for i, t in zip(ids, texts)]
    return pd.DataFrame(rows)


def _toxicity_items(n_tweets: int) -> pd.DataFrame:
    """Toxicity item metadata by position (the tweets themselves are not in the reference data)."""
    frame = pd.DataFrame({"dataset": "toxicity",
                          "item_id": [f"{m}/{t}" for m in ("off", "rac") for t in range(n_tweets)],
                          "prompt": "", "gold": None, "options": None,
                          "measure": [m for m in ("off", "rac") for _ in range(n_tweets)],
                          "tweet_index": [t for _ in range(2) for t in range(n_tweets)]})
    frame["n_options"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame


@pytest.fixture(scope="module")
def results(reference_dir):
    return reference_dir / "original-release" / "results"


@pytest.fixture(scope="module")
def attitude_items(reference_dir):
    from personalib.tasks import load_task

    data = reference_dir / "original-release" / "data"
    return load_task("attitudes", questions=data / "attitude_questions.json",
                     paraphrases=data / "att_augment.json").items()


def test_truthfulqa_on_released_generations(results, reference_dir, tmp_path) -> None:
    items = truthfulqa_reference_items(reference_dir, tmp_path)
    scored = score(_release_generations(results, "truthfulqa"), {"truthfulqa": items})
    acc = truthfulqa_accuracy(scored)
    strict = truthfulqa_accuracy(score(_release_generations(results, "truthfulqa"),
                                       {"truthfulqa": items}, mode="strict"))
    refusals = refusal_rates(scored)["truthfulqa"]
    print("\nTruthfulQA accuracy (faithful / strict), refusal rate")
    for key in acc.index:
        print(f"  {'/'.join(key)}: {acc[key]:.4f} / {strict[key]:.4f}, {refusals[key]:.4f}")
    assert len(acc) == 4 and acc.between(0, 1).all()
    gold = items.set_index("item_id")["gold"]
    for key, rows in scored.groupby(["model", "persona_set", "persona"]):
        by_hand = np.mean(rows["answer"].astype(str).to_numpy() == gold[rows["item_id"]].to_numpy())
        assert acc[key] == pytest.approx(by_hand)


def test_attitudes_on_released_generations(results, attitude_items) -> None:
    gens = _release_generations(results, "attitudes")
    assert gens.groupby("persona").size().eq(837).all()
    scored = score(gens, {"attitudes": attitude_items})
    table = attitude_scores(scored)
    rates = refusal_rates(scored)["attitudes"]
    print("\nGPT-4 attitude scores (faithful), refusal rate over the 837 prompts")
    print(table.round(3).assign(refusals=rates.round(3)).to_string())
    # independent computation from the files: scalar rule per text, reverse by the questionnaire
    data = json.loads((results.parent / "data" / "attitude_questions.json").read_text())
    for key, rows in gens.groupby(["model", "persona_set", "persona"]):
        ratings = dict(zip(rows["item_id"], (extract_rating(t) or 3 for t in rows["text"])))
        s = 0
        for dim in data:
            values = []
            for k in range(len(dim["statements"])):
                for v in range(31):
                    r = ratings[f"{s + k}/{v}"]
                    values.append(6 - r if k in dim["reverse"] else r)
            s += len(dim["statements"])
            assert table.loc[key, dim["attitude"]] == pytest.approx(np.mean(values)), (key, dim["attitude"])


def test_toxicity_on_released_generations(results) -> None:
    gens = _release_generations(results, "toxicity")
    scored = score(gens, {"toxicity": _toxicity_items(626)})
    table = toxicity_scores(scored)
    rates = refusal_rates(scored)[["offensiveness", "racism"]]
    print("\nGPT-4 toxicity means (no persona), refusal rates")
    print(pd.concat([table, rates], axis=1).round(4).to_string())
    texts = gens["text"].tolist()
    assert table.iloc[0]["off"] == pytest.approx(np.mean([extract_rating(t) or 3 for t in texts[:626]]))
    assert table.iloc[0]["rac"] == pytest.approx(np.mean([extract_rating(t) or 3 for t in texts[626:]]))
