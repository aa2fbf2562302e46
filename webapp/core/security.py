"""Security headers, request ids and the deny-by-default guard shared by both apps.

The guard also holds a staff member who must use two-step sign-in but has not
enrolled yet: every page except the enrolment pages (and sign-out, the session
clock and static files) sends them to `/account/mfa` until they enrol.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.core.permissions import SIGNED_IN

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


F = TypeVar("F", bound=Callable[..., Any])
ENROLMENT_PAGE = "account.mfa"


def open_before_enrolment(view: F) -> F:
    """Mark a view a staff member may use before enrolling in required two-step sign-in."""
    view._hearth_before_enrolment = True  # type: ignore[attr-defined]
    return view


def held_for_enrolment(view: Any = None) -> bool:
    """Whether the signed-in staff member must enrol in TOTP before using this view."""
    if current_app.config.get("HEARTH_KIND") != "staff" or current_user.mfa_secret:
        return False
    if view is not None and getattr(view, "_hearth_before_enrolment", False):
        return False
    from webapp.core.practice_settings import mfa_required

    return mfa_required(current_user.role_set)


def install(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(deny_by_default)
    app.after_request(add_security_headers)


def assign_request_id() -> None:
    g.request_id = secrets.token_hex(8)


def deny_by_default() -> Response | None:
    """Every endpoint needs a signed-in user and a declared permission, unless public."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no such route: Flask answers 404 or 405
    view = current_app.view_functions[endpoint]
    if endpoint == "static" or getattr(view, "_hearth_public", False):
        return None
    if not current_user.is_authenticated:
        if request.method == "GET":
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.login", next=target))
        abort(401)
    if held_for_enrolment(view) and ENROLMENT_PAGE in current_app.view_functions:
        return redirect(url_for(ENROLMENT_PAGE))
    permission = getattr(view, "_hearth_permission", None)
    if permission is None:
        abort(403)  # a view that forgot to declare a permission is closed, not open
    if permission != SIGNED_IN and not current_user.can(permission):
        from webapp.audit.service import record

        # A refused URL about a client (/clients/<id>/...) counts in that client's trail.
        client_id = (request.view_args or {}).get("client_id")
        record("permission_denied", object_type="endpoint", outcome="denied",
               client_id=client_id if isinstance(client_id, int) else None)
        abort(403)
    return None


def add_security_headers(response: Response) -> Response:
    headers: Any = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.endpoint != "static":
        # Pages carry PHI: never keep them in a browser or proxy cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if current_app.config.get("HEARTH_TLS"):
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response
