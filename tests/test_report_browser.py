"""The report page in a real headless Chromium: every image loads, no console error, no failed
request, and a screenshot.

The screenshot goes to a temporary folder; with ``AMLAB_WRITE_SCREENSHOT=1`` the top of the page is
written to ``docs/figures/report-screenshot.png`` instead (CI must leave ``git status`` clean, so
it never sets it). Without ``/usr/bin/chromium`` the test skips, except under CI (``CI`` set to a
true value), where a missing browser, or missing playwright, is a failure.

The page is a smoke-scale report of every experiment (the records and figures are the docs examples'
own, computed once per session: :mod:`smoke_memo`). The sympy checks (half a minute) are left out
of its ledger unless the screenshot is for the docs: they add rows, not kinds of markup.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from proofs_check import ledger
from simulations import report, report_browser
from smoke_memo import REPORT_GROUP, share_experiments, shared_dir

DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "report-screenshot.png"
DOCS_HEIGHT = 3200  # px of the page's top that the docs screenshot shows


def _for_docs() -> bool:
    return os.environ.get("AMLAB_WRITE_SCREENSHOT") == "1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require_browser() -> None:
    """Skip without Chromium (outside CI); fail under CI without Chromium or playwright."""
    if not report_browser.CHROMIUM.exists():
        if _in_ci():
            pytest.fail(f"CI is set but {report_browser.CHROMIUM} is missing (apt-get install -y chromium)")
        pytest.skip(f"{report_browser.CHROMIUM} not installed (apt-get install -y chromium); "
                    "under CI=true this is a failure")
    if _in_ci():
        import playwright.sync_api  # noqa: F401  (an ImportError in CI is a failure, not a skip)
    else:
        pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")


def _experiment_rows_only():
    return (lambda subject=None, baseline=None: []), ledger.build_ledger


@pytest.mark.xdist_group(REPORT_GROUP)  # after the docs' report examples, on their worker
def test_report_renders_in_chromium_with_every_image_and_no_error(tmp_path, tmp_path_factory, monkeypatch):
    _require_browser()
    share_experiments(monkeypatch, shared_dir(tmp_path_factory))  # the docs examples' smoke runs
    out = tmp_path / "report"
    if not _for_docs():
        monkeypatch.setattr(report, "load_ledger_api", _experiment_rows_only)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # the command line's default, as the docs examples run it
    try:
        result = report.run_report(out, scale="smoke", device="auto", progress=False)
    finally:
        torch.set_default_dtype(previous)
    assert all(o.ok for o in result["outcomes"]), [o.error for o in result["outcomes"] if not o.ok]
    target = DOCS_SCREENSHOT if _for_docs() else tmp_path / "report.png"
    check = report_browser.render(out, target, clip_height=DOCS_HEIGHT if _for_docs() else None)
    figures = sum(1 for o in result["outcomes"] for p in o.figures if p.suffix == ".png")
    assert len(check.images) == figures >= 10  # every figure of every experiment is on the page
    assert not check.problems(), check.problems()  # images loaded, no console error, no failed request
    assert {"ledger", "overview", "exp-toys", "exp-escape", "exp-regret", "exp-nonconvex",
            "ledger-evidence"} <= set(check.section_ids)
    assert check.tooltips > 0  # the interactive charts carry their tooltips
    assert target.stat().st_size > 50_000  # a real screenshot, not a blank page


def test_a_broken_image_is_reported(tmp_path):
    """The check can fail: a page whose image is missing says so."""
    _require_browser()
    (tmp_path / "index.html").write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head>'
                                         '<body><img src="missing.png" alt="x"></body></html>')
    check = report_browser.render(tmp_path, tmp_path / "shot.png")
    assert check.broken_images == ["missing.png"]
    assert any("missing.png" in p for p in check.problems())
