"""Server-side sessions: the cookie carries a random token, the database keeps the rest.

Sessions live in the `web_session` table so every gunicorn worker, the staff
app and the portal agree, and ending a user's sessions is one DELETE that takes
effect on their next request. Only the SHA-256 of the token is stored, so a
stolen database copy holds no usable cookies.

The staff app's idle timeout is the practice's setting (`idle_timeout_minutes`);
the portal keeps the fixed `IDLE_TIMEOUT`. `last_seen_at` is written at most once
a minute, so the page is told how long the *server* will wait (`seconds_left`),
and the keepalive and status endpoints read and write the clock exactly.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from appliance.storage import Prepared
from webapp.core import practice_settings
from webapp.core.models import WebSession
from webapp.core.timeutil import utcnow

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# Refresh last_seen at most this often, so reading a page is not a write.
TOUCH_INTERVAL = timedelta(seconds=60)


_SESSION = Prepared(lambda token_hash, app: WebSession.select().where(
    (WebSession.token_hash == token_hash) & (WebSession.app == app)))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None,
                 row: WebSession | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.row = row
        self.modified = False
        self.regenerate_requested = False
        # Clock handling: `stale` means this request will refresh last_seen anyway;
        # `force_touch` refreshes it now (keepalive); `touch_suppressed` reads the
        # clock without resetting it (the page's status check).
        self.stale = False
        self.force_touch = False
        self.touch_suppressed = False

    @property
    def clock_moves(self) -> bool:
        """Whether saving this session resets its idle clock to now."""
        return self.force_touch or (not self.touch_suppressed and (self.stale or self.modified))


def idle_timeout(app_name: str) -> timedelta:
    """How long a session of this app may sit idle: the practice setting for staff."""
    if app_name == "staff":
        return timedelta(minutes=practice_settings.get("idle_timeout_minutes"))
    return IDLE_TIMEOUT


def seconds_left(session: Any, app_name: str, now: datetime | None = None) -> float:
    """Seconds until the server ends this session, as it will count them after this request."""
    now = now or utcnow()
    if not isinstance(session, ServerSession) or session.row is None:
        return idle_timeout(app_name).total_seconds()
    row = session.row
    last_seen = now if session.clock_moves else row.last_seen_at
    idle = idle_timeout(app_name) - (now - last_seen)
    absolute = ABSOLUTE_TIMEOUT - (now - row.created_at)
    return max(0.0, min(idle, absolute).total_seconds())


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, app_name: str) -> None:
        self.app_name = app_name

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 100:
            return ServerSession()
        row = _SESSION.first(token_hash(token), self.app_name)
        now = utcnow()
        if row is None or self._expired(row, now):
            if row is not None:
                row.delete_instance()
            return ServerSession()
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}
        session = ServerSession(data, token=token, row=row)
        session.stale = now - row.last_seen_at > TOUCH_INTERVAL
        return session

    def _expired(self, row: WebSession, now: datetime) -> bool:
        return (now - row.last_seen_at > idle_timeout(self.app_name)
                or now - row.created_at > ABSOLUTE_TIMEOUT)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        name = self.get_cookie_name(app)
        if session.regenerate_requested and session.row is not None:
            session.row.delete_instance()
            session.row = None
            session.token = None
        if not session and session.row is None:
            return  # nothing to keep and nothing stored
        if not session and session.row is not None:
            session.row.delete_instance()
            response.delete_cookie(name, path="/", secure=self.get_cookie_secure(app),
                                   samesite=self.get_cookie_samesite(app), httponly=True)
            return
        now = utcnow()
        principal = session.get("_user_id")
        data = json.dumps(dict(session), separators=(",", ":"), sort_keys=True)
        if session.row is None:
            session.token = secrets.token_urlsafe(32)  # 256 bits
            WebSession.create(token_hash=token_hash(session.token), app=self.app_name,
                              principal_id=int(principal) if principal else None,
                              data=data, created_at=now, last_seen_at=now)
        elif session.clock_moves or session.modified:
            last_seen = now if session.clock_moves else session.row.last_seen_at
            WebSession.update(data=data, last_seen_at=last_seen,
                              principal_id=int(principal) if principal else None).where(
                WebSession.token_hash == session.row.token_hash).execute()
        else:
            return
        response.set_cookie(name, session.token or "", httponly=True, path="/",
                            secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app))


def end_sessions(app_name: str, principal_id: int, keep: ServerSession | None = None) -> int:
    """Sign a user out everywhere (except the session `keep`); returns how many ended."""
    query = WebSession.delete().where(
        (WebSession.app == app_name) & (WebSession.principal_id == principal_id))
    if keep is not None and keep.row is not None:
        query = query.where(WebSession.token_hash != keep.row.token_hash)
    return int(query.execute())


def purge_expired(now: datetime | None = None) -> int:
    now = now or utcnow()
    staff_idle = idle_timeout("staff")
    return int(WebSession.delete().where(
        ((WebSession.app == "staff") & (WebSession.last_seen_at < now - staff_idle))
        | ((WebSession.app != "staff") & (WebSession.last_seen_at < now - IDLE_TIMEOUT))
        | (WebSession.created_at < now - ABSOLUTE_TIMEOUT)).execute())
