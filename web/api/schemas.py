"""Marshmallow schemas of every API response (and the problem+json error); OpenAPI is built from them.

Responses carry only what a client needs (ASVS 15.3.1): task rows name the assignee by display
name, never the workflow data; a task's ``draft`` is what its user saved for that task.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from engine import clock


class UtcDateTime(fields.DateTime):
    """ISO 8601 with offset; SQLite gives naive values back, which are UTC."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(clock.ensure_utc(value), attr, obj, **kwargs)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok"})


class ChoiceSchema(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class FieldSchema(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, metadata={"enum": ["text", "textarea", "date", "datetime", "integer",
                                                           "boolean", "choice", "multichoice", "table",
                                                           "agency", "user"]})
    required = fields.Boolean(required=True)
    help = fields.String()
    choices = fields.List(fields.Nested(ChoiceSchema), required=True)
    columns = fields.List(fields.Nested(lambda: FieldSchema()), required=True)
    multiple = fields.Boolean()
    max_length = fields.Integer()
    min = fields.Integer()
    max = fields.Integer()
    min_rows = fields.Integer()
    max_rows = fields.Integer()
    required_if = fields.String()
    exactly_one = fields.String()
    role = fields.String()


class FormSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String()
    fields = fields.List(fields.Nested(FieldSchema), required=True)


class ProcessSchema(Schema):
    id = fields.String(required=True, attribute="process_id")
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    start_form_key = fields.String(allow_none=True, required=True)


class TaskSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    element_id = fields.String(required=True)
    title = fields.String(required=True)
    lane = fields.String(required=True)
    role = fields.String()
    agency = fields.String(attribute="agency_name", allow_none=True)
    assignee = fields.String(attribute="assignee_name", allow_none=True, required=True)
    due_at = UtcDateTime(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"enum": ["open", "completed", "cancelled"]})
    form_key = fields.String(allow_none=True, required=True)


class InboxTaskSchema(TaskSchema):
    subject_name = fields.String(allow_none=True,
                                 metadata={"description": "「＊＊＊」 where the name is hidden"})


class TaskDetailSchema(TaskSchema):
    form = fields.Nested(FormSchema, allow_none=True, required=True)
    draft = fields.Dict(allow_none=True, required=True)
    can_work = fields.Boolean(required=True)
    can_claim = fields.Boolean(required=True)
    completed_by = fields.String(attribute="completed_by_name", allow_none=True)
    completed_at = UtcDateTime(allow_none=True)


class HistorySchema(Schema):
    id = fields.Integer(required=True)
    element_id = fields.String(required=True)
    title = fields.String(required=True)
    completed_by = fields.String(attribute="completed_by_name", allow_none=True, required=True)
    completed_at = UtcDateTime(allow_none=True, required=True)


class CaseSchema(Schema):
    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    status = fields.String(required=True)
    stage = fields.String()
    current_step = fields.String()
    finished = fields.Boolean(required=True)
    open_tasks = fields.List(fields.Nested(TaskSchema), required=True)
    next_timer_at = UtcDateTime(allow_none=True, required=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)


class NoteSchema(Schema):
    """F8 支援経過記録: ``data`` holds the case_note form's fields (see GET /forms/case_note)."""

    id = fields.Integer(required=True)
    noted_at = UtcDateTime(allow_none=True, required=True)
    data = fields.Dict(required=True)
    recorded_by = fields.String(allow_none=True, required=True)
    recorded_at = UtcDateTime(required=True)
    compartment = fields.Boolean(required=True, metadata={"description": "支援会議の守秘義務対象"})


class StartedSchema(Schema):
    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    open_tasks = fields.List(fields.Nested(TaskSchema), required=True)


class ActionResultSchema(Schema):
    case_id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    finished = fields.Boolean(required=True)
    open_tasks = fields.List(fields.Nested(TaskSchema), required=True)


class ConflictSchema(Schema):
    by = fields.String(allow_none=True)
    at = fields.String(allow_none=True)
    reason = fields.String()


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    request_id = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "422: messages per field path, e.g. household.0.name"})
    conflict = fields.Nested(ConflictSchema)


class SubmissionSchema(Schema):
    """The fields of the form (see GET /forms/{key}); validated by the engine against that form."""

    class Meta:
        unknown = "include"
