"""Registry members give the same records as before the update-rule refactor (issue 10).

``tests/data/records_before_refactor/`` holds records written by main before the refactor, with
the commands that wrote them (``commands.txt``). Each command is rerun here and its measured
results compared with the saved ones (float64 runs on the CPU, same seeds): every key, string,
integer and boolean equal, and every float equal to 1e-12 relative (an exact 0 stays 0), except
the keys the refactor added (listed in ``ADDED_KEYS``), which the saved record lacks.

Why floats are not compared bit for bit: torch's float64 sqrt and sin on the CPU go through
MKL's vector math, which picks its code path by the CPU it runs on (``MKL_ENABLE_INSTRUCTIONS``
changes the results), and those paths differ in the last ulp. On the machine that wrote the
records every float was equal; on a Sapphire Rapids machine the same commit differs by 1-4 ulp
per operation, up to 1.5e-13 relative after cancellation in a confidence bound. A refactor that
changed the arithmetic (a reordered sum, a moved eps) moves results by far more than 1e-12.
"""
from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest
import torch

from simulations.cli import main

DATA = Path(__file__).parent / "data" / "records_before_refactor"
ADDED_KEYS = {"subject", "baseline", "rules", "rule_notes"}  # new fields; their absence before is expected
TIMING_KEYS = {"seconds", "path_steps_per_second"}  # wall-clock figures, never reproducible
FLOAT_TOLERANCE = 1e-12  # ulp-level differences of the CPU's vector math (module docstring)


def _same(old, new) -> bool:
    if isinstance(old, float) and isinstance(new, float) and type(old) is type(new):
        return old == new or math.isclose(old, new, rel_tol=FLOAT_TOLERANCE)
    return type(old) is type(new) and old == new


def _commands() -> list[tuple[str, list[str]]]:
    rows = []
    for line in (DATA / "commands.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            rows.append((name.strip(), shlex.split(command)))
    return rows


def _compare(old, new, path: str = "") -> list[str]:
    """Paths at which ``new`` differs from ``old`` (keys only in ``new`` and in ADDED_KEYS are fine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = [f"{path}/{k}: missing" for k in old if k not in new]
        diffs += [f"{path}/{k}: new key" for k in new if k not in old and k not in ADDED_KEYS]
        for key in (old.keys() & new.keys()) - TIMING_KEYS:
            diffs += _compare(old[key], new[key], f"{path}/{key}")
        return diffs
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: length {len(old)} -> {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in _compare(a, b, f"{path}[{i}]")]
    return [] if _same(old, new) else [f"{path}: {str(old)[:60]} -> {str(new)[:60]}"]


@pytest.mark.parametrize("name,argv", _commands(), ids=[n for n, _ in _commands()])
def test_record_equals_the_one_saved_before_the_refactor(name, argv, tmp_path):
    # The records were written by the command line, where torch's default dtype is float32
    # (conftest makes it float64 for the tests); a few monitors build tensors in the default dtype.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    out = tmp_path / name
    try:
        assert main(argv + ["--out", str(out)]) == 0
    finally:
        torch.set_default_dtype(previous)
    written = list(out.glob("*.json"))
    assert len(written) == 1, written
    old = json.loads((DATA / f"{name}.json").read_text())
    new = json.loads(written[0].read_text())
    for key in ("config", "results"):
        old_part = {k: v for k, v in old[key].items() if k != "out"} if key == "config" else old[key]
        new_part = {k: v for k, v in new[key].items() if k != "out"} if key == "config" else new[key]
        diffs = _compare(old_part, new_part, key)
        assert not diffs, f"{len(diffs)} differences, first: {diffs[:8]}"
    assert new["seed"] == old["seed"]


def test_comparison_flags_changes_above_ulp_level():
    old = {"a": [1.0, 0.5], "n": 3, "s": "holds"}
    assert _compare(old, {"a": [1.0 + 4e-16, 0.5], "n": 3, "s": "holds"}) == []
    assert _compare(old, {"a": [1.0 + 1e-10, 0.5], "n": 3, "s": "holds"}) == ["/a[0]: 1.0 -> 1.0000000001"]
    assert len(_compare(old, {"a": [1.0, 0.5], "n": 4, "s": "fails"})) == 2
    assert _compare({"x": 1e-300}, {"x": 2e-300}) == ["/x: 1e-300 -> 2e-300"]  # relative, even near 0
    assert _compare({"x": 0.0}, {"x": 1e-30}) == ["/x: 0.0 -> 1e-30"]
