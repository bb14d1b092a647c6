"""Params schema: the shipped model and profile files, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from personalib.backends.base import Decoding
from personalib.errors import ConfigError
from personalib.params import (
    effective_decoding,
    list_models,
    list_profiles,
    load_model,
    load_profile,
)

STUDY = {
    # name: (model_id, backend, placement, release_folder)
    "gpt-4": ("gpt-4-0125-preview", "openai", "system", "gpt-4-0125-preview"),
    "gpt-3.5": ("gpt-3.5-turbo-0125", "openai", "system", "gpt-3.5-turbo-0125"),
    "mixtral": ("mistralai/Mixtral-8x7B-Instruct-v0.1", "hf", "user", "Mixtral-8x7B-Instruct-v0.1"),
    "mistral": ("mistralai/Mistral-7B-Instruct-v0.2", "hf", "user", "Mistral-7B-Instruct-v0.2"),
    "zephyr": ("HuggingFaceH4/zephyr-7b-beta", "hf", "system", "zephyr-7b-beta"),
    "gemma-7b": ("google/gemma-7b-it", "hf", "user", "gemma-7b-it"),
    "gemma-2b": ("google/gemma-2b-it", "hf", "user", "gemma-2b-it"),
}

GOOD_MODEL: dict[str, Any] = {
    "name": "m", "display_name": "M", "release_folder": None, "backend": "hf", "model_id": "org/m",
    "revision": "abc", "persona_placement": "auto", "prompt_format": "chat",
    "decoding": {"max_new_tokens": 100, "temperature": 0.0, "top_p": 1.0, "seed": 42},
    "batch_size": 8, "dtype": "auto", "source": "hub", "tokenizer": None,
}

GOOD_PROFILE: dict[str, Any] = {
    "name": "p", "models": ["gemma3-270m-demo", "gpt-4"],
    "datasets": {"truthfulqa": {"demo": True}, "mmlu": {"demo": True}},
    "persona_sets": ["regular", "empty"], "store": "store/p", "reports": "reports/p",
}


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _model(tmp_path: Path, **changes: Any) -> Path:
    return _write(tmp_path, "m", {**GOOD_MODEL, **changes})


def _profile(tmp_path: Path, **changes: Any) -> Path:
    return _write(tmp_path, "p", {**GOOD_PROFILE, **changes})


def _error(loader, path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_shipped_models_follow_the_study():
    assert set(STUDY) | {"gemma3-270m-demo"} == set(list_models())
    for name, (model_id, backend, placement, folder) in STUDY.items():
        model = load_model(name)
        assert (model.model_id, model.backend, model.persona_placement, model.release_folder) == (
            model_id, backend, placement, folder)
        assert model.decoding.max_new_tokens == 100 and model.decoding.temperature == 0.0
        assert model.decoding.seed == 42 and model.decoding.top_p == 1.0
        if model.is_api:
            assert model.revision is None and model.api.usd_per_1m_input > 0
        else:
            assert len(model.revision) == 40 and model.api is None
    demo = load_model("gemma3-270m-demo")
    assert (demo.backend, demo.source, demo.prompt_format) == ("hf", "embedded", "completion")


def test_shipped_profiles_validate():
    assert {"demo", "paper", "released"} <= set(list_profiles())
    demo = load_profile("demo")
    assert demo.models == ["gemma3-270m-demo"]
    assert all(spec.demo for spec in demo.datasets.values()) and len(demo.datasets) == 5
    personas = demo.load_personas()
    assert set(personas) == {"regular", "empty", "control"}
    categories = {p.category for group in personas.values() for p in group}
    assert len(categories) == 14  # 12 regular categories + empty + control
    assert effective_decoding(load_model("gemma3-270m-demo"), demo).max_new_tokens == 8
    paper = load_profile("paper")
    assert len(paper.models) == 7 and paper.generations == "generate"
    assert paper.datasets_for("gpt-4")["mmlu"].subsample and paper.datasets_for("gpt-4")["bbq"].subsample
    assert not paper.datasets_for("mistral")["mmlu"].subsample
    assert sum(len(v) for v in paper.load_personas().values()) == 193
    assert load_profile("released").generations == "released"


def test_effective_decoding_without_override():
    assert effective_decoding(load_model("zephyr")) == Decoding(100, 0.0, 1.0, 42)


def test_model_datasets_override_is_field_wise(tmp_path: Path):
    path = _profile(
        tmp_path,
        datasets={"mmlu": {"files": {"data_files": "x.jsonl"}, "limit": 5}},
        model_datasets={"gpt-4": {"mmlu": {"subsample": True}}},
    )
    spec = load_profile(path).datasets_for("gpt-4")["mmlu"]
    assert spec.subsample and spec.limit == 5 and spec.files == {"data_files": "x.jsonl"}
    kwargs = spec.task_kwargs()
    assert kwargs["subsample"] is True and Path(kwargs["data_files"]).is_absolute()


def test_model_loaded_by_path(tmp_path: Path):
    model = load_model(_model(tmp_path))
    assert model.name == "m" and model.batch_size == 8


def test_api_backend_gets_default_api_block(tmp_path: Path):
    path = _model(tmp_path, backend="openai", revision=None)
    assert load_model(path).api.api_key_env == "OPENAI_API_KEY"


def test_local_server_needs_no_key_variable(tmp_path: Path):
    path = _model(tmp_path, backend="openai", revision=None,
                  api={"base_url": "http://127.0.0.1:8000/v1", "api_key_env": None})
    assert load_model(path).api.api_key_env is None


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"colour": "red"}, ["unknown key colour", "allowed here: name, display_name"]),
        ({"decoding": {"max_tokens": 5}}, ["unknown key decoding.max_tokens", "allowed here: max_new_tokens, temperature"]),
        ({"backend": "vllm"}, ["field backend = 'vllm'", "'hf', 'openai' or 'openai-batch'"]),
        ({"decoding": {"max_new_tokens": 0}}, ["field decoding.max_new_tokens = 0", "greater than or equal to 1"]),
        ({"decoding": {"top_p": 1.5}}, ["field decoding.top_p = 1.5"]),
        ({"batch_size": "many"}, ["field batch_size = 'many'"]),
        ({"persona_placement": "both"}, ["field persona_placement = 'both'", "'auto', 'system' or 'user'"]),
        ({"dtype": "int8"}, ["field dtype = 'int8'"]),
        ({"model_id": None}, ["field model_id = None"]),
        ({"name": "other"}, ["`name` = 'other' must equal the file stem 'm'"]),
        ({"api": {"concurrency": 2}}, ["api: settings are only for the openai and openai-batch backends"]),
        ({"generation": {"mode": "turbo"}}, ["field generation.mode = 'turbo'", "'padded', 'static' or 'continuous'"]),
        ({"generation": {"compile": "yes"}}, ["field generation.compile = 'yes'"]),
        ({"generation": {"mode": "padded", "compile": True}}, ["compile: true needs mode static or continuous"]),
        ({"generation": {"batch": 4}}, ["unknown key generation.batch", "allowed here: mode, compile"]),
        ({"backend": "openai", "generation": {"mode": "static"}}, ["generation: settings are for the hf backend"]),
        ({"prompt_format": "completion", "persona_placement": "system"}, ["needs a chat template"]),
        ({"backend": "openai", "prompt_format": "completion"}, ["takes chat messages only"]),
        ({"backend": "openai", "api": {"api_key_env": "sk-abc123"}}, ["field api.api_key_env = 'sk-abc123'", "never the key"]),
        ({"backend": "openai", "api": {"api_key_env": None}}, ["only for a local server given in base_url"]),
        ({"backend": "openai", "api": {"usd_per_1m_input": -1}}, ["field api.usd_per_1m_input = -1"]),
        ({"backend": "openai", "api": {"key": "x"}}, ["unknown key api.key", "allowed here: base_url, api_key_env"]),
    ],
)
def test_bad_model_files(tmp_path: Path, changes: dict[str, Any], needles: list[str]):
    message = _error(load_model, _model(tmp_path, **changes))
    for needle in needles:
        assert needle in message


def test_missing_required_model_field(tmp_path: Path):
    data = dict(GOOD_MODEL)
    del data["model_id"]
    message = _error(load_model, _write(tmp_path, "m", data))
    assert "field model_id: missing (required)" in message


def test_model_file_not_a_mapping(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("- a\n- b\n")
    assert "expected a mapping of fields, got list" in _error(load_model, path)
    path.write_text("name: [\n")
    assert "cannot be read as YAML" in _error(load_model, path)


def test_unknown_model_and_profile_names():
    with pytest.raises(ConfigError, match=r"unknown model 'gpt-5'.*gemma-2b, gemma-7b"):
        load_model("gpt-5")
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'.*demo"):
        load_profile("nope")
    with pytest.raises(ConfigError, match=r"model file /no/such\.yaml not found"):
        load_model("/no/such.yaml")


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"models": ["gemma3-270m-demo", "gpt-5"]}, ["field `models` entry 'gpt-5'", "unknown model 'gpt-5'"]),
        ({"models": []}, ["field models = []", "at least 1 item"]),
        ({"models": ["gpt-4", "gpt-4"]}, ["models: listed twice: gpt-4"]),
        ({"datasets": {"mmlu2": {}}}, ["field datasets.mmlu2", "'truthfulqa', 'mmlu', 'bbq', 'attitudes' or 'toxicity'"]),
        ({"datasets": {"mmlu": {"demo": True, "files": {"data_files": "x"}}}}, ["remove `files` or set demo: false"]),
        ({"datasets": {"mmlu": {"sample": True}}}, ["unknown key datasets.mmlu.sample", "allowed here: demo, subsample, files, allow_partial, limit"]),
        ({"datasets": {"truthfulqa": {"subsample": True}}}, ["datasets.truthfulqa.subsample", "mmlu and bbq only"]),
        ({"datasets": {"mmlu": {"limit": 0}}}, ["field datasets.mmlu.limit = 0"]),
        ({"persona_sets": ["regular", "nobody"]}, ["field `persona_sets` entry 'nobody'", "unknown persona set", "nobody"]),
        ({"personas": ["a_man", "empty", "a_martian"]}, ["`personas` lists stems found in no persona set", "a_martian"]),
        ({"personas": ["a_man"]}, ["persona set 'empty' keeps no persona"]),
        ({"model_datasets": {"zephyr": {"mmlu": {"subsample": True}}}}, ["model_datasets.zephyr: not one of the profile's models"]),
        ({"model_datasets": {"gpt-4": {"bbq": {"subsample": True}}}}, ["model_datasets.gpt-4.bbq: dataset not in the profile's datasets"]),
        ({"model_datasets": {"gpt-4": {"truthfulqa": {"subsample": True}}}}, ["model_datasets.gpt-4.truthfulqa.subsample"]),
        ({"model_datasets": {"gpt-4": {"mmlu": {"sub": True}}}}, ["unknown key model_datasets.gpt-4.mmlu.sub", "allowed here: demo"]),
        ({"decoding": {"top_k": 5}}, ["unknown key decoding.top_k", "allowed here: max_new_tokens"]),
        ({"decoding": {"max_new_tokens": -3}}, ["field decoding.max_new_tokens = -3"]),
        ({"parsing": "lenient"}, ["field parsing = 'lenient'", "'faithful' or 'strict'"]),
        ({"generations": "downloaded"}, ["field generations = 'downloaded'", "'generate' or 'released'"]),
        ({"store": ""}, ["field store = ''"]),
        ({"name": "q"}, ["`name` = 'q' must equal the file stem 'p'"]),
        ({"extra": 1}, ["unknown key extra"]),
    ],
)
def test_bad_profiles(tmp_path: Path, changes: dict[str, Any], needles: list[str]):
    message = _error(load_profile, _profile(tmp_path, **changes))
    for needle in needles:
        assert needle in message


def test_profile_with_user_persona_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    (tmp_path / "params").symlink_to(Path(__file__).resolve().parents[1] / "params")
    (tmp_path / "mine.yaml").write_text("name: mine\npersonas:\n  - {text: a farmer, category: job}\n")
    profile = load_profile(_profile(tmp_path, persona_sets=["mine.yaml", "empty"]))
    assert {k: [p.stem for p in v] for k, v in profile.load_personas().items()} == {
        "mine": ["a_farmer"], "empty": ["empty"]}
    assert profile.store_path() == tmp_path / "store" / "p"
