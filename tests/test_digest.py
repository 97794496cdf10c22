"""Digests through a real SMTP server on loopback (aiosmtpd, STARTTLS with a test CA)."""

import email
import email.policy
import json
import socket
import ssl

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import basic_rows, build_xlsx, okrsync


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    """A STARTTLS SMTP server requiring login; okrsync verifies its certificate against a test CA."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("OKRSYNC_SMTP_PASSWORD", "s3cret")
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"okrsync" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 535 reply

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context,
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    inbox.port, inbox.logins, inbox.controller = port, logins, controller
    controller.start()
    yield inbox
    controller.stop()


def setup(tmp_path, port, digests, rows=None, people=""):
    build_xlsx(tmp_path / "okrs.xlsx", rows or basic_rows())
    config = tmp_path / "okrsync.toml"
    config.write_text(
        'timezone = "UTC"\ncycle = "2026-Q4"\n[[sources]]\nname = "team"\nexcel = "okrs.xlsx"\n'
        f'[email]\nfrom = "okrsync@example.com"\nsmtp = "127.0.0.1:{port}"\nsecurity = "starttls"\n'
        f'username = "okrsync"\npassword_env = "OKRSYNC_SMTP_PASSWORD"\n{people}\n{digests}')
    return config


LEADERS = '[[digests]]\nname = "leaders"\nto = ["ceo@example.com", "cto@example.com"]\nwhen = "mon 08:00"\n'


def parts(message):
    return {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in message.walk() if not p.is_multipart()}


def test_leaders_digest_over_starttls(tmp_path, smtp):
    config = setup(tmp_path, smtp.port, LEADERS)
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 0, result.stderr
    assert set(smtp.logins) == {(b"okrsync", b"s3cret")}  # the password from OKRSYNC_SMTP_PASSWORD
    assert sorted(r for rcpt, _ in smtp.messages for r in rcpt) == ["ceo@example.com", "cto@example.com"]
    _, message = smtp.messages[0]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "2026-Q4 week 7: 3 on track, 0 at risk, 0 off track"
    assert message["Message-ID"].startswith("<okrsync.") and message["From"] == "okrsync@example.com"
    body = parts(message)
    html, text = body["text/html"], body["text/plain"]
    for content in (html, text):
        assert "Delight customers" in content and "Support" in content and "51 % of the cycle elapsed" in content
    assert "<script>" not in html
    assert 'style="' in html and "<style>" not in html  # css inlined for mail clients
    assert "Response hours" in html and "At risk" in html  # the KPI not on track, with its status as text


def test_sheet_text_arrives_escaped(tmp_path, smtp):
    rows = basic_rows()
    rows["OKRs"][1][2] = "<script>alert(1)</script> & <b>bold</b>"
    config = setup(tmp_path, smtp.port, LEADERS, rows)
    okrsync("run", "-c", config, "--today", "2026-11-16")
    html = parts(smtp.messages[0][1])["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>" not in html and "<b>bold" not in html


def test_once_per_period_and_recipient(tmp_path, smtp):
    config = setup(tmp_path, smtp.port, LEADERS)
    okrsync("run", "-c", config, "--today", "2026-11-16")
    okrsync("run", "-c", config, "--today", "2026-11-16")
    okrsync("run", "-c", config, "--today", "2026-11-18")  # same week: the same period
    assert len(smtp.messages) == 2
    again = okrsync("digest", "-c", config, "--send", "--today", "2026-11-16")
    assert again.exit_code == 0 and "already sent" in again.stdout and len(smtp.messages) == 2
    forced = okrsync("digest", "-c", config, "--send", "--force", "--today", "2026-11-16")
    assert forced.exit_code == 0 and len(smtp.messages) == 4
    ids = [m["Message-ID"] for _, m in smtp.messages]
    assert ids[0] == ids[2]  # deterministic: the same digest, period and recipient
    okrsync("run", "-c", config, "--today", "2026-11-23")  # next Monday: a new period
    assert len(smtp.messages) == 6


def test_change_since_the_previous_digest(tmp_path, smtp):
    config = setup(tmp_path, smtp.port, LEADERS)
    okrsync("run", "-c", config, "--today", "2026-11-09")
    rows = basic_rows()
    rows["OKRs"][1][9] = 90  # Raise CSAT: 80 → 90, done
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    okrsync("run", "-c", config, "--today", "2026-11-16")
    text = parts(smtp.messages[-1][1])["text/plain"]
    # objective score: (0.5 + 0.5 + 1) / 3 = 0.67 → (1 + 0.5 + 1) / 3 = 0.83
    assert "0.83 (+0.17)  Delight customers" in text
    assert "Average objective score: 0.83 (+0.17)" in text


def test_smtp_down_is_reported_and_retried(tmp_path, smtp):
    config = setup(tmp_path, free_port(), LEADERS)  # nothing listens there
    down = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert down.exit_code == 1
    assert "digest leaders to ceo@example.com not sent" in down.stderr and "Traceback" not in down.stderr
    config = setup(tmp_path, smtp.port, LEADERS)
    up = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert up.exit_code == 0 and len(smtp.messages) == 2


def test_an_untrusted_certificate_is_refused(tmp_path, smtp, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    config = setup(tmp_path, smtp.port, LEADERS)
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr and not smtp.messages


def test_owners_digest_resolves_people_and_reports_the_rest(tmp_path, smtp):
    owners = '[[digests]]\nname = "owners"\nto = "owners"\nwhen = "fri 15:00"\n'
    people = '[people]\n"Ada" = "ada@example.com"\n"bo" = "bo@example.com"\n'
    rows = basic_rows()
    rows["OKRs"][1][9] = "n/a"  # Ada's key result cannot be scored
    config = setup(tmp_path, smtp.port, owners, rows, people)
    result = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert result.exit_code == 0, result.stderr
    by_rcpt = {rcpt[0]: m for rcpt, m in smtp.messages}
    assert set(by_rcpt) == {"ada@example.com", "bo@example.com"}
    ada = parts(by_rcpt["ada@example.com"])["text/plain"]
    assert "Raise CSAT to 90" in ada and "Cut response time" not in ada and "Retention" in ada
    assert "Needs an update:\n  - Raise CSAT to 90" in ada
    assert 'Current "n/a" is not a number' in ada
    assert by_rcpt["ada@example.com"]["Subject"] == "Your OKRs: 1 to update, 0 at risk or off track, 1 sheet problem(s)"
    findings = json.loads(result.stdout)["digest_findings"]
    assert [f["message"] for f in findings] == ['Owner "Cy" has no email address, so their digest cannot be sent']
    assert 'Owner "Cy" has no email address' in result.stderr


def test_preview_writes_html_without_sending(tmp_path, smtp):
    config = setup(tmp_path, smtp.port, LEADERS)
    result = okrsync("digest", "-c", config, "--preview", tmp_path / "leaders.html", "--today", "2026-11-16")
    assert result.exit_code == 0
    assert "Delight customers" in (tmp_path / "leaders.html").read_text()
    assert (tmp_path / "leaders-cto_example.com.html").is_file() and not smtp.messages
    unknown = okrsync("digest", "-c", config, "--name", "weekly", "--today", "2026-11-16")
    assert unknown.exit_code == 2 and "No digest named weekly" in unknown.stderr
