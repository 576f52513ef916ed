"""The ``amlab`` command line.

Each sub-command lives in its own module under :mod:`simulations.commands` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Modules whose name
starts with an underscore are helpers, not commands.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from simulations import commands


def command_modules() -> dict:
    found = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found[info.name.replace("_", "-")] = importlib.import_module(f"{commands.__name__}.{info.name}")
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amlab",
        description="adamomentum-lab: verify the AdaMomentum paper's claims, claim by claim.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in command_modules().items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ValueError as err:  # bad input: one clear line, not a traceback
        parser.exit(2, f"amlab {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
