"""The digest as an Atom feed: one entry per paper, with its link, TL;DR and explainer, its topic as category."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.digest import Digest

FEED_TITLE = "Paperboy digest"
# How many days a feed keeps: a reader that polls once a week still sees every paper.
FEED_DAYS = 7


def _entry_html(tldr: str, rest: str) -> str:
    # Paper and model text is untrusted: escaped here, so the reader shows it and renders nothing of it.
    return f"<p><strong>{html.escape(tldr)}</strong> {html.escape(rest)}</p>"


def render_feed(digests: list[Digest], feed_id: str, self_url: str | None = None) -> bytes:
    """An Atom document of these digests (newest day first), every paper an entry whose id names its day,
    so a paper listed again on a later day is a new entry and a rewritten feed repeats no entry."""
    from feedgen.feed import FeedGenerator

    from rag.markup import safe_url

    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(FEED_TITLE)
    feed.author({"name": "Paperboy"})
    feed.language("en")
    if self_url:
        feed.link(href=self_url, rel="self")
    newest = None
    for digest in sorted(digests, key=lambda d: d.day.isoformat() if d.day else "", reverse=True):
        stamp = datetime.combine(digest.day, time(0), tzinfo=UTC) if digest.day else datetime.now(UTC)
        newest = max(newest or stamp, stamp)
        for topic in digest.topics:
            for paper in topic.papers:
                entry = feed.add_entry(order="append")
                entry.id(f"{feed_id}:{digest.day}:{paper.id}")
                entry.title(paper.title)
                if url := safe_url(paper.url):
                    entry.link(href=url, rel="alternate")
                entry.category(term=topic.name)
                entry.published(stamp)
                entry.updated(stamp)
                explainer = topic.explainers.get(paper.id)
                if explainer:
                    entry.summary(explainer.tldr)
                    entry.content(_entry_html(explainer.tldr, explainer.after_tldr), type="html")
                else:
                    entry.summary(paper.abstract)
    feed.updated(newest or datetime.now(UTC))
    return feed.atom_str(pretty=True)
