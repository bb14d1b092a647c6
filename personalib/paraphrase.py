"""The study's auxiliary GPT-4 generations, regenerated (METHODS 3b).

- Control personas: one user message `Create 29 paraphrases of "helpful assistant"`. Post-processing
  (METHODS 3b): split the answer into lines, drop each line's numbering token (the first
  space-separated token), lower-case, prefix "an " when the text starts with a, e, i, o or u and
  "a " otherwise, and put "a helpful assistant" first. `faithful=True` (default) also applies the
  study's hand edit: the third entry is replaced by "a useful helper" (the edit is reported).
  Written as a persona-set YAML (`personalib.personas.load_persona_set` reads it).
- Instruction paraphrases: one user message `Provide 30 paraphrases for the following
  sentence.\\n\\n{instruction}` per instruction type of the attitude questionnaire. Written in the
  schema of the study's `att_augment.json`: entry t (= instruction_type t) is
  `[{"generated_text": "<the 30 numbered lines>"}]`, which `load_task("attitudes", paraphrases=...)`
  reads.

Settings (METHODS 3b): gpt-4-1106-preview, temperature 1.0, top_p 0.95, seed 42, max_tokens 1000,
through the `openai` backend (key from OPENAI_API_KEY only; `base_url` for any compatible server).

Deviations, both inert when the answer is a plain numbered list like the study's:
- only lines whose first token is a number ("1.", "2)", "3") count as paraphrases; blank lines and
  text around the list are dropped (the original kept every line) and reported; the count must be
  29 (control) or 30 (instructions), otherwise an error keeps the raw answer for inspection;
- the original asked for the instruction types in Python set order (hash-dependent) and indexed the
  answers by instruction_type; here the requests and the file follow instruction_type 0, 1, ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from personalib.backends.api import resolve_api_key
from personalib.backends.base import Request
from personalib.decoding import PARAPHRASE_DECODING
from personalib.errors import PersonalibError
from personalib.personas import load_persona_set
from personalib.sources import fetch
from personalib.store import utc_now
from personalib.tasks.attitudes import read_paraphrases, read_questionnaire
from personalib.writable import folder_problem

STUDY_MODEL = "gpt-4-1106-preview"
STUDY_DECODING = PARAPHRASE_DECODING
API_KEY_ENV = "OPENAI_API_KEY"
ANCHOR = "helpful assistant"
N_CONTROL = 29
N_INSTRUCTION = 30
CONTROL_PROMPT = f'Create {N_CONTROL} paraphrases of "{ANCHOR}"'
INSTRUCTION_PROMPT = f"Provide {N_INSTRUCTION} paraphrases for the following sentence.\n\n{{instruction}}"
HAND_EDIT = (2, "a useful helper")
"""The study replaced the third control persona by hand (index 2 after "a helpful assistant")."""
_NUMBER_TOKEN = re.compile(r"^\d+[.):]?$")


def numbered_lines(text: str, expected: int, what: str) -> tuple[list[str], list[str]]:
    """The lines of `text` whose first space-separated token is a number, and the dropped lines.

    Raises PersonalibError unless exactly `expected` numbered lines (each with text after the
    number) are found.
    """
    kept, dropped = [], []
    for line in text.split("\n"):
        tokens = line.split(" ")
        if _NUMBER_TOKEN.match(tokens[0]) and " ".join(tokens[1:]).strip():
            kept.append(line)
        else:
            dropped.append(line)
    if len(kept) != expected:
        raise PersonalibError(f"{what}: the answer holds {len(kept)} numbered lines, expected {expected}: "
                              f"{text!r:.300}")
    return kept, [line for line in dropped if line.strip()]


def drop_number(line: str) -> str:
    """The line without its numbering token (first space-separated token), as the study did."""
    return " ".join(line.split(" ")[1:])


def with_article(text: str) -> str:
    """"an " + text when it starts with a, e, i, o or u, else "a " + text (METHODS 3b)."""
    return ("an " if text[:1] in ("a", "e", "i", "o", "u") else "a ") + text


def control_personas(text: str, *, faithful: bool = True) -> tuple[list[str], list[str]]:
    """The 30 control personas from GPT-4's answer (METHODS 3b) and notes on what was changed."""
    lines, dropped = numbered_lines(text, N_CONTROL, "control persona paraphrases")
    personas = [with_article(x) for x in [ANCHOR, *(drop_number(line).lower() for line in lines)]]
    notes = [f"dropped {len(dropped)} unnumbered line(s): {dropped!r:.200}"] if dropped else []
    if faithful:
        index, replacement = HAND_EDIT
        notes.append(f"faithful: entry {index + 1} {personas[index]!r} replaced by {replacement!r} "
                     "(the study's hand edit)")
        personas[index] = replacement
    repeated = sorted({p for p in personas if personas.count(p) > 1})
    if repeated:
        raise PersonalibError(f"control persona paraphrases: repeated persona(s) {repeated}; a persona set "
                              "needs distinct personas: generate again with another seed or edit the file")
    return personas, notes


def instructions_by_type(questions: Sequence[dict[str, Any]], where: str | Path) -> list[str]:
    """The questionnaire's instruction of each instruction type 0, 1, ... (one text per type)."""
    found: dict[int, str] = {}
    for entry in questions:
        kind, text = entry["instruction_type"], entry["instruction"]
        if found.setdefault(kind, text) != text:
            raise PersonalibError(f"{where}: instruction_type {kind} has two instructions "
                                  f"({found[kind]!r} and {text!r}); each type needs one")
    if sorted(found) != list(range(len(found))):
        raise PersonalibError(f"{where}: instruction types {sorted(found)} are not 0..{len(found) - 1}")
    return [found[kind] for kind in range(len(found))]


def ask(prompts: Sequence[str], *, model: str = STUDY_MODEL, base_url: str | None = None,
        max_retries: int = 6, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """One chat completion per prompt (a single user message) with the study's settings.

    Returns per prompt {"prompt", "text", "system_fingerprint", "finish_reason"}, in prompt order.
    """
    from personalib.backends.openai import OpenAIBackend

    key = resolve_api_key(API_KEY_ENV, base_url, "paraphrase")
    backend = OpenAIBackend(model, api_key=key, base_url=base_url, concurrency=1, max_retries=max_retries,
                            timeout_s=timeout_s, label="paraphrase")
    requests = [Request(key=str(i), messages=({"role": "user", "content": p},), prompt=None)
                for i, p in enumerate(prompts)]
    try:
        results = {r.key: r for r in backend.generate(requests, STUDY_DECODING)}
    finally:
        backend.close()
    return [{"prompt": p, "text": results[str(i)].text, "finish_reason": results[str(i)].finish_reason,
             "system_fingerprint": results[str(i)].system_fingerprint} for i, p in enumerate(prompts)]


def _settings(model: str, base_url: str | None) -> dict[str, Any]:
    return {"model": model, "base_url": base_url, "temperature": STUDY_DECODING.temperature,
            "top_p": STUDY_DECODING.top_p, "seed": STUDY_DECODING.seed, "max_tokens": STUDY_DECODING.max_new_tokens}


def _write(out: Path, text: str, answers: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """Write `out` and, beside it, `<out>.response.json` (raw answers and settings)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    record = out.with_name(out.name + ".response.json")
    record.write_text(json.dumps({**meta, "answers": answers}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def _check_out(out: Path, force: bool) -> None:
    """`out` must be a new file (or, with `force`, a file) in a folder this process can write in,
    checked before the model is asked (and paid)."""
    if out.is_dir():
        raise PersonalibError(f"--out {out} is a folder; give the path of the file to write")
    if out.exists() and not force:
        raise PersonalibError(f"{out} exists; pass --force to overwrite it or choose another --out")
    problem = folder_problem(out.parent)
    if problem:
        raise PersonalibError(f"--out {out}: its folder {out.parent}: {problem}; nothing was asked. "
                              "Choose a folder you can write to.")


def regenerate_control_personas(out: Path, *, model: str = STUDY_MODEL, base_url: str | None = None,
                                faithful: bool = True, name: str = "control-regenerated",
                                force: bool = False) -> dict[str, Any]:
    """Ask for the 29 paraphrases, post-process (METHODS 3b) and write a persona-set YAML.

    Returns {"out", "response", "personas", "notes"}; the file is read back with
    `load_persona_set` before returning.
    """
    _check_out(out, force)
    answers = ask([CONTROL_PROMPT], model=model, base_url=base_url)
    personas, notes = control_personas(answers[0]["text"], faithful=faithful)
    meta = {"kind": "control-personas", "created_at": utc_now(), "faithful": faithful, "notes": notes,
            **_settings(model, base_url)}
    header = (f"# Control personas regenerated by `python -m personalib paraphrase control-personas` "
              f"(METHODS 3b)\n# {model}, temperature 1.0, top_p 0.95, seed 42, max_tokens 1000; "
              f"faithful={faithful}\n" + "".join(f"# {note}\n" for note in notes))
    body = yaml.safe_dump({"name": name, "description": f"GPT-4 paraphrases of 'a helpful assistant' ({model})",
                           "personas": [{"text": p, "category": "control"} for p in personas]},
                          sort_keys=False, allow_unicode=True, width=200)
    record = _write(out, header + body, answers, meta)
    load_persona_set(out)
    return {"out": out, "response": record, "personas": personas, "notes": notes}


def regenerate_instruction_paraphrases(out: Path, *, questions: Path | None = None, model: str = STUDY_MODEL,
                                       base_url: str | None = None, force: bool = False) -> dict[str, Any]:
    """Ask for 30 paraphrases of each instruction type's instruction and write an
    att_augment.json-schema file (METHODS 3b). `questions` defaults to the study's questionnaire.

    Returns {"out", "response", "instructions", "paraphrases", "notes"}; the file is read back with
    the attitudes loader's `read_paraphrases` before returning.
    """
    _check_out(out, force)
    path = Path(questions) if questions is not None else fetch("study", "data/attitude_questions.json")
    instructions = instructions_by_type(read_questionnaire(path), path)
    answers = ask([INSTRUCTION_PROMPT.format(instruction=i) for i in instructions], model=model, base_url=base_url)
    texts, notes = [], []
    for kind, answer in enumerate(answers):
        lines, dropped = numbered_lines(answer["text"], N_INSTRUCTION, f"instruction type {kind} paraphrases")
        texts.append("\n".join(lines))
        if dropped:
            notes.append(f"instruction type {kind}: dropped {len(dropped)} unnumbered line(s): {dropped!r:.200}")
    meta = {"kind": "attitude-instructions", "created_at": utc_now(), "questions": str(path), "notes": notes,
            **_settings(model, base_url)}
    record = _write(out, json.dumps([[{"generated_text": t}] for t in texts]), answers, meta)
    return {"out": out, "response": record, "instructions": instructions,
            "paraphrases": read_paraphrases(out), "notes": notes}
