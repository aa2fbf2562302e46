"""Calendar pages: the front desk's day, a clinician's day and week, the appointment form,
status changes, cancellation (with the waitlist's matches) and the waitlist."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from webapp.access.service import caseload_query, sees_all_clients
from webapp.access.views import install_refusals, refuse
from webapp.clients.models import Client
from webapp.core.permissions import requires
from webapp.core.timeutil import today_in
from webapp.scheduling import calendar, practice, service, waitlist
from webapp.scheduling.forms import (
    WEEKDAY_NAMES,
    AppointmentForm,
    CancelForm,
    OfferForm,
    StatusForm,
    TimeOffForm,
    WaitlistForm,
    WorkingHoursForm,
)
from webapp.scheduling.models import STATUS_LABELS, AppointmentType, Room, TimeOff, WorkingHours
from webapp.scheduling.recurrence import InvalidTime, to_local, to_utc
from webapp.scheduling.scope import require_calendar, shows_clinical

scheduling = Blueprint("scheduling", __name__, url_prefix="/schedule",
                       template_folder="templates")
install_refusals(scheduling)


@scheduling.errorhandler(service.AppointmentNotFound)
def missing(error: service.AppointmentNotFound) -> Any:
    return refuse(NotFound())  # another calendar (CalendarDenied): 403, as NotPermitted


def _timezone() -> str:
    return str(current_app.config["HEARTH_SETTINGS"].timezone)


def _day() -> date:
    """The day asked for (?date=YYYY-MM-DD), else today in the practice."""
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return today_in(_timezone())


@scheduling.get("/")
@requires("schedule.view")
def desk() -> str:
    day = _day()
    columns = calendar.desk_view(current_user, day, _timezone())
    return render_template("scheduling/desk.html", day=day, columns=columns,
                           previous=day - timedelta(days=1), following=day + timedelta(days=1),
                           clinical=shows_clinical(current_user))


@scheduling.get("/clinicians/<int:calendar_id>/day")
@requires("schedule.view")
def day(calendar_id: int) -> str:
    shown = _day()
    rows = calendar.day_view(current_user, calendar_id, shown, _timezone())
    return render_template("scheduling/day.html", day=shown, rows=rows,
                           clinician=_clinician(calendar_id),
                           previous=shown - timedelta(days=1), following=shown + timedelta(days=1),
                           clinical=shows_clinical(current_user))


@scheduling.get("/clinicians/<int:calendar_id>/week")
@requires("schedule.view")
def week(calendar_id: int) -> str:
    monday, days = calendar.week_view(current_user, calendar_id, _day(), _timezone())
    return render_template("scheduling/week.html", monday=monday, days=days,
                           clinician=_clinician(calendar_id),
                           previous=monday - timedelta(days=7),
                           following=monday + timedelta(days=7),
                           clinical=shows_clinical(current_user))


def _clinician(clinician_id: int) -> Any:
    people = {person.id: person for person in calendar.clinicians_for(current_user)}
    if clinician_id not in people:
        abort(404)
    return people[clinician_id]


def _choices(form: AppointmentForm, keep_clients: list[int] = ()) -> None:  # type: ignore
    """The clinicians, types, rooms and clients this user may book with."""
    form.clinician_id.choices = [(p.id, p.display_name if hasattr(p, "display_name")
                                  else p.full_name) for p in calendar.clinicians_for(current_user)]
    form.appointment_type_id.choices = [
        (kind.id, kind.name) for kind in
        AppointmentType.select().where(AppointmentType.active == True)  # noqa: E712
        .order_by(AppointmentType.name)]
    form.room_id.choices = [(0, "No room")] + [
        (room.id, room.name) for room in
        Room.select().where(Room.active == True).order_by(Room.name)]  # noqa: E712
    clients = Client.select(Client.id, Client.preferred_name, Client.legal_first_name,
                            Client.legal_last_name).where(
        (Client.status == "active") | Client.id.in_(list(keep_clients)))
    if not sees_all_clients(current_user):
        clients = clients.where(Client.id.in_(caseload_query(current_user)))
    form.client_ids.choices = [(c.id, c.display_name) for c in
                               clients.order_by(Client.sort_name, Client.id).limit(1000)]


def _refusal(form: AppointmentForm, exc: Exception) -> tuple[list[str], bool]:
    """Messages for the page, and whether an override reason would let it through."""
    if isinstance(exc, service.InvalidAppointment):
        for name, message in exc.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message] if isinstance(field.errors, list) \
                    else [message]
            else:
                flash(message, "error")
        return [], False
    return list(getattr(exc, "messages", [str(exc)])), isinstance(exc, service.OutsideAvailability)


@scheduling.route("/appointments/new", methods=["GET", "POST"])
@requires("schedule.edit")
def new() -> Any:
    form = AppointmentForm()
    _choices(form)
    if request.method == "GET":
        form.date.data = _day()
        if current_user.role_set & {"clinician", "supervisor"}:
            form.clinician_id.data = current_user.id
    problems: list[str] = []
    can_override = False
    if form.validate_on_submit():
        try:
            booked = service.book(current_user, form.data, form.override_reason.data or "")
        except (service.InvalidAppointment, service.DoubleBooked,
                service.OutsideAvailability) as exc:
            problems, can_override = _refusal(form, exc)
        else:
            flash(f"{len(booked)} appointment(s) booked.", "success")
            first = booked[0]
            local = to_local(first.starts_at, _timezone())
            return redirect(url_for("scheduling.week", calendar_id=first.clinician_id,
                                    date=local.date().isoformat()))
    status = 422 if request.method == "POST" else 200
    return render_template("scheduling/form.html", form=form, appointment=None,
                           problems=problems, can_override=can_override), status


@scheduling.route("/appointments/<int:appointment_id>/edit", methods=["GET", "POST"])
@requires("schedule.edit")
def edit(appointment_id: int) -> Any:
    appointment = service.get_appointment(current_user, appointment_id, edit=True,
                                          audit=request.method == "GET")
    clients = service.client_ids_of(appointment)
    local = to_local(appointment.starts_at, _timezone())
    form = AppointmentForm(data={
        "clinician_id": appointment.clinician_id, "room_id": appointment.room_id or 0,
        "appointment_type_id": appointment.appointment_type_id, "client_ids": clients,
        "date": local.date(), "start_time": local.time(),
        "duration_minutes": int((appointment.ends_at - appointment.starts_at)
                                .total_seconds() // 60)})
    _choices(form, clients)
    problems: list[str] = []
    can_override = False
    if form.validate_on_submit():
        try:
            service.reschedule(current_user, appointment_id, form.data, form.scope.data,
                               form.override_reason.data or "")
        except (service.InvalidAppointment, service.DoubleBooked,
                service.OutsideAvailability) as exc:
            problems, can_override = _refusal(form, exc)
        else:
            flash("Appointment changed.", "success")
            return redirect(url_for("scheduling.week", calendar_id=form.clinician_id.data,
                                    date=form.date.data.isoformat()))
    status = 422 if request.method == "POST" else 200
    return render_template("scheduling/form.html", form=form, appointment=appointment,
                           problems=problems, can_override=can_override,
                           status_form=StatusForm(status=appointment.status),
                           status_label=STATUS_LABELS[appointment.status]), status


@scheduling.post("/appointments/<int:appointment_id>/status")
@requires("schedule.edit")
def status(appointment_id: int) -> Response:
    form = StatusForm()
    appointment = service.get_appointment(current_user, appointment_id, edit=True, audit=False)
    if form.validate_on_submit():
        try:
            service.change_status(current_user, appointment_id, form.status.data,
                                  form.reason.data or "")
            flash("Status changed.", "success")
        except (service.InvalidAppointment, service.DoubleBooked) as exc:
            flash(str(exc), "error")
    else:
        flash("Choose a status.", "error")
    return redirect(url_for("scheduling.edit", appointment_id=appointment.id))


@scheduling.route("/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@requires("schedule.edit")
def cancel(appointment_id: int) -> Any:
    appointment = service.get_appointment(current_user, appointment_id, edit=True,
                                          audit=request.method == "GET")
    form = CancelForm()
    if form.validate_on_submit():
        try:
            openings = service.change_status(current_user, appointment_id, form.status.data,
                                             form.reason.data or "", form.scope.data)
        except service.InvalidAppointment as exc:
            flash(str(exc), "error")
        else:
            return render_template("scheduling/cancelled.html", appointment=appointment,
                                   openings=openings, offer_form=OfferForm())
    code = 422 if request.method == "POST" else 200
    return render_template("scheduling/cancel.html", form=form, appointment=appointment,
                           when=to_local(appointment.starts_at, _timezone())), code


@scheduling.get("/waitlist")
@requires("schedule.edit")
def waitlist_page() -> str:
    return render_template("scheduling/waitlist.html",
                           entries=waitlist.read_waitlist(current_user), offer_form=OfferForm())


@scheduling.post("/waitlist/<int:waitlist_id>/offer")
@requires("schedule.edit")
def offer(waitlist_id: int) -> Response:
    if FlaskForm().validate_on_submit():
        try:
            waitlist.offer(current_user, waitlist_id)
            flash("Marked as offered.", "success")
        except LookupError:
            abort(404)
    return redirect(url_for("scheduling.waitlist_page"))


# -- availability: a clinician's working hours and time off ---------------------------

def _hours_form(calendar_id: int) -> WorkingHoursForm:
    current = {row.weekday: row for row in
               WorkingHours.select().where(WorkingHours.clinician == calendar_id)}
    data = {}
    for weekday, row in current.items():
        data[f"day{weekday}_from"], data[f"day{weekday}_to"] = row.starts, row.ends
    return WorkingHoursForm(data=data)


def _parse_hours(form: WorkingHoursForm) -> list[tuple[int, time, time]] | None:
    """The submitted hours, or None with a message per bad day on the form."""
    hours, bad = [], False
    for weekday, name in enumerate(WEEKDAY_NAMES):
        start_field = getattr(form, f"day{weekday}_from")
        end_field = getattr(form, f"day{weekday}_to")
        raw = ((start_field.data or "").strip(), (end_field.data or "").strip())
        if raw == ("", ""):
            continue
        try:
            starts, ends = (time.fromisoformat(value) for value in raw)
        except ValueError:
            start_field.errors = [f"{name}: give both times as HH:MM (24-hour), "
                                  "or leave both empty."]
            bad = True
            continue
        if not starts < ends:
            start_field.errors = [f"{name}: the hours start before they end."]
            bad = True
            continue
        hours.append((weekday, starts, ends))
    return None if bad else hours


def _availability_page(calendar_id: int, hours_form: WorkingHoursForm,
                       time_off_form: TimeOffForm, status: int = 200) -> Any:
    leave = list(TimeOff.select().where(
        (TimeOff.clinician == calendar_id)
        & (TimeOff.ends_at >= datetime.combine(today_in(_timezone()), time())))
        .order_by(TimeOff.starts_at))
    shown = [(to_local(row.starts_at, _timezone()), to_local(row.ends_at, _timezone()),
              row.reason) for row in leave]
    return render_template("scheduling/availability.html", clinician=_clinician(calendar_id),
                           hours_form=hours_form, time_off_form=time_off_form, leave=shown,
                           weekdays=list(enumerate(WEEKDAY_NAMES))), status


@scheduling.route("/clinicians/<int:calendar_id>/hours", methods=["GET", "POST"])
@requires("schedule.edit")
def hours(calendar_id: int) -> Any:
    require_calendar(current_user, calendar_id, edit=True)
    form = _hours_form(calendar_id) if request.method == "GET" else WorkingHoursForm()
    if form.validate_on_submit():
        parsed = _parse_hours(form)
        if parsed is not None:
            try:
                practice.set_working_hours(current_user, calendar_id, parsed)
            except practice.InvalidSetup as exc:
                flash(str(exc), "error")
            else:
                flash("Working hours saved.", "success")
                return redirect(url_for("scheduling.hours", calendar_id=calendar_id))
    status = 422 if request.method == "POST" else 200
    return _availability_page(calendar_id, form, TimeOffForm(formdata=None), status)


@scheduling.post("/clinicians/<int:calendar_id>/time-off")
@requires("schedule.edit")
def time_off(calendar_id: int) -> Any:
    require_calendar(current_user, calendar_id, edit=True)
    form = TimeOffForm()
    if form.validate_on_submit():
        starts = datetime.combine(form.starts_on.data, form.starts_time.data or time())
        ends = (datetime.combine(form.ends_on.data, form.ends_time.data)
                if form.ends_time.data
                else datetime.combine(form.ends_on.data + timedelta(days=1), time()))
        try:
            practice.add_time_off(current_user, calendar_id, to_utc(starts, _timezone()),
                                  to_utc(ends, _timezone()), form.reason.data or "")
        except InvalidTime as exc:
            form.starts_time.errors = [str(exc)]
        except practice.InvalidSetup as exc:
            form.ends_on.errors = list(exc.errors.values())
        else:
            flash("Time off added.", "success")
            return redirect(url_for("scheduling.hours", calendar_id=calendar_id))
    return _availability_page(calendar_id, _hours_form(calendar_id), form, 422)


# -- the waitlist: adding a client ----------------------------------------------------

@scheduling.route("/waitlist/new", methods=["GET", "POST"])
@requires("schedule.edit")
def waitlist_new() -> Any:
    form = WaitlistForm()
    clients = Client.select(Client.id, Client.preferred_name, Client.legal_first_name,
                            Client.legal_last_name).where(Client.status == "active")
    if not sees_all_clients(current_user):
        clients = clients.where(Client.id.in_(caseload_query(current_user)))
    form.client_id.choices = [(c.id, c.display_name) for c in
                              clients.order_by(Client.sort_name, Client.id).limit(1000)]
    form.clinician_id.choices = [(0, "Any clinician")] + [
        (p.id, p.display_name if hasattr(p, "display_name") else p.full_name)
        for p in calendar.clinicians_for(current_user)]
    if form.validate_on_submit():
        try:
            waitlist.add_to_waitlist(current_user, form.client_id.data,
                                     form.clinician_id.data or None,
                                     form.preferences.data or "")
        except waitlist.InvalidWaitlistEntry as exc:
            form.preferences.errors = [str(exc)]
        else:
            flash("Added to the waitlist.", "success")
            return redirect(url_for("scheduling.waitlist_page"))
    status = 422 if request.method == "POST" else 200
    return render_template("scheduling/waitlist_new.html", form=form), status
