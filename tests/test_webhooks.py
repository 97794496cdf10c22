"""Digests posted to Slack, Microsoft Teams and Google Chat through incoming webhooks, against a
real HTTP server on loopback that checks each payload against its service's documented shape."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import basic_rows, build_xlsx, okrsync, write_config

HOSTILE = "<!channel> *bold* <https://x|y>"  # must not ping, format or link anywhere
MONDAY = ("--today", "2026-11-16")


class Chat:
    """A loopback server standing in for the three services: it records every post per path and
    answers from a script (status, headers) per path, then 200."""

    def __init__(self):
        self.posts: dict[str, list[dict]] = {}
        self.script: dict[str, list[tuple[int, dict]]] = {}
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, headers = (chat.script.get(self.path) or [(200, {})]).pop(0) if chat.script.get(self.path) \
                    else (200, {})
                if status == 200:
                    chat.posts.setdefault(self.path, []).append(body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def chat(monkeypatch):
    server = Chat()
    for name, path in (("SLACK", "/slack"), ("TEAMS", "/teams"), ("GCHAT", "/chat")):
        monkeypatch.setenv(f"OKRSYNC_{name}_URL", server.url + path)
    yield server
    server.server.shutdown()


WEBHOOKS = ('[webhooks.leadership]\nkind = "slack"\nurl_env = "OKRSYNC_SLACK_URL"\n'
            '[webhooks.managers]\nkind = "teams"\nurl_env = "OKRSYNC_TEAMS_URL"\n'
            '[webhooks.space]\nkind = "google-chat"\nurl_env = "OKRSYNC_GCHAT_URL"\n')


def workspace(tmp_path, digest: str, rows=None, people: str = ""):
    rows = rows or basic_rows()
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    return write_config(tmp_path, "okrs.xlsx", extra=WEBHOOKS + digest + people)


def hostile_rows(count: int = 1):
    rows = basic_rows()
    rows["OKRs"][2][3] = HOSTILE  # Cut response time: 6 → 2 at 4, half-way: at risk late in the cycle
    for i in range(count - 1):
        rows["OKRs"].append([None, None, None, f"{HOSTILE} #{i}", "Bo", "number", "increase", 0, 100, 1])
    return rows


LEADERS = '[[digests]]\nname = "leaders"\nwebhooks = ["leadership", "managers", "space"]\nwhen = "mon 08:00"\n'


def texts(value, path=""):
    """Every string in a payload, with where it stands."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from texts(v, f"{path}/{k}")
    elif isinstance(value, list):
        for v in value:
            yield from texts(v, f"{path}[]")
    elif isinstance(value, str):
        yield path, value


def check_slack(payload: dict) -> None:
    assert set(payload) == {"text", "blocks"} and payload["text"] and 1 <= len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        assert block["type"] in ("header", "section", "context")
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert block["text"]["type"] == "plain_text" and 1 <= len(block["text"]["text"]) <= 3000
        else:
            assert all(e["type"] == "mrkdwn" and re.fullmatch(r"<@U[A-Z0-9]+>", e["text"]) for e in block["elements"])
    # sheet text only in plain_text objects: the notification text is okrsync's own words and numbers
    assert "channel" not in payload["text"] and "bold" not in payload["text"]


def check_teams(payload: dict) -> None:
    assert payload["type"] == "message" and len(payload["attachments"]) == 1
    attachment = payload["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4" and card["body"]
    for element in card["body"]:  # RichTextBlock TextRuns: no markdown is parsed in them
        assert element["type"] == "RichTextBlock" and all(i["type"] == "TextRun" for i in element["inlines"])
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= 28_000


def check_google_chat(payload: dict) -> None:
    assert payload["text"] and len(payload["cardsV2"]) == 1
    card = payload["cardsV2"][0]["card"]
    assert payload["cardsV2"][0]["cardId"] and card["header"]["title"] and card["sections"]
    for section in card["sections"]:
        assert all("textParagraph" in w for w in section["widgets"])
    widgets = json.dumps(card["sections"])
    assert "<!channel>" not in widgets and "&lt;!channel&gt; *bold* &lt;https://x|y&gt;" in widgets
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= 32_000


def test_a_digest_goes_to_each_channel_once_and_no_sheet_text_is_markup(tmp_path, chat):
    config = workspace(tmp_path, LEADERS, hostile_rows())
    first = okrsync("run", "-c", config, "--today", "2026-12-21", "--json")
    assert first.exit_code == 0, first.stderr
    assert sorted(json.loads(first.stdout)["digests"]) == ["webhook leadership (slack)", "webhook managers (teams)",
                                                           "webhook space (google-chat)"]
    assert {path: len(posts) for path, posts in chat.posts.items()} == {"/slack": 1, "/teams": 1, "/chat": 1}
    slack, teams, google = chat.posts["/slack"][0], chat.posts["/teams"][0], chat.posts["/chat"][0]
    check_slack(slack)
    check_teams(teams)
    check_google_chat(google)
    assert any(HOSTILE in t for _, t in texts(slack)) and any(HOSTILE in t for _, t in texts(teams))
    assert "🟡" in json.dumps(slack, ensure_ascii=False)  # statuses are words with a coloured marker
    again = okrsync("run", "-c", config, "--today", "2026-12-21", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["digests"] == []
    assert {path: len(posts) for path, posts in chat.posts.items()} == {"/slack": 1, "/teams": 1, "/chat": 1}


def test_a_500_and_a_429_are_retried_within_the_run(tmp_path, chat):
    chat.script["/slack"] = [(500, {})]
    chat.script["/teams"] = [(429, {"Retry-After": "1"})]
    config = workspace(tmp_path, LEADERS)
    result = okrsync("run", "-c", config, *MONDAY)
    assert result.exit_code == 0, result.stderr
    assert "HTTP 500; retry 1" in result.stderr and "HTTP 429; retry 1 in 1 s" in result.stderr
    assert {path: len(posts) for path, posts in chat.posts.items()} == {"/slack": 1, "/teams": 1, "/chat": 1}


def test_an_unreachable_channel_fails_the_run_without_its_url_and_is_retried_next_run(tmp_path, chat, monkeypatch):
    closed = "http://127.0.0.1:9/hooks/secret-token"  # the discard port: nothing listens
    monkeypatch.setenv("OKRSYNC_SLACK_URL", closed)
    config = workspace(tmp_path, LEADERS)
    failed = okrsync("run", "-c", config, *MONDAY)
    assert failed.exit_code == 1
    assert "webhook leadership: the slack webhook could not be reached" in failed.stderr
    assert "secret-token" not in failed.stdout + failed.stderr and "Traceback" not in failed.stderr
    assert "/slack" not in chat.posts and len(chat.posts["/teams"]) == 1  # the others went out
    monkeypatch.setenv("OKRSYNC_SLACK_URL", chat.url + "/slack")
    retried = okrsync("run", "-c", config, *MONDAY, "--json")
    assert retried.exit_code == 0 and json.loads(retried.stdout)["digests"] == ["webhook leadership (slack)"]
    assert len(chat.posts["/slack"]) == 1 and len(chat.posts["/teams"]) == 1


def test_a_long_digest_is_cut_within_each_services_limits(tmp_path, chat):
    config = workspace(tmp_path, LEADERS, hostile_rows(3000))  # 3,000 key results at risk: too many for any
    assert okrsync("run", "-c", config, "--today", "2026-12-21").exit_code == 0
    for path, check in (("/slack", check_slack), ("/teams", check_teams), ("/chat", check_google_chat)):
        payload = chat.posts[path][0]
        check(payload)
        assert any("more item(s) left out of this message: see the email digest and the sheets" in t
                   for _, t in texts(payload)), path


def test_an_owners_digest_mentions_owners_in_slack(tmp_path, chat):
    people = '[people]\n"Bo" = {email = "bo@example.com", slack = "U0BO"}\n"Ada" = "ada@example.com"\n'
    digest = '[[digests]]\nname = "owners"\nto = "owners"\nwebhooks = ["leadership"]\nwhen = "fri 15:00"\n'
    config = workspace(tmp_path, digest, hostile_rows(), people)
    result = okrsync("run", "-c", config, "--today", "2026-11-20")
    assert result.exit_code == 0, result.stderr
    slack = chat.posts["/slack"][0]
    check_slack(slack)
    headers = [b["text"]["text"] for b in slack["blocks"] if b["type"] == "header"]
    assert "Ada" in headers and "Bo" in headers and "Cy" in headers  # a section per owner
    mentions = [e["text"] for b in slack["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert mentions == ["<@U0BO>"]


def test_preview_into_a_folder_writes_messages_and_payloads_and_posts_nothing(tmp_path, chat):
    digest = LEADERS.replace('webhooks = [', 'to = ["ceo@example.com"]\nwebhooks = [')
    config = workspace(tmp_path, digest)
    result = okrsync("digest", "-c", config, "--name", "leaders", "--preview", tmp_path / "preview", *MONDAY)
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "preview").iterdir())
    assert names == ["leaders-ceo_example.com.html", "leaders-ceo_example.com.txt", "leadership.json", "managers.json",
                     "space.json"]
    check_slack(json.loads((tmp_path / "preview" / "leadership.json").read_text()))
    check_teams(json.loads((tmp_path / "preview" / "managers.json").read_text()))
    assert chat.posts == {}


@pytest.mark.parametrize("extra, key, problem", [
    ('[webhooks.x]\nkind = "discord"\nurl_env = "OKRSYNC_SLACK_URL"\n', "webhooks.x.kind", "must be one of slack, teams"),
    ('[webhooks.x]\nkind = "slack"\nurl_env = "OKRSYNC_NOT_SET"\n', "webhooks.x.url_env", "which is not set"),
    ('[webhooks.x]\nkind = "slack"\nurl_env = "OKRSYNC_PLAIN_URL"\n', "webhooks.x.url_env", "is not https"),
    ('[[digests]]\nname = "d"\nwebhooks = ["nope"]\n', "digests[0].webhooks", 'names "nope", which is not a [webhooks.*]'),
    ('[[digests]]\nname = "d"\n', "digests[0].to", "or `webhooks` must be given"),
])
def test_webhook_configuration_errors_name_the_key(tmp_path, chat, monkeypatch, extra, key, problem):
    monkeypatch.setenv("OKRSYNC_PLAIN_URL", "http://hooks.example.com/x")
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    result = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx", extra=extra))
    assert result.exit_code == 2 and f"`{key}`" in result.stderr and problem in result.stderr
    assert "hooks.example.com" not in result.stderr  # a URL is a secret, even in an error


def test_doctor_checks_each_webhook_and_posts_nothing(tmp_path, chat):
    result = okrsync("doctor", "-c", workspace(tmp_path, LEADERS))
    for name, kind in (("leadership", "slack"), ("managers", "teams"), ("space", "google-chat")):
        assert f"webhook {name}" in result.stdout and f"{kind}: OKRSYNC_" in result.stdout
    assert chat.posts == {} and chat.url not in result.stdout
