"""Client (patient) records: demographics, contacts, guardians, insurance, clinicians."""
