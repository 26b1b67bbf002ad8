"""The landing page's findings and the scoreboard: computed from the result files, with the
chapters' own verdicts, and changing when a result file changes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from egd.book import display, findings, modular, parity, plateau
from egd.book.display import Check, Link
from egd.grokking import paper_numbers, runsets, tables
from tests.book.fakes import fake_run

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results"


# --- the pure helpers ------------------------------------------------------------------------------------------


def test_combine_gives_the_chapters_verdicts_one_mark():
    yes, no, undecided = Check("a", True), Check("b", False), Check("c", None)
    assert findings.combine([yes, yes]) == display.HOLDS
    assert findings.combine([no, no]) == display.FAILS
    assert findings.combine([yes, no]) == findings.PARTIAL
    assert findings.combine([yes, undecided]) == display.HOLDS
    assert findings.combine([undecided]) == display.UNDECIDED
    assert findings.combine([]) == display.UNDECIDED


def test_pick_fails_loudly_when_a_chapter_renames_a_claim():
    checks = [Check("exact EGD is fast", True), Check("vanilla is slow", False)]
    assert findings.pick(checks, "EGD", "fast") == checks[:1]
    with pytest.raises(KeyError):
        findings.pick(checks, "RSVD")


def test_seed_range_counts_failures_as_never():
    runs = [fake_run(t95=100, seed=0), fake_run(t95=300, seed=1), fake_run(t95=None, seed=2)]
    assert findings.seed_range(runs) == "300 [100–never], 3 seeds, 2 reached"
    assert findings.seed_range(runs[:2]) == "200 [100–300], 2 seeds"
    assert findings.seed_range(runs[:1]) == "100, 1 seed"
    assert findings.seed_range(runs[2:]) == "never, 1 seed, 0 reached"


def test_findings_table_links_every_row_to_its_chapter():
    f = findings.Finding("claim", "1", "2", display.HOLDS, findings.MODULAR, "Table 2")
    table = findings.findings_table([f])
    assert table.rows[0][-1] == Link("Modular arithmetic", "notebooks/05_modular_arithmetic.html")
    html = table._repr_html_()
    assert '<a class="reference internal" href="notebooks/05_modular_arithmetic.html">Modular arithmetic</a>' in html
    assert "|---" not in html


def test_every_chapter_a_finding_links_to_is_in_the_book():
    toc = (REPO / "book" / "_toc.yml").read_text()
    for chapter in findings.TITLES:
        assert f"notebooks/{chapter}" in toc
        assert (REPO / "notebooks" / f"{chapter}.md").is_file()


def test_scoreboard_lists_every_claim_and_marks_the_missing_ones():
    rows = [findings.Finding("a", "", "", display.HOLDS, findings.MODULAR, "Table 2"),
            findings.Finding("b", "", "", display.FAILS, findings.MODULAR, "Table 2"),
            findings.Finding("c", "", "", display.HOLDS, findings.TOY, "Theorem 1")]
    board = {r.key: r for r in findings.scoreboard(rows)}
    assert list(board) == [key for key, _ in findings.PAPER_CLAIMS]
    assert board["Table 2"].verdict == findings.PARTIAL
    assert board["Figure 1"].verdict == findings.PARTIAL      # the runs of Table 2
    assert board["Theorem 1"].verdict == display.HOLDS
    for key in ("Table 6", "Table 7", "Table 3", "Figure 8"):
        assert board[key].verdict == findings.NOT_IN_BUILD
    table = findings.scoreboard_table(list(board.values()))
    statuses = {row[0]: row[2] for row in table.rows}
    # the two rows name no p: every shape of Table 2 is missing
    assert statuses["Table 2"] == "partly reproduced; p = 79, p = 97, p = 127 not in this build"
    assert statuses["Table 6"] == "not in this build" and statuses["Theorem 1"] == "reproduced"


def test_scoreboard_names_the_shapes_without_a_finding():
    rows = [findings.Finding("Table 3, modular multiplication, p = 97: fast", "", "", display.HOLDS,
                             findings.MODULAR, "Table 3")]
    board = {r.key: r for r in findings.scoreboard(rows)}
    assert board["Table 3"].missing == ("p = 79, p = 127",)
    assert board["Table 3"].status == "reproduced; p = 79, p = 127 not in this build"


def test_a_later_chapters_module_adds_its_rows(monkeypatch, tmp_path):
    import sys
    import types

    monkeypatch.setattr(findings, "EXTRA_SOURCES", {})
    monkeypatch.setattr(findings, "LATER_MODULES", ("egd_test_later_chapter", "egd_test_no_such_module"))
    module = types.ModuleType("egd_test_later_chapter")
    module.__spec__ = types.SimpleNamespace(name="egd_test_later_chapter")
    module.findings = lambda folder: [findings.Finding("transformer", "980", "–", display.UNDECIDED,
                                                       "10_appendix_d", "Table 7")]
    monkeypatch.setitem(sys.modules, "egd_test_later_chapter", module)
    assert [f.key for f in findings.extra_findings(tmp_path)] == ["Table 7"]


def test_a_registered_chapter_fills_its_claims(monkeypatch, tmp_path):
    monkeypatch.setattr(findings, "EXTRA_SOURCES", {})
    monkeypatch.setattr(findings, "LATER_MODULES", ())
    assert findings.extra_findings(tmp_path) == []
    findings.register("appendix D", lambda folder: [
        findings.Finding("MNIST", "700", "650", display.HOLDS, "10_appendix_d", "Table 6")])
    extra = findings.extra_findings(tmp_path)
    board = {r.key: r for r in findings.scoreboard(extra)}
    assert board["Table 6"].verdict == display.HOLDS
    assert board["Table 7"].verdict == findings.NOT_IN_BUILD


# --- rows of the committed results -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed():
    return findings.real_task_findings(RESULTS)


def test_rows_for_the_committed_results(committed):
    claims = [f.claim for f in committed]
    for p in (79, 97, 127):
        assert any(c.startswith(f"Table 2, addition, p = {p}:") for c in claims)
    assert any(c.startswith("Table 3, multiplication, p = 97:") for c in claims)
    assert any(c.startswith("Table 4, parity (n, k) = (100, 3): exact EGD") for c in claims)
    assert any("RSVD" in c for c in claims)
    assert any(c.startswith("Figure 4") for c in claims)
    for f in committed:
        assert f.verdict in (display.HOLDS, display.FAILS, findings.PARTIAL, display.UNDECIDED)
        assert f.chapter in findings.TITLES
        assert not re.search(r"\bissue\b|acceptance|our goal|\b_[a-z]", f"{f.claim} {f.paper} {f.ours}")


def test_modular_verdicts_are_the_chapters(committed):
    for task, key in (("mod-add", "Table 2"), ("mod-mul", "Table 3")):
        runs = findings.load_runs(task, RESULTS)
        checks = modular.modular_checks(tables.comparison_rows(runs), task)
        for f in (f for f in committed if f.key == key):
            p = int(re.search(r"p = (\d+)", f.claim).group(1))
            where = f"p = {p}: "
            mine = [c for c in checks if where in c.claim and ("sooner than vanilla (epochs)" in c.claim
                                                              or "that speed-up" in c.claim)]
            assert len(mine) == 2
            assert f.verdict == findings.combine(mine)


def test_parity_verdicts_are_the_chapters(committed):
    runs = findings.load_runs("parity", RESULTS)
    checks = parity.checks_by_shape(tables.comparison_rows(runs), runs)
    egd_row = next(f for f in committed if f.key == "Table 4" and "exact EGD groks within" in f.claim)
    mine = [c for c in checks if c.claim.startswith(("(n, k) = (100, 3): exact EGD's median",
                                                     "(n, k) = (100, 3): exact EGD reaches 95% within",
                                                     "(n, k) = (100, 3): vanilla's median"))]
    assert len(mine) == 3
    assert egd_row.verdict == findings.combine(mine)
    paper = paper_numbers.paper_epochs("parity", "egd-svd", n=100, k=3)
    assert egd_row.paper.startswith(f"{paper} epochs (vanilla")
    assert "10 seeds" in egd_row.ours


def test_figure4_verdict_is_the_chapters(committed):
    configs = [runsets.modular_config("mod-add", 97, m, None, 0) for m in ("vanilla", "egd-svd")]
    vanilla, egd = runsets.load_finished(configs, RESULTS)
    rows = plateau.plateau_rows([vanilla, egd])
    checks = plateau.plateau_checks(rows, plateau.decay_rate(vanilla), plateau.max_input_overlap(vanilla.config))
    ill = next(c for c in checks if "ill-conditioned (median" in c.claim)
    row = next(f for f in committed if f.claim.startswith("Figure 4"))
    assert row.verdict == display.mark(ill.holds)


# --- a changed result file changes the table ---------------------------------------------------------------------


def _copy_runs(folder: Path, pattern: str) -> None:
    for path in RESULTS.glob(pattern):
        shutil.copy(path, folder / path.name)


def test_a_changed_result_changes_the_findings(tmp_path):
    _copy_runs(tmp_path, "mod-add-p97-*")
    before = findings.modular_findings(tmp_path)
    assert [f.claim.split(":")[0] for f in before] == ["Table 2, addition, p = 97"]
    assert before[0].verdict == display.HOLDS
    # exact EGD's runs now reach 95% only after 4,000 epochs: barely faster than vanilla
    for path in tmp_path.glob("mod-add-p97-egd-svd-s*.json"):
        record = json.loads(path.read_text())
        record["summary"]["epochs_to_threshold"] = 4000
        path.write_text(json.dumps(record))
    after = findings.modular_findings(tmp_path)
    assert after[0].ours != before[0].ours
    assert "EGD 4,000 [4,000–4,000], 3 seeds" in after[0].ours
    assert after[0].verdict == display.FAILS
    html = findings.findings_table(after)._repr_html_()
    assert "4,000" in html and "4,000" not in findings.findings_table(before)._repr_html_()


def test_missing_results_leave_their_claims_out_of_this_build(tmp_path):
    assert findings.real_task_findings(tmp_path) == []
    assert findings.validation_findings("quick", tmp_path) == []
    board = {r.key: r for r in findings.scoreboard(findings.real_task_findings(tmp_path))}
    assert board["Table 2"].verdict == findings.NOT_IN_BUILD
    assert board["Table 2"].status == findings.NOT_IN_BUILD


def test_a_finding_may_bear_on_several_claims_or_on_none_of_the_papers():
    rows = [findings.Finding("curves", "", "", findings.PARTIAL, findings.SIMULATION, "Figure 6", also=("Theorem 1",)),
            findings.Finding("sign", "", "", display.FAILS, findings.TOY, "Theorem 1"),
            findings.Finding("extra", "", "", display.HOLDS, findings.PLATEAU, findings.BEYOND_THE_PAPER)]
    board = {r.key: r for r in findings.scoreboard(rows)}
    assert board["Theorem 1"].verdict == findings.PARTIAL and board["Theorem 1"].findings.startswith("2 findings")
    assert board["Figure 6"].verdict == findings.PARTIAL
    assert findings.BEYOND_THE_PAPER not in board
    assert board["Figure 4"].verdict == findings.NOT_IN_BUILD


def test_a_figure_of_a_tables_runs_names_that_tables_missing_shapes():
    rows = [findings.Finding(f"Table 2, modular addition, p = {p}: fast", "", "", display.HOLDS, findings.MODULAR,
                             "Table 2") for p in (79, 97, 127)]
    rows.append(findings.Finding("Table 3, modular multiplication, p = 97: fast", "", "", display.HOLDS,
                                 findings.MODULAR, "Table 3"))
    board = {r.key: r for r in findings.scoreboard(rows)}
    assert board["Table 2"].status == "reproduced"
    assert board["Figure 1"].missing == ("Table 3 at p = 79, p = 127",)
    assert board["Figure 1"].status == "reproduced; Table 3 at p = 79, p = 127 not in this build"


def test_toy_verdicts_are_the_chapters():
    from egd.book import toy

    checks = toy.theory_checks(tau=toy.tau_comparison(), scan=toy.escape_scan(toy.eps_grid("quick")),
                               sign=toy.sign_check(), integrals=toy.a3_integrals(),
                               eigen=toy.a3_eigenvalue_ranges(), a3=toy.a3_escape())
    by_claim = {c.claim: c for c in checks}
    rows = {f.claim: f for f in findings.toy_findings("quick")}
    expect = {"Corollary 1: the plateau ratio τ, with tan θ": "Corollary 1: the plateau ratio \\(\\tau\\)",
              "A.3: the moment integrals as printed": "A.3: the moment integrals",
              "EGD proper (Eq. 11) removes ε from the toy's plateau":
                  "EGD (Eq. 11) removes the \\(\\varepsilon\\)-dependence of the escape time"}
    for mine, chapter in expect.items():
        assert rows[mine].verdict == display.mark(by_claim[chapter].holds)
        assert rows[mine].ours == by_claim[chapter].ours
    assert all(f.chapter == findings.TOY for f in rows.values())


def test_pick_optional_allows_a_check_the_chapter_makes_only_with_some_runs():
    assert findings.pick([Check("a", True)], "b", optional=True) == []


def test_parity_rows_without_vanilla_runs(tmp_path):
    _copy_runs(tmp_path, "parity-n100k3-egd-svd-s*")
    _copy_runs(tmp_path, "parity-n100k3-egd-rsvd40-s*")
    rows = findings.parity_findings(tmp_path)
    assert [f.claim.split(": ")[1] for f in rows] == ["exact EGD groks within 300 epochs",
                                                      "RSVD groks sooner than vanilla SGD at every rank"]
    assert rows[1].verdict == display.UNDECIDED and "vanilla –" not in rows[0].ours
