"""``amlab report``: the HTML page, with the experiments and the ledger replaced by small fakes."""
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from simulations import report
from simulations.cli import main
from simulations.experiments import Outcome


class PageParser(HTMLParser):
    """Collects image sources, sections and their text, tables."""

    def __init__(self):
        super().__init__()
        self.images, self.sections, self.tables, self._stack = [], {}, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
            for section in self._stack:
                self.sections[section]["images"] += 1
        if tag == "section":
            self._stack.append(attrs.get("id"))
            self.sections[attrs.get("id")] = {"text": "", "images": 0, "tables": 0}
        if tag == "table":
            self.tables += 1
            for section in self._stack:
                self.sections[section]["tables"] += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self._stack.pop()

    def handle_data(self, data):
        for section in self._stack:
            self.sections[section]["text"] += data


def fake_runner(name, scale, device, progress=False, out=None, subject="adamomentum", baseline="adam"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if name == "escape":
        return Outcome(name, error="RuntimeError: simulated failure\nTraceback ...", seconds=0.1)
    figure = out / f"{name}_plot.png"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    rows = [{"claim": f"claim-{name}", "verdict": "holds", "method": "simulation", "evidence": f"{name} <ok> & fine"}]
    return Outcome(name, record={"experiment": name}, rows=rows, figures=[out / f"{name}.json", figure], seconds=0.2)


def fake_ledger_api():
    def symbolic_rows(subject="adamomentum", baseline="adam"):
        return [{"claim": "eq-2", "verdict": "proved", "method": "symbolic", "evidence": "sympy"}]

    def build_ledger(rows, missing, subject="adamomentum", baseline="adam"):
        # the shape of proofs_check.ledger.build_ledger: methods (list) and the source rows
        combined = [{"claim": r["claim"], "where": "somewhere", "statement": "a statement", "verdict": r["verdict"],
                     "methods": [r["method"]], "rows": [r]} for r in rows]
        combined += [{"claim": f"from-{name}", "where": "", "statement": "", "verdict": "unchecked",
                      "methods": [], "rows": [], "reason": f"experiment failed: {err.splitlines()[0]}"}
                     for name, err in missing.items()]
        return combined
    return symbolic_rows, build_ledger


def _run(tmp_path, monkeypatch, ledger_api=fake_ledger_api):
    monkeypatch.setattr(report, "run_experiment", fake_runner)
    monkeypatch.setattr(report, "load_ledger_api", ledger_api)
    result = report.run_report(tmp_path / "rep", scale="quick", device="cpu", progress=False,
                               experiments=("toys", "escape", "regret"))
    page = result["index"].read_text()
    parser = PageParser()
    parser.feed(page)
    return result, page, parser


def test_page_references_only_existing_images_and_no_empty_section(tmp_path, monkeypatch):
    result, page, parser = _run(tmp_path, monkeypatch)
    out = tmp_path / "rep"
    assert parser.images, "the page shows the figures"
    for src in parser.images:
        assert not src.startswith(("http:", "https:", "/")), src  # relative, offline
        assert (out / src).is_file(), src
    assert sorted(parser.images) == ["regret/regret_plot.png", "toys/toys_plot.png"]
    for name, section in parser.sections.items():
        assert section["text"].strip() or section["images"], f"section {name} is empty"
    assert not re.search(r"<(link|script)\b", page)  # no external CSS/JS
    assert "<ok> & fine" not in page and "&lt;ok&gt; &amp; fine" in page  # evidence is escaped


def test_ledger_table_and_failed_experiment_are_shown(tmp_path, monkeypatch):
    result, page, parser = _run(tmp_path, monkeypatch)
    ledger = parser.sections["ledger"]
    assert ledger["tables"] == 1 and "eq-2" in ledger["text"] and "claim-toys" in ledger["text"]
    assert "from-escape" in ledger["text"]  # the failed experiment reached build_ledger as missing
    evidence = parser.sections["ledger-evidence"]  # the full table, with evidence, ends the page
    assert evidence["tables"] == 1 and "simulated failure" in evidence["text"] and "sympy" in evidence["text"]
    escape = parser.sections["exp-escape"]
    assert "FAILED" in escape["text"] and "simulated failure" in escape["text"]
    assert "ok" in parser.sections["exp-toys"]["text"]
    assert (tmp_path / "rep" / "report.json").exists()


def test_missing_ledger_module_does_not_break_the_page(tmp_path, monkeypatch):
    def broken():
        raise ModuleNotFoundError("No module named 'proofs_check.ledger'")
    result, page, parser = _run(tmp_path, monkeypatch, ledger_api=broken)
    ledger = parser.sections["ledger"]
    assert result["ledger_error"] and "FAILED" in ledger["text"] and "proofs_check.ledger" in ledger["text"]
    assert ledger["tables"] == 1 and "claim-toys" in ledger["text"]  # the raw rows are still listed


def test_report_command_exit_code_and_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "run_experiment", fake_runner)
    monkeypatch.setattr(report, "load_ledger_api", fake_ledger_api)
    code = main(["report", "--quick", "--out", str(tmp_path / "r"), "--no-progress", "--only", "toys,escape"])
    assert code == 1  # escape failed: the command says so, and the page is still written
    assert (tmp_path / "r" / "index.html").exists()
    assert "escape: FAILED" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        main(["report", "--quick", "--full"])
    assert err.value.code == 2


def test_toys_headline_table_renders():
    from simulations.toys import experiment as toys
    config = toys.ToyConfig(steps=20, starts=2, seeds=1, functions=("sphere",))
    record = toys.run_experiment(config, None, device="cpu")
    outcome = Outcome("toys", record=record, rows=toys.ledger_rows(record))
    html = report.headline(outcome)
    assert "<table>" in html and "Sphere" in html and "adamomentum" in html


def test_real_ledger_entries_render_with_evidence():
    ledger = pytest.importorskip("proofs_check.ledger")
    row = {"claim": "sec3.1-area-A", "verdict": "holds", "method": "simulation", "evidence": "true in 36/36 cases"}
    entries = ledger.build_ledger([row], missing={"escape": "RuntimeError: boom"})
    page = report.ledger_table(entries)
    assert "true in 36/36 cases" in page and "simulation" in page
