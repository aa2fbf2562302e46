"""Version 2: a normalised search column so name-fragment search reads one narrow index."""

from __future__ import annotations

import unicodedata
from typing import Any

VERSION = 2
DESCRIPTION = "client search text"


def fold(text: str) -> str:
    """Lower-case without accents: 'José' and 'jose' find each other (frozen copy)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def apply(database: Any) -> None:
    database.execute_sql(
        'ALTER TABLE "client" ADD COLUMN "search_text" VARCHAR(400) NOT NULL DEFAULT \'\''
    )
    rows = database.execute_sql(
        'SELECT "id", "legal_first_name", "legal_middle_name", "legal_last_name", '
        '"preferred_name" FROM "client"'
    ).fetchall()
    for client_id, first, middle, last, preferred in rows:
        text = " ".join(fold(part) for part in (first, middle, last, preferred) if part)
        database.execute_sql(
            'UPDATE "client" SET "search_text" = ? WHERE "id" = ?', (text, client_id)
        )
    database.execute_sql('CREATE INDEX "client_search_text" ON "client" ("search_text")')
