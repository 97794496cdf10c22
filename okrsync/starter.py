"""``okrsync init``: a starter configuration, the default rules and a workbook."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from okrsync.errors import ConfigError
from okrsync.resources import default_rules, sheet_template

STARTER_CONFIG = """\
# okrsync configuration — see the README's "Configuration" section for every key.
timezone = "{timezone}"
state = "okrsync.db"                  # history store (SQLite), next to this file
rules = ["rules/default.yaml"]
cycle = "auto"                        # cycle for rows without one: auto = the current quarter

[[sources]]
name = "{name}"
{location}
okr_tab = "OKRs"
kpi_tab = "KPIs"
# [sources.columns]                   # canonical name = the header your sheet uses
# owner = "Eng Owner"
# [sources.owned_columns]             # headers of the columns okrsync writes
# status = "okrsync status"

[email]
from = "okrsync@example.com"
outbox = "outbox"                     # no smtp set: digests are written here as .eml files
# smtp = "smtp.example.com:587"
# security = "starttls"
# username = "okrsync"
# password_env = "OKRSYNC_SMTP_PASSWORD"

[[digests]]
name = "leaders"
to = ["leaders@example.com"]
when = "mon 08:00"

# [[digests]]                         # each owner gets their own key results and KPIs
# name = "owners"
# to = "owners"
# when = "fri 15:00"
# [people]                            # owner names as written in the sheet → addresses
# "Dana Ruiz" = "dana@example.com"
"""


def init_directory(directory: str | Path, demo: bool = False, force: bool = False,
                   google: str | None = None, credentials: str | None = None, excel: Path | None = None) -> list[Path]:
    """Write the starter files; with ``google`` or ``excel``, point the configuration at that
    spreadsheet or workbook (its tabs are laid out by the source's ``lay_out``) instead of
    writing a workbook."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    workbook_name = "demo.xlsx" if demo else "okrs.xlsx"
    files = {target / "okrsync.toml": None, target / "rules" / "default.yaml": default_rules()}
    if excel is not None:
        where = Path(os.path.relpath(Path(excel).resolve(), target.resolve()))
        location = f"excel = {json.dumps(where.as_posix())}"
    elif google is None:
        files[target / workbook_name] = sheet_template("demo.xlsx" if demo else "okrsync.xlsx")
        location = f'excel = "{workbook_name}"'
    else:
        key_line = f'\ncredentials = "{Path(credentials).resolve()}"' if credentials else ""
        location = f'google = "{google}"{key_line}'
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} already exists; okrsync init leaves it alone (use --force to overwrite).")
    written = []
    for path, origin in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if origin is None:
            path.write_text(STARTER_CONFIG.format(timezone=_timezone_name(), name="demo" if demo else "team",
                                                  location=location), "utf-8")
        else:
            shutil.copyfile(origin, path)
        written.append(path)
    return written


def _timezone_name() -> str:
    from okrsync.config import local_zone

    return local_zone().key
