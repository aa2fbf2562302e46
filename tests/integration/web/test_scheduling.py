"""Scheduling: time zones and DST, series edits, conflicts, availability, statuses, the
waitlist, who sees which calendar, and the audit entries it all writes.

The practice is in America/New_York: in 2026 the clocks go forward on Sunday March 8
and back on Sunday November 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from appliance import storage
from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import audit_entries, page_token, words_of
from webapp.revisions.models import Revision
from webapp.scheduling import calendar, practice, service, waitlist
from webapp.scheduling.models import (
    Appointment,
    AppointmentType,
    Series,
    SeriesException,
)
from webapp.scheduling.recurrence import day_bounds, to_local
from webapp.scheduling.scope import CalendarDenied

ZONE = "America/New_York"
MONDAY = date(2026, 3, 2)  # the week before the spring change


@pytest.fixture
def sched(team: Team) -> Iterator[dict[str, Any]]:
    """Types and rooms set up by the admin; the database open for service calls."""
    with storage.db.connection_context():
        admin = team.user("root")
        kinds = {
            "individual": practice.save_appointment_type(admin, {
                "name": "Individual 45", "duration_minutes": 50, "cpt_code": "90834",
                "modifiers": "", "modality": "in_person", "format": "individual"}),
            "video": practice.save_appointment_type(admin, {
                "name": "Video 60", "duration_minutes": 60, "cpt_code": "90837",
                "modifiers": "95", "modality": "video", "format": "individual"}),
            "group": practice.save_appointment_type(admin, {
                "name": "DBT skills group", "duration_minutes": 90, "cpt_code": "90853",
                "format": "group"}),
        }
        rooms = {"one": practice.add_room(admin, "Room 1"),
                 "two": practice.add_room(admin, "Room 2")}
        yield {"types": kinds, "rooms": rooms}


def values(team: Team, sched: dict[str, Any], clinician: str, clients: list[int], day: date,
           start: time, kind: str = "individual", room: str | None = None,
           **more: Any) -> dict[str, Any]:
    return {"clinician_id": team.user(clinician).id,
            "appointment_type_id": sched["types"][kind].id,
            "room_id": sched["rooms"][room].id if room else 0, "client_ids": clients,
            "date": day, "start_time": start, **more}


def local_starts(appointments: list[Appointment]) -> list[datetime]:
    return [to_local(a.starts_at, ZONE) for a in appointments]


# -- time zones and daylight saving -------------------------------------------------

def test_weekly_series_keeps_ten_oclock_across_spring_forward(team: Team, sched: Any) -> None:
    """Does a weekly 10:00 series stay at 10:00 local when the clocks go forward, its UTC
    time moving from 15:00 to 14:00?"""
    booked = service.book(team.user("ada"), values(team, sched, "ada", [team.a1], MONDAY,
                                                   time(10), repeat="weekly", count=4))
    assert [a.starts_at.hour for a in booked] == [15, 14, 14, 14]
    assert {(t.hour, t.minute) for t in local_starts(booked)} == {(10, 0)}
    assert [t.date() for t in local_starts(booked)] == [
        MONDAY + timedelta(weeks=n) for n in range(4)]
    assert all(a.ends_at - a.starts_at == timedelta(minutes=50) for a in booked)


def test_weekly_series_keeps_ten_oclock_across_fall_back(team: Team, sched: Any) -> None:
    """Does the same hold in November, UTC moving from 14:00 to 15:00?"""
    booked = service.book(team.user("ada"), values(team, sched, "ada", [team.a1],
                                                   date(2026, 10, 19), time(10),
                                                   repeat="weekly", count=4))
    assert [a.starts_at.hour for a in booked] == [14, 14, 15, 15]
    assert {(t.hour, t.minute) for t in local_starts(booked)} == {(10, 0)}


def test_a_time_the_clocks_skip_is_refused(team: Team, sched: Any) -> None:
    """Is 2:30 AM on March 8 (which never happens) refused with a message saying so?"""
    with pytest.raises(service.InvalidAppointment) as refused:
        service.book(team.user("fran"), values(team, sched, "ada", [team.a1],
                                               date(2026, 3, 8), time(2, 30)))
    assert "does not exist" in refused.value.errors["date"]
    assert Appointment.select().count() == 0


def test_a_time_the_clocks_repeat_is_refused(team: Team, sched: Any) -> None:
    """Is 1:30 AM on November 1 (which happens twice) refused rather than guessed?"""
    with pytest.raises(service.InvalidAppointment) as refused:
        service.book(team.user("fran"), values(team, sched, "ada", [team.a1],
                                               date(2026, 11, 1), time(1, 30)))
    assert "happens twice" in refused.value.errors["date"]
    assert "Nov 1, 2026 at 1:30 AM" in refused.value.errors["date"]
    assert Appointment.select().count() == 0


def test_an_appointment_over_the_fall_back_hour_lasts_its_real_length(team: Team,
                                                                     sched: Any) -> None:
    """Does a 12:30 AM session of 120 minutes on November 1 last two real hours (ending
    at 1:30 AM standard time), stored unambiguously in UTC?"""
    [booked] = service.book(team.user("fran"), values(
        team, sched, "ada", [team.a1], date(2026, 11, 1), time(0, 30), duration_minutes=120))
    assert booked.starts_at == datetime(2026, 11, 1, 4, 30)
    assert booked.ends_at == datetime(2026, 11, 1, 6, 30)
    assert to_local(booked.ends_at, ZONE) == datetime(2026, 11, 1, 1, 30)


def test_clock_change_days_are_23_and_25_hours_long() -> None:
    """Do the day views cover the whole local day on the change days?"""
    spring = day_bounds(date(2026, 3, 8), ZONE)
    autumn = day_bounds(date(2026, 11, 1), ZONE)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


# -- series ------------------------------------------------------------------------

def series_of(team: Team, sched: Any, count: int = 6, **more: Any) -> list[Appointment]:
    options = {"repeat": "weekly", "count": count, **more}
    return service.book(team.user("ada"), values(team, sched, "ada", [team.a1], MONDAY,
                                                 time(10), **options))


def test_every_two_weeks_and_monthly_and_the_cap(team: Team, sched: Any) -> None:
    """Do 'every 2 weeks' and 'monthly' follow the rule, and is a 53rd occurrence refused?"""
    fortnightly = series_of(team, sched, count=3, repeat="every_n_weeks", interval=2)
    assert [t.date() for t in local_starts(fortnightly)] == [
        MONDAY, MONDAY + timedelta(weeks=2), MONDAY + timedelta(weeks=4)]
    monthly = service.book(team.user("ada"), values(team, sched, "ada", [team.a2],
                                                    date(2026, 1, 15), time(15),
                                                    repeat="monthly", count=3))
    assert [t.date() for t in local_starts(monthly)] == [
        date(2026, 1, 15), date(2026, 2, 15), date(2026, 3, 15)]
    with pytest.raises(service.InvalidAppointment) as refused:
        series_of(team, sched, count=53)
    assert "52" in refused.value.errors["count"]


def test_edit_this_one_moves_only_it_and_records_the_exception(team: Team, sched: Any) -> None:
    """Does 'this one' move a single occurrence and leave a 'moved' exception?"""
    booked = series_of(team, sched)
    third = booked[2]
    service.reschedule(team.user("ada"), third.id, values(
        team, sched, "ada", [team.a1], MONDAY + timedelta(weeks=2), time(11)), scope="this")
    after = list(Appointment.select().order_by(Appointment.id))
    hours = [t.hour for t in local_starts(after)]
    assert hours == [10, 10, 11, 10, 10, 10]
    [exception] = SeriesException.select()
    assert (exception.occurrence_index, exception.kind) == (2, "moved")
    assert to_local(exception.original_starts_at, ZONE).hour == 10


def test_edit_this_and_following_splits_the_series(team: Team, sched: Any) -> None:
    """Does 'this and following' move the third occurrence onwards to 2 PM (across the
    spring change) as a new series, and leave the first two at 10 AM in the old one?"""
    booked = series_of(team, sched)
    service.reschedule(team.user("ada"), booked[2].id, values(
        team, sched, "ada", [team.a1], MONDAY + timedelta(weeks=2), time(14), room="one"),
        scope="following")
    after = list(Appointment.select().order_by(Appointment.starts_at))
    assert [t.hour for t in local_starts(after)] == [10, 10, 14, 14, 14, 14]
    assert [t.date() for t in local_starts(after)] == [
        MONDAY + timedelta(weeks=n) for n in range(6)]
    old, new = list(Series.select().order_by(Series.id))
    assert (old.count, new.count) == (2, 4)
    assert [(a.series_id, a.occurrence_index) for a in after] == [
        (old.id, 0), (old.id, 1), (new.id, 0), (new.id, 1), (new.id, 2), (new.id, 3)]
    assert [a.room_id for a in after] == [None, None] + [sched["rooms"]["one"].id] * 4


def test_edit_all_moves_every_open_occurrence_and_keeps_cancelled_ones(team: Team,
                                                                     sched: Any) -> None:
    """Does 'all' move every still-scheduled occurrence to Tuesdays at 9 AM, leaving a
    cancelled one where it was and clearing 'moved' exceptions?"""
    booked = series_of(team, sched, count=4)
    service.change_status(team.user("ada"), booked[1].id, "cancelled_client", "Travelling")
    service.reschedule(team.user("ada"), booked[3].id, values(
        team, sched, "ada", [team.a1], MONDAY + timedelta(weeks=3), time(16)), scope="this")
    service.reschedule(team.user("ada"), booked[2].id, values(
        team, sched, "ada", [team.a1], MONDAY + timedelta(weeks=2, days=1), time(9)),
        scope="all")
    after = {a.occurrence_index: a for a in Appointment.select()}
    tuesday = MONDAY + timedelta(days=1)
    assert to_local(after[0].starts_at, ZONE) == datetime.combine(tuesday, time(9))
    assert to_local(after[1].starts_at, ZONE) == datetime.combine(
        MONDAY + timedelta(weeks=1), time(10))  # cancelled: left alone
    assert to_local(after[3].starts_at, ZONE) == datetime.combine(
        tuesday + timedelta(weeks=3), time(9))
    assert [(e.occurrence_index, e.kind) for e in SeriesException.select()] == [(1, "skipped")]
    assert Series.get().starts_local == datetime.combine(tuesday, time(9))


def test_cancel_one_occurrence_skips_it_and_extend_adds_more(team: Team, sched: Any) -> None:
    """Does cancelling one occurrence mark it skipped, and does extending add occurrences
    that continue the rule at 10 AM?"""
    booked = series_of(team, sched, count=3)
    service.change_status(team.user("ada"), booked[1].id, "cancelled_practice",
                          "Clinician ill")
    assert [(e.occurrence_index, e.kind) for e in SeriesException.select()] == [(1, "skipped")]
    more = service.extend_series(team.user("ada"), booked[0].series_id, 2)
    assert [a.occurrence_index for a in more] == [3, 4]
    assert [t for t in local_starts(more)] == [
        datetime.combine(MONDAY + timedelta(weeks=n), time(10)) for n in (3, 4)]
    assert Series.get().count == 5
    with pytest.raises(service.InvalidAppointment):
        service.extend_series(team.user("ada"), booked[0].series_id, 53)


def test_cancel_this_and_following(team: Team, sched: Any) -> None:
    booked = series_of(team, sched, count=4)
    service.change_status(team.user("fran"), booked[2].id, "cancelled_client", "Moving away",
                          scope="following")
    assert [a.status for a in Appointment.select().order_by(Appointment.occurrence_index)] == [
        "scheduled", "scheduled", "cancelled_client", "cancelled_client"]


# -- conflicts -----------------------------------------------------------------------

def test_a_clinician_cannot_be_double_booked(team: Team, sched: Any) -> None:
    """Is a second appointment overlapping Ada's 10:00 refused, naming the conflict kind and
    time, and the other client only because Ada may see her?"""
    service.book(team.user("ada"), values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    with pytest.raises(service.DoubleBooked) as refused:
        service.book(team.user("ada"), values(team, sched, "ada", [team.a2], MONDAY,
                                              time(10, 30)))
    [message] = refused.value.messages
    assert message.startswith("Clinician conflict")
    assert "Mon Mar 2, 2026 from 10:00 AM to 10:50 AM" in message
    assert "Amelia Aster" in message
    assert Appointment.select().count() == 1
    # Back to back is fine.
    service.book(team.user("ada"), values(team, sched, "ada", [team.a2], MONDAY, time(10, 50)))


def test_a_room_cannot_be_double_booked_and_hides_names_out_of_scope(team: Team,
                                                                    sched: Any) -> None:
    """Is Room 1 refused to Ada while Ben's client is in it, without naming Ben's client to
    Ada, while the front desk (who sees every client) is told who?"""
    service.book(team.user("ben"), values(team, sched, "ben", [team.b1], MONDAY, time(10),
                                          room="one"))
    with pytest.raises(service.DoubleBooked) as refused:
        service.book(team.user("ada"), values(team, sched, "ada", [team.a1], MONDAY,
                                              time(10, 15), room="one"))
    [message] = refused.value.messages
    assert message.startswith("Room conflict")
    assert "10:00 AM" in message and "Beatrix" not in message and "Bramble" not in message
    with pytest.raises(service.DoubleBooked) as desk_refused:
        service.book(team.user("fran"), values(team, sched, "ada", [team.a1], MONDAY,
                                               time(10, 15), room="one"))
    assert "Beatrix Bramble" in desk_refused.value.messages[0]
    service.book(team.user("ada"), values(team, sched, "ada", [team.a1], MONDAY, time(10, 15),
                                          room="two"))


def test_a_client_cannot_be_double_booked(team: Team, sched: Any) -> None:
    """Is Amelia refused with Ben while she is with Ada at that time?"""
    service.book(team.user("fran"), values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    with pytest.raises(service.DoubleBooked) as refused:
        service.book(team.user("fran"), values(team, sched, "ben", [team.a1], MONDAY,
                                               time(10, 30)))
    [message] = refused.value.messages
    assert message == ("Client conflict: Amelia Aster already has an appointment on "
                       "Mon Mar 2, 2026 from 10:00 AM to 10:50 AM.")


def test_a_cancelled_appointment_frees_the_time(team: Team, sched: Any) -> None:
    [first] = service.book(team.user("fran"), values(team, sched, "ada", [team.a1], MONDAY,
                                                     time(10)))
    service.change_status(team.user("fran"), first.id, "cancelled_client", "Sick")
    [second] = service.book(team.user("fran"), values(team, sched, "ada", [team.a2], MONDAY,
                                                      time(10)))
    with pytest.raises(service.DoubleBooked):  # reinstating would double-book
        service.change_status(team.user("fran"), first.id, "scheduled")
    assert Appointment.get_by_id(first.id).status == "cancelled_client"
    assert second.status == "scheduled"


def test_group_clients_are_not_in_conflict_with_their_own_group(team: Team,
                                                               sched: Any) -> None:
    """May a group session gain a member while its clients stay in it (no conflict with
    itself), while a member elsewhere at that time, or the group's clinician, is refused?"""
    desk = team.user("fran")
    [group] = service.book(desk, values(team, sched, "ada", [team.a1, team.a2], MONDAY,
                                        time(18), kind="group", room="two"))
    service.reschedule(desk, group.id, values(team, sched, "ada", [team.a1, team.a2, team.b1],
                                              MONDAY, time(18), kind="group", room="two"))
    assert sorted(service.client_ids_of(group)) == sorted([team.a1, team.a2, team.b1])
    with pytest.raises(service.DoubleBooked) as member:
        service.book(desk, values(team, sched, "ben", [team.b1], MONDAY, time(18, 30)))
    assert member.value.messages[0].startswith("Client conflict: Beatrix Bramble")
    with pytest.raises(service.DoubleBooked) as clinician:
        service.book(desk, values(team, sched, "ada", [team.s1], MONDAY, time(19)))
    assert clinician.value.messages[0].startswith("Clinician conflict")


def test_client_counts_follow_the_format(team: Team, sched: Any) -> None:
    with pytest.raises(service.InvalidAppointment) as refused:
        service.book(team.user("fran"), values(team, sched, "ada", [team.a1, team.a2],
                                               MONDAY, time(10)))
    assert "1 client" in refused.value.errors["client_ids"]


# -- working hours and time off ---------------------------------------------------------

def test_outside_working_hours_needs_an_override(team: Team, sched: Any) -> None:
    """Is 6 PM refused when Ada works 9 to 5 on Mondays, and booked with a recorded reason
    when the user overrides?"""
    ada = team.user("ada")
    practice.set_working_hours(ada, ada.id, [(0, time(9), time(17))])
    booking = values(team, sched, "ada", [team.a1], MONDAY, time(18))
    with pytest.raises(service.OutsideAvailability) as refused:
        service.book(ada, booking)
    assert "outside the clinician's working hours" in refused.value.messages[0]
    assert Appointment.select().count() == 0
    [booked] = service.book(ada, booking, override_reason="Client works days")
    assert booked.override_reason == "Client works days"
    assert audit_entries(action="override", object_type="appointment")[0].object_id == booked.id
    service.book(ada, values(team, sched, "ada", [team.a2], MONDAY, time(9)))  # inside


def test_time_off_needs_an_override(team: Team, sched: Any) -> None:
    ada = team.user("ada")
    practice.add_time_off(ada, ada.id, datetime(2026, 3, 2, 5), datetime(2026, 3, 3, 5),
                          "Conference")
    booking = values(team, sched, "ada", [team.a1], MONDAY, time(11))
    with pytest.raises(service.OutsideAvailability) as refused:
        service.book(ada, booking)
    assert "time off" in refused.value.messages[0]
    assert service.book(ada, booking, override_reason="Crisis session")[0].override_reason


# -- statuses ---------------------------------------------------------------------------

def test_status_changes_keep_reasons_and_revisions(team: Team, sched: Any) -> None:
    """Do confirmed / no-show / cancelled carry their reasons, refuse a missing one, and add
    a revision each?"""
    desk = team.user("fran")
    [booked] = service.book(desk, values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    service.change_status(desk, booked.id, "confirmed")
    with pytest.raises(service.InvalidAppointment) as refused:
        service.change_status(desk, booked.id, "no_show", "  ")
    assert "no-show" in refused.value.errors["reason"]
    service.change_status(desk, booked.id, "no_show", "Did not answer the phone")
    row = Appointment.get_by_id(booked.id)
    assert (row.status, row.status_reason) == ("no_show", "Did not answer the phone")
    assert row.status_changed_at is not None
    with pytest.raises(service.InvalidAppointment):
        service.change_status(desk, booked.id, "gone_fishing")
    versions = Revision.select().where((Revision.object_type == "appointment")
                                       & (Revision.object_id == booked.id)).count()
    assert versions == 3


# -- types -------------------------------------------------------------------------------

def test_appointment_types_take_psychotherapy_codes_only(team: Team, sched: Any) -> None:
    with pytest.raises(practice.InvalidSetup) as refused:
        practice.save_appointment_type(team.user("root"), {
            "name": "Physical", "duration_minutes": 30, "cpt_code": "99213",
            "modifiers": "95,XX", "colour": "red"})
    assert set(refused.value.errors) == {"cpt_code", "modifiers", "colour"}
    assert AppointmentType.select().count() == 3
    with pytest.raises(Exception):  # noqa: B017 (NotPermitted: the front desk sets no types)
        practice.save_appointment_type(team.user("fran"), {"name": "X", "duration_minutes": 50})


# -- scoping and the pages ----------------------------------------------------------------

def test_a_clinician_sees_only_their_own_calendar(team: Team, sched: Any) -> None:
    """Is Ben's week refused to Ada (and audited), her own shown with billing codes, and
    her supervisor allowed to see it?"""
    service.book(team.user("fran"), values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    ada, ben = team.user("ada"), team.user("ben")
    with pytest.raises(CalendarDenied):
        calendar.week_view(ada, ben.id, MONDAY, ZONE)
    assert audit_entries(action="permission_denied", object_type="schedule")
    own = team.browser("ada").get(f"/schedule/clinicians/{ada.id}/week?date=2026-03-04")
    assert own.status_code == 200
    assert "Amelia Aster" in words_of(own) and "90834" in words_of(own)
    assert team.browser("ada").get(f"/schedule/clinicians/{ben.id}/week").status_code == 403
    supervised = team.browser("sam").get(f"/schedule/clinicians/{ada.id}/day?date=2026-03-02")
    assert supervised.status_code == 200 and "Amelia Aster" in words_of(supervised)
    desk = words_of(team.browser("ada").get("/schedule/?date=2026-03-02"))
    assert "Ada Alvarez" in desk and "Ben Brooks" not in desk


def test_the_front_desk_sees_every_calendar_without_clinical_content(team: Team,
                                                                    sched: Any) -> None:
    desk = team.user("fran")
    service.book(desk, values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    service.book(desk, values(team, sched, "ben", [team.b1], MONDAY, time(10), kind="video"))
    page = team.browser("fran").get("/schedule/?date=2026-03-02")
    assert page.status_code == 200
    text = words_of(page)
    for shown in ("Ada Alvarez", "Ben Brooks", "Amelia Aster", "Beatrix Bramble", "10:00 AM",
                  "Video 60", "Scheduled"):
        assert shown in text
    for hidden in ("90834", "90837", "Billing code"):
        assert hidden not in text
    biller = team.browser("bill").get("/schedule/?date=2026-03-02")
    assert biller.status_code == 200 and "Book an appointment" not in words_of(biller)
    assert team.browser("bill").get("/schedule/appointments/new").status_code == 403


def test_booking_through_the_form_is_audited_and_offers_only_clients_in_scope(
        team: Team, sched: Any) -> None:
    ada = team.browser("ada")
    form_page = ada.get("/schedule/appointments/new")
    select = re.search(r'<select[^>]*name="client_ids".*?</select>',
                       form_page.get_data(as_text=True), re.S)
    assert select
    options = set(re.findall(r'<option[^>]*value="(\d+)"', select.group(0)))
    assert {str(team.a1), str(team.a2)} <= options and str(team.b1) not in options
    token = page_token(ada, "/schedule/appointments/new")
    form = {"csrf_token": token, "clinician_id": team.user("ada").id,
            "appointment_type_id": sched["types"]["individual"].id, "room_id": 0,
            "client_ids": [team.a1], "date": "2026-03-02", "start_time": "10:00",
            "repeat": "none", "scope": "this"}
    posted = ada.post("/schedule/appointments/new", data=form)
    assert posted.status_code == 302, words_of(posted)
    [booked] = Appointment.select()
    [entry] = audit_entries(action="create", object_type="appointment")
    assert (entry.object_id, entry.client_id, entry.actor_id) == (
        booked.id, team.a1, team.user("ada").id)
    clash = ada.post("/schedule/appointments/new", data={**form, "client_ids": [team.a2],
                                                         "start_time": "10:20"})
    assert clash.status_code == 422
    assert "Clinician conflict" in words_of(clash)
    outside = ada.post("/schedule/appointments/new", data={**form, "client_ids": [team.b1]})
    assert outside.status_code == 422 and Appointment.select().count() == 1
    ada.get(f"/schedule/clinicians/{team.user('ada').id}/week?date=2026-03-02")
    assert audit_entries(action="view", object_type="schedule")


def test_cancelling_lists_waitlist_matches_and_offering_is_recorded(team: Team,
                                                                   sched: Any) -> None:
    """Does cancelling Monday's slot show the waitlist's clients who want Mondays first,
    and does 'Mark offered' record the offer?"""
    desk_user = team.user("fran")
    [booked] = service.book(desk_user, values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    later = waitlist.add_to_waitlist(desk_user, team.s1, None, "Thursdays only")
    wanted = waitlist.add_to_waitlist(desk_user, team.a2, team.user("ada").id, "Mon mornings")
    waitlist.add_to_waitlist(desk_user, team.b1, team.user("ben").id, "Mon")  # Ben only
    desk = team.browser("fran")
    url = f"/schedule/appointments/{booked.id}/cancel"
    page = desk.post(url, data={"csrf_token": page_token(desk, url),
                                "status": "late_cancelled", "reason": "Overslept",
                                "scope": "this"})
    assert page.status_code == 200
    text = words_of(page)
    assert text.index("Arlo Ashby") < text.index("Silas Sorrel")
    assert "Beatrix" not in text
    assert Appointment.get_by_id(booked.id).status == "late_cancelled"
    assert audit_entries(action="cancel", object_type="appointment")[0].client_id == team.a1
    offered = desk.post(f"/schedule/waitlist/{wanted.id}/offer",
                        data={"csrf_token": page_token(desk, "/schedule/waitlist")})
    assert offered.status_code == 302
    assert waitlist.WaitlistEntry.get_by_id(wanted.id).offered_at is not None
    assert waitlist.WaitlistEntry.get_by_id(later.id).offered_at is None
    assert audit_entries(action="offer", object_type="waitlist_entry")[0].client_id == team.a2


def test_status_and_edit_pages(team: Team, sched: Any) -> None:
    desk_user = team.user("fran")
    [booked] = service.book(desk_user, values(team, sched, "ada", [team.a1], MONDAY, time(10)))
    desk = team.browser("fran")
    url = f"/schedule/appointments/{booked.id}/edit"
    shown = desk.get(url)
    assert shown.status_code == 200 and "Scheduled" in words_of(shown)
    assert audit_entries(action="view", object_type="appointment")[0].client_id == team.a1
    desk.post(f"/schedule/appointments/{booked.id}/status",
              data={"csrf_token": page_token(desk, url), "status": "arrived", "reason": ""})
    assert Appointment.get_by_id(booked.id).status == "arrived"
    moved = desk.post(url, data={
        "csrf_token": page_token(desk, url), "clinician_id": team.user("ada").id,
        "appointment_type_id": sched["types"]["individual"].id, "room_id": 0,
        "client_ids": [team.a1], "date": "2026-03-03", "start_time": "13:00",
        "duration_minutes": "45", "repeat": "none", "scope": "this"})
    assert moved.status_code == 302, words_of(moved)
    row = Appointment.get_by_id(booked.id)
    assert to_local(row.starts_at, ZONE) == datetime(2026, 3, 3, 13)
    assert row.ends_at - row.starts_at == timedelta(minutes=45)
    assert audit_entries(action="update", object_type="appointment")
