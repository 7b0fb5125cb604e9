"""web.request_db: one transaction per request, committed on success and rolled back on failure;
pages that record an audit event when read open a write transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import AuditEvent, TaskDraft
from tests.web.conftest import csrf, start_case


def _count(read, action: str) -> int:  # type: ignore[no-untyped-def]
    with read() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0


def test_reading_a_case_page_commits_its_audit_event(world, as_user, read):
    started = start_case(world)
    client = as_user("win")
    client.get(f"/cases/{started.case_id}")
    client.get(f"/cases/{started.case_id}")
    assert _count(read, "case.read") == 2


def test_views_that_write_are_marked(world):
    views = world.app.view_functions
    assert all(
        getattr(views[e], "tsunagu_writes", False)
        for e in ("cases.show", "tasks.show", "api.case", "api.task")
    )
    assert not getattr(views["inbox.index"], "tsunagu_writes", False)


def test_a_failed_request_changes_nothing(world, as_user, read):
    started = start_case(world)
    client = as_user("win")
    url = f"/tasks/{started.open_tasks[0].id}"
    response = client.post(
        url,
        data={"csrf_token": csrf(client, url), "_action": "draft", "unknown_only": "x", "note": "x" * 20_000},
    )
    assert response.status_code == 422 and "10000文字以内で入力してください" in response.get_data(
        as_text=True
    )
    with read() as s:
        assert s.get(TaskDraft, started.open_tasks[0].id) is None
    assert _count(read, "task.draft") == 0
