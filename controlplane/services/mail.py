"""Outgoing e-mail over SMTP (blocking; run from a worker or a thread)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from controlplane.settings import Settings

log = logging.getLogger(__name__)


def build_message(*, settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.SMTP_FROM
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def send_email(*, settings: Settings, to: str, subject: str, body: str) -> None:
    """Send one e-mail; with no SMTP server configured, log it instead, its body (a reset link
    is a credential) only in development, where the log is the developer's own terminal."""
    if not settings.SMTP_HOST:
        extra = {"to": to, "subject": subject}
        if settings.ENVIRONMENT == "development":
            extra["body"] = body
        log.warning("smtp not configured; e-mail not sent", extra=extra)
        return
    msg = build_message(settings=settings, to=to, subject=subject, body=body)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.SMTP_TLS == "ssl":
        smtp = smtplib.SMTP_SSL(settings.SMTP_HOST, settings.SMTP_PORT, context=context, timeout=30)
    else:
        smtp = smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=30)
    with smtp:
        if settings.SMTP_TLS == "starttls":
            smtp.starttls(context=context)
        if settings.SMTP_USER:
            smtp.login(settings.SMTP_USER, settings.SMTP_PASSWORD or "")
        smtp.send_message(msg)
    log.info("e-mail sent", extra={"to": to, "subject": subject})
