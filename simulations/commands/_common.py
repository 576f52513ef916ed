"""Options and parsing helpers shared by the ``amlab`` sub-commands."""
from __future__ import annotations

import argparse

from simulations.runtime import resolve_device
from theory.family import REGISTRY
from theory.names import resolve_all, split_names


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


def add_run_arguments(parser: argparse.ArgumentParser, out_default: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default: 0)")
    add_device_argument(parser)
    parser.add_argument("--out", default=out_default, help=f"output folder (default: {out_default})")


def add_subject_arguments(parser: argparse.ArgumentParser) -> None:
    """--subject / --baseline: the two methods every comparative claim is checked on."""
    parser.add_argument("--subject", type=optimizer_name, default="adamomentum",
                        help="the method the claims are checked for: any optimizer name --optimizers accepts "
                             "(default: adamomentum, the paper's)")
    parser.add_argument("--baseline", type=optimizer_name, default="adam",
                        help="the method it is compared with (default: adam)")
