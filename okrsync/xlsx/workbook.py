"""An .xlsx workbook opened for okrsync: tabs read into cells, owned cells written back.

Writing copies every part of the package unchanged except the worksheets that hold owned
cells and styles.xml, to a temporary file in the same folder that is fsynced and then
atomically renamed over the original, after keeping a backup. openpyxl's load/save
round-trip is never used to write: it drops charts, images, form controls, threaded
comments and extension data, and empties every formula's cached value.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from okrsync.config import MAX_ROWS
from okrsync.errors import WorkbookError, WriteSkipped
from okrsync.processes import alive
from okrsync.values import excel_unescaped
from okrsync.xlsx.adding import NewSheet, add_sheets, replace_sheet
from okrsync.xlsx.package import NS_MAIN, Package, fingerprint, lock_holder, same_file
from okrsync.xlsx.sheet import Cells, SheetXml, Write
from okrsync.xlsx.styles import Styles

BACKUP_DIR = ".okrsync-backups"
BYTES_PER_ROW = 2048  # of worksheet XML allowed per row within max_rows
MIN_SHEET_BUDGET = 16 * 2**20
TEMP_PREFIX = ".~okrsync-"


@dataclass
class WriteResult:
    cells: int
    backup: Path | None
    sha256: str | None = None  # of the file as written


class Workbook:
    def __init__(self, path: Path, max_rows: int = MAX_ROWS):
        self.path = Path(path)
        self.max_rows = max_rows
        self.package = Package(self.path)
        _clean_stale_temps(self.path)  # when a run opens the workbook, not only when it writes
        styles_part = self.package.part_of_type("/styles")
        self.styles_part = styles_part if styles_part and self.package.has(styles_part) else None
        if self.styles_part:
            raw = self.package.read(self.styles_part)
            self.styles = Styles(raw.decode("utf-8"), self.package.xml(self.styles_part))
        else:
            self.styles = Styles(None)
        self._shared: list[str] | None = None
        self._sheets: dict[str, SheetXml] = {}

    @property
    def tabs(self) -> list[str]:
        return list(self.package.sheets)

    def _shared_strings(self) -> list[str]:
        if self._shared is None:
            part = self.package.part_of_type("/sharedStrings")
            self._shared = []
            if part and self.package.has(part):
                n = f"{{{NS_MAIN}}}"
                for si in self.package.xml(part).iter(f"{n}si"):
                    texts = [t.text or "" for t in si.iter(f"{n}t")]
                    phonetic = {id(t) for ph in si.iter(f"{n}rPh") for t in ph.iter(f"{n}t")}
                    if phonetic:
                        texts = [t.text or "" for t in si.iter(f"{n}t") if id(t) not in phonetic]
                    self._shared.append(excel_unescaped("".join(texts)))
        return self._shared

    def sheet(self, tab: str) -> SheetXml:
        if tab not in self._sheets:
            part = self.package.sheets[tab]
            # A worksheet may take about 2 KiB a row within max_rows: refused from the size its
            # part declares before anything is decompressed, and decompressed as a stream that
            # stops at the budget should the declared size lie.
            budget = max(MIN_SHEET_BUDGET, self.max_rows * BYTES_PER_ROW)
            size = self.package.zip.getinfo(part).file_size
            raw = self.package.read(part, budget) if size <= budget else None
            if raw is None:
                raise WorkbookError(
                    f"{self.path}: worksheet {tab} is {max(size, budget + 1) / 2**20:,.0f} MiB uncompressed, more "
                    f"than okrsync reads for max_rows = {self.max_rows:,} ({budget / 2**20:,.0f} MiB); raise "
                    "max_rows in okrsync.toml to read it.")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise WorkbookError(f"{self.path}: worksheet {tab} is not UTF-8 XML.") from None
            del raw
            try:
                self._sheets[tab] = SheetXml(text, tab)
            except WorkbookError as exc:
                raise WorkbookError(f"{self.path}: {exc}.") from None
        return self._sheets[tab]

    def read(self, tab: str) -> tuple[Cells, list[tuple[int, int, int, int]]]:
        """The cells of a tab keyed by (row, column), 1-based, and its merged ranges."""
        sheet = self.sheet(tab)
        try:
            cells = sheet.read(self._shared_strings(), self.styles.date_xfs, self.package.date1904, self.max_rows)
        except WorkbookError as exc:
            raise WorkbookError(f"{self.path}: {exc}.") from None
        return cells, sheet.merges

    # -- writing ---------------------------------------------------------------------------

    def write(self, writes: dict[str, list[Write]], backups: int = 3, added: list[NewSheet] = (),
              replaced: list[NewSheet] = (), widths: dict[str, dict[int, float]] | None = None) -> WriteResult:
        """Splice ``writes`` (tab → owned cells) into the file, add the tabs ``added`` and replace
        the tabs ``replaced`` (okrsync's own) whole, atomically. Writes nothing when there is
        nothing to write, when the file changed since it was read, or when it is open."""
        total = sum(len(w) for w in writes.values())
        if not total and not added and not replaced:
            return WriteResult(0, None)
        if not self.path.stat().st_mode & 0o222:
            raise WriteSkipped(f"{self.path} is marked read-only; okrsync leaves it as it is (nothing was written).")
        holder = lock_holder(self.path)
        if holder:
            raise WriteSkipped(
                f"{self.path} is open in Excel by {holder} (lock file present); nothing was written "
                "this run — it will be written once the file is closed."
            )
        if not same_file(self.path, self.package.fingerprint):
            raise WriteSkipped(
                f"{self.path} changed while okrsync was reading it; nothing was written this run."
            )
        new_parts: dict[str, bytes | Iterator[str]] = {
            self.package.sheets[tab]: self.sheet(tab).chunks(cells, (widths or {}).get(tab))
            for tab, cells in writes.items() if cells}
        if self.styles.changed:
            new_parts[self.styles_part] = self.styles.text.encode("utf-8")
        for sheet in replaced:
            replace_sheet(self.package, sheet.title, sheet.xml, sheet.charts, new_parts)
        if added:
            add_sheets(self.package, list(added), new_parts)
        temp = self.path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{self.path.name}")
        try:
            self._write_package(temp, new_parts)
            written = fingerprint(temp).sha256
            if not same_file(self.path, self.package.fingerprint):
                raise WriteSkipped(f"{self.path} changed while okrsync was writing; nothing was written this run.")
            backup = _keep_backup(self.path, backups)
            os.replace(temp, self.path)
        finally:
            if temp.exists():
                temp.unlink()
        _fsync_dir(self.path.parent)
        return WriteResult(total, backup, written)

    def _write_package(self, temp: Path, new_parts: dict[str, bytes | Iterator[str]]) -> None:
        """The package with ``new_parts`` (whole, or a worksheet's text in chunks) in place of
        theirs; every other part copied as it is."""
        # The copy has the original's permissions before its first byte: a run killed mid-write
        # never leaves a more readable copy of a private workbook.
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, self.path.stat().st_mode & 0o7777)
        with open(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w", allowZip64=True) as out:
                for info in self.package.infos:
                    data = new_parts.get(info.filename)
                    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    copy.compress_type = info.compress_type
                    copy.external_attr = info.external_attr
                    copy.create_system = info.create_system
                    copy.comment = info.comment
                    copy.extra = info.extra
                    if data is None or isinstance(data, bytes):
                        out.writestr(copy, self.package.read(info.filename) if data is None else data)
                    else:
                        with out.open(copy, "w") as part:
                            for chunk in data:
                                part.write(chunk.encode("utf-8"))
                for name, data in new_parts.items():  # parts okrsync adds come after the others
                    if not self.package.has(name):
                        out.writestr(zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6]), data,
                                     compress_type=zipfile.ZIP_DEFLATED)
            handle.flush()
            os.fsync(handle.fileno())
        with zipfile.ZipFile(temp) as check:  # a package that cannot be read back never replaces the old one
            bad = check.testzip()
            if bad:
                raise WorkbookError(f"writing {self.path} produced a damaged part {bad}; nothing was replaced.")


def _keep_backup(path: Path, keep: int) -> Path | None:
    if keep <= 0:
        return None
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    backup = folder / f"{path.stem}.{stamp}{path.suffix}"
    try:
        os.link(path, backup)  # the old file's inode lives on as the backup: no copy needed
    except OSError:
        shutil.copy2(path, backup)
    old = sorted(folder.glob(f"{path.stem}.*{path.suffix}"))
    for stale in old[:-keep]:
        stale.unlink()
    return backup


def _clean_stale_temps(path: Path) -> None:
    """Temporary copies a killed earlier write left behind (those of a process still running
    are its own business)."""
    for stale in path.parent.glob(f"{TEMP_PREFIX}*-{path.name}"):
        pid = stale.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and alive(int(pid)):
            continue
        try:
            stale.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
