"""担当タスク: tabs with counts, the columns (case, step, person, due with 超過日数, assignee), sort,
filters and pages — and a page that stays fast with thousands of open tasks."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

from sqlalchemy import insert

from engine import clock
from engine.models import HumanTask
from tests.web.conftest import csrf, start_case


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<a href="/cases/\d+">([^<]+)</a>', body)


def _badge(html: str, label: str) -> int:
    return int(re.search(label + r' <span class="badge[^"]*">(\d+)<', html).group(1))


def test_tabs_show_counts_and_my_tasks_with_every_column(world, as_user, frozen_clock):
    started = start_case(world, subject_name="山田 花子")
    html = as_user("win").get("/").get_data(as_text=True)
    assert _badge(html, "自分の担当") == 1 and _badge(html, "引き受け待ち") == 0
    row = html.split("<tbody>")[1].split("</tr>")[0]
    assert f'<a href="/cases/{started.case_id}">{started.case_number}</a>' in row
    assert f'<a href="/tasks/{started.open_tasks[0].id}">窓口での対応</a>' in row
    assert "<td>山田 花子</td>" in row and "<td>テスト win</td>" in row
    assert re.search(r"<td>\d{4}/\d{2}/\d{2}\([月火水木金土日]\) \d{2}:\d{2}</td>", row)


def test_claimable_due_soon_and_overdue_tabs(world, as_user, frozen_clock):
    started = start_case(world)
    win = as_user("win")
    url = f"/tasks/{started.open_tasks[0].id}"
    win.post(url, data={"csrf_token": csrf(win, url), "_action": "complete", "action": "refer"})
    colleague = as_user("win2")
    html = colleague.get("/?view=claimable").get_data(as_text=True)
    assert _badge(html, "引き受け待ち") == 1 and "同意確認" in html and "未割当" in html
    assert _rows(html) == [started.case_number]
    assert _rows(colleague.get("/?view=mine").get_data(as_text=True)) == []
    frozen_clock.advance(days=2)
    soon = colleague.get("/?view=due_soon").get_data(as_text=True)
    assert _badge(soon, "期限間近") == 1 and _rows(soon) == [started.case_number]
    frozen_clock.advance(days=8)
    late = colleague.get("/?view=overdue").get_data(as_text=True)
    assert _badge(late, "期限超過") == 1 and _rows(late) == [started.case_number]
    days = int(re.search(r'<div class="overdue">期限超過 (\d+)日</div>', late).group(1))
    assert 4 <= days <= 10 and 'class="row-overdue"' in late


def test_other_agencies_do_not_see_the_task_or_its_count(world, as_user):
    start_case(world, subject_name="山田 花子")
    html = as_user("other").get("/?view=claimable").get_data(as_text=True)
    assert _badge(html, "自分の担当") == 0 and _badge(html, "引き受け待ち") == 0 and "山田" not in html


def _many(world, write, count: int, title: str = "窓口での対応"):  # type: ignore[no-untyped-def]
    """``count`` extra open tasks on one case, assigned to win (bulk rows: the inbox reads only columns)."""
    started = start_case(world)
    base = clock.now()
    rows = [
        {
            "case_id": started.case_id,
            "spiff_task_id": str(uuid.uuid4()),
            "element_id": f"step_{i % 7}",
            "process_id": "referral_test",
            "title": f"{title}{i % 7}",
            "lane": "窓口",
            "role": "window",
            "agency_id": world.people["win"].agency_id,
            "assignee_id": world.people["win"].user_id,
            "status": "open",
            "form_key": "note",
            "created_at": base,
            "due_at": base + timedelta(hours=i),
        }
        for i in range(count)
    ]
    with write() as s:
        s.execute(insert(HumanTask), rows)
    return started


def test_sorting_filtering_and_paging(world, as_user, write):
    started = _many(world, write, 119)
    client = as_user("win")
    first = client.get("/").get_data(as_text=True)
    assert "自分の担当：120件（1/3ページ）" in first and len(_rows(first)) == 50
    assert 'href="/?view=mine&amp;sort=due&amp;dir=asc&amp;page=2" rel="next"' in first
    last = client.get("/?page=3").get_data(as_text=True)
    assert len(_rows(last)) == 20 and '<span aria-current="page" class="current">3</span>' in last
    by_step = client.get("/?sort=step&dir=desc").get_data(as_text=True)
    titles = re.findall(r'<a href="/tasks/\d+">([^<]+)</a>', by_step)
    assert titles == sorted(titles, reverse=True) and 'aria-sort="descending"' in by_step
    step = client.get("/?step=step_3").get_data(as_text=True)
    assert "自分の担当：17件" in step and set(re.findall(r'<a href="/tasks/\d+">([^<]+)</a>', step)) == {
        "窓口での対応3"
    }
    assert '<option value="step_3" selected>窓口での対応3</option>' in step
    none = client.get("/?case=1999-").get_data(as_text=True)
    assert "該当するタスクはありません。" in none and "条件をクリア" in none
    found = client.get(f"/?case={started.case_number}").get_data(as_text=True)
    assert "自分の担当：120件" in found


def test_nonsense_parameters_fall_back_to_defaults(world, as_user):
    start_case(world)
    html = as_user("win").get("/?view=evil&sort=drop&page=-4&dir=sideways").get_data(as_text=True)
    assert "自分の担当：1件" in html and 'aria-sort="ascending"' in html


def test_the_inbox_stays_fast_with_thousands_of_tasks(world, as_user, write):
    _many(world, write, 3000)
    client = as_user("win")
    client.get("/")  # warm up
    timings = []
    for page in (1, 30, 61):
        t0 = time.perf_counter()
        html = client.get(f"/?page={page}&sort=due").get_data(as_text=True)
        timings.append(time.perf_counter() - t0)
        assert "自分の担当：3001件" in html
    assert max(timings) < 0.5, timings
