"""Two-step sign-in: TOTP (RFC 6238) codes and single-use recovery codes.

Works for staff and portal accounts alike (both carry `mfa_secret`,
`mfa_last_step` and `mfa_enrolled_at`). A code is accepted within one 30-second
step either side of now, and never twice: the accepted step is stored with a
compare-and-set UPDATE, so even two requests racing with the same code cannot
both succeed. The QR code is drawn on the box (segno), never by an outside service.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import pyotp
import segno

from appliance.storage import db
from webapp.audit.service import record
from webapp.core.models import RecoveryCode
from webapp.core.timeutil import utcnow

STEP_SECONDS = 30
WINDOW_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, RFC 4226's recommended length


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (now ±1) whose code this is, or None."""
    code = normalise_code(code)
    if not secret or len(code) != 6 or not code.isdecimal():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    moment = time.time() if now is None else now
    current = int(moment // STEP_SECONDS)
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_code(account_model: Any, account: Any, code: str, now: float | None = None) -> bool:
    """Check a code for an enrolled account and burn its time step."""
    step = matching_step(account.mfa_secret, code, now)
    if step is None:
        return False
    claimed = account_model.update(mfa_last_step=step).where(
        (account_model.id == account.id) & (account_model.mfa_last_step < step)).execute()
    if claimed:
        account.mfa_last_step = step
    return bool(claimed)


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """An inline SVG of the enrolment QR code, drawn here so the secret never leaves."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#1d2733",
                                                     omitsize=False))


def enrol(account_model: Any, account: Any, secret: str, code: str,
          now: float | None = None) -> bool:
    """Turn on TOTP once the person proves their app shows the right code."""
    step = matching_step(secret, code, now)
    if step is None:
        return False
    with db.atomic():
        account_model.update(mfa_secret=secret, mfa_last_step=step,
                             mfa_enrolled_at=utcnow()).where(
            account_model.id == account.id).execute()
        record("mfa", object_type=f"{account.actor_kind}_account", object_id=account.id,
               outcome="enrolled")
    account.mfa_secret, account.mfa_last_step = secret, step
    return True


def reset(account_model: Any, account: Any, app: str) -> None:
    """Turn TOTP off and void recovery codes (re-enrol follows, or an admin's reset)."""
    with db.atomic():
        account_model.update(mfa_secret="", mfa_last_step=0, mfa_enrolled_at=None).where(
            account_model.id == account.id).execute()
        RecoveryCode.delete().where((RecoveryCode.app == app)
                                    & (RecoveryCode.principal_id == account.id)).execute()
        record("mfa", object_type=f"{account.actor_kind}_account", object_id=account.id,
               outcome="reset")
    account.mfa_secret = ""


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).upper().encode()).hexdigest()


def new_recovery_codes(app: str, principal_id: int) -> list[str]:
    """Replace the account's recovery codes with 10 new ones, shown once.

    Each is 16 characters from a 32-letter alphabet (80 bits), so a plain
    SHA-256 is enough to store them: nobody can search that space.
    """
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    with db.atomic():
        RecoveryCode.delete().where((RecoveryCode.app == app)
                                    & (RecoveryCode.principal_id == principal_id)).execute()
        RecoveryCode.insert_many([{"app": app, "principal_id": principal_id,
                                   "code_hash": _code_hash(code)} for code in codes]).execute()
    return codes


def use_recovery_code(app: str, principal_id: int, code: str) -> bool:
    """Accept an unused recovery code once; it can never be used again."""
    if len(normalise_code(code)) != 16:
        return False
    used = RecoveryCode.update(used_at=utcnow()).where(
        (RecoveryCode.app == app) & (RecoveryCode.principal_id == principal_id)
        & (RecoveryCode.code_hash == _code_hash(code)) & RecoveryCode.used_at.is_null()).execute()
    return bool(used)


def recovery_codes_left(app: str, principal_id: int) -> int:
    return int(RecoveryCode.select().where(
        (RecoveryCode.app == app) & (RecoveryCode.principal_id == principal_id)
        & RecoveryCode.used_at.is_null()).count())
