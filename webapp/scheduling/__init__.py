"""Scheduling: appointments, series, availability, waitlist."""
