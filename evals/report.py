"""Reports of one eval run: run.json, report.md and a self-contained report.html with SVG charts.

Both pages come from one view of the run (report_view) through templates (evals/templates); the
charts are evals/charts.py's, drawn to SVG.
"""

from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from evals import charts
from evals.charts import REGRESSION
from evals.metrics import ANSWER_METRICS, CaseResult, find_metric
from evals.run import Run
from rag.errors import PaperboyError
from rag.markup import render

# Answer metrics in the registry's order; any other key (e.g. an explainer suite's) follows, A-Z.
SHARE_TOLERANCE = 0.005
RELATIVE_TOLERANCE = 0.05
TAG_COLUMNS = ["accuracy", "fact_recall", "citation_precision", "citation_recall", "abstain_recall", "latency_p50_s"]
CASE_COLUMNS = ["fact_recall", "citation_precision", "citation_recall", "grounding"]
FILES = ("run.json", "report.md", "report.html")


class RunFileError(PaperboyError):
    """A run.json is missing or not a valid run; the message names the file."""


def load_run(path: Path) -> Run:
    """Read a run.json written by write_reports (or the runner)."""
    try:
        return Run.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file; run the eval suite to write one") from None
    except (OSError, UnicodeDecodeError, ValidationError) as ex:
        reason = ex.errors()[0]["msg"] if isinstance(ex, ValidationError) else str(ex)
        raise RunFileError(f"{path}: not a valid run file ({reason}); run the eval suite again to rewrite it") from None


def write_reports(run: Run, out_dir: Path, baseline: Run | None = None) -> dict[str, Path]:
    """Write run.json, report.md and report.html into out_dir; return their paths by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = [run.model_dump_json(indent=2), render_markdown(run, baseline), render_html(run, baseline)]
    paths = {name: out_dir / name for name in FILES}
    for name, text in zip(FILES, texts, strict=True):
        paths[name].write_text(text, encoding="utf-8")
    return paths


# --- comparing ---------------------------------------------------------------------------------------------


def ordered_keys(keys: set[str] | list[str]) -> list[str]:
    """Known metric keys in the contract's order, then any others alphabetically."""
    keys, known = set(keys), [m.name for m in ANSWER_METRICS]
    return [k for k in known if k in keys] + sorted(keys - set(known))


def is_share(key: str) -> bool:
    """A 0..1 metric, as the registry says; a key no registry knows (an older run's) is not."""
    metric = find_metric(key)
    return metric is not None and metric.is_share


def _higher_is_better(key: str) -> bool | None:
    """Which way is better; None for neither, and for a key no registry knows."""
    metric = find_metric(key)
    return metric.higher_is_better if metric else None


def is_regression(key: str, now: float, before: float) -> bool:
    """A change in the bad direction beyond tolerance: 0.005 for shares, else 5% of the baseline."""
    better = _higher_is_better(key)
    if better is None:
        return False
    worse = before - now if better else now - before
    # e.g. accuracy 0.80 -> 0.79 is a regression (0.01 > 0.005); p50 2.0 s -> 2.08 s is not (0.08 < 0.1).
    tolerance = SHARE_TOLERANCE if is_share(key) else RELATIVE_TOLERANCE * abs(before)
    return worse > tolerance


def direction(key: str, change: float) -> str:
    """Whether a change made the metric better, worse, or neither (no change or no preferred direction)."""
    better = _higher_is_better(key)
    if change == 0 or better is None:
        return "same"
    return "better" if (change > 0) == better else "worse"


def compare(run: Run, baseline: Run) -> dict[str, dict]:
    """Per aggregate key in either run: now, before, change (None if a side is None) and regression."""
    keys = ordered_keys(run.aggregate.keys() | baseline.aggregate.keys())
    return {key: compare_one(key, run.aggregate.get(key), baseline.aggregate.get(key)) for key in keys}


def compare_one(key: str, now: float | None, before: float | None) -> dict:
    """One metric's row of compare(); with a side missing there is no change and no regression."""
    if now is None or before is None:
        return {"now": now, "before": before, "change": None, "regression": False}
    return {
        "now": now,
        "before": before,
        "change": round(now - before, 6),
        "regression": is_regression(key, now, before),
    }


# --- shared pieces -----------------------------------------------------------------------------------------


def fmt(value: float | None, signed: bool = False) -> str:
    """A metric value for a table: three decimals (one past 100), a dash for None."""
    if value is None:
        return "—"
    digits = 3 if abs(value) < 100 else 1
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def change_text(key: str, row: dict) -> str:
    """The change column: absolute for shares, plus the relative change for everything else."""
    if row["change"] is None:
        return "—"
    if is_share(key) or not row["before"]:
        return fmt(row["change"], signed=True)
    return f"{fmt(row['change'], signed=True)} ({row['change'] / abs(row['before']):+.0%})"


def header_facts(run: Run, baseline: Run | None) -> list[tuple[str, str]]:
    """The run's identity and size as label/value pairs."""
    passed = sum(c.correct for c in run.cases)
    facts = [
        ("suite", run.suite),
        ("pipeline", run.pipeline),
        ("model", run.model),
        ("commit", run.commit),
        ("started", run.started),
        ("seconds", f"{run.seconds:g}"),
        ("cases", str(len(run.cases))),
        ("passed", f"{passed} of {len(run.cases)}"),
    ]
    if baseline is not None:
        facts.append(
            (
                "baseline",
                f"{baseline.suite} / {baseline.pipeline} / {baseline.model} @ {baseline.commit}, {baseline.started}",
            )
        )
    return facts


def columns(preferred: list[str], present: set[str]) -> list[str]:
    """The preferred columns that are present; all present ones (ordered) when none of those are."""
    chosen = [k for k in preferred if k in present]
    return chosen or ordered_keys(present)


def case_columns(run: Run) -> list[str]:
    """Per-case metric columns: the usual answer metrics, or whatever metrics the cases carry."""
    return columns(CASE_COLUMNS, {k for c in run.cases for k in c.metrics})


def expected_text(case: CaseResult) -> str:
    """What the case expected: abstaining, or the papers and facts."""
    if case.should_abstain:
        return "abstain"
    papers = ", ".join(case.expected) or "none"
    facts = "; ".join(case.expected_facts) or "none"
    return f"papers: {papers}; facts: {facts}"


def got_facts(case: CaseResult) -> list[tuple[str, str]]:
    """What came back for a case, as label/value pairs."""
    return [
        ("answer", case.answer or "(empty)"),
        ("abstained", "yes" if case.abstained else "no"),
        ("cited", ", ".join(case.cited) or "none"),
    ]


class Row(NamedTuple):
    """One table row: its cells as text, its class on the page, and whether it is a marked regression."""

    text: list[str]
    css: str = ""
    regression: bool = False


class Table(NamedTuple):
    """A table of the report: column names, rows, and what the page says when there are no rows."""

    head: list[str]
    rows: list[Row]
    empty: str = ""


def aggregate_table(run: Run, baseline: Run | None) -> Table:
    """The aggregate; with a baseline, its value and the change, regressions marked."""
    if baseline is None:
        return Table(["metric", "value"], [Row([k, fmt(run.aggregate[k])]) for k in ordered_keys(run.aggregate)])
    rows = [
        Row(
            [key, fmt(row["now"]), fmt(row["before"]), change_text(key, row)],
            "regression" * row["regression"],
            row["regression"],
        )
        for key, row in compare(run, baseline).items()
    ]
    return Table(["metric", "value", "baseline", "change"], rows)


def tag_table(run: Run) -> Table:
    """Per tag: the usual answer metrics (or whatever the tags carry) and the case count."""
    cols = columns(TAG_COLUMNS, {k for agg in run.by_tag.values() for k in agg})
    rows = [
        Row([tag, *(fmt(agg.get(k)) for k in cols), str(sum(tag in c.tags for c in run.cases))])
        for tag, agg in sorted(run.by_tag.items())
    ]
    return Table(["tag", *cols, "n"], rows, "No tags.")


def case_table(run: Run) -> Table:
    """Every case with its pass/fail, latency and per-case metrics."""
    cols = case_columns(run)
    rows = [
        Row(
            [c.id, ", ".join(c.tags), "PASS" if c.correct else "FAIL", f"{c.latency_s:.2f}"]
            + [fmt(c.metrics.get(k)) for k in cols],
            "pass" if c.correct else "fail",
        )
        for c in run.cases
    ]
    return Table(["case", "tags", "result", "latency_s", *cols], rows)


def failed_facts(case: CaseResult) -> list[tuple[str, str]]:
    """A failed case: what was asked, what was expected and what came back."""
    asked = [("tags", ", ".join(case.tags)), ("question", case.question), ("expected", expected_text(case))]
    return asked + [(f"got {label}", value) for label, value in got_facts(case)]


def report_view(run: Run, baseline: Run | None) -> dict[str, Any]:
    """Everything both report pages show, as the templates take it."""
    failed = [c for c in run.cases if not c.correct]
    head = ["case", "tags", "question", "expected", *(label for label, _ in got_facts(run.cases[0]))] if failed else []
    failed_rows = [
        Row([c.id, ", ".join(c.tags), c.question, expected_text(c), *(v for _, v in got_facts(c))]) for c in failed
    ]
    return {
        "title": f"Eval report: {run.suite}",
        "header": header_facts(run, baseline),
        "baseline": baseline,
        "mark": REGRESSION,
        "aggregate": aggregate_table(run, baseline),
        "tags": tag_table(run),
        "cases": case_table(run),
        "failed": [{"id": c.id, "facts": failed_facts(c)} for c in failed],
        "failed_table": Table(head, failed_rows, "None: every case passed."),
    }


def render_markdown(run: Run, baseline: Run | None = None) -> str:
    """The run as Markdown: header, aggregate, per-tag and per-case tables, then the failed cases."""
    return render("report.md", **report_view(run, baseline)).rstrip() + "\n"


def _changes(run: Run, baseline: Run) -> list[tuple[str, float, str, bool]]:
    rows = compare(run, baseline).items()
    return [
        (k, r["change"], direction(k, r["change"]), r["regression"])
        for k, r in rows
        if r["change"] is not None and is_share(k)
    ]


def report_charts(run: Run, baseline: Run | None) -> dict[str, Any]:
    """The report's charts (Altair), each None when it has nothing to show."""
    return {
        "tags": charts.tag_metrics(run.by_tag),
        "latency": charts.latency(run.cases),
        "changes": charts.changes(_changes(run, baseline)) if baseline else None,
    }


def render_html(run: Run, baseline: Run | None = None) -> str:
    """The run as one self-contained HTML page: inline CSS and SVG charts, no scripts, all text escaped."""
    drawn = {name: charts.to_svg(chart) if chart else None for name, chart in report_charts(run, baseline).items()}
    return render("report.html", **report_view(run, baseline), charts=drawn)
