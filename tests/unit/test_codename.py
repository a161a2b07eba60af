"""Codenames: word list size, entropy, and the cheap checks that run before any KDF."""

from __future__ import annotations

import math

import pytest

from securedrop_lite.codename import (
    CODENAME_WORDS,
    MAX_CODENAME_CHARS,
    CodenameGenerator,
    DesignationGenerator,
    MalformedCodename,
    WordList,
    WordListError,
    designation_slug,
    eff_large_wordlist,
)


@pytest.fixture(scope="module")
def generator() -> CodenameGenerator:
    return CodenameGenerator(eff_large_wordlist())


def test_shipped_wordlist_has_at_least_7776_distinct_words() -> None:
    words = eff_large_wordlist()
    assert len(words) >= 7776
    assert len(set(words.words)) == len(words)


def test_codename_has_seven_words_and_at_least_90_bits(generator: CodenameGenerator) -> None:
    codename = generator.generate()
    assert len(codename.split()) == CODENAME_WORDS == 7
    assert generator.entropy_bits >= 90
    assert generator.entropy_bits == pytest.approx(7 * math.log2(7776))


def test_codenames_are_not_repeated(generator: CodenameGenerator) -> None:
    drawn = {generator.generate() for _ in range(2000)}
    assert len(drawn) == 2000


def test_every_codename_fits_the_length_limit(generator: CodenameGenerator) -> None:
    longest = max(len(w) for w in generator.wordlist.words)
    assert longest * 7 + 6 <= MAX_CODENAME_CHARS


def test_generator_refuses_a_short_wordlist() -> None:
    with pytest.raises(WordListError):
        WordList([f"w{chr(97 + i % 26)}" * (1 + i // 26) for i in range(100)], minimum=7776)


def test_generator_refuses_fewer_than_seven_words() -> None:
    with pytest.raises(WordListError):
        CodenameGenerator(eff_large_wordlist(), words=6)


def test_wordlist_refuses_duplicates_and_odd_characters() -> None:
    with pytest.raises(WordListError):
        WordList(["same", "same"], minimum=1)
    with pytest.raises(WordListError):
        WordList(["fine", "no spaces"], minimum=1)


def test_normalize_accepts_case_and_spacing_variants(generator: CodenameGenerator) -> None:
    codename = generator.generate()
    typed = "  " + "   ".join(codename.upper().split()) + "\n"
    assert generator.normalize(typed) == codename


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abacus",
        "abacus " * 6,
        "abacus " * 8,
        "abacus abacus abacus abacus abacus abacus notaword",
        "abacus abacus abacus abacus abacus abacus abacus; drop table",
        "a" * 10_000,
        "abacus\x00 " * 7,
    ],
)
def test_normalize_refuses_malformed_codenames(generator: CodenameGenerator, typed: str) -> None:
    with pytest.raises(MalformedCodename):
        generator.normalize(typed)


def test_designation_is_an_adjective_and_a_noun() -> None:
    designation = DesignationGenerator.from_diceware().generate()
    adjective, noun = designation.split(" ")
    assert adjective
    assert noun
    assert designation_slug(designation) == f"{adjective}-{noun}"
