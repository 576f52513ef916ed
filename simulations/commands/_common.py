"""Options and parsing helpers shared by the ``amlab`` sub-commands.

Errors: :class:`UsageError` (a ``ValueError``) is the user's input; ``amlab`` reports it as
``error:`` with exit 2. Anything else that escapes a command is an internal failure (exit 1, with
its traceback). Validation that lives in the experiment code (config dataclasses) raises plain
``ValueError``; commands build their configs inside :func:`usage_errors`, which turns those into
usage errors, before any work starts.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from simulations.runtime import resolve_device
from theory.family import REGISTRY
from theory.names import resolve_all, split_names


class UsageError(ValueError):
    """Bad input from the user: reported as one ``error:`` line, exit 2, no traceback."""


@contextlib.contextmanager
def usage_errors():
    """Inside: a ValueError is the user's input (config validation), re-raised as :class:`UsageError`."""
    try:
        yield
    except UsageError:
        raise
    except ValueError as err:
        raise UsageError(str(err)) from err


SCALE_ENV = "AMLAB_SCALE"  # "smoke": every command runs at its smallest size (the docs-examples test)
SMOKE_CAPS = {"steps": 200, "seeds": 2, "paths": 40, "max_steps": 200, "starts": 2, "warmup": 20,
              "budget_seconds": 3.0}


def smoke_requested() -> bool:
    value = os.environ.get(SCALE_ENV, "")
    if value not in ("", "smoke"):
        raise UsageError(f"{SCALE_ENV}={value!r}: the only value is 'smoke' (or unset)")
    return value == "smoke"


def apply_smoke_scale(args: argparse.Namespace) -> None:
    """With ``AMLAB_SCALE=smoke``: the same command, only smaller (``--scale smoke``, sizes capped)."""
    if not smoke_requested():
        return
    if getattr(args, "scale", None) is not None:
        args.scale = "smoke"
    for name, cap in SMOKE_CAPS.items():
        value = getattr(args, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > cap:
            setattr(args, name, cap)


def count(text: str) -> int:
    """A non-negative whole number; "1e6" and "1_000_000" are accepted (sizes are often written so)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(value)


def positive_count(text: str) -> int:
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def unit_interval(text: str) -> float:
    """A value in [0, 1) (beta1, beta2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress``; default: on when stderr is a terminal."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: on when stderr is a terminal)")


def progress_enabled(args: argparse.Namespace) -> bool:
    value = getattr(args, "progress", None)
    return sys.stderr.isatty() if value is None else bool(value)


def add_scale_argument(parser: argparse.ArgumentParser, default: str | None = "quick", help: str = "") -> None:
    parser.add_argument("--scale", choices=("smoke", "quick", "full"), default=default,
                        help=(help or "experiment scale: smoke runs in seconds and decides nothing (for trying "
                              "a command out), quick is the CI scale, full the long one") + " (default: %(default)s)")


def read_replay_file(path, what: str = "JSON case") -> dict:
    """A ``--replay`` file, read up front: a missing or unreadable file is the user's input."""
    import json

    from simulations.records import read_json

    try:
        return read_json(path)
    except FileNotFoundError:
        raise UsageError(f"--replay {path}: no such file") from None
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"--replay {path}: cannot read a {what} ({err})") from None


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from the finished units under OUT/checkpoints (the same "
                             "command and options; a different configuration is refused)")


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=positive_count, default=None, metavar="N",
                        help="experiments run in N processes at once, one intra-op thread each (default: "
                             "AMLAB_JOBS, else one per core; 1 runs them in this process); the records are "
                             "those of a serial run")


def resolve_jobs(args: argparse.Namespace, units: int) -> int:
    """--jobs, else the default of :func:`simulations.experiments.default_jobs` (a bad AMLAB_JOBS is a
    UsageError before any work)."""
    from simulations.experiments import default_jobs

    if args.jobs is not None:
        return min(args.jobs, max(1, units))
    try:
        return default_jobs(units)
    except ValueError as err:
        raise UsageError(str(err)) from None


def check_out_dir(out: str | os.PathLike, option: str = "--out") -> Path:
    """Check, before any work, that files can be written in folder ``out`` (else UsageError).

    Probes by creating the missing folders and a file, then removes what it created: a run that
    fails later on its input leaves nothing behind."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {out}: exists and is not a folder; give a folder path")
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".amlab-write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"{option} {out}: cannot write there ({err.strerror or err}); give a writable folder") from None
    finally:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
    return path


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, else physical pages x page size; None when neither is known."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"


def _human_time(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


TIME_BUDGET_S = 600.0  # a run estimated above this says so before it starts


def check_budget(command: str, memory_bytes: float, option: str, seconds: float | None = None,
                 device: str = "cpu", available: int | None = None) -> None:
    """Refuse a run whose estimated memory exceeds what the machine has (naming ``option``); print the
    time estimate on stderr when it is above :data:`TIME_BUDGET_S`. The estimates count the main
    tensors (an underestimate: a refused run could never have fitted)."""
    if resolve_device(device).type == "cpu":  # GPU memory is the allocator's to report
        available = available_memory_bytes() if available is None else available
        if available is not None and memory_bytes > available:
            raise UsageError(f"{option}: this run needs about {_human(memory_bytes)} of memory and "
                             f"{_human(available)} is available; reduce {option}")
    if seconds is not None and seconds > TIME_BUDGET_S:
        print(f"amlab {command}: estimated run time about {_human_time(seconds)} on this machine (from a measured "
              f"per-step cost; --resume continues it if it is stopped)", file=sys.stderr)


def float_list(text: str) -> list[float]:
    """Parse "1,2.5,3" into floats, with a message naming the bad item."""
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def optimizer_list(text: str) -> list[str]:
    """Comma-separated optimizer names (registry, plugin or module.path:Attribute[:key=value]),
    each resolved once here so that a bad name fails before any work (:mod:`theory.names`)."""
    names = split_names(text)
    try:
        resolve_all(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return names


def optimizer_name(text: str) -> str:
    """One optimizer name (``--subject``, ``--baseline``), validated like :func:`optimizer_list`."""
    names = optimizer_list(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError(f"expected one optimizer name, got {text!r}")
    return names[0]


def add_optimizer_arguments(parser: argparse.ArgumentParser, default: str = "adam,adamomentum") -> None:
    parser.add_argument(
        "--optimizers",
        type=optimizer_list,
        default=optimizer_list(default),
        help=f"comma-separated optimizers: registry names ({', '.join(REGISTRY)}), installed plugins, or "
             f"module.path:Attribute[:key=value...] for a torch optimizer or rule, e.g. torch.optim:NAdam "
             f"(default: {default})",
    )


def device_name(text: str) -> str:
    """Validate a --device value up front (a typo or a missing GPU fails before any work)."""
    try:
        resolve_device(text)
    except (ValueError, RuntimeError) as err:
        raise argparse.ArgumentTypeError(f"invalid device {text!r} ({err}); use cpu, cuda, cuda:N or auto") from None
    return text


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", type=device_name, default="auto",
                        help="cpu, cuda, cuda:N or auto (default: auto)")


def add_out_argument(parser: argparse.ArgumentParser, out_default: str) -> None:
    parser.add_argument("--out", default=out_default, help="output folder, checked for writing before any work "
                                                           "(default: %(default)s)")


def add_run_arguments(parser: argparse.ArgumentParser, out_default: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default: %(default)s)")
    add_device_argument(parser)
    add_out_argument(parser, out_default)


def add_subject_arguments(parser: argparse.ArgumentParser) -> None:
    """--subject / --baseline: the two methods every comparative claim is checked on."""
    parser.add_argument("--subject", type=optimizer_name, default="adamomentum",
                        help="the method the claims are checked for: any optimizer name --optimizers accepts "
                             "(default: adamomentum, the paper's)")
    parser.add_argument("--baseline", type=optimizer_name, default="adam",
                        help="the method it is compared with (default: adam)")
