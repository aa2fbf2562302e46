"""Every model, in dependency order: what migrations must produce and tests compare."""

from __future__ import annotations

from webapp.audit.models import AuditEntry
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.core.models import SignInThrottle, StaffUser, WebSession, WorkerHeartbeat
from webapp.portal.models import ClientAccount

ALL_MODELS = [
    StaffUser,
    WebSession,
    SignInThrottle,
    WorkerHeartbeat,
    AuditEntry,
    Client,
    Guardian,
    InsurancePolicy,
    ClinicianAssignment,
    ClientAccount,
]
