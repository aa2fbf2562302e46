"""The password policy (NIST 800-63B): length, the shipped common list, no personal names."""

from __future__ import annotations

import gzip

import pytest

from webapp.core.password_policy import COMMON_LIST, MAX_LENGTH, is_common, problems


def test_the_shipped_list_has_at_least_100000_entries_and_is_compact() -> None:
    """Is the list of common passwords as large as the issue asks, and stored small?"""
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as listed:
        entries = [line.rstrip("\n") for line in listed if line.strip()]
    assert len(entries) >= 100_000
    assert len(set(entries)) == len(entries)
    assert entries == sorted(entries, key=lambda e: e.encode())
    assert COMMON_LIST.stat().st_size < 1_000_000


@pytest.mark.parametrize("password", ["password1234", "Qwertyuiop123", "ILOVEYOU1234",
                                      "123456789012", "passwordpassword"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert is_common(password)
    assert problems(password, min_length=12) == [
        "That password is on a list of passwords attackers try first. Choose another one."]


def test_a_long_uncommon_password_passes_without_composition_rules() -> None:
    """Lower-case words with spaces: no digit, capital or symbol demanded."""
    assert problems("tangerine lighthouse quietly", min_length=12) == []
    assert problems("ünïcödé kéyboard wörds 🔥", min_length=12) == []


def test_length_minimum_and_maximum() -> None:
    assert "at least 13 characters" in problems("short phrase", min_length=13)[0]
    phrase = "the heron waits by the cold river for the silver fish to pass by"
    assert len(phrase) == 64
    assert problems(phrase, min_length=12) == []  # 64 accepted, as NIST asks
    assert problems(phrase * 3, min_length=12) == []  # 192 too
    assert "at most" in problems("abc" * MAX_LENGTH, min_length=12)[0]


def test_repeated_characters_and_personal_names_are_refused() -> None:
    assert "repeats" in problems("aaaaaaaaaaaaaaaa", min_length=12)[0]
    assert "own name" in problems("Julia Chen", full_name="Julia Chen", min_length=8)[0]
    assert "own name" in problems("julia.chen.lcsw@practice.example",
                                  email="julia.chen.lcsw@practice.example", min_length=8)[0]
    assert "own name" in problems("jchenjchenjchen2026", username="jchenjchenjchen",
                                  min_length=8)[0]
