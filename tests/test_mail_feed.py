"""The digest as an Atom feed (read back with feedparser, as feed readers do) and by email, received by a
real SMTP server on 127.0.0.1 (aiosmtpd, with STARTTLS or TLS and a login); the password is never shown
or written anywhere."""

import email
import json
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as email_policy
from pathlib import Path

import feedparser
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from rag.settings import Settings
from tests.conftest import FIXTURES, TOPIC_NAME, ScriptedChat, run_cli, topic_or_explainer
from tests.openai_stub import free_port
from tests.stand_in import StandIn, serving

pytestmark = [
    pytest.mark.usefixtures("fake_embedder"),
    # The TLS-port server allows AUTH without STARTTLS because its whole connection is TLS already.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

DAY = "2025-10-31"
USER = "reader@example.org"
PASSWORD = "pw-9f3Kq-never-shown-7Zt"
LINKS = [
    f"https://huggingface.co/papers/{item['paper']['id']}"
    for item in json.loads((FIXTURES / "hf_daily_papers.json").read_text())
]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 itself


@pytest.fixture
def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A certificate authority the client trusts (through SSL_CERT_FILE, as OpenSSL reads it)."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return ca


@pytest.fixture(params=["starttls", "ssl"])
def smtp(request: pytest.FixtureRequest, authority: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 that wants a login over TLS (STARTTLS, or TLS from the start),
    and the settings that point Paperboy at it."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    inbox, port = Inbox(), free_port()
    # On a TLS port aiosmtpd does not count the connection as TLS for AUTH, though it is.
    tls = (
        {"tls_context": context} if request.param == "starttls" else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_login, auth_required=True, **tls)
    controller.start()
    for name, value in {
        "PAPERBOY_SMTP_HOST": "127.0.0.1",
        "PAPERBOY_SMTP_PORT": str(port),
        "PAPERBOY_SMTP_SECURITY": request.param,
        "PAPERBOY_SMTP_USER": USER,
        "PAPERBOY_SMTP_PASSWORD": PASSWORD,
        "PAPERBOY_MAIL_FROM": "Paperboy <paperboy@example.org>",
        "PAPERBOY_MAIL_TO": "a@example.org, b@example.org",
    }.items():
        monkeypatch.setenv(name, value)
    yield inbox
    controller.stop()


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch, chat: ScriptedChat) -> Iterator[None]:
    """The fixture day ingested by `paperboy daily` from a stand-in API, with scripted explainers."""
    chat.script = [topic_or_explainer]
    with serving(StandIn(hf_days={DAY: (FIXTURES / "hf_daily_papers.json").read_bytes()})) as server:
        monkeypatch.setenv("PAPERBOY_HF_API_URL", server.hf_url)
        yield


def _every_file_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("day")
def test_daily_email_arrives_with_text_and_html_parts_and_the_right_links(smtp: Inbox, settings: Settings) -> None:
    result = run_cli("daily", "--date", DAY, "--email", "--json")
    assert result.exit_code == 0, result.output
    (message,) = smtp.messages
    assert smtp.recipients == [["a@example.org", "b@example.org"]]
    assert message["Subject"] == f"Paperboy digest {DAY}: 4 papers"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    page = message.get_body(("html",)).get_content()
    for link in LINKS:
        assert f"]({link})" in text  # a Markdown link in the text part
        assert f'<a href="{link}"' in page  # a real link in the HTML part
    assert f"<h2>{TOPIC_NAME}</h2>" in page
    # Sent once a day: a second run does not send it again.
    assert run_cli("daily", "--date", DAY, "--email").exit_code == 0
    assert len(smtp.messages) == 1
    # The password is in no output, no log line and no file the runs wrote.
    assert PASSWORD not in result.output
    leaks = [p for p, data in _every_file_under(settings.data_dir).items() if PASSWORD.encode() in data]
    assert leaks == []


@pytest.mark.usefixtures("day")
def test_digest_email_command_and_a_refused_login_never_show_the_password(
    smtp: Inbox, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    run_cli("daily", "--date", DAY)
    sent = run_cli("digest", "--date", DAY, "--email", "--out", str(settings.data_dir / "d.md"))
    assert sent.exit_code == 0 and "Sent the digest to a@example.org, b@example.org." in sent.output
    assert len(smtp.messages) == 1
    monkeypatch.setenv("PAPERBOY_SMTP_PASSWORD", PASSWORD + "-wrong")
    refused = run_cli("digest", "--date", DAY, "--email")
    assert refused.exit_code == 1
    assert "refused the login of 'reader@example.org'" in refused.output
    assert PASSWORD not in refused.output and PASSWORD not in sent.output
    assert not [p for p, data in _every_file_under(settings.data_dir).items() if PASSWORD.encode() in data]


def test_email_without_settings_names_what_to_set_before_any_work(settings: Settings) -> None:
    result = run_cli("daily", "--email")
    assert result.exit_code == 1
    assert "set PAPERBOY_SMTP_HOST, PAPERBOY_MAIL_FROM, PAPERBOY_MAIL_TO" in result.output
    assert not (settings.data_dir / "catalog.sqlite3").exists()


@pytest.mark.usefixtures("day")
def test_the_feed_is_valid_atom_with_one_entry_per_paper(settings: Settings, tmp_path: Path) -> None:
    run_cli("daily", "--date", DAY)
    feed_path = tmp_path / "day.xml"
    assert run_cli("digest", "--date", DAY, "--feed", str(feed_path), "--out", str(tmp_path / "d.md")).exit_code == 0
    feed = feedparser.parse(feed_path.read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and feed.feed.title == "Paperboy digest"
    assert sorted(e.link for e in feed.entries) == sorted(LINKS)
    entry = next(e for e in feed.entries if e.link.endswith("2510.26692"))
    assert entry.title == "Sparse Mixtures of Retrieval Heads for Long-Context Reasoning"
    assert [t.term for t in entry.tags] == [TOPIC_NAME]
    assert entry.summary.startswith("The authors show a simpler way")  # the TL;DR
    assert entry.content[0].value.startswith("<p><strong>The authors show a simpler way")  # TL;DR and explainer
    assert len({e.id for e in feed.entries}) == 4


def test_paper_text_in_the_feed_stays_text(tmp_path: Path) -> None:
    from datetime import date

    from rag.digest import Digest, Topic
    from rag.feed import render_feed
    from rag.models import Explainer, Paper

    paper = Paper(id="2510.1", title="<b>Bold</b> & Co", abstract="x", source="jsonl", url="javascript:alert(1)")
    explainer = Explainer(
        paper_id=paper.id,
        title=paper.title,
        tldr="<script>alert(1)</script> is it.",
        explainer="<script>alert(1)</script> is it.",
        flagged=False,
        model="m",
        prompt_version="explain.v4",
        content_hash=paper.content_hash,
    )
    digest = Digest(
        day=date(2025, 10, 31), topics=[Topic(name="T", papers=[paper], explainers={paper.id: explainer})], model="m"
    )
    (entry,) = feedparser.parse(render_feed([digest], "urn:x")).entries
    assert entry.title == "<b>Bold</b> & Co"  # a title is text
    assert "<script>" not in entry.content[0].value and "&lt;script&gt;" in entry.content[0].value
    assert "javascript" not in json.dumps(entry.get("links", []))  # only http(s) links are kept
