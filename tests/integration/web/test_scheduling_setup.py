"""Scheduling setup pages: appointment types and rooms in the admin console, a
clinician's working hours and time off, and adding a client to the waitlist.

Each page: the happy path (saved and audited), bad input refused with a message and
nothing changed, and the roles that may not use it refused with 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from appliance import storage
from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import audit_entries, page_token, words_of
from webapp.scheduling import practice
from webapp.scheduling.models import AppointmentType, Room, TimeOff, WaitlistEntry, WorkingHours

TYPE = {"name": "Individual 53+ min", "duration_minutes": "53", "cpt_code": "90837",
        "modifiers": "", "modality": "in_person", "format": "individual",
        "colour": "#4a6fa5", "active": "y"}


def post(team: Team, who: str, url: str, data: dict[str, Any], token_from: str) -> Any:
    browser = team.browser(who)
    return browser.post(url, data={"csrf_token": page_token(browser, token_from), **data})


def count(model: Any) -> int:
    with storage.db.connection_context():
        return int(model.select().count())


# -- appointment types ------------------------------------------------------------------

def test_admin_adds_edits_and_deactivates_an_appointment_type(team: Team) -> None:
    new = "/admin/scheduling/types/new"
    added = post(team, "root", new, TYPE, new)
    assert added.status_code == 302
    with storage.db.connection_context():
        kind = AppointmentType.get(AppointmentType.name == "Individual 53+ min")
        assert (kind.duration_minutes, kind.cpt_code, kind.active) == (53, "90837", True)
        assert [e.action for e in audit_entries(object_type="appointment_type")] == ["create"]
    edit = f"/admin/scheduling/types/{kind.id}"
    assert "Individual 53+ min" in words_of(team.browser("root").get(edit))
    changed = post(team, "root", edit, {**TYPE, "modality": "video", "modifiers": "95",
                                       "active": ""}, edit)
    assert changed.status_code == 302
    with storage.db.connection_context():
        kind = AppointmentType.get_by_id(kind.id)
        assert (kind.modality, kind.modifiers, kind.active) == ("video", "95", False)
        assert [e.action for e in audit_entries(object_type="appointment_type")] == [
            "create", "update"]
    listing = words_of(team.browser("root").get("/admin/scheduling/"))
    assert "No (deactivated)" in listing


def test_a_bad_appointment_type_is_refused_with_a_message_and_nothing_saved(
        team: Team) -> None:
    new = "/admin/scheduling/types/new"
    for bad, message in (({"duration_minutes": "2"}, "A session lasts 5 minutes to 8 hours."),
                         ({"modifiers": "95, ZZ"}, "Up to 4 of"),
                         ({"colour": "blue"}, "A colour like #4a6fa5."),
                         ({"name": ""}, "Give the type a name")):
        refused = post(team, "root", new, {**TYPE, **bad}, new)
        assert refused.status_code == 400
        assert message in words_of(refused)
    assert count(AppointmentType) == 0
    post(team, "root", new, TYPE, new)
    duplicate = post(team, "root", new, TYPE, new)
    assert "There is already a type with that name." in words_of(duplicate)
    assert count(AppointmentType) == 1
    with storage.db.connection_context():
        assert len(audit_entries(object_type="appointment_type")) == 1


def test_only_the_admin_sets_up_types_and_rooms(team: Team) -> None:
    for who in ("ada", "sam", "bill", "fran"):
        browser = team.browser(who)
        assert browser.get("/admin/scheduling/").status_code == 403
        assert browser.get("/admin/scheduling/types/new").status_code == 403
        token = page_token(browser, "/account")
        assert browser.post("/admin/scheduling/types/new",
                            data={"csrf_token": token, **TYPE}).status_code == 403
        assert browser.post("/admin/scheduling/rooms",
                            data={"csrf_token": token, "name": "Room 9"}).status_code == 403
    assert count(AppointmentType) == 0
    assert count(Room) == 0


# -- rooms -------------------------------------------------------------------------------

def test_admin_adds_deactivates_and_reactivates_a_room(team: Team) -> None:
    page = "/admin/scheduling/"
    assert post(team, "root", "/admin/scheduling/rooms", {"name": " Room  1 "},
                page).status_code == 302
    with storage.db.connection_context():
        room = Room.get(Room.name == "Room 1")
    toggle = f"/admin/scheduling/rooms/{room.id}/active"
    assert post(team, "root", toggle, {}, page).status_code == 302
    with storage.db.connection_context():
        assert Room.get_by_id(room.id).active is False
    post(team, "root", toggle, {}, page)
    with storage.db.connection_context():
        assert Room.get_by_id(room.id).active is True
        assert [e.action for e in audit_entries(object_type="room")] == [
            "create", "update", "update"]
    token = page_token(team.browser("fran"), "/account")
    assert team.browser("fran").post(toggle, data={"csrf_token": token}).status_code == 403


def test_a_bad_room_is_refused_with_a_message(team: Team) -> None:
    page = "/admin/scheduling/"
    empty = post(team, "root", "/admin/scheduling/rooms", {"name": "  "}, page)
    assert empty.status_code == 400 and "Give the room a name" in words_of(empty)
    post(team, "root", "/admin/scheduling/rooms", {"name": "Room 1"}, page)
    again = post(team, "root", "/admin/scheduling/rooms", {"name": "Room 1"}, page)
    assert again.status_code == 400
    assert "There is already a room with that name." in words_of(again)
    assert count(Room) == 1


# -- working hours and time off --------------------------------------------------------

HOURS = {"day0_from": "09:00", "day0_to": "17:00", "day2_from": "12:00", "day2_to": "20:00"}


def test_a_clinician_sets_their_own_working_hours(team: Team) -> None:
    ada = team.user("ada")
    url = f"/schedule/clinicians/{ada.id}/hours"
    saved = post(team, "ada", url, HOURS, url)
    assert saved.status_code == 302
    with storage.db.connection_context():
        rows = sorted((h.weekday, h.starts, h.ends) for h in
                      WorkingHours.select().where(WorkingHours.clinician == ada.id))
        assert rows == [(0, "09:00", "17:00"), (2, "12:00", "20:00")]
        assert [e.action for e in audit_entries(object_type="working_hours")] == ["update"]
    page = team.browser("ada").get(url)
    assert 'value="09:00"' in page.get_data(as_text=True)
    # the front desk and Ada's supervisor may set them too
    assert post(team, "fran", url, HOURS, url).status_code == 302
    assert post(team, "sam", url, HOURS, url).status_code == 302


def test_bad_working_hours_change_nothing(team: Team) -> None:
    ada = team.user("ada")
    url = f"/schedule/clinicians/{ada.id}/hours"
    post(team, "ada", url, HOURS, url)
    for bad, message in (({"day1_from": "17:00", "day1_to": "09:00"},
                          "Tuesday: the hours start before they end."),
                         ({"day1_from": "9am", "day1_to": "17:00"},
                          "Tuesday: give both times as HH:MM"),
                         ({"day1_from": "09:00"}, "Tuesday: give both times")):
        refused = post(team, "ada", url, {**HOURS, **bad}, url)
        assert refused.status_code == 422
        assert message in words_of(refused)
    with storage.db.connection_context():
        assert WorkingHours.select().where(WorkingHours.clinician == ada.id).count() == 2
        assert len(audit_entries(object_type="working_hours")) == 1


def test_working_hours_of_another_calendar_or_by_a_biller_are_refused(team: Team) -> None:
    ben = team.user("ben")
    url = f"/schedule/clinicians/{ben.id}/hours"
    for who in ("ada", "sam", "bill"):  # Sam does not supervise Ben
        assert team.browser(who).get(url).status_code == 403
        token = page_token(team.browser(who), "/account")
        assert team.browser(who).post(url, data={"csrf_token": token, **HOURS}
                                      ).status_code == 403
        assert team.browser(who).post(f"/schedule/clinicians/{ben.id}/time-off", data={
            "csrf_token": token, "starts_on": "2026-12-01", "ends_on": "2026-12-02"}
        ).status_code == 403
    assert count(WorkingHours) == 0
    assert count(TimeOff) == 0


def test_time_off_is_entered_in_local_time_and_stored_in_utc(team: Team) -> None:
    ada = team.user("ada")
    url = f"/schedule/clinicians/{ada.id}/time-off"
    page = f"/schedule/clinicians/{ada.id}/hours"
    added = post(team, "fran", url, {"starts_on": "2026-12-21", "ends_on": "2026-12-25",
                                     "reason": "Holiday"}, page)
    assert added.status_code == 302
    afternoon = post(team, "ada", url, {"starts_on": "2026-12-01", "starts_time": "13:00",
                                        "ends_on": "2026-12-01", "ends_time": "17:00"}, page)
    assert afternoon.status_code == 302
    with storage.db.connection_context():
        rows = [(t.starts_at, t.ends_at, t.reason) for t in
                TimeOff.select().order_by(TimeOff.starts_at)]
        assert rows == [(datetime(2026, 12, 1, 18), datetime(2026, 12, 1, 22), ""),
                        (datetime(2026, 12, 21, 5), datetime(2026, 12, 26, 5), "Holiday")]
        assert len(audit_entries(object_type="time_off", action="create")) == 2


def test_bad_time_off_is_refused_with_a_message(team: Team) -> None:
    ada = team.user("ada")
    url = f"/schedule/clinicians/{ada.id}/time-off"
    page = f"/schedule/clinicians/{ada.id}/hours"
    backwards = post(team, "ada", url, {"starts_on": "2026-12-05", "ends_on": "2026-12-01"},
                     page)
    assert backwards.status_code == 422
    assert "Time off ends after it starts." in words_of(backwards)
    skipped = post(team, "ada", url, {"starts_on": "2026-03-08", "starts_time": "02:30",
                                      "ends_on": "2026-03-08", "ends_time": "05:00"}, page)
    assert skipped.status_code == 422
    assert "does not exist: the clocks go forward" in words_of(skipped)
    missing = post(team, "ada", url, {"reason": "Away"}, page)
    assert missing.status_code == 422
    assert count(TimeOff) == 0


# -- the waitlist -----------------------------------------------------------------------

def test_adding_a_client_to_the_waitlist(team: Team) -> None:
    url = "/schedule/waitlist/new"
    ben = team.user("ben")
    added = post(team, "fran", url, {"client_id": team.b1, "clinician_id": ben.id,
                                     "preferences": "Tue mornings"}, url)
    assert added.status_code == 302
    mine = post(team, "ada", url, {"client_id": team.a1, "clinician_id": 0}, url)
    assert mine.status_code == 302
    with storage.db.connection_context():
        rows = [(e.client_id, e.clinician_id, e.preferences) for e in
                WaitlistEntry.select().order_by(WaitlistEntry.id)]
        assert rows == [(team.b1, ben.id, "Tue mornings"), (team.a1, None, "")]
        assert [e.client_id for e in audit_entries(object_type="waitlist_entry")] == [
            team.b1, team.a1]
    assert "Beatrix" in words_of(team.browser("fran").get("/schedule/waitlist"))
    ada = team.user("ada")
    post(team, "ada", f"/schedule/clinicians/{ada.id}/time-off", {
        "starts_on": "2099-01-02", "ends_on": "2099-01-02", "reason": "Conference"},
        "/schedule/waitlist")
    assert "Conference" in words_of(team.browser("ada").get(f"/schedule/clinicians/{ada.id}/hours"))


def test_waitlist_refuses_bad_input_other_caseloads_and_the_biller(team: Team) -> None:
    url = "/schedule/waitlist/new"
    too_long = post(team, "fran", url, {"client_id": team.b1, "clinician_id": 0,
                                        "preferences": "x" * 201}, url)
    assert too_long.status_code == 422
    assert "200 characters" in words_of(too_long)
    # Ben's client is not offered to Ada, and posting it anyway is refused
    assert "Beatrix" not in words_of(team.browser("ada").get(url))
    outside = post(team, "ada", url, {"client_id": team.b1, "clinician_id": 0}, url)
    assert outside.status_code == 422
    assert team.browser("bill").get(url).status_code == 403
    assert count(WaitlistEntry) == 0


def test_setup_functions_audit_once_per_change(team: Team) -> None:
    """The pages reuse the service: one entry per change, nothing extra from the view."""
    with storage.db.connection_context():
        room = practice.add_room(team.user("root"), "Room 3")
        practice.update_room(team.user("root"), room.id, name="Room Three")
        assert Room.get_by_id(room.id).name == "Room Three"
        assert len(audit_entries(object_type="room")) == 2
