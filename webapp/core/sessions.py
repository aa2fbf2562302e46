"""Server-side sessions: the cookie carries a random token, the database keeps the rest.

Sessions live in the `web_session` table so every gunicorn worker, the staff
app and the portal agree, and ending a user's sessions is one DELETE that takes
effect on their next request. Only the SHA-256 of the token is stored, so a
stolen database copy holds no usable cookies.
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


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, app_name: str) -> None:
        self.app_name = app_name

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 100:
            return ServerSession()
        row = _SESSION.first(token_hash(token), self.app_name)
        if row is None or self._expired(row, utcnow()):
            if row is not None:
                row.delete_instance()
            return ServerSession()
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}
        return ServerSession(data, token=token, row=row)

    @staticmethod
    def _expired(row: WebSession, now: datetime) -> bool:
        return now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT

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
        elif session.modified or now - session.row.last_seen_at > TOUCH_INTERVAL:
            WebSession.update(data=data, last_seen_at=now,
                              principal_id=int(principal) if principal else None).where(
                WebSession.token_hash == session.row.token_hash).execute()
        else:
            return
        response.set_cookie(name, session.token or "", httponly=True, path="/",
                            secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app))


def end_sessions(app_name: str, principal_id: int) -> int:
    """Sign a user out everywhere; returns how many sessions ended."""
    return int(WebSession.delete().where(
        (WebSession.app == app_name) & (WebSession.principal_id == principal_id)).execute())


def purge_expired(now: datetime | None = None) -> int:
    now = now or utcnow()
    return int(WebSession.delete().where(
        (WebSession.last_seen_at < now - IDLE_TIMEOUT)
        | (WebSession.created_at < now - ABSOLUTE_TIMEOUT)).execute())
