"""Persona prompts (METHODS 2): persona statement, placement, conversation and rendering.

Rules:

- Persona statement: `You are {persona}.`; the empty persona's statement is "".
- Placement `system`: [system: statement, user: prompt]. The empty persona keeps an EMPTY system
  message (faithful to the original).
- Placement `user`: one user message `statement + "\\n\\n" + prompt` (for the empty persona the
  content starts with "\\n\\n", faithful to the original).
- Placement `completion` (base models without a chat template, `prompt_format: completion`): the
  text of the `user` message followed by `COMPLETION_SUFFIX` ("\\nAnswer:"), after the BOS token::

      <bos>You are a farmer.\\n\\nQuestion: ...\\n\\nPlease provide only the letter that corresponds to your answer.\\nAnswer:

- `auto` (params `persona_placement`) probes the chat template: a conversation [system: probe
  text, user: probe text] is rendered with `apply_chat_template`; the template takes a system role
  when it renders without raising AND the system probe text appears in the output (a template that
  silently drops the system turn does not take it). Yes -> `system`, no -> `user`. API models
  (no local tokenizer) resolve `auto` to `system` on the OpenAI API itself (base_url null) and
  otherwise need an explicit setting.
- A placement is recorded and never silently changed: `system` on a template that rejects it is a
  ConfigError, not a fallback to `user`.
- Rendering applies the chat template ONCE (tokenize=False, add_generation_prompt=True). The
  original tokenised the already-templated string again, adding a second BOS; here the rendered
  text carries exactly one BOS and must be tokenised with `add_special_tokens=False`. When the
  template itself has no BOS but the tokenizer adds one by default (e.g. zephyr), it is prepended.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

from personalib.errors import ConfigError

if TYPE_CHECKING:  # annotations only: rendering needs no params/personas (GPU nodes, benchmarks)
    from personalib.params import ModelParams
    from personalib.personas import Persona

Placement = Literal["system", "user", "completion"]
PLACEMENTS: tuple[str, ...] = ("system", "user", "completion")
COMPLETION_SUFFIX = "\nAnswer:"
"""Appended to the user-message text in the completion format (base models, no chat template)."""

_PROBE_SYSTEM = "personalib-system-probe-7c1e"
_PROBE_USER = "personalib-user-probe-7c1e"


def persona_statement(persona: Persona | str) -> str:
    """`You are {persona}.`; "" for the empty persona (METHODS 2)."""
    text = persona if isinstance(persona, str) else persona.text
    return f"You are {text}." if text else ""


def build_messages(persona: Persona | str, prompt: str, placement: Placement) -> list[dict[str, str]]:
    """The conversation for one persona and prompt under `placement` (METHODS 2).

    `system` -> [system: statement, user: prompt] (empty system message for the empty persona);
    `user` and `completion` -> [user: statement + "\\n\\n" + prompt].
    """
    statement = persona_statement(persona)
    if placement == "system":
        return [{"role": "system", "content": statement}, {"role": "user", "content": prompt}]
    if placement in ("user", "completion"):
        return [{"role": "user", "content": f"{statement}\n\n{prompt}"}]
    raise ConfigError(f"unknown persona placement {placement!r}: use one of {', '.join(PLACEMENTS)}")


def has_chat_template(tokenizer: Any) -> bool:
    """True when the tokenizer carries a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def template_takes_system(tokenizer: Any) -> bool:
    """Probe (rule in the module doc): render [system, user]; True when it renders with the system text."""
    probe = [{"role": "system", "content": _PROBE_SYSTEM}, {"role": "user", "content": _PROBE_USER}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - templates reject a system role with raise_exception (any type)
        return False
    return isinstance(text, str) and _PROBE_SYSTEM in text and _PROBE_USER in text


def resolve_placement(model: ModelParams, tokenizer: Any | None) -> Placement:
    """The placement a run uses for `model` (METHODS 2), from params `persona_placement`.

    `completion` for `prompt_format: completion`; otherwise `system`/`user` as set, checked against
    the chat template when a tokenizer is given; `auto` probes the template. Raises ConfigError
    when the setting cannot hold (never falls back silently).
    """
    where = f"model {model.name!r} (params/models/{model.name}.yaml)"
    setting = model.persona_placement
    if model.prompt_format == "completion":
        if tokenizer is None:
            raise ConfigError(f"{where}: prompt_format completion needs the model's local tokenizer")
        return "completion"
    if tokenizer is None:
        if setting != "auto":
            return setting
        if model.is_api and model.api is not None and model.api.base_url is None:
            return "system"  # the OpenAI chat API takes a system role
        raise ConfigError(
            f"{where}: persona_placement auto needs the model's tokenizer to probe its chat "
            "template; set persona_placement: system or user"
        )
    if not has_chat_template(tokenizer):
        raise ConfigError(
            f"{where}: prompt_format chat, but the tokenizer of {model.model_id} has no chat "
            "template; set prompt_format: completion (base model) or use a chat model"
        )
    takes_system = template_takes_system(tokenizer)
    if setting == "auto":
        return "system" if takes_system else "user"
    if setting == "system" and not takes_system:
        raise ConfigError(
            f"{where}: persona_placement system, but the chat template of {model.model_id} rejects "
            "or drops a system message; set persona_placement: user (persona prepended to the "
            "user message, METHODS 2) or auto"
        )
    return setting


def render(messages: list[dict[str, str]], tokenizer: Any, placement: Placement) -> str:
    """The model input text: chat template applied once with the generation prompt, or the
    completion format; exactly one leading BOS when the tokenizer uses one (module doc).

    Tokenise the result with `add_special_tokens=False`.
    """
    if placement not in PLACEMENTS:
        raise ConfigError(f"unknown persona placement {placement!r}: use one of {', '.join(PLACEMENTS)}")
    roles = [m.get("role") for m in messages]
    expected = ["system", "user"] if placement == "system" else ["user"]
    if roles != expected:
        raise ConfigError(f"placement {placement!r} expects messages with roles {expected}, got {roles}")
    if placement == "completion":
        text = messages[0]["content"] + COMPLETION_SUFFIX
    else:
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # noqa: BLE001 - jinja raise_exception and friends
            raise ConfigError(
                f"the chat template rejected a {placement!r} conversation ({exc}); check "
                "persona_placement in the model's params"
            ) from exc
    return _with_single_bos(text, tokenizer)


def template_fingerprint(tokenizer: Any | None) -> str | None:
    """sha256 of the tokenizer's chat template (for run manifests); None without a template."""
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if not template:
        return None
    if not isinstance(template, str):
        template = repr(sorted(template.items())) if isinstance(template, dict) else repr(template)
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def _with_single_bos(text: str, tokenizer: Any) -> str:
    bos = getattr(tokenizer, "bos_token", None)
    if not bos:
        return text
    if not text.startswith(bos) and _adds_bos(tokenizer):
        text = bos + text
    return text


def _adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer puts BOS first by default (what the model was trained to see)."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id
