"""Every route of both apps, for every role and for a visitor, against a declared table.

The table below is written from the roles in DESIGN.md (security rule 2), not
read from the views: a route whose guard disagrees with it fails, and a route
missing from the table fails, so a new page cannot ship without someone saying
who may open it. Record-level scoping (caseloads, supervisees, break-glass) has
its own tests; here every role looks at a client in its scope.

Outcomes: a role in the set is let through (anything but 401/403, a bounce to
sign-in, or a server error); a signed-in role outside it gets 403; a visitor is
sent to sign in (GET) or gets 401.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from appliance.storage import db
from tests.conftest import PASSWORD, login, make_staff
from tests.integration.web.conftest import add_client, add_portal_account, page_token
from webapp.access.models import BreakGlassGrant
from webapp.admin.models import BusinessAssociate, BusinessAssociateDocument
from webapp.clients.models import ClinicianAssignment, Guardian, InsurancePolicy
from webapp.core.models import StaffInvitation, StaffUser, Supervision
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.notes.models import ClinicalNote
from webapp.portal.models import PortalInvitation
from webapp.scheduling.models import (
    Appointment,
    AppointmentClient,
    AppointmentType,
    Room,
    WaitlistEntry,
)

STAFF_ROLES = ("admin", "clinician", "supervisor", "biller", "front_desk")
PUBLIC = "public"  # anyone, signed in or not
EVERYONE = frozenset(STAFF_ROLES)
ADMIN = frozenset({"admin"})
CLINICAL = frozenset({"clinician", "supervisor"})
EDITORS = frozenset({"admin", "clinician", "supervisor", "front_desk"})
BREAK_GLASS = frozenset({"admin", "clinician", "supervisor"})
REVIEWERS = frozenset({"admin", "supervisor"})

STAFF_EXPECTED: dict[str, frozenset[str] | str] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,
    "welcome.accept": PUBLIC,  # the one-time invitation link
    "auth.logout": EVERYONE,
    "auth.keepalive": EVERYONE,
    "auth.session_status": EVERYONE,
    "home.index": EVERYONE,
    # one's own account
    "account.index": EVERYONE,
    "account.change_password": EVERYONE,
    "account.mfa": EVERYONE,
    "account.mfa_reset": EVERYONE,
    "account.recovery_codes": EVERYONE,
    "account.sign_out_everywhere": EVERYONE,
    # demographics: everyone (scoped for clinicians); changes: not the biller
    "clients.index": EVERYONE,
    "clients.show": EVERYONE,
    "clients.new": EDITORS,
    "clients.edit": EDITORS,
    "clients.new_guardian": EDITORS,
    "clients.remove_guardian": EDITORS,
    "clients.assign": EDITORS,
    "clients.unassign": EDITORS,
    "clients.discharge": BREAK_GLASS,  # admin, clinician, supervisor
    "clients.reactivate": BREAK_GLASS,
    "clients.policy": EVERYONE,  # insurance: billers too
    "clients.remove_policy": EVERYONE,
    "revisions.client_history": EVERYONE,  # scoped like the client page
    "portal_invites.show": EDITORS,
    "portal_invites.invite": EDITORS,
    "portal_invites.revoke": EDITORS,
    # clinical content: clinicians and supervisors only (admin through break-glass)
    "notes.new": CLINICAL,
    "notes.show": CLINICAL,
    "notes.edit": frozenset({"clinician"}),  # the author only: the supervisor is refused
    "notes.sign": frozenset({"clinician"}),
    "access.open_break_glass": BREAK_GLASS,
    # calendars: every staff role reads them (clinicians their own); billers change nothing
    "scheduling.desk": EVERYONE,
    "scheduling.day": EVERYONE,
    "scheduling.week": EVERYONE,
    "scheduling.new": EDITORS,
    "scheduling.edit": EDITORS,
    "scheduling.status": EDITORS,
    "scheduling.cancel": EDITORS,
    "scheduling.waitlist_page": EDITORS,
    "scheduling.offer": EDITORS,
    "scheduling.hours": EDITORS,  # a clinician their own, a supervisor also supervisees'
    "scheduling.time_off": EDITORS,
    "scheduling.waitlist_new": EDITORS,
    # the admin console
    "admin.index": ADMIN,
    "admin.static": ADMIN,
    "admin_staff.index": ADMIN,
    "admin_staff.show": ADMIN,
    "admin_staff.invite": ADMIN,
    "admin_staff.revoke": ADMIN,
    "admin_staff.roles": ADMIN,
    "admin_staff.disable": ADMIN,
    "admin_staff.enable": ADMIN,
    "admin_staff.mfa_reset": ADMIN,
    "admin_staff.unlock": ADMIN,
    "admin_staff.supervisees": ADMIN,
    "admin_settings.index": ADMIN,
    "admin_lockouts.index": ADMIN,
    "admin_lockouts.unlock": ADMIN,
    "admin_break_glass.index": REVIEWERS,  # supervisors work the review queue too
    "admin_break_glass.review": REVIEWERS,
    "admin_register.index": ADMIN,
    "admin_register.show": ADMIN,
    "admin_register.create": ADMIN,
    "admin_register.edit": ADMIN,
    "admin_register.upload": ADMIN,
    "admin_register.download": ADMIN,
    "admin_retention.index": ADMIN,
    "admin_retention.save_policies": ADMIN,
    "admin_retention.run_now": ADMIN,
    "admin_retention.review": ADMIN,
    "admin_retention.destroy": ADMIN,
    "admin_audit.index": ADMIN,  # the audit trail and its reports (audit.view)
    "admin_audit.export_csv": ADMIN,
    "admin_audit.export_json": ADMIN,
    "admin_audit.find_client": ADMIN,
    "admin_audit.access_report": ADMIN,
    "admin_audit.access_report_csv": ADMIN,
    "admin_audit.disclosures": ADMIN,
    "admin_audit.disclosures_csv": ADMIN,
    "admin_scheduling.index": ADMIN,
    "admin_scheduling.new_type": ADMIN,
    "admin_scheduling.edit_type": ADMIN,
    "admin_scheduling.add_room": ADMIN,
    "admin_scheduling.toggle_room": ADMIN,
    "admin_outbox.index": ADMIN,
    "admin_outbox.show": ADMIN,
}

CLIENT = "client"
PORTAL_EXPECTED: dict[str, str] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,
    "portal.enrol.start": PUBLIC,
    "portal.enrol.birth_date": PUBLIC,
    "portal.enrol.code": PUBLIC,
    "portal.enrol.account": PUBLIC,
    "auth.logout": CLIENT,
    "auth.keepalive": CLIENT,
    "auth.session_status": CLIENT,
    "portal.home": CLIENT,
    "portal.choose": CLIENT,
    "portal.my_account.show": CLIENT,
    "portal.my_account.turn_on": CLIENT,
    "portal.my_account.turn_off": CLIENT,
}

# Routes whose job is to end the session: success is a trip back to sign-in.
SIGN_OUT = {"auth.logout", "account.sign_out_everywhere"}

_ARGUMENT = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")
SAFE = {"GET"}


class World:
    """The records every route's arguments point at: a client in everyone's scope."""

    def __init__(self) -> None:
        self.users = {role: make_staff(f"u_{role}", [role], full_name=f"{role} user")
                      for role in STAFF_ROLES}
        clinician, supervisor = self.users["clinician"], self.users["supervisor"]
        self.client = add_client("Route", "Matrix")
        with db.atomic():
            ClinicianAssignment.create(client=self.client.id, clinician=clinician.id,
                                       is_primary=True)
            Supervision.create(supervisor=supervisor.id, supervisee=clinician.id)

    def value(self, endpoint: str, name: str) -> Any:
        """A fresh record per request where a route could use it up (sign, remove...)."""
        makers: dict[str, Callable[[], Any]] = {
            "client_id": lambda: self.client.id,
            "note_id": self.note,
            "guardian_id": lambda: Guardian.create(
                client=self.client.id, full_name="Pat Matrix", relationship="parent").id,
            "policy_id": lambda: InsurancePolicy.create(
                client=self.client.id, payer_name="Aetna", member_id="W1").id,
            "clinician_id": self.second_clinician,
            "user_id": lambda: make_staff(f"victim{StaffUser.select().count()}",
                                          ["clinician"]).id,
            "grant_id": self.grant,
            "kind": lambda: "staff",
            "account_id": lambda: self.users["biller"].id,
            "mail_id": lambda: OutgoingMail.create(purpose="test", to_address="a@b.example",
                                                   subject="Hello", body="Hi").id,
            "entry_id": lambda: BusinessAssociate.create(vendor="Relay Co",
                                                         service="E-mail").id,
            "document_id": self.document,
            "invitation_id": (self.portal_invitation if endpoint.startswith("portal_invites")
                              else self.staff_invitation),
            "token": lambda: "not-a-real-token",
            "filename": lambda: "nothing-here.css",
            "calendar_id": lambda: self.users["clinician"].id,
            "appointment_id": self.appointment,
            "waitlist_id": lambda: WaitlistEntry.create(client=self.client.id).id,
            "type_id": lambda: AppointmentType.get_or_create(name="Route matrix session")[0].id,
            "room_id": lambda: Room.create(name=f"Room {Room.select().count() + 1}").id,
        }
        if name not in makers:
            pytest.fail(f"no sample value for <{name}> (route {endpoint}): add one to World")
        with db.atomic():
            return makers[name]()

    def note(self) -> int:
        return int(ClinicalNote.create(client=self.client.id, author=self.users["clinician"].id,
                                       session_date=date(2026, 11, 20), body="Seen.").id)

    def appointment(self) -> int:
        """An hour on the clinician's calendar with the client, a fresh one each time."""
        kind, _ = AppointmentType.get_or_create(name="Route matrix session")
        start = datetime(2026, 11, 20, 14) + timedelta(hours=Appointment.select().count())
        appointment = Appointment.create(clinician=self.users["clinician"].id,
                                         appointment_type=kind.id, starts_at=start,
                                         ends_at=start + timedelta(minutes=50))
        AppointmentClient.create(appointment=appointment.id, client=self.client.id)
        return int(appointment.id)

    def second_clinician(self) -> int:
        other = make_staff(f"second{StaffUser.select().count()}", ["clinician"])
        ClinicianAssignment.create(client=self.client.id, clinician=other.id)
        return int(other.id)

    def grant(self) -> int:
        now = utcnow()
        return int(BreakGlassGrant.create(staff_user=self.users["clinician"].id,
                                          client=self.client.id, reason="Crisis call at night",
                                          started_at=now, expires_at=now + timedelta(hours=1)).id)

    def document(self) -> int:
        entry = BusinessAssociate.create(vendor="Docs Co", service="Storage")
        return int(BusinessAssociateDocument.create(
            business_associate=entry.id, kind="agreement", filename="baa.pdf",
            content_type="application/pdf", content=b"%PDF-1.4\n").id)

    def staff_invitation(self) -> int:
        now = utcnow()
        return int(StaffInvitation.create(
            token_hash=f"{StaffInvitation.select().count():064d}", username="newbie",
            full_name="New Person", roles="clinician", approved_by=self.users["admin"].id,
            expires_at=now + timedelta(hours=72)).id)

    def portal_invitation(self) -> int:
        now = utcnow()
        return int(PortalInvitation.create(
            client=self.client.id, token_hash=f"{PortalInvitation.select().count():064d}",
            sent_to="route@mail.example", invited_by=self.users["front_desk"].id,
            expires_at=now + timedelta(hours=72)).id)


def url_for_rule(world: World, rule: Rule) -> str:
    return _ARGUMENT.sub(lambda arg: str(world.value(rule.endpoint, arg.group(1))), rule.rule)


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def request_as(browser: FlaskClient, method: str, url: str, token_page: str | None) -> Any:
    """GET, or any other method with a genuine CSRF token (taken from `token_page` when
    signed in, or from the sign-in page), so only the route's own guard decides."""
    if method in SAFE:
        return browser.get(url)
    token = page_token(browser, token_page or "/login")
    return browser.open(url, method=method, data={"csrf_token": token})


def outcome(response: Any) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return f"error {status}"
    if status in (401, 403):
        return f"refused {status}"
    if status in (301, 302, 303) and re.match(r"^(https?://[^/]+)?/login(\?|$)", location):
        return "to sign-in"
    return "allowed"


def assert_table_covers(app: Flask, expected: dict[str, Any]) -> list[Rule]:
    rules = list(app.url_map.iter_rules())
    endpoints = {rule.endpoint for rule in rules}
    missing = sorted(endpoints - set(expected))
    stale = sorted(set(expected) - endpoints)
    assert not missing, f"routes of {app.name} missing from the table: {missing}"
    assert not stale, f"table entries with no route in {app.name}: {stale}"
    return rules


def test_every_staff_route_for_every_role(staff_app: Flask) -> None:
    """Does every route of the staff app let in exactly the roles the table names,
    refuse the others with 403 and send a visitor to sign in?"""
    rules = assert_table_covers(staff_app, STAFF_EXPECTED)
    with db.connection_context():
        world = World()
    wrong = []
    for rule in rules:
        allowed = STAFF_EXPECTED[rule.endpoint]
        for method in methods(rule):
            for role in (None, *STAFF_ROLES):
                browser = staff_app.test_client()
                if role is not None:
                    assert login(browser, f"u_{role}").status_code == 302
                with db.connection_context():
                    url = url_for_rule(world, rule)
                got = outcome(request_as(browser, method, url, role and "/account"))
                if allowed == PUBLIC:
                    # Open to all; a refused sign-in (401) or a step that sends back to
                    # the password page is the route doing its job, not a guard.
                    want = {"allowed", "to sign-in", "refused 401"}
                elif role is None:
                    want = {"to sign-in"} if method in SAFE else {"refused 401"}
                elif role in allowed:
                    want = {"allowed", "to sign-in"} if rule.endpoint in SIGN_OUT else {"allowed"}
                else:
                    want = {"refused 403"}
                if got not in want:
                    wrong.append(f"{method} {rule.rule} as {role or 'visitor'}: {got}, "
                                 f"expected {' or '.join(sorted(want))}")
    assert not wrong, "\n".join(wrong)


def test_every_portal_route_for_a_client_and_a_visitor(portal_app: Flask) -> None:
    """Does every portal route open for a signed-in client, or for anyone when public,
    and send a visitor to sign in otherwise?"""
    rules = assert_table_covers(portal_app, PORTAL_EXPECTED)
    with db.connection_context():
        world = World()
        add_portal_account(world.client, "route@mail.example")
    wrong = []
    for rule in rules:
        allowed = PORTAL_EXPECTED[rule.endpoint]
        for method in methods(rule):
            for who in (None, CLIENT):
                browser = portal_app.test_client()
                if who is not None:
                    assert login(browser, "route@mail.example", PASSWORD).status_code == 302
                with db.connection_context():
                    url = url_for_rule(world, rule)
                got = outcome(request_as(browser, method, url, who and "/my-account/"))
                if allowed == PUBLIC:
                    want = {"allowed", "to sign-in", "refused 401"}
                elif who == CLIENT:
                    want = {"allowed", "to sign-in"} if rule.endpoint in SIGN_OUT else {"allowed"}
                else:
                    want = {"to sign-in"} if method in SAFE else {"refused 401"}
                if got not in want:
                    wrong.append(f"{method} {rule.rule} as {who or 'visitor'}: {got}, "
                                 f"expected {' or '.join(sorted(want))}")
    assert not wrong, "\n".join(wrong)
