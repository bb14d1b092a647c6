"""`personalib.backends.create`: the factory by params `backend`, overrides and their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from personalib.backends import create, load_tokenizer
from personalib.backends.base import Decoding, Request
from personalib.backends.openai import OpenAIBackend
from personalib.backends.openai_batch import OpenAIBatchBackend
from personalib.errors import PersonalibError
from personalib.params import ModelParams
from tests.fake_openai_server import fake_answer


def _params(backend: str, **api: Any) -> ModelParams:
    return ModelParams.model_validate({
        "name": "test-model", "display_name": "test", "backend": backend, "model_id": "fake-gpt",
        "persona_placement": "system", "api": {"api_key_env": "PERSONALIB_TEST_API_KEY", **api},
    })  # fmt: skip


def test_openai_from_params_uses_the_key_variable(fake_openai, monkeypatch) -> None:
    server = fake_openai(api_key="sk-from-env-42")
    monkeypatch.setenv("PERSONALIB_TEST_API_KEY", "sk-from-env-42")
    backend = create(_params("openai", base_url=server.base_url, concurrency=3, max_retries=2, timeout_s=5))
    assert isinstance(backend, OpenAIBackend)
    assert (backend.concurrency, backend.policy.max_retries, backend.timeout_s) == (3, 2, 5)
    messages = ({"role": "user", "content": "hi"},)
    (result,) = backend.generate([Request("k", messages, None)], Decoding())
    assert result.text == fake_answer("fake-gpt", [dict(m) for m in messages])
    assert "sk-from-env-42" not in repr(backend.describe())
    backend.close()


def test_missing_key_names_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("PERSONALIB_TEST_API_KEY", raising=False)
    for kind in ("openai", "openai-batch"):
        with pytest.raises(PersonalibError, match="PERSONALIB_TEST_API_KEY"):
            create(_params(kind))


def test_batch_backend_state_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERSONALIB_TEST_API_KEY", "sk-x")
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "cache"))
    default = create(_params("openai-batch"))
    assert isinstance(default, OpenAIBatchBackend)
    assert default.state_dir == tmp_path / "cache" / "openai-batch" / "test-model"
    chosen = create(_params("openai-batch"), state_dir=tmp_path / "state", poll_interval_s=1.5)
    assert (chosen.state_dir, chosen.poll_interval_s) == (tmp_path / "state", 1.5)


def test_unknown_override_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("PERSONALIB_TEST_API_KEY", "sk-x")
    with pytest.raises(PersonalibError, match="unknown option.*batch_size"):
        create(_params("openai"), batch_size=4)
    with pytest.raises(PersonalibError, match="unknown option.*state_dir"):
        create(_params("openai"), state_dir="x")


def test_api_models_have_no_local_tokenizer() -> None:
    assert load_tokenizer(_params("openai")) is None


def test_missing_local_weights_folder_is_named(tmp_path: Path) -> None:
    params = ModelParams.model_validate({
        "name": "local", "display_name": "local", "backend": "hf", "model_id": "x/y", "source": str(tmp_path / "nowhere"),
    })  # fmt: skip
    with pytest.raises(PersonalibError, match="nowhere"):
        create(params)
