"""Bootstrap generator for processes/*.bpmn (run once: ``python docs/tools/generate_processes.py``).

The generated files are the starting point only: the committed BPMN files in processes/ are the
source of truth and are edited in a modeler afterwards. Running this again overwrites them, so do
that only to re-bootstrap. See docs/processes.md for what each element means.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bpmn_layout import Diagram, Node, error, loop, message, terminate, timer  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "processes"
CSW = "acceptance.csw"
CONSENTED = "['written', 'verbal_recorded']"
WINDOW_DONE = "['info_advice', 'other_agency', 'continue_window']"
RECHECK_COLUMNS = 3.3  # width of 「初回接触（同意の再確認）」, added after the first bootstrap


def user(d: Diagram, nid: str, name: str, lane: str, col: float, row: float, form: str, due: str,
         stage: str | None = None, assignee: str | None = None, parent: str | None = None,
         extra: str = "", **case: str) -> Node:
    props = {"formKey": form, "due": due}
    if stage:
        props["stage"] = stage
    if assignee:
        props["assignee"] = assignee
    for key, value in case.items():
        props[f"case.{key}"] = value
    return d.add(Node(nid, name, "user", lane, col, row, props, parent, extra))


def ev(d: Diagram, nid: str, name: str, kind: str, lane: str, col: float, row: float = 0,
       parent: str | None = None, extra: str = "", **props: str) -> Node:
    return d.add(Node(nid, name, kind, lane, col, row, dict(props), parent, extra))


def gw(d: Diagram, nid: str, name: str, lane: str, col: float, row: float = 0, parent: str | None = None,
       kind: str = "xor", **props: str) -> Node:
    return d.add(Node(nid, name, kind, lane, col, row, dict(props), parent))


# ---------------------------------------------------------------------------------------------------
def case_process() -> Diagram:
    lanes = ["窓口", "担当部署", "CSW", "関係機関", "会議"]
    rows = {"窓口": (-1, 2), "担当部署": (-1, 1), "CSW": (-1, 4), "関係機関": (0, 0), "会議": (0, 1)}
    d = Diagram("case_main", "多機関協働ケース（重層的支援）", lanes, rows,
                "相談受付から終結までの一件のケース。支援会議・アウトリーチ・参加支援は別の手続きを呼び出す。")
    d.head += ['<bpmn:message id="msg_consent_withdrawn" name="consent_withdrawn" />',
               '<bpmn:message id="msg_case_exit" name="case_exit" />',
               '<bpmn:error id="err_raise_sm" name="支援会議へ提起" errorCode="raise_support_meeting" />']
    # top level ---------------------------------------------------------------------------------------
    ev(d, "start", "相談受付", "start", "窓口", 0, formKey="intake")
    d.add(Node("case_flow", "ケースの流れ", "sub", "窓口", 0))
    ev(d, "end_case", "ケース終了", "end", "CSW", 43.5)
    d.add(Node("ev_exit", "転出・死亡・連絡途絶", "boundary", "担当部署", 0, host="case_flow", edge="right",
               align=("担当部署", 0), extra=message("msg_case_exit", "ev_exit_def")))
    user(d, "exit_record", "転出・死亡・連絡途絶の記録", "担当部署", 44.7, 0, "case_exit", "3BD", stage="suspended",
         outcome="{'moved': '中断（転出）', 'died': '中断（死亡）', 'lost_contact': '中断（連絡途絶）'}"
                 "[case_exit.reason]")
    ev(d, "end_exit", "中断（転出・死亡・連絡途絶）", "end", "担当部署", 45.8)
    d.flow("start", "case_flow")
    d.flow("case_flow", "end_case")
    d.flow("ev_exit", "exit_record")
    d.flow("exit_record", "end_exit")
    # the window ------------------------------------------------------------------------------------
    p = "case_flow"
    ev(d, "cf_start", "開始", "start", "窓口", 1, parent=p)
    gw(d, "fork_intake", "受付後の並行処理", "窓口", 2, parent=p, kind="and")
    user(d, "window_response", "窓口での対応（包括的相談支援）", "窓口", 3, 0, "window_response", "3BD",
         stage="intake", assignee="starter", parent=p,
         outcome=f"'窓口対応で完結' if window_response.action in {WINDOW_DONE} else None")
    gw(d, "g0_urgency", "G0 緊急性は高いか", "窓口", 3, 1, parent=p)
    user(d, "emergency_response", "緊急対応（通報・緊急連絡）の記録", "窓口", 4, 1, "emergency_record", "0BD",
         stage="intake", assignee="starter", parent=p)
    ev(d, "end_emergency", "緊急対応を記録", "end", "窓口", 5, 1, parent=p)
    ev(d, "end_no_emergency", "緊急対応なし", "end", "窓口", 4, 2, parent=p)
    gw(d, "g1_window", "G1 窓口で完結するか", "窓口", 4, 0, parent=p)
    ev(d, "end_window", "窓口対応で完結", "end", "窓口", 4, -1, parent=p)
    user(d, "consent_check", "本人への説明・同意確認", "窓口", 5, 0, "consent", "3BD", stage="intake",
         assignee="starter", parent=p, consent_status="consent.status")
    gw(d, "merge_refer", "つなぎへ", "窓口", 6, 0, parent=p)
    gw(d, "g2_consent", "G2 同意の有無", "窓口", 7, 0, parent=p)
    user(d, "referral", "つなぎシートの作成（同意あり）", "窓口", 8, 0, "referral", "3BD", stage="intake",
         assignee="starter", parent=p)
    user(d, "referral_nc", "つなぎシートの作成（同意なし・支援会議への提起）", "窓口", 8, 1, "referral", "3BD",
         stage="intake", assignee="starter", parent=p)
    gw(d, "merge_referral", "担当部署へ", "窓口", 9, 0, parent=p)
    user(d, "acceptance", "受理判断・担当CSWの割当", "担当部署", 10, 0, "acceptance", "2BD", stage="intake",
         parent=p, csw="acceptance.csw",
         status="'waiting_consent' if acceptance.decision == 'accept_no_consent' else 'active'",
         outcome="'他機関案内' if acceptance.decision == 'redirect' else None")
    gw(d, "g3_accept", "G3 受理・振分け", "担当部署", 11, 0, parent=p)
    ev(d, "end_redirect", "他機関案内", "end", "担当部署", 12, -1, parent=p)
    user(d, "returned", "差し戻し内容の確認と対応", "窓口", 12, 0, "returned", "3BD", stage="intake",
         assignee="starter", parent=p, outcome="'差し戻し（窓口で対応）' if returned.action == 'resolve' else None")
    gw(d, "g_return", "差し戻し後の対応", "窓口", 13, 0, parent=p, maxIterations="10")
    ev(d, "end_returned", "差し戻し（窓口で対応）", "end", "窓口", 14, 0, parent=p)
    d.flow("cf_start", "fork_intake")
    d.flow("fork_intake", "window_response")
    d.flow("fork_intake", "g0_urgency")
    d.flow("g0_urgency", "emergency_response", "緊急性が高い", "intake.urgency == 'high'")
    d.flow("g0_urgency", "end_no_emergency", "それ以外", default=True)
    d.flow("emergency_response", "end_emergency")
    d.flow("window_response", "g1_window")
    d.flow("g1_window", "end_window", "窓口で完結", f"window_response.action in {WINDOW_DONE}")
    d.flow("g1_window", "consent_check", "多機関協働へつなぐ", default=True)
    d.flow("consent_check", "merge_refer")
    d.flow("merge_refer", "g2_consent")
    d.flow("g2_consent", "referral", "同意あり", f"consent.status in {CONSENTED}")
    d.flow("g2_consent", "referral_nc", "同意なし", default=True)
    d.flow("referral", "merge_referral")
    d.flow("referral_nc", "merge_referral")
    d.flow("merge_referral", "acceptance")
    d.flow("acceptance", "g3_accept")
    d.flow("g3_accept", "merge_consent", "受理・同意あり", "acceptance.decision == 'accept_consent'")
    d.flow("g3_accept", "merge_nc", "受理・同意なし", "acceptance.decision == 'accept_no_consent'")
    d.flow("g3_accept", "end_redirect", "他機関案内", "acceptance.decision == 'redirect'")
    d.flow("g3_accept", "returned", "差し戻し", default=True)
    d.flow("returned", "g_return")
    d.flow("g_return", "merge_refer", "再度つなぐ", "returned.action == 're_refer'", route="above",
           channel=d.lane_top["窓口"] + 58)
    d.flow("g_return", "end_returned", "窓口で対応", default=True)
    # no consent: 支援会議 (SP-A, one call per round) -----------------------------------------------------
    gw(d, "merge_nc", "同意なしの検討へ", "担当部署", 13, 0, parent=p)
    sm_loop_cond = ("sm_screening.decision == 'meeting' and (sm_record.decision == 'watch' or "
                    "(sm_record.decision == 'outreach' and outreach_close.result == 'review'))")
    d.add(Node("sm_loop", "支援会議での検討（同意なし）", "call", "担当部署", 14, 0, parent=p,
               attrs='calledElement="support_meeting"', extra=loop(sm_loop_cond)))
    gw(d, "g_sm", "支援会議の結果", "担当部署", 15, 0, parent=p)
    user(d, "nc_close", "支援会議・アウトリーチの終了確認", "担当部署", 16, 0, "nc_close", "5BD",
         stage="waiting_consent", parent=p, lead_agency="nc_close.lead_agency",
         outcome="{'existing_agency': '既存機関で対応', 'resolved': '支援会議で終了', "
                 "'connected': '他機関・地域へつないで終了', 'no_contact': '接触できず終了'}[nc_close.result]")
    ev(d, "end_nc", "支援会議で終了", "end", "担当部署", 17, 0, parent=p)
    consent_back = ("sm_screening.decision == 'meeting' and (sm_record.decision == 'consent_obtained' or "
                    "(sm_record.decision == 'outreach' and outreach_close.result == 'consent_obtained'))")
    d.flow("merge_nc", "sm_loop")
    d.flow("sm_loop", "g_sm")
    d.flow("g_sm", "merge_consent", "同意を得た", consent_back)
    d.flow("g_sm", "nc_close", "それ以外", default=True)
    d.flow("nc_close", "end_nc")
    # first contact ---------------------------------------------------------------------------------
    gw(d, "merge_consent", "初回接触へ", "CSW", 18, 0, parent=p)
    _consent_recheck(d, p)
    gw(d, "g4_consent", "G4 多機関での情報共有に同意したか", "CSW", 20, 0, parent=p, maxIterations="10")
    d.flow("merge_consent", "consent_recheck")
    d.flow("consent_recheck", "g4_consent")
    d.flow("g4_consent", "merge_nc", "同意なし", default=True, route="above",
           channel=d.lane_top["担当部署"] + 30)
    d.flow("g4_consent", "consent_support", "同意あり", f"consent.status in {CONSENTED}")
    # withdrawal -------------------------------------------------------------------------------------
    d.add(Node("consent_support", "同意に基づく多機関協働支援", "sub", "CSW", 0, parent=p))
    d.add(Node("ev_withdraw", "同意撤回", "boundary", "CSW", 0, parent=p, host="consent_support", edge="top",
               offset=0.0, extra=message("msg_consent_withdrawn", "ev_withdraw_def")))
    user(d, "withdrawal", "同意撤回の受付と対応", "担当部署", 22, 0, "consent_withdrawal", "1BD",
         stage="suspended", parent=p, consent_status="'withdrawn'",
         status="'waiting_consent' if consent_withdrawal.risk_remains else None",
         outcome="None if consent_withdrawal.risk_remains else '中断（同意撤回）'")
    gw(d, "g_withdraw", "リスクが残るか（支援会議へ）", "担当部署", 23, 0, parent=p, maxIterations="10")
    ev(d, "end_withdrawn", "中断（同意撤回）", "end", "担当部署", 24, 0, parent=p)
    ev(d, "end_support", "同意に基づく支援の終了", "end", "CSW", 42, 0, parent=p)
    d.flow("ev_withdraw", "withdrawal")
    d.flow("withdrawal", "g_withdraw")
    d.flow("g_withdraw", "merge_nc", "リスクが残る", "consent_withdrawal.risk_remains == True", route="above",
           channel=d.lane_top["担当部署"] + 15)
    d.flow("g_withdraw", "end_withdrawn", "終了する", default=True)
    d.flow("consent_support", "end_support")
    _consent_support(d)
    # 「初回接触（同意の再確認）」 was added after the first bootstrap: move everything after it to the right
    for node in d.nodes.values():
        if node.col >= 20 and node.parent != "consent_recheck":
            node.col += RECHECK_COLUMNS
    return d


def _consent_recheck(d: Diagram, p: str) -> None:
    """初回接触 in a wrapper: 14 days without consent prompt the 担当部署 (domain.md §6).

    The prompt hangs on a non-interrupting timer, so the CSW can still record the first contact. The
    first contact ends the wrapper with a terminate end event, which withdraws an unanswered prompt;
    「支援会議に提起する」 ends it with an error caught on the wrapper, which cancels the first contact.
    """
    w = "consent_recheck"
    d.add(Node(w, "初回接触（同意の再確認）", "sub", "CSW", 0, parent=p))
    ev(d, "rc_start", "開始", "start", "CSW", 19, parent=w)
    user(d, "first_contact", "CSW 引き受け・初回接触（同意の再確認）", "CSW", 19.8, 0, "consent",
         "'3BD' if intake.urgency == 'high' else '7BD'", stage="assessment", assignee=CSW, parent=w,
         consent_status="consent.status",
         status=f"'active' if consent.status in {CONSENTED} else 'waiting_consent'",
         confidential=f"consent.status not in {CONSENTED}")
    ev(d, "rc_end", "初回接触の完了", "end", "CSW", 20.8, 0, parent=w, extra=terminate("rc_end_def"))
    d.add(Node("ev_no_consent", "同意未取得14日", "boundary", "CSW", 0, parent=w, host="first_contact",
               edge="top", offset=0.3, attrs='cancelActivity="false"', label="right",
               extra=timer("P14D", eid="ev_no_consent_def")))
    # straight above the timer on the first contact (offset 0.3 of the task: column 19.8 - 0.2 × 100 / 150)
    user(d, "sm_consider", "支援会議への提起を検討", "担当部署", 59 / 3, 1, "sm_consider", "3BD",
         stage="waiting_consent", parent=w,
         status="'waiting_consent' if sm_consider.decision == 'raise' else None")
    gw(d, "g_consider", "支援会議に提起するか", "担当部署", 20.8, 1, parent=w)
    ev(d, "rc_end_continue", "初回接触を続ける", "end", "担当部署", 22.4, 1, parent=w)
    ev(d, "rc_end_raise", "支援会議へ提起", "end", "担当部署", 20.8, 0, parent=w,
       extra=error("err_raise_sm", "rc_end_raise_def"))
    d.add(Node("ev_raise_sm", "支援会議へ提起", "boundary", "担当部署", 0, parent=p, host=w, edge="top",
               offset=0.9, extra=error("err_raise_sm", "ev_raise_sm_def")))
    d.flow("rc_start", "first_contact")
    d.flow("first_contact", "rc_end")
    d.flow("ev_no_consent", "sm_consider")
    d.flow("sm_consider", "g_consider")
    d.flow("g_consider", "rc_end_raise", "提起する", "sm_consider.decision == 'raise'")
    d.flow("g_consider", "rc_end_continue", "同意取得を継続", default=True)
    d.flow("ev_raise_sm", "merge_nc", route="above", channel=d.lane_top["担当部署"] + 45)


def _consent_support(d: Diagram) -> None:
    p = "consent_support"
    top = d.lane_top["CSW"]
    ev(d, "cs_start", "開始", "start", "CSW", 21, parent=p)
    gw(d, "merge_assess", "アセスメントへ", "CSW", 22, parent=p)
    user(d, "assessment", "アセスメント", "CSW", 23, 0, "assessment", "P30D", stage="assessment", assignee=CSW,
         parent=p)
    gw(d, "merge_plan", "プラン作成へ", "CSW", 24, parent=p)
    user(d, "plan", "プラン（案）の作成", "CSW", 25, 0, "plan", "P14D", stage="planning", assignee=CSW, parent=p,
         lead_agency="plan.lead_agency")
    user(d, "meeting", "重層的支援会議（プラン協議）", "会議", 26, 0, "meeting", "P14D", stage="meeting", parent=p,
         outcome="{'suspend': '中断', 'not_target': '対象外'}[meeting.decision]")
    gw(d, "g5_meeting", "G5 会議の決定", "会議", 27, 0, parent=p, maxIterations="12")
    ev(d, "end_meeting_suspended", "中断", "end", "会議", 28.2, 0, parent=p, extra=terminate("end_ms_def"))
    ev(d, "end_not_target", "対象外（つなぎ元へ戻す）", "end", "会議", 28, 1, parent=p,
       extra=terminate("end_nt_def"))
    user(d, "plan_consent", "本人への説明・署名（プラン兼利用申込書）", "CSW", 28, 0, "plan_consent", "P14D",
         stage="planning", assignee=CSW, parent=p)
    gw(d, "g6_signed", "G6 本人が署名したか", "CSW", 29, 0, parent=p, maxIterations="12")
    user(d, "support_start", "役割分担に基づく支援の開始（主担当機関）", "関係機関", 30, 0, "support_start", "5BD",
         stage="support", parent=p)
    gw(d, "fork_support", "支援の実施（並行）", "関係機関", 31, 0, parent=p, kind="and")
    # side branches: 参加支援 / アウトリーチ
    gw(d, "g_pa", "参加支援を始めるか", "CSW", 31.8, 1.6, parent=p)
    d.add(Node("call_participation", "参加支援", "call", "CSW", 33, 1.6, parent=p,
               attrs='calledElement="participation"'))
    ev(d, "end_pa", "参加支援の終了", "end", "CSW", 34.2, 1.6, parent=p)
    ev(d, "end_no_pa", "参加支援なし", "end", "CSW", 32.4, 2.2, parent=p)
    gw(d, "g_or", "アウトリーチを始めるか", "CSW", 31.8, 2.9, parent=p)
    d.add(Node("call_outreach", "アウトリーチ（伴走）", "call", "CSW", 33, 2.9, parent=p,
               attrs='calledElement="outreach"'))
    ev(d, "end_or", "アウトリーチの終了", "end", "CSW", 34.2, 2.9, parent=p)
    ev(d, "end_no_or", "アウトリーチなし", "end", "CSW", 32.4, 3.5, parent=p)
    # monitoring: one embedded sub-process per cycle (standard loop, flat task tree)
    # the evaluation-date timer sits on a plain wrapper: SpiffWorkflow cannot cancel a looped sub-process
    d.add(Node("support_period", "支援の実施とモニタリング", "sub", "CSW", 0, parent=p))
    ev(d, "sp_start", "開始", "start", "CSW", 31.6, parent="support_period")
    ev(d, "sp_end", "区切り", "end", "CSW", 35.5, parent="support_period")
    d.add(Node("monitoring_cycle", "モニタリング（周期）", "sub", "CSW", 0, parent="support_period",
               extra=loop("monitoring.judgement == 'continue'")))
    ev(d, "mc_start", "周期の開始", "start", "CSW", 32.3, parent="monitoring_cycle")
    wait = ("monitoring.next_date if monitoring.done_on and support_start.started_on and "
            "monitoring.done_on > support_start.started_on else plan.monitoring_interval")
    ev(d, "mc_wait", "次回モニタリング日", "timer", "CSW", 33.1, parent="monitoring_cycle",
       extra=timer(wait, eid="mc_wait_def"))
    user(d, "monitoring", "モニタリング", "CSW", 34, 0, "monitoring", "5BD", stage="monitoring", assignee=CSW,
         parent="monitoring_cycle")
    ev(d, "mc_end", "周期の終了", "end", "CSW", 34.8, parent="monitoring_cycle")
    d.add(Node("ev_eval_due", "評価予定日", "boundary", "CSW", 0, parent=p, host="support_period",
               edge="bottom", offset=0.97, attrs='cancelActivity="true"',
               extra=timer("plan.evaluation_date", "timeDate", "ev_eval_due_def")))
    gw(d, "g7_monitoring", "G7 モニタリングの判定", "CSW", 36.3, 0, parent=p, maxIterations="12")
    user(d, "evaluation", "評価（重層的支援会議）", "会議", 37, 0, "evaluation", "P14D", stage="evaluation",
         parent=p, outcome="'中断' if evaluation.conclusion == 'suspend' else None")
    gw(d, "g8_evaluation", "G8 評価の結論", "会議", 38, 0, parent=p, maxIterations="12")
    user(d, "closing", "終結の記録（主担当機関への引継ぎ）", "CSW", 39, 0, "closing", "5BD", stage="closed",
         assignee=CSW, parent=p, outcome="'終結'", lead_agency="closing.lead_agency")
    ev(d, "end_closed", "終結", "end", "CSW", 40, 0, parent=p)
    ev(d, "end_eval_suspended", "中断", "end", "会議", 39, 0, parent=p, extra=terminate("end_es_def"))

    d.flow("cs_start", "merge_assess")
    d.flow("merge_assess", "assessment")
    d.flow("assessment", "merge_plan")
    d.flow("merge_plan", "plan")
    d.flow("plan", "meeting")
    d.flow("meeting", "g5_meeting")
    d.flow("g5_meeting", "plan_consent", "承認", "meeting.decision == 'approve'")
    d.flow("g5_meeting", "merge_plan", "修正", default=True, route="above", channel=top + 78)
    d.flow("g5_meeting", "end_meeting_suspended", "中断", "meeting.decision == 'suspend'")
    d.flow("g5_meeting", "end_not_target", "対象外", "meeting.decision == 'not_target'")
    d.flow("plan_consent", "g6_signed")
    d.flow("g6_signed", "support_start", "署名あり", "plan_consent.signed == 'signed'")
    d.flow("g6_signed", "merge_plan", "署名なし（見直し）", default=True, route="above", channel=top + 86)
    d.flow("support_start", "fork_support")
    d.flow("fork_support", "support_period")
    d.flow("fork_support", "g_pa")
    d.flow("fork_support", "g_or")
    d.flow("g_pa", "call_participation", "利用を開始", "plan.participation == 'start'")
    d.flow("g_pa", "end_no_pa", "なし・継続中", default=True)
    d.flow("call_participation", "end_pa")
    d.flow("g_or", "call_outreach", "利用を開始", "plan.outreach == 'start'")
    d.flow("g_or", "end_no_or", "なし・継続中", default=True)
    d.flow("call_outreach", "end_or")
    d.flow("mc_start", "mc_wait")
    d.flow("mc_wait", "monitoring")
    d.flow("monitoring", "mc_end")
    d.flow("sp_start", "monitoring_cycle")
    d.flow("monitoring_cycle", "sp_end")
    d.flow("support_period", "g7_monitoring")
    d.flow("ev_eval_due", "evaluation")
    d.flow("g7_monitoring", "merge_assess", "プラン見直し", "monitoring.judgement == 'replan'", route="above",
           channel=top + 62)
    d.flow("g7_monitoring", "evaluation", "評価へ", default=True)
    d.flow("evaluation", "g8_evaluation")
    d.flow("g8_evaluation", "closing", "終結", "evaluation.conclusion == 'close'")
    d.flow("g8_evaluation", "end_eval_suspended", "中断", "evaluation.conclusion == 'suspend'")
    d.flow("g8_evaluation", "merge_plan", "再プラン", default=True, route="above", channel=top + 70)
    d.flow("closing", "end_closed")


# ---------------------------------------------------------------------------------------------------
def support_meeting_process() -> Diagram:
    lanes = ["CSW", "担当部署", "会議"]
    rows = {"CSW": (0, 0), "担当部署": (0, 1), "会議": (0, 3)}
    d = Diagram("support_meeting", "支援会議（社会福祉法第106条の6）", lanes, rows,
                "同意のない事例を一回検討する。繰り返しは呼び出し側の標準ループで行う。")
    ev(d, "sm_start", "提起", "start", "担当部署", 0)
    user(d, "sm_screening", "支援会議への提起の受付・スクリーニング", "担当部署", 1, 0, "sm_screening", "2BD",
         stage="waiting_consent")
    gw(d, "g_sm_screen", "GA0 支援会議で検討するか", "担当部署", 2, 0)
    ev(d, "end_sm_existing", "既存の支援ネットワークで対応", "end", "担当部署", 3, 1)
    user(d, "sm_convene", "招集（構成員の選定）", "担当部署", 3, 0, "sm_convene", "5BD", stage="waiting_consent",
         confidential="True")
    user(d, "sm_meeting", "支援会議の開催・記録（守秘義務の確認）", "会議", 4, 0, "sm_record", "P14D",
         stage="waiting_consent")
    gw(d, "ga_decision", "GA 支援会議の決定", "会議", 5, 0)
    d.add(Node("call_or", "アウトリーチ", "call", "CSW", 6, 0, attrs='calledElement="outreach"'))
    ev(d, "end_sm_outreach", "アウトリーチの区切り", "end", "CSW", 7, 0)
    ev(d, "sm_watch", "見守り：次回検討日", "timer", "会議", 6, 0,
       extra=timer("sm_record.next_review if sm_record.next_review else 'P3M'", eid="sm_watch_def"))
    ev(d, "end_sm_watch", "次回の支援会議へ", "end", "会議", 7, 0)
    ev(d, "end_sm_consent", "同意取得：多機関協働へ", "end", "会議", 6, 1)
    ev(d, "end_sm_agency", "既存機関で対応", "end", "会議", 6, 2)
    ev(d, "end_sm_resolved", "終了", "end", "会議", 6, 3)
    d.flow("sm_start", "sm_screening")
    d.flow("sm_screening", "g_sm_screen")
    d.flow("g_sm_screen", "sm_convene", "検討する", default=True)
    d.flow("g_sm_screen", "end_sm_existing", "既存の支援ネットワークで対応",
           "sm_screening.decision == 'existing_network'")
    d.flow("sm_convene", "sm_meeting")
    d.flow("sm_meeting", "ga_decision")
    d.flow("ga_decision", "call_or", "アウトリーチ", "sm_record.decision == 'outreach'")
    d.flow("call_or", "end_sm_outreach")
    d.flow("ga_decision", "sm_watch", "見守り（再検討）", default=True)
    d.flow("sm_watch", "end_sm_watch")
    d.flow("ga_decision", "end_sm_consent", "同意取得", "sm_record.decision == 'consent_obtained'")
    d.flow("ga_decision", "end_sm_agency", "既存機関で対応", "sm_record.decision == 'existing_agency'")
    d.flow("ga_decision", "end_sm_resolved", "終了", "sm_record.decision == 'resolved'")
    return d


def outreach_process() -> Diagram:
    d = Diagram("outreach", "アウトリーチ等を通じた継続的支援", ["CSW"], {"CSW": (-1, 2)},
                "接触の記録を重ねて関係をつくる。3か月接触できなければ支援会議へ戻す。")
    d.head.append('<bpmn:error id="err_no_contact" name="3か月接触なし" errorCode="no_contact" />')
    ev(d, "or_start", "開始", "start", "CSW", 0)
    user(d, "or_register", "対象者の把握・登録（①把握）", "CSW", 1, 0, "outreach_register", "5BD", assignee=CSW)
    # the error boundary sits on a plain wrapper: SpiffWorkflow cannot cancel a looped sub-process
    d.add(Node("or_phase", "接触と関係づくり", "sub", "CSW", 0))
    ev(d, "orp_start", "開始", "start", "CSW", 1.8, parent="or_phase")
    ev(d, "orp_end", "区切り", "end", "CSW", 5, parent="or_phase")
    d.add(Node("or_rounds", "接触できるまでを1回とする繰り返し", "sub", "CSW", 0, parent="or_phase",
               extra=loop("outreach_contact.next_step == 'continue'")))
    ev(d, "orr_start", "接触試行の開始", "start", "CSW", 2.5, parent="or_rounds")
    attempts = "outreach_contact.result not in ['talk', 'meeting'] and outreach_contact.next_step == 'continue'"
    user(d, "or_contact", "接触の記録（訪問・電話・手紙など）", "CSW", 3.4, 0, "outreach_contact", "P1M",
         assignee=CSW, parent="or_rounds", extra=loop(attempts))
    ev(d, "orr_end", "接触できた・区切り", "end", "CSW", 4.3, 0, parent="or_rounds")
    d.add(Node("ev_no_contact", "3か月接触なし", "boundary", "CSW", 0, parent="or_rounds", host="or_contact",
               edge="bottom", offset=0.5, attrs='cancelActivity="true"',
               extra=timer("P3M", eid="ev_no_contact_def")))
    ev(d, "orr_end_timeout", "3か月接触なし", "end", "CSW", 4.3, 1, parent="or_rounds",
       extra=error("err_no_contact", "orr_end_timeout_def"))
    d.add(Node("ev_round_error", "接触なし3か月：区切り", "boundary", "CSW", 0, host="or_phase", edge="right",
               align=("CSW", 1), extra=error("err_no_contact", "ev_round_error_def")))
    gw(d, "merge_or_close", "区切りへ", "CSW", 6, 0)
    user(d, "or_close", "アウトリーチの区切りと結果の記録", "CSW", 7, 0, "outreach_close", "5BD", assignee=CSW)
    ev(d, "or_end", "アウトリーチの区切り", "end", "CSW", 8, 0)
    d.flow("or_start", "or_register")
    d.flow("or_register", "or_phase")
    d.flow("orp_start", "or_rounds")
    d.flow("or_rounds", "orp_end")
    d.flow("orr_start", "or_contact")
    d.flow("or_contact", "orr_end")
    d.flow("ev_no_contact", "orr_end_timeout")
    d.flow("or_phase", "merge_or_close")
    d.flow("ev_round_error", "merge_or_close")
    d.flow("merge_or_close", "or_close")
    d.flow("or_close", "or_end")
    return d


def participation_process() -> Diagram:
    d = Diagram("participation", "参加支援", ["CSW"], {"CSW": (-1, 2)},
                "ニーズ把握から定着まで。参加開始から1週間・1か月・3か月後にフォローする。")
    ev(d, "pa_start", "開始", "start", "CSW", 0)
    user(d, "pa_needs", "ニーズの把握（①）", "CSW", 1, 0, "participation_needs", "P14D", stage="support",
         assignee=CSW)
    user(d, "pa_menu", "メニューの作成・受入先への働きかけ（②）", "CSW", 2, 0, "participation_menu", "P30D",
         stage="support", assignee=CSW)
    gw(d, "merge_match", "マッチングへ", "CSW", 3, 0)
    user(d, "pa_matching", "マッチング（③）", "CSW", 4, 0, "participation_matching", "P30D", stage="support",
         assignee=CSW)
    user(d, "pa_begin", "参加の開始（④）", "CSW", 5, 0, "participation_start", "P14D", stage="support",
         assignee=CSW)
    ev(d, "t_1w", "1週間後", "timer", "CSW", 6, extra=timer("P7D", eid="t_1w_def"))
    user(d, "pa_follow_1w", "定着支援・受入先フォロー（1週間後）", "CSW", 7, 0, "participation_follow", "5BD",
         stage="support", assignee=CSW)
    gw(d, "g_f1", "1週間後の判定", "CSW", 8, 0)
    ev(d, "t_1m", "1か月後", "timer", "CSW", 9, extra=timer("P3W", eid="t_1m_def"))
    user(d, "pa_follow_1m", "定着支援・受入先フォロー（1か月後）", "CSW", 10, 0, "participation_follow", "5BD",
         stage="support", assignee=CSW)
    gw(d, "g_f2", "1か月後の判定", "CSW", 11, 0)
    ev(d, "t_3m", "3か月後", "timer", "CSW", 12, extra=timer("P2M", eid="t_3m_def"))
    user(d, "pa_follow_3m", "定着支援・受入先フォロー（3か月後）", "CSW", 13, 0, "participation_follow", "5BD",
         stage="support", assignee=CSW)
    gw(d, "merge_judge", "判定へ", "CSW", 14, 0)
    gw(d, "g_pa_result", "参加の判定（⑤→⑥）", "CSW", 15, 0, maxIterations="10")
    ev(d, "end_settled", "定着", "end", "CSW", 16, 0)
    ev(d, "end_transfer", "他制度へ移行", "end", "CSW", 16, 1)
    ev(d, "end_stopped", "中止", "end", "CSW", 16, 2)
    top = d.lane_top["CSW"]
    cont = "participation_follow.judgement == 'continue'"
    d.flow("pa_start", "pa_needs")
    d.flow("pa_needs", "pa_menu")
    d.flow("pa_menu", "merge_match")
    d.flow("merge_match", "pa_matching")
    d.flow("pa_matching", "pa_begin")
    d.flow("pa_begin", "t_1w")
    d.flow("t_1w", "pa_follow_1w")
    d.flow("pa_follow_1w", "g_f1")
    d.flow("g_f1", "t_1m", "継続", cont)
    d.flow("g_f1", "merge_judge", "見直し", default=True, route="below", channel=top + 45 + 2 * 110 + 20)
    d.flow("t_1m", "pa_follow_1m")
    d.flow("pa_follow_1m", "g_f2")
    d.flow("g_f2", "t_3m", "継続", cont)
    d.flow("g_f2", "merge_judge", "見直し", default=True, route="below", channel=top + 45 + 2 * 110 + 5)
    d.flow("t_3m", "pa_follow_3m")
    d.flow("pa_follow_3m", "merge_judge")
    d.flow("merge_judge", "g_pa_result")
    d.flow("g_pa_result", "end_settled", "定着", default=True)
    d.flow("g_pa_result", "merge_match", "調整（マッチングの見直し）", "participation_follow.judgement == 'adjust'",
           route="above", channel=top + 15)
    d.flow("g_pa_result", "end_transfer", "他制度へ移行", "participation_follow.judgement == 'transfer'")
    d.flow("g_pa_result", "end_stopped", "中止", "participation_follow.judgement == 'stop'")
    return d


FILES = {"case.bpmn": case_process, "support_meeting.bpmn": support_meeting_process,
         "outreach.bpmn": outreach_process, "participation.bpmn": participation_process}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, build in FILES.items():
        (OUT / name).write_text(build().xml(), encoding="utf-8")
        print(f"wrote processes/{name}")


if __name__ == "__main__":
    main()
