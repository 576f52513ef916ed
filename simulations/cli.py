"""The ``amlab`` command line.

Each sub-command lives in its own module under :mod:`simulations.commands` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; the list is static
(:data:`COMMANDS`), parsing only: the work is in the experiment subpackages.

Exit codes: 0 done; 1 a check failed or an internal error (its traceback is printed: it is a bug,
not the user's input); 2 bad input (:class:`~simulations.commands._common.UsageError`, one
``error:`` line naming the option); 130 / 143 stopped by SIGINT / SIGTERM (one line: what was
saved and how to resume; no traceback).
"""
from __future__ import annotations

import argparse
import signal
import sys
import traceback

from simulations.commands import audit, escape, nonconvex, regret, report, search, sweep, toys, train, verify

COMMANDS = {"audit": audit, "escape": escape, "nonconvex": nonconvex, "regret": regret, "report": report,
            "search": search, "sweep": sweep, "toys": toys, "verify": verify, "train": train}


def command_modules() -> dict:
    return dict(COMMANDS)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the run stops like on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adamomentum-lab")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amlab",
        description="adamomentum-lab: verify the AdaMomentum paper's claims, claim by claim.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in command_modules().items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _stopped(command: str, code: int, how: str) -> int:
    from simulations.checkpoints import last_store

    store = last_store()
    if store is not None and store.count():
        saved = (f"{store.count()} finished unit(s) saved in {store.folder}; rerun the same command with --resume "
                 f"to continue")
    else:
        saved = "nothing was saved (no unit had finished)"
    print(f"amlab {command}: stopped by {how}; {saved}", file=sys.stderr)
    return code


def _apply_threads(args) -> None:
    """One intra-op thread on the CPU unless AMLAB_THREADS / OMP_NUM_THREADS says otherwise
    (:mod:`simulations.threads`); a bad AMLAB_THREADS is the user's input."""
    from simulations.commands._common import UsageError
    from simulations.runtime import resolve_device
    from simulations.threads import apply_thread_policy

    try:
        apply_thread_policy(resolve_device(getattr(args, "device", None) or "cpu"))
    except ValueError as err:
        raise UsageError(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    from simulations.checkpoints import forget_last_store
    from simulations.commands._common import UsageError, apply_smoke_scale

    parser = build_parser()
    args = parser.parse_args(argv)
    forget_last_store()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (e.g. called from a worker): no handler
        pass
    try:
        apply_smoke_scale(args)
        _apply_threads(args)
        return int(args._run(args) or 0)
    except UsageError as err:  # bad input: one clear line, not a traceback
        parser.exit(2, f"amlab {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        return _stopped(args.command, 130, "SIGINT (Ctrl-C)")
    except Terminated:
        return _stopped(args.command, 143, "SIGTERM")
    except Exception as err:  # noqa: BLE001 (a bug, not the user's input: say so, with the traceback)
        traceback.print_exc()
        print(f"amlab {args.command}: internal error: {type(err).__name__}: {err}\n(this is not a problem with "
              f"your input; the traceback above says where it happened)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
