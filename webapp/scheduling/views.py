"""Calendar pages: the front desk's day, a clinician's day and week, the appointment form,
status changes, cancellation (with the waitlist's matches) and the waitlist."""

from __future__ import annotations

from datetime import date, timedelta
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
from webapp.scheduling import calendar, service, waitlist
from webapp.scheduling.forms import AppointmentForm, CancelForm, OfferForm, StatusForm
from webapp.scheduling.models import STATUS_LABELS, AppointmentType, Room
from webapp.scheduling.recurrence import to_local
from webapp.scheduling.scope import shows_clinical

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
