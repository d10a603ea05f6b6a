"""Scorecard 12: production refuses unsafe configuration and says why."""

import pytest

from screening import create_app
from screening.core.config import UnsafeConfiguration

GOOD_KEY = "k" * 48


def prod(**overrides):
    cfg = {"ENV": "production", "SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite://",
           "REDIS_URL": "redis://127.0.0.1:6379/15"}
    cfg.update(overrides)
    return cfg


def test_production_with_safe_settings_starts():
    app = create_app(prod())
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["CELERY"]["accept_content"] == ["json"]
    assert app.config["CELERY"]["task_always_eager"] is False


@pytest.mark.parametrize("overrides, reason", [
    ({"SECRET_KEY": None}, "SCREENING_SECRET_KEY is missing"),
    ({"SECRET_KEY": ""}, "SCREENING_SECRET_KEY is missing"),
    ({"SECRET_KEY": "dev-not-secret"}, "default"),
    ({"SECRET_KEY": "short"}, "shorter than 32"),
    ({"DEBUG": True}, "debug mode is on"),
    ({"CELERY": {"accept_content": ["json", "pickle"]}}, "pickle"),
    ({"CELERY": {"task_serializer": "pickle"}}, "pickle"),
])
def test_production_refuses_unsafe_settings(overrides, reason):
    with pytest.raises(UnsafeConfiguration, match=reason):
        create_app(prod(**overrides))


def test_environment_variables_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_ENV", "production")
    monkeypatch.setenv("SCREENING_SECRET_KEY", "dev-not-secret")
    monkeypatch.setenv("SCREENING_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(UnsafeConfiguration, match="default"):
        create_app()


def test_embedded_default_is_eager_and_local(monkeypatch):
    for name in ("SCREENING_ENV", "SCREENING_DATABASE_URL", "SCREENING_REDIS_URL", "SCREENING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 40})
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert "instance" in app.config["DATABASE_URL"]
    assert app.config["CELERY"]["task_always_eager"] is True
    assert app.config["MAX_CONTENT_LENGTH"]
    assert app.extensions["celery"].conf.accept_content == ["json"]
