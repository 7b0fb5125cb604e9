"""Jinja filters for Japanese display: Asia/Tokyo dates, 超過日数, labels of roles, statuses and stages.

Labels are the vocabulary of docs/domain §7; an id without a label is shown as it is (a designer may
add stages in a diagram before a label exists here).
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from engine import clock

WEEKDAYS = "月火水木金土日"
ROLE_LABELS = {
    "window": "窓口職員", "coordinator": "担当部署（調整担当）", "csw": "CSW", "agency_staff": "支援関係機関",
    "supervisor": "管理者（上長）", "designer": "プロセス設計者", "auditor": "監査責任者",
    "admin": "システム管理者",
}
STATUS_LABELS = {"active": "対応中", "waiting_consent": "同意待ち", "completed": "終了", "closed": "終結",
                 "suspended": "中断", "error": "エラー", "open": "未完了", "cancelled": "取消"}
STAGE_LABELS = {
    "": "—", "intake": "受付", "window": "窓口対応", "consent": "同意確認", "referral": "つなぎ",
    "acceptance": "受理判断", "waiting_consent": "同意待ち", "first_contact": "初回接触",
    "assessment": "アセスメント中", "plan": "プラン作成中", "planning": "プラン作成中", "meeting": "会議待ち",
    "explanation": "本人説明", "support": "支援中", "monitoring": "モニタリング", "evaluation": "評価",
    "closing": "終結", "closed": "終結", "finished": "終了", "suspended": "中断", "on_hold": "保留",
    "outreach": "アウトリーチ", "support_meeting": "支援会議",
}
CONSENT_LABELS = {"unknown": "未確認", "": "未確認", "given": "同意あり", "written": "同意あり（書面）",
                  "verbal_recorded": "同意あり（口頭・記録）", "none": "同意なし",
                  "refused": "同意なし（拒否）",
                  "cannot_ask": "同意なし（確認できない）", "no_contact": "同意なし（連絡取れず）",
                  "withdrawn": "同意撤回"}


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
    from .forms import field_id
    app.jinja_env.filters.update(jp_datetime=jp_datetime, jp_date=jp_date, overdue_days=overdue_days,
                                 role_label=lambda r: ROLE_LABELS.get(r, r),
                                 status_label=lambda s: STATUS_LABELS.get(s, s),
                                 stage_label=lambda s: STAGE_LABELS.get(s or "", s),
                                 consent_label=lambda s: CONSENT_LABELS.get(s or "", s))
    app.jinja_env.globals.update(now=clock.now, field_id=field_id)
