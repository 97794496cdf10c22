"""Sources: where tables are read from and owned cells written to (Excel or Google).

Each source offers the same small interface (okrsync.sources.interface), so nothing past this
package knows which kind it talks to.
"""

from __future__ import annotations

from okrsync.config import GoogleConfig, SourceConfig
from okrsync.sources.interface import Source


def open_source(config: SourceConfig, google: GoogleConfig | None = None) -> Source:
    if config.excel is not None:
        from okrsync.sources.excel import ExcelSource

        return ExcelSource(config)
    from okrsync.sources.google import GoogleSource

    return GoogleSource(config, google or GoogleConfig())
