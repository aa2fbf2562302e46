"""Demo clinical notes: an intake, signed progress notes and a draft for a few clients of
each clinician. Fictional and brief, but written the way a progress note reads."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from webapp.clients.demo import ANCHOR
from webapp.clients.models import Client, ClinicianAssignment
from webapp.notes.models import ClinicalNote

CLIENTS_PER_CLINICIAN = 2

INTAKES = (
    "Client presents for intake reporting low mood, poor sleep and loss of interest in usual "
    "activities for about three months, since a job loss. Denies suicidal ideation, intent or "
    "plan; no history of attempts. PHQ-9: 14 (moderate). Strengths: supportive partner, stable "
    "housing, prior good response to therapy.\n"
    "Plan: weekly individual CBT; begin behavioral activation; repeat PHQ-9 in four weeks.",
    "Client presents for intake with worry that is hard to control, muscle tension and "
    "irritability, worse over the past six months with caregiving for a parent. GAD-7: 13 "
    "(moderate). No safety concerns reported; denies substance use beyond one coffee a day.\n"
    "Plan: weekly sessions; psychoeducation on anxiety; introduce worry scheduling and "
    "diaphragmatic breathing; repeat GAD-7 monthly.",
)
PROGRESS = (
    "Client reports completing three of four planned activities this week and notes slightly "
    "better mood on days with a walk. Sleep still broken. Reviewed activity log; identified "
    "'all-or-nothing' thinking around job applications. No safety concerns.\n"
    "Plan: continue activation; thought record for one stressful situation before next session.",
    "Client used worry time on four days and reports worry 'shrinking' outside it. Practiced "
    "breathing in session; client rated tension 6/10 before and 3/10 after. Discussed setting a "
    "limit with a sibling about caregiving shifts.\n"
    "Plan: role-play the conversation next week; continue worry scheduling.",
    "Client arrived on time and engaged well. Reports a difficult week after a family argument; "
    "coped by calling a friend rather than withdrawing, which client noticed as a change. "
    "Mood 5/10 (last week 4/10). Denies suicidal ideation.\n"
    "Plan: continue weekly CBT; review coping card; PHQ-9 next session.",
)
DRAFTS = (
    "Client reports a better week overall. Discussed relapse-prevention signs and what to do "
    "if sleep slips again. [Finish before signing: add PHQ-9 score and plan.]",
    "Brief session focused on an upcoming interview; rehearsed answers and a grounding "
    "exercise. [Finish before signing.]",
)


def load_notes(rng: random.Random, context: dict[str, Any]) -> str:
    rows = []
    clinician_ids = sorted({a.clinician_id for a in ClinicianAssignment.select(
        ClinicianAssignment.clinician).where(ClinicianAssignment.is_primary == True)})  # noqa: E712
    for clinician_id in clinician_ids:
        clients = list(Client.select(Client.id).join(ClinicianAssignment).where(
            (ClinicianAssignment.clinician == clinician_id) & (Client.status == "active"))
            .order_by(Client.id).limit(CLIENTS_PER_CLINICIAN))
        for client in clients:
            start = ANCHOR - timedelta(days=rng.randrange(35, 70))
            sessions = [("intake", start, rng.choice(INTAKES), "signed")]
            for week in (1, 2):
                sessions.append(("progress", start + timedelta(weeks=week),
                                 rng.choice(PROGRESS), "signed"))
            sessions.append(("progress", start + timedelta(weeks=3), rng.choice(DRAFTS),
                             "draft"))
            if rng.random() < 0.5:
                sessions.append(("contact", start + timedelta(weeks=2, days=3),
                                 "Phone contact: client called to move next week's session. "
                                 "Reports coping well; no safety concerns raised.", "signed"))
            for kind, day, body, status in sessions:
                written = datetime.combine(day, time(17, 0))
                rows.append(dict(client=client.id, author=clinician_id, kind=kind,
                                 session_date=day, body=body, status=status,
                                 signed_at=written if status == "signed" else None,
                                 created_at=written, updated_at=written))
    for start_at in range(0, len(rows), 500):
        ClinicalNote.insert_many(rows[start_at:start_at + 500]).execute()
    drafts = sum(row["status"] == "draft" for row in rows)
    return f"{len(rows)} clinical notes ({drafts} drafts)"
