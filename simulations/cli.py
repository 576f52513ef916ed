"""The ``amlab`` command line.

Each sub-command lives in its own module under :mod:`simulations.commands` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; the list is static
(:data:`COMMANDS`), parsing only: the work is in the experiment subpackages.
"""
from __future__ import annotations

import argparse
import sys

from simulations.commands import audit, escape, nonconvex, regret, report, toys, verify

COMMANDS = {"audit": audit, "escape": escape, "nonconvex": nonconvex, "regret": regret, "report": report,
            "toys": toys, "verify": verify}


def command_modules() -> dict:
    return dict(COMMANDS)


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
