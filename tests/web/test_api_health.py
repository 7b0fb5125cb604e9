"""``GET /api/v1/health``: no login, 200 while the database answers, 503 (problem+json) when it does not."""

from __future__ import annotations

from sqlalchemy import create_engine

from tests.web.conftest import make_app


def test_health_answers_without_login(world):
    response = world.app.test_client().get("/api/v1/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(db, tmp_path):
    app = make_app(db)
    broken = create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    app.extensions["tsunagu"].db = broken
    from sqlalchemy.orm import sessionmaker

    app.extensions["tsunagu"].sessions = sessionmaker(broken)
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "30" and "Traceback" not in response.get_data(as_text=True)
