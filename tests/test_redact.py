"""The one secret rule: names that hold a secret, secret environment values, masking."""

from __future__ import annotations

import pytest

from personalib import redact


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "HF_TOKEN", "MY_SECRET", "DB_PASSWORD", "api_key", "token",
                                  "openai_api_key", "MY_SERVICE_KEY", "GITHUB_ACCESS_TOKEN", "credentials"])
def test_secret_names(name: str) -> None:
    assert redact.is_secret_name(name)


@pytest.mark.parametrize("name", ["api_key_env", "key", "HOME", "n_input_tokens", "max_tokens", "keyboard", "monkey"])
def test_names_that_are_not_secrets(name: str) -> None:
    assert not redact.is_secret_name(name)


def test_secret_values_keep_long_values_of_secret_names_only() -> None:
    env = {"OPENAI_API_KEY": "sk-0123456789", "SHORT_KEY": "abc", "HOME": "/root/not-a-secret-at-all"}
    assert redact.secret_values(env) == {"OPENAI_API_KEY": "sk-0123456789"}


def test_mask_replaces_every_occurrence_and_skips_tiny_values() -> None:
    assert redact.mask("a sk-xyz b sk-xyz", ["sk-xyz"]) == "a *** b ***"
    assert redact.mask("a b c", ["b", ""]) == "a b c"
