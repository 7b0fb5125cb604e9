"""SQLAlchemy 2 tables of Tsunagu. Import models from here; ``Base.metadata`` feeds Alembic."""

from .access import CaseRole, Consent, ConsentRecipient, Meeting, MeetingCase, MeetingMember  # noqa: F401
from .audit import AuditEvent, AuditHead
from .base import Base, UTCDateTime
from .case import Case, CaseCounter, FormRecord, HumanTask, TaskDraft
from .org import AGENCY_KINDS, Agency, ApiToken, LoginAttempt, User, UserRole
from .process import Deployment, DeploymentFile, ProcessDefinition
from .records import MonitoringRecord, OutreachContact, OutreachStageChange, ParticipationFollowup  # noqa: F401, E501
from .schedule import (  # noqa: F401, E501
    Escalation,
    Notification,
    NotificationContact,
    OutboxMessage,
    SchedulerIncident,
    SchedulerLease,
)

__all__ = [
    "AGENCY_KINDS", "Agency", "ApiToken", "AuditEvent", "AuditHead", "Base", "Case", "CaseCounter",
    "Deployment", "DeploymentFile", "FormRecord", "HumanTask", "LoginAttempt", "ProcessDefinition",
    "TaskDraft", "UTCDateTime", "User", "UserRole",
]
