"""The audit trail: every service records through `record()`."""
