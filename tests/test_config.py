"""A wrong or missing key is one sentence naming the key and the file, exit code 2."""

import pytest

from tests.conftest import okrsync


@pytest.mark.parametrize("text, message", [
    ('timezone = "UTC"\n[[sources]]\nname = "a"\nexcel = "a.xlsx"\nexcell = "b"\n', "`sources[0].excell`"),
    ('timezone = "Mars/Olympus"\n[[sources]]\nname = "a"\nexcel = "a.xlsx"\n', "`timezone`"),
    ('[[sources]]\nexcel = "a.xlsx"\n', "`sources[0].name` in"),
    ('cycle = "next quarter"\n[[sources]]\nname = "a"\nexcel = "a.xlsx"\n', "`cycle`"),
    ('timezone = "UTC"\n', "`sources`"),
    ('[[sources]]\nname = "a"\nexcel = "a.xls"\n', "must name an .xlsx workbook"),
    ('[[sources]]\nname = "a"\nexcel = "a.xlsx"\n[sources.columns]\nowner = 3\n', "`sources[0].columns.owner`"),
    ('[[sources]]\nname = "a"\nexcel = "a.xlsx"\n[sources.columns]\nownr = "X"\n', "is not a column okrsync knows"),
    ('[[sources]]\nname = "a"\nexcel = "a.xlsx"\n[email]\nsecurity = "tls"\n', "`email.security`"),
    ('[[sources]]\nname = "a"\nexcel = "a.xlsx"\n[[digests]]\nname = "d"\nto = "x@y"\nwhen = "someday"\n', "`digests[0].when`"),
    ('rules = ["missing.yaml"]\n[[sources]]\nname = "a"\nexcel = "a.xlsx"\n', "`rules`"),
    ('this is = not toml =\n', "is not valid TOML"),
])
def test_bad_config_is_one_sentence_and_exit_2(tmp_path, text, message):
    path = tmp_path / "okrsync.toml"
    path.write_text(text)
    result = okrsync("validate", "-c", path)
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_config_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = okrsync("validate")
    assert result.exit_code == 2 and "okrsync init" in result.stderr


def test_config_found_through_the_environment(workspace):
    _, _, config = workspace
    result = okrsync("validate", "--today", "2026-11-16", env={"OKRSYNC_CONFIG": str(config)})
    assert result.exit_code == 0


def test_bad_rule_file_is_exit_2(workspace):
    folder, _, config = workspace
    (folder / "mine.yaml").write_text("rules:\n  krs-per-objectve: {max: 4}\n")
    config.write_text(config.read_text().replace('cycle = "2026-Q4"', 'cycle = "2026-Q4"\nrules = ["mine.yaml"]'))
    result = okrsync("validate", "-c", config)
    assert result.exit_code == 2 and "mine.yaml, line 2: `rules.krs-per-objectve`" in result.stderr


def test_bad_today_is_a_usage_error(workspace):
    _, _, config = workspace
    result = okrsync("validate", "-c", config, "--today", "16/11/2026")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr
