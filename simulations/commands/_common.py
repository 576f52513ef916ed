"""Options and parsing helpers shared by the ``amlab`` sub-commands."""
from __future__ import annotations

import argparse

from simulations.runtime import resolve_device
from theory.family import REGISTRY, get_member


def float_list(text: str) -> list[float]:
    """Parse "1,2.5,3" into floats, with a message naming the bad item."""
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def optimizer_list(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one optimizer name")
    for name in names:
        try:
            get_member(name)
        except KeyError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return names


def add_optimizer_arguments(parser: argparse.ArgumentParser, default: str = "adam,adamomentum") -> None:
    parser.add_argument(
        "--optimizers",
        type=optimizer_list,
        default=optimizer_list(default),
        help=f"comma-separated registry names, from: {', '.join(REGISTRY)} (default: {default})",
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


def add_run_arguments(parser: argparse.ArgumentParser, out_default: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default: 0)")
    add_device_argument(parser)
    parser.add_argument("--out", default=out_default, help=f"output folder (default: {out_default})")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (figures are files; no display needed).

    Imported lazily so that commands start fast and tests that write no figure never load it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
