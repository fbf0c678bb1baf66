"""Reports of one eval run: run.json, report.md and a self-contained report.html with SVG charts."""

import html
import re
from pathlib import Path

from pydantic import ValidationError

from evals.metrics import ANSWER_METRICS, CaseResult, find_metric
from evals.run import Run
from rag.errors import PaperboyError

# Answer metrics in the registry's order; any other key (e.g. an explainer suite's) follows, A-Z.
SHARE_TOLERANCE = 0.005
RELATIVE_TOLERANCE = 0.05
TAG_COLUMNS = ["accuracy", "fact_recall", "citation_precision", "citation_recall", "abstain_recall", "latency_p50_s"]
CASE_COLUMNS = ["fact_recall", "citation_precision", "citation_recall", "grounding"]
CHART_METRICS = ["accuracy", "fact_recall", "citation_recall", "abstain_recall"]
REGRESSION = "▼ regression"
_MD_SPECIAL = re.compile(r"([\\|`\[\]])")
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


def tag_rows(run: Run) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Per-tag table: column names and, per tag, formatted values ending with the case count."""
    cols = columns(TAG_COLUMNS, {k for agg in run.by_tag.values() for k in agg})
    rows = []
    for tag, agg in sorted(run.by_tag.items()):
        count = sum(tag in c.tags for c in run.cases)
        rows.append((tag, [fmt(agg.get(k)) for k in cols] + [str(count)]))
    return [*cols, "n"], rows


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


def verdict(case: CaseResult) -> str:
    """PASS or FAIL."""
    return "PASS" if case.correct else "FAIL"


# --- Markdown ----------------------------------------------------------------------------------------------


def md_cell(text: str) -> str:
    """Untrusted text as one inert table cell: one line, no raw HTML, links or code, pipes escaped."""
    text = " ".join(str(text).split()).replace("<", "&lt;").replace(">", "&gt;")
    # Backslashes are escaped in the same pass, so a "\\|" already in the text cannot end the cell.
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub-style Markdown table with every cell escaped."""
    lines = ["| " + " | ".join(md_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]


def md_aggregate(run: Run, baseline: Run | None) -> list[str]:
    """The aggregate table; with a baseline, its value and the change with regressions marked."""
    if baseline is None:
        return md_table(["metric", "value"], [[k, fmt(run.aggregate[k])] for k in ordered_keys(run.aggregate)])
    rows = []
    for key, row in compare(run, baseline).items():
        change = change_text(key, row) + (f" {REGRESSION}" if row["regression"] else "")
        rows.append([key, fmt(row["now"]), fmt(row["before"]), change])
    return md_table(["metric", "value", "baseline", "change"], rows)


def md_cases(run: Run) -> list[str]:
    """Every case with its pass/fail, latency and per-case metrics."""
    cols = case_columns(run)
    rows = [
        [c.id, ", ".join(c.tags), verdict(c), f"{c.latency_s:.2f}", *(fmt(c.metrics.get(k)) for k in cols)]
        for c in run.cases
    ]
    return md_table(["case", "tags", "result", "latency_s", *cols], rows)


def md_failed(run: Run) -> list[str]:
    """A table of the failed cases: what was asked, what was expected and what came back."""
    failed = [c for c in run.cases if not c.correct]
    if not failed:
        return ["None: every case passed."]
    head = ["case", "tags", "question", "expected", *(label for label, _ in got_facts(failed[0]))]
    rows = [[c.id, ", ".join(c.tags), c.question, expected_text(c), *(v for _, v in got_facts(c))] for c in failed]
    return md_table(head, rows)


def render_markdown(run: Run, baseline: Run | None = None) -> str:
    """The run as Markdown: header, aggregate, per-tag and per-case tables, then the failed cases."""
    lines = [f"# Eval report: {md_cell(run.suite)}", ""]
    lines += [f"- {label}: {md_cell(value)}" for label, value in header_facts(run, baseline)]
    lines += ["", "## Aggregate", "", *md_aggregate(run, baseline), "", "## By tag", ""]
    head, rows = tag_rows(run)
    lines += md_table(["tag", *head], [[tag, *values] for tag, values in rows]) if rows else ["No tags."]
    lines += ["", "## Cases", "", *md_cases(run), "", "## Failed cases", "", *md_failed(run)]
    return "\n".join(lines).rstrip() + "\n"


# --- SVG charts --------------------------------------------------------------------------------------------

PALETTE = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377"]
GOOD, BAD, INK, GRID = "#2e8b3e", "#c8322f", "#444", "#8886"


def esc(text: object) -> str:
    """Text for HTML or SVG, with every markup character escaped."""
    return html.escape(str(text), quote=True)


def svg_text(x: float, y: float, text: object, anchor: str = "middle", extra: str = "") -> str:
    """One escaped SVG text element."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{esc(text)}</text>'


def svg_open(width: float, height: float, title: str) -> str:
    """An SVG root with an accessible title."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(title)}" '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{INK}"><title>{esc(title)}</title>'
    )


def y_axis(left: float, top: float, height: float, right: float, ticks: list[tuple[float, str]]) -> list[str]:
    """Horizontal grid lines with labels; ticks are (share of height from the bottom, label)."""
    parts = []
    for share, label in ticks:
        y = top + height * (1 - share)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(svg_text(left - 6, y + 4, label, "end"))
    return parts


def chart_tag_metrics(run: Run) -> str:
    """Grouped bars: for each tag, one bar per 0..1 answer metric."""
    metrics = [m for m in CHART_METRICS if any(agg.get(m) is not None for agg in run.by_tag.values())]
    tags = sorted(run.by_tag)
    if not metrics or not tags:
        return "<p>No tagged answer metrics to chart.</p>"
    bar, gap, left, top, plot_h = 18, 24, 48, 30, 200
    group = bar * len(metrics) + gap
    plot_w = group * len(tags)
    width = left + max(plot_w, legend_width(metrics)) + 20
    parts = [svg_open(width, top + plot_h + 70, "Metric per tag")]
    parts += [svg_text(left, 18, "Metric per tag (0 to 1)", "start", 'font-weight="bold"')]
    parts += y_axis(left, top, plot_h, left + plot_w, [(t / 4, f"{t / 4:.2f}") for t in range(5)])
    for g, tag in enumerate(tags):
        x0 = left + gap / 2 + g * group
        for i, metric in enumerate(metrics):
            value = run.by_tag[tag].get(metric)
            if value is None:
                continue
            h = plot_h * max(0.0, min(1.0, value))
            parts.append(
                f'<rect x="{x0 + i * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2}" height="{h:.1f}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{esc(f"{tag} {metric}: {value:.3f}")}</title></rect>'
            )
        parts.append(svg_text(x0 + bar * len(metrics) / 2, top + plot_h + 16, tag))
    parts += legend(metrics, left, top + plot_h + 40)
    return "".join([*parts, "</svg>"])


def legend(names: list[str], x: float, y: float) -> list[str]:
    """Colour swatches with names, in one row."""
    parts = []
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(svg_text(x + 16, y, name, "start"))
        x += legend_width([name])
    return parts


def legend_width(names: list[str]) -> float:
    """Room a one-row legend takes: swatch, gap and about 7 px per character of each name."""
    return sum(28 + 7 * len(name) for name in names)


def histogram(values: list[float], bins: int = 10) -> tuple[float, float, list[int]]:
    """Equal-width bins over the values' range: (low, bin width, counts)."""
    low, high = min(values), max(values)
    step = (high - low) / bins or 1.0 / bins  # all equal: bins of 0.1 s starting at that value
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / step))] += 1
    return low, step, counts


def chart_latency(run: Run, bins: int = 10) -> str:
    """Histogram of case latencies in seconds."""
    if not run.cases:
        return "<p>No cases, so no latencies.</p>"
    low, step, counts = histogram([c.latency_s for c in run.cases], bins)
    left, top, plot_h, plot_w = 48, 30, 180, 480
    peak, col = max(counts), plot_w / bins
    parts = [svg_open(left + plot_w + 30, top + plot_h + 50, "Latency distribution")]
    parts += [svg_text(left, 18, "Case latency (seconds)", "start", 'font-weight="bold"')]
    parts.append(svg_text(6, top + plot_h / 2, "cases", "middle", f'transform="rotate(-90 6 {top + plot_h / 2})"'))
    parts += y_axis(left, top, plot_h, left + plot_w, [(n / peak, str(n)) for n in sorted({0, peak // 2, peak})])
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        label = f"{low + i * step:.2f}-{low + (i + 1) * step:.2f} s: {count} case(s)"
        parts.append(
            f'<rect x="{left + i * col + 1:.1f}" y="{top + plot_h - h:.1f}" width="{col - 2:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{esc(label)}</title></rect>'
        )
    for i in range(0, bins + 1, 2):
        parts.append(svg_text(left + i * col, top + plot_h + 16, f"{low + i * step:.2f}"))
    parts.append(svg_text(left + plot_w / 2, top + plot_h + 38, "seconds"))
    return "".join([*parts, "</svg>"])


def chart_changes(comparison: dict[str, dict]) -> str:
    """Diverging bars of each 0..1 metric's change against the baseline: green better, red worse."""
    rows = [(k, r) for k, r in comparison.items() if r["change"] is not None and is_share(k)]
    if not rows:
        return "<p>No 0 to 1 metrics in both runs to compare.</p>"
    label_w, half, top, row_h = 150, 200, 30, 22
    scale = max(0.01, *(abs(r["change"]) for _, r in rows))  # the largest change spans half the plot
    mid, height = label_w + half, top + row_h * len(rows) + 30
    parts = [svg_open(label_w + 2 * half + 160, height, "Change against baseline")]
    title = f"Change against baseline (a full bar is ±{scale:.3f})"
    parts.append(svg_text(0, 18, title, "start", 'font-weight="bold"'))
    for i, (key, row) in enumerate(rows):
        y, w = top + i * row_h, half * abs(row["change"]) / scale
        x = mid if row["change"] >= 0 else mid - w
        colour = {"better": GOOD, "worse": BAD}.get(direction(key, row["change"]), GRID)
        mark = f" {REGRESSION}" if row["regression"] else ""
        outline = ' stroke="#000" stroke-width="1.5"' if mark else ""
        parts.append(svg_text(label_w - 8, y + 14, key, "end"))
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"{outline}>'
            f"<title>{esc(key + mark)}</title></rect>"
        )
        parts.append(svg_text(mid + half + 8, y + 14, f"{row['change']:+.3f}{mark}", "start"))
    parts.append(f'<line x1="{mid}" y1="{top - 4}" x2="{mid}" y2="{height - 26}" stroke="{INK}"/>')
    return "".join([*parts, "</svg>"])


# --- HTML --------------------------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light dark; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid #8886; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.regression td { background: #c8322f22; }
.regression-mark { color: #c8322f; font-weight: bold; }
.pass { color: #2e8b3e; font-weight: bold; }
.fail { color: #c8322f; font-weight: bold; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; white-space: pre-wrap; }
svg { max-width: 100%; height: auto; display: block; margin: .5rem 0 1.5rem; background: #fff; }
""".strip()
# No script, font, image or stylesheet may load, even if some text slipped through unescaped.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def html_table(head: list[str], rows: list[tuple[str, list[str]]], css_class: str) -> str:
    """A table from already-escaped cells; each row is (tr class, cells)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" for cls, cells in rows)
    return f'<table class="{css_class}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def html_facts(facts: list[tuple[str, str]]) -> str:
    """Label/value pairs as a definition list."""
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"


def html_aggregate(run: Run, baseline: Run | None) -> str:
    """The aggregate table; with a baseline, regressions' rows highlighted and marked."""
    if baseline is None:
        rows = [("", [esc(k), esc(fmt(run.aggregate[k]))]) for k in ordered_keys(run.aggregate)]
        return html_table(["metric", "value"], rows, "aggregate")
    rows = []
    for key, row in compare(run, baseline).items():
        mark = f' <span class="regression-mark">{REGRESSION}</span>' if row["regression"] else ""
        cells = [esc(key), esc(fmt(row["now"])), esc(fmt(row["before"])), esc(change_text(key, row)) + mark]
        rows.append(("regression" if row["regression"] else "", cells))
    return html_table(["metric", "value", "baseline", "change"], rows, "aggregate")


def html_tags(run: Run) -> str:
    """The per-tag table."""
    head, rows = tag_rows(run)
    if not rows:
        return "<p>No tags.</p>"
    return html_table(["tag", *head], [("", [esc(t), *map(esc, values)]) for t, values in rows], "by-tag")


def html_cases(run: Run) -> str:
    """Every case with its pass/fail, latency and per-case metrics."""
    cols = case_columns(run)
    rows = []
    for c in run.cases:
        result = f'<span class="{verdict(c).lower()}">{verdict(c)}</span>'
        cells = [esc(c.id), esc(", ".join(c.tags)), result, esc(f"{c.latency_s:.2f}")]
        rows.append(("pass" if c.correct else "fail", cells + [esc(fmt(c.metrics.get(k))) for k in cols]))
    return html_table(["case", "tags", "result", "latency_s", *map(esc, cols)], rows, "cases")


def html_failed(run: Run) -> str:
    """Each failed case: what was asked, what was expected and what came back."""
    failed = [c for c in run.cases if not c.correct]
    if not failed:
        return "<p>None: every case passed.</p>"
    parts = []
    for c in failed:
        facts = [("tags", ", ".join(c.tags)), ("question", c.question), ("expected", expected_text(c))]
        facts += [(f"got {label}", value) for label, value in got_facts(c)]
        parts.append(f'<article class="failed"><h3>{esc(c.id)}</h3>{html_facts(facts)}</article>')
    return "".join(parts)


def render_html(run: Run, baseline: Run | None = None) -> str:
    """The run as one self-contained HTML page: inline CSS and SVG, no scripts, all text escaped."""
    sections = [
        f"<h1>Eval report: {esc(run.suite)}</h1>",
        html_facts(header_facts(run, baseline)),
        "<h2>Aggregate</h2>",
        html_aggregate(run, baseline),
    ]
    if baseline is not None:
        sections += ["<h2>Change against baseline</h2>", chart_changes(compare(run, baseline))]
    sections += ["<h2>By tag</h2>", html_tags(run), chart_tag_metrics(run)]
    sections += ["<h2>Latency</h2>", chart_latency(run), "<h2>Cases</h2>", html_cases(run)]
    sections += ["<h2>Failed cases</h2>", html_failed(run)]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Eval report: {esc(run.suite)}</title>\n<style>\n{CSS}\n</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )
