"""The study's auxiliary paraphrases, regenerated (personalib.paraphrase; METHODS 3b)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personalib.__main__ import main
from personalib.errors import PersonalibError
from personalib.paraphrase import (
    CONTROL_PROMPT, INSTRUCTION_PROMPT, control_personas, instructions_by_type, numbered_lines,
    regenerate_control_personas, regenerate_instruction_paraphrases, with_article,
)
from personalib.personas import load_persona_set
from personalib.tasks import load_task
from tests.fake_openai_server import CHAT_PATH, FakeOpenAIServer

KEY = "sk-test-paraphrase-0123456789"
# An invented answer in the shape GPT-4 gives: a preamble, a blank line, 29 numbered lines.
CONTROL_WORDS = [
    "Supportive Aide", "Handy Helper", "Obliging Supporter", "Resourceful Associate", "Able Assistant",
    "Effective Helper", "Useful Collaborator", "Dependable Sidekick", "Capable Aide-de-camp",
    "Eager Assistant", "Kind Partner", "Reliable Right-Hand", "Industrious Adjunct", "Ready Ally",
    "Competent Second-in-Command", "Practical Executive Assistant", "Valuable Go-To Person",
    "Beneficial Backer", "Proactive Coadjutor", "Friendly Facilitator", "Positive Personal Aide",
    "Unfailing Underling", "Cooperative Colleague", "Serviceable Secretary", "Productive Partner",
    "Accommodating Attendant", "Opportune Helper", "Empowering Enabler", "Thoughtful Teammate",
]
CONTROL_ANSWER = "Here are 29 paraphrases:\n\n" + "\n".join(f"{i}. {w}" for i, w in enumerate(CONTROL_WORDS, 1))
QUESTIONS = [
    {"attitude": "a", "instruction": "Read this and rate your agreement.", "statements": ["S1", "S2"],
     "scale": "(1) No\n(2) Yes", "reverse": [1], "instruction_type": 0},
    {"attitude": "b", "instruction": "Read this and rate your values.", "statements": ["S3"],
     "scale": "(1) Low\n(2) High", "reverse": [], "instruction_type": 1},
    {"attitude": "c", "instruction": "Read this and rate your agreement.", "statements": ["S4"],
     "scale": "(1) No\n(2) Yes", "reverse": [], "instruction_type": 0},
]


def instruction_answer(instruction: str) -> str:
    return "\n".join(f"{k}. Variant {k} of: {instruction}" for k in range(1, 31))


class ScriptedServer(FakeOpenAIServer):
    """The project's fake OpenAI server answering with scripted paraphrase lists."""

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = super().chat_completion(body)
        prompt = body["messages"][-1]["content"]
        if prompt == CONTROL_PROMPT:
            content = CONTROL_ANSWER
        else:
            content = instruction_answer(prompt.split("\n\n", 1)[1])
        reply["choices"][0]["message"]["content"] = content
        return reply


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ScriptedServer(api_key=KEY) as running:
        yield running


def _study_settings(body: dict[str, Any]) -> None:
    assert body["model"] == "gpt-4-1106-preview"
    assert (body["temperature"], body["top_p"], body["seed"], body["max_tokens"]) == (1.0, 0.95, 42, 1000)
    assert len(body["messages"]) == 1 and body["messages"][0]["role"] == "user"


def test_post_processing_rules() -> None:
    assert with_article("eager aide") == "an eager aide" and with_article("useful aide") == "an useful aide"
    assert with_article("helpful assistant") == "a helpful assistant"
    personas, notes = control_personas(CONTROL_ANSWER, faithful=False)
    assert len(personas) == 30 and personas[0] == "a helpful assistant"
    assert personas[1:4] == ["a supportive aide", "a handy helper", "an obliging supporter"]
    assert personas[5] == "an able assistant" and personas[15] == "a competent second-in-command"
    assert any("dropped 1 unnumbered line" in n for n in notes)
    faithful, notes = control_personas(CONTROL_ANSWER)
    assert faithful[2] == "a useful helper" and faithful[:2] + faithful[3:] == personas[:2] + personas[3:]
    assert any("'a handy helper' replaced by 'a useful helper'" in n for n in notes)


def test_numbered_lines_counts_and_errors() -> None:
    lines, dropped = numbered_lines("Sure!\n1. a\n2) b\n\n3 c", 3, "x")
    assert lines == ["1. a", "2) b", "3 c"] and dropped == ["Sure!"]
    with pytest.raises(PersonalibError, match="holds 2 numbered lines, expected 3"):
        numbered_lines("1. a\n2. b\n3.", 3, "x")
    with pytest.raises(PersonalibError, match="repeated persona"):
        control_personas("\n".join(f"{i}. Aide" for i in range(1, 30)))


def test_instructions_by_type(tmp_path: Path) -> None:
    assert instructions_by_type(QUESTIONS, "q.json") == [QUESTIONS[0]["instruction"], QUESTIONS[1]["instruction"]]
    clash = [*QUESTIONS, {**QUESTIONS[0], "instruction": "Other."}]
    with pytest.raises(PersonalibError, match="instruction_type 0 has two instructions"):
        instructions_by_type(clash, "q.json")
    with pytest.raises(PersonalibError, match=r"instruction types \[0, 2\] are not 0..1"):
        instructions_by_type([QUESTIONS[0], {**QUESTIONS[1], "instruction_type": 2}], "q.json")


def test_control_personas_against_server(server: ScriptedServer, tmp_path: Path) -> None:
    out = tmp_path / "control.yaml"
    result = regenerate_control_personas(out, base_url=server.base_url, name="my-control")
    (entry,) = server.requests(CHAT_PATH)
    _study_settings(entry.body)
    assert entry.body["messages"][0]["content"] == 'Create 29 paraphrases of "helpful assistant"'
    assert entry.authorization
    personas = load_persona_set(out)
    assert [p.text for p in personas] == result["personas"] and len(personas) == 30
    assert {p.category for p in personas} == {"control"} and {p.set_name for p in personas} == {"my-control"}
    assert personas[2].text == "a useful helper" and personas[2].stem == "a_useful_helper"
    record = json.loads(result["response"].read_text())
    assert record["answers"][0]["text"] == CONTROL_ANSWER and record["faithful"] is True
    assert record["answers"][0]["system_fingerprint"] == server.system_fingerprint
    assert (record["model"], record["temperature"], record["top_p"], record["seed"]) == ("gpt-4-1106-preview", 1.0, 0.95, 42)
    for path in (out, result["response"]):
        assert KEY not in path.read_text()
    with pytest.raises(PersonalibError, match="exists; pass --force"):
        regenerate_control_personas(out, base_url=server.base_url)


def test_instruction_paraphrases_against_server(server: ScriptedServer, tmp_path: Path) -> None:
    questions = tmp_path / "attitude_questions.json"
    questions.write_text(json.dumps(QUESTIONS))
    out = tmp_path / "att_augment.json"
    result = regenerate_instruction_paraphrases(out, questions=questions, base_url=server.base_url)
    entries = server.requests(CHAT_PATH)
    assert len(entries) == 2
    for entry in entries:
        _study_settings(entry.body)
    sent = sorted(e.body["messages"][0]["content"] for e in entries)
    assert sent == sorted(INSTRUCTION_PROMPT.format(instruction=q["instruction"]) for q in QUESTIONS[:2])
    assert sent[0] == "Provide 30 paraphrases for the following sentence.\n\nRead this and rate your agreement."
    data = json.loads(out.read_text())
    assert data[1] == [{"generated_text": instruction_answer(QUESTIONS[1]["instruction"])}]
    items = load_task("attitudes", questions=questions, paraphrases=out, allow_partial=True).items()
    assert len(items) == 4 * 31
    by_id = items.set_index("item_id")
    assert by_id.loc["2/0", "instruction"] == QUESTIONS[1]["instruction"]
    assert by_id.loc["2/5", "instruction"] == f"Variant 5 of: {QUESTIONS[1]['instruction']}"
    assert by_id.loc["3/30", "instruction"] == f"Variant 30 of: {QUESTIONS[0]['instruction']}"
    assert result["paraphrases"][0][0] == f"Variant 1 of: {QUESTIONS[0]['instruction']}"


def test_cli(server: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "control.yaml"
    assert main(["paraphrase", "control-personas", "--out", str(out), "--base-url", server.base_url,
                 "--no-faithful"]) == 0
    printed = capsys.readouterr().out
    assert " 3. a handy helper" in printed and "dropped 1 unnumbered line" in printed and f"wrote {out}" in printed
    assert load_persona_set(out)[2].text == "a handy helper"
    assert main(["paraphrase", "control-personas", "--out", str(out), "--base-url", server.base_url]) == 2
    assert "--force" in capsys.readouterr().err
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["paraphrase", "control-personas", "--out", str(tmp_path / "b.yaml"),
                 "--base-url", server.base_url]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err and not (tmp_path / "b.yaml").exists()


def test_an_unusable_out_is_refused_before_the_model_is_asked(server: ScriptedServer, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    for out, message in ((tmp_path, "is a folder; give the path of the file"),
                         (tmp_path / "f" / "c.yaml", f"its folder {tmp_path / 'f'}: it is a file, not a folder")):
        assert main(["paraphrase", "control-personas", "--out", str(out), "--base-url", server.base_url]) == 2
        assert message in capsys.readouterr().err
    assert server.requests(CHAT_PATH) == []


@pytest.mark.reference
def test_reference_post_processing_reproduces_the_study(reference_dir: Path) -> None:
    data = reference_dir / "original-release" / "data"
    study = json.loads((data / "control_personas.json").read_text())["personas"]
    # GPT-4's list as it would have printed it: numbered, capitalised, without articles
    words = [p.split(" ", 1)[1].title() for p in study[1:]]
    personas, _ = control_personas("\n".join(f"{i}. {w}" for i, w in enumerate(words, 1)))
    assert personas == study
    questions = json.loads((data / "attitude_questions.json").read_text(encoding="utf-8"))
    kinds = instructions_by_type(questions, "attitude_questions.json")
    assert len(kinds) == 2 and "agreement" in kinds[0] and "values" in kinds[1]
    for entry in json.loads((data / "att_augment.json").read_text(encoding="utf-8")):
        text = entry[0]["generated_text"]
        lines, dropped = numbered_lines(text, 30, "study")
        assert "\n".join(lines) == text and not dropped
