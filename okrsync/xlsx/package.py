"""An .xlsx file as a package of parts: opened defensively, fingerprinted, parts located.

The file is treated as hostile input: its kind is checked from its first bytes, sizes and
compression ratios are bounded before anything is decompressed, and XML is parsed with
defusedxml.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree as SafeET

from okrsync.errors import WorkbookError

MAX_TOTAL_BYTES = 1 << 30  # all parts together, uncompressed
MAX_RATIO = 200  # per part, for parts larger than RATIO_FLOOR
RATIO_FLOOR = 16 << 20
MAX_MEMBERS = 10_000

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str


def fingerprint(path: Path, data: bytes | None = None) -> Fingerprint:
    stat = path.stat()
    if data is None:
        data = path.read_bytes()
    return Fingerprint(stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _check_kind(path: Path, head: bytes, data: bytes) -> None:
    if head.startswith(_OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise WorkbookError(f"{path} is password-protected; okrsync cannot read encrypted workbooks.")
        raise WorkbookError(
            f"{path} is an old-style .xls (Excel 97-2003) file; save it as .xlsx (Excel Workbook)."
        )
    if not head.startswith(b"PK"):
        raise WorkbookError(f"{path} is not an Excel workbook (.xlsx).")


class Package:
    """The parts of one .xlsx file, read from a snapshot of its bytes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise WorkbookError(f"{self.path} does not exist.") from None
        except IsADirectoryError:
            raise WorkbookError(f"{self.path} is a folder, not a workbook.") from None
        except PermissionError:
            raise WorkbookError(f"{self.path} cannot be read (permission denied).") from None
        self.fingerprint = fingerprint(self.path, data)
        _check_kind(self.path, data[:8], data)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
            raise WorkbookError(f"{self.path} is damaged or truncated (not a readable .xlsx package).") from None
        self._guard(infos)
        self.infos = infos
        names = {info.filename for info in infos}
        if "xl/workbook.bin" in names:
            raise WorkbookError(f"{self.path} is a binary .xlsb workbook; save it as .xlsx (Excel Workbook).")
        self.workbook_part = self._main_part(names)
        self._sheets: dict[str, str] | None = None

    def _guard(self, infos: list[zipfile.ZipInfo]) -> None:
        if len(infos) > MAX_MEMBERS:
            raise WorkbookError(f"{self.path} has {len(infos)} parts; okrsync refuses more than {MAX_MEMBERS}.")
        total = 0
        for info in infos:
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                raise WorkbookError(
                    f"{self.path} looks like a zip bomb: part {info.filename} expands {ratio:.0f} times."
                )
            if info.flag_bits & 0x1:
                raise WorkbookError(f"{self.path} has encrypted parts; okrsync cannot read it.")
        if total > MAX_TOTAL_BYTES:
            raise WorkbookError(
                f"{self.path} expands to {total / 2**20:.0f} MiB; okrsync refuses workbooks over "
                f"{MAX_TOTAL_BYTES / 2**20:.0f} MiB uncompressed."
            )

    def read(self, name: str, budget: int | None = None) -> bytes | None:
        """A part's bytes, decompressed as a stream; with ``budget``, None once it would exceed it."""
        try:
            if budget is None:
                return self.zip.read(name)
            with self.zip.open(name) as stream:
                data = stream.read(budget + 1)
            return data if len(data) <= budget else None
        except KeyError:
            raise WorkbookError(f"{self.path} has no part {name}; the package is incomplete.") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):  # bad CRC, truncated or damaged data
            raise WorkbookError(f"{self.path} is damaged: part {name} cannot be decompressed.") from None

    def has(self, name: str) -> bool:
        return name in self.zip.NameToInfo

    def xml(self, name: str):
        try:
            return SafeET.fromstring(self.read(name))
        except SafeET.ParseError as exc:
            raise WorkbookError(f"{self.path} is damaged: {name} is not well-formed XML ({exc}).") from None
        except Exception as exc:  # defusedxml's refusals (DTDs, entities) share no base we can name
            if type(exc).__module__.startswith("defusedxml"):
                raise WorkbookError(f"{self.path} contains forbidden XML constructs in {name}.") from None
            raise

    def _main_part(self, names: set[str]) -> str:
        if "_rels/.rels" not in names:
            raise WorkbookError(f"{self.path} is not an Excel workbook (.xlsx): it has no package relationships.")
        for rel in self.xml("_rels/.rels").iter(f"{{{NS_PKG_REL}}}Relationship"):
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
        raise WorkbookError(f"{self.path} is not an Excel workbook (.xlsx): no workbook part.")

    def rels_of(self, part: str) -> dict[str, str]:
        folder, base = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        if not self.has(rels_name):
            return {}
        targets = {}
        for rel in self.xml(rels_name).iter(f"{{{NS_PKG_REL}}}Relationship"):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            targets[rel.get("Id")] = resolved
        return targets

    @property
    def sheets(self) -> dict[str, str]:
        """Worksheet name → part name, in workbook order."""
        if self._sheets is None:
            rels = self.rels_of(self.workbook_part)
            root = self.xml(self.workbook_part)
            self._sheets = {}
            for sheet in root.iter(f"{{{NS_MAIN}}}sheet"):
                part = rels.get(sheet.get(f"{{{NS_REL}}}id"))
                if part and self.has(part):
                    self._sheets[sheet.get("name")] = part
        return self._sheets

    @property
    def date1904(self) -> bool:
        pr = self.xml(self.workbook_part).find(f"{{{NS_MAIN}}}workbookPr")
        return pr is not None and pr.get("date1904") in ("1", "true")

    def part_of_type(self, suffix: str) -> str | None:
        """The workbook-level part whose relationship type ends with ``suffix``."""
        folder, base = posixpath.split(self.workbook_part)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        if not self.has(rels_name):
            return None
        for rel in self.xml(rels_name).iter(f"{{{NS_PKG_REL}}}Relationship"):
            if rel.get("Type", "").endswith(suffix):
                return posixpath.normpath(posixpath.join(folder, rel.get("Target", "")))
        return None


def lock_holder(path: Path) -> str | None:
    """Who has the workbook open, from Excel's ``~$name`` owner file (or LibreOffice's lock)."""
    excel_lock = path.with_name("~$" + path.name)
    office_lock = path.with_name(f".~lock.{path.name}#")
    if excel_lock.exists():
        try:
            raw = excel_lock.read_bytes()[:165]
        except OSError:
            return "someone"
        # Excel's owner file: a length byte, the user name in the ANSI code page, then padding.
        if raw:
            name = raw[1 : 1 + raw[0]].decode("cp1252", "replace").strip()
            if name:
                return name
        return "someone"
    if office_lock.exists():
        try:
            return office_lock.read_text("utf-8", "replace").split(",")[0].strip() or "someone"
        except OSError:
            return "someone"
    return None


def same_file(path: Path, expected: Fingerprint) -> bool:
    """Whether the file on disk is still the one that was read (size, mtime, then hash)."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    if stat.st_size != expected.size or stat.st_mtime_ns != expected.mtime_ns:
        return False
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() == expected.sha256
