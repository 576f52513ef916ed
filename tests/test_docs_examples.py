"""Every ``amlab ...`` example in README.md and docs/*.md runs, at the smoke scale (issue 14, item 5).

The examples are read from the Markdown itself: fenced and indented code blocks (one command per
line, ``\\`` continuations joined, ``# comments`` dropped, ``pip ... && amlab ...`` cut at ``amlab``)
and inline code that starts with ``amlab `` and has an option. Each runs in-process through
:func:`simulations.cli.main` in one temporary folder, in document order, with ``AMLAB_SCALE=smoke``:
the documented command itself, only smaller (``--scale smoke``, sizes capped; see
:func:`simulations.commands._common.apply_smoke_scale`). It must exit 0. Then every
``amlab-out/...`` file the docs name must exist. New docs pages are picked up automatically.

So that the many examples fit in CI's time, the pure computations that several commands share are
computed once per test session (across pytest-xdist workers, :mod:`smoke_memo`): each experiment's
``run_scale`` (keyed by its arguments; ``report``, ``verify`` and ``audit`` all call it), the
symbolic checks, and the figures of a record already drawn. Every command's own code (parsing,
checkpoints, the ledger, the page) still runs for each example.

Exceptions, each for a stated reason: inline code with a placeholder (``X``, ``NAME``, ``DIR``...)
is a pattern, not an example, and inline code that does not parse (``amlab verify --subject``) is a
mention of an option (fenced examples must parse); a bare ``amlab COMMAND`` mention must name a command; the
counterexample search runs at its documented size, because the smoke search finds no
counterexample and the ``--replay`` example that follows replays a file it writes; ``--device
cuda`` runs on the CPU where no GPU is present.
"""
from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest
import torch

from simulations.cli import COMMANDS, build_parser, main
from smoke_memo import REPORT_GROUP, share_experiments, shared_dir

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md"] + sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "ledger.md")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$|^<.*>$|\.\.\.")
AT_DOCUMENTED_SCALE = (("regret", "--search"),)  # see the module docstring
# Refused at the smoke scale by design (its verdicts decide nothing, so they are never recorded).
EXPECTED_EXIT = {("verify", "--update-record"): 2, ("verify", "--write-docs"): 2}
DOCUMENTED_FILE = re.compile(r"amlab-out/[A-Za-z0-9_./-]+\.(?:json|html|png|parquet|md|csv)")


def _code_lines(text: str) -> list[str]:
    """Lines of fenced and indented code blocks, continuations joined."""
    lines, fenced, out = text.splitlines(), False, []
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or (line.startswith("    ") and line.strip().startswith("amlab ")):
            if out and out[-1].endswith("\\"):
                out[-1] = out[-1][:-1] + " " + line.strip()
            else:
                out.append(line.strip())
    return out


def _commands_in_line(line: str) -> list[str]:
    found = []
    for part in re.split(r"&&|;", line):
        part = part.strip()
        if part.startswith("amlab "):
            found.append(part.split(" #")[0].strip())
    return found


def examples(pages: list[Path] = PAGES) -> list[tuple[str, str]]:
    """(where, command) for every example of ``pages``, in document order."""
    out = []
    for page in pages:
        text = page.read_text()
        for line in _code_lines(text):
            out += [(page.name, cmd) for cmd in _commands_in_line(line)]
        for inline in re.findall(r"`(amlab [^`]+)`", text):
            out.append((page.name + " (inline)", inline.strip()))
    return out


def _parses(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def _runnable(where: str, command: str) -> list[str] | None:
    argv = shlex.split(command)[1:]
    if any("..." in tok for tok in argv):
        return None  # "amlab train ... --resume": a pattern, not an example
    if "(inline)" in where and (len(argv) < 2 or any(PLACEHOLDER.search(tok) for tok in argv)
                                or "--help" in argv or not _parses(argv)):
        return None  # a mention of a command or an option, or a pattern (checked below), not an example
    if not torch.cuda.is_available():
        argv = ["cpu" if (prev == "--device" and tok.startswith("cuda")) else tok
                for prev, tok in zip([""] + argv, argv)]
    # input files of the checkout (examples/sweeps/...) are named relative to it; outputs are not
    return [str(REPO / tok) if not tok.startswith(("-", "amlab-out")) and "/" in tok and (REPO / tok).is_file()
            else tok for tok in argv]


def test_the_docs_have_examples():
    found = examples()
    assert len(found) > 20 and any(c.startswith("amlab report") for _, c in found)


def test_every_mentioned_command_exists():
    for where, command in examples():
        name = shlex.split(command)[1]
        assert name.startswith("-") or name in COMMANDS or PLACEHOLDER.search(name), f"{where}: {command}"


def test_every_example_parses():
    failures = []
    for where, command in examples():
        argv = _runnable(where, command)
        if argv is not None and "--help" not in argv and "--version" not in argv and not _parses(argv):
            failures.append(f"{where}: {command}")
    assert not failures, failures


def _pages_with_examples() -> list[Path]:
    return [page for page in PAGES if any(_runnable(w, c) is not None for w, c in examples([page]))]


PAGE_GROUPS = [[p] for p in _pages_with_examples()]  # a test per page: pytest-xdist spreads them
# The pages that run the whole smoke report share one pytest-xdist worker (smoke_memo.REPORT_GROUP),
# so the other worker runs other tests instead of waiting on the lock of the same computation.
RUNS_THE_REPORT = ("README.md", "guide.md", "performance.md")


def _page_param(group: list[Path]):
    marks = [pytest.mark.xdist_group(REPORT_GROUP)] if group[0].name in RUNS_THE_REPORT else []
    return pytest.param(group, id=group[0].name, marks=marks)


@pytest.mark.parametrize("pages", [_page_param(g) for g in PAGE_GROUPS])
def test_every_documented_example_runs_at_smoke_scale(pages, tmp_path, tmp_path_factory, monkeypatch, capsys):
    # every example of the page, in the default run, in document order in one folder (a page's
    # examples build on each other: --resume, --replay)
    share_experiments(monkeypatch, shared_dir(tmp_path_factory))
    _run_examples(tmp_path, monkeypatch, capsys, lambda argv: True, pages)


def test_every_page_with_examples_is_run():
    grouped = [p for group in PAGE_GROUPS for p in group]
    assert sorted(grouped) == sorted(_pages_with_examples()) and len(grouped) == len(set(grouped))
    assert {"README.md", "guide.md"} <= {p.name for p in grouped} and len(grouped) > 5


def _run_examples(tmp_path, monkeypatch, capsys, selected, pages: list[Path] = PAGES):
    from proofs_check import ledger
    from simulations.commands import verify

    # nothing in the checkout is written, whatever an example asks for
    monkeypatch.setattr(ledger, "RECORD_PATH", tmp_path / "recorded_verdicts.json")
    monkeypatch.setattr(verify, "DEFAULT_DOCS", tmp_path / "docs" / "ledger.md")
    monkeypatch.chdir(tmp_path)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the command line's default (conftest makes tests float64)
    seen, failures, timings = set(), [], []
    try:
        for where, command in examples(pages):
            argv = _runnable(where, command)
            if argv is None or tuple(argv) in seen or not selected(argv):
                continue
            seen.add(tuple(argv))
            documented = any(all(tok in argv for tok in key) for key in AT_DOCUMENTED_SCALE)
            if documented:
                monkeypatch.delenv("AMLAB_SCALE", raising=False)
            else:
                monkeypatch.setenv("AMLAB_SCALE", "smoke")
            start = time.perf_counter()
            try:
                code = main(argv)
            except SystemExit as exit_:  # --help, --version, or a usage error
                code = exit_.code
            timings.append((time.perf_counter() - start, command))
            expected = next((c for key, c in EXPECTED_EXIT.items() if all(tok in argv for tok in key)), 0)
            err = capsys.readouterr().err
            if code != expected:
                failures.append(f"{where}: `{command}` exited {code}, not {expected}: {err.strip()[-300:]}")
    finally:
        torch.set_default_dtype(previous)
    timings.sort(reverse=True)
    print("slowest examples:", "; ".join(f"{t:.1f} s {c}" for t, c in timings[:8]))
    assert seen and not failures, "\n".join(failures)
    named = sorted({m for page in pages for m in DOCUMENTED_FILE.findall(page.read_text())})
    # the files under an output folder that the examples run here created
    missing = [path for path in named if (tmp_path / Path(path).parts[0] / Path(path).parts[1]).exists()
               and not (tmp_path / path).exists()]
    assert not missing, f"files the docs name that no example wrote: {missing}"
