"""Every model, in dependency order: what migrations must produce and tests compare."""

from __future__ import annotations

from webapp.access.models import BreakGlassGrant
from webapp.admin.models import BusinessAssociate, BusinessAssociateDocument
from webapp.audit.models import (
    AuditCheckpoint,
    AuditEntry,
    DestructionRecord,
    RetentionPolicy,
    RetentionRun,
)
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.core.models import (
    AccountChange,
    PracticeSetting,
    RecoveryCode,
    SignInThrottle,
    StaffInvitation,
    StaffUser,
    Supervision,
    WebSession,
    WorkerHeartbeat,
)
from webapp.mail.models import OutgoingMail
from webapp.notes.models import ClinicalNote
from webapp.portal.models import ClientAccount, PortalInvitation, PortalLink
from webapp.revisions.models import Revision
from webapp.scheduling.models import MODELS as SCHEDULING_MODELS

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
    RecoveryCode,
    PracticeSetting,
    Supervision,
    StaffInvitation,
    AccountChange,
    BreakGlassGrant,
    ClinicalNote,
    OutgoingMail,
    BusinessAssociate,
    BusinessAssociateDocument,
    PortalLink,
    PortalInvitation,
    AuditCheckpoint,
    RetentionPolicy,
    DestructionRecord,
    RetentionRun,
    Revision,
    *SCHEDULING_MODELS,
]
