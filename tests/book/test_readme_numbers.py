"""The README's "which variant when" numbers, recomputed from the committed runs."""

import re
from pathlib import Path

from egd.book import stall
from egd.book.display import fmt_epochs
from egd.grokking import runsets

ROOT = Path(__file__).resolve().parents[2]


def _bullet() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("- Which variant when:")
    return " ".join(text[start:text.index("\n- ", start + 1)].split())


def test_the_readme_recommendation_is_the_chapters_and_its_numbers_are_the_runs():
    results = ROOT / "results"
    runs = runsets.load_finished(runsets.stall_configs("quick"), results)
    shapes = runsets.load_finished(runsets.stall_shapes_configs("quick"), results)
    modular = stall.modular_rows(runsets.load_finished(runsets.stall_modular_configs("quick"), results))
    rows = stall.candidate_rows(runs)
    shape_rows = stall.shape_rows(shapes)
    assert stall.recommended(rows, modular, shapes=shape_rows)["method"] == "egd-svd-batch"
    by = {(100, 3, r["method"]): r for r in rows} | {(r["n"], r["k"], r["method"]): r for r in shape_rows}
    settings = [(100, 3), (400, 2), (50, 4)]
    rule = [by[(n, k, "egd-svd-batch")] for n, k in settings]
    exact = [by[(n, k, "egd-svd")] for n, k in settings]
    text = _bullet()
    assert "batch_rank=batch_size" in text
    reached = ", ".join(str(r["reached"]) for r in rule[:-1]) + f" and {rule[-1]['reached']} of 10 seeds"
    assert reached in text and all(r["seeds"] == 10 for r in rule + exact)
    medians = ", ".join(fmt_epochs(r["median_all"]) for r in rule[:-1]) + f" and {fmt_epochs(rule[-1]['median_all'])}"
    assert f"median {medians} epochs" in text
    stalled = [r["seeds"] - r["reached"] for r in exact]
    assert f"exact EGD stalled on {stalled[0]}, {stalled[1]} and {stalled[2]} of 10" in text
    top = by[(400, 2, "egd-svd-top32")]
    assert re.search(rf"median of {fmt_epochs(top['median_all'])} epochs on \(400, 2\)", text)
    # "its runs are exact EGD's, bit for bit" on both modular tasks
    assert [(r["identical"], r["seeds"]) for r in modular if r["method"] == "egd-svd-batch"] == [(3, 3), (3, 3)]


def test_the_stall_chapter_adds_its_fix_to_the_findings(tmp_path):
    assert stall.findings(tmp_path) == []
    (row,) = stall.findings(ROOT / "results")
    assert row.verdict == "✓" and row.ours.startswith("EGD (batch rank): Parity(100, 3) 10/10")
    assert row.chapter == stall.CHAPTER
