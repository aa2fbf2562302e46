"""The audit trail in the admin console: the filtered viewer, its exports, and one
client's access report and accounting of disclosures.

Filters travel in the query string and hold ids and codes only; a client is
found by name through a POSTed form. Every look and every export writes its own
audit entry (object types "audit_trail", "access_report", "disclosure_accounting").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, request, stream_with_context
from flask_admin import expose
from flask_login import current_user

from webapp.access.service import AccessDenied
from webapp.admin.views import ConsoleView
from webapp.audit import review
from webapp.audit.alerts import last_verification
from webapp.audit.forms import FindClientForm, PeriodForm, TrailFilterForm
from webapp.clients.service import ClientNotFound, get_client, search_clients
from webapp.core.models import StaffUser
from webapp.core.timeutil import local, today_in, utcnow

PERMISSION = "audit.view"
ACCESS_REPORT_YEARS = 6  # a client may ask about the six years before their request
_FILTER_FIELDS = ("user", "client", "action", "object_type", "object_id", "outcome",
                  "date_from", "date_to")


def _staff_id(value: str) -> int | None:
    """A staff member by id or username; None when there is no such person."""
    value = value.strip().lower()
    if value.isdecimal():
        found = StaffUser.get_or_none(StaffUser.id == int(value))
    else:
        found = StaffUser.get_or_none(StaffUser.username == value)
    return int(found.id) if found else None


def _safe_cell(value: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_lines(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for index, row in enumerate(rows):
        writer.writerow([_safe_cell(row.get(column)) for column in columns])
        if index % 200 == 199:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(head: dict[str, Any], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`head` with an "entries" list, written a row at a time."""
    opening = json.dumps({**head, "entries": []}, indent=None)
    yield opening[:-2] + "\n"  # everything up to the empty list's "]}"
    for index, row in enumerate(rows):
        yield ("" if index == 0 else ",\n") + json.dumps(row)
    yield "\n]}\n"


def download(chunks: Iterator[str], filename: str, mimetype: str) -> Response:
    return Response(stream_with_context(chunks), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


class AuditView(ConsoleView):
    permission = PERMISSION

    @property
    def timezone(self) -> str:
        return str(self.settings.timezone)

    def _stamp(self) -> str:
        """When, in practice time, for a file name (which never names a client)."""
        return f"{local(utcnow(), self.timezone):%Y%m%d-%H%M%S}"

    def _chosen(self, form: TrailFilterForm) -> review.TrailFilter | None:
        """The validated filter, or None with the form's errors set."""
        if not form.validate():
            return None
        actor_id = None
        if form.user.data and form.user.data.strip():
            actor_id = _staff_id(form.user.data)
            if actor_id is None:
                form.user.errors = ["No staff member has that username or id."]
                return None
        since, until = review.local_day_bounds(form.date_from.data, form.date_to.data,
                                               self.timezone)
        return review.TrailFilter(
            actor_id=actor_id, client_id=form.client.data, action=form.action.data or "",
            object_type=form.object_type.data or "", object_id=form.object_id.data,
            outcome=form.outcome.data or "", since=since, until=until)

    def _query_args(self) -> dict[str, str]:
        return {name: request.args[name] for name in _FILTER_FIELDS
                if request.args.get(name, "").strip()}

    @expose("/")
    def index(self) -> Any:
        form = TrailFilterForm(request.args)
        chosen = self._chosen(form)
        before = request.args.get("before", "")
        page = None
        status = 400
        if chosen is not None and (not before or before.isdecimal()):
            try:
                page = review.trail_page(chosen, int(before) if before else None)
                status = 200
            except LookupError:
                status = 404
            review.record_review("view", "audit_trail", chosen.client_id)
        return self.render(
            "admin/audit_trail.html", form=form, page=page, args=self._query_args(),
            find=FindClientForm(), actor=review.actor_label, actions=review.KNOWN_ACTIONS,
            outcomes=review.OUTCOMES,
            verification=last_verification(self.settings.layout)), status

    def _export(self, kind: str) -> Any:
        form = TrailFilterForm(request.args)
        chosen = self._chosen(form)
        if chosen is None:
            abort(400)
        entry_id = review.record_review("export", "audit_trail", chosen.client_id)
        rows = review.export_rows(chosen, self.timezone, below=entry_id)
        name = f"audit-trail-{self._stamp()}.{kind}"
        if kind == "csv":
            return download(csv_lines(rows, review.EXPORT_COLUMNS), name, "text/csv")
        head = {"exported_at": utcnow().isoformat() + "Z", "timezone": self.timezone,
                "filter": chosen.describe()}
        return download(json_chunks(head, rows), name, "application/json")

    @expose("/export.csv")
    def export_csv(self) -> Any:
        return self._export("csv")

    @expose("/export.json")
    def export_json(self) -> Any:
        return self._export("json")

    @expose("/find-client", methods=("POST",))
    def find_client(self) -> Any:
        """Clients matching a posted name, each with links by id (names stay out of URLs)."""
        find = FindClientForm()
        if not find.validate_on_submit():
            return self.render("admin/audit_find_client.html", find=find, matches=None), 400
        matches = search_clients(current_user, query=find.name.data, status="all").rows
        return self.render("admin/audit_find_client.html", find=find, matches=matches)

    # -- one client ----------------------------------------------------------------------

    def _client(self, client_id: int) -> Any:
        try:
            return get_client(current_user, client_id, audit=False)  # recorded below
        except ClientNotFound:
            abort(404)
        except AccessDenied:
            abort(403)

    def _period(self) -> tuple[PeriodForm, Any, Any]:
        """The report's period: by default the six years before today."""
        form = PeriodForm(request.args)
        today = today_in(self.timezone)
        if not request.args.get("date_from") and not request.args.get("date_to"):
            form.date_from.data = _years_before(today, ACCESS_REPORT_YEARS)
            form.date_to.data = today
        if not form.validate():
            return form, None, None
        since, until = review.local_day_bounds(form.date_from.data, form.date_to.data,
                                               self.timezone)
        return form, since, until

    def _period_args(self, form: PeriodForm) -> dict[str, str]:
        return {name: getattr(form, name).data.isoformat()
                for name in ("date_from", "date_to") if getattr(form, name).data}

    @expose("/clients/<int:client_id>/access")
    def access_report(self, client_id: int) -> Any:
        client = self._client(client_id)
        form, since, until = self._period()
        if form.errors:
            return self.render("admin/audit_access_report.html", client=client, form=form,
                               rows=None, names={}, args={}, actor=review.actor_label), 400
        rows, names = review.access_report(client.id, since, until)
        review.record_review("view", "access_report", client.id)
        return self.render("admin/audit_access_report.html", client=client, form=form,
                           rows=rows, names=names, args=self._period_args(form),
                           actor=review.actor_label, printed=utcnow())

    @expose("/clients/<int:client_id>/access.csv")
    def access_report_csv(self, client_id: int) -> Any:
        client = self._client(client_id)
        form, since, until = self._period()
        if form.errors:
            abort(400)
        review.record_review("export", "access_report", client.id)
        rows = review.access_rows(client.id, since, until, self.timezone)
        return download(csv_lines(rows, review.EXPORT_COLUMNS),
                        f"access-report-{self._stamp()}.csv", "text/csv")

    @expose("/clients/<int:client_id>/disclosures")
    def disclosures(self, client_id: int) -> Any:
        client = self._client(client_id)
        form, since, until = self._period()
        if form.errors:
            return self.render("admin/audit_disclosures.html", client=client, form=form,
                               found=None, names={}, args={}, actor=review.actor_label), 400
        found, names = review.disclosures(client.id, since, until)
        review.record_review("view", "disclosure_accounting", client.id)
        return self.render("admin/audit_disclosures.html", client=client, form=form,
                           found=found, names=names, args=self._period_args(form),
                           actor=review.actor_label, printed=utcnow())

    @expose("/clients/<int:client_id>/disclosures.csv")
    def disclosures_csv(self, client_id: int) -> Any:
        client = self._client(client_id)
        form, since, until = self._period()
        if form.errors:
            abort(400)
        found, names = review.disclosures(client.id, since, until)
        review.record_review("export", "disclosure_accounting", client.id)
        zone = ZoneInfo(self.timezone)
        rows = ({**review.as_row(item.entry, names, zone),
                 "recipient": item.recipient, "purpose": item.purpose} for item in found)
        columns = (*review.EXPORT_COLUMNS, "recipient", "purpose")
        return download(csv_lines(rows, columns), f"disclosures-{self._stamp()}.csv",
                        "text/csv")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # February 29th
        return day.replace(year=day.year - years, day=28)
