"""Scheduling setup in the admin console: appointment types and rooms.

The pages only collect input; `webapp.scheduling.practice` validates and audits.
A type or a room is never deleted (appointments point at it): it is deactivated, and
no longer offered when booking.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from webapp.admin.forms import ConfirmForm
from webapp.admin.views import ConsoleView
from webapp.scheduling import practice
from webapp.scheduling.models import CPT_CODES, AppointmentType, Room

MODALITY_CHOICES = [("in_person", "In person"), ("video", "Video")]
FORMAT_CHOICES = [("individual", "Individual"), ("couples", "Couples"), ("family", "Family"),
                  ("group", "Group")]


class AppointmentTypeForm(FlaskForm):
    """Text fields throughout: `practice.clean_appointment_type` says what is wrong."""

    name = StringField("Name", [Length(max=200)])
    duration_minutes = StringField("Usual length (minutes)", [Length(max=10)], default="50")
    cpt_code = SelectField("Default CPT code", choices=[("", "None")] + [
        (code, code) for code in CPT_CODES], default="")
    modifiers = StringField("Modifiers", [Length(max=40)],
                            description="Comma-separated, up to 4: e.g. 95 for video.")
    modality = SelectField("Where", choices=MODALITY_CHOICES, default="in_person")
    format = SelectField("Format", choices=FORMAT_CHOICES, default="individual")
    colour = StringField("Colour", [Length(max=20)], default="#4a6fa5",
                         description="As on the calendar, e.g. #4a6fa5.")
    active = BooleanField("Offered when booking", default=True)


class RoomForm(FlaskForm):
    name = StringField("Room name", [Length(max=200)])


class SchedulingSetupView(ConsoleView):
    def _index_page(self, room_form: RoomForm, status: int = 200) -> Any:
        kinds = list(AppointmentType.select().order_by(AppointmentType.active.desc(),
                                                        AppointmentType.name))
        rooms = list(Room.select().order_by(Room.active.desc(), Room.name))
        return self.render("admin/scheduling_setup.html", kinds=kinds, rooms=rooms,
                           room_form=room_form, form=ConfirmForm()), status

    @expose("/")
    def index(self) -> Any:
        return self._index_page(RoomForm(formdata=None))

    def _type_page(self, form: AppointmentTypeForm, kind: AppointmentType | None) -> Any:
        if form.validate_on_submit():
            values = {name: getattr(form, name).data for name in
                      ("name", "duration_minutes", "cpt_code", "modifiers", "modality",
                       "format", "colour", "active")}
            try:
                saved = practice.save_appointment_type(current_user, values,
                                                       kind.id if kind else None)
            except practice.InvalidSetup as exc:
                for name, message in exc.errors.items():
                    getattr(form, name).errors = [message]
            else:
                flash(f"{saved.name} saved.", "success")
                return redirect(url_for(".index"))
        status = 400 if form.is_submitted() else 200
        return self.render("admin/scheduling_type.html", form=form, kind=kind), status

    @expose("/types/new", methods=("GET", "POST"))
    def new_type(self) -> Any:
        return self._type_page(AppointmentTypeForm(), None)

    @expose("/types/<int:type_id>", methods=("GET", "POST"))
    def edit_type(self, type_id: int) -> Any:
        kind = AppointmentType.get_or_none(AppointmentType.id == type_id)
        if kind is None:
            abort(404)
        return self._type_page(AppointmentTypeForm(data={
            "name": kind.name, "duration_minutes": str(kind.duration_minutes),
            "cpt_code": kind.cpt_code, "modifiers": kind.modifiers, "modality": kind.modality,
            "format": kind.format, "colour": kind.colour, "active": kind.active}), kind)

    @expose("/rooms", methods=("POST",))
    def add_room(self) -> Any:
        form = RoomForm()
        if form.validate_on_submit():
            try:
                room = practice.add_room(current_user, form.name.data or "")
            except practice.InvalidSetup as exc:
                form.name.errors = list(exc.errors.values())
            else:
                flash(f"{room.name} added.", "success")
                return redirect(url_for(".index"))
        return self._index_page(form, 400)

    @expose("/rooms/<int:room_id>/active", methods=("POST",))
    def toggle_room(self, room_id: int) -> Response:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        room = Room.get_or_none(Room.id == room_id)
        if room is None:
            abort(404)
        practice.update_room(current_user, room_id, active=not room.active)
        flash(f"{room.name} is {'no longer' if room.active else 'again'} offered when booking.",
              "success")
        return redirect(url_for(".index"))
