"""`RequestMaker.key`: the fast path gives exactly `personalib.store.request_key`."""

from __future__ import annotations

import pytest

from personalib.backends.base import Decoding
from personalib.params import load_model
from personalib.personas import Persona, load_persona_set
from personalib.runplan import RequestMaker
from personalib.store import request_key

TRICKY = [
    "plain", "", 'quotes " and \\ backslashes', "new\nline\ttab\r\x00\x1f\x7f", "Grüße, 東京, emoji 🙂",
    "</script>&<>", "\u2028\u2029",
]  # fmt: skip


@pytest.mark.parametrize("placement", ["system", "user"])
@pytest.mark.parametrize("revision", [None, "3bac358730f8806e5c3dc7c7e19eb36e045bf720"])
def test_key_equals_request_key_for_messages(placement: str, revision: str | None) -> None:
    model = load_model("gpt-4").model_copy(update={"revision": revision})
    maker = RequestMaker(model, Decoding(max_new_tokens=7, temperature=0, top_p=1, seed=None), placement)
    personas = [*load_persona_set("empty"), *load_persona_set("regular")[:3], Persona(text="ein Arzt \"Ü\"", category="x", stem="arzt", set_name="own")]
    for persona in personas:
        for prompt in TRICKY:
            payload = maker.payload(persona, prompt)
            assert maker.key(payload) == request_key(model.model_id, revision, payload, maker.decoding)


def test_key_equals_request_key_for_prompts_and_other_payloads() -> None:
    model = load_model("gemma3-270m-demo")
    maker = RequestMaker(model, Decoding(), "completion")
    others = [
        *({"prompt": text} for text in TRICKY),
        {"messages": [{"role": "user", "content": "hi", "name": "x"}]},  # a third key
        {"messages": [{"role": "user", "content": None}]},
        {"messages": ({"role": "user", "content": "tuple"},)},
        {"messages": [], "extra": 1},
        {"prompt": 3},
    ]
    for payload in others:
        assert maker.key(payload) == request_key(model.model_id, model.revision, payload, maker.decoding)
