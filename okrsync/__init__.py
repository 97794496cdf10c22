"""okrsync: OKRs and KPIs kept in spreadsheets, validated, scored and written back."""

__version__ = "0.1.0"
