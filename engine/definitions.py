"""Deploying process bundles and loading the deployed, versioned definitions.

A deployment is identified by the SHA-256 of its files. Deploying unchanged files is a no-op;
changed files create the next version of every process in the bundle, in one transaction, so a
bundle is never half-deployed. Each case stays pinned to the definition it started on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, clock
from .actor import Actor
from .bpmn.bundle import Bundle, load_bundle, read_directory
from .bpmn.serializer import spec_from_json, spec_to_json
from .core import Engine
from .errors import DefinitionError, ExpressionError, NotFound
from .expressions import compile_expression
from .models import Deployment, DeploymentFile, ProcessDefinition
from .runtime_cache import LoadedSpec


@dataclass
class DeployResult:
    version: int
    created: bool
    processes: list[str]
    content_hash: str


def _reads(bundle: Bundle) -> dict[str, list[str] | None]:
    """Which fields of which forms the diagram's expressions read (None = the whole record)."""
    reads: dict[str, set[str] | None] = {}
    texts: list[str] = []
    for doc in bundle.docs:
        for node in doc.root.iter():
            if not isinstance(node.tag, str):
                continue
            local = node.tag.rsplit("}", 1)[-1]
            if (
                local
                in (
                    "conditionExpression",
                    "loopCondition",
                    "completionCondition",
                    "loopCardinality",
                    "condition",
                    "timeDuration",
                    "timeDate",
                    "timeCycle",
                )
                and node.text
            ):
                texts.append(node.text)
    for spec_meta in bundle.task_meta.values():
        for meta in spec_meta.values():
            texts.extend(v for k in ("due", "assignee", "agency") if (v := meta.get(k)))
            texts.extend((meta.get("case_updates") or {}).values())
    for text in texts:
        try:
            compiled = compile_expression(text)
        except ExpressionError:
            continue  # literals such as P3D are not expressions
        for name, field in compiled.fields:
            if name in reads and reads[name] is None:
                continue
            if field is None:
                reads[name] = None
            else:
                reads.setdefault(name, set()).add(field)  # type: ignore[union-attr]
    return {k: (sorted(v) if v is not None else None) for k, v in reads.items()}


def _start_form_key(bundle: Bundle, process_id: str) -> str | None:
    for meta in bundle.task_meta.get(process_id, {}).values():
        if meta["tag"] == "startEvent" and meta.get("form_key"):
            return meta["form_key"]
    return None


def deploy_bundle(engine: Engine, session: Session, actor: Actor, files: dict[str, bytes]) -> DeployResult:
    """Deploy ``files`` (BPMN files and roles.yaml); raise DefinitionError listing every problem."""
    bundle = load_bundle(files, engine.forms, engine.settings.max_bpmn_bytes)
    if bundle.problems:
        raise DefinitionError(bundle.problems)
    digest = bundle.content_hash
    existing = session.scalar(select(Deployment).where(Deployment.content_hash == digest))
    if existing is not None:
        names = list(
            session.scalars(
                select(ProcessDefinition.process_id).where(ProcessDefinition.deployment_id == existing.id)
            )
        )
        return DeployResult(existing.version, False, names, digest)
    version = (session.scalar(select(func.max(Deployment.version))) or 0) + 1
    now = clock.now()
    deployment = Deployment(version=version, content_hash=digest, created_at=now, created_by=actor.username)
    for name, content in sorted(files.items()):
        deployment.files.append(
            DeploymentFile(
                name=name,
                sha256=hashlib.sha256(content).hexdigest(),
                content=content.decode("utf-8", "replace"),
            )
        )
    session.add(deployment)
    session.flush()
    reads = _reads(bundle)
    for process_id, parsed in sorted(bundle.processes.items()):
        # the process itself, its embedded sub-processes and every process it calls
        spec_names = {process_id, *parsed.subprocess_specs}
        tasks = {name: bundle.task_meta.get(name, {}) for name in sorted(spec_names)}
        session.add(
            ProcessDefinition(
                deployment_id=deployment.id,
                process_id=process_id,
                name=parsed.name,
                version=version,
                file_name=parsed.file_name,
                spec_json=spec_to_json(parsed.spec, parsed.subprocess_specs),
                task_meta={"tasks": tasks, "reads": reads, "agency_rules": bundle.roles.agency_rules},
                start_form_key=_start_form_key(bundle, process_id),
                startable=process_id not in bundle.called,
                created_at=now,
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "process.deploy",
        "deployment",
        str(deployment.id),
        detail={"version": version, "hash": digest, "processes": sorted(bundle.processes)},
    )
    return DeployResult(version, True, sorted(bundle.processes), digest)


def deploy_directory(
    engine: Engine, session: Session, actor: Actor, directory: str | Path | None = None
) -> DeployResult:
    return deploy_bundle(engine, session, actor, read_directory(directory or engine.settings.processes_dir))


def load_spec(engine: Engine, definition: ProcessDefinition) -> LoadedSpec:
    """The parsed spec of a definition, from the in-process cache or its stored JSON."""
    loaded = engine.specs.get(definition.id)
    if loaded is None:
        loaded = _restore(definition)
        engine.specs.put(definition.id, loaded)
    return loaded


def spec_for_case(engine: Engine, session: Session, definition_id: int) -> LoadedSpec:
    """The spec a case is pinned to; the definition row is read only on a cache miss."""
    loaded = engine.specs.get(definition_id)
    if loaded is None:
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFound(f"process definition {definition_id} not found")
        loaded = load_spec(engine, definition)
    return loaded


def _restore(definition: ProcessDefinition) -> LoadedSpec:
    spec, subs = spec_from_json(definition.spec_json)
    meta = definition.task_meta or {}
    return LoadedSpec(
        spec=spec,
        subprocess_specs=subs,
        tasks=meta.get("tasks", {}),
        reads=meta.get("reads", {}),
        start_form_key=definition.start_form_key,
        agency_rules=meta.get("agency_rules", {}),
    )


def latest_definition(session: Session, process_id: str) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None:
        raise NotFound(f"process {process_id!r} is not deployed")
    return definition


def startable_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest version of every startable process."""
    newest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    rows = session.scalars(
        select(ProcessDefinition)
        .join(
            newest,
            (ProcessDefinition.process_id == newest.c.process_id) & (ProcessDefinition.version == newest.c.v),
        )
        .where(ProcessDefinition.startable.is_(True))
        .order_by(ProcessDefinition.process_id)
    )
    return list(rows)


def definition_files(session: Session, definition: ProcessDefinition) -> dict[str, str]:
    files = session.scalars(
        select(DeploymentFile).where(DeploymentFile.deployment_id == definition.deployment_id)
    )
    return {f.name: f.content for f in files}


__all__ = [
    "DeployResult",
    "definition_files",
    "deploy_bundle",
    "deploy_directory",
    "latest_definition",
    "load_spec",
    "startable_definitions",
]
