"""engine.definitions: a deployment is the SHA-256 of its files — unchanged files are a no-op, changed
files the next version of every process in the bundle, all or nothing; the newest startable versions;
the parsed spec stored once per definition and loaded through the spec cache."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from engine import definitions
from engine.actor import SYSTEM
from engine.bpmn.bundle import content_hash
from engine.bpmn.serializer import state_text
from engine.core import build_engine
from engine.errors import DefinitionError, NotFound
from engine.models import AuditEvent, Case, Deployment, DeploymentFile, ProcessDefinition
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import ROLES, referral_files


def simple(pid: str, name: str, step: str = "受付") -> ProcessBuilder:
    b = ProcessBuilder(pid, name)
    b.start("start", form="intake")
    b.user("a", step, form="note", due="3BD")
    b.end("end", "完了")
    b.lane("窓口", "start", "a", "end")
    b.flow("start", "a")
    b.flow("a", "end")
    return b


def bundle(*builders: ProcessBuilder) -> dict[str, bytes]:
    files = {f"{b.pid}.bpmn": b.xml().encode("utf-8") for b in builders}
    files["roles.yaml"] = ROLES.encode("utf-8")
    return files


def calling_bundle() -> dict[str, bytes]:
    """``main`` calls ``sub`` (a call activity): both in one file, ``sub`` not startable on its own."""
    main = ProcessBuilder("main", "呼出元")
    main.start("start", form="intake")
    main.call("c", "sub", "下位手続き")
    main.end("end", "完了")
    main.lane("窓口", "start", "c", "end")
    main.flow("start", "c")
    main.flow("c", "end")
    sub = ProcessBuilder("sub", "呼出先")
    sub.start("s2")
    sub.user("w", "下位の作業", form="note")
    sub.end("e2")
    sub.lane("窓口", "s2", "w", "e2")
    sub.flow("s2", "w", flow_id="sub_1")
    sub.flow("w", "e2", flow_id="sub_2")
    return {"main.bpmn": main.xml(sub).encode("utf-8"), "roles.yaml": ROLES.encode("utf-8")}


def count(read, model) -> int:
    with read() as s:
        return s.scalar(select(func.count()).select_from(model))


def deploys(read) -> list[AuditEvent]:
    with read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "process.deploy")))


def test_first_deployment_is_version_1_with_its_files_and_one_audit_event(engine, write, read):
    files = referral_files()
    with write() as s:
        result = definitions.deploy_bundle(engine, s, SYSTEM, files)
    assert (result.version, result.created, result.processes) == (1, True, ["referral_test"])
    assert result.content_hash == content_hash(files) and len(result.content_hash) == 64
    with read() as s:
        deployment = s.scalar(select(Deployment))
        stored = {f.name: (f.sha256, f.content) for f in s.scalars(select(DeploymentFile))}
        definition = s.scalar(select(ProcessDefinition))
        assert (deployment.version, deployment.content_hash, deployment.created_by) == (
            1, result.content_hash, "system")
        assert definitions.definition_files(s, definition) == {n: c.decode() for n, c in files.items()}
    assert stored == {n: (hashlib.sha256(c).hexdigest(), c.decode()) for n, c in files.items()}
    assert (definition.process_id, definition.version) == ("referral_test", 1)
    assert definition.name == "つなぎテスト"
    assert (definition.file_name, definition.start_form_key, definition.startable) == (
        "referral_test.bpmn", "intake", True)
    [event] = deploys(read)
    assert event.detail == {"version": 1, "hash": result.content_hash, "processes": ["referral_test"]}


def test_redeploying_the_same_files_is_a_no_op(engine, write, read):
    with write() as s:
        first = factories.deploy(engine, s, referral_files())
    with write() as s:
        again = factories.deploy(engine, s, dict(reversed(referral_files().items())))  # order does not count
    assert (again.version, again.created, again.processes) == (1, False, ["referral_test"])
    assert again.content_hash == first.content_hash
    assert count(read, Deployment) == count(read, ProcessDefinition) == 1
    assert len(deploys(read)) == 1


def test_changed_files_become_the_next_version_and_the_old_one_stays(engine, write, read):
    with write() as s:
        factories.deploy(engine, s, referral_files())
    with write() as s:
        v2 = factories.deploy(engine, s, referral_files(version_note=" 改"))
    assert (v2.version, v2.created) == (2, True)
    with read() as s:
        rows = list(s.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)))
        latest = definitions.latest_definition(s, "referral_test")
    assert [(d.version, d.name) for d in rows] == [(1, "つなぎテスト"), (2, "つなぎテスト 改")]
    assert latest.id == rows[1].id
    with write() as s:  # deploying version 1's files again is known: no version 3
        back = factories.deploy(engine, s, referral_files())
    assert (back.version, back.created) == (1, False)


def test_renaming_a_file_is_a_change(engine, write):
    files = referral_files()
    with write() as s:
        factories.deploy(engine, s, files)
    renamed = {"renamed.bpmn" if n.endswith(".bpmn") else n: c for n, c in files.items()}
    with write() as s:
        result = factories.deploy(engine, s, renamed)
    assert (result.version, result.created) == (2, True)


def test_a_bad_bundle_is_refused_whole_and_writes_nothing(engine, write, read):
    good = simple("good", "正しい")
    bad = simple("bad", "誤り")
    bad.user("b", "フォームなし", form=None)
    bad.lane("窓口", "b")
    bad.flow("a", "b")
    with pytest.raises(DefinitionError) as info, write() as s:
        definitions.deploy_bundle(engine, s, SYSTEM, bundle(good, bad))
    assert any(p.element_id == "b" and p.file == "bad.bpmn" for p in info.value.problems)
    assert count(read, Deployment) == count(read, DeploymentFile) == count(read, ProcessDefinition) == 0
    assert deploys(read) == []


def test_a_bundle_deploys_every_process_under_one_version(engine, write, read):
    with write() as s:
        result = factories.deploy(engine, s, bundle(simple("alpha", "アルファ"), simple("beta", "ベータ")))
    assert result.processes == ["alpha", "beta"]
    with read() as s:
        rows = list(s.scalars(select(ProcessDefinition).order_by(ProcessDefinition.process_id)))
    assert [(d.process_id, d.version, d.file_name) for d in rows] == [("alpha", 1, "alpha.bpmn"),
                                                                      ("beta", 1, "beta.bpmn")]
    assert len({d.deployment_id for d in rows}) == 1


def test_startable_definitions_are_the_newest_version_of_each_startable_process(engine, write, read):
    with write() as s:
        factories.deploy(engine, s, bundle(simple("alpha", "アルファ")))
        factories.deploy(engine, s, bundle(simple("beta", "ベータ")))
        factories.deploy(engine, s, bundle(simple("alpha", "アルファ", step="受付（改）")))
        factories.deploy(engine, s, calling_bundle())
    with read() as s:
        found = [(d.process_id, d.version) for d in definitions.startable_definitions(s)]
        called = definitions.latest_definition(s, "sub")
    assert found == [("alpha", 3), ("beta", 2), ("main", 4)]  # ordered by process id; sub is only called
    assert called.startable is False and called.version == 4


def test_a_called_process_is_stored_with_its_caller(engine, write, read):
    with write() as s:
        factories.deploy(engine, s, calling_bundle())
    with read() as s:
        main = definitions.latest_definition(s, "main")
        loaded = definitions.load_spec(engine, main)
    assert "sub" in loaded.subprocess_specs
    assert set(loaded.tasks) == {"main", "sub"} and "w" in loaded.tasks["sub"]


def test_nothing_deployed_means_nothing_startable_and_not_found(engine, read):
    with read() as s:
        assert definitions.startable_definitions(s) == []
        with pytest.raises(NotFound):
            definitions.latest_definition(s, "referral_test")
        with pytest.raises(NotFound):
            definitions.spec_for_case(engine, s, 12345)


def test_the_definition_keeps_what_the_diagram_reads(engine, write, read):
    with write() as s:
        factories.deploy(engine, s, referral_files())
    with read() as s:
        definition = s.scalar(select(ProcessDefinition))
        meta = definition.task_meta
    assert meta["reads"]["window_response"] == ["action"]
    assert meta["reads"]["decision"] == ["csw", "result"]
    assert "note" not in meta["reads"] and "intake" not in meta["reads"]  # never read: kept out of task data
    assert meta["agency_rules"] == {"window": "intake", "coordinator": "any", "csw": "any"}
    assert meta["tasks"]["referral_test"]["window_response"]["due"] == "3BD"
    assert meta["tasks"]["referral_test"]["start"]["form_key"] == "intake"


def test_the_spec_is_stored_once_per_definition_and_shared_by_its_cases(engine, write, read):
    with write() as s:
        who = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        ids = [factories.start(engine, s, who).case_id for _ in range(3)]
    with read() as s:
        pinned = {s.get(Case, i).process_definition_id for i in ids}
        definition = s.scalar(select(ProcessDefinition))
        spec = json.loads(definition.spec_json)
        states = [json.loads(state_text(s.get(Case, i).state)) for i in ids]
    assert pinned == {definition.id} and count(read, ProcessDefinition) == 1
    assert spec["spec"]["name"] == "referral_test"  # the serialized spec lives on the definition row ...
    assert all("spec" not in state and "subprocess_specs" not in state for state in states)  # not in cases


def test_load_spec_uses_the_cache_and_restores_from_json_on_a_miss(engine, settings, write, read):
    with write() as s:
        factories.deploy(engine, s, referral_files())
    with read() as s:
        definition = s.scalar(select(ProcessDefinition))
        cached = definitions.load_spec(engine, definition)
        assert definitions.spec_for_case(engine, s, definition.id) is cached
        fresh = build_engine(settings, engine.forms)
        restored = definitions.spec_for_case(fresh, s, definition.id)
    assert restored is not cached
    assert restored.spec.name == cached.spec.name == "referral_test"
    assert restored.tasks == cached.tasks and restored.reads == cached.reads
    assert restored.agency_rules == cached.agency_rules and restored.start_form_key == "intake"


def test_deploy_directory_reads_the_bpmn_files_and_roles(engine, write, tmp_path):
    for name, content in referral_files().items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "notes.txt").write_text("配備しない", encoding="utf-8")
    with write() as s:
        result = definitions.deploy_directory(engine, s, SYSTEM, tmp_path)
    assert result.created and result.processes == ["referral_test"]
    assert result.content_hash == content_hash(referral_files())
