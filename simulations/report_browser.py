"""Open a report page in headless Chromium (through playwright) and say what a reader would see.

:func:`render` serves the report folder over ``http://127.0.0.1`` from a thread, loads
``index.html``, collects every image's load state, console errors, failed requests and HTTP errors,
and saves a screenshot. ``python -m simulations.report_browser REPORT_DIR OUTPUT_PNG`` does the same
from the command line (``docs/screenshot.sh`` calls it) and exits 1 when the page has a problem.

Chromium is Debian's (``/usr/bin/chromium``; ``apt-get install -y chromium``): playwright's own
browser download is not needed. The page is offline, so the network features that would try to
reach the outside are switched off (on a closed network their connections are refused).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT = {"width": 1280, "height": 900}


@dataclass
class PageCheck:
    """What loading the page showed."""

    images: list = field(default_factory=list)  # [src, complete, naturalWidth]
    console_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    bad_responses: list = field(default_factory=list)
    section_ids: list = field(default_factory=list)
    tooltips: int = 0  # <title> elements inside the interactive charts

    @property
    def broken_images(self) -> list:
        return [src for src, complete, width in self.images if not complete or not width]

    def problems(self) -> list[str]:
        return ([f"image did not load: {src}" for src in self.broken_images]
                + [f"console error: {e}" for e in self.console_errors]
                + [f"request failed: {r}" for r in self.failed_requests]
                + [f"HTTP error: {r}" for r in self.bad_responses])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # problems are collected from the browser's side
        pass


@contextlib.contextmanager
def serve(directory: str | Path):
    """``http://127.0.0.1:PORT/`` serving ``directory`` from a daemon thread, for the duration."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def render(report_dir: str | Path, screenshot: str | Path, clip_height: int | None = None,
           chromium: str | Path = CHROMIUM) -> PageCheck:
    """Load ``report_dir/index.html`` in headless Chromium; save a full-page screenshot (or the top
    ``clip_height`` pixels) to ``screenshot``; return what the page showed."""
    from playwright.sync_api import sync_playwright

    report_dir = Path(report_dir)
    if not (report_dir / "index.html").is_file():
        raise ValueError(f"report_dir: no index.html in {report_dir} (run amlab report first)")
    if clip_height is not None and clip_height < 1:
        raise ValueError(f"clip_height must be a positive number of pixels, got {clip_height}")
    check = PageCheck()
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with serve(report_dir) as base, tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(profile, executable_path=str(chromium), headless=True,
                                                        args=list(CHROMIUM_ARGS), viewport=VIEWPORT)
        try:
            page = browser.new_page()
            page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda err: check.console_errors.append(str(err)))
            page.on("requestfailed", lambda req: check.failed_requests.append(f"{req.url}: {req.failure}"))
            page.on("response", lambda resp: check.bad_responses.append(f"{resp.url}: {resp.status}")
                    if resp.status >= 400 else None)
            page.goto(base + "index.html", wait_until="load")
            check.images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])")
            check.section_ids = page.eval_on_selector_all("section[id]", "els => els.map(e => e.id)")
            check.tooltips = page.eval_on_selector_all("details.interactive svg title", "els => els.length")
            if clip_height is None:
                page.screenshot(path=str(screenshot), full_page=True)
            else:
                page.screenshot(path=str(screenshot), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                                            "height": clip_height})
        finally:
            browser.close()
    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulations.report_browser", description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", help="a folder written by amlab report / amlab audit (holds index.html)")
    parser.add_argument("output_png", help="where to save the screenshot")
    parser.add_argument("--height", type=int, default=None,
                        help="save only the top HEIGHT pixels (default: the whole page)")
    parser.add_argument("--chromium", default=str(CHROMIUM), help=f"the browser binary (default: {CHROMIUM})")
    args = parser.parse_args(argv)
    try:
        check = render(args.report_dir, args.output_png, args.height, args.chromium)
    except ValueError as err:
        parser.error(str(err))
    problems = check.problems()
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{args.output_png}: {len(check.images)} images, {len(check.section_ids)} sections, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
