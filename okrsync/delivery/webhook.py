"""Posting a chat message to an incoming webhook: retried on 429 (after its Retry-After), 5xx
and network failures with capped backoff, then given up for this run (the next run retries).
A webhook's URL is a secret: no message, log line or error ever shows it."""

from __future__ import annotations

import logging
import time

import requests

from okrsync.config import WebhookConfig

log = logging.getLogger("okrsync")
RETRIES, BACKOFF, CAP, TIMEOUT = 3, 1.0, 30.0, 15.0


class PostFailed(Exception):
    """A message could not be posted; the text names the channel, never its URL."""


def post(webhook: WebhookConfig, payload: dict) -> None:
    for attempt in range(RETRIES + 1):
        try:
            answer = requests.post(webhook.url, json=payload, timeout=TIMEOUT)
        except requests.RequestException as exc:  # its text holds the URL: only its kind is told
            problem, wait = f"the {webhook.kind} webhook could not be reached ({type(exc).__name__})", None
        else:
            if answer.status_code < 300:
                return
            problem = f"the {webhook.kind} webhook answered HTTP {answer.status_code}"
            if answer.status_code != 429 and answer.status_code < 500:
                raise PostFailed(f"webhook {webhook.name}: {problem}")
            wait = _retry_after(answer.headers.get("Retry-After")) if answer.status_code == 429 else None
        if attempt == RETRIES:
            raise PostFailed(f"webhook {webhook.name}: {problem} after {RETRIES} retries")
        pause = min(CAP, wait if wait is not None else BACKOFF * 2 ** attempt)
        log.warning("webhook %s: %s; retry %d in %.0f s", webhook.name, problem, attempt + 1, pause)
        time.sleep(pause)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: wait the usual backoff instead
        return None
