"""The eval charts, one function each, drawn by Altair: the report renders them to SVG, the Evals page shows them.

The report stays a single file that opens offline and runs no script: vl-convert (a PyPI package
that embeds Vega) draws each chart to SVG on this machine, with no network and no JavaScript in the page.
"""

import json
from functools import cache, lru_cache
from typing import Any

import altair as alt
import numpy as np

from evals.metrics import CaseResult

PALETTE = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377"]
GOOD, BAD, SAME = "#2e8b3e", "#c8322f", "#888888"
REGRESSION = "▼ regression"
# The per-tag chart's answer metrics, each a 0..1 share.
TAG_METRICS = ["accuracy", "fact_recall", "citation_recall", "abstain_recall"]


def _chart(rows: list[dict[str, Any]], title: str) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows), title=title).properties(width=480, height=200)


def tag_metrics(by_tag: dict[str, dict[str, float | None]]) -> alt.Chart | None:
    """Grouped bars: for each tag, one bar per 0..1 answer metric; None when no tag has one."""
    rows = [
        {"tag": tag, "metric": m, "value": agg[m]}
        for tag, agg in sorted(by_tag.items())
        for m in TAG_METRICS
        if agg.get(m) is not None
    ]
    if not rows:
        return None
    return (
        _chart(rows, "Metric per tag (0 to 1)")
        .mark_bar()
        .encode(
            x=alt.X("tag:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("metric:N", sort=TAG_METRICS),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color=alt.Color(
                "metric:N", sort=TAG_METRICS, scale=alt.Scale(range=PALETTE), legend=alt.Legend(orient="bottom")
            ),
            tooltip=["tag:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )


def histogram(values: list[float], bins: int = 10) -> tuple[float, float, list[int]]:
    """Equal-width bins over the values' range: (low, bin width, counts); equal values fill the first bin."""
    low, high = min(values), max(values)
    counts, edges = np.histogram(values, bins=bins, range=(low, high if high > low else low + 1.0))
    return low, float(edges[1] - edges[0]), counts.tolist()


def latency(cases: list[CaseResult], bins: int = 10) -> alt.Chart | None:
    """Histogram of the cases' latencies in seconds; None without cases."""
    if not cases:
        return None
    low, step, counts = histogram([c.latency_s for c in cases], bins)
    ticks = list(range(0, max(counts) + 1, -(-max(counts) // 5)))  # whole cases only, at most six ticks
    rows = [{"from": low + i * step, "to": low + (i + 1) * step, "cases": n} for i, n in enumerate(counts)]
    return (
        _chart(rows, "Case latency (seconds)")
        .mark_bar(color=PALETTE[0], binSpacing=1)
        .encode(
            x=alt.X("from:Q", bin="binned", title="seconds"),
            x2="to:Q",
            y=alt.Y("cases:Q", title="cases", axis=alt.Axis(values=ticks)),
            tooltip=[alt.Tooltip("from:Q", format=".2f"), alt.Tooltip("to:Q", format=".2f"), "cases:Q"],
        )
    )


def changes(rows: list[tuple[str, float, str, bool]]) -> alt.Chart | None:
    """Diverging bars of each 0..1 metric's change against the baseline, green better and red worse, a
    regression named; rows are (metric, change, direction, regression). None when there are none."""
    if not rows:
        return None
    values = [
        {"metric": f"{key} {REGRESSION}" if regression else key, "change": change, "direction": direction}
        for key, change, direction, regression in rows
    ]
    order = [v["metric"] for v in values]
    base = _chart(values, "Change against baseline").encode(
        y=alt.Y("metric:N", sort=order, title=None), x=alt.X("change:Q", title="change")
    )
    colour = alt.Color(
        "direction:N", scale=alt.Scale(domain=["better", "worse", "same"], range=[GOOD, BAD, SAME]), legend=None
    )
    bars = base.mark_bar().encode(color=colour, tooltip=["metric:N", alt.Tooltip("change:Q", format="+.3f")])
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("change:Q", format="+.3f"))
    return alt.layer(bars, labels)


@cache
def _vl_convert() -> Any:
    import vl_convert

    return vl_convert


def to_svg(chart: alt.Chart | alt.LayerChart) -> str:
    """The chart drawn as one SVG element, on this machine (no network, no script)."""
    return _drawn(json.dumps(chart.to_dict(validate=False), sort_keys=True))


@lru_cache(maxsize=64)
def _drawn(spec: str) -> str:
    # ~0.1 s a chart: the same report drawn twice (report.html, then a page that shows it) draws once.
    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    return _vl_convert().vegalite_to_svg(json.loads(spec), vl_version=version)
