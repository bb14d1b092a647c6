"""`python -m personalib paraphrase`: regenerate the study's auxiliary GPT-4 paraphrases (METHODS 3b).

    python -m personalib paraphrase control-personas --out my_control.yaml
    python -m personalib paraphrase attitude-instructions --out my_att_augment.json
    python -m personalib paraphrase control-personas --base-url http://127.0.0.1:8000/v1 --model my-model

The key comes from OPENAI_API_KEY only. A profile uses the results as `persona_sets: [..., my_control.yaml]`
and `datasets: {attitudes: {files: {paraphrases: my_att_augment.json}}}`. Each output gets a
`<out>.response.json` beside it with the raw answers and settings. Rules: `personalib.paraphrase`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from personalib.paraphrase import (
    STUDY_MODEL, regenerate_control_personas, regenerate_instruction_paraphrases,
)

DEFAULT_OUT = {"control-personas": "control_personas.yaml", "attitude-instructions": "att_augment.json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("what", choices=tuple(DEFAULT_OUT), help="which auxiliary generation to regenerate")
    parser.add_argument("--model", default=STUDY_MODEL, help=f"chat model (default: the study's {STUDY_MODEL})")
    parser.add_argument("--out", type=Path, help="output file (default: control_personas.yaml or att_augment.json "
                        "in the current folder)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: api.openai.com)")
    parser.add_argument("--faithful", action=argparse.BooleanOptionalAction, default=True,
                        help="control personas: apply the study's hand edit of the third entry "
                        "('a useful helper'); default on")
    parser.add_argument("--name", default="control-regenerated", help="control personas: the persona set's name")
    parser.add_argument("--questions", type=Path, help="attitude instructions: a local attitude_questions.json "
                        "(default: the study's, from the pinned source)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


def run(args: argparse.Namespace) -> int:
    """Ask the model, post-process, write the file and report what was written."""
    out = args.out or Path(DEFAULT_OUT[args.what])
    if args.what == "control-personas":
        result = regenerate_control_personas(out, model=args.model, base_url=args.base_url,
                                             faithful=args.faithful, name=args.name, force=args.force)
        for number, persona in enumerate(result["personas"], 1):
            print(f"{number:>2}. {persona}")
    else:
        result = regenerate_instruction_paraphrases(out, questions=args.questions, model=args.model,
                                                    base_url=args.base_url, force=args.force)
        for kind, (instruction, lines) in enumerate(zip(result["instructions"], result["paraphrases"])):
            print(f"instruction type {kind}: {instruction!r}: {len(lines)} paraphrases, e.g. {lines[0]!r}")
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"wrote {result['out']} (raw answers: {result['response']})")
    return 0
