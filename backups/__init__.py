"""Encrypted backups: snapshot, encrypt, verify, restore, prune (the backups issue)."""
