"""A digest as a chat message: one plain structure (a Post), built once per digest, rendered
for Slack (Block Kit), Microsoft Teams (an Adaptive Card message) and Google Chat (cardsV2).

Every value from a sheet reaches the service as text that no formatting parses: Slack's
``plain_text`` objects (no mentions, links or *bold*), Teams' RichTextBlock TextRuns (no
markdown), Google Chat's card text with HTML escaped. A digest too long for one message is cut,
with a line saying how many items were left out and where to see them.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from okrsync.domain import GREEN, GREY, RED, YELLOW

MARKERS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", GREY: "⚪"}
SLACK_BLOCKS, SLACK_TEXT, SLACK_HEADER = 50, 3000, 150  # Block Kit's limits per message, text object, header
TEAMS_BYTES, CHAT_BYTES = 27_000, 30_000  # under Teams' 28 KB and Google Chat's 32,000-byte messages
ADAPTIVE_CARD_VERSION = "1.4"  # the newest version Teams' Workflows webhooks render
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


@dataclass
class Section:
    title: str
    lines: list[str]
    mention: str | None = None  # a Slack member id, for an owner's section


@dataclass
class Post:
    title: str
    summary: list[str]
    headline: str  # the notification text: okrsync's words and numbers only, no sheet value
    sections: list[Section] = field(default_factory=list)
    where: str = "the email digest and the sheets"  # where to see what a cut message left out


def marker(colour: str | None) -> str:
    return MARKERS.get(colour or "", "⚪")


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _change(value: float | None) -> str:
    return "" if not value else f" ({value:+.2f})"


def leaders_post(context: dict) -> Post:
    """The leaders' digest (okrsync.digest.leaders_context) as a Post."""
    head = f"{context['cycle']} week {context['week']}" if context["cycle"] else "OKR weekly"
    changes = context["changes"]
    counts = " · ".join(f"{marker(colour)} {label} {context[key]}{_change(changes.get(key))}"
                        for key, label, colour in (("on_track", "On track", GREEN), ("at_risk", "At risk", YELLOW),
                                                   ("off_track", "Off track", RED)))
    summary = [f"{head}: {context['elapsed']} % of the cycle elapsed" if context["elapsed"] is not None else head,
               f"Average score {_score(context['average'])}{_change(context['average_change'])}", counts]
    headline = (f"OKR digest {head}: {context['on_track']} on track, {context['at_risk']} at risk, "
                f"{context['off_track']} off track")  # the cycle's label is okrsync's own (2026-Q4)
    post = Post(f"OKR digest — {head}", summary, headline)
    for team, data in context["teams"].items():
        lines = [f"{marker(o['colour'])} {o['text']} — {_score(o['score'])} {o['status']}{_change(o['change'])}"
                 for o in data["objectives"]]
        post.sections.append(Section(f"Team {team}", lines))
    if context["committed_missed"]:
        post.sections.append(Section("Committed objectives not delivered in full", [
            f"{marker(o['colour'])} {o['text']} ({o['team']}) — {_score(o['score'])} {o['status']} — "
            f"{o['owner'] or 'no owner'}" for o in context["committed_missed"]]))
    if context["attention"]:
        post.sections.append(Section("Key results at risk or off track", [
            f"{marker(k['colour'])} {k['text']} — {k['owner'] or 'no owner'} — {k['status']}" for k in context["attention"]]))
    if context["kpis"]:
        post.sections.append(Section("KPIs not on track", [
            f"{marker(k['colour'])} {k['name']} ({k['team']}) — {k['status']}, trend {k['trend'] or '–'}"
            for k in context["kpis"]]))
    hygiene = [f"{team}: {d['errors']} error(s), {d['warnings']} warning(s), {d['stale']} stale value(s)"
               for team, d in context["teams"].items() if d["errors"] or d["warnings"] or d["stale"]]
    hygiene += [f"{f['name']} could not be synced: {f['error']}" for f in context["failed"]]
    if hygiene:
        post.sections.append(Section("Data hygiene", hygiene))
    post.sections.append(Section("Sheets", [f"{link['name']}: {link['location']}" for link in context["links"]]))
    return post


def owners_post(contexts: dict[str, dict], slack_ids: dict[str, str]) -> Post:
    """The owners' digest as one Post, a section per owner (mentioned in Slack when [people]
    gives their member id)."""
    post = Post("OKR reminders", [f"{len(contexts)} owner(s) with key results or KPIs"],
                f"OKR reminders for {len(contexts)} owner(s)")
    for _, c in sorted(contexts.items(), key=lambda item: item[1]["owner"].lower()):
        lines = [f"{marker(k['colour'])} {k['text']} — {_score(k['score'])} {k['status']}" for k in c["key_results"]]
        lines += [f"{marker(k['colour'])} KPI {k['name']} — {k['status']}" for k in c["kpis"]]
        lines += [f"To update: {name}" for name in c["update"]]
        lines += [f"{p['severity']}: {p['message']} ({p['where']})" for p in c["problems"]]
        post.sections.append(Section(c["owner"], lines, slack_ids.get(c["owner"])))
    return post


def render(kind: str, post: Post) -> dict:
    """The JSON payload for a service, cut to its size limit."""
    renderer, fits = {"slack": (_slack, lambda p: len(p["blocks"]) <= SLACK_BLOCKS),
                      "teams": (_teams, lambda p: _size(p) <= TEAMS_BYTES),
                      "google-chat": (_google_chat, lambda p: _size(p) <= CHAT_BYTES)}[kind]
    whole = renderer(post)
    if fits(whole):
        return whole
    total = sum(len(s.lines) for s in post.sections)
    low, high = 0, total  # the most lines that fit, by bisection (each try renders the post once)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(renderer(_cut(post, middle, total))):
            low = middle
        else:
            high = middle - 1
    return renderer(_cut(post, low, total))


def _cut(post: Post, keep: int, total: int) -> Post:
    sections, left = [], keep
    for s in post.sections:
        if left <= 0:
            break
        sections.append(Section(s.title, s.lines[:left], s.mention))
        left -= len(s.lines)
    note = f"… {total - keep} more item(s) left out of this message: see {post.where}."
    return Post(post.title, post.summary + [note], post.headline, sections, post.where)


def _size(payload: dict) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


# -- Slack: Block Kit ---------------------------------------------------------------------

def _plain(text: str, limit: int = SLACK_TEXT) -> dict:
    return {"type": "plain_text", "text": text[: limit - 1] + "…" if len(text) > limit else text, "emoji": True}


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into texts of at most ``limit`` characters."""
    out, current = [], ""
    for line in lines:
        line = line if len(line) < limit else line[: limit - 2] + "…"
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return out + ([current] if current else [])


def _slack(post: Post) -> dict:
    blocks = [{"type": "header", "text": _plain(post.title, SLACK_HEADER)},
              {"type": "section", "text": _plain("\n".join(post.summary))}]
    for s in post.sections:
        blocks.append({"type": "header", "text": _plain(s.title, SLACK_HEADER)})
        if s.mention and _SLACK_ID.fullmatch(s.mention):  # our markup around an id we checked: a mention
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<@{s.mention}>"}]})
        blocks += [{"type": "section", "text": _plain(text)} for text in _chunks(s.lines, SLACK_TEXT)]
    return {"text": html.escape(post.headline, quote=False), "blocks": blocks}


# -- Microsoft Teams: an Adaptive Card message ------------------------------------------------

def _runs(text: str, bold: bool = False, size: str | None = None) -> dict:
    run = {"type": "TextRun", "text": text}
    if bold:
        run["weight"] = "Bolder"
    if size:
        run["size"] = size
    return {"type": "RichTextBlock", "inlines": [run]}


def _teams(post: Post) -> dict:
    body = [_runs(post.title, bold=True, size="Large")] + [_runs(line) for line in post.summary]
    for s in post.sections:
        body.append(_runs(s.title, bold=True, size="Medium"))
        body += [_runs(line) for line in s.lines]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": ADAPTIVE_CARD_VERSION, "body": body, "msteams": {"width": "Full"}}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


# -- Google Chat: cardsV2 ------------------------------------------------------------------

def _escaped(text: str) -> str:
    return html.escape(text, quote=False)


def _google_chat(post: Post) -> dict:
    sections = [{"widgets": [{"textParagraph": {"text": "<br>".join(_escaped(line) for line in post.summary)}}]}]
    for s in post.sections:
        sections.append({"header": _escaped(s.title),
                         "widgets": [{"textParagraph": {"text": "<br>".join(_escaped(line) for line in s.lines)}}]})
    return {"text": post.headline, "cardsV2": [{"cardId": "okrsync-digest", "card": {
        "header": {"title": post.title}, "sections": sections}}]}  # a card header is plain text
