"""The app, page by page, through streamlit's AppTest (the script runs in this process, so fakes apply),
and the `paperboy ui` command that starts it."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from langchain_core.messages import BaseMessage
from streamlit.testing.v1 import AppTest

from rag import cli as cli_module
from rag import providers
from rag.explain import explain_prompt
from rag.ingest import ingest_files
from rag.models import Explainer, Paper
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import (
    FIXTURES,
    ROOT,
    TOPIC_NAME,
    HashEmbeddings,
    ScriptedChat,
    run_cli,
    topic_or_explainer,
)
from ui.background import DayBriefing, SharedChat

APP = ROOT / "ui" / "app.py"
DAY = date(2025, 10, 31)
FLEX_QUESTION = "What speedup does Flex deliver for a single MoE layer over 2,048 A100 GPUs?"
FLEX_ANSWER = "Flex delivers a 5.75x speedup for a single MoE layer [1]."


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a new server process would, and the real local model never starts.

    st.cache_resource is process-wide, so a store or briefing from an earlier test (and its data dir) would
    otherwise be reused; releasing the briefings stops their threads before the fakes are unpatched.
    """

    def no_model(settings: Settings) -> None:
        raise AssertionError("this test must not reach a chat model")

    monkeypatch.setitem(providers.CHAT, "local", no_model)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
    for thread in threading.enumerate():
        if thread.name.startswith("briefing-"):
            thread.join(timeout=10)


def open_app(page: str) -> AppTest:
    """The app on one page, run once; switching before the first run keeps the Today page's work from starting."""
    at = AppTest.from_file(APP, default_timeout=30)
    if page != "today":
        at.switch_page(f"views/{page}.py")
    return at.run()


def shown(at: AppTest) -> str:
    """Every piece of text on the page, for 'is it anywhere' checks."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))


def abstracts(at: AppTest) -> list:
    """Each card's folded "Original abstract", in page order."""
    return [box for box in at.expander if box.label == "Original abstract"]


def progress_text(at: AppTest) -> str:
    """The progress bar's label."""
    return " ".join(bar.proto.text for bar in at.get("progress"))


# `paperboy ui`.


def test_ui_help_names_its_options() -> None:
    result = run_cli("ui", "--help")
    assert result.exit_code == 0, result.output
    assert "--host" in result.output and "--port" in result.output
    assert "no browser" in " ".join(result.output.split())


def test_streamlit_command_binds_loopback_and_opens_no_browser() -> None:
    argv = cli_module.streamlit_argv(cli_module.app_path(), "127.0.0.1", 8599)
    assert argv[1:4] == [str(APP.with_name("server.py")), "run", str(APP)]
    options = dict(zip(argv[4::2], argv[5::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8599",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--server.maxUploadSize": "50",
        "--client.toolbarMode": "minimal",
    }
    assert cli_module.app_path().is_file()


def test_ui_replaces_itself_with_streamlit_on_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(cli_module.os, "execv", lambda path, argv: started.append(argv))
    assert run_cli("ui").exit_code == 0
    assert started == [cli_module.streamlit_argv(APP, "127.0.0.1", 8501)]


def test_ui_without_the_app_says_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli_module, "app_path", lambda: tmp_path / "ui" / "app.py")
    result = run_cli("ui")
    assert result.exit_code == 1
    assert str(tmp_path / "ui" / "app.py") in result.output


# Today.


def _cache_explainer(data_dir: Path, paper: Paper, text: str) -> None:
    """An explainer in the catalog under the key explain_paper would use for the scripted model."""
    explainer = Explainer(
        paper_id=paper.id,
        title=paper.title,
        tldr=text.split(". ")[0],
        explainer=text,
        flagged=False,
        model="scripted-chat",
        prompt_version=explain_prompt().id,
        content_hash=paper.content_hash,
    )
    open_store(Settings(data_dir=data_dir)).catalog.save_explainer(explainer)


def _until_explained(at: AppTest, total: int) -> AppTest:
    deadline = time.monotonic() + 20
    while f"{total}/{total} explainers ready" not in progress_text(at):
        assert time.monotonic() < deadline, progress_text(at)
        time.sleep(0.2)
        at.run()
    return at.run()  # once more: the topic names land before the last explainer, the page draws both


def _until_grouped(at: AppTest) -> AppTest:
    deadline = time.monotonic() + 20
    while not at.subheader:
        assert time.monotonic() < deadline, "the day was never grouped by topic"
        time.sleep(0.2)
        at.run()
    return at


def test_today_groups_the_day_by_topic_and_explains_in_the_background(sample_store: Path, chat: ScriptedChat) -> None:
    model_free = threading.Event()

    def slow_model(messages: list[BaseMessage]) -> str:
        assert model_free.wait(timeout=20), "the test never let the model answer"
        return topic_or_explainer(messages)

    chat.script = [slow_model]
    top = open_store(Settings(data_dir=sample_store)).catalog.papers(DAY)[0]
    _cache_explainer(sample_store, top, "An explainer that was already in the catalog.")

    # The model is stuck, and still the page is drawn: every card at once (from the catalog alone), then
    # grouped under title-word topic names once the store is open, explainers pending.
    at = open_app("today")
    assert not at.exception
    assert [box.value for box in at.selectbox] == [DAY]
    assert len(abstracts(at)) == 45
    at = _until_grouped(at)
    headers = [h.value for h in at.subheader]
    assert 2 <= len(headers) <= 8
    assert sum(int(h.rsplit("(", 1)[1].rstrip(")")) for h in headers) == 45
    assert not any(h.startswith(TOPIC_NAME) for h in headers)
    assert len(abstracts(at)) == 45  # one card (with its abstract) per paper
    assert int(progress_text(at).split("/")[0]) <= 1

    model_free.set()
    at = _until_explained(at, 45)
    assert not at.exception
    assert all(h.value.startswith(TOPIC_NAME) for h in at.subheader)
    text = shown(at)
    assert "An explainer that was already in the catalog." in text
    assert text.count("The results suggest that the idea works") == 44
    explain_calls = [m for m in chat.received if "common topic" not in str(m[0].content)]
    assert len(explain_calls) == 44
    assert not any(top.title in str(m[-1].content) for m in explain_calls)  # the cached one was not redone


def test_background_explainers_wait_while_a_user_waits_for_an_answer(
    fake_embedder: HashEmbeddings, chat: ScriptedChat, settings: Settings
) -> None:
    chat.script = [topic_or_explainer]
    store = open_store(settings)
    ingest_files([FIXTURES / "papers.jsonl"], store)
    shared = SharedChat(settings)
    with shared.priority():
        briefing = DayBriefing(DAY, store.catalog, lambda: store, shared, settings.cache_dir).start()
        time.sleep(0.5)
        assert chat.received == []  # the briefing holds back while someone is asking
    deadline = time.monotonic() + 10
    while briefing.working:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(briefing.explainers) == len(briefing.papers) > 0
    assert briefing.digest is not None and {t.name for t in briefing.digest.topics} == {TOPIC_NAME}


def test_today_cards_fold_their_abstracts_and_search(sample_store: Path, chat: ScriptedChat) -> None:
    chat.script = [topic_or_explainer]
    at = open_app("today")
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    papers = open_store(Settings(data_dir=sample_store)).catalog.papers(DAY)
    for title, folded in zip(titles, abstracts(at), strict=True):
        # Each card's abstract is its own paper's, folded under the card's explainer (or its wait).
        paper = next(p for p in papers if p.title.split(":")[0][:30] in title)
        assert paper.abstract.split(". ")[0][:40] in folded.markdown[0].value
        assert not folded.proto.expanded
    assert sum(c.value == "Explainer on its way..." for c in at.caption) == len(titles) == 45

    at.text_input(key="today_query").set_value("grokking").run()
    assert not at.exception
    assert "best matches for" in shown(at)
    cards = [m.value for m in at.markdown if m.value.startswith("**")]
    assert "Grokking" in cards[0]
    assert len(abstracts(at)) == 10


def test_today_on_an_empty_library_points_to_the_library_page() -> None:
    at = open_app("today")
    assert not at.exception
    assert "No papers yet" in shown(at)


# Ask.


def test_an_answer_streams_in_with_citation_chips_that_open_the_paper(sample_store: Path, chat: ScriptedChat) -> None:
    chat.script = [FLEX_ANSWER]
    at = open_app("ask")
    at.chat_input[0].set_value(FLEX_QUESTION).run()
    assert not at.exception
    assert "Flex delivers a 5.75x speedup for a single MoE layer" in shown(at)
    assert not at.info  # an answer, not an abstention
    (chips,) = at.pills
    assert chips.options == ["[1] Tutel: Adaptive Mixture-of-Experts at Scale"]
    sources = at.expander[0]
    assert sources.label.startswith("Sources")
    assert "5.75x speedup of a single MoE layer" in shown(at)  # the evidence passage

    chips.set_value(1).run()
    assert not at.exception
    assert "**Tutel: Adaptive Mixture-of-Experts at Scale**" in [m.value for m in at.markdown]
    assert any("upvotes" in c.value for c in at.caption)
    assert abstracts(at)  # the card's folded abstract
    assert len(at.session_state["answers"]) == 1


def test_an_abstention_looks_different_from_an_answer(sample_store: Path, chat: ScriptedChat) -> None:
    chat.script = ["The papers do not say."]
    at = open_app("ask")
    at.chat_input[0].set_value("What learning rate does FedCompass use for local training?").run()
    assert not at.exception
    (notice,) = at.info
    assert "do not say" in notice.value
    assert "Why:" in notice.value
    assert not at.pills


def test_a_follow_up_carries_the_conversation_and_clear_empties_it(sample_store: Path, chat: ScriptedChat) -> None:
    chat.script = [FLEX_ANSWER]
    at = open_app("ask")
    at.chat_input[0].set_value(FLEX_QUESTION).run()
    chat.received.clear()
    standalone = "How much does Flex speed up SwinV2-MoE inference?"
    chat.script = [standalone, "Flex speeds up SwinV2-MoE inference 2.11x [1]."]
    at.chat_input[0].set_value("And how much does it speed up inference?").run()
    assert not at.exception
    rewrite_prompt = str(chat.received[0][-1].content)
    assert FLEX_QUESTION in rewrite_prompt and "5.75x speedup" in rewrite_prompt
    answers = at.session_state["answers"]
    assert [a.standalone_question for a in answers] == [FLEX_QUESTION, standalone]
    assert "2.11x" in shown(at)
    assert len(at.chat_message) == 4

    next(b for b in at.button if b.label == "Clear conversation").click().run()
    assert not at.chat_message
    assert at.session_state["answers"] == []


# Evals.


def _eval_reply(messages: list[BaseMessage]) -> str:
    return FLEX_ANSWER


def test_evals_runs_a_suite_shows_metrics_and_failures_and_compares_runs(
    fake_embedder: HashEmbeddings, chat: ScriptedChat, env_setup: Path
) -> None:
    chat.script = [_eval_reply]
    at = open_app("evals")
    at.selectbox(key="eval_suite").set_value(ROOT / "evals" / "suites" / "smoke.yaml")
    next(b for b in at.button if b.label == "Run the suite").click().run(timeout=60)
    assert not at.exception
    (saved,) = list((env_setup / "evals").glob("*/run.json"))
    assert saved.parent.name.startswith("smoke-default-")
    passed = next(m for m in at.metric if m.label == "Cases passed")
    assert passed.value.endswith("/6")
    failed = at.dataframe[0].value
    assert "multi-paper-03" in set(failed["case"])  # the model never says yes to a candidate: no papers listed
    assert len(failed) == 6 - int(passed.value.split("/")[0])

    at.selectbox(key="eval_pipeline").set_value("bm25")
    next(b for b in at.button if b.label == "Run the suite").click().run(timeout=60)
    assert not at.exception
    assert len(list((env_setup / "evals").glob("*/run.json"))) == 2
    comparison = at.dataframe[-1].value
    assert {"metric", "run", "baseline", "change", "regression"} <= set(comparison.columns)
    assert "accuracy" in set(comparison["metric"])


# Library.


def test_a_bad_upload_names_the_file_and_changes_nothing_then_a_good_one_goes_in(sample_store: Path) -> None:
    at = open_app("library")
    assert next(m for m in at.metric if m.label == "Papers").value == "45"
    at.file_uploader[0].upload("broken.jsonl", b'{"title": "A paper without an abstract"}\n')
    at.form_submit_button[0].click().run()
    assert not at.exception
    (error,) = at.error
    assert "broken.jsonl" in error.value
    assert "paperboy-upload" not in error.value  # the temporary folder is not the user's business
    assert next(m for m in at.metric if m.label == "Papers").value == "45"

    at.file_uploader[0].upload("papers.jsonl", (FIXTURES / "papers.jsonl").read_bytes())
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert not at.error
    assert "new" in at.success[0].value
    assert int(next(m for m in at.metric if m.label == "Papers").value) > 45


def test_library_shows_stats_and_the_endpoint_but_never_the_key(
    sample_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-test-never-shown-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PAPERBOY_CHAT_MODEL", "stub-model")
    at = open_app("library")
    assert not at.exception
    text = shown(at)
    assert "stub-model" in text and "http://127.0.0.1:9/v1" in text
    assert "2025-10-31" in text and "minilm" in text.lower() and "keyword_postings" in text
    assert key not in text and key not in str(at.session_state.to_dict())


def test_fetching_offline_is_one_clear_error(sample_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loopback port fails the way a machine without a network does, and sends nothing out.
    monkeypatch.setenv("PAPERBOY_HF_API_URL", "http://127.0.0.1:9/api/daily_papers")
    at = open_app("library")
    at.form_submit_button[1].click().run()
    assert not at.exception
    (error,) = at.error
    assert "offline" in error.value
    assert next(m for m in at.metric if m.label == "Papers").value == "45"


def test_the_day_picker_counts_papers_and_marks_what_is_new_since_the_last_visit(
    sample_store: Path, tmp_path: Path, chat: ScriptedChat
) -> None:
    chat.script = [topic_or_explainer]  # the page names topics and writes explainers in the background
    first = open_app("today")  # the first visit: nothing is "new"
    assert not first.exception
    assert first.selectbox[0].options == ["Friday 31 October 2025 (45 papers)"]
    assert "new since your last visit" not in shown(first)
    path = tmp_path / "2025-11-03.jsonl"
    path.write_text(json.dumps({"id": "2511.00001", "title": "A New Paper", "abstract": "We study it."}) + "\n")
    assert run_cli("ingest", str(path)).exit_code == 0
    later = open_app("today")  # a new session: a later visit
    assert later.selectbox[0].options[0] == "Monday 03 November 2025 (1 paper) \u00b7 1 new"
    assert "1 paper new since your last visit, 1 of them on this day." in shown(later)


def test_ask_can_read_this_week(sample_store: Path) -> None:
    at = open_app("ask")
    assert not at.exception
    assert "This week (2025-10-25 to 2025-10-31)" in at.selectbox[0].options
