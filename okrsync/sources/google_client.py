"""Authentication and the HTTP client for Google's APIs (gspread + google-auth).

``OKRSYNC_GOOGLE_ENDPOINT=http://127.0.0.1:PORT`` sends every request for Google's API hosts to
a local emulator, through a transport adapter mounted on gspread's own session; nothing else in
the code path changes. Tokens are fetched from the key file's ``token_uri`` as usual.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import requests

from okrsync.errors import SourceError

SCOPES = ("https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive")
ENDPOINT_ENV = "OKRSYNC_GOOGLE_ENDPOINT"
API_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com", "https://iamcredentials.googleapis.com")


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Rewrites requests for Google's API hosts to another base URL (the emulator)."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def load_credentials(key_file: Path | None):
    """A service-account key file, else GOOGLE_APPLICATION_CREDENTIALS / application-default credentials."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    if key_file is None and os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        key_file = Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
    if key_file is None:
        try:
            credentials, _ = google.auth.default(scopes=list(SCOPES))
        except DefaultCredentialsError:
            raise SourceError("No Google credentials: set `credentials` to a service-account key file, or "
                              "GOOGLE_APPLICATION_CREDENTIALS, or log in with `gcloud auth application-default login`.") from None
        return credentials
    if not Path(key_file).is_file():
        raise SourceError(f"The Google key file {key_file} does not exist.")
    try:
        info = json.loads(Path(key_file).read_text("utf-8"))
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{key_file} is not a Google service-account key file ({exc}).") from None


def account_of(credentials) -> str:
    """The address a spreadsheet must be shared with."""
    return getattr(credentials, "service_account_email", None) or getattr(credentials, "signer_email", None) or "the account in use"


def project_of(credentials) -> str:
    """The Google Cloud project whose quota the credentials' requests count against."""
    return getattr(credentials, "project_id", None) or getattr(credentials, "quota_project_id", None) or "default"


def session(credentials):
    """gspread's session; with the endpoint override, every Google API host — including the
    one google-auth asks about access boundaries after a token refresh — is the emulator."""
    from google.auth.transport.requests import AuthorizedSession, Request

    endpoint = os.environ.get(ENDPOINT_ENV)
    auth_session = requests.Session()
    authorized = AuthorizedSession(credentials, auth_request=Request(auth_session))
    if endpoint:
        adapter = RedirectAdapter(endpoint)
        for host in API_HOSTS:
            authorized.mount(host, adapter)
            auth_session.mount(host, adapter)
    return authorized


def client(credentials):
    import gspread

    return gspread.Client(auth=credentials, session=session(credentials))
