"""Argon2id derivations of the codename."""

from __future__ import annotations

import os

import pytest

from securedrop_lite.config import KDF_PROFILES, KdfParams
from securedrop_lite.kdf import CodenameKdf

PEPPER_ID = bytes(range(32))
PEPPER_KEY = bytes(range(32, 64))
FAST = KdfParams.insecure_for_tests()


def test_default_parameters_use_at_least_64_mib() -> None:
    assert KdfParams().memory_cost_kib >= 64 * 1024
    assert KDF_PROFILES["default"].memory_cost_kib >= 64 * 1024


def test_lookup_id_and_key_seed_differ_and_are_deterministic() -> None:
    kdf = CodenameKdf(PEPPER_ID, PEPPER_KEY, FAST)
    codename = "abacus " * 6 + "zoom"
    assert kdf.source_id(codename) == kdf.source_id(codename)
    assert kdf.key_seed(codename) == kdf.key_seed(codename)
    assert bytes.fromhex(kdf.source_id(codename)) != kdf.key_seed(codename)
    assert len(kdf.key_seed(codename)) == 32


def test_derivations_depend_on_the_pepper() -> None:
    codename = "abacus " * 6 + "zoom"
    one = CodenameKdf(PEPPER_ID, PEPPER_KEY, FAST)
    other = CodenameKdf(os.urandom(32), os.urandom(32), FAST)
    assert one.source_id(codename) != other.source_id(codename)
    assert one.key_seed(codename) != other.key_seed(codename)


def test_derivations_depend_on_the_cost_parameters() -> None:
    codename = "abacus " * 6 + "zoom"
    slow = CodenameKdf(PEPPER_ID, PEPPER_KEY, KdfParams(time_cost=2, memory_cost_kib=64))
    fast = CodenameKdf(PEPPER_ID, PEPPER_KEY, FAST)
    assert slow.source_id(codename) != fast.source_id(codename)


def test_known_answer_vector() -> None:
    """Pin the derivation: a change of algorithm or encoding would lock every source out."""
    kdf = CodenameKdf(
        b"p" * 32, b"k" * 32, KdfParams(time_cost=1, memory_cost_kib=64, parallelism=1)
    )
    assert kdf.source_id("abacus abdomen abdominal abide abiding ability ablaze") == (
        "c521b4ed098adefbabcb086694fe20b795bee04e70952d6275f5ffa8fd941b8c"
    )


def test_kdf_refuses_equal_or_short_peppers() -> None:
    with pytest.raises(ValueError, match="differ"):
        CodenameKdf(PEPPER_ID, PEPPER_ID, FAST)
    with pytest.raises(ValueError, match="16 bytes"):
        CodenameKdf(b"short", PEPPER_KEY, FAST)
