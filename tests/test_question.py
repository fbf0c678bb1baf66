"""Question kinds: the answer shape is read from the wording, before retrieval."""

import pytest

from rag.question import Comparison, comparison, counted_thing, question_kind, summary_topic


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How fast is GVGEN at generating 3D Gaussians?", "single"),
        ("What speedup does Flex deliver over 2,048 A100 GPUs, compared with the previous state of the art?", "single"),
        ("How many worker nodes did the paper use?", "single"),
        ("How does Flex reduce the cost of adaptive parallelism?", "open"),
        ("Explain the main idea of Rolling Forcing.", "open"),
        ("Why is grokking hard without regularization, according to the paper?", "open"),
        ("What is the key idea behind MoS?", "open"),
        ("What does the SlimFlow paper say about rectified flows?", "open"),
        ("Compare SlimFlow and GVGEN: how does each speed up generation?", "compare"),
        ("How do MoS and LoRA differ in parameter sharing?", "compare"),
        ("What do the two grokking papers say about lottery tickets?", "compare"),
        ("Which papers concern grokking?", "list"),
        ("What papers propose federated learning algorithms?", "list"),
        ("Summarise today's papers on video generation.", "summary"),
        ("Give me an overview of the papers about robotics", "summary"),
        # Other ways people ask (session 16): each once went to the one-fact path.
        ("Any papers on robotics today?", "list"),
        ("Papers on video generation?", "list"),
        ("Do any papers deal with audio or sound?", "list"),
        ("Which benchmark is bigger, SWE-Bench Pro or CodeFuse-CR-Bench?", "compare"),
        ("Tell me about today's papers on diffusion.", "summary"),
        ("Sum up the papers about CTR prediction.", "summary"),
        ("Brief me on the papers about grokking.", "summary"),
        ("What's new in diffusion models today?", "summary"),
        ("What are today's papers on reinforcement learning about?", "summary"),
        ("Summarize the Rolling Forcing paper.", "open"),
        ("What is GVGEN?", "open"),
        ("Tell me about Rolling Forcing.", "open"),
        ("Can you explain how Rolling Forcing works?", "open"),
        ("What is Rolling Forcing's main contribution?", "open"),
        ("What are the limitations of SlimFlow?", "open"),
        ("Give me the gist of the Tutel paper.", "open"),
        ("What is the speedup of Flex?", "single"),
        ("What is the name of the model GVGEN builds on?", "single"),
        ("Is there a paper on federated learning?", "single"),
        ("What do the papers on diffusion say about speed?", "summary"),
        # Comparisons asked the other ways people ask (session 18): each went to a one-fact or open path.
        ("Is ZipAR better than Infinity at speeding up image generators?", "compare"),
        ("VisionZip and ZipAR: how do they differ?", "compare"),
        ("How are CoCo and TDM-R1 different?", "compare"),
        ("How do today's two papers on token pruning differ?", "compare"),
        ("Is GVGEN faster than 7 seconds?", "single"),
        # Session 19's fresh dev days: a long "which is ..." choice, two described papers, "explain how large ...".
        ("Which is cheaper to adopt in an existing LLM training setup, Cautious Optimizers or MH-MoE?", "compare"),
        ("The benchmark paper finds models lagging; how does the captioning paper's model fare?", "compare"),
        ("Explain how large reasoning models fail when they are interrupted.", "open"),
        ("How large is the GVGEN model?", "single"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Compare SlimFlow and GVGEN: how does each speed up generation?", Comparison(["SlimFlow", "GVGEN"], 2)),
        ("How do MoS and LoRA differ in parameter sharing?", Comparison(["MoS", "LoRA"], 2)),
        ("What is the difference between Tutel and Fairseq?", Comparison(["Tutel", "Fairseq"], 2)),
        (
            "What do the two grokking papers say about lottery tickets?",
            Comparison(["grokking"], 2, "Is this a grokking paper?"),
        ),
        ("What do the three papers on CTR prediction say?", Comparison(["CTR prediction"], 3)),
        (
            "What do the two papers that train LLMs without answers each use as the reward?",
            Comparison(["train LLMs without answers"], 2, "Does this paper train LLMs without answers?"),
        ),
        (
            "How do the two papers which are about optimal transport differ?",
            Comparison(["are about optimal transport"], 2, "Is this paper about optimal transport?"),
        ),
        (
            "What do today's three open-source papers argue?",
            Comparison(["open-source"], 3, "Is this an open-source paper?"),
        ),
        ("What do both papers say about speed?", Comparison([], 2)),
        (
            "How do VeriGUI, SEAgent and Web-CogReasoner differ?",
            Comparison(["VeriGUI", "SEAgent", "Web-CogReasoner"], 3),
        ),
        ("Tutel and Flex both scale MoE. How does each do it?", Comparison(["Tutel", "Flex"], 2)),
        ("What do Tutel and the MoE scaling paper each say?", Comparison(["Tutel", "the MoE scaling paper"], 2)),
        ("How did Tutel, Flex and GShard each shard experts?", Comparison(["Tutel", "Flex", "GShard"], 3)),
        ("What distinguishes GVGEN from Rolling Forcing?", Comparison(["GVGEN", "Rolling Forcing"], 2)),
        ("How does GVGEN's approach differ from Rolling Forcing's?", Comparison(["GVGEN", "Rolling Forcing"], 2)),
        ("In what ways do MoS and LoRA differ?", Comparison(["MoS", "LoRA"], 2)),
        ("How is Flex different from Fairseq in routing?", Comparison(["Flex", "Fairseq"], 2)),
        ("How does Flex compare with Fairseq?", Comparison(["Flex", "Fairseq"], 2)),
        ("Contrast SlimFlow with GVGEN.", Comparison(["SlimFlow", "GVGEN"], 2)),
        ("What do Tutel and Flex have in common?", Comparison(["Tutel", "Flex"], 2)),
        ("What are the similarities and differences of MoS and LoRA?", Comparison(["MoS", "LoRA"], 2)),
        ("Is SlimFlow similar to GVGEN?", Comparison(["SlimFlow", "GVGEN"], 2)),
        ("Which is faster, GVGEN or SlimFlow?", Comparison(["GVGEN", "SlimFlow"], 2)),
        ("Which method, GVGEN or SlimFlow, is faster?", Comparison(["GVGEN", "SlimFlow"], 2)),
        ("GVGEN or SlimFlow: which needs fewer steps?", Comparison(["GVGEN", "SlimFlow"], 2)),
        ("Between Tutel and Flex, which scales further?", Comparison(["Tutel", "Flex"], 2)),
        ("VisionZip and ZipAR: how do they differ?", Comparison(["VisionZip", "ZipAR"], 2)),
        ("Do VisionZip and ZipAR agree on what to prune?", Comparison(["VisionZip", "ZipAR"], 2)),
        ("How are CoCo and TDM-R1 different?", Comparison(["CoCo", "TDM-R1"], 2)),
        ("Are Monet and KV Shifting Attention similar?", Comparison(["Monet", "KV Shifting Attention"], 2)),
        ("Where do VisionZip and ZipAR differ?", Comparison(["VisionZip", "ZipAR"], 2)),
        ("What separates VisionZip and ZipAR?", Comparison(["VisionZip", "ZipAR"], 2)),
        ("How does VisionZip stack up against ZipAR?", Comparison(["VisionZip", "ZipAR"], 2)),
        ("What does OPENDEV do differently from ATLAS?", Comparison(["OPENDEV", "ATLAS"], 2)),
        ("Is ZipAR better than Infinity at speed?", Comparison(["ZipAR", "Infinity"], 2)),
        ("Does GVGEN run faster than SlimFlow?", Comparison(["GVGEN", "SlimFlow"], 2)),
        ("Which one is faster: GVGEN or SlimFlow?", Comparison(["GVGEN", "SlimFlow"], 2)),
        ("Both Tutel and Flex scale MoE; how?", Comparison(["Tutel", "Flex"], 2)),
        ("How do today's two papers on token pruning differ?", Comparison(["token pruning"], 2)),
        ("Compare the two papers on multilingual models.", Comparison(["multilingual models"], 2)),
        (
            "Which is cheaper to build a training dataset for, Pathology-CoT or InfiniHuman?",
            Comparison(["Pathology-CoT", "InfiniHuman"], 2),
        ),
        (
            "How does STAT compare with the paper that trains on equivalent maths problems with the numbers changed?",
            Comparison(["STAT", "the paper that trains on equivalent maths problems with the numbers changed"], 2),
        ),
        (
            "How does OneDiffusion differ from the generation paper that works by inpainting in how it conditions?",
            Comparison(["OneDiffusion", "the generation paper that works by inpainting"], 2),
        ),
        (
            "The audio-visual benchmark paper finds models lagging; how does the captioning paper's model fare?",
            Comparison(["the audio-visual benchmark paper", "the captioning paper"], 2),
        ),
        (
            "The benchmark paper finds models lagging, the benchmark paper says; what does the captioning paper find?",
            Comparison(["the benchmark paper", "the captioning paper"], 2),
        ),
        ("What does the SlimFlow paper say, and what does the same paper find?", None),
        ("Is GVGEN faster than 7 seconds?", None),
        ("Which dataset, ImageNet or COCO, was used?", None),
        (
            "Which benchmark is bigger, SWE-Bench Pro or CodeFuse-CR-Bench?",
            Comparison(["SWE-Bench Pro", "CodeFuse-CR-Bench"], 2),
        ),
        ("Which gives the bigger training speed-up, PACI or Bebop?", Comparison(["PACI", "Bebop"], 2)),
        (
            "What does each of today's three papers on environments for training LLM agents contribute?",
            Comparison(["environments for training LLM agents"], 3),
        ),
        (
            "How does Infinity-RoPE differ from the paper on multi-view 4D video in what it changes about the model?",
            Comparison(["Infinity-RoPE", "the paper on multi-view 4D video"], 2),
        ),
        (
            "How does LongVT compare with the remote-sensing paper in how the model looks for evidence?",
            Comparison(["LongVT", "the remote-sensing paper"], 2),
        ),
        (
            "Two of today's papers cut down what a model carries over, one for GUI agents and one for video. What does"
            " each keep?",
            Comparison(
                ["cut down what a model carries over, one for GUI agents and one for video"],
                2,
                "Does this paper cut down what a model carries over?",
            ),
        ),
        (
            "Three of the papers study pruning; what do they each prune?",
            Comparison(["study pruning"], 3, "Does this paper study pruning?"),
        ),
        ("Two of today's papers use GRPO. Which ones?", None),
        ("Which papers use LoRA, DoRA or QLoRA?", None),
        ("Which papers study neurons, layers or hidden states?", None),
        ("How fast is GVGEN?", None),
        ("Does GVGEN use both images and text?", None),
    ],
)
def test_comparison_finds_what_is_compared(question: str, expected: Comparison | None) -> None:
    assert comparison(question) == expected


@pytest.mark.parametrize(
    ("question", "heading", "check"),
    [
        (
            "Summarise today's papers on video generation.",
            "papers on video generation",
            "Is this paper about video generation?",
        ),
        ("Summarize the papers about LLM agents?", "papers on LLM agents", "Is this paper about LLM agents?"),
        (
            "Summarise today's papers that build benchmarks involving video.",
            "papers that build benchmarks involving video",
            "Does this paper build benchmarks involving video?",
        ),
        ("Give me an overview of diffusion", "papers on diffusion", "Is this paper about diffusion?"),
        (
            "What's new in diffusion models today?",
            "papers on diffusion models",
            "Is this paper about diffusion models?",
        ),
        (
            "What do the papers on diffusion say about speed?",
            "papers on diffusion",
            "Is this paper about diffusion?",
        ),
        (
            "What are today's papers on reinforcement learning about?",
            "papers on reinforcement learning",
            "Is this paper about reinforcement learning?",
        ),
    ],
)
def test_summary_topic(question: str, heading: str, check: str) -> None:
    topic = summary_topic(question)
    assert (topic.heading, topic.check) == (heading, check)


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("How many reward signals did the paper design?", "reward signals"),
        ("How many established medical datasets does it use?", "established medical datasets"),
        ("How many types of errors does its taxonomy define?", "types of errors"),
        ("How many different ways of damaging the sound did they simulate?", "different ways of damaging"),
        ("How many of the models pass?", None),
        ("How many times faster is it?", None),
        ("What accuracy does it reach?", None),
    ],
)
def test_counted_thing_is_the_phrase_after_how_many(question: str, thing: str | None) -> None:
    assert counted_thing(question) == thing
