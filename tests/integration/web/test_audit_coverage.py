"""Audit coverage: every action the apps perform writes exactly the entries it should.

Each test drives the real apps (test clients on a real SQLCipher database) as the
person who does the action, then reads the entries that one request wrote and
compares them with what `ACTIONS` below says, field by field: actor kind, id and
role; action; object type and id; client id; outcome; plus, for every entry, the
request's source address, one request id per request, and a time inside it.

"Exactly one entry per action" is read strictly: a request writes the listed
entries and nothing else. Where one request does two things, each has its own
entry (a clinician's new client is also assigned to them; an invitation queues a
mail; a recovery code is used *and* signs the person in), and the chart page of a
clinician reads two objects: the record and the list of notes on it.

The actions, as (action, object_type) -> who does it and what the entry names.
`test_every_action_the_code_records_is_in_the_table` keeps this table complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from peewee import fn

from appliance import storage
from tests.conftest import PASSWORD, csrf_token, login, make_staff, totp_code
from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import POLICY, add_portal_account, form, page_token
from webapp.audit.models import AuditEntry
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.core import mfa
from webapp.core.models import StaffInvitation, StaffUser
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.notes.models import ClinicalNote
from webapp.portal.models import ClientAccount, PortalInvitation, PortalLink

ROOT = Path(__file__).resolve().parents[3]

# (action, object_type): who does it, and which object and client the entry names.
ACTIONS = {
    # staff and portal sign-in (the object is the account; client_id none)
    ("login", "staff_account"): "a staff member signs in (after the code when enrolled)",
    ("login", "client_account"): "a client or guardian signs in to the portal",
    ("login_failed", "staff_account"): "a wrong password or unknown name (anonymous actor)",
    ("login_failed", "client_account"): "the same at the portal",
    ("login_throttled", "address"): "an address over its failure limit (anonymous)",
    ("lockout", "staff_account"): "the failure that locks an account (anonymous)",
    ("lockout", "client_account"): "the same for a portal account",
    ("unlock", "staff_account"): "an admin ends a lockout (console or `hearth users unlock`)",
    ("unlock", "client_account"): "an admin unlocks a portal account",
    ("logout", "staff_account"): "signing out",
    ("logout", "client_account"): "signing out of the portal",
    ("logout", "all_sessions"): "sign out everywhere",
    ("mfa", "staff_account"): "enrolled, enrolment_failure, failure, recovery_code_used, "
                              "recovery_codes_issued, reset (own or by an admin), or "
                              "denied: a code for a pending sign-in that cannot go on",
    ("mfa", "client_account"): "the same for portal accounts",
    ("reauth", "staff_account"): "a wrong password or code before an account change",
    ("reauth", "client_account"): "the same in the portal",
    ("password_change", "staff_account"): "a new password",
    ("password_change", "client_account"): "a new portal password",
    ("permission_denied", "endpoint"): "a route the role may not use (client id when the "
                                       "URL names a client)",
    # record-level refusals name the client; the object type says what was refused
    ("permission_denied", "client"): "a client outside the user's scope",
    ("permission_denied", "clinical_record"): "notes of a client outside clinical scope",
    ("permission_denied", "clinical_note"): "someone else's draft",
    ("permission_denied", "portal_invitation"): "portal invitations without the permission",
    ("permission_denied", "break_glass"): "break-glass without the permission",
    ("permission_denied", "break_glass_review"): "reviewing without the permission",
    ("permission_denied", "<permission>"): "a service refusing a permission (its name)",
    ("break_glass", "break_glass_grant"): "emergency access with a reason",
    ("review", "break_glass_grant"): "an admin or supervisor reviews it",
    # staff accounts, by an admin (the object is the staff user or invitation)
    ("invite", "staff_invitation"): "an admin approves a new staff member",
    ("revoke", "staff_invitation"): "an admin withdraws an invitation",
    ("create", "staff_user"): "the invitee accepts (actor: the new user), or the CLI",
    ("role_change", "staff_user"): "roles changed",
    ("disable", "staff_user"): "account turned off",
    ("enable", "staff_user"): "account turned on again",
    ("supervision_change", "staff_user"): "a supervisor's supervisees changed",
    ("config_change", "setting.<name>"): "one entry per changed practice setting",
    ("create", "business_associate"): "the BA register (console or configuration)",
    ("update", "business_associate"): "a register entry changed",
    ("upload", "business_associate_document"): "a signed BAA uploaded",
    ("download", "business_associate_document"): "a signed BAA read",
    # clients (client_id always set)
    ("view", "client_list"): "the client list page (no search)",
    ("search", "client_list"): "a page of search results",
    ("view", "client"): "the chart, a form that shows the record, the portal home",
    ("create", "client"): "a new client",
    ("update", "client"): "the client form saved",
    ("discharge", "client"): "discharged",
    ("reactivate", "client"): "active again",
    ("create", "guardian"): "guardian added",
    ("delete", "guardian"): "guardian removed",
    ("create", "insurance_policy"): "policy added",
    ("update", "insurance_policy"): "policy changed",
    ("delete", "insurance_policy"): "policy removed",
    ("assign", "clinician_assignment"): "a clinician assigned (also when one adds a client)",
    ("unassign", "clinician_assignment"): "a clinician unassigned (the assignment's id)",
    # notes (client_id always set)
    ("view", "note_list"): "the chart's list of notes, for those with clinical access",
    ("view", "clinical_note"): "a note opened, or its edit form",
    ("create", "clinical_note"): "a draft saved",
    ("update", "clinical_note"): "a draft changed",
    ("sign", "clinical_note"): "a draft signed",
    # scheduling (tested in test_scheduling.py): one entry per attending client
    ("view", "schedule"): "a clinician's day or week (the object is the clinician)",
    ("view", "schedule_day"): "the front desk's day of every calendar in scope",
    ("view", "appointment"): "an appointment's page",
    ("create", "appointment"): "booked (each occurrence of a series)",
    ("update", "appointment"): "moved or changed (this, following or all)",
    ("status_change", "appointment"): "confirmed, arrived, attended, no-show, reinstated",
    ("cancel", "appointment"): "cancelled by the client or practice, or late",
    ("override", "appointment"): "booked outside working hours or in time off, with a reason",
    ("permission_denied", "schedule"): "another clinician's calendar",
    ("create", "appointment_type"): "the practice adds a type",
    ("update", "appointment_type"): "a type changed",
    ("create", "room"): "a room added",
    ("update", "room"): "a room renamed, deactivated or reactivated",
    ("update", "working_hours"): "a clinician's weekly hours set",
    ("create", "time_off"): "time off added",
    ("create", "waitlist_entry"): "a client put on the waitlist",
    ("offer", "waitlist_entry"): "a slot offered to a waiting client",
    ("view", "waitlist"): "the waitlist, or its matches after a cancellation",
    # portal
    ("view", "portal_invitations"): "staff open a client's portal page",
    ("portal_invite", "portal_invitation"): "staff invite a client or guardian",
    ("portal_invite_revoke", "portal_invitation"): "withdrawn, or replaced by a new one",
    ("portal_enrol_link", "portal_invitation"): "an unusable link opened (denied)",
    ("portal_enrol_birth_date", "portal_invitation"): "enrolment: date of birth step",
    ("portal_enrol_code", "portal_invitation"): "enrolment: e-mailed code step",
    ("portal_enrol_password", "portal_invitation"): "enrolment: wrong existing password",
    ("portal_enrol", "client_account"): "enrolment: the new account",
    ("portal_link", "client_account"): "enrolment: a guardian's account gains a minor",
    ("portal_choose", "client"): "a guardian switches to another linked minor",
    # mail and the admin console's pages that show PHI
    ("mail_queued", "outgoing_mail"): "a mail put in the outbox",
    ("mail_send", "outgoing_mail"): "the worker's delivery attempt (system actor)",
    ("view", "outbox"): "the console's outbox",
    ("view", "outgoing_mail"): "one outbox message",
    ("view", "break_glass_queue"): "the review queue (it names clients)",
    ("view", "locked_accounts"): "the lockouts page (portal usernames are often e-mails)",
    # reviewing the trail, retention and revisions (tested with their own features:
    # test_audit_review.py, test_retention*.py, test_revisions.py)
    ("view", "audit_trail"): "the console's audit viewer (client id when filtered by one)",
    ("export", "audit_trail"): "a filtered set exported (CSV or JSON)",
    ("view", "access_report"): "a client's access report",
    ("export", "access_report"): "the access report exported",
    ("view", "disclosure_accounting"): "a client's accounting of disclosures",
    ("export", "disclosure_accounting"): "the accounting exported",
    ("config_change", "retention.<kind>"): "a retention policy changed",
    ("retention_override", "retention.<kind>"): "audit retention lowered, with a reason",
    ("retention_run", "retention_run"): "the daily run (system) or one started by an admin",
    ("view", "retention_review"): "clinical records due for review (it names clients)",
    ("view", "retention_destroy"): "the destroy confirmation for one client",
    ("destroy", "clinical_record"): "a client's clinical record destroyed",
    ("view", "client_history"): "a client's revision history",
}
# Not in the app yet: prints, releases and claims (later issues add them as disclosures).

ADDRESS = "192.0.2.44"
NOTE = {"kind": "progress", "session_date": "2026-11-20", "body": "Discussed sleep."}


class Actor(NamedTuple):
    kind: str
    id: int | None
    role: str


ANONYMOUS = Actor("anonymous", None, "")


def staff(user: StaffUser) -> Actor:
    return Actor("staff", user.id, ",".join(sorted(user.role_set)))


class Entry(NamedTuple):
    """What one entry should say; `actor` defaults to the request's."""

    action: str
    object_type: str
    object_id: int | None = None
    client_id: int | None = None
    outcome: str = "success"
    actor: Actor | None = None


class Trail:
    """The entries each request writes, checked against what it should write."""

    def __init__(self) -> None:
        self.last = self._head()
        self.request_ids: set[str] = set()

    @staticmethod
    def _head() -> int:
        return int(AuditEntry.select(fn.MAX(AuditEntry.id)).scalar() or 0)

    def expect(self, send: Callable[[], Any], actor: Actor, *expected: Entry,
               address: str = ADDRESS) -> Any:
        self.last = self._head()
        before = utcnow()
        response = send()
        after = utcnow()
        written = list(AuditEntry.select().where(AuditEntry.id > self.last)
                       .order_by(AuditEntry.id))
        self.last = self._head()
        got = sorted((e.action, e.object_type, e.object_id, e.client_id, e.outcome,
                      Actor(e.actor_kind, e.actor_id, e.actor_role)) for e in written)
        want = sorted((x.action, x.object_type, x.object_id, x.client_id, x.outcome,
                       x.actor or actor) for x in expected)
        assert got == want, f"{response.status_code}: wrote {got}, expected {want}"
        request_ids = {e.request_id for e in written}
        if written:
            [request_id] = request_ids  # one request, one id, on every entry it wrote
            assert re.fullmatch(r"[0-9a-f]{16}", request_id)
            assert request_id not in self.request_ids  # and a new one per request
            self.request_ids.add(request_id)
        for entry in written:
            assert entry.source_address == address
            assert before - timedelta(seconds=1) <= entry.occurred_at <= after
        return response


def browser(app: Flask, username: str | None = None, address: str = ADDRESS,
            password: str = PASSWORD) -> FlaskClient:
    """A browser at `address`, signed in as `username` when given."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if username:
        assert login(client, username, password).status_code == 302
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None,
         token_from: str = "/account") -> Callable[[], Any]:
    """The POST a browser would send, with a CSRF token fetched now (before the trail looks)."""
    token = page_token(client, token_from)
    return lambda: client.post(path, data={"csrf_token": token, **(data or {})})


def get(client: FlaskClient, path: str) -> Callable[[], Any]:
    return lambda: client.get(path)


def found(pattern: str, text: str) -> str:
    """The first group of `pattern` in `text` (which must match)."""
    match = re.search(pattern, text, re.MULTILINE)
    assert match, text
    return match.group(1)


def forget_last_step(user_id: int) -> None:
    """Let the same TOTP step be used again (the replay guard is tested in test_mfa.py)."""
    StaffUser.update(mfa_last_step=0).where(StaffUser.id == user_id).execute()


# -- sign-in and a person's own account ---------------------------------------------------

def test_sign_in_steps_and_account_changes_each_write_their_entry(staff_app: Flask) -> None:
    """Do a wrong password, an unknown name, a wrong and a right code, a password change,
    new recovery codes, signing out, a recovery-code sign-in and signing out everywhere
    each write exactly their entry, with the right actor?"""
    user = make_staff("dee", ["clinician"])
    me, trail = staff(user), Trail()
    web = browser(staff_app)

    def password_step(password: str = PASSWORD, name: str = "dee") -> Callable[[], Any]:
        token = csrf_token(web, "/login")
        return lambda: web.post("/login", data={"csrf_token": token, "username": name,
                                                "password": password})

    trail.expect(password_step("wrong password here"), ANONYMOUS,
                 Entry("login_failed", "staff_account", user.id, outcome="failure"))
    trail.expect(password_step(name="nobody"), ANONYMOUS,
                 Entry("login_failed", "staff_account", None, outcome="failure"))
    trail.expect(password_step(), ANONYMOUS)  # the password is right: the code is owed
    trail.expect(post(web, "/login/code", {"code": "000000"}, "/login/code"), ANONYMOUS,
                 Entry("mfa", "staff_account", user.id, outcome="failure"))
    forget_last_step(user.id)
    trail.expect(post(web, "/login/code", {"code": totp_code()}, "/login/code"), me,
                 Entry("login", "staff_account", user.id))

    new_password = "orchard lantern pebble quiet"
    trail.expect(post(web, "/account/password", {
        "current_password": PASSWORD, "new_password": new_password,
        "confirm_password": new_password}), me,
        Entry("password_change", "staff_account", user.id))
    assert StaffUser.get_by_id(user.id).password_hash != user.password_hash
    forget_last_step(user.id)
    response = trail.expect(post(web, "/account/mfa/recovery-codes", {
        "password": new_password, "code": totp_code()}), me,
        Entry("mfa", "staff_account", user.id, outcome="recovery_codes_issued"))
    codes = re.findall(r"<li><code>([A-Z2-9-]{19})</code></li>", response.text)
    assert len(codes) == 10
    trail.expect(post(web, "/logout"), me, Entry("logout", "staff_account", user.id))

    trail.expect(password_step(new_password), ANONYMOUS)
    trail.expect(post(web, "/login/code", {"code": codes[0]}, "/login/code"), me,
                 Entry("mfa", "staff_account", user.id, outcome="recovery_code_used"),
                 Entry("login", "staff_account", user.id))
    trail.expect(post(web, "/account/sign-out-everywhere"), me,
                 Entry("logout", "all_sessions", user.id))


def test_enrolling_and_resetting_two_step_sign_in(staff_app: Flask) -> None:
    """Is enrolment one entry (its first recovery codes included), a wrong enrolment code
    one, and turning it off again one?"""
    user = make_staff("dee", ["clinician"], mfa=False)
    me, trail = staff(user), Trail()
    web = browser(staff_app)
    token = csrf_token(web, "/login")
    trail.expect(lambda: web.post("/login", data={"csrf_token": token, "username": "dee",
                                                  "password": PASSWORD}),
                 me, Entry("login", "staff_account", user.id))
    page = web.get("/account/mfa").text
    secret = found(r'id="mfa-secret">([A-Z2-7 ]+)</code>', page).replace(" ", "")
    trail.expect(post(web, "/account/mfa", {"code": "000000"}, "/account/mfa"), me,
                 Entry("mfa", "staff_account", user.id, outcome="enrolment_failure"))
    trail.expect(post(web, "/account/mfa", {"code": pyotp.TOTP(secret).now()},
                      "/account/mfa"), me,
                 Entry("mfa", "staff_account", user.id, outcome="enrolled"))
    assert mfa.recovery_codes_left("staff", user.id) == 10
    forget_last_step(user.id)
    trail.expect(post(web, "/account/mfa/reset", {"password": PASSWORD,
                                                  "code": pyotp.TOTP(secret).now()}), me,
                 Entry("mfa", "staff_account", user.id, outcome="reset"))


def test_lockout_and_the_admins_unlock(staff_app: Flask) -> None:
    """Does the tenth wrong password write its failure and the lockout, the next one a
    'locked' failure, and the admin's lockouts page and unlock one entry each?"""
    user = make_staff("dee", ["clinician"])
    admin = make_staff("root", ["admin"], full_name="Rita Admin")
    trail, web = Trail(), browser(staff_app)
    token = csrf_token(web, "/login")

    def wrong() -> Any:
        return web.post("/login", data={"csrf_token": token, "username": "dee",
                                        "password": "not the password at all"})

    for _ in range(9):
        trail.expect(wrong, ANONYMOUS, Entry("login_failed", "staff_account", user.id,
                                             outcome="failure"))
    trail.expect(wrong, ANONYMOUS,
                 Entry("login_failed", "staff_account", user.id, outcome="failure"),
                 Entry("lockout", "staff_account", user.id, outcome="denied"))
    trail.expect(wrong, ANONYMOUS,
                 Entry("login_failed", "staff_account", user.id, outcome="locked"))

    console = browser(staff_app, "root")
    trail.expect(get(console, "/admin/lockouts/"), staff(admin),
                 Entry("view", "locked_accounts"))
    trail.expect(post(console, f"/admin/lockouts/staff/{user.id}/unlock"), staff(admin),
                 Entry("unlock", "staff_account", user.id))
    assert StaffUser.get_by_id(user.id).locked_until is None


# -- the admin's changes to staff accounts and settings -------------------------------------

def test_admin_changes_each_write_one_entry(staff_app: Flask) -> None:
    """Do an invitation (and its acceptance by the invitee), a withdrawn one, roles,
    supervision, disable, enable, an MFA reset and a setting change each write one entry
    naming the account or setting, by the admin (the new user for the acceptance)?"""
    admin = make_staff("root", ["admin"], full_name="Rita Admin")
    dee = make_staff("dee", ["clinician"])
    boss = make_staff("boss", ["clinician", "supervisor"], full_name="Sam Boss")
    me, trail = staff(admin), Trail()
    console = browser(staff_app, "root")
    invite = {"username": "rlee", "full_name": "Rae Lee", "credentials": "LCSW",
              "email": "rae@example.org", "roles": ["clinician"], "reason": "New hire"}

    response = trail.expect(post(console, "/admin/staff/invite", invite), me,
                            Entry("invite", "staff_invitation",
                                  (StaffInvitation.select(fn.MAX(StaffInvitation.id))
                                   .scalar() or 0) + 1))
    link = found(r'value="http://localhost(/welcome/[^"]+)"', response.text)
    newcomer = browser(staff_app)
    new_id = (StaffUser.select(fn.MAX(StaffUser.id)).scalar() or 0) + 1
    trail.expect(post(newcomer, link, {"password": "lantern orchard pebble quiet",
                                       "confirm": "lantern orchard pebble quiet"}, link),
                 Actor("staff", new_id, "clinician"), Entry("create", "staff_user", new_id))
    post(console, "/admin/staff/invite", {**invite, "username": "other"})()
    other = StaffInvitation.get(StaffInvitation.username == "other")
    trail.expect(post(console, f"/admin/staff/invitations/{other.id}/revoke"), me,
                 Entry("revoke", "staff_invitation", other.id))

    base = f"/admin/staff/{dee.id}"
    trail.expect(post(console, f"{base}/roles", {"roles-roles": ["clinician", "biller"],
                                                 "roles-reason": "Covers billing"}), me,
                 Entry("role_change", "staff_user", dee.id))
    trail.expect(post(console, f"/admin/staff/{boss.id}/supervisees", {
        "sup-supervisees": [str(dee.id)], "sup-reason": "New supervisee"}), me,
        Entry("supervision_change", "staff_user", boss.id))
    trail.expect(post(console, f"{base}/disable", {"disable-reason": "On leave"}), me,
                 Entry("disable", "staff_user", dee.id))
    trail.expect(post(console, f"{base}/enable", {"enable-reason": "Back from leave"}), me,
                 Entry("enable", "staff_user", dee.id))
    trail.expect(post(console, f"{base}/mfa-reset", {"mfa-reason": "Lost phone"}), me,
                 Entry("mfa", "staff_account", dee.id, outcome="reset"))

    from webapp.core import practice_settings

    values = {**practice_settings.raw_values(), "idle_timeout_minutes": "20"}
    trail.expect(post(console, "/admin/settings/", values), me,
                 Entry("config_change", "setting.idle_timeout_minutes"))
    trail.expect(post(console, "/admin/settings/", values), me)  # nothing changed, no entry


# -- clients -----------------------------------------------------------------------------

def test_client_reads_and_changes_each_write_one_entry(team: Team) -> None:
    """Do the list, a search, the chart, each form page, and each change to a client,
    a guardian, a policy or an assignment write exactly one entry naming the client?"""
    fran, ada = team.user("fran"), team.user("ada")
    desk, clinician, trail = browser(team.app, "fran"), browser(team.app, "ada"), Trail()
    me = staff(fran)
    trail.expect(get(desk, "/clients/"), me, Entry("view", "client_list"))
    trail.expect(post(desk, "/clients/", {"q": "Aster", "status": "active"}), me)  # to session
    page = trail.expect(get(desk, "/clients/?status=active&page=1"), me,
                        Entry("search", "client_list"))
    assert f"/clients/{team.a1}" in page.text
    trail.expect(get(desk, f"/clients/{team.a1}"), me, Entry("view", "client", team.a1, team.a1))

    new_id = (Client.select(fn.MAX(Client.id)).scalar() or 0) + 1
    trail.expect(post(desk, "/clients/new", form()), me,
                 Entry("create", "client", new_id, new_id))
    trail.expect(get(desk, f"/clients/{new_id}/edit"), me,
                 Entry("view", "client", new_id, new_id))
    trail.expect(post(desk, f"/clients/{new_id}/edit", form(city="Albany")), me,
                 Entry("update", "client", new_id, new_id))
    assert Client.get_by_id(new_id).city == "Albany"

    # A clinician's new client goes on their caseload: the client and the assignment.
    mine = new_id + 1
    assignment = (ClinicianAssignment.select(fn.MAX(ClinicianAssignment.id)).scalar() or 0) + 1
    trail.expect(post(clinician, "/clients/new", form(legal_first_name="Paz")), staff(ada),
                 Entry("create", "client", mine, mine),
                 Entry("assign", "clinician_assignment", assignment, mine))
    trail.expect(post(clinician, f"/clients/{mine}/discharge", {
        "discharged_on": "2026-11-20", "reason": "Goals met"}), staff(ada),
        Entry("discharge", "client", mine, mine))
    trail.expect(post(clinician, f"/clients/{mine}/reactivate"), staff(ada),
                 Entry("reactivate", "client", mine, mine))

    trail.expect(get(desk, f"/clients/{new_id}/guardians/new"), me,
                 Entry("view", "client", new_id, new_id))
    guardian_id = (Guardian.select(fn.MAX(Guardian.id)).scalar() or 0) + 1
    trail.expect(post(desk, f"/clients/{new_id}/guardians/new", {
        "full_name": "Rafael Quintero", "relationship": "parent", "phone": "518-555-0177",
        "email": "", "has_legal_authority": "y"}), me,
        Entry("create", "guardian", guardian_id, new_id))
    trail.expect(post(desk, f"/clients/{new_id}/guardians/{guardian_id}/remove"), me,
                 Entry("delete", "guardian", guardian_id, new_id))

    policy_id = (InsurancePolicy.select(fn.MAX(InsurancePolicy.id)).scalar() or 0) + 1
    trail.expect(post(desk, f"/clients/{new_id}/insurance/new", POLICY), me,
                 Entry("create", "insurance_policy", policy_id, new_id))
    trail.expect(post(desk, f"/clients/{new_id}/insurance/{policy_id}",
                      {**POLICY, "group_number": "G200"}), me,
                 Entry("update", "insurance_policy", policy_id, new_id))
    trail.expect(post(desk, f"/clients/{new_id}/insurance/{policy_id}/remove"), me,
                 Entry("delete", "insurance_policy", policy_id, new_id))

    ben = team.user("ben")
    trail.expect(post(desk, f"/clients/{new_id}/clinicians", {
        "clinician_id": str(ben.id), "is_primary": "y"}), me,
        Entry("assign", "clinician_assignment", assignment + 1, new_id))
    trail.expect(post(desk, f"/clients/{new_id}/clinicians/{ben.id}/remove"), me,
                 Entry("unassign", "clinician_assignment", assignment + 1, new_id))


def test_note_reads_and_changes_each_write_one_entry(team: Team) -> None:
    """Do the new-note form, a new draft, opening it, its edit form, saving and signing it
    each write one entry naming the note (or the client) and the client?"""
    ada, a2 = team.user("ada"), team.a2
    web, trail, me = browser(team.app, "ada"), Trail(), staff(team.user("ada"))
    trail.expect(get(web, f"/clients/{a2}/notes/new"), me, Entry("view", "client", a2, a2))
    note_id = (ClinicalNote.select(fn.MAX(ClinicalNote.id)).scalar() or 0) + 1
    trail.expect(post(web, f"/clients/{a2}/notes/new", NOTE), me,
                 Entry("create", "clinical_note", note_id, a2))
    base = f"/clients/{a2}/notes/{note_id}"
    trail.expect(get(web, base), me, Entry("view", "clinical_note", note_id, a2))
    trail.expect(get(web, f"{base}/edit"), me, Entry("view", "clinical_note", note_id, a2))
    trail.expect(post(web, f"{base}/edit", {**NOTE, "body": "Discussed sleep and work."}), me,
                 Entry("update", "clinical_note", note_id, a2))
    trail.expect(post(web, f"{base}/sign"), me, Entry("sign", "clinical_note", note_id, a2))
    assert ClinicalNote.get_by_id(note_id).status == "signed"
    assert ClinicalNote.get_by_id(note_id).author_id == ada.id  # type: ignore[attr-defined]


# -- chart reads by every role, and refusals --------------------------------------------------

def test_a_chart_read_by_each_role_writes_an_entry(team: Team, portal_app: Flask) -> None:
    """Does opening client A1's chart write a view entry naming A1 for the admin, A1's
    clinician, her supervisor, the biller and the front desk (and the list of notes for the
    two with clinical access), and the client's own portal page one for the client?"""
    trail, a1 = Trail(), team.a1
    chart = Entry("view", "client", a1, a1)
    notes = Entry("view", "note_list", None, a1)
    for username, entries in (("root", [chart]), ("ada", [chart, notes]),
                              ("sam", [chart, notes]), ("bill", [chart]), ("fran", [chart])):
        web = browser(team.app, username)
        page = trail.expect(get(web, f"/clients/{a1}"), staff(team.user(username)), *entries)
        assert page.status_code == 200 and "Aster" in page.text

    account = add_portal_account(Client.get_by_id(a1), "amelia@mail.example")
    portal = browser(portal_app, "amelia@mail.example", address="198.51.100.7")
    page = trail.expect(get(portal, "/"), Actor("client", account.id, "client"), chart,
                        address="198.51.100.7")
    assert page.status_code == 200 and "Amelia" in page.text


def test_denied_requests_write_a_permission_denied_entry(team: Team) -> None:
    """Does a refusal at the route (the console, a notes URL, a change the role may not
    make) and at the record (a client outside the caseload, notes without clinical scope,
    someone else's draft) each write one `permission_denied` entry, naming the client?"""
    trail, a1, b1 = Trail(), team.a1, team.b1
    bill, ben, root, sam = (browser(team.app, name) for name in ("bill", "ben", "root", "sam"))
    as_bill = staff(team.user("bill"))
    denied = "denied"
    # route level: the role lacks the permission (the URL's client, when it names one)
    trail.expect(get(bill, "/admin/"), as_bill, Entry("permission_denied", "endpoint",
                                                      outcome=denied))
    trail.expect(get(bill, f"/clients/{a1}/notes/{team.a1_note}"), as_bill,
                 Entry("permission_denied", "endpoint", None, a1, denied))
    trail.expect(post(bill, f"/clients/{a1}/discharge", {"reason": "x"}), as_bill,
                 Entry("permission_denied", "endpoint", None, a1, denied))
    # record level: the role may, but not for this client or note
    page = trail.expect(get(ben, f"/clients/{a1}"), staff(team.user("ben")),
                        Entry("permission_denied", "client", a1, a1, denied))
    assert page.status_code == 403 and "Aster" not in page.text  # the break-glass page
    trail.expect(get(root, f"/clients/{b1}/notes/{team.b1_note}"), staff(team.user("root")),
                 Entry("permission_denied", "clinical_record", b1, b1, denied))
    trail.expect(get(sam, f"/clients/{b1}"), staff(team.user("sam")),
                 Entry("permission_denied", "client", b1, b1, denied))
    trail.expect(post(sam, f"/clients/{a1}/notes/{team.a1_draft}/edit", NOTE),
                 staff(team.user("sam")),
                 Entry("permission_denied", "clinical_note", team.a1_draft, a1, denied))
    trail.expect(get(ben, f"/clients/{a1}/portal"), staff(team.user("ben")),
                 Entry("permission_denied", "client", a1, a1, denied))


def test_break_glass_and_its_review(team: Team) -> None:
    """Do opening a record by break-glass, reading it, the review queue and the review each
    write their entry, the reason nowhere in them?"""
    trail, a1 = Trail(), team.a1
    ben, root = browser(team.app, "ben"), browser(team.app, "root")
    as_ben, as_root = staff(team.user("ben")), staff(team.user("root"))
    reason = "Amelia Aster called in crisis; her clinician is away"
    from webapp.access.models import BreakGlassGrant

    grant_id = (BreakGlassGrant.select(fn.MAX(BreakGlassGrant.id)).scalar() or 0) + 1
    trail.expect(post(ben, f"/clients/{a1}/break-glass", {"reason": reason}), as_ben,
                 Entry("break_glass", "break_glass_grant", grant_id, a1))
    trail.expect(get(ben, f"/clients/{a1}"), as_ben, Entry("view", "client", a1, a1),
                 Entry("view", "note_list", None, a1))
    trail.expect(get(root, "/admin/break-glass/"), as_root, Entry("view", "break_glass_queue"))
    trail.expect(post(root, f"/admin/break-glass/{grant_id}/review", {"note": "Checked"}),
                 as_root, Entry("review", "break_glass_grant", grant_id, a1))
    for entry in AuditEntry.select():
        assert "Amelia" not in str(entry.__data__) and "crisis" not in str(entry.__data__)


# -- portal: invitations, enrolment, the client's own pages; mail ------------------------------

def test_portal_invitation_enrolment_and_mail(team: Team, portal_app: Flask) -> None:
    """Do staff's portal page, an invitation (with its queued mail), a withdrawn one, each
    enrolment step (a wrong date of birth too), the client's sign-in, a guardian choosing
    a minor (and a refused id), and the console's outbox pages each write their entries?"""
    trail, a1, a2 = Trail(), team.a1, team.a2
    for client_id, email in ((a1, "amelia@mail.example"), (a2, "arlo@mail.example")):
        Client.update(email=email).where(Client.id == client_id).execute()
    desk, as_fran = browser(team.app, "fran"), staff(team.user("fran"))
    trail.expect(get(desk, f"/clients/{a1}/portal"), as_fran,
                 Entry("view", "portal_invitations", a1, a1))

    def next_id(model: Any) -> int:
        return int(model.select(fn.MAX(model.id)).scalar() or 0) + 1

    invitation, mail = next_id(PortalInvitation), next_id(OutgoingMail)
    trail.expect(post(desk, f"/clients/{a1}/portal/invitations", {"invitee": "client"}),
                 as_fran, Entry("mail_queued", "outgoing_mail", mail),
                 Entry("portal_invite", "portal_invitation", invitation, a1))
    post(desk, f"/clients/{a2}/portal/invitations", {"invitee": "client"})()
    trail.expect(post(desk, f"/clients/{a2}/portal/invitations/{invitation + 1}/revoke"),
                 as_fran, Entry("portal_invite_revoke", "portal_invitation", invitation + 1, a2))

    portal = browser(portal_app)
    link = found(r"(/enrol/[A-Za-z0-9_-]{43})", OutgoingMail.get_by_id(mail).body)
    trail.expect(get(portal, link), ANONYMOUS)  # a usable link: on to the first step
    birth = "/enrol/birth-date"
    trail.expect(post(portal, birth, {"date_of_birth": "1990-01-01"}, birth), ANONYMOUS,
                 Entry("portal_enrol_birth_date", "portal_invitation", invitation, a1,
                       "failure"))
    code_mail = next_id(OutgoingMail)
    trail.expect(post(portal, birth, {"date_of_birth": "1984-06-01"}, birth), ANONYMOUS,
                 Entry("mail_queued", "outgoing_mail", code_mail),
                 Entry("portal_enrol_birth_date", "portal_invitation", invitation, a1))
    code = found(r"^ +(\d{6})$", OutgoingMail.get_by_id(code_mail).body)
    trail.expect(post(portal, "/enrol/code", {"code": code}, "/enrol/code"), ANONYMOUS,
                 Entry("portal_enrol_code", "portal_invitation", invitation, a1))
    account = next_id(ClientAccount)
    password = "willow river lantern 42"
    trail.expect(post(portal, "/enrol/account", {
        "username": "amelia@mail.example", "password": password, "password_again": password},
        "/enrol/account"), ANONYMOUS, Entry("portal_enrol", "client_account", account, a1))
    trail.expect(get(portal, "/enrol/" + "x" * 43), ANONYMOUS,
                 Entry("portal_enrol_link", "portal_invitation", outcome="denied"))

    as_client = Actor("client", account, "client")
    token = csrf_token(portal, "/login")
    trail.expect(lambda: portal.post("/login", data={
        "csrf_token": token, "username": "amelia@mail.example", "password": password}),
        as_client, Entry("login", "client_account", account))
    trail.expect(get(portal, "/"), as_client, Entry("view", "client", a1, a1))
    trail.expect(post(portal, "/logout", token_from="/my-account/"), as_client,
                 Entry("logout", "client_account", account))

    # A guardian linked to two minors switches between them; another id is refused.
    guardian = add_portal_account(Client.get_by_id(a2), "guardian@mail.example")
    PortalLink.create(account=guardian.id, client=team.s1)
    parent, as_parent = browser(portal_app, "guardian@mail.example"), \
        Actor("client", guardian.id, "client")
    trail.expect(post(parent, "/viewing", {"client_id": str(team.s1)}, "/my-account/"),
                 as_parent, Entry("portal_choose", "client", team.s1, team.s1))
    trail.expect(post(parent, "/viewing", {"client_id": str(team.b1)}, "/my-account/"),
                 as_parent, Entry("permission_denied", "client", team.b1, team.b1, "denied"))

    root, as_root = browser(team.app, "root"), staff(team.user("root"))
    trail.expect(get(root, "/admin/outbox/"), as_root, Entry("view", "outbox"))
    trail.expect(get(root, f"/admin/outbox/{mail}"), as_root,
                 Entry("view", "outgoing_mail", mail))
    trail.expect(get(root, "/admin/"), as_root)  # the dashboard shows no PHI: no entry


def test_the_workers_delivery_attempt_is_a_system_entry(staff_app: Flask) -> None:
    """Does a delivery attempt outside any request write one `mail_send` entry by the
    system, with no address or request id (an unreachable relay: outcome failure)?"""
    from webapp.mail.service import deliver, queue_mail

    settings = staff_app.config["HEARTH_SETTINGS"].with_values({
        "smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_security": "none",
        "smtp_from": "hearth@practice.example"})
    with storage.db.connection_context():
        mail = queue_mail("portal_code", "someone@mail.example", "Your code", "123456")
        before = AuditEntry.select(fn.MAX(AuditEntry.id)).scalar()
        assert deliver(mail.id, settings).status == "retry"
        [entry] = AuditEntry.select().where(AuditEntry.id > before)
    assert (entry.action, entry.object_type, entry.object_id, entry.outcome) == (
        "mail_send", "outgoing_mail", mail.id, "failure")
    assert (entry.actor_kind, entry.actor_id, entry.source_address, entry.request_id) == (
        "system", None, "", "")


# -- the table stays complete -------------------------------------------------------------

_LITERAL = re.compile(r'\brecord\(\s*"([a-z_]+)"(?:,\s*object_type="([a-z_]+)")?')


def test_every_action_the_code_records_is_in_the_table() -> None:
    """Does every action a service records with a literal name appear in ACTIONS (so a new
    action comes with a line here, and a test above)?"""
    actions = {action for action, _ in ACTIONS}
    pairs = set(ACTIONS)
    found = []
    for path in (ROOT / "webapp").rglob("*.py"):
        for action, object_type in _LITERAL.findall(path.read_text()):
            found.append((path.name, action, object_type))
            assert action in actions, f"{path}: {action!r} is not in ACTIONS"
            if object_type:
                assert (action, object_type) in pairs, (
                    f"{path}: ({action!r}, {object_type!r}) is not in ACTIONS")
    assert len(found) > 40
