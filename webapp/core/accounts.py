"""A person's own account: creating staff accounts, changing the password, signing out
everywhere, and turning two-step sign-in (TOTP) on, off and over.

The account functions work for staff and portal accounts alike: `app` is "staff"
or "portal" and the account's own class is the model. Anything that changes how
someone signs in asks them to prove it is still them first (`reauthenticate`),
and a wrong answer there counts toward the same lockout as a wrong sign-in.
"""

from __future__ import annotations

import secrets
from typing import Any

from appliance.config import Settings
from appliance.storage import db
from webapp.audit.service import record
from webapp.core import mfa, password_policy
from webapp.core.models import StaffUser
from webapp.core.passwords import hash_password, verify_password
from webapp.core.permissions import ROLES
from webapp.core.sessions import ServerSession, end_sessions
from webapp.core.signin import count_account_failure, is_locked
from webapp.core.timeutil import utcnow

_WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris",
          "juniper", "kettle", "lumen", "maple", "nectar", "orchid", "pebble", "quartz",
          "river", "sable", "thistle", "umber", "velvet", "willow", "yarrow", "zephyr")

WRONG_PASSWORD = "That is not your current password."  # noqa: S105 (a message)
WRONG_CODE = "That code is not right, or it has already been used."
NEED_CODE = "Enter the code your authenticator app shows now (or a recovery code)."
LOCKED = ("Your account is locked after too many failed attempts. Wait, or ask your "
          "administrator to unlock it.")


class AccountError(ValueError):
    """Refused: the message says why, for the form. Nothing was changed."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def generate_password(words: int = 5, username: str = "", full_name: str = "") -> str:
    """A first password the practice's policy accepts (longer when the minimum is high)."""
    while True:
        candidate = "-".join(secrets.choice(_WORDS) for _ in range(words)) \
            + f"-{secrets.randbelow(100)}"
        if not password_policy.problems(candidate, username=username, full_name=full_name):
            return candidate
        words += 1


def create_staff_user(username: str, full_name: str, roles: list[str], password: str,
                      credentials: str = "", email: str = "") -> StaffUser:
    """Raises ValueError (unknown role, or the password policy's first complaint)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles: {sorted(unknown)}" if unknown else "no role given")
    problems = password_policy.problems(password, username=username, full_name=full_name,
                                        email=email)
    if problems:
        raise ValueError(problems[0])
    password_hash = hash_password(password)  # slow: outside the write transaction
    with db.atomic():
        user = StaffUser.create(username=username.strip().lower(), full_name=full_name.strip(),
                                roles=",".join(sorted(set(roles))), credentials=credentials,
                                email=email, password_hash=password_hash,
                                password_changed_at=utcnow())
        record("create", object_type="staff_user", object_id=user.id, actor_kind="system")
    return user


def _kind(account: Any) -> str:
    return f"{account.actor_kind}_account"


def reauthenticate(settings: Settings, app: str, account: Any, password: str,
                   code: str | None, with_code: bool = True) -> None:
    """Check the current password (and, with_code, a code when enrolled); AccountError if not.

    A wrong answer counts toward the account's lockout, so a borrowed session
    cannot be used to guess the password or the code.
    """
    model = account.__class__
    now = utcnow()
    fresh = model.get_by_id(account.id)
    if is_locked(fresh, now):
        raise AccountError(LOCKED)
    problem, field = "", ""
    if not verify_password(fresh.password_hash, password):
        problem, field = WRONG_PASSWORD, "password"
    elif fresh.mfa_secret and with_code:
        if not code or not code.strip():
            problem, field = NEED_CODE, "code"
        elif not (mfa.accept_code(model, fresh, code)
                  or mfa.use_recovery_code(app, fresh.id, code)):
            problem, field = WRONG_CODE, "code"
    with db.atomic():
        if problem:
            count_account_failure(settings, model, fresh, now)
            record("reauth", object_type=_kind(account), object_id=account.id,
                   outcome="failure")
        elif fresh.failed_sign_ins:
            model.update(failed_sign_ins=0).where(model.id == account.id).execute()
    if problem:
        raise AccountError(problem, field)


def change_password(settings: Settings, app: str, account: Any, current: str, new: str,
                    keep: ServerSession | None) -> int:
    """Set a new password and end every other session; returns how many ended."""
    reauthenticate(settings, app, account, current, None, with_code=False)
    problems = password_policy.problems(new, username=account.username,
                                        full_name=getattr(account, "full_name", ""),
                                        email=getattr(account, "email", ""))
    if problems:
        raise AccountError(problems[0], "new_password")
    model = account.__class__
    password_hash = hash_password(new)  # slow: outside the write transaction
    with db.atomic():
        changes: dict[str, Any] = {"password_hash": password_hash}
        if "password_changed_at" in model._meta.fields:
            changes.update(password_changed_at=utcnow(), updated_at=utcnow())
        model.update(changes).where(model.id == account.id).execute()
        ended = end_sessions(app, account.id, keep=keep)
        record("password_change", object_type=_kind(account), object_id=account.id)
    return ended


def sign_out_everywhere(app: str, account: Any) -> int:
    """End every session of this account, the one making the request included."""
    with db.atomic():
        ended = end_sessions(app, account.id)
        record("logout", object_type="all_sessions", object_id=account.id)
    return ended


# -- two-step sign-in --------------------------------------------------------------------

def mfa_status(app: str, account: Any) -> dict[str, Any]:
    enrolled = bool(account.mfa_secret)
    return {"enrolled": enrolled, "enrolled_at": account.mfa_enrolled_at,
            "recovery_codes_left": mfa.recovery_codes_left(app, account.id) if enrolled else 0}


def group_secret(secret: str) -> str:
    """The secret in groups of four, for reading it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def enrolment_qr(secret: str, account: Any, issuer: str) -> str:
    return mfa.qr_svg(mfa.provisioning_uri(secret, account.username, issuer))


def confirm_enrolment(app: str, account: Any, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the app shows the right code; returns the 10 recovery codes.

    Refused (AccountError, nothing changed) when already enrolled: changing the
    app goes through `reset_mfa`, which asks for the password and a code first.
    """
    model = account.__class__
    fresh = model.get_by_id(account.id)
    if fresh.mfa_secret:
        raise AccountError("Two-step sign-in is already on for this account.")
    if not secret or not mfa.enrol(model, fresh, secret, code):
        record("mfa", object_type=_kind(account), object_id=account.id,
               outcome="enrolment_failure")
        raise AccountError("That code does not match. Check that the app shows this "
                           "account and type the code it shows now.", "code")
    account.mfa_secret, account.mfa_last_step = fresh.mfa_secret, fresh.mfa_last_step
    # The first codes are part of enrolling: its one "enrolled" entry covers them.
    return mfa.new_recovery_codes(app, account.id)


def issue_recovery_codes(app: str, account: Any) -> list[str]:
    with db.atomic():
        codes = mfa.new_recovery_codes(app, account.id)
        record("mfa", object_type=_kind(account), object_id=account.id,
               outcome="recovery_codes_issued")
    return codes


def regenerate_recovery_codes(settings: Settings, app: str, account: Any, password: str,
                              code: str | None) -> list[str]:
    """New recovery codes (the old ones stop working), after re-authentication."""
    if not account.mfa_secret:
        raise AccountError("Turn on two-step sign-in first.")
    reauthenticate(settings, app, account, password, code)
    return issue_recovery_codes(app, account)


def reset_mfa(settings: Settings, app: str, account: Any, password: str,
              code: str | None) -> None:
    """Turn TOTP off (to move to a new app, or where it is optional), after re-authentication."""
    if not account.mfa_secret:
        raise AccountError("Two-step sign-in is not on for this account.")
    reauthenticate(settings, app, account, password, code)
    mfa.reset(account.__class__, account, app)
