"""Settings: defaults < instance TOML file < TSUNAGU_* environment < explicit arguments; bad values named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.settings import EngineSettings, SettingsError, load_settings


@pytest.fixture
def toml(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "tsunagu.toml"
        path.write_text(text, encoding="utf-8")
        return path
    return write


def test_defaults(tmp_path):
    settings = load_settings({"TSUNAGU_CONFIG": str(_empty(tmp_path))})
    assert settings == EngineSettings()
    assert settings.closure_days == ("12-29..01-03",)
    assert settings.expression_time_limit_ms == 1000
    assert settings.max_bpmn_bytes == 2 * 1024 * 1024
    assert settings.database_url.startswith("sqlite:///") and settings.is_sqlite


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    return path


def test_file_overrides_defaults_and_environment_overrides_file(toml):
    path = toml('database_url = "postgresql://db/tsunagu"\nscheduler_interval_seconds = 30\n'
                'closure_days = ["12-29..01-03", "08-13..08-15"]\nsecure_cookies = false\n'
                'due_overrides = { "*" = "PT2S" }\n')
    settings = load_settings({}, config_file=path)
    assert settings.database_url == "postgresql://db/tsunagu" and not settings.is_sqlite
    assert settings.scheduler_interval_seconds == 30
    assert settings.closure_days == ("12-29..01-03", "08-13..08-15")
    assert settings.secure_cookies is False
    assert settings.due_overrides == {"*": "PT2S"}
    env = {"TSUNAGU_SCHEDULER_INTERVAL_SECONDS": "5", "TSUNAGU_DATABASE_URL": "sqlite:///x.db"}
    settings = load_settings(env, config_file=path)
    assert settings.scheduler_interval_seconds == 5 and settings.database_url == "sqlite:///x.db"
    assert settings.closure_days == ("12-29..01-03", "08-13..08-15")   # still from the file
    assert load_settings(env, config_file=path, scheduler_interval_seconds=7).scheduler_interval_seconds == 7


def test_tsunagu_config_names_the_file(toml):
    path = toml("smtp_port = 2525\n")
    assert load_settings({"TSUNAGU_CONFIG": str(path)}).smtp_port == 2525


def test_environment_values_are_json_for_lists_dicts_numbers_and_booleans(tmp_path):
    env = {"TSUNAGU_CONFIG": str(_empty(tmp_path)),
           "TSUNAGU_CLOSURE_DAYS": '["12-28..01-04"]', "TSUNAGU_DUE_OVERRIDES": '{"acceptance": "2BD"}',
           "TSUNAGU_SECURE_COOKIES": "false", "TSUNAGU_CASE_CACHE_SIZE": "0",
           "TSUNAGU_SECRET_KEY": "not json, just text", "TSUNAGU_BASE_URL": "https://tsunagu.example.jp"}
    settings = load_settings(env)
    assert settings.closure_days == ("12-28..01-04",)
    assert settings.due_overrides == {"acceptance": "2BD"}
    assert settings.secure_cookies is False and settings.case_cache_size == 0
    assert settings.secret_key == "not json, just text"
    assert settings.base_url == "https://tsunagu.example.jp"


@pytest.mark.parametrize(("env", "named"), [
    ({"TSUNAGU_SCHEDULER_INTERVAL_SECONDS": "abc"}, "TSUNAGU_SCHEDULER_INTERVAL_SECONDS"),
    ({"TSUNAGU_SCHEDULER_INTERVAL_SECONDS": "1.5"}, "TSUNAGU_SCHEDULER_INTERVAL_SECONDS"),
    ({"TSUNAGU_SCHEDULER_INTERVAL_SECONDS": "-1"}, "must not be negative"),
    ({"TSUNAGU_SECURE_COOKIES": "yes"}, "TSUNAGU_SECURE_COOKIES"),
    ({"TSUNAGU_SECURE_COOKIES": "1"}, "expected true or false"),
    ({"TSUNAGU_CLOSURE_DAYS": '"12-29"'}, "expected a list of strings"),
    ({"TSUNAGU_CLOSURE_DAYS": '["13-01"]'}, "TSUNAGU_CLOSURE_DAYS"),
    ({"TSUNAGU_CLOSURE_DAYS": '["12/29"]'}, "MM-DD"),
    ({"TSUNAGU_DUE_OVERRIDES": '["P3D"]'}, "expected an object of strings"),
    ({"TSUNAGU_DUE_OVERRIDES": '{"acceptance": "3 days"}'}, "TSUNAGU_DUE_OVERRIDES['acceptance']"),
    ({"TSUNAGU_REMINDER_LEAD": "soon"}, "TSUNAGU_REMINDER_LEAD"),
    ({"TSUNAGU_LOG_LEVEL": "LOUD"}, "TSUNAGU_LOG_LEVEL"),
    ({"TSUNAGU_CONFIG": "/does/not/exist.toml"}, "not found"),
])
def test_bad_environment_values_are_named(tmp_path, env, named):
    env = {"TSUNAGU_CONFIG": str(_empty(tmp_path)), **env}
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert named in info.value.message


@pytest.mark.parametrize(("text", "named"), [
    ("scheduler_interval_seconds = 'often'\n", "tsunagu.toml scheduler_interval_seconds"),
    ("closure_days = '12-29..01-03'\n", "tsunagu.toml closure_days"),
    ("closure_days = ['02-30']\n", "tsunagu.toml closure_days"),
    ("base_url = 5\n", "tsunagu.toml base_url"),
    ("no_such_setting = 1\n", "no_such_setting"),
    ("this is not toml\n", "tsunagu.toml"),
])
def test_bad_file_values_are_named(toml, text, named):
    with pytest.raises(SettingsError) as info:
        load_settings({}, config_file=toml(text))
    assert named in info.value.message


def test_unknown_argument_is_refused(tmp_path):
    with pytest.raises(SettingsError) as info:
        load_settings({"TSUNAGU_CONFIG": str(_empty(tmp_path))}, colour="blue")
    assert "colour" in info.value.message


def test_settings_are_frozen_and_replace_makes_a_copy(tmp_path):
    settings = load_settings({"TSUNAGU_CONFIG": str(_empty(tmp_path))})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.secret_key = "x"  # type: ignore[misc]
    other = settings.replace(secret_key="x")
    assert other.secret_key == "x" and settings.secret_key == ""
