"""Sending one alert to one channel, and saying in words how it went (never with the target in them).

Webhooks go out with outbound.request, the path run callbacks take: the target is checked against the
SSRF rules again at send time (SENTRI_CALLBACK_ALLOWLIST for private addresses), the request goes to
exactly the checked addresses with no proxy and no redirect, the whole exchange has one deadline and at
most ANSWER_BYTES of the answer are read. E-mail goes through smtp.py within the same deadline."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from .. import outbound, ssrf, vault
from ..runs.options import callback_allowlist
from ..settings import settings
from . import formats, smtp
from .channels import addresses

DELIVERY_TIMEOUT_SECONDS = 10.0  # the whole exchange, as for callbacks: connect, send, the answer
ANSWER_BYTES = 4096
ANSWER_SHOWN = 500


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None = None  # the receiver's HTTP status or SMTP reply code
    answer: str = ""  # what the receiver said (its first ANSWER_SHOWN characters)
    error: str | None = None
    retry: bool = False  # worth another attempt later (no answer, 5xx, 429; SMTP 4xx)


def send(kind: str, target: str, summary: dict) -> Outcome:
    """Send the alert; return what came of it, with the target masked out of every word."""
    outcome = _email(target, summary) if kind == "email" else _webhook(kind, target, summary)
    secrets = [target] + [p for p in (urlsplit(target).path, urlsplit(target).query) if len(p) > 8]
    return Outcome(
        outcome.delivered,
        outcome.status,
        vault.mask(outcome.answer, secrets) or "",
        vault.mask(outcome.error, secrets),
        outcome.retry,
    )


def _webhook(kind: str, target: str, summary: dict) -> Outcome:
    host = urlsplit(target).hostname
    timeout = DELIVERY_TIMEOUT_SECONDS
    try:
        response = outbound.request(
            "POST",
            target,
            allowlist=callback_allowlist(),
            field="target",
            timeout=timeout,
            deadline=timeout,
            max_body=ANSWER_BYTES,
            json=formats.PAYLOADS[kind](summary),
            headers={"User-Agent": "Sentri"},
        )
    except ssrf.UnsafeURLError as exc:  # the rules may have changed since the channel was made: not retried
        return Outcome(False, error=f"refused by the SSRF rules: {exc}")
    except outbound.DeadlineExceeded:
        return Outcome(False, error=f"{host} did not answer within {timeout:g} s", retry=True)
    except requests.ConnectionError:
        return Outcome(False, error=f"could not connect to {host}", retry=True)
    except requests.RequestException as exc:
        return Outcome(False, error=f"the request to {host} failed ({type(exc).__name__})", retry=True)
    answer = response.content.decode("utf-8", errors="replace")[:ANSWER_SHOWN]
    if (
        200 <= response.status_code < 300
    ):  # not response.ok: a 3xx is a redirect not followed, nothing received
        return Outcome(True, response.status_code, answer)
    retry = response.status_code >= 500 or response.status_code in (408, 429)
    return Outcome(
        False,
        response.status_code,
        answer,
        f"{host} answered {response.status_code}" + (f": {answer[:200]}" if answer.strip() else ""),
        retry,
    )


def _email(target: str, summary: dict) -> Outcome:
    url = settings().smtp_url
    if not url:
        return Outcome(False, error="SENTRI_SMTP_URL is not set on this server")
    relay = smtp.parse(url)
    recipients = addresses(target)
    subject, text, markup = formats.email(summary)
    try:
        code, answer = smtp.send(
            relay,
            smtp.message(relay, recipients, subject, text, markup),
            recipients,
            DELIVERY_TIMEOUT_SECONDS,
        )
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()), (None, b""))
        return _refused(relay, code, answer)
    except smtplib.SMTPResponseException as exc:
        return _refused(relay, exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPException as exc:
        return Outcome(False, error=f"the SMTP relay {relay.host}: {exc}", retry=True)
    except OSError as exc:
        return Outcome(
            False, error=f"could not reach the SMTP relay {relay.host} ({type(exc).__name__})", retry=True
        )
    return Outcome(True, code, answer[:ANSWER_SHOWN])


def _refused(relay: smtp.Relay, code: int | None, answer: bytes | str) -> Outcome:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    return Outcome(
        False,
        code,
        text[:ANSWER_SHOWN],
        f"the SMTP relay {relay.host} answered {code}: {text[:200]}",
        retry=code is not None and 400 <= code < 500,
    )
