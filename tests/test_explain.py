"""Explainers: the checks, the retry, the cache keys, resume after an interruption, and the CLI."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from rag import explain as explain_module
from rag import providers
from rag.chains import ModelCalls
from rag.explain import copied_share, explain_paper, explainer_problems, parse_reply
from rag.models import Paper
from rag.naming import method_name
from rag.prompts import load_prompt
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import ScriptedChat, run_cli

PAPER = Paper(
    id="2510.00001",
    title="Flex: Adaptive Mixture-of-Experts at Scale",
    abstract="Flex distributes expert layers over GPUs. It gives a 5.75x speedup over 2,048 GPUs and "
    "cuts memory by 16%. It also helps SwinV2-MoE.",
    source="jsonl",
)
GOOD = (
    "Big language models are often split into many small expert networks, and spreading them over "
    "thousands of graphics chips is slow and wasteful. The authors built Flex, a system that picks the "
    "best way to share the work across chips while the model trains, without changing what the model "
    "computes. On 2,048 chips a single expert layer ran 5.75 times faster than the previous best system, "
    "and memory use fell by 16 percent. This matters because faster and cheaper training lets more "
    "teams build large models."
)
SHORT = "Flex makes training faster."
GROKKING = (
    "Rounding errors can stop a network from suddenly generalising. "
    + "Some networks memorise their training data first and only much later start to work on new data. " * 4
    + "The authors show that tiny rounding errors in one common step, called softmax, can block this late "
    "learning, and they name the effect Softmax Collapse."
)


def test_good_explainer_passes_every_check_and_opens_with_its_tldr() -> None:
    tldr, paragraph = parse_reply(GOOD)
    assert explainer_problems(tldr, paragraph, PAPER) == []
    assert paragraph == GOOD
    assert tldr == GOOD.split(". ")[0] + "."


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("5.75 times", "6.5 times"), "numbers the abstract does not: 6.5"),
        (GOOD.replace("16 percent", "20%"), "numbers the abstract does not: 20"),
        ("Flex makes training faster.", "has 4 words"),
        (GOOD + " " + GOOD, "words; it must have 60 to 150"),
        (GOOD.replace(". The authors", ".\n\nThe authors"), "one paragraph"),
        ("- " + GOOD, "one paragraph"),
        (GOOD.replace("built Flex, a system", "built a system"), "never names the method, Flex"),
        (PAPER.abstract, "100% of the explainer's six-word phrases are copied from the abstract"),
    ],
)
def test_each_check_catches_its_problem(text: str, problem: str) -> None:
    problems = explainer_problems("Flex is faster.", text, PAPER)
    assert any(problem in p for p in problems), problems


def test_copied_share_counts_six_word_phrases_found_in_the_abstract() -> None:
    assert copied_share(GOOD, PAPER.abstract) == 0.0
    # 16 words, 11 six-word runs; the 6 within the abstract's first 11 words are copied.
    half_copied = "Flex distributes expert layers over GPUs. It gives a 5.75x speedup to teams with small budgets."
    assert copied_share(half_copied, PAPER.abstract) == 6 / 11
    assert copied_share("Too short.", PAPER.abstract) == 0.0


def test_usual_forms_of_a_number_are_allowed() -> None:
    # 5.75 times = 5.75x, 16 percent = 16%, 2,048 = 2,048: the abstract's numbers in other words.
    assert not any("numbers" in p for p in explainer_problems("TL;DR.", GOOD, PAPER))


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Flex: Adaptive Mixture-of-Experts at Scale", "Flex"),
        ("Rolling Forcing: Autoregressive Long Video Diffusion", "Rolling Forcing"),
        ("Tutel: Adaptive Mixture-of-Experts at Scale", None),  # the abstract calls it Flex
        ("From Similarity to Superiority: Channel Clustering", None),  # a slogan, not a name
        ("Adaptive Mixture-of-Experts at Scale", None),
    ],
)
def test_the_method_to_name_comes_from_the_title_when_the_abstract_uses_it(title: str, name: str | None) -> None:
    abstract = PAPER.abstract + " Rolling Forcing rolls. From Similarity to Superiority we go."
    assert method_name(PAPER.model_copy(update={"title": title, "abstract": abstract})) == name


def test_an_opening_sentence_too_long_to_skim_is_a_problem() -> None:
    run_on = "Flex " + "and experts " * 17 + "run faster."
    problems = explainer_problems(*parse_reply(f"{run_on} {GOOD}"), PAPER)
    assert problems == ["the first sentence has 37 words; it must have at most 35"]


def test_a_label_the_model_adds_stays_out_of_the_tldr() -> None:
    assert parse_reply(f"**Explainer:** {GOOD}") == (GOOD.split(". ")[0] + ".", GOOD)
    # A separate TL;DR line is a second paragraph, which the checks send back for a retry.
    tldr, paragraph = parse_reply(f"TL;DR: Flex is fast.\nExplainer:\n{GOOD}")
    assert (tldr, paragraph) == ("Flex is fast.", f"Flex is fast.\n{GOOD}")
    assert any("one paragraph" in problem for problem in explainer_problems(tldr, paragraph, PAPER))


@pytest.mark.parametrize(
    ("abstract", "name"),
    [
        ("MoE is slow. We present Flex, a highly scalable stack. Flex is fast.", "Flex"),
        ("CTR models need features. We propose a novel method named OptFS (Optimizing Feature Set).", "OptFS"),
        ("This paper introduces MixER, a sparse mixture of experts.", "MixER"),
        ("We propose Bayesian optimization for tuning. It runs on a model named SwinV2-MoE.", None),
        ("We present a new stack for MoE.", None),
    ],
)
def test_without_a_name_in_the_title_the_abstract_may_introduce_one(abstract: str, name: str | None) -> None:
    paper = PAPER.model_copy(update={"title": "Adaptive Mixture-of-Experts at Scale", "abstract": abstract})
    assert method_name(paper) == name


@pytest.fixture
def library(settings: Settings, fake_embedder: object, tmp_path: Path) -> Iterator[tuple]:
    """Two papers ingested with the fake embedder, and the store."""
    other = {"id": "2510.00002", "title": "Grokking at the Edge", "abstract": "Softmax Collapse stops grokking."}
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(json.dumps(PAPER.model_dump(mode="json")) + "\n" + json.dumps(other) + "\n")
    assert run_cli("ingest", str(corpus), "--date", "2025-10-31").exit_code == 0
    yield open_store(settings), corpus


def explain_with(store: object, *script: str, refresh: bool = False) -> tuple:
    chat = ScriptedChat(script=list(script))
    explainer = explain_paper(store.catalog.paper(PAPER.id), ModelCalls(chat, Path("/tmp")), store.catalog, refresh)
    return explainer, chat


def test_failed_check_regenerates_once_naming_the_problem(library: tuple) -> None:
    store, _ = library
    explainer, chat = explain_with(store, SHORT, GOOD)
    assert (explainer.attempts, explainer.flagged) == (2, False)
    assert explainer.explainer == GOOD
    retry: BaseMessage = chat.received[1][-1]
    assert "has 4 words" in str(retry.content)
    assert "Say the name Flex in the first sentence." in str(retry.content)
    # Shown its failed reply, the small model copies it: the retry names the problem only.
    assert all(SHORT not in str(message.content) for message in chat.received[1])
    assert len(chat.received[1]) == len(chat.received[0]) + 1


def test_failing_twice_keeps_the_best_attempt_and_flags_it(library: tuple) -> None:
    store, _ = library
    two_problems = "Flex is 9x faster."  # too short, and a number not in the abstract
    explainer, _ = explain_with(store, two_problems, SHORT)
    assert explainer.flagged
    assert explainer.explainer == "Flex makes training faster."
    assert "words" in (explainer.flag_reason or "")


def test_same_input_is_served_from_the_cache(library: tuple) -> None:
    store, _ = library
    first, _ = explain_with(store, GOOD)
    again, chat = explain_with(store, "never used")
    assert again.cached and not first.cached
    assert chat.received == []
    assert again.explainer == first.explainer
    refreshed, chat = explain_with(store, GOOD, refresh=True)
    assert not refreshed.cached and len(chat.received) == 1


def test_changed_abstract_misses_the_cache(library: tuple, tmp_path: Path) -> None:
    store, _ = library
    explain_with(store, GOOD)
    changed = PAPER.model_copy(update={"abstract": PAPER.abstract + " It is open source."})
    (tmp_path / "v2.jsonl").write_text(json.dumps(changed.model_dump(mode="json")) + "\n")
    assert run_cli("ingest", str(tmp_path / "v2.jsonl")).exit_code == 0
    _, chat = explain_with(store, GOOD)
    assert len(chat.received) == 1


def test_changed_prompt_version_or_model_misses_the_cache(library: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = library
    explain_with(store, GOOD)
    other_model = ScriptedChat(script=[GOOD], model_name="another-model")
    explain_paper(PAPER, ModelCalls(other_model, Path("/tmp")), store.catalog)
    assert len(other_model.received) == 1
    current = explain_module.EXPLAIN_PROMPT_VERSION
    newer = load_prompt("explain", current).model_copy(update={"version": current + 1})
    monkeypatch.setattr(explain_module, "load_prompt", lambda name, version: newer)
    explainer, chat = explain_with(store, GOOD)
    assert (len(chat.received), explainer.prompt_version) == (1, f"explain.v{current + 1}")


def test_interrupted_run_resumes_without_redoing_finished_papers(
    library: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(messages: list[BaseMessage]) -> str:
        raise KeyboardInterrupt

    chat = ScriptedChat(script=[GOOD, interrupted])
    monkeypatch.setitem(providers.CHAT, "local", lambda settings: chat)
    stopped = run_cli("explain", "--all", "--date", "2025-10-31")
    assert stopped.exit_code == 1 and "Aborted" in stopped.output
    assert len(chat.received) == 2

    resumed = ScriptedChat(script=[GROKKING])
    monkeypatch.setitem(providers.CHAT, "local", lambda settings: resumed)
    result = run_cli("explain", "--all", "--date", "2025-10-31", "--json")
    assert result.exit_code == 0, result.output
    assert len(resumed.received) == 1  # only the paper the interruption stopped
    assert "1 generated, 1 cached" in result.output


def test_cli_json_contract(library: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(providers.CHAT, "local", lambda settings: ScriptedChat(script=[GOOD]))
    result = run_cli("explain", PAPER.id, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {
        "paper_id",
        "title",
        "tldr",
        "explainer",
        "flagged",
        "flag_reason",
        "model",
        "prompt_version",
        "cached",
    }
    assert (payload["paper_id"], payload["prompt_version"], payload["flagged"]) == (
        PAPER.id,
        f"explain.v{explain_module.EXPLAIN_PROMPT_VERSION}",
        False,
    )


def test_cli_needs_exactly_one_of_id_or_all(library: tuple) -> None:
    assert run_cli("explain").exit_code == 2
    assert run_cli("explain", PAPER.id, "--all").exit_code == 2
    missing = run_cli("explain", "nope")
    assert missing.exit_code == 1 and "paperboy papers" in missing.output


def test_a_long_explainer_keeps_its_leading_sentences_under_the_limit() -> None:
    tldr, paragraph = parse_reply(f"{GOOD} {GOOD}")
    assert len(paragraph.split()) <= 150
    assert paragraph.startswith(GOOD) and paragraph.endswith(".")
    assert explainer_problems(tldr, paragraph, PAPER) == []


def test_a_last_sentence_cut_off_by_the_token_cap_is_dropped() -> None:
    tldr, paragraph = parse_reply(f"{GOOD} It reaches a speedup of 5.75")
    assert paragraph == GOOD
    assert explainer_problems(tldr, paragraph, PAPER) == []


def test_an_unfinished_sentence_stays_when_dropping_it_would_leave_too_few_words() -> None:
    short = "Flex trains mixture-of-experts models faster. It reaches a speedup of 5.75"
    assert parse_reply(short) == ("Flex trains mixture-of-experts models faster.", short)
