"""The digest by email: one multipart message (Markdown text and the digest's own HTML page) sent over SMTP.

The password is a SecretStr: it is read once, for the login, and no message, log line or file ever
holds it. Errors name the server and the setting to fix, never the credentials.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from rag.errors import MailError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.digest import Digest

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT_S = 30


def recipients(settings: Settings) -> list[str]:
    """The addresses in PAPERBOY_MAIL_TO."""
    return [address.strip() for address in (settings.mail_to or "").split(",") if address.strip()]


def check_mail_settings(settings: Settings) -> None:
    """MailError naming the missing settings, before any work is done for an email that cannot go."""
    missing = [
        name
        for name, value in (
            ("PAPERBOY_SMTP_HOST", settings.smtp_host),
            ("PAPERBOY_MAIL_FROM", settings.mail_from),
            ("PAPERBOY_MAIL_TO", recipients(settings)),
        )
        if not value
    ]
    if settings.smtp_user and settings.smtp_password is None:
        missing.append("PAPERBOY_SMTP_PASSWORD")
    if missing:
        raise MailError(f"To send the digest by email, set {', '.join(missing)} (see .env.example).")


def digest_message(digest: Digest, settings: Settings) -> EmailMessage:
    """The digest as an email: the Markdown as its text part, the digest's HTML page as its HTML part."""
    from rag.digest import render_html, render_markdown

    papers = sum(len(t.papers) for t in digest.topics)
    day = digest.day.isoformat() if digest.day else "all papers"
    message = EmailMessage()
    message["Subject"] = f"Paperboy digest {day}: {papers} paper{'s' if papers != 1 else ''}"
    message["From"] = settings.mail_from or ""
    message["To"] = ", ".join(recipients(settings))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="paperboy.invalid")
    message.set_content(render_markdown(digest))
    message.add_alternative(render_html(digest), subtype="html")
    return message


def _connect(settings: Settings, host: str, port: int) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.smtp_security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=context)
    server = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
    if settings.smtp_security == "starttls":
        server.starttls(context=context)
    return server


def send_digest(digest: Digest, settings: Settings) -> list[str]:
    """Send the digest to PAPERBOY_MAIL_TO; returns the recipients, or raises MailError saying what to fix."""
    check_mail_settings(settings)
    host = settings.smtp_host or ""
    port = settings.smtp_port or DEFAULT_PORTS[settings.smtp_security]
    where = f"the SMTP server {host}:{port} ({settings.smtp_security})"
    message = digest_message(digest, settings)
    try:
        with _connect(settings, host, port) as server:
            if settings.smtp_user and settings.smtp_password is not None:
                server.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            server.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailError(
            f"{where} refused the login of {settings.smtp_user!r}: check PAPERBOY_SMTP_USER and PAPERBOY_SMTP_PASSWORD."
        ) from None
    except ssl.SSLError as ex:
        raise MailError(f"No secure connection to {where} ({ex.reason}); check PAPERBOY_SMTP_SECURITY.") from None
    except smtplib.SMTPNotSupportedError as ex:  # no STARTTLS, or no AUTH on this connection
        raise MailError(f"{where}: {ex} Check PAPERBOY_SMTP_SECURITY and PAPERBOY_SMTP_USER.") from None
    except (smtplib.SMTPException, OSError) as ex:
        raise MailError(
            f"Cannot send the digest through {where}: {type(ex).__name__}: {ex}. Try again later."
        ) from None
    return recipients(settings)
