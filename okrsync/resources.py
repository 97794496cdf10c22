"""Where the shipped rule files and sheet templates live.

The repository keeps them at its top level (``rules/``, ``sheet_templates/``); an editable
install reads them there, a regular install from ``<prefix>/share/okrsync``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _find(folder: str) -> Path:
    for root in (Path(__file__).resolve().parent.parent, Path(sys.prefix) / "share" / "okrsync"):
        candidate = root / folder
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"okrsync's {folder}/ folder is missing from this installation")


def rules_dir() -> Path:
    return _find("rules")


def default_rules() -> Path:
    return rules_dir() / "default.yaml"


def sheet_template(name: str = "okrsync.xlsx") -> Path:
    return _find("sheet_templates") / name
