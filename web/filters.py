"""Jinja filters for Japanese display: Asia/Tokyo dates, 超過日数, labels of roles and statuses."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from engine import clock

WEEKDAYS = "月火水木金土日"
ROLE_LABELS = {
    "window": "窓口職員", "coordinator": "担当部署（調整担当）", "csw": "CSW", "agency_staff": "支援関係機関",
    "supervisor": "管理者（上長）", "designer": "プロセス設計者", "auditor": "監査責任者", "admin": "システム管理者",
}
STATUS_LABELS = {"active": "対応中", "waiting_consent": "同意待ち", "completed": "終了", "closed": "終結",
                 "suspended": "中断", "error": "エラー", "open": "未完了", "cancelled": "取消"}


def jp_datetime(value: datetime | None, with_time: bool = True) -> str:
    if value is None:
        return "—"
    local = clock.ensure_utc(value).astimezone(clock.TOKYO)
    text = f"{local.year}/{local.month:02d}/{local.day:02d}({WEEKDAYS[local.weekday()]})"
    return f"{text} {local:%H:%M}" if with_time else text


def jp_date(value: datetime | None) -> str:
    return jp_datetime(value, with_time=False)


def overdue_days(due: datetime | None) -> int:
    """Whole calendar days past due (0 when not overdue)."""
    if due is None:
        return 0
    delta = clock.now() - clock.ensure_utc(due)
    return max(0, -(-int(delta.total_seconds()) // 86400)) if delta.total_seconds() > 0 else 0


def init_filters(app: Flask) -> None:
    app.jinja_env.filters.update(jp_datetime=jp_datetime, jp_date=jp_date, overdue_days=overdue_days,
                                 role_label=lambda r: ROLE_LABELS.get(r, r),
                                 status_label=lambda s: STATUS_LABELS.get(s, s))
    app.jinja_env.globals.update(now=clock.now)
