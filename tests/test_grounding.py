"""The grounding checks: numbers and names an answer states must be in its sources."""

from decimal import Decimal

import pytest

from rag.grounding import counts, numbers_in, unsupported_coined_names, unsupported_names, unsupported_numbers


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a 16% gain", "a 16 percent gain"),
        ("a 16% gain", "a 16.0 point gain"),
        ("5.75x faster", "5.75 times faster"),
        ("1,000 tokens", "1000 tokens"),
        ("0.50 accuracy", "0.5 accuracy"),
        ("cuts memory threefold", "cuts memory 3x"),
        ("a tenfold speedup", "a 10-fold speedup"),
    ],
)
def test_numbers_written_differently_are_the_same_value(first: str, second: str) -> None:
    assert numbers_in(first) == numbers_in(second)
    assert len(numbers_in(first)) == 1


def test_numbers_in_reads_values_not_digits() -> None:
    assert numbers_in("a 5.75x speedup on 1,000 prompts") == {Decimal("5.75"), Decimal(1000)}
    assert numbers_in("16%") != numbers_in("1.6%")
    assert numbers_in("no figures here") == set()


def test_a_figure_with_a_unit_is_not_stated_by_a_model_size() -> None:
    sources = "We train a 1.5B model on 178K samples; replies start 80% sooner."
    assert unsupported_numbers("Replies start 1.5 seconds sooner.", sources) == ["1.5"]
    assert unsupported_numbers("Replies start 80% sooner with a 1.5 billion parameter model.", sources) == []
    assert unsupported_numbers("It was tuned on 178,000 samples.", sources) == []


def test_citation_markers_are_not_numbers() -> None:
    assert numbers_in("It is fast [1] and small [2, 3].") == set()
    assert numbers_in("It takes 7 seconds [2].") == {Decimal(7)}


def test_numbers_glued_to_latex_debris_are_read() -> None:
    # The sample day's GVGEN abstract says "(sim7 seconds)": $\sim$ lost its markup on the page.
    assert numbers_in("a fast generation speed (sim7 seconds)") == {Decimal(7)}
    assert numbers_in(r"about $\sim$12 ms") == {Decimal(12)}


def test_unsupported_numbers_are_returned_as_written_in_the_answer() -> None:
    sources = "A 5.75 times speedup on 1000 prompts; accuracy rises by 16 percent."
    answer = "It is 5.75x faster on 1,000 prompts, 16% more accurate and uses 2,500 GPUs for 0.30 hours [1]."
    assert unsupported_numbers(answer, sources) == ["2,500", "0.30"]


def test_supported_numbers_pass_and_repeats_are_listed_once() -> None:
    assert unsupported_numbers("Accuracy is 16% [1].", "accuracy of 16.0 percent") == []
    assert unsupported_numbers("It costs 9 s, then 9 s again.", "no figures") == ["9"]


def test_a_capitalised_name_missing_from_the_sources_is_flagged() -> None:
    sources = "rolling forcing is evaluated on vbench against causvid."
    assert unsupported_names("Rolling Forcing beats Sora on VBench [1].", sources) == ["Sora"]


def test_names_are_matched_case_insensitively() -> None:
    assert unsupported_names("The method wins on VBench and CausVid.", "results on vbench and causvid") == []


def test_sentence_initial_words_are_not_names() -> None:
    text = "However the model wins. Moreover it scores well! Results improve. Overall it is fast."
    assert unsupported_names(text, "") == []


def test_names_after_a_citation_marker_are_still_checked_inside_a_sentence() -> None:
    assert unsupported_names("It beats baselines [1], including Midjourney.", "it beats baselines") == ["Midjourney"]


@pytest.mark.parametrize(
    ("abstract", "answer"),
    [
        ("a 4-5times speedup over the baseline", "It is 4-5 times faster [1]."),
        ("compresses the cache by 16times", "It compresses the cache 16x [1]."),
        ("images at 64times64 resolution", "It works at 64x64 [1]."),
        (r"reaches 88\% accuracy", "It reaches 88% accuracy [1]."),
        ("evaluated on five benchmarks", "It is evaluated on 5 benchmarks [1]."),
        ("cuts memory by 50%", "It halves memory, to half [1]."),
        ("a dozen tasks", "It covers 12 tasks [1]."),
        ("a dataset of 178K samples", "It contains 178,000 samples [1]."),
        ("with 1.2M spatial QA pairs", "It holds 1.2 million pairs [1]."),
        ("a 7 billion parameter model", "A 7B model [1]."),
    ],
)
def test_figures_as_real_abstracts_and_small_models_write_them_are_supported(abstract: str, answer: str) -> None:
    assert unsupported_numbers(answer, abstract) == []


def test_a_scaled_figure_is_not_another_scaled_figure() -> None:
    assert unsupported_numbers("It contains 178,000 samples [1].", "a dataset of 17.8K samples") == ["178,000"]


def test_a_count_written_as_a_word_is_checked() -> None:
    # "Two ..." where the abstract says five is a wrong figure, not a word.
    assert unsupported_numbers("Two benchmarks are used [1].", "evaluated on five benchmarks") == ["Two"]
    assert unsupported_numbers("The two papers differ in speed [1, 2].", "no counts here") == []


def test_only_coined_names_in_a_question_must_be_in_the_papers() -> None:
    abstract = "We present NitroFusion, a one-step diffusion model evaluated with FID."
    question = "What FID does the one-step Gaussian image generator NitroFusion reach on COCO?"
    assert unsupported_coined_names(question, abstract) == ["COCO"]
    assert unsupported_names(question, abstract) == ["COCO", "Gaussian"]
    # "AI", "the US" and "PC" are plain words a question uses, not names the paper must repeat.
    plain = "In the quiz that AI systems are graded on, what share of questions are about the US?"
    assert unsupported_coined_names(plain, "84.9% of questions focus on North American regions.") == []
    desktop = "How often does it rewrite programs for desktop PC chips correctly?"
    assert unsupported_coined_names(desktop, "It converts x86 assembly to ARM assembly.") == []


def test_hyphenated_number_words_are_words_and_names_match_across_hyphens() -> None:
    assert unsupported_numbers("The code was left half-finished in a two-stage pipeline [1].", "no figures") == []
    assert unsupported_names("We use Feynman-Kac steering [1].", "we propose feynman kac (fk) steering") == []


def test_a_plain_word_made_an_adjective_is_no_name_and_a_lower_case_coined_name_is_one() -> None:
    assert unsupported_coined_names("Which team grades AI-made pictures?", "a reward model for images") == []
    assert unsupported_coined_names("What do LLMs reach on DESI-like data?", "LLMs on DESI data") == ["DESI-like"]
    assert unsupported_coined_names("What pass rate does it reach on miniF2F?", "Lean4 theorem proving") == ["miniF2F"]


def test_an_acronym_in_the_plural_is_named_by_its_singular() -> None:
    assert unsupported_coined_names("What do they change for LLMs?", "LLM post-training with MTP") == []
    assert unsupported_coined_names("What do they change for VLMs?", "LLM post-training with MTP") == ["VLMs"]


@pytest.mark.parametrize(
    ("thing", "text", "counted"),
    [
        ("datasets", "It uses 7 established medical datasets.", True),
        ("models", "Ten of the most capable open- and closed-source LMs were tested.", True),
        ("reward signals", "It designs four GRPO-based RL rewards tailored for planning.", True),
        ("videos", "The benchmark spans 6 semantic domains.", False),
        # What a figure counts ends with its clause: the "models" of the next one is not counted.
        ("models", "It spans 6 domains, and the models are strong.", False),
        # A thing named in common words only is compared as written.
        ("papers", "Authors now publish over 4.5 papers annually.", True),
        ("papers", "Authors now publish in over 4.5 venues annually.", False),
        # Kinds of a thing count kinds, whatever the paper calls them.
        ("different ways", "It simulates nineteen degradation types.", True),
        ("different ways", "It simulates nineteen degraded recordings.", False),
        ("different ways of damaging", "It simulates nineteen degradation types.", True),
        # "How many types of errors": a count of kinds of errors, whatever the kinds are called.
        ("types of errors", "It defines 19 fine-grained subtypes of errors.", True),
        ("types of errors", "It runs 19 fine-grained experiments.", False),
        # Examples, samples and instances are one thing counted under other names.
        ("examples", "LIMI reaches 73.5% with just 78 carefully designed training samples.", True),
        ("examples", "LIMI is trained for 78 hours.", False),
        # Percentage points are points: "by how many points did the pass rate move?"
        ("points", "Model choice changes Pass@1 by 29.4 pp and harness choice by 27.4 pp.", True),
        ("points", "Model choice changes Pass@1 by 29.4 and harness choice by 27.4.", False),
        # The count's noun may come before it when the text says it is a count of it.
        ("experts", "Monet can scale the expert count to 262,144 per layer.", True),
        ("experts", "The number of experts is 64.", True),
        ("experts", "Each of the experts reaches 64.2% accuracy.", False),
    ],
)
def test_a_count_counts_the_thing_named_after_it(thing: str, text: str, counted: bool) -> None:
    assert bool(counts(thing, text)) is counted


def test_counts_are_the_values_of_the_figures_that_count_the_thing() -> None:
    abstract = "It assesses LLMs on 675 unsolvable problems. We evaluated twelve state-of-the-art LLMs."
    assert counts("LLMs", abstract) == {12}
    assert counts("problems", abstract) == {675}
