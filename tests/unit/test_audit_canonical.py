"""The canonical form an audit mac covers: fixed, documented and unambiguous."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from webapp.audit import chain

KEY = bytes(range(32))
ROW = (7, "2026-11-26 10:00:00.123456", "staff", 3, "clinician", "view", "client", 12, 12,
       "10.0.0.5", "a1b2c3", "success")


def test_the_canonical_form_is_the_documented_json_array() -> None:
    assert chain.canonical("ab" * 32, ROW) == (
        '["' + "ab" * 32 + '",7,"2026-11-26 10:00:00.123456","staff",3,"clinician","view",'
        '"client",12,12,"10.0.0.5","a1b2c3","success"]').encode()
    assert chain.canonical("p", ROW) == json.dumps(
        ["p", *ROW], ensure_ascii=True, separators=(",", ":")).encode()
    assert len(chain.FIELDS) == len(ROW) and chain.FIELDS[0] == "id"


def test_the_mac_is_hmac_sha256_over_it() -> None:
    expected = hmac.new(KEY, chain.canonical(chain.GENESIS, ROW), hashlib.sha256).hexdigest()
    assert chain.seal(chain.signer(KEY), chain.GENESIS, ROW) == expected
    long_key = b"k" * 100  # longer than SHA-256's block: hashed first, as RFC 2104 says
    assert chain.Signer(long_key).hexdigest(b"m") == hmac.new(long_key, b"m", "sha256").hexdigest()


@pytest.mark.parametrize(("one", "other"), [
    ((None,), ("",)),          # NULL is not empty text
    ((0,), ("0",)),            # an integer is not its digits
    ((None,), (0,)),
    (("ab", "c"), ("a", "bc")),  # field boundaries cannot move
    (('a","b',), ("a", "b")),    # quotes inside text cannot fake a boundary
    (("é",), ("e",)),
    ((1, 2), (12,)),
])
def test_different_values_never_share_a_canonical_form(one: tuple[object, ...],
                                                        other: tuple[object, ...]) -> None:
    assert chain.canonical("p", one) != chain.canonical("p", other)


def test_every_field_and_the_previous_mac_change_the_mac() -> None:
    base = chain.signer(KEY)
    original = chain.seal(base, chain.GENESIS, ROW)
    assert chain.seal(base, "0" * 63 + "1", ROW) != original
    for index in range(len(ROW)):
        changed = list(ROW)
        changed[index] = None if ROW[index] is not None else 1
        assert chain.seal(base, chain.GENESIS, changed) != original, chain.FIELDS[index]
    assert chain.seal(chain.signer(bytes(32)), chain.GENESIS, ROW) != original


def test_non_ascii_text_is_escaped_so_the_bytes_are_fixed() -> None:
    assert chain.canonical("p", ("Núñez",)) == b'["p","N\\u00fa\\u00f1ez"]'


@pytest.mark.parametrize("value", [float("nan"), b"\x00blob"])
def test_values_no_entry_can_hold_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        chain.canonical("p", (1, value))
