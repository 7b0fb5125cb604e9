"""A small consent pathway for the access tests, with its forms (fictional data).

start(intake) → 本人同意 (consent, the window, F3-like) → プラン作成 (plan, the coordinating office, sets the
lead agency) → 会議決定 (decision: 承認 activates plan roles) → 支援の実施 (note, the plan's lead agency)
→ end. ``forms_dir(tmp)`` writes the fixture forms plus consent / plan / consent_withdrawal there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import FORMS_DIR

FORMS = {
    "consent": """key: consent
title: 本人同意書（テスト）
fields:
  - name: consent
    label: 同意
    type: choice
    required: true
    choices: [{value: written, label: 書面で同意}, {value: refused, label: 同意しない}]
  - {name: recipients, label: 共有先, type: agency, multiple: true}
  - name: categories
    label: 共有する情報の範囲
    type: multichoice
    choices: [{value: basic, label: 基本情報}, {value: household, label: 世帯}, {value: health,
                                                                                 label: 健康・障害},
              {value: finance, label: 経済状況}, {value: history, label: 支援経過}, {value: other,
                                                                                     label: その他}]
  - {name: consent_date, label: 同意日, type: date}
  - {name: valid_until, label: 有効期限, type: date}
""",
    "plan": """key: plan
title: 支援プラン（テスト）
fields:
  - {name: lead_agency, label: 主担当機関, type: agency}
  - name: actions
    label: 支援内容
    type: table
    columns:
      - {name: agency, label: 担当機関, type: agency, required: true}
      - {name: content, label: 支援内容, type: text}
      - {name: lead, label: 主担当, type: boolean}
""",
    "consent_withdrawal": """key: consent_withdrawal
title: 同意撤回届（テスト）
fields:
  - name: scope
    label: 撤回範囲
    type: choice
    required: true
    choices: [{value: all, label: 全部}, {value: partial, label: 一部}]
  - {name: agencies, label: 撤回する共有先, type: agency, multiple: true}
""",
}

ROLES = """lanes:
  窓口: window
  担当部署: coordinator
  CSW: csw
  関係機関: agency_staff
roles:
  window: {agency: intake}
  coordinator: {agency: any}
  csw: {agency: any}
  agency_staff: {agency: lead}
"""


def forms_dir(tmp: Path) -> Path:
    target = tmp / "forms"
    shutil.copytree(FORMS_DIR, target)
    for key, text in FORMS.items():
        (target / f"{key}.yaml").write_text(text, encoding="utf-8")
    return target


def consent_files(withdrawal_message: bool = False) -> dict[str, bytes]:
    """The pathway; with ``withdrawal_message`` 支援の実施 listens for ``consent_withdrawn`` (like case.bpmn)
    and an interrupting 同意撤回 leads to 同意撤回の受付 (consent_withdrawal, the coordinating office)."""
    b = ProcessBuilder("consent_test", "同意テスト")
    b.start("start", "相談受付", form="intake")
    b.user("consent", "本人同意", form="consent", assignee="starter", due="3BD")
    b.user("plan", "プラン作成", form="plan", due="3BD", **{"case.lead_agency": "plan.lead_agency"})
    b.user("decision", "会議決定", form="decision", due="3BD")
    b.user("work", "支援の実施", form="note", due="3BD")
    b.end("end", "終結")
    b.lane("窓口", "start", "consent")
    b.lane("担当部署", "plan", "decision")
    b.lane("関係機関", "work", "end")
    for a, c in (("start", "consent"), ("consent", "plan"), ("plan", "decision"), ("decision", "work"),
                 ("work", "end")):
        b.flow(a, c)
    if withdrawal_message:
        b.raw("ev_withdraw", '<bpmn:boundaryEvent id="ev_withdraw" name="同意撤回" attachedToRef="work">'
                             '<bpmn:messageEventDefinition id="ev_withdraw_def" '
                             'messageRef="msg_consent_withdrawn"/>'
                             '</bpmn:boundaryEvent>')
        b.user("withdrawal", "同意撤回の受付", form="consent_withdrawal", due="1BD")
        b.end("end_withdrawn", "中断（同意撤回）")
        b.lane("担当部署", "withdrawal", "end_withdrawn")
        b.lane("関係機関", "ev_withdraw")
        b.flow("ev_withdraw", "withdrawal")
        b.flow("withdrawal", "end_withdrawn")
    xml = b.xml()
    if withdrawal_message:
        xml = xml.replace("<bpmn:process ",
                          '<bpmn:message id="msg_consent_withdrawn" name="consent_withdrawn"/>'
                                            "<bpmn:process ", 1)
    return {"consent_test.bpmn": xml.encode("utf-8"), "roles.yaml": ROLES.encode("utf-8")}
