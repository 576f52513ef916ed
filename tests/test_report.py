"""``amlab report``: the HTML page, with the experiments and the ledger replaced by small fakes."""
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from simulations import experiments, report, report_evidence
from simulations.cli import main
from simulations.experiments import Outcome
from smoke_memo import share_symbolic_checks, shared_dir


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
    monkeypatch.setattr(experiments, "run_experiment", fake_runner)
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
    assert not re.search(r"<script\b", page)  # no JavaScript
    assert re.findall(r"<link\b[^>]*>", page) == ['<link rel="icon" href="data:,">']  # no external CSS, no favicon fetch
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
    monkeypatch.setattr(experiments, "run_experiment", fake_runner)
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


# --- the page's structure: one verdict per claim, rows as evidence under it -------------------------

class LinkParser(HTMLParser):
    """Every id, every in-page link, the <details> folds and their summaries."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.summaries, self.details, self._in_summary = set(), [], [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag == "details":
            self.details += 1
        if tag == "summary":
            self._in_summary = True
            self.summaries.append("")

    def handle_endtag(self, tag):
        if tag == "summary":
            self._in_summary = False

    def handle_data(self, data):
        if self._in_summary:
            self.summaries[-1] += data


LONG_EVIDENCE = ("Theorem 1 as literally stated fails on the tight problem. " + "x = 1.5, regret 12.3; " * 45).strip()
assert len(LONG_EVIDENCE) > 900


def rows_runner(name, scale, device, progress=False, out=None, subject="adamomentum", baseline="adam"):
    """Rows with real claim ids whose own verdicts differ from the combined one."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {"regret": [{"claim": "theorem-1", "verdict": "assumption-violated", "method": "simulation",
                        "evidence": "hypotheses fail in 3 of 4 configs", "details": {}},
                       {"claim": "theorem-1", "verdict": "holds", "method": "simulation",
                        "evidence": "R(T) below the right-hand side", "details": {}},
                       {"claim": "theorem-1", "verdict": "fails", "method": "simulation",
                        "evidence": LONG_EVIDENCE, "details": {}},
                       {"claim": "theorem-1", "verdict": "fails", "method": "numeric",
                        "evidence": "a step of the proof is false", "details": {"scope": "step"}}],
            "escape": [{"claim": "proposition-1", "verdict": "assumption-violated", "method": "simulation",
                        "evidence": "Assumption 5 fails on every case", "details": {}}]}[name]
    return Outcome(name, record={"experiment": name}, rows=rows, seconds=0.1)


def real_ledger_with_one_symbolic_row():
    ledger = pytest.importorskip("proofs_check.ledger")

    def symbolic_rows(subject="adamomentum", baseline="adam"):
        return [{"claim": "proposition-1", "verdict": "unsatisfiable", "method": "numeric",
                 "evidence": "Assumptions 4 and 5 cannot hold together", "details": {}}]
    return symbolic_rows, ledger.build_ledger


@pytest.fixture
def evidence_page(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "run_experiment", rows_runner)
    monkeypatch.setattr(report, "load_ledger_api", real_ledger_with_one_symbolic_row)
    result = report.run_report(tmp_path / "rep", scale="smoke", device="cpu", progress=False,
                               experiments=("regret", "escape"))
    page = result["index"].read_text()
    sections, links = PageParser(), LinkParser()
    sections.feed(page)
    links.feed(page)
    return result, page, sections, links


def test_every_in_page_link_resolves_and_each_section_links_to_the_headline_ledger(evidence_page):
    result, page, sections, links = evidence_page
    assert set(links.links) <= links.ids, set(links.links) - links.ids
    for name in ("regret", "escape"):
        section = page[page.index(f'<section id="exp-{name}">'):]
        section = section[:section.index("</section>")]
        assert 'href="#ledger"' in section
    assert {"claim-theorem-1", "claim-proposition-1", "evidence-theorem-1", "exp-regret-theorem-1",
            "exp-escape-proposition-1"} <= links.ids
    # the headline ledger links back to the experiments that fed each claim
    headline = page[page.index('<tr id="claim-theorem-1">'):]
    assert 'href="#exp-regret-theorem-1"' in headline[:headline.index("</tr>")]


def test_rows_are_evidence_under_their_claim_with_why_they_differ(evidence_page):
    result, page, sections, links = evidence_page
    verdicts = {e["claim"]: e["verdict"] for e in result["ledger"]}
    assert verdicts["theorem-1"] == "fails" and verdicts["proposition-1"] == "unsatisfiable"
    regret = sections.sections["exp-regret"]["text"]
    assert "Evidence for claim theorem-1 (headline verdict: fails)" in " ".join(regret.split())
    rules = report_evidence.combination_rules()
    text = " ".join(regret.split())
    assert f"ledger rule {rules['fails']}: another row is a reproducible counterexample, which outranks " \
           "assumption-violated" in text
    assert "which outranks holds" in text
    assert f"proof step: about the printed proof, never decides the statement (ledger rule {rules['step']})" in text
    assert text.count("agrees with the headline verdict") == 1  # the claim-scoped fails row
    escape = " ".join(sections.sections["exp-escape"]["text"].split())
    assert "Evidence for claim proposition-1 (headline verdict: unsatisfiable)" in escape
    assert f"ledger rule {rules['unsatisfiable']}: another row finds the hypotheses cannot hold together" in escape
    # The experiment sections hold no verdict table of their own: every verdict shown there is
    # either a headline verdict or a row's finding next to its explanation.
    assert "<h3>Ledger rows from this experiment</h3>" not in page


def test_long_evidence_is_folded_under_a_one_line_summary(evidence_page):
    result, page, sections, links = evidence_page
    assert links.details >= 2  # in the experiment section and in the full ledger
    assert all(0 < len(s) <= report_evidence.SUMMARY_CHARS for s in links.summaries), links.summaries
    assert "Theorem 1 as literally stated fails on the tight problem." in links.summaries
    assert LONG_EVIDENCE in page  # folded, not cut: the whole text is one click away
    assert '<details class="ev"><summary>' in page


def test_summary_line_is_the_first_line_or_sentence_within_the_limit():
    summary = report_evidence.summary_line
    assert summary("One. Two.") == "One."
    assert summary("The SaS noise of eq. (3) is used. More.") == "The SaS noise of eq. (3) is used."
    assert summary("value 0.5 is fine. Next") == "value 0.5 is fine."
    assert summary("At theta* with i.i.d. noise, E v = b1. Then") == "At theta* with i.i.d. noise, E v = b1."
    assert summary("first line\nsecond line") == "first line"
    long = summary("word " * 100)
    assert len(long) <= 120 and long.endswith("…") and not long[:-1].endswith(" ")
    assert not report_evidence.needs_folding("short text") and report_evidence.needs_folding("One. Two.")


def test_rule_numbers_are_read_from_the_ledger_docstring():
    ledger = pytest.importorskip("proofs_check.ledger")
    rules = report_evidence.combination_rules()
    for verdict in ("unsatisfiable", "fails", "assumption-violated", "proved", "holds", "step"):
        assert verdict in rules, rules
    doc = ledger.__doc__
    assert re.search(rf"^{rules['fails']}\. else any claim-scoped ``fails`` -> ``fails``", doc, re.M)
    assert re.search(rf"^{rules['step']}\. .*step-scoped", doc, re.M)
    # a renumbered docstring is followed, not contradicted
    assert report_evidence.combination_rules("1. any claim-scoped ``fails`` -> ``fails``\n2. else ``holds``\n") == \
        {"fails": 1, "holds": 2}


def test_row_role_for_each_relation_to_the_headline():
    role = report_evidence.row_role
    rules = {"unsatisfiable": 1, "fails": 2, "assumption-violated": 3, "step": 5, "proved": 6, "holds": 7}
    assert role({"verdict": "holds"}, "holds", rules) == "agrees with the headline verdict (ledger rule 7)"
    assert role({"verdict": "holds"}, "proved", rules).startswith("ledger rule 6: the measurement agrees")
    assert role({"verdict": "holds"}, "assumption-violated", rules).startswith("ledger rule 3")
    assert role({"verdict": "proved", "details": {"scope": "step"}}, "unchecked", rules).startswith("proof step")
    assert role({"verdict": "unchecked"}, "holds", rules).startswith("inconclusive")
    assert role({"verdict": "holds"}, None, rules).startswith("headline verdict not available")


# --- the interactive charts: inline SVG, one tooltip per point --------------------------------------

def test_regret_chart_is_valid_svg_with_a_tooltip_per_point_and_the_bound_in_its_legend():
    import xml.etree.ElementTree as ET
    from simulations import report_svg

    T = [10, 100, 1000]
    summary = {"preset": "tight", "member": "adamomentum", "optimizer": {"lr": 0.3}, "bias_correction": False,
               "checkpoints": T, "regret_mean_curve": [3.0, 10.0, 31.0],
               "theorem1": {"rhs_mean_curve": ["8.0", "25.0", "inf"]}}
    svg, = report_svg.regret_charts({"results": {"summaries": [summary]}})
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    tips = [c.find(f"{ns}title").text for c in root.iter(f"{ns}circle")]
    assert len(tips) == 3 + 2  # the infinite right-hand side point is left out, not drawn at the edge
    assert "adamomentum (lr 0.3): T=100, R(T)=10, R(T)/T=0.1" in tips
    legend = [t.text for t in root.iter(f"{ns}text")]
    assert "Theorem 1 RHS adamomentum (lr 0.3)" in legend and "T (rounds)" in legend
    dashed = [p for p in root.iter(f"{ns}polyline") if p.get("stroke-dasharray")]
    assert len(dashed) == 1


def test_escape_charts_name_each_case_in_its_tooltip():
    from simulations import report_svg

    record = {"results": {"prop1": {"summary": {"table": [
        {"key": "sde:flat/noise-dominated", "assumptions_hold": False, "ratio": {"estimate": 0.5, "low": 0.4,
                                                                                  "high": 0.6}},
        {"key": "sde:sharp/noise-dominated", "assumptions_hold": True, "ratio": {"estimate": None, "high": 2.0}},
        {"key": "discrete:flat/noise-dominated", "assumptions_hold": True, "ratio": None}]}},
        "alpha": {"summary": {"table": [{"alpha": 1.5, "measured": {"flow": 20.0}, "predicted": {"flow": 25.0}}]}}}}
    prop1, alpha = report_svg.escape_charts(record)
    assert "case 1 sde:flat/noise-dominated: estimate 0.5, 95% CI [0.4, 0.6]" in prop1
    assert "case 2 sde:sharp/noise-dominated: upper bound (none escaped) 2" in prop1
    assert "Proposition 1 predicts &gt;= 1" in prop1
    assert "flow predicted: alpha=1.5, E Gamma=25" in alpha
    assert report_svg.charts_for("toys", record) == []


def test_parallel_report_gives_the_serial_records(tmp_path, tmp_path_factory, monkeypatch):
    """--jobs 2 runs the experiments in workers (spawned under pytest-xdist, whose workers have
    threads; ``tests/test_worker_start.py`` checks the forked start); every ledger row (verdicts and evidence
    numbers) and every record equals the in-process run's. Under the command line's float32 default.
    (verify goes through the same run_experiment_units; its parent side is the next test's.)"""
    import json

    import torch

    pools = []

    class CountedPool(experiments.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(experiments, "ProcessPoolExecutor", CountedPool)
    # the sympy checks run in this process either way; they are computed once per session
    share_symbolic_checks(monkeypatch, shared_dir(tmp_path_factory))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        for jobs in ("1", "2"):
            argv = ["--scale", "smoke", "--jobs", jobs, "--no-progress"]
            assert main(["report", "--only", "toys,escape", "--out", str(tmp_path / f"report{jobs}"), *argv]) == 0
    finally:
        torch.set_default_dtype(previous)
    assert pools == [2]  # the --jobs 2 run went through the pool, the --jobs 1 run did not

    def strip(value):  # wall-clock figures differ run to run; everything else must not
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "path_steps_per_second")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    serial, parallel = (json.loads((tmp_path / f"report{j}" / "report.json").read_text()) for j in "12")
    assert strip(serial["ledger"]) == strip(parallel["ledger"])
    for name in ("toys", "escape"):
        one, two = strip(serial["experiments"][name]), strip(parallel["experiments"][name])
        assert [Path(f).relative_to(tmp_path / "report1") for f in one.pop("figures")] == \
            [Path(f).relative_to(tmp_path / "report2") for f in two.pop("figures")]
        assert one == two
        assert (tmp_path / "report2" / name).is_dir()


def test_a_bad_jobs_count_is_refused_before_work(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--jobs", "0", "--out", str(tmp_path / "r")])
    assert exit_.value.code == 2 and "--jobs" in capsys.readouterr().err
    monkeypatch.setenv("AMLAB_JOBS", "two")
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--scale", "smoke", "--out", str(tmp_path / "v")])
    assert exit_.value.code == 2 and "AMLAB_JOBS" in capsys.readouterr().err
    assert not (tmp_path / "v" / "checkpoints").exists()


def test_pool_checkpoints_as_results_arrive_and_reruns_what_a_dead_worker_left(tmp_path, monkeypatch):
    """The parent's side of --jobs, with an in-process stand-in for the pool: results arriving in
    any order are checkpointed as they come and reported in list order; experiments whose worker
    died (BrokenProcessPool) run in the parent, so the outcome is that of a serial run."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from simulations.checkpoints import UnitStore

    for name, module in experiments.EXPERIMENT_MODULES.items():
        monkeypatch.setattr(module, "run_scale", lambda name=name, **kw: {"name": name, "in": os.getpid()})
        monkeypatch.setattr(module, "ledger_rows", lambda record: [{"claim": record["name"], "verdict": "holds"}])
    dies = {"toys", "regret"}

    class StandIn:
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, name, **kwargs):
            future = Future()
            if name in dies:
                future.set_exception(BrokenProcessPool("a worker died"))
            else:
                future.set_result(fn(name, **kwargs))
            return future

        def shutdown(self, **kwargs):
            pass

    monkeypatch.setattr(experiments, "ProcessPoolExecutor", StandIn)
    store = UnitStore(tmp_path / "units", {"config": 1})
    seen = []
    outcomes = experiments.run_experiment_units(store, ["toys", "escape", "regret", "search"], jobs=2,
                                                on_done=lambda o: seen.append(o.name),
                                                meanwhile=lambda: seen.append("meanwhile"), scale="smoke",
                                                device="cpu", progress=False, subject="adamomentum",
                                                baseline="adam")
    assert seen == ["meanwhile", "toys", "escape", "regret", "search"]  # verify's symbolic rows come first
    assert [o.name for o in outcomes] == seen[1:]
    assert all(o.ok and o.rows == [{"claim": o.name, "verdict": "holds"}] for o in outcomes), [o.error for o in outcomes]
    assert all(store.has(name) for name in seen[1:])
