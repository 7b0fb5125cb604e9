"""The 10-step referral test process used by the engine tests and benchmarks.

start(intake) → 窓口での対応 → G1 (resolved → end_resolved | refer) → 同意確認 → 受理判断 → 初回接触 →
アセスメント → プラン作成 → 会議 → G2 (revise → プラン作成, bounded | approve) → 本人説明 → モニタリング →
評価 → 終結. Ten user tasks on the refer path with one revision.
"""

from __future__ import annotations

from pathlib import Path

from .bpmn_builder import ProcessBuilder

FORMS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "forms"
ROLES = """lanes:
  窓口: window
  担当部署: coordinator
  CSW: csw
roles:
  window: {agency: intake}
  coordinator: {agency: any}
  csw: {agency: any}
"""
STEPS = [
    ("consent_check", "同意確認", "窓口"),
    ("acceptance", "受理判断", "担当部署"),
    ("first_contact", "初回接触", "CSW"),
    ("assessment", "アセスメント", "CSW"),
    ("plan", "プラン作成", "CSW"),
]
AFTER = [
    ("explanation", "本人説明", "CSW"),
    ("monitoring", "モニタリング", "CSW"),
    ("evaluation", "評価", "CSW"),
]


def referral_builder(due: str = "3BD", version_note: str = "", extra_step: bool = False) -> ProcessBuilder:
    b = ProcessBuilder("referral_test", "つなぎテスト" + version_note)
    b.start("start", "相談受付", form="intake")
    b.user(
        "window_response", "窓口での対応", form="window_response", due=due, assignee="starter", stage="intake"
    )
    b.xor("g1", "窓口で完結？", default="to_consent")
    b.end("end_resolved", "窓口対応で完結")
    lanes = {"窓口": ["start", "window_response", "g1", "end_resolved"], "担当部署": [], "CSW": []}
    for element_id, name, lane in STEPS:
        b.user(element_id, name, form="note", due=due)
        lanes[lane].append(element_id)
    b.user("meeting", "重層的支援会議", form="decision", due=due)
    lanes["担当部署"].append("meeting")
    b.xor("g2", "会議決定", default="to_explain", maxIterations="20")
    lanes["担当部署"].append("g2")
    after_steps = list(AFTER)
    if extra_step:
        after_steps.insert(1, ("checkin", "追加の確認", "CSW"))
    for element_id, name, lane in after_steps:
        b.user(element_id, name, form="note", due=due, assignee="decision.csw")
        lanes[lane].append(element_id)
    b.end("end", "終結")
    lanes["CSW"].append("end")
    for lane, ids in lanes.items():
        b.lane(lane, *ids)
    b.flow("start", "window_response")
    b.flow("window_response", "g1")
    b.flow("g1", "end_resolved", "window_response.action == 'resolved'")
    b.flow("g1", "consent_check", flow_id="to_consent")
    chain = [s[0] for s in STEPS] + ["meeting"]
    for a, c in zip(chain, chain[1:], strict=False):
        b.flow(a, c)
    b.flow("meeting", "g2")
    b.flow("g2", "plan", "decision.result == 'revise'")
    b.flow("g2", "explanation", flow_id="to_explain")
    after = [s[0] for s in after_steps] + ["end"]
    b.flow("explanation", after[1])
    for a, c in zip(after[1:], after[2:], strict=False):
        b.flow(a, c)
    return b


def referral_files(due: str = "3BD", version_note: str = "", extra_step: bool = False) -> dict[str, bytes]:
    return {
        "referral_test.bpmn": referral_builder(due, version_note, extra_step).xml().encode("utf-8"),
        "roles.yaml": ROLES.encode("utf-8"),
    }
