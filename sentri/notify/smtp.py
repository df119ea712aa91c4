"""E-mail alerts through the server's SENTRI_SMTP_URL, with smtplib.

    smtp://[user:password@]host[:port][?from=alerts@example.com&starttls=require]   port 25 by default
    smtps://[user:password@]host[:port][?from=...]                                   TLS from the start, 465

smtp:// upgrades with STARTTLS whenever the server offers it (`starttls=require` refuses a server that does
not); a password is only ever sent over TLS, or to a loopback relay. The whole exchange has one deadline
(deadline.py shuts the connection down when it passes), like webhooks. The relay is the operator's, not a
user's: it is not subject to the SSRF rules, which are about the addresses users give. The URL holds a
password: it is never logged nor repeated in an error."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from .. import deadline as deadlines

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class Relay:
    scheme: str
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: str = "auto"  # auto: when offered; require: refuse a server without it


def parse(url: str) -> Relay:
    """Read SENTRI_SMTP_URL, or raise ValueError saying what is wrong (never repeating the URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL with a valid host and port") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be smtp://host[:port] or smtps://host[:port]")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"from", "starttls"}
    if unknown:
        raise ValueError(f"has unknown parameters: {', '.join(sorted(unknown))} (from, starttls are known)")
    starttls = query.get("starttls", "auto")
    if starttls not in ("auto", "require"):
        raise ValueError("starttls must be auto or require")
    username = unquote(parts.username) if parts.username else None
    sender = query.get("from") or (username if username and "@" in username else f"sentri@{socket.getfqdn()}")
    return Relay(
        parts.scheme,
        parts.hostname,
        port or DEFAULT_PORTS[parts.scheme],
        sender,
        username,
        unquote(parts.password) if parts.password else None,
        starttls,
    )


def message(relay: Relay, recipients: list[str], subject: str, text: str, markup: str) -> EmailMessage:
    """A multipart/alternative message: the plain text, and the same in HTML."""
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = relay.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=relay.sender.rpartition("@")[2] or None)
    mail.set_content(text)
    mail.add_alternative(markup, subtype="html")
    return mail


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def send(relay: Relay, mail: EmailMessage, recipients: list[str], timeout: float) -> tuple[int, str]:
    """Send within `timeout` seconds in all; return the server's final reply (code, text). smtplib's errors
    (SMTPException, OSError) are the caller's to report."""
    context = ssl.create_default_context()
    with deadlines.Deadline(timeout) as bound:
        if relay.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                relay.host, relay.port, timeout=bound.clamp(timeout), context=context
            )
        else:
            client = smtplib.SMTP(relay.host, relay.port, timeout=bound.clamp(timeout))
        try:
            bound.watch(client.sock)
            client.ehlo()
            tls = relay.scheme == "smtps"
            if not tls and (client.has_extn("starttls") or relay.starttls == "require"):
                client.starttls(
                    context=context
                )  # raises SMTPNotSupportedError when it is required and missing
                bound.watch(client.sock)
                client.ehlo()
                tls = True
            if relay.username:
                if not tls and not _loopback(relay.host):
                    raise smtplib.SMTPException(
                        "the relay offers no STARTTLS: the password is not sent in clear"
                    )
                client.login(relay.username, relay.password or "")
            code, answer = client.mail(relay.sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, relay.sender)
            for recipient in recipients:
                code, answer = client.rcpt(recipient)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
            # CRLF line ends: smtplib fixes them in a str, not in bytes, and a relay reads a bare-LF message
            # as one line too long.
            code, answer = client.data(mail.as_bytes(policy=mail.policy.clone(linesep="\r\n")))
            if code != 250:
                raise smtplib.SMTPDataError(code, answer)
            return code, answer.decode(errors="replace")
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
