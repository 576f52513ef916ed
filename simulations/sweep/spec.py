"""Sweep specs: load a TOML or YAML grid, check it against the command's parser, expand it into points.

Everything here runs before any work: an unknown command or option, a value the command's parser
rejects, or an empty grid fails with a ValueError that names the key.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import io
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulations.sweep.extract import EXTRACTORS, UNSUPPORTED_OPTIONS

TOP_LEVEL_KEYS = ("command", "fixed", "grid", "description")
# The sweep owns these: every point writes under DIR/points/<id>/ and shows no bars of its own.
SWEEP_OWNED = ("out", "progress", "no_progress")
QUIET_FLAGS = (("--no-progress", "progress"), ("--no-figures", "figures"))  # (flag, the spec key that overrides it)


@dataclass(frozen=True)
class Point:
    """One grid point: its options (dest name -> value as the spec wrote it), its id and its argv."""

    point_id: str
    options: dict
    argv: tuple

    def argv_with_out(self, out: Path, quiet_flags: tuple) -> list[str]:
        return [*self.argv, "--out", str(out), *quiet_flags]


@dataclass(frozen=True)
class SweepSpec:
    command: str
    fixed: dict
    grid: dict
    points: tuple
    quiet_flags: tuple  # of QUIET_FLAGS, those the command has
    description: str = ""

    def resolved(self) -> dict:
        """The spec as the sweep understood it (written to DIR/sweep-spec.json)."""
        return {"command": self.command, "description": self.description, "fixed": self.fixed,
                "grid": self.grid, "points": len(self.points)}


def read_spec_file(path: str | Path) -> dict:
    """Read a spec file: ``.toml`` (tomllib) or ``.yaml``/``.yml`` (pyyaml)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"SPEC {path}: expected a .toml, .yaml or .yml file, got {suffix or 'no suffix'!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"SPEC {path}: no such file") from None
    except OSError as err:
        raise ValueError(f"SPEC {path}: cannot read ({err.strerror})") from None
    try:
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # tomllib.TOMLDecodeError, yaml.YAMLError: the parser's own message
        raise ValueError(f"SPEC {path}: not valid {suffix[1:].upper()}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"SPEC {path}: expected a mapping with 'command', 'fixed' and 'grid', got "
                         f"{type(data).__name__}")
    return data


def load_spec(path: str | Path) -> SweepSpec:
    return build_spec(read_spec_file(path))


def build_spec(data: dict) -> SweepSpec:
    """Check a spec (a dict as read from TOML/YAML) completely and expand it into points."""
    from simulations.cli import build_parser

    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ValueError(f"spec: unknown key(s) {', '.join(map(repr, unknown))}; a spec has "
                         f"{', '.join(TOP_LEVEL_KEYS)}")
    command = data.get("command")
    parser = build_parser()
    subparsers = _subparsers(parser)
    if not isinstance(command, str) or command not in subparsers:
        raise ValueError(f"spec: command must be one of {', '.join(sorted(EXTRACTORS))}, got {command!r}")
    if command not in EXTRACTORS:
        raise ValueError(f"spec: command {command!r} makes no table rows; sweepable commands: "
                         f"{', '.join(sorted(EXTRACTORS))}")
    options = _options(subparsers[command])
    fixed = _section(data, "fixed", command, options, grid=False)
    grid = _section(data, "grid", command, options, grid=True)
    if not grid:
        raise ValueError("spec: grid is empty; give at least one option with a list of values under [grid]")
    both = sorted(set(fixed) & set(grid))
    if both:
        raise ValueError(f"spec: option(s) {', '.join(both)} appear in both fixed and grid; keep one")
    from simulations.commands._common import smoke_requested

    smoke = smoke_requested()
    points = []
    for values in itertools.product(*grid.values()):
        point_options = {**fixed, **dict(zip(grid, values))}
        argv = (command, *_argv(point_options, options))
        points.append(Point(point_id(command, point_options, smoke), point_options, argv))
    # No bars from the workers; no figures either where the command can skip them and the spec does not
    # ask for them (the table is a sweep's product, and figures are most of a small point's time).
    has = _option_strings(subparsers[command])
    chosen = set(fixed) | set(grid)
    quiet_flags = tuple(flag for flag, dest in QUIET_FLAGS if flag in has and not {dest, "no_" + dest} & chosen)
    _check_parses(parser, points, quiet_flags)
    ids = [p.point_id for p in points]
    if len(set(ids)) != len(ids):
        raise ValueError("spec: the grid repeats a point (the same options twice); remove the duplicate values")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"spec: description must be a string, got {type(description).__name__}")
    return SweepSpec(command, fixed, grid, tuple(points), quiet_flags, description)


def point_id(command: str, options: dict, smoke: bool = False) -> str:
    """A stable id for a point: the first 12 hex digits of the SHA-256 of its sorted options.

    A smoke-scale run (AMLAB_SCALE=smoke caps every size) gets other ids, so its rows never pass for
    the real point's."""
    key = {"command": command, "options": options, **({"scale": "smoke"} if smoke else {})}
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _subparsers(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise RuntimeError("amlab's parser has no sub-commands")


def _options(sub: argparse.ArgumentParser) -> dict:
    """dest -> argparse action, for the command's optional arguments (help excluded)."""
    return {a.dest: a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)}


def _option_strings(sub: argparse.ArgumentParser) -> set:
    return {s for a in sub._actions for s in a.option_strings}


def _section(data: dict, name: str, command: str, options: dict, grid: bool) -> dict:
    section = data.get(name, {})
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ValueError(f"spec: {name} must be a table of option = value, got {type(section).__name__}")
    out = {}
    for key, value in section.items():
        dest = str(key).replace("-", "_")
        where = f"{name}.{key}"
        if dest in SWEEP_OWNED:
            raise ValueError(f"spec: {where}: the sweep sets --{dest.replace('_', '-')} itself "
                             "(each point writes under DIR/points/<point-id>/); remove it")
        if dest not in options:
            near = difflib.get_close_matches(dest, list(options), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"spec: {where}: `amlab {command}` has no option --{dest.replace('_', '-')}{hint} "
                             f"(options: {', '.join(sorted(options))})")
        if dest in UNSUPPORTED_OPTIONS.get(command, ()):
            raise ValueError(f"spec: {where}: `amlab {command} --{dest.replace('_', '-')}` writes a different "
                             "record that the sweep does not tabulate; sweep the plain runs")
        if grid:
            if not isinstance(value, list) or not value:
                raise ValueError(f"spec: {where} must be a non-empty list of values, got {value!r}")
            for item in value:
                _check_value(where, item, options[dest])
        else:
            _check_value(where, value, options[dest])
        out[dest] = value
    return out


def _is_flag(action: argparse.Action) -> bool:
    return action.nargs == 0


def _check_value(where: str, value: Any, action: argparse.Action) -> None:
    if _is_flag(action):
        if not isinstance(value, bool):
            raise ValueError(f"spec: {where}: --{action.dest.replace('_', '-')} is a switch; give true or false, "
                             f"got {value!r}")
        if value is False and not isinstance(action, argparse.BooleanOptionalAction) and action.default is True:
            raise ValueError(f"spec: {where}: this switch cannot be turned off")
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            raise ValueError(f"spec: {where}: expected a number, a string or a list of them, got {value!r}")


def _argv(point_options: dict, options: dict) -> list[str]:
    argv = []
    for dest, value in point_options.items():
        action = options[dest]
        long_name = max(action.option_strings, key=len)
        if _is_flag(action):
            if isinstance(action, argparse.BooleanOptionalAction):
                argv.append(long_name if value else "--no-" + long_name[2:])
            elif value:
                argv.append(long_name)
            continue
        text = ",".join(map(_text, value)) if isinstance(value, list) else _text(value)
        argv.append(f"{long_name}={text}")  # '=' keeps a negative number from reading as an option
    return argv


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _check_parses(parser: argparse.ArgumentParser, points: list, quiet_flags: tuple) -> None:
    """Parse every point's argv with amlab's own parser, so a bad value fails before any work."""
    for number, point in enumerate(points, 1):
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                parser.parse_args([*point.argv, "--out", "unused", *quiet_flags])
        except SystemExit:
            lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
            message = lines[-1] if lines else "rejected by the parser"
            raise ValueError(f"spec: point {number} of {len(points)} ({_describe(point.options)}): "
                             f"{message}") from None


def _describe(options: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())
