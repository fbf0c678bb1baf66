"""Evals: run a suite through a pipeline with a progress bar, see its metrics and failed cases, compare two runs."""

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from evals.pipelines import PIPELINES
from evals.report import (
    compare,
    expected_text,
    fmt,
    header_facts,
    is_share,
    load_run,
    ordered_keys,
    report_charts,
    write_reports,
)
from evals.run import Run, eval_run_dir, eval_runs_dir, run_suite
from evals.suite import ROOT, load_suite
from ui import resources

SUITES_DIR = ROOT / "evals" / "suites"
# The small suite first: a few minutes on the local model, where sample-day takes most of an hour.
FIRST_SUITE = "smoke"


def saved_runs() -> list[Path]:
    """Every saved run.json (from this app or `paperboy eval`), newest first."""
    runs = eval_runs_dir(resources.settings()).glob("*/run.json")
    return sorted(runs, key=lambda path: path.stat().st_mtime, reverse=True)


def facts_line(run: Run) -> str:
    """The run's identity and size on one line."""
    return " \u00b7 ".join(f"{label}: {value}" for label, value in header_facts(run, None))


def show_chart(chart: alt.Chart | alt.LayerChart | None) -> None:
    """One of the report's charts (evals/charts.py), drawn by Streamlit's own Vega-Lite."""
    if chart is None:
        st.caption("Nothing to chart for this run.")
    else:
        st.altair_chart(chart)


def run_and_save(suite_path: Path, pipeline: str, judge: bool) -> Path:
    """Run the suite with a progress bar, write its reports under the data dir and return its run.json."""
    suite = load_suite(suite_path)
    chat, settings = resources.chat(), resources.settings()
    bar = st.progress(0.0, text=f"0/{len(suite.cases)} cases")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{done}/{total} cases")

    with chat.priority():
        with st.spinner("Starting the chat model..."):
            llm = chat.model()
        run = run_suite(suite, settings, llm, pipeline, judge, progress)
    return write_reports(run, eval_run_dir(settings, run))["run.json"]


def run_form() -> None:
    """Suite, pipeline and the button that runs them; the new run becomes the one shown below."""
    suites = sorted(SUITES_DIR.glob("*.yaml"))
    first = next((i for i, path in enumerate(suites) if path.stem == FIRST_SUITE), 0)
    left, right = st.columns(2)
    suite_path = left.selectbox(
        "Suite", suites, index=first, format_func=lambda p: p.stem, key="eval_suite", persist_state="session"
    )
    pipeline = right.selectbox(
        "Pipeline", PIPELINES, key="eval_pipeline", help="naive is the textbook chain, for comparison"
    )
    judge = st.checkbox("Also judge each answer sentence against its sources (one more model call per answer)")
    if st.button("Run the suite", type="primary", icon=":material/play_arrow:"):
        st.session_state.eval_view = run_and_save(suite_path, pipeline, judge)


def show_aggregate(run: Run) -> None:
    """Headline numbers, then every 0..1 metric as a bar."""
    passed = sum(c.correct for c in run.cases)
    cols = st.columns(4)
    cols[0].metric("Cases passed", f"{passed}/{len(run.cases)}")
    cols[1].metric("Accuracy", fmt(run.aggregate.get("accuracy")))
    cols[2].metric("Latency p50 (s)", fmt(run.aggregate.get("latency_p50_s")))
    cols[3].metric("Latency p95 (s)", fmt(run.aggregate.get("latency_p95_s")))
    shares = {k: v for k in ordered_keys(run.aggregate) if (v := run.aggregate[k]) is not None and is_share(k)}
    if shares:
        # sort=False keeps the report's metric order (retrieval, citations, facts, abstention, accuracy).
        st.bar_chart(pd.DataFrame({"value": shares}), horizontal=True, sort=False)


def failed_cases(run: Run) -> pd.DataFrame:
    """The failed cases: what was asked, expected and answered."""
    rows = [
        {
            "case": c.id,
            "tags": ", ".join(c.tags),
            "question": c.question,
            "expected": expected_text(c),
            "answer": c.answer,
            "abstained": c.abstained,
            "cited": ", ".join(c.cited),
        }
        for c in run.cases
        if not c.correct
    ]
    return pd.DataFrame(rows, columns=["case", "tags", "question", "expected", "answer", "abstained", "cited"])


def show_run(run: Run) -> None:
    """One run: identity, aggregate chart, per-tag chart and the failed cases."""
    st.subheader(f"{run.suite} \u00b7 {run.pipeline} \u00b7 {run.model}")
    st.caption(facts_line(run))
    show_aggregate(run)
    show_chart(report_charts(run, None)["tags"])
    failed = failed_cases(run)
    st.markdown(f"**Failed cases ({len(failed)})**")
    if failed.empty:
        st.success("Every case passed.", icon=":material/check:")
    else:
        st.dataframe(failed, hide_index=True)


def comparison_table(changes: dict[str, dict]) -> pd.DataFrame:
    """Each aggregate metric of both runs (from compare()), the change, and whether it is a regression."""
    rows = [
        {
            "metric": key,
            "run": fmt(row["now"]),
            "baseline": fmt(row["before"]),
            "change": fmt(row["change"], signed=True),
            "regression": "\u25bc regression" if row["regression"] else "",
        }
        for key, row in changes.items()
    ]
    return pd.DataFrame(rows)


def show_comparison(runs: list[Path]) -> None:
    """Two saved runs side by side, with each metric's change."""
    if len(runs) < 2:
        st.caption("Save two runs (run a suite twice, or with two pipelines) to compare them here.")
        return
    left, right = st.columns(2)
    now_path = left.selectbox("Run", runs, format_func=lambda p: p.parent.name, key="compare_run")
    before_path = right.selectbox("Baseline", runs, index=1, format_func=lambda p: p.parent.name, key="compare_base")
    now, before = load_run(now_path), load_run(before_path)
    for column, run in ((left, now), (right, before)):
        column.caption(facts_line(run))
    changes = compare(now, before)
    st.dataframe(comparison_table(changes), hide_index=True)
    show_chart(report_charts(now, before)["changes"])


def show_saved(runs: list[Path]) -> None:
    """A saved run, the newest (or the one just run) unless the user picks another."""
    if not runs:
        st.caption("No saved runs yet: run a suite above, or `paperboy eval SUITE`.")
        return
    if st.session_state.get("eval_view") not in runs:
        st.session_state.eval_view = runs[0]
    path = st.selectbox("Saved run", runs, key="eval_view", format_func=lambda p: p.parent.name)
    show_run(load_run(path))


def render() -> None:
    """The Evals page."""
    st.title("Evals")
    run_form()
    runs = saved_runs()  # after the form, so a run it just saved is listed
    st.header("Results")
    show_saved(runs)
    st.header("Compare two runs")
    show_comparison(runs)


render()
