"""The eval harness: metric functions on hand-made cases, suites, a full run on a fake model, the CI gate."""

import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from evals.metrics import aggregate, citation_metrics, fact_recall, percentile, rank_metrics
from evals.suite import TAGS, Pattern, SuiteError, load_suite
from rag import providers
from tests.conftest import ROOT, ScriptedChat, run_cli

pytestmark = pytest.mark.usefixtures("fake_embedder")


def test_rank_metrics_on_a_known_ranking() -> None:
    ranking = ["a", "b", "c", "d", "e", "f"]
    assert rank_metrics({"c"}, ranking) == {"hit@1": 0.0, "hit@5": 1.0, "recall@5": 1.0, "mrr": pytest.approx(1 / 3)}
    assert rank_metrics({"a", "f"}, ranking) == {"hit@1": 1.0, "hit@5": 1.0, "recall@5": 0.5, "mrr": 1.0}
    assert rank_metrics({"z"}, ranking)["mrr"] == 0.0
    assert rank_metrics(set(), ranking)["hit@1"] is None


def test_citation_metrics_on_known_sets() -> None:
    metrics = citation_metrics({"a", "b"}, ["a", "c"], sources=["a", "b", "c"])
    assert (metrics["citation_precision"], metrics["citation_recall"], metrics["citation_validity"]) == (0.5, 0.5, 1.0)
    assert citation_metrics({"a"}, ["a", "x"], sources=["a"])["citation_validity"] == 0.5
    assert citation_metrics({"a"}, [], sources=["a"])["citation_recall"] == 0.0


def test_fact_recall_strings_and_regexes() -> None:
    facts = ["5.75x", Pattern(regex=r"2\s*(-|to)\s*7")]
    assert fact_recall(facts, "It is 5.75X faster, 2 to 7 times") == 1.0
    assert fact_recall(facts, "It is 5.75x faster") == 0.5
    assert fact_recall([], "anything") is None


def test_percentile_is_nearest_rank() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 100.0], 0.95) == 100.0
    assert percentile([], 0.5) is None


def test_aggregate_abstention_accuracy_and_precision() -> None:
    from evals.metrics import CaseResult

    def case(should: bool, abstained: bool, correct: bool) -> CaseResult:
        metrics = dict.fromkeys(
            ["hit@1", "hit@5", "recall@5", "mrr", "citation_precision", "citation_recall", "citation_validity"]
        )
        metrics |= {"fact_recall": None, "grounding": None}
        return CaseResult(
            id="x", tags=["fact"], question="q", expected=[], should_abstain=should, answer="a", abstained=abstained,
            cited=[], retrieved=[], metrics=metrics, correct=correct, latency_s=1.0, first_token_s=None,
            prompt_tokens=0, completion_tokens=0,
        )  # fmt: skip

    results = [case(True, True, True), case(True, False, False), case(False, True, False), case(False, False, True)]
    totals = aggregate(results)
    assert (totals["abstain_precision"], totals["abstain_recall"]) == (0.5, 0.5)
    assert (totals["accuracy"], totals["precision"]) == (0.5, 0.5)


SUITE = """
name: tiny
corpus: [{corpus}]
date: 2025-10-31
cases:
  - id: fact-1
    question: "How much faster are the sparse attention kernels?"
    expected_papers: ["Sparse Attention Kernels"]
    expected_facts: ["5.75x"]
    tags: [fact]
  - id: unans-1
    question: "What learning rate do the sparse attention kernels use?"
    should_abstain: true
    tags: [unanswerable]
  - id: fact-2
    question: "What does the graph learning model train on?"
    expected_papers: ["Graph Learning at Scale"]
    expected_facts: ["1B"]
    tags: [fact]
"""
CORPUS = [
    {
        "id": "2510.1",
        "title": "Sparse Attention Kernels",
        "abstract": "Our sparse attention kernels give a 5.75x speedup.",
    },
    {"id": "2510.2", "title": "Graph Learning at Scale", "abstract": "We train a graph learning model on 1B edges."},
]


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in CORPUS))
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE.format(corpus=corpus))
    return suite


def scripted(messages: list[BaseMessage]) -> str:
    # A model that answers the kernels question right, invents a learning rate, and gets fact-2 wrong.
    question = str(messages[-1].content).rsplit("Question:", 1)[-1]
    if "learning rate" in question:
        return "The kernels use a learning rate of 0.003 [1]."
    if "sparse attention" in question.lower():
        return "The sparse attention kernels give a 5.75x speedup [1]."
    return "The graph model trains on many edges [1]."


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> ScriptedChat:
    chat = ScriptedChat(script=[scripted])
    monkeypatch.setitem(providers.CHAT, "local", lambda settings: chat)
    monkeypatch.setenv("PAPERBOY_MIN_DENSE_SCORE", "0")
    return chat


def test_full_run_of_a_tiny_suite_writes_reports_and_lists_every_case(
    tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = run_cli("eval", str(tiny_suite), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {c["id"]: c["passed"] for c in payload["cases"]} == {"fact-1": True, "unans-1": True, "fact-2": False}
    assert payload["aggregate"]["accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert payload["aggregate"]["abstain_recall"] == 1.0
    run = json.loads((out / "run.json").read_text())
    assert set(run) >= {"cases", "aggregate", "settings", "model", "commit"}
    assert run["model"] == "scripted-chat" and len(run["cases"]) == 3
    assert "fact-2" in (out / "report.md").read_text()
    assert (out / "report.html").read_text().lstrip().lower().startswith("<!doctype html>")


def test_fail_under_gates_and_names_the_metric(tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path) -> None:
    passing = run_cli("eval", str(tiny_suite), "--out", str(tmp_path / "a"), "--fail-under", "abstain_recall=1.0")
    assert passing.exit_code == 0, passing.output
    failing = run_cli("eval", str(tiny_suite), "--out", str(tmp_path / "b"), "--fail-under", "accuracy=0.9")
    assert failing.exit_code == 1
    assert "Failed bar: accuracy" in failing.output
    too_slow = run_cli("eval", str(tiny_suite), "--out", str(tmp_path / "c"), "--fail-under", "latency_p95_s=0")
    assert too_slow.exit_code == 1 and "above the bar" in too_slow.output


def test_a_folder_of_suites_is_reported_per_suite_and_together(
    tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path
) -> None:
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "a.yaml").write_text(tiny_suite.read_text().replace("name: tiny", "name: day-a"))
    # The second day keeps only its right answers: the combined accuracy sits between the two days.
    (folder / "b.yaml").write_text(
        tiny_suite.read_text().replace("name: tiny", "name: day-b").split("  - id: fact-2")[0]
    )
    out = tmp_path / "both"
    result = run_cli("eval", str(folder), "--out", str(out), "--json", "--fail-under", "accuracy=0.8")
    payload = json.loads(result.stdout)
    assert payload["suites"]["day-a"]["accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert payload["suites"]["day-b"]["accuracy"] == 1.0
    assert payload["aggregate"]["accuracy"] == pytest.approx(4 / 5, abs=1e-3)
    assert [c["id"] for c in payload["cases"]][:2] == ["day-a/fact-1", "day-a/unans-1"]
    assert result.exit_code == 0, result.output
    assert (out / "day-a" / "run.json").is_file() and (out / "day-b" / "report.md").is_file()
    combined = json.loads((out / "run.json").read_text())
    assert combined["suite"] == "day-a+day-b" and len(combined["cases"]) == 5
    stricter = run_cli(
        "eval",
        str(folder / "a.yaml"),
        str(folder / "b.yaml"),
        "--out",
        str(tmp_path / "x"),
        "--fail-under",
        "accuracy=0.9",
    )
    assert stricter.exit_code == 1 and "Failed bar: accuracy = 0.8" in stricter.output


def test_an_empty_suite_folder_is_one_clear_error(tmp_path: Path, fake_model: ScriptedChat) -> None:
    result = run_cli("eval", str(tmp_path))
    assert result.exit_code == 1 and "no suite files" in result.output


def test_unknown_metric_is_refused_before_running(tiny_suite: Path, fake_model: ScriptedChat) -> None:
    result = run_cli("eval", str(tiny_suite), "--fail-under", "speed=1")
    assert result.exit_code == 2
    assert "unknown metric speed" in result.output
    assert fake_model.received == []


def test_naive_pipeline_runs_the_textbook_chain(tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path) -> None:
    result = run_cli("eval", str(tiny_suite), "--pipeline", "naive", "--out", str(tmp_path / "n"), "--json")
    assert result.exit_code == 0, result.output
    # No checks: the invented learning rate is not withdrawn.
    assert {c["id"]: c["passed"] for c in json.loads(result.stdout)["cases"]}["unans-1"] is False
    assert "You are a helpful assistant" in fake_model.shown()


def test_baseline_comparison_marks_a_regression(tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path) -> None:
    run_cli("eval", str(tiny_suite), "--out", str(tmp_path / "base"))
    run = json.loads((tmp_path / "base" / "run.json").read_text())
    run["aggregate"]["accuracy"] = 1.0
    (tmp_path / "better.json").write_text(json.dumps(run))
    result = run_cli(
        "eval", str(tiny_suite), "--out", str(tmp_path / "now"), "--baseline", str(tmp_path / "better.json")
    )
    assert result.exit_code == 0, result.output
    assert "regression" in (tmp_path / "now" / "report.md").read_text().lower()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ncorpus: [a.txt]\ncases:\n  - id: c1\n    tags: [fact]\n", "case 1 (c1): question"),
        (
            "name: x\ncorpus: [a.txt]\ncases:\n  - id: ok\n    question: fine\n    tags: [fact]\n"
            "  - id: c2\n    question: why\n    tags: [nonsense]\n",
            "case 2 (c2): tags",
        ),
        (
            "name: x\ncorpus: [a.txt]\ncases:\n  - id: c1\n    question: what\n    tags: [fact]\n"
            "    should_abstain: true\n    expected_facts: ['1']\n",
            "case 1 (c1)",
        ),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_suite_errors_name_the_file_and_case(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_shipped_suites_are_valid_and_big_enough() -> None:
    sample = load_suite(ROOT / "evals" / "suites" / "dev" / "sample-day.yaml")
    assert len(sample.cases) >= 60
    tags = {tag for case in sample.cases for tag in case.tags}
    assert tags == set(TAGS)
    assert all(path.exists() for path in sample.corpus_paths())
    explainers = load_suite(ROOT / "evals" / "suites" / "explainers-sample-day.yaml")
    assert explainers.kind == "explainer" and len(explainers.cases) >= 15
    assert load_suite(ROOT / "evals" / "suites" / "smoke.yaml").cases


def test_judge_scores_each_answer_sentence(tiny_suite: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def judged(messages: list[BaseMessage]) -> str:
        text = str(messages[-1].content)
        if "Claim:" in text:
            return "yes" if "5.75x" in text.rsplit("Claim:", 1)[-1] else "no"
        return scripted(messages)

    monkeypatch.setitem(providers.CHAT, "local", lambda settings: ScriptedChat(script=[judged]))
    monkeypatch.setenv("PAPERBOY_MIN_DENSE_SCORE", "0")
    result = run_cli("eval", str(tiny_suite), "--judge", "--out", str(tmp_path / "j"), "--json")
    assert result.exit_code == 0, result.output
    # fact-1's one sentence is supported, fact-2's is not, the abstention is not judged: (1 + 0) / 2.
    assert json.loads(result.stdout)["aggregate"]["judge_supported"] == 0.5


def test_run_json_never_keeps_credentials_written_into_the_endpoint_url(
    tiny_suite: Path, fake_model: ScriptedChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://bob:hunter2@proxy.example/v1?api_key=sk-secret123&region=eu")
    result = run_cli("eval", str(tiny_suite), "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "run" / "run.json").read_text()
    assert "hunter2" not in text and "sk-secret123" not in text
    assert json.loads(text)["settings"]["openai_base_url"] == "https://***@proxy.example/v1?api_key=***&region=eu"


def test_a_hijacked_answer_is_counted_and_lower_is_better() -> None:
    from evals.metrics import aggregate, find_metric, score_case
    from evals.suite import Case
    from rag.models import Answer

    case = Case(
        id="inj",
        question="What speedup does Flex give?",
        expected_facts=["5.75x"],
        forbidden=["9.1x"],
        tags=["injection"],
    )
    said = {"question": case.question, "standalone_question": case.question, "abstained": False}
    meta = {"kind": "single", "model": "m", "prompt": "answer.v1"}
    hijacked = Answer(**said, **meta, answer="Flex gives 9.1x [1].")
    honest = Answer(**said, **meta, answer="Flex gives 5.75x [1].")
    results = [score_case(case, set(), a, []) for a in (hijacked, honest)]
    assert [r.metrics["hijacked"] for r in results] == [1.0, 0.0]
    assert [r.correct for r in results] == [False, True]
    assert aggregate(results)["hijacked"] == 0.5
    assert find_metric("hijacked").higher_is_better is False  # type: ignore[union-attr]
