"""The password rules from NIST SP 800-63B, for staff and portal accounts alike.

    problems("correct horse battery staple", username="jchen")  # -> [] when fine

Length is what matters: a minimum the practice sets (default 12), at least 64
characters accepted, any characters (spaces and emoji too), no composition
rules and no forced rotation. A password that attackers try first (the shipped
list of about 140,000 common and breached passwords, `data/README.md`) or one
made of the person's own name is refused.
"""

from __future__ import annotations

import gzip
import unicodedata
from pathlib import Path

from webapp.core import practice_settings

MAX_LENGTH = 256  # well past the 64 NIST asks us to accept; bounds argon2's input
COMMON_LIST = Path(__file__).parent / "data" / "common-passwords.txt.gz"


def _normalise(password: str) -> str:
    # NIST asks for NFKC/NFKD normalisation so the same password typed on two
    # keyboards matches; we compare the lower-cased form against the list.
    return unicodedata.normalize("NFKC", password)


def is_common(password: str) -> bool:
    """On the shipped list? Loaded per call (~60 ms) and dropped, not kept in every worker."""
    wanted = _normalise(password).casefold()
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as listed:
        return any(line.rstrip("\n") == wanted for line in listed)


def problems(password: str, *, username: str = "", full_name: str = "",
             email: str = "", min_length: int | None = None) -> list[str]:
    """What is wrong with this password, as sentences for the form; empty when it is fine."""
    minimum = min_length if min_length is not None else practice_settings.get(
        "password_min_length")
    text = _normalise(password)
    length = len(text)
    if length < minimum:
        return [f"Use at least {minimum} characters; a few unrelated words make a strong, "
                "memorable password."]
    if length > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    if len(set(text)) < 3:
        return ["That password repeats the same few characters; choose something less "
                "predictable."]
    folded = text.casefold()
    personal = {username.casefold(), email.casefold(), email.split("@")[0].casefold(),
                full_name.casefold(), full_name.replace(" ", "").casefold()}
    squeezed = "".join(folded.split())
    if any(p and len(p) >= 3 and (folded == p or squeezed == p or
                                   squeezed.strip("0123456789!.") == p) for p in personal):
        return ["Don't use your own name, username or e-mail address as your password."]
    if is_common(text):
        return ["That password is on a list of passwords attackers try first. Choose "
                "another one."]
    return []
