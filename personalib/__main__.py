"""Command line: `python -m personalib <command> ...` (one module per command in `personalib.cli`)."""

from __future__ import annotations

import argparse
import importlib
import sys

from personalib.errors import PersonalibError

COMMANDS: dict[str, str] = {
    "plan": "print how many prompts (and API tokens) a profile's run would send",
    "generate": "generate and store persona-prompted answers for a profile",
    "status": "summarise what a generation store holds",
    "upgrade": "bring a generation store written by an earlier version to the current format",
    "import-release": "import the original study's released generations into a store",
    "paraphrase": "regenerate the study's auxiliary GPT-4 paraphrases",
    "report": "execute the research-question notebooks and render HTML reports",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; with `only`, of that one command (its module alone is imported, so
    a command starts without the import time of the others, e.g. the notebook stack of `report`)."""
    parser = argparse.ArgumentParser(prog="personalib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = _command_module(name)
        if module is None:
            continue
        sp = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sp)
        sp.set_defaults(_module=module)
    return parser


def _command_module(name: str):
    try:
        return importlib.import_module(f"personalib.cli.{name.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        if exc.name == f"personalib.cli.{name.replace('-', '_')}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except PersonalibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
