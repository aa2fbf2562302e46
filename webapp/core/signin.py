"""Signing in: password, then the TOTP or recovery code; lockout and throttling.

    outcome = attempt_sign_in(settings, "staff", StaffUser, username, password, address)
    if outcome.needs_code:  # enrolled in TOTP: remember outcome.account.id, ask for a code
        outcome = attempt_code(settings, "staff", StaffUser, account_id, code, address)
    if outcome.account is not None: login_user(outcome.account)

A wrong code counts exactly like a wrong password (ten in a row lock the account,
and the address is throttled), and a right password does not reset the count
while a code is still owed, so knowing the password buys no extra code guesses.

Every refusal reads the same to the person at the keyboard, so the page never
tells whether a username exists or is locked; the audit trail tells the admin.
An address over its limit is turned away before any password is checked, which
also keeps a guessing script from burning the box's CPU on argon2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.config import Settings
from appliance.storage import db
from webapp.audit.service import record
from webapp.core import mfa
from webapp.core.models import SignInThrottle
from webapp.core.passwords import verify_password
from webapp.core.timeutil import utcnow

REFUSED = ("That username and password do not match an active account. After "
           "repeated failures an account is locked for a while; your administrator "
           "can unlock it.")
THROTTLED = "Too many failed sign-ins from this computer. Wait {minutes} minutes and try again."
CODE_REFUSED = ("That code is not right, or it has already been used. Enter the 6-digit code "
                "your authenticator app shows now, or one of your recovery codes.")


@dataclass(frozen=True)
class Outcome:
    account: Any | None  # the signed-in account, or None when refused
    message: str = ""
    needs_code: bool = False  # the password was right; the second step is still owed
    ended: bool = False  # the pending sign-in cannot go on (locked, throttled, disabled)
    used_recovery_code: bool = False


def address_blocked(settings: Settings, app: str, address: str, now: datetime) -> bool:
    row = SignInThrottle.get_or_none((SignInThrottle.app == app)
                                     & (SignInThrottle.address == address))
    window = timedelta(minutes=settings.address_window_minutes)
    return (row is not None and now - row.window_started_at < window
            and row.failures >= settings.address_failure_limit)


def count_address_failure(settings: Settings, app: str, address: str, now: datetime) -> None:
    window = timedelta(minutes=settings.address_window_minutes)
    row = SignInThrottle.get_or_none((SignInThrottle.app == app)
                                     & (SignInThrottle.address == address))
    if row is None:
        SignInThrottle.create(app=app, address=address, failures=1, window_started_at=now)
    elif now - row.window_started_at >= window:
        row.failures, row.window_started_at = 1, now
        row.save()
    else:
        row.failures += 1
        row.save()


def attempt_sign_in(settings: Settings, app: str, account_model: Any, username: str,
                    password: str, address: str) -> Outcome:
    now = utcnow()
    if address_blocked(settings, app, address, now):
        record("login_throttled", object_type="address", outcome="denied",
               actor_kind="anonymous")
        return Outcome(None, THROTTLED.format(minutes=settings.address_window_minutes))
    account = account_model.get_or_none(account_model.username == username.strip().lower())
    # Verified before looking at the lock, so a locked or unknown name takes as long.
    password_ok = verify_password(account.password_hash if account else None, password)
    locked = account is not None and account.locked_until is not None \
        and account.locked_until > now
    with db.atomic():
        if account is not None and account.is_active and password_ok and not locked:
            if account.mfa_secret:
                return Outcome(account, needs_code=True)  # counts reset after the code
            if account.failed_sign_ins or account.locked_until:
                account_model.update(failed_sign_ins=0, locked_until=None).where(
                    account_model.id == account.id).execute()
            record("login", object_type=f"{account.actor_kind}_account", object_id=account.id,
                   actor_kind=account.actor_kind, actor_id=account.id,
                   actor_role=",".join(sorted(account.role_set)))
            return Outcome(account)
        count_address_failure(settings, app, address, now)
        if account is not None and not locked:
            count_account_failure(settings, account_model, account, now)
        # staff_account / client_account: the two kinds' ids overlap.
        record("login_failed", object_type=f"{account_model.actor_kind}_account",
               object_id=account.id if account else None,
               outcome="locked" if locked else "failure", actor_kind="anonymous")
    return Outcome(None, REFUSED)


def count_account_failure(settings: Settings, account_model: Any, account: Any,
                          now: datetime) -> bool:
    """One more failure in a row (password, code or re-authentication); True if now locked.

    Call inside the caller's transaction. Counted in SQL, so two failures at the
    same moment both count.
    """
    account_model.update(failed_sign_ins=account_model.failed_sign_ins + 1).where(
        account_model.id == account.id).execute()
    failures = account_model.select(account_model.failed_sign_ins).where(
        account_model.id == account.id).scalar()
    if failures < settings.lockout_threshold:
        return False
    account_model.update(locked_until=now + timedelta(minutes=settings.lockout_minutes)).where(
        account_model.id == account.id).execute()
    record("lockout", object_type=f"{account.actor_kind}_account", object_id=account.id,
           outcome="denied", actor_kind="anonymous")
    return True


def is_locked(account: Any, now: datetime) -> bool:
    return account.locked_until is not None and account.locked_until > now


def attempt_code(settings: Settings, app: str, account_model: Any, account_id: int,
                 code: str, address: str) -> Outcome:
    """The second step: a TOTP code (never twice) or an unused recovery code."""
    now = utcnow()
    if address_blocked(settings, app, address, now):
        record("login_throttled", object_type="address", outcome="denied",
               actor_kind="anonymous")
        return Outcome(None, THROTTLED.format(minutes=settings.address_window_minutes),
                       ended=True)
    account = account_model.get_or_none(account_model.id == account_id)
    if account is None or not account.is_active or not account.mfa_secret \
            or is_locked(account, now):
        record("mfa", object_type=f"{account_model.actor_kind}_account", object_id=account_id,
               outcome="denied",
               actor_kind="anonymous")
        return Outcome(None, REFUSED, ended=True)
    accepted = mfa.accept_code(account_model, account, code)
    recovery = not accepted and mfa.use_recovery_code(app, account.id, code)
    kind = f"{account.actor_kind}_account"
    with db.atomic():
        if accepted or recovery:
            if account.failed_sign_ins or account.locked_until:
                account_model.update(failed_sign_ins=0, locked_until=None).where(
                    account_model.id == account.id).execute()
            if recovery:
                record("mfa", object_type=kind, object_id=account.id,
                       outcome="recovery_code_used", actor_kind=account.actor_kind,
                       actor_id=account.id, actor_role=",".join(sorted(account.role_set)))
            record("login", object_type=kind, object_id=account.id,
                   actor_kind=account.actor_kind, actor_id=account.id,
                   actor_role=",".join(sorted(account.role_set)))
            return Outcome(account, used_recovery_code=recovery)
        count_address_failure(settings, app, address, now)
        locked = count_account_failure(settings, account_model, account, now)
        record("mfa", object_type=kind, object_id=account.id, outcome="failure",
               actor_kind="anonymous")
    if locked:
        return Outcome(None, REFUSED, ended=True)
    return Outcome(None, CODE_REFUSED)


def unlock_account(account_model: Any, account_id: int) -> bool:
    """Clear a lockout (the admin's action); returns whether the account was locked."""
    with db.atomic():
        account = account_model.get_or_none(account_model.id == account_id)
        if account is None:
            raise LookupError(account_id)
        was_locked = account.locked_until is not None
        account_model.update(failed_sign_ins=0, locked_until=None).where(
            account_model.id == account_id).execute()
        record("unlock", object_type=f"{account.actor_kind}_account", object_id=account_id)
    return was_locked
