"""The only module that builds LangChain runnables: prompt file | chat model | text."""

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, BaseMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable

from rag.models import Usage
from rag.prompts import Prompt, says_yes
from rag.providers import chat_model_name, client_secret, is_local, provider_errors
from rag.tokens import count_tokens

OnToken = Callable[[str], None]


def chat_prompt(prompt: Prompt) -> ChatPromptTemplate:
    """A prompt file as a LangChain chat template, open to follow-up turns (a correction, a check)."""
    return ChatPromptTemplate.from_messages(
        [("system", prompt.system), ("human", prompt.user), MessagesPlaceholder("follow_up", optional=True)]
    )


def text_chain(prompt: Prompt, llm: BaseChatModel, max_tokens: int) -> Runnable[dict, str]:
    """prompt | model | plain text, with a cap on the reply's length."""
    return chat_prompt(prompt) | llm.bind(max_tokens=max_tokens) | StrOutputParser()


# Alternatives the yes/no judge's first token is read among (the model may write "Yes", " yes", "NO").
_TOP_TOKENS = 10


class Verdict(NamedTuple):
    """A yes/no judgement: how likely the model finds yes, and whether that came from its token
    probabilities (calibrated) or only from the word it wrote (1.0 or 0.0)."""

    yes: float
    calibrated: bool


def verdict_of(reply: BaseMessage) -> Verdict:
    """The verdict a one-token reply carries: P(yes) / (P(yes) + P(no)) over the first token's top
    alternatives when the server sent them, else its word."""
    content = reply.response_metadata.get("logprobs", {}) or {}
    tokens = content.get("content") or []
    if tokens and tokens[0].get("top_logprobs"):
        top = {t["token"].strip().lower(): 0.0 for t in tokens[0]["top_logprobs"]}
        for alternative in tokens[0]["top_logprobs"]:
            top[alternative["token"].strip().lower()] += math.exp(alternative["logprob"])
        yes, no = top.get("yes", 0.0), top.get("no", 0.0)
        if yes + no > 0:
            return Verdict(yes / (yes + no), True)
    return Verdict(1.0 if says_yes(str(reply.content)) else 0.0, False)


class ModelCalls:
    """Runs prompts on one chat model and adds up the tokens they cost (tiktoken, whatever the model).

    One instance may serve many answers (a CLI run, an eval case with its judge): an answer reports
    usage_since its start, not the instance's total.
    """

    def __init__(self, llm: BaseChatModel, cache_dir: Path) -> None:
        self.llm = llm
        self.model = chat_model_name(llm)
        self.usage = Usage()
        self._cache_dir = cache_dir

    def usage_since(self, before: Usage) -> Usage:
        """Tokens spent since the total was before (a copy of usage taken then)."""
        return Usage(
            prompt_tokens=self.usage.prompt_tokens - before.prompt_tokens,
            completion_tokens=self.usage.completion_tokens - before.completion_tokens,
        )

    def run(
        self,
        prompt: Prompt,
        variables: dict[str, str],
        max_tokens: int,
        on_token: OnToken | None = None,
        follow_up: list[BaseMessage] | None = None,
    ) -> str:
        """The model's reply to prompt filled with variables (then any follow-up turns), streamed to on_token.

        The local model with no on_token replies in one response: on 2 cores the client's work on each
        streamed token shares the cores with the server, and explainers came 3.5% faster unstreamed. An
        endpoint always streams, so its timeout bounds a silence, not how long a good answer takes.
        """
        variables = {**variables, "follow_up": follow_up or []}
        messages = chat_prompt(prompt).format_messages(**variables)
        self.usage.prompt_tokens += sum(count_tokens(str(m.content), self._cache_dir) for m in messages)
        chain = text_chain(prompt, self.llm, max_tokens)
        local = is_local(self.llm)
        with provider_errors(f"Asking {self.model}", client_secret(self.llm), local):
            if on_token is None and local:
                reply = chain.invoke(variables)
            else:
                parts: list[str] = []
                for piece in chain.stream(variables):
                    parts.append(piece)
                    if on_token is not None:
                        on_token(piece)
                reply = "".join(parts)
        reply = reply.strip()
        self.usage.completion_tokens += count_tokens(reply, self._cache_dir)
        return reply

    def judge(self, prompt: Prompt, variables: dict[str, str]) -> Verdict:
        """A yes/no prompt's verdict from one token and its probabilities (OpenAI's logprobs, which
        llama.cpp and vLLM also serve); a server without them gives the word's verdict, uncalibrated."""
        messages = chat_prompt(prompt).format_messages(**variables, follow_up=[])
        self.usage.prompt_tokens += sum(count_tokens(str(m.content), self._cache_dir) for m in messages)
        model = self.llm.bind(max_tokens=1, logprobs=True, top_logprobs=_TOP_TOKENS)
        local = is_local(self.llm)
        with provider_errors(f"Asking {self.model}", client_secret(self.llm), local):
            if local:
                reply: BaseMessage = model.invoke(messages)
            else:  # an endpoint streams, so its timeout bounds a silence (see run)
                pieces: list[BaseMessageChunk] = list(model.stream(messages))
                reply = sum(pieces[1:], pieces[0]) if pieces else AIMessage(content="")
        self.usage.completion_tokens += 1
        return verdict_of(reply)
