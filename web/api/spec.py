"""OpenAPI 3.1 for /api/v1, generated from the marshmallow schemas and the routes' :func:`doc` notes.

Every API view carries ``@doc(summary, responses={status: Schema}, body=Schema)``; :func:`build`
walks ``app.url_map``, so a new route appears in ``/api/v1/openapi.json`` as soon as it exists
(and a route without ``@doc`` is listed with a note, never silently left out).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from marshmallow import Schema, fields

from .schemas import ProblemSchema, UtcDateTime

ERRORS = {401: "ログインが必要です（bearer token または session）", 403: "権限がありません",
          404: "存在しないか、閲覧できません", 409: "競合（既に他の職員が完了・引き受け済み）",
          415: "JSON で送ってください", 422: "入力内容に誤り（errors にフィールドごとのメッセージ）"}


def doc(summary: str, *, responses: dict[int, Any] | None = None, body: type[Schema] | None = None,
        params: dict[str, str] | None = None, errors: tuple[int, ...] = (401, 404),
        public: bool = False) -> Callable[[Any], Any]:
    """Describe an API view for the OpenAPI document (``responses`` map status → schema class or [class])."""
    def mark(view: Any) -> Any:
        view.api_doc = {"summary": summary, "responses": responses or {}, "body": body,
                        "params": params or {}, "errors": () if public else errors, "public": public}
        return view
    return mark


_SIMPLE = [(fields.Integer, {"type": "integer"}), (fields.Boolean, {"type": "boolean"}),
           (UtcDateTime, {"type": "string", "format": "date-time"}),
           (fields.DateTime, {"type": "string", "format": "date-time"}), (fields.String, {"type": "string"}),
           (fields.Float, {"type": "number"})]


def _field(f: fields.Field, components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(f, fields.Nested):
        nested = f.nested() if callable(f.nested) and not isinstance(f.nested, type) else f.nested
        cls = nested if isinstance(nested, type) else type(nested)
        out: dict[str, Any] = {"$ref": f"#/components/schemas/{_component(cls, components)}"}
    elif isinstance(f, fields.List):
        out = {"type": "array", "items": _field(f.inner, components)}
    elif isinstance(f, fields.Dict):
        out = {"type": "object"}
        if f.value_field is not None:
            out["additionalProperties"] = _field(f.value_field, components)
    else:
        out = next((dict(s) for cls, s in _SIMPLE if isinstance(f, cls)), {})
    if f.metadata.get("enum"):
        out["enum"] = list(f.metadata["enum"])
    if f.metadata.get("description"):
        out["description"] = f.metadata["description"]
    if f.allow_none and "$ref" not in out and "type" in out:
        out["type"] = [out["type"], "null"]
    elif f.allow_none and "$ref" in out:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _component(cls: type[Schema], components: dict[str, Any]) -> str:
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if name in components:
        return name
    components[name] = {}  # placeholder first: schemas may nest themselves
    schema = cls()
    props = {(f.data_key or key): _field(f, components) for key, f in schema.fields.items()}
    entry: dict[str, Any] = {"type": "object", "properties": props}
    required = [(f.data_key or key) for key, f in schema.fields.items() if f.required]
    if required:
        entry["required"] = required
    if getattr(cls.Meta, "unknown", None) == "include":
        entry["additionalProperties"] = True
    if cls.__doc__:
        entry["description"] = " ".join(cls.__doc__.split())
    components[name] = entry
    return name


def _schema_ref(value: Any, components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, list):
        return {"type": "array", "items": _schema_ref(value[0], components)}
    return {"$ref": f"#/components/schemas/{_component(value, components)}"}


def _operation(view: Any, rule: Any, components: dict[str, Any]) -> dict[str, Any]:
    info = getattr(view, "api_doc", None) or {"summary": rule.endpoint, "responses": {}, "body": None,
                                               "params": {}, "errors": (401,), "public": False}
    op: dict[str, Any] = {"operationId": rule.endpoint.removeprefix("api.").replace(".", "_"),
                          "summary": info["summary"],
                          "responses": {}}
    path_params = [{"name": a, "in": "path", "required": True, "schema": {"type": "integer"}}
                   for a in sorted(rule.arguments)]
    query = [{"name": k, "in": "query", "required": False, "schema": {"type": "string"}, "description": v}
             for k, v in info["params"].items()]
    if path_params or query:
        op["parameters"] = path_params + query
    if info["body"] is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _schema_ref(info["body"], components)}}}
    for status, schema in info["responses"].items():
        content = {"application/json": {"schema": _schema_ref(schema, components)}} if schema else None
        op["responses"][str(status)] = {"description": "OK" if status < 300 else "", **(
            {"content": content} if content else {})}
    problem = {"application/problem+json": {"schema": _schema_ref(ProblemSchema, components)}}
    for status in info["errors"]:
        op["responses"][str(status)] = {"description": ERRORS.get(status, ""), "content": problem}
    if info["public"]:
        op["security"] = []
    return op


def build(app: Flask) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(view, rule, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "つなぐ (Tsunagu) API", "version": "1",
                 "description": "重層的支援体制整備事業のケースとタスク。"
                                "エラーは application/problem+json。"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items())), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "tsunagu users api-token USERNAME"},
            "session": {"type": "apiKey", "in": "cookie", "name": "__Host-tsunagu",
                        "description": "ブラウザのセッション。変更系は X-CSRFToken ヘッダーが必要"}}},
    }
