"""Fictional demo data: agencies and users for every role, and cases at each step (:func:`load_demo_cases`).

Every name here is invented. The password comes from ``TSUNAGU_DEMO_PASSWORD`` (passed in by the
CLI) or is generated and printed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import users
from .models import Agency, User

AGENCIES = [
    ("HOKATSU-CHUBU", "福祉相談センター中部（地域包括支援センター）", "window_elderly"),
    ("HOKATSU-TOBU", "福祉相談センター東部（地域包括支援センター）", "window_elderly"),
    ("JIRITSU", "生活自立相談センター（自立相談支援）", "window_poverty"),
    ("SHOGAI", "障害者相談支援センター（相談支援）", "window_disability"),
    ("KOSODATE", "子育て世代支援センター（利用者支援）", "window_childcare"),
    ("JUSO", "福祉部 重層的支援推進室（担当部署）", "coordinating_office"),
    ("SHAKYO", "社会福祉協議会（CSW）", "csw_office"),
    ("HOKEN", "保健センター", "partner"),
    ("SHUGYO", "就労支援センター", "partner"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    agency: str | None
    description: str


USERS = [
    DemoUser("window1", "中部 窓口 さくら", ("window",), "HOKATSU-CHUBU", "窓口職員（高齢・包括 中部）"),
    DemoUser("window2", "東部 窓口 健太", ("window",), "HOKATSU-TOBU", "窓口職員（高齢・包括 東部）"),
    DemoUser("window3", "自立 窓口 明美", ("window",), "JIRITSU", "窓口職員（困窮・自立相談）"),
    DemoUser("window4", "障害 窓口 翔", ("window",), "SHOGAI", "窓口職員（障害・相談支援）"),
    DemoUser("window5", "子育 窓口 葵", ("window",), "KOSODATE", "窓口職員（子育て・利用者支援）"),
    DemoUser("coord1", "推進室 調整 誠", ("coordinator",), "JUSO", "担当部署（多機関協働の調整）"),
    DemoUser("csw1", "社協 CSW 陽子", ("csw",), "SHAKYO", "CSW"),
    DemoUser("csw2", "社協 CSW 大地", ("csw",), "SHAKYO", "CSW"),
    DemoUser("staff1", "保健 支援 里美", ("agency_staff",), "HOKEN", "支援関係機関の職員"),
    DemoUser("super1", "推進室 係長 博", ("supervisor", "coordinator"), "JUSO", "管理者（担当部署の係長）"),
    DemoUser("super2", "中部 管理者 恵", ("supervisor", "window"), "HOKATSU-CHUBU", "管理者（包括 中部）"),
    DemoUser("designer1", "設計 担当 悟", ("designer",), "JUSO", "プロセス設計者"),
    DemoUser("auditor1", "監査 責任者 律子", ("auditor",), "JUSO", "監査責任者"),
    DemoUser("admin1", "情報 管理者 剛", ("admin",), "JUSO", "システム管理者"),
]


def ensure_master_data(session: Session, password: str) -> list[DemoUser]:
    """Create the demo agencies and users that do not exist yet; return every demo user."""
    existing = set(session.scalars(select(Agency.code)))
    for code, name, kind in AGENCIES:
        if code not in existing:
            users.create_agency(session, code, name, kind)
    known = set(session.scalars(select(User.username)))
    for demo in USERS:
        if demo.username not in known:
            users.create_user(
                session, demo.username, demo.display_name, password, list(demo.roles), demo.agency
            )
    session.flush()
    return USERS


def load_demo_cases(engine: Any, session: Session) -> int:
    """Fictional cases parked at each major step (see engine/demo_cases.py); none when cases exist."""
    from .demo_cases import load

    return load(engine, session)
