"""The only module that builds LangChain runnables: prompt file | chat model | text."""

from collections.abc import Callable
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable

from rag.models import Usage
from rag.prompts import Prompt
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
