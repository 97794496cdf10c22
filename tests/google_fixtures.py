"""Fixtures for tests against the Sheets API emulator: service-account keys, a user's gspread
client, and spreadsheets made the way a person would make them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from okrsync.sources import google_client
from okrsync.testing.sheets_emulator import Server
from tests.conftest import NO_OWNED_TABS, Formula

BOT = "okrsync@team-okrs.iam.gserviceaccount.com"
USER = "ada@example.com"


def service_account_key(path: Path, email: str, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({"type": "service_account", "project_id": "team-okrs", "private_key_id": "k1",
                                "private_key": pem, "client_email": email, "client_id": "1", "token_uri": token_uri}))
    return path


class Google:
    """The emulator, a user who owns spreadsheets, and okrsync's key file."""

    def __init__(self, server: Server, folder: Path):
        self.server, self.url = server, server.url
        self.bot_key = service_account_key(folder / "okrsync-key.json", BOT, server.url + "/token")
        user_key = service_account_key(folder / "user-key.json", USER, server.url + "/token")
        self.user = google_client.client(google_client.load_credentials(user_key))

    def admin(self, action: str, **body) -> dict:
        return requests.post(f"{self.url}/__admin/{action}", json=body, timeout=10).json()

    def counts(self) -> dict:
        return self.admin("counts")["counts"]

    def spreadsheet(self, tabs: dict[str, list[list]], share: bool = True):
        book = self.user.create("Team OKRs")
        first = True
        for title, rows in tabs.items():
            ws = book.sheet1 if first else book.add_worksheet(title, rows=100, cols=26)
            if first:
                ws.update_title(title)
                first = False
            values = [[f"{v.formula}" if isinstance(v, Formula) else ("" if v is None else v) for v in row] for row in rows]
            ws.update(values, "A1", value_input_option="USER_ENTERED")
        if share:
            book.share(BOT, perm_type="user", role="writer", notify=False)
        return book


@pytest.fixture
def google(tmp_path, monkeypatch):
    with Server() as server:
        monkeypatch.setenv(google_client.ENDPOINT_ENV, server.url)
        yield Google(server, tmp_path)


def google_config(folder: Path, google: Google, key: str, extra: str = "", owned_tabs: bool = False) -> Path:
    config = folder / "okrsync.toml"
    config.write_text(f'timezone = "UTC"\ncycle = "2026-Q4"\nstate = "okrsync.db"\n{extra}\n'
                      '[google]\nbackoff_seconds = 0.01\nretries = 4\n'
                      f'[[sources]]\nname = "team"\ngoogle = "{key}"\ncredentials = "{google.bot_key}"\n'
                      + ("" if owned_tabs else NO_OWNED_TABS))
    return config
