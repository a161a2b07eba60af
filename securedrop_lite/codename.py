"""Diceware codenames for sources and "adjective noun" designations for the ombuds side."""

from __future__ import annotations

import math
import re
import secrets
from importlib import resources

MIN_WORDLIST_SIZE = 7776
CODENAME_WORDS = 7
# The longest EFF word is 9 letters: 7 words, 6 spaces. Anything longer is refused
# before the KDF runs, so an attacker cannot make the server hash megabytes.
MAX_CODENAME_CHARS = 7 * 9 + 6
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


class WordListError(Exception):
    """A word list is too short or malformed."""


class MalformedCodename(Exception):
    """A submitted codename cannot be one we generated."""


def _read_words(package: str, name: str) -> list[str]:
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


class WordList:
    """An ordered list of distinct lowercase words."""

    def __init__(self, words: list[str], minimum: int) -> None:
        if len(words) < minimum:
            raise WordListError(f"word list has {len(words)} words, needs at least {minimum}")
        if len(set(words)) != len(words):
            raise WordListError("word list has duplicate words")
        bad = [w for w in words if not _WORD.fullmatch(w)]
        if bad:
            raise WordListError(f"word list has words outside [a-z-]: {bad[:3]}")
        self.words = tuple(words)
        self._set = frozenset(words)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._set

    def choice(self) -> str:
        return secrets.choice(self.words)


def eff_large_wordlist() -> WordList:
    """Return the EFF large word list shipped with the package."""
    words = _read_words("securedrop_lite", "wordlists/eff_large.txt")
    return WordList(words, minimum=MIN_WORDLIST_SIZE)


class CodenameGenerator:
    """Draws codenames of CODENAME_WORDS words with `secrets`, and checks their form."""

    def __init__(self, wordlist: WordList, words: int = CODENAME_WORDS) -> None:
        if words < CODENAME_WORDS:
            raise WordListError(f"a codename needs at least {CODENAME_WORDS} words")
        self.wordlist = wordlist
        self.words = words
        if self.entropy_bits < 90:
            raise WordListError(f"codenames would carry only {self.entropy_bits:.1f} bits")

    @property
    def entropy_bits(self) -> float:
        return self.words * math.log2(len(self.wordlist))

    def generate(self) -> str:
        return " ".join(self.wordlist.choice() for _ in range(self.words))

    def normalize(self, candidate: str) -> str:
        """Return the canonical form of a typed codename, or raise MalformedCodename.

        Cheap checks only: this runs before any KDF, on untrusted input.
        """
        if len(candidate) > MAX_CODENAME_CHARS * 2:
            raise MalformedCodename("too long")
        words = candidate.strip().lower().split()
        if len(words) != self.words or any(w not in self.wordlist for w in words):
            raise MalformedCodename("not a codename")
        return " ".join(words)


class DesignationGenerator:
    """Draws "adjective noun" names the ombuds sees instead of any codename."""

    def __init__(self, adjectives: WordList, nouns: WordList) -> None:
        self.adjectives = adjectives
        self.nouns = nouns

    @classmethod
    def from_diceware(cls) -> DesignationGenerator:
        """Use the adjective and noun lists of the pinned `diceware` package."""
        adjectives = _read_words("diceware", "wordlists/wordlist_en_adjectives.txt")
        nouns = _read_words("diceware", "wordlists/wordlist_en_nouns.txt")
        return cls(WordList(adjectives, minimum=1000), WordList(nouns, minimum=1000))

    def generate(self) -> str:
        return f"{self.adjectives.choice()} {self.nouns.choice()}"


def designation_slug(designation: str) -> str:
    """Return the file-name form of a designation: "clever otter" -> "clever-otter"."""
    return designation.replace(" ", "-")
