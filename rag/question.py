"""What shape of answer a question asks for: one fact, an explanation, a comparison, a list or a summary.

Read from the question's wording alone, before retrieval, so each kind takes its own path:
- "single": a figure or a name, one sentence ("How fast is GVGEN?");
- "open": how, why, explain, what is the idea, what does X say: a short grounded paragraph;
- "compare": compare A and B, how do A and B differ, what do the two papers on X say;
- "list": which papers ...: the set of papers that fit;
- "summary": summarise today's papers on X: each matching paper with a one-line gist.
"""

import re
from typing import Literal, NamedTuple

from rag.evidence import asks_for_a_figure

Kind = Literal["single", "open", "compare", "list", "summary"]
KINDS: tuple[Kind, ...] = ("single", "open", "compare", "list", "summary")

_SUMMARY = re.compile(
    r"^\s*(?:please\s+)?(?:summari[sz]e|sum up|recap|overview"
    r"|give (?:me )?(?:an? )?(?:overview|summary|rundown|recap))\b"
    r"|^\s*(?:tell me about|brief me on)\b(?=.*\bpapers\b)"
    r"|\bwhat(?:'s| is| are)? (?:new|the gist)\b.*\bpapers?\b|^\s*what(?:'s| is) new (?:in|on|about|with)\b"
    r"|^\s*what are (?:today's |the )?papers (?:on|about|in) .+ about\b"
    r"|^\s*what do (?:today's |the )?papers (?:on|about|in) .+? say\b",
    re.I,
)
# "Summarise the Rolling Forcing paper": a summary of one paper is an explanation of it.
_ONE_PAPER = re.compile(r"\bpaper\b", re.I)
_MANY_PAPERS = re.compile(r"\bpapers\b", re.I)
# "papers on video generation", "papers that build benchmarks involving video".
_SUMMARY_TOPIC = re.compile(
    r"\bpapers?\s+(?:(on|about|concerning|regarding|in)|that|which)\s+(.+?)(?:\s+about|\s+say\b.*)?(?:\s+today)?[\s?.!]*$",
    re.I,
)
# "Any papers on X?", "Are there papers that X?", "Papers about X?": a topic, asked of each paper as a summary's is.
_ANY_PAPERS = re.compile(
    r"^\s*(?:(?:are there|is there)\s+)?(?:any\s+)?papers?\s+(?:on|about|concerning|regarding|in|that|which)\b", re.I
)
# "Which of today's papers", "Are any of the papers": the day's papers, named or not.
_OF_THE_DAY = r"(?:of (?:the|today's) )?"
# "Do any papers deal with X?", "Are any of today's papers about X?" ("are"/"is" captured).
_DO_ANY_PAPERS = rf"(?:(are|were|is)|do|does|did) any {_OF_THE_DAY}papers?\b"
_LIST = re.compile(
    r"^\s*(?:which|what|list|name|are there|find|show|any)\b[^?]*\bpapers\b|\bwhich of (?:the|today's) papers\b"
    rf"|^\s*papers (?:on|about|in|that|which)\b|^\s*{_DO_ANY_PAPERS}",
    re.I,
)
# "Which papers study X?", "Which of today's papers are X?", "Do any papers deal with X?": what follows is
# asked of each paper; "are"/"is" before it make the check "Is this paper X?".
_WHICH_PAPERS = re.compile(
    rf"^\s*(?:(?:which|what) {_OF_THE_DAY}papers\s+(?:(are|were|is)\b|(?:do|does|did)\b)?|{_DO_ANY_PAPERS})\s*",
    re.I,
)
# Where a named subject ends: punctuation, the end, or a clause on what is compared ("... in speed").
_SUBJECT_END = r"(?:\s*[:;?.!]|,|\s+(?:in|on|when|for|at|regarding)\b|$)"
# The verb of a choice between two papers: "Which is faster, A or B?", "Which gives the bigger speed-up, A or B?".
_CHOICE_VERB = (
    r"(?:is|was|does|did|has|needs|uses|gets|runs|scores|reaches|gives|achieves|yields|offers|provides|requires|"
    r"takes|makes|brings|delivers|saves|costs|wins|performs|works|handles|supports|covers|reports|shows|trains|"
    r"scales|leads|produces|generates|improves|cuts|reduces|beats)\b"
)
# "Compare A and B: ...", "How do A and B differ ...", "the difference between A and B", "A vs B", and the
# other ways people set two named papers side by side ("What distinguishes A from B?", "A or B: which ...").
_COMPARE_PAIR = [
    re.compile(pattern, re.I)
    for pattern in (
        r"^\s*(?:compare|contrast)\s+(?:the\s+)?(.+?)\s+(?:and|with|to|against|vs\.?|versus)\s+(.+?)(?:\s*[:;?]|,|$)",
        # "How do A and B differ", "In what ways do A and B differ", "Tell me how A and B compare".
        r"\b(?:how|where|in what ways?) (?:(?:do|does|did) )?(.+?) and (.+?) (?:differ|compare)\b",
        # "A and B: how do they differ?", "Do A and B agree on ...?", "How are A and B different?"
        r"^\s*(.+?) and (.+?)\s*[:;,]\s*(?:how|where|in what ways?) (?:do|did) (?:they|the two) (?:differ|compare)\b",
        r"^\s*(?:do|did) (.+?) and (.+?) (?:agree|disagree|differ|overlap)\b",
        r"^\s*(?:(?:how|in what ways?) )?(?:are|were) (.+?) and (.+?) "
        r"(?:different|distinct|alike|similar|comparable)\b",
        r"\b(?:differences?|similarit(?:y|ies)|commonalit(?:y|ies))(?: and (?:differences?|similarities))?"
        rf" (?:between|of) (?:the\s+)?(.+?) and (.+?){_SUBJECT_END}",
        r"^\s*(?:how (?:does|do) )?(.+?)\s+(?:vs\.?|versus)\s+(.+?)(?:\s*[:;?]|,|$)",
        # "Video-Infinity and LongVA both deal with long videos. How does each approach it?"
        r"^\s*(?:(?:do|does|did|how do|how did)\s+)?(.+?) and (.+?) both\b",
        r"^\s*both (.+?) and (.+?)\s+(?=[a-z])",
        # "What do RL-PLUS and the chain-of-thought mirage paper each say limits reasoning?"
        r"^\s*(?:what|how|why) (?:do|did) (.+?) and (.+?) each\b",
        rf"^\s*what (?:distinguishes|sets apart|separates|differentiates) (.+?) (?:from|and) (.+?){_SUBJECT_END}",
        rf"^\s*(?:how|in what ways?) (?:is|are|was|were) (.+?) (?:different|distinct) from (.+?){_SUBJECT_END}",
        r"^\s*(?:how|in what ways?) (?:does|do|did) (.+?) (?:differ from|compare (?:to|with|against)|"
        rf"stack up (?:against|to)|fare against|measure up to) (.+?){_SUBJECT_END}",
        rf"^\s*what (?:does|do|did) (.+?) do differently (?:from|than) (.+?){_SUBJECT_END}",
        # "Is A better than B at ...?", "Does A run faster than B?"
        r"^\s*(?:(?:is|are|was|were) (.+?)|(?:does|do|did) (.+?) [a-z]+) (?:better|worse|faster|slower|cheaper|"
        rf"stronger|weaker|larger|smaller|more [\w-]+|less [\w-]+) than (?=[A-Za-z])(.+?){_SUBJECT_END}",
        rf"^\s*(?:is|are) (.+?) (?:similar|comparable) to (.+?){_SUBJECT_END}",
        r"^\s*what do (.+?) and (.+?) have in common\b",
        # "Which is faster, A or B?", "A or B: which needs less compute?", "Between A and B, which ...?"
        # "Which is cheaper to adopt in an existing training setup, A or B?": the choice ends the question.
        rf"^\s*which(?: (?:one|paper|method|approach|model|system))?(?: {_CHOICE_VERB}(?: [\w-]+){{0,10}})?[,:]"
        r"\s*(.+?) or (.+?)(?:\s*[?.!]|,|$)",
        # "Which benchmark is bigger, A or B?": any kind of thing, when the verb comes before the choice
        # ("Which dataset, ImageNet or COCO, was used?" asks a fact); "Which papers use X, Y or Z?" is a list.
        rf"^\s*which (?!papers\b|of\b)[\w-]+(?: [\w-]+)? {_CHOICE_VERB}(?: [\w-]+){{0,10}}[,:]"
        r"\s*(.+?) or (.+?)(?:\s*[?.!]|,|$)",
        r"^\s*(.+?) or (.+?)\s*[:,]\s*which\b",
        r"^\s*between (.+?) and (.+?),\s*which\b",
    )
]
# "How does GVGEN's approach differ from Rolling Forcing's?": the subjects are GVGEN and Rolling Forcing.
_POSSESSIVE = re.compile(r"(?:'|\u2019)s(?:\s.*)?$")
# "How do VeriGUI, SEAgent and Web-CogReasoner differ": the first subject is itself a list.
_SUBJECT_LIST = re.compile(r"\s*,\s*(?:and\s+)?")
# "What do the two video papers say about ...?", "both papers on X", "the three papers about X",
# "the two papers that train LLMs without answers each ...".
_COMPARE_GROUP = re.compile(
    r"\b(?:(?:the|today's) (?P<count>two|three|2|3)|both(?: the)?) (?:(?P<kind>.+?) )?papers\b"
    r"(?:\s+(?:(?:on|about|concerning)\s+(?P<topic>.+?)|(?:that|which)\s+(?P<clause>.+?))"
    r"(?=\s+(?:each|say|do|differ|agree|compare)\b|\s+(?:contribute|propose|introduce|add|find|show|argue|claim|"
    r"report|offer|suggest|use|mean)\s*[?.!]?\s*$|[?,:.!]|$))?",
    re.I,
)
# "Two of today's papers cut down what a model carries over, one for an agent and one for video. What does
# each keep?": a group said by what its papers do, then asked of each.
_GROUP_FIRST = re.compile(
    r"^\s*(?P<count>two|three|2|3) of (?:today's|the day's|the) papers (?P<clause>[^,.;?]+)(?P<rest>,[^.;?]*)?"
    r"[.;?]\s+(?=.*\b(?:each|both)\b)",
    re.I,
)
_COUNTS = {"two": 2, "three": 3, "2": 2, "3": 3}
# "... compare with the paper that trains on logically equivalent problems?": a subject cut just after
# the verb of a relative clause ("the paper that trains") runs on to the clause's end.
_CUT_CLAUSE = re.compile(r"\bpapers? (?:that|which|where|whose|who)(?: [\w-]+)?$", re.I)
# "... differ from the paper on time-synchronised 4D video in what it changes?": a described subject cut at
# the preposition that starts its description ("the paper") runs on to where the compared aspect begins.
_CUT_DESCRIPTION = re.compile(r"\bpapers?$", re.I)
_DESCRIPTION_GOES_ON = re.compile(r"\s+(?:on|about|concerning|for)\s", re.I)
_DESCRIPTION_END = re.compile(r"\s*[?;:!]|,\s|\.(?:\s|$)|\s+in (?:what|how|which)\b|$", re.I)
# "The audio-visual benchmark paper finds ...; how does the audio-visual captioning paper's model fare?":
# two papers described, not named, in one question are set side by side.
_DESCRIBED_PAPER = re.compile(r"\bthe ((?:[\w-]+ ){1,5}?)paper\b(?!s)", re.I)
_NOT_A_DESCRIPTION = {"first", "second", "third", "same", "other", "original", "previous", "last", "next", "whole"}
_OPEN = re.compile(
    r"^\s*(?:how|why|explain|describe|walk me through|in what way|what (?:is|are) the (?:main |key |core |central )?"
    r"(?:idea|intuition|insight|contribution|approach|mechanism|method|problem|motivation)s?\b"
    r"|what (?:does|do|did) .+? (?:say|propose|argue|find|show|change|do)\b|what makes\b|what problem"
    r"|tell me about\b|(?:can|could|would) you (?:please )?(?:explain|describe)\b|eli5\b|give me the (?:gist|idea)\b"
    r"|what (?:is|are) (?:the )?(?:main |key )?(?:limitations?|novelty|takeaways?|strengths?|weaknesses?)\b"
    r"|what (?:is|are) .+?(?:'|\u2019)s (?:main |key |core |central )?(?:idea|intuition|insight|contribution|approach|"
    r"mechanism|method|novelty|limitation)s?\b)",
    re.I,
)
# "Explain how large reasoning models fail when ...": a request to explain is open, whatever figure
# words ("how large") it holds.
_EXPLAIN = re.compile(r"^\s*(?:please\s+)?(?:explain|describe|walk me through)\b", re.I)
# "What is GVGEN?", "What are Grokking Tickets?": a name alone asks what the thing is (case matters here).
_DEFINITION = re.compile(r"^\s*[Ww]hat (?:is|are) [A-Z0-9][\w.+-]*(?:\s+[A-Z0-9][\w.+-]*)*\s*\??\s*$")


# "How many established medical datasets does ...": the words between "how many" and the verb.
_COUNTED = re.compile(
    r"\bhow many\s+((?:[\w-]+\s+){0,3}?[\w-]+?)\s+(?:does|do|did|is|are|was|were|has|have|had|can|could|"
    r"would|will|in|on|for|from|per|with|at|of)\b",
    re.I,
)
# "How many types of errors ...": what follows "of" is what the kinds are kinds of.
_OF_WHAT = re.compile(r"\s+of\s+(?!the\b|a\b|an\b|its\b|their\b)([\w-]+)", re.I)
# "What learning rate was used ...", "What value of the entropy threshold does ...": what is measured.
_MEASURED = re.compile(
    r"^\s*(?:what|which)\s+((?:[\w-]+\s+){0,5}?[\w-]+?)\s+(?:does|do|did|is|are|was|were|has|have|had)\b", re.I
)


def counted_thing(question: str) -> str | None:
    """'How many reward signals does X use?' -> 'reward signals'; None for 'how many times'.

    The whole phrase, not its last word: an abstract counts "four rewards" for "reward signals", and
    "19 fine-grained subtypes of errors" for "types of errors".
    """
    match = _COUNTED.search(question)
    if not match:
        return None
    words = match.group(1).split()
    if words[0].lower() in {"times", "more", "fewer", "less", "of"}:
        return None
    of_what = _OF_WHAT.match(question, match.end(1))
    return " ".join(words) + (f" of {of_what.group(1)}" if of_what else "")


def measured_thing(question: str) -> list[str]:
    """'What learning rate was used?' -> ['learning', 'rate']: the words naming the quantity asked for."""
    match = _MEASURED.search(question)
    return match.group(1).lower().split() if match else []


class Comparison(NamedTuple):
    """What a compare question sets side by side: named subjects, or the N papers on a topic and the
    yes/no question each of them answers ("Is this a position paper?"), when the question says one."""

    subjects: list[str]
    count: int
    check: str | None = None


def is_list_question(question: str) -> bool:
    """'Which papers ...' asks for a set of papers, not one fact."""
    return bool(_LIST.search(question))


def comparison(question: str) -> Comparison | None:
    """The papers a question compares, or None when it compares nothing."""
    described_first = _GROUP_FIRST.match(question)
    if described_first:
        count, clause = _COUNTS[described_first["count"].lower()], described_first["clause"].strip()
        topic = clause + (described_first["rest"] or "")
        return Comparison([topic], count, _group_check(None, clause))
    group = _COMPARE_GROUP.search(question)
    if group:
        count = _COUNTS.get((group["count"] or "two").lower(), 2)
        topic = " ".join(part for part in (group["kind"], group["topic"], group["clause"]) if part)
        return Comparison([topic] if topic else [], count, _group_check(group["kind"], group["clause"]))
    for pattern in _COMPARE_PAIR:
        match = pattern.search(question)
        if match:
            subjects = [
                _POSSESSIVE.sub("", s).strip(" \"'.")
                for group in match.groups()
                if group  # a pattern with alternative groups leaves one of them empty
                for s in _SUBJECT_LIST.split(group)
            ]
            if all(len(s.split()) <= 12 for s in subjects):
                return Comparison([_whole_description(s, question) for s in subjects], len(subjects))
    described = {
        f"the {m.group(1)}paper".lower(): f"the {m.group(1)}paper"
        for m in _DESCRIBED_PAPER.finditer(question)
        if not set(m.group(1).lower().split()) <= _NOT_A_DESCRIPTION
    }
    if len(described) >= 2:
        return Comparison(list(described.values()), len(described))
    return None


def _group_check(kind: str | None, clause: str | None) -> str | None:
    """The yes/no question each of "the three position papers" or "the two papers that do X" answers
    alone. None for "the two papers on X", where retrieval already ranks by the topic and where the
    topic's end is a guess ("the two papers on web agents train their agents to do what?"), and for
    "both papers", which says nothing of them."""
    if clause:
        verb, _, rest = clause.partition(" ")
        return f"Is this paper {rest}?" if verb.lower() in ("are", "were") else Topic(clause, False).check
    if kind:
        return f"Is this {'an' if kind[0].lower() in 'aeiou' else 'a'} {kind} paper?"
    return None


def _whole_description(subject: str, question: str) -> str:
    """The subject, or, when it was cut just after a relative clause's verb or before its description ("the
    paper | on X"), the subject up to the description's end."""
    start = question.find(subject)
    cut_description = _CUT_DESCRIPTION.search(subject) and _DESCRIPTION_GOES_ON.match(question, start + len(subject))
    if start < 0 or not (_CUT_CLAUSE.search(subject) or cut_description):
        return subject
    end = _DESCRIPTION_END.search(question, start + len(subject))
    return question[start : end.start() if end else len(question)].strip()


class Topic(NamedTuple):
    """What a summary is about: a subject ("video generation") or what the papers do ("build benchmarks")."""

    words: str
    is_subject: bool

    @property
    def heading(self) -> str:
        """'papers on video generation', 'papers that build benchmarks involving video'."""
        return f"papers {'on' if self.is_subject else 'that'} {self.words}"

    @property
    def check(self) -> str:
        """The yes/no question one paper answers alone."""
        return f"Is this paper about {self.words}?" if self.is_subject else f"Does this paper {self.words}?"


def summary_topic(question: str) -> Topic:
    """'Summarise today's papers on video generation.' -> the subject 'video generation'; what follows
    the request ("Give me an overview of diffusion" -> 'diffusion') when it names no papers."""
    match = _SUMMARY_TOPIC.search(question)
    if not match:
        rest = re.sub(r"^\s*(?:of|on|about|in|with)\s+", "", _SUMMARY.sub("", question, count=1), flags=re.I)
        rest = re.sub(r"\s+today\b.*$", "", rest, flags=re.I)  # "What's new in diffusion models today?"
        return Topic(rest.strip(" ?.!") or question, True)
    return Topic(match.group(2).strip(), bool(match.group(1)))


def question_kind(question: str) -> Kind:
    """The answer shape the question asks for; a figure question is always a single answer."""
    if _SUMMARY.search(question):
        return "open" if _ONE_PAPER.search(question) and not _MANY_PAPERS.search(question) else "summary"
    if comparison(question):
        return "compare"
    if is_list_question(question):
        return "list"
    if _EXPLAIN.match(question) or (
        not asks_for_a_figure(question) and (_OPEN.search(question) or _DEFINITION.match(question))
    ):
        return "open"
    return "single"


def per_paper_question(question: str) -> str:
    """'Which papers study X?' -> 'Does this paper study X?': a question one paper can answer alone.

    'Any papers on X?' -> 'Is this paper about X?': read whole, "Does this paper answer the request:
    Any papers on autoregressive image generation?" drew a yes from a diffusion paper.
    """
    if _ANY_PAPERS.match(question):
        return summary_topic(question).check
    match = _WHICH_PAPERS.match(question)
    if not match:
        return f"Does this paper answer the request: {question}"
    verb = "Is" if match.group(1) or match.group(2) else "Does"
    return f"{verb} this paper {question[match.end() :].rstrip(' ?')}?"
