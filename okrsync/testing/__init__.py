"""Test support shipped with okrsync: the Google Sheets API emulator."""
