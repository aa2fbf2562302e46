"""Demo clients: adults and minors with guardians, insured and self-pay, on every caseload."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.clients.service import fold, search_text_for, sort_name_for
from webapp.core.passwords import hash_password
from webapp.core.timeutil import utcnow
from webapp.portal.models import ClientAccount, PortalLink

# Ages are computed from this day so a seed gives the same practice whenever it runs.
ANCHOR = date(2026, 9, 1)

FIRST_NAMES = ["Aaliyah", "Aaron", "Abigail", "Adrian", "Aisha", "Alejandro", "Amara", "Amir", "Ana", "Andre", "Anika", "Ari", "Ava", "Beatriz", "Benjamin", "Bianca", "Caleb", "Camila", "Carlos", "Chloe", "Daniel", "Dev", "Diego", "Elena", "Eli", "Emeka", "Emily", "Esther", "Ethan", "Fatima", "Felix", "Gabriel", "Grace", "Hana", "Hector", "Imani", "Isaac", "Isabella", "Jamal", "Jasmine", "Javier", "Jordan", "José", "Kai", "Keisha", "Kenji", "Layla", "Leah", "Liam", "Lucia", "Malik", "Maya", "Mei", "Miguel", "Mila", "Nadia", "Naomi", "Noah", "Nora", "Omar", "Owen", "Priya", "Quinn", "Rafael", "Rania", "Rosa", "Ruth", "Samir", "Santiago", "Sara", "Sean", "Simone", "Sophia", "Tariq", "Theo", "Valentina", "Wei", "Xavier", "Yara", "Yusuf", "Zoe", "Zara"]
LAST_NAMES = ["Abbott", "Adams", "Ahmed", "Alvarez", "Anderson", "Bailey", "Baker", "Banerjee", "Bennett", "Brooks", "Campbell", "Carter", "Castillo", "Chang", "Cohen", "Collins", "Cruz", "Davis", "Diaz", "Dubois", "Edwards", "Evans", "Fischer", "Flores", "Foster", "García", "Gomez", "Gonzalez", "Green", "Gupta", "Hall", "Harris", "Hernández", "Hill", "Hughes", "Ibrahim", "Jackson", "James", "Jensen", "Johnson", "Kaur", "Kelly", "Kim", "Kowalczyk", "Lee", "Lewis", "Lopez", "Martin", "Martinez", "Mendoza", "Mitchell", "Moore", "Morales", "Murphy", "Nakamura", "Nelson", "Nguyen", "O'Brien", "Okonkwo", "Ortiz", "Park", "Patel", "Perez", "Peterson", "Phillips", "Price", "Ramirez", "Reed", "Rivera", "Roberts", "Robinson", "Rodriguez", "Rossi", "Sanchez", "Shah", "Silva", "Singh", "Smith", "Sullivan", "Tanaka", "Taylor", "Thomas", "Thompson", "Torres", "Turner", "Walker", "Wang", "Ward", "Washington", "White", "Williams", "Wilson", "Wright", "Young", "Zhang"]
PRONOUNS = ("she/her", "he/him", "they/them", "", "", "")
STREETS = ("Maple Ave", "Oak St", "Elm St", "Cedar Ln", "Park Pl", "River Rd", "Hillside Dr",
           "Lincoln Ave", "Church St", "Highland Ave", "Sunset Blvd", "Willow Way")
CITIES = (("Albany", "NY", "122"), ("Troy", "NY", "121"), ("Schenectady", "NY", "123"),
          ("Saratoga Springs", "NY", "128"), ("Bennington", "VT", "052"),
          ("Pittsfield", "MA", "012"))
PAYERS = (("Aetna", "60054"), ("BlueCross BlueShield", "BCBS1"), ("Cigna", "62308"),
          ("UnitedHealthcare", "87726"), ("MVP Health Care", "14165"),
          ("NY Medicaid", "MCDNY"), ("Fidelis Care", "11315"))
ADULT_RELATIONS = ("spouse", "partner", "sister", "brother", "friend", "parent")


def _phone(rng: random.Random) -> str:
    return f"(518) {rng.randrange(200, 999)}-{rng.randrange(0, 10000):04d}"


def _birth_date(rng: random.Random, minor: bool) -> date:
    age_days = rng.randrange(6 * 365, 17 * 365) if minor else rng.randrange(18 * 365 + 5, 78 * 365)
    return ANCHOR - timedelta(days=age_days)


def load_clients(rng: random.Random, context: dict[str, Any]) -> str:
    clinicians = context["clinicians"]
    count = context["client_count"]
    now = utcnow()
    clients, guardians, policies, assignments = [], [], [], []
    minors = insured = 0
    for index in range(count):
        minor = rng.random() < 0.18
        minors += minor
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        preferred = rng.choice(("", "", "", "", first[:3] if len(first) > 4 else ""))
        city, state, zip_prefix = rng.choice(CITIES)
        email = f"{fold(first)}.{fold(last).replace(chr(39), '')}{index}@mail.example"
        consent_email, consent_sms = rng.random() < 0.8, rng.random() < 0.6
        channel = rng.choice(["email"] * consent_email + ["sms"] * consent_sms + ["portal"])
        status = "discharged" if rng.random() < 0.12 else "active"
        client = Client(
            legal_first_name=first, legal_last_name=last, preferred_name=preferred,
            legal_middle_name=rng.choice(("", "", "A.", "Marie", "James", "Lee")),
            pronouns=rng.choice(PRONOUNS), date_of_birth=_birth_date(rng, minor),
            email=email, mobile_phone=_phone(rng), home_phone=rng.choice(("", _phone(rng))),
            preferred_channel=channel, consent_email=consent_email, consent_sms=consent_sms,
            consent_voicemail=rng.random() < 0.5,
            address_line1=f"{rng.randrange(1, 999)} {rng.choice(STREETS)}", city=city,
            state=state, postal_code=f"{zip_prefix}{rng.randrange(0, 100):02d}",
            emergency_name=f"{rng.choice(FIRST_NAMES)} {last}",
            emergency_relationship="parent" if minor else rng.choice(ADULT_RELATIONS),
            emergency_phone=_phone(rng), status=status,
            discharged_on=ANCHOR - timedelta(days=rng.randrange(1, 400)) if status == "discharged" else None,
            discharge_reason="Treatment goals met" if status == "discharged" else "",
            created_at=now, updated_at=now)
        client.search_text = search_text_for(client)
        client.sort_name = sort_name_for(client)
        clients.append(client)
    before = Client.select(Client.id).order_by(Client.id.desc()).limit(1).scalar() or 0
    # Bulk insert in chunks: fast for the 10,000-client benchmark practice too.
    for start in range(0, len(clients), 500):
        chunk = clients[start:start + 500]
        Client.bulk_create(chunk)
    ids = [c.id for c in Client.select(Client.id).where(Client.id > before).order_by(Client.id)]
    for client, client_id in zip(clients, ids, strict=True):
        client.id = client_id
        minor = (ANCHOR - client.date_of_birth).days < 18 * 365
        if minor:
            guardian_first = rng.choice(FIRST_NAMES)
            guardians.append(dict(client=client_id, full_name=f"{guardian_first} {client.legal_last_name}",
                                  relationship=rng.choice(("parent", "parent", "legal guardian", "grandparent")),
                                  phone=_phone(rng), email=f"{fold(guardian_first)}{client_id}@mail.example",
                                  has_legal_authority=True, created_at=now))
        if rng.random() < 0.65:
            insured += 1
            payer, payer_id = rng.choice(PAYERS)
            relation = "child" if minor else rng.choice(("self", "self", "self", "spouse"))
            policies.append(dict(
                client=client_id, rank=1, payer_name=payer, payer_id=payer_id,
                member_id=f"{payer[:1]}{rng.randrange(10**8, 10**9)}",
                group_number=rng.choice(("", f"G{rng.randrange(10000, 99999)}")),
                subscriber_relationship=relation,
                subscriber_first_name="" if relation == "self" else rng.choice(FIRST_NAMES),
                subscriber_last_name="" if relation == "self" else client.legal_last_name,
                subscriber_date_of_birth=None if relation == "self" else ANCHOR - timedelta(days=rng.randrange(25 * 365, 60 * 365)),
                effective_on=date(ANCHOR.year, 1, 1), ends_on=None, created_at=now))
        assignments.append(dict(client=client_id, clinician=rng.choice(clinicians).id,
                                is_primary=True, assigned_at=now))
    for table, rows in ((Guardian, guardians), (InsurancePolicy, policies),
                        (ClinicianAssignment, assignments)):
        for start in range(0, len(rows), 500):
            table.insert_many(rows[start:start + 500]).execute()
    portal = []
    for client in [c for c in clients if c.status == "active"][:5]:
        password = "-".join(rng.choice(("sun", "tide", "fern", "stone", "cloud", "ridge"))
                            for _ in range(4)) + f"-{rng.randrange(10, 99)}"
        account = ClientAccount.create(username=client.email, client=client.id,
                                       password_hash=hash_password(password))
        PortalLink.create(account=account.id, client=client.id)  # what enrolment links
        portal.append({"username": client.email, "password": password, "client_id": client.id})
    context["credentials"]["portal"] = portal
    return (f"{count} clients ({minors} minors with guardians, {insured} insured), "
            f"{len(portal)} portal accounts")
