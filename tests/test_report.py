"""Eval reports: Markdown and HTML tables, charts and escaping, baseline regressions, run.json round trip."""

import re
from pathlib import Path

import pytest

from evals.charts import histogram
from evals.metrics import CaseResult, aggregate
from evals.report import (
    REGRESSION,
    RunFileError,
    compare,
    is_regression,
    load_run,
    ordered_keys,
    render_html,
    render_markdown,
    write_reports,
)
from evals.run import Run

FULL = {
    "hit@1": 1.0,
    "hit@5": 1.0,
    "recall@5": 1.0,
    "mrr": 1.0,
    "citation_precision": 1.0,
    "citation_recall": 1.0,
    "citation_validity": 1.0,
    "fact_recall": 1.0,
    "grounding": 1.0,
}
NO_PAPERS = dict.fromkeys(FULL)
PIPE_ANSWER = "Table 2 | row 3\nshows 41.2 BLEU"
SCRIPT = "<script>alert(1)</script>"


def case(case_id: str, tags: list[str], latency: float, correct: bool = True, **fields) -> CaseResult:
    """A case result with perfect metrics unless fields say otherwise."""
    values = {
        "question": f"What does {case_id} ask?",
        "expected": ["2510.00001"],
        "expected_facts": ["41.2 BLEU"],
        "should_abstain": False,
        "answer": f"The answer to {case_id}.",
        "abstained": False,
        "cited": ["2510.00001"],
        "retrieved": ["2510.00001", "2510.00002"],
        "metrics": dict(FULL),
        "first_token_s": latency / 4,
        "prompt_tokens": 900,
        "completion_tokens": 60,
    }
    return CaseResult(id=case_id, tags=tags, correct=correct, latency_s=latency, **{**values, **fields})


def answer_cases(failed_answer: str = PIPE_ANSWER, q3_correct: bool = False, q3_facts: float = 0.5) -> list:
    """Four cases over two tags: q3 (multi-paper) fails unless told otherwise; q4 abstains as it should."""
    q3_metrics = {**FULL, "fact_recall": q3_facts, "citation_recall": 0.5, "citation_precision": 0.5}
    return [
        case("q1", ["lookup"], 1.0),
        case("q2", ["lookup"], 2.0),
        case(
            "q3",
            ["multi-paper"],
            3.0,
            q3_correct,
            question="Which BLEU did both papers get?",
            answer=failed_answer,
            metrics=q3_metrics,
        ),
        case(
            "q4",
            ["lookup"],
            4.0,
            expected=[],
            expected_facts=[],
            should_abstain=True,
            abstained=True,
            answer="I cannot answer from these papers.",
            cited=[],
            metrics=dict(NO_PAPERS),
        ),
    ]


def make_run(cases: list[CaseResult], commit: str = "abc1234", totals: dict | None = None) -> Run:
    """A run over the cases with the real aggregate and per-tag aggregates, unless totals replace both."""
    tags = sorted({t for c in cases for t in c.tags})
    return Run(
        suite="sample-day",
        pipeline="default",
        model="fake-chat",
        commit=commit,
        started="2025-10-31T09:00:00+00:00",
        seconds=12.5,
        settings={"top_k": 5},
        cases=cases,
        aggregate=totals or aggregate(cases),
        by_tag={t: totals or aggregate([c for c in cases if t in c.tags]) for t in tags},
    )


def table_rows(markdown: str, section: str) -> list[list[str]]:
    """Cells of the table under a '## section' heading, split on unescaped pipes."""
    body = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def html_aggregate_rows(page: str) -> dict[str, str]:
    """Metric name to the class of its row in the HTML aggregate table."""
    table = page.split('<table class="aggregate">', 1)[1].split("</table>", 1)[0]
    return dict((name, cls) for cls, name in re.findall(r'<tr class="([^"]*)"><td>([^<]+)</td>', table))


def marked_regressions(markdown: str) -> set[str]:
    """Metrics whose aggregate row carries the regression marker."""
    return {row[0] for row in table_rows(markdown, "Aggregate")[2:] if REGRESSION in row[-1]}


def test_markdown_has_header_and_aggregate_table_with_values() -> None:
    markdown = render_markdown(make_run(answer_cases()))

    assert "- suite: sample-day" in markdown
    assert "- commit: abc1234" in markdown
    assert "- cases: 4" in markdown
    assert "- passed: 3 of 4" in markdown
    rows = table_rows(markdown, "Aggregate")
    assert rows[0] == ["metric", "value"]
    values = dict(rows[2:])
    assert values["accuracy"] == "0.750"
    assert values["fact_recall"] == "0.833"  # (1 + 1 + 0.5) / 3; q4 has no facts
    assert values["abstain_recall"] == "1.000"
    assert values["latency_p50_s"] == "2.000"
    assert values["latency_p95_s"] == "4.000"
    assert [r[0] for r in rows[2:]] == ordered_keys(aggregate(answer_cases()))


def test_markdown_per_tag_table_has_values_and_counts() -> None:
    rows = table_rows(render_markdown(make_run(answer_cases())), "By tag")

    head = rows[0]
    assert head[0] == "tag" and head[-1] == "n"
    by_tag = {row[0]: dict(zip(head, row, strict=True)) for row in rows[2:]}
    assert by_tag["lookup"]["accuracy"] == "1.000"
    assert by_tag["lookup"]["n"] == "3"
    assert by_tag["multi-paper"]["accuracy"] == "0.000"
    assert by_tag["multi-paper"]["citation_recall"] == "0.500"
    assert by_tag["multi-paper"]["n"] == "1"


def test_markdown_lists_every_case_with_pass_or_fail() -> None:
    rows = table_rows(render_markdown(make_run(answer_cases())), "Cases")

    assert {row[0]: row[2] for row in rows[2:]} == {"q1": "PASS", "q2": "PASS", "q3": "FAIL", "q4": "PASS"}


def test_markdown_failed_cases_show_question_expected_and_answer() -> None:
    markdown = render_markdown(make_run(answer_cases(failed_answer="Both got 41.2 BLEU [2510.00001].")))
    failed = markdown.split("## Failed cases", 1)[1]

    assert "Which BLEU did both papers get?" in failed
    assert "Both got 41.2 BLEU \\[2510.00001\\]." in failed  # brackets escaped: no links from untrusted text
    assert "papers: 2510.00001; facts: 41.2 BLEU" in failed
    assert "What does q1 ask?" not in failed


def test_pipe_and_newline_in_answer_do_not_break_the_table() -> None:
    markdown = render_markdown(make_run(answer_cases(failed_answer=PIPE_ANSWER)))
    rows = table_rows(markdown, "Failed cases")

    assert len(rows) == 3  # header, rule, q3: the newline did not split the row
    assert {len(row) for row in rows} == {len(rows[0])}
    assert dict(zip(rows[0], rows[2], strict=True))["answer"] == "Table 2 \\| row 3 shows 41.2 BLEU"


def test_baseline_with_higher_accuracy_is_marked_as_regression_in_markdown() -> None:
    run = make_run(answer_cases())
    baseline = make_run(answer_cases(q3_correct=True, q3_facts=0.0), commit="0ld0ld0")
    markdown = render_markdown(run, baseline)

    assert table_rows(markdown, "Aggregate")[0] == ["metric", "value", "baseline", "change"]
    # Accuracy 1.0 -> 0.75 and precision (correct of answered) 1.0 -> 0.667 fell; fact_recall 0.667 -> 0.833 rose.
    assert marked_regressions(markdown) == {"accuracy", "precision"}
    fact_row = next(r for r in table_rows(markdown, "Aggregate") if r[0] == "fact_recall")
    assert fact_row == ["fact_recall", "0.833", "0.667", "+0.167"]
    assert "0ld0ld0" in markdown


def test_baseline_regressions_are_highlighted_in_html() -> None:
    run = make_run(answer_cases())
    baseline = make_run(answer_cases(q3_correct=True, q3_facts=0.0))
    rows = html_aggregate_rows(render_html(run, baseline))

    assert {name for name, cls in rows.items() if cls == "regression"} == {"accuracy", "precision"}
    assert rows["fact_recall"] == ""


def test_compare_reports_now_before_change_and_regression() -> None:
    run = make_run(answer_cases())
    baseline = make_run(answer_cases(q3_correct=True, q3_facts=0.0))
    result = compare(run, baseline)

    assert result["accuracy"] == {"now": 0.75, "before": 1.0, "change": -0.25, "regression": True}
    assert result["fact_recall"]["regression"] is False
    assert result["fact_recall"]["change"] == pytest.approx(0.1666, abs=1e-3)
    assert result["latency_p50_s"] == {"now": 2.0, "before": 2.0, "change": 0.0, "regression": False}


def test_latency_up_by_half_is_a_regression() -> None:
    baseline = make_run(answer_cases())
    slower = [c.model_copy(update={"latency_s": c.latency_s * 1.5}) for c in answer_cases()]
    result = compare(make_run(slower), baseline)

    assert result["latency_p50_s"]["now"] == 3.0
    assert result["latency_p50_s"]["regression"] is True
    assert result["latency_p95_s"]["regression"] is True
    assert "latency_p50_s" in marked_regressions(render_markdown(make_run(slower), baseline))
    assert compare(baseline, make_run(slower))["latency_p50_s"]["regression"] is False  # faster is fine


def test_tolerances_for_shares_latencies_and_lower_is_better() -> None:
    assert is_regression("accuracy", 0.794, 0.8) is True  # 0.006 > 0.005
    assert is_regression("accuracy", 0.796, 0.8) is False  # 0.004: noise
    assert is_regression("latency_p95_s", 2.08, 2.0) is False  # +4%
    assert is_regression("latency_p95_s", 2.12, 2.0) is True  # +6%
    assert is_regression("reading_grade", 12.0, 10.0) is True  # lower is better, +20%
    assert is_regression("reading_grade", 8.0, 10.0) is False
    assert is_regression("flagged", 0.2, 0.1) is True


def test_none_values_and_one_sided_keys_are_not_regressions() -> None:
    run = make_run(answer_cases())
    baseline = run.model_copy(update={"aggregate": {**run.aggregate, "accuracy": None, "old_metric": 0.9}})
    result = compare(run, baseline)

    assert result["accuracy"] == {"now": 0.75, "before": None, "change": None, "regression": False}
    assert result["old_metric"] == {"now": None, "before": 0.9, "change": None, "regression": False}
    assert "old_metric" in render_markdown(run, baseline)


def test_html_is_a_self_contained_page_with_charts() -> None:
    run = make_run(answer_cases())
    page = render_html(run)
    with_baseline = render_html(run, make_run(answer_cases(q3_correct=True)))

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 2
    assert with_baseline.count("<svg") == 3
    for forbidden in ("<script", "src=", "<link", "@import", "url("):
        assert forbidden not in with_baseline.lower()
    assert "Metric per tag" in page and "multi-paper" in page
    assert "seconds" in page
    assert '<span class="fail">FAIL</span>' in page and page.count('<span class="pass">PASS</span>') == 3


def test_change_chart_marks_regressions() -> None:
    page = render_html(make_run(answer_cases()), make_run(answer_cases(q3_correct=True, q3_facts=0.0)))
    chart = page.split("<h2>Change against baseline</h2>", 1)[1].split("</svg>", 1)[0]

    assert "accuracy ▼ regression" in chart
    assert "fact_recall ▼ regression" not in chart
    assert "#2e8b3e" in chart and "#c8322f" in chart  # fact_recall up in green, accuracy down in red


def test_untrusted_answer_is_escaped_in_html_and_markdown() -> None:
    run = make_run(answer_cases(failed_answer=f"See {SCRIPT} & more"))
    page = render_html(run)

    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert SCRIPT not in render_markdown(run)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render_markdown(run)


def test_explainer_run_renders_whatever_keys_are_present() -> None:
    cases = [case("e1", ["day"], 5.0, metrics={"words": 120.0}), case("e2", ["day"], 7.0, metrics={"words": 90.0})]
    totals = {"words": 105.0, "reading_grade": 11.2, "key_term_coverage": 0.8, "flagged": 0.0}
    run = make_run(cases, totals=totals)
    baseline = make_run(cases, totals={**totals, "reading_grade": 9.0, "words": 140.0})
    markdown = render_markdown(run, baseline)

    assert [r[0] for r in table_rows(markdown, "Aggregate")[2:]] == [
        "flagged",
        "key_term_coverage",
        "reading_grade",
        "words",
    ]
    assert marked_regressions(markdown) == {"reading_grade"}  # words has no better direction
    assert table_rows(markdown, "By tag")[0] == [
        "tag",
        "flagged",
        "key_term_coverage",
        "reading_grade",
        "words",
        "n",
    ]
    assert table_rows(markdown, "Cases")[0] == ["case", "tags", "result", "latency_s", "words"]
    assert render_html(run, baseline).count("<svg") == 2  # no answer metrics per tag: latency and change only


def test_ordered_keys_puts_known_keys_first_in_contract_order() -> None:
    assert ordered_keys({"zeta", "latency_p50_s", "accuracy", "alpha", "hit@1"}) == [
        "hit@1",
        "accuracy",
        "latency_p50_s",
        "alpha",
        "zeta",
    ]


def test_histogram_bins_cover_the_range() -> None:
    low, step, counts = histogram([1.0, 2.0, 3.0, 4.0], bins=10)

    assert (low, step) == (1.0, pytest.approx(0.3))
    assert counts == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    assert histogram([2.0, 2.0], bins=10)[2] == [2] + [0] * 9


def test_write_reports_writes_three_files_and_run_json_loads_back(tmp_path: Path) -> None:
    run = make_run(answer_cases())
    baseline = make_run(answer_cases(q3_correct=True))
    paths = write_reports(run, tmp_path / "out" / "run1", baseline)

    assert set(paths) == {"run.json", "report.md", "report.html"}
    assert all(p.parent == tmp_path / "out" / "run1" and p.is_file() for p in paths.values())
    assert paths["report.md"].read_text(encoding="utf-8") == render_markdown(run, baseline)
    assert paths["report.html"].read_text(encoding="utf-8") == render_html(run, baseline)
    assert load_run(paths["run.json"]) == run


def test_load_run_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "run.json"

    with pytest.raises(RunFileError, match=re.escape(str(path))):
        load_run(path)


@pytest.mark.parametrize("text", ["{not json", '{"suite": "sample-day"}', ""])
def test_load_run_corrupt_file_names_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(RunFileError, match=re.escape(str(path))) as caught:
        load_run(path)
    assert "not a valid run file" in str(caught.value)
