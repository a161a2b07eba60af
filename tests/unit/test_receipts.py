"""Receipts: a known answer, exact round trips, and every alteration refused."""

from __future__ import annotations

import base64
import json
import os
import random
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from securedrop_lite.receipts import (
    MAX_DOCUMENT_BYTES,
    RECEIPT_KEY_FILE_MODE,
    Receipt,
    ReceiptInvalid,
    ReceiptKey,
    ReceiptKeyError,
    entry_digest,
    entry_document,
    parse_public_key,
    public_key_text,
    signed_message,
    verify_document,
)

# RFC 8032 section 7.1, TEST 1: the seed and the public key it must give.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
KAT_TEXT = "Día 3: the señor shouted at me on set.\n- witness: Ana\n"
KAT_DIGEST = "56cc09f2d6fb07c0b57dfc8c17d44367b1da3fa8e647b5db6d7915a78097e1da"
KAT_DAY = date(2026, 11, 22)
# Ed25519 is deterministic; also what `openssl pkeyutl -sign -rawin` gives for this message.
KAT_SIGNATURE = (
    "tmWa14tDHIMlO8JyFGmZSerd4Th6kn1xtp9TDOXWAYWux2QWR3Xm5kjJnpo8+iXfj8oaAUR3R39m3LK7YpHfBw=="
)
KAT_HEADING = "Incident log entry, version 1.\nCheck: sdlite-airgap verify-receipt FILE --key KEY\n"
KAT_DOCUMENT = f"""\
Incident log entry, version 1.
Check: sdlite-airgap verify-receipt FILE --key KEY
-----BEGIN SDLITE ENTRY-----
Día 3: the señor shouted at me on set.
- - witness: Ana

-----END SDLITE ENTRY-----
-----BEGIN SDLITE RECEIPT-----
SHA-256: {KAT_DIGEST}
Date: 2026-11-22
Key: ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
Signature: {KAT_SIGNATURE}
-----END SDLITE RECEIPT-----
""".encode()


def _key_file(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.fixture
def kat_key(tmp_path: Path) -> ReceiptKey:
    return ReceiptKey.load(_key_file(tmp_path / "kat.key", RFC8032_SEED))


@pytest.fixture
def key(tmp_path: Path) -> ReceiptKey:
    return ReceiptKey.load_or_create(tmp_path / "receipt.key")


@pytest.fixture
def other_key(tmp_path: Path) -> ReceiptKey:
    return ReceiptKey.load_or_create(tmp_path / "other.key")


def _document(key: ReceiptKey, text: str, day: date = KAT_DAY, heading: str = "Entry") -> bytes:
    return entry_document(text, key.sign(entry_digest(text), day), heading)


def test_receipt_matches_the_known_answer(kat_key: ReceiptKey) -> None:
    assert kat_key.public_bytes == RFC8032_PUBLIC
    assert entry_digest(KAT_TEXT) == KAT_DIGEST
    assert signed_message(KAT_DIGEST, KAT_DAY) == (
        b"securedrop-lite receipt v1\n" + KAT_DIGEST.encode() + b"\n2026-11-22\n"
    )
    receipt = kat_key.sign(KAT_DIGEST, KAT_DAY)
    assert base64.b64encode(receipt.signature).decode() == KAT_SIGNATURE
    assert (
        public_key_text(kat_key.public_bytes)
        == "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )
    assert kat_key.fingerprint() == "21FE 31DF A154 A261 626B F854 046F D227 1B7B ED4B"
    assert entry_document(KAT_TEXT, receipt, KAT_HEADING) == KAT_DOCUMENT


def test_known_answer_document_verifies_to_its_exact_text(kat_key: ReceiptKey) -> None:
    verified = verify_document(KAT_DOCUMENT, RFC8032_PUBLIC)
    assert verified.text == KAT_TEXT
    assert verified.receipt.day == KAT_DAY
    assert verified.key_trusted is True


def test_receipt_round_trips_through_a_json_safe_dict(key: ReceiptKey) -> None:
    receipt = key.sign(entry_digest("hello"), KAT_DAY)
    restored = Receipt.from_dict(json.loads(json.dumps(receipt.to_dict())))
    assert restored == receipt
    restored.verify()


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"sha256": "a" * 64, "day": "2026-11-22", "public_key": "", "signature": ""},
        {"sha256": "A" * 64, "day": "2026-11-22", "public_key": "x", "signature": "y"},
        {"sha256": 1, "day": "2026-11-22", "public_key": "x", "signature": "y"},
    ],
)
def test_receipt_from_a_malformed_dict_is_invalid(data: object) -> None:
    with pytest.raises(ReceiptInvalid):
        Receipt.from_dict(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sha256", "0" * 64),
        ("day", "2026-11-23"),
        ("day", "20261122"),
        ("day", "2026-02-30"),
        ("day", "2026-11-22T10:00"),
        ("public_key", base64.b64encode(bytes(32)).decode()),
        ("signature", base64.b64encode(bytes(64)).decode()),
        ("extra", "field"),
    ],
)
def test_receipt_dict_with_one_field_changed_does_not_verify(
    key: ReceiptKey, field: str, value: str
) -> None:
    data = {**key.sign(entry_digest("hello"), KAT_DAY).to_dict(), field: value}
    with pytest.raises(ReceiptInvalid):
        Receipt.from_dict(data).verify()


def test_receipt_names_a_day_never_a_time(key: ReceiptKey) -> None:
    with pytest.raises(ValueError, match="never a time"):
        key.sign(entry_digest("x"), datetime(2026, 11, 22, 15, 47))


def test_round_trip_build_then_verify(key: ReceiptKey) -> None:
    verified = verify_document(_document(key, "It happened again."), key.public_bytes)
    assert verified.text == "It happened again."
    assert verified.receipt.public_key == key.public_bytes


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "\n\n",
        "no trailing newline",
        "one trailing newline\n",
        "two trailing newlines\n\n",
        "-----END SDLITE ENTRY-----",
        "before\n-----END SDLITE ENTRY-----\n-----BEGIN SDLITE RECEIPT-----\nafter",
        "-----BEGIN SDLITE ENTRY-----\n-----END SDLITE RECEIPT-----\n",
        "- -\n- already looks escaped\n--\n-\n - not at the start",
        "\n\nempty lines\n\n\nbetween\n\n",
        "Día 4: el señor Pérez me gritó. ¿Otra vez? Ñandú, 日本語, emoji 🎬",
        "  leading and trailing spaces  \n\ttabs\t\n",
        "form\ffeed, vertical\vtab, nul\x00, separators\u2028\u2029, next line\x85",
        "Signature: not really\nSHA-256: nor this\nDate: 1999-01-01",
    ],
)
def test_entry_text_round_trips_exactly(key: ReceiptKey, text: str) -> None:
    verified = verify_document(_document(key, text), key.public_bytes)
    assert verified.text == text
    assert verified.receipt.sha256 == entry_digest(text)


def test_receipt_fails_once_any_byte_of_the_entry_or_receipt_changes(key: ReceiptKey) -> None:
    document = _document(key, "Día 5:\n- the señor\n-----END SDLITE ENTRY-----\n\nend")
    start = document.index(b"-----BEGIN SDLITE ENTRY-----")
    assert start > 0
    for position in range(start, len(document)):
        for mask in (0x01, 0x20, 0x80):
            changed = bytearray(document)
            changed[position] ^= mask
            with pytest.raises(ReceiptInvalid):
                verify_document(bytes(changed), key.public_bytes)


def test_receipt_fails_once_one_byte_of_the_entry_changes(key: ReceiptKey) -> None:
    document = _document(key, "I was told to keep quiet.")
    changed = document.replace(b"quiet", b"quiel")
    with pytest.raises(ReceiptInvalid, match="does not match the receipt's SHA-256"):
        verify_document(changed, key.public_bytes)


def test_every_truncation_of_a_document_is_invalid(key: ReceiptKey) -> None:
    document = _document(key, "short\n- entry")
    for length in range(len(document) - 1):
        with pytest.raises(ReceiptInvalid):
            verify_document(document[:length], key.public_bytes)


def test_the_heading_is_not_covered_by_the_receipt(key: ReceiptKey) -> None:
    document = _document(key, "the entry", heading="Entry of 3 March")
    relabelled = document.replace(b"Entry of 3 March", b"Whatever anyone writes here")
    assert verify_document(relabelled, key.public_bytes).text == "the entry"


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"Date: 2026-11-22", b"Date: 2026-11-21", "signature does not match"),
        (b"Date: 2026-11-22", b"Date: 2026-11-22 10:00", "date"),
        (b"Date: 2026-11-22", b"Date: 22/11/2026", "date"),
        (b"SHA-256: ", b"SHA-256: 0", "SHA-256"),
        (b"Signature: ", b"Signature: A", "signature"),
        (b"Key: ed25519:", b"Key: ed25519:A", "public key"),
        (b"Key: ed25519:", b"Key: rsa:", "ed25519"),
        (b"Key: ", b"Key:  ", "stray spaces"),
        (b"Date: ", b"Day: ", 'expected "Date'),
        (b"the entry", b"the\rentry", "carriage return"),
        (b"the entry", b"- the entry", "dash-escaped"),
        (b"Entry\n", b"-Entry\n", "before the entry"),
    ],
)
def test_a_changed_receipt_line_is_invalid(
    key: ReceiptKey, old: bytes, new: bytes, reason: str
) -> None:
    document = _document(key, "the entry")
    assert document.count(old) == 1
    with pytest.raises(ReceiptInvalid, match=reason):
        verify_document(document.replace(old, new), key.public_bytes)


def test_a_changed_digest_is_invalid(key: ReceiptKey) -> None:
    document = _document(key, "the entry")
    digest = entry_digest("the entry").encode()
    other = entry_digest("another entry").encode()
    with pytest.raises(ReceiptInvalid, match="does not match the receipt's SHA-256"):
        verify_document(document.replace(digest, other), key.public_bytes)


def test_a_non_canonical_base64_signature_is_invalid(key: ReceiptKey) -> None:
    # 64 bytes are 86 base64 digits and "==": the last digit carries 4 unused bits.
    document = _document(key, "the entry")
    line = next(x for x in document.split(b"\n") if x.startswith(b"Signature: "))
    last = line[-3:-2]
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = line[:-3] + alphabet[alphabet.index(last) ^ 1 : alphabet.index(last) ^ 1 + 1] + b"=="
    assert base64.b64decode(sloppy[11:]) == base64.b64decode(line[11:])
    with pytest.raises(ReceiptInvalid, match="canonical"):
        verify_document(document.replace(line, sloppy), key.public_bytes)


def test_a_document_signed_by_another_key_is_refused(
    key: ReceiptKey, other_key: ReceiptKey
) -> None:
    document = _document(other_key, "a forged entry")
    with pytest.raises(ReceiptInvalid, match="signed by another key"):
        verify_document(document, key.public_bytes)


def test_a_key_line_swapped_for_the_trusted_key_is_refused(
    key: ReceiptKey, other_key: ReceiptKey
) -> None:
    document = _document(other_key, "a forged entry")
    forged = document.replace(
        public_key_text(other_key.public_bytes).encode(), public_key_text(key.public_bytes).encode()
    )
    with pytest.raises(ReceiptInvalid, match="signature does not match"):
        verify_document(forged, key.public_bytes)


def test_without_a_trusted_key_only_self_consistency_is_checked(key: ReceiptKey) -> None:
    verified = verify_document(_document(key, "text"), None)
    assert verified.key_trusted is False


@pytest.mark.parametrize("prefix", [b"", "\ufeff".encode()])
def test_a_document_whose_line_breaks_became_crlf_still_verifies(
    key: ReceiptKey, prefix: bytes
) -> None:
    # A Windows editor or a mail client may rewrite every line break as CRLF (and an old
    # Notepad adds a byte-order mark). Entry texts never hold CR, so reading CRLF as LF
    # gives back exactly the signed text.
    text = "line one\n- line two\n\nlast"
    document = prefix + _document(key, text, heading="").replace(b"\n", b"\r\n")
    assert document.startswith(prefix + b"-----BEGIN SDLITE ENTRY-----\r\n")
    assert verify_document(document, key.public_bytes).text == text


def test_entry_text_with_a_carriage_return_is_refused_when_building(key: ReceiptKey) -> None:
    text = "typed in a browser\r\nwhich sends CRLF"
    with pytest.raises(ValueError, match="never \\\\r"):
        entry_document(text, key.sign(entry_digest(text), KAT_DAY), "Entry")


def test_entry_document_refuses_a_receipt_for_another_text(key: ReceiptKey) -> None:
    with pytest.raises(ValueError, match="another text"):
        entry_document("this", key.sign(entry_digest("that"), KAT_DAY), "Entry")


def test_entry_document_refuses_a_heading_that_looks_like_a_marker(key: ReceiptKey) -> None:
    with pytest.raises(ValueError, match="dash"):
        _document(key, "text", heading="ok\n-----BEGIN SDLITE ENTRY-----")


def test_trailing_blank_lines_after_the_receipt_are_tolerated(key: ReceiptKey) -> None:
    assert verify_document(_document(key, "x") + b"\n \n\t\n", key.public_bytes).text == "x"


def _two_blocks(document: bytes) -> bytes:
    return document + document


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: b"", "no"),
        (lambda d: b"just some text\n", "no"),
        (lambda d: d.split(b"-----BEGIN SDLITE RECEIPT-----")[0], "no"),
        (_two_blocks, "more than one"),
        (lambda d: d.replace(b"-----END SDLITE RECEIPT-----\n", b""), "no"),
        (lambda d: d.replace(b"Signature: ", b"Signature: @@@"), "base64"),
        (lambda d: d.replace(b"Key: ed25519:", b"Key: ed25519:!!"), "base64"),
        (lambda d: d + b"appended\n", "after the receipt"),
        (lambda d: d.replace(b"Entry\n", b"\xff\xfe\n"), "UTF-8"),
        (lambda d: d + b"\n" * MAX_DOCUMENT_BYTES, "larger than"),
        (
            lambda d: (
                d.replace(b"-----BEGIN SDLITE RECEIPT-----\n", b"")
                + b"-----BEGIN SDLITE RECEIPT-----\n"
            ),
            "receipt block",
        ),
    ],
)
def test_a_malformed_document_is_invalid_with_a_reason(
    key: ReceiptKey, make: Callable[[bytes], bytes], reason: str
) -> None:
    with pytest.raises(ReceiptInvalid, match=reason):
        verify_document(make(_document(key, "the entry")), key.public_bytes)


def test_random_damage_raises_only_receipt_invalid(key: ReceiptKey) -> None:
    document = _document(key, "Día 6\n- señor\n\n-----END SDLITE ENTRY-----")
    rng = random.Random(20261122)
    for _ in range(2000):
        damaged = bytearray(document)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(damaged))
            action = rng.choice(("replace", "insert", "delete"))
            if action == "replace":
                damaged[position] = rng.randrange(256)
            elif action == "insert":
                damaged.insert(position, rng.choice(b"-\n\r =A\xc3"))
            else:
                del damaged[position]
        try:
            verify_document(bytes(damaged), key.public_bytes)
        except ReceiptInvalid:
            continue
        # Damage that verifies can only have touched the heading or trailing blank lines.
        assert (
            verify_document(bytes(damaged), key.public_bytes).text
            == verify_document(document, key.public_bytes).text
        )


def test_public_key_text_round_trips(key: ReceiptKey) -> None:
    text = public_key_text(key.public_bytes)
    assert text.startswith("ed25519:")
    assert parse_public_key(f"  {text}\n") == key.public_bytes


@pytest.mark.parametrize(
    "text", ["", "ed25519:", "ed25519:AAAA", "rsa:" + "A" * 44, "ed25519:" + "!" * 44]
)
def test_junk_public_key_text_is_invalid(text: str) -> None:
    with pytest.raises(ReceiptInvalid):
        parse_public_key(text)


def test_a_new_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0)  # even with no umask at all, the file is 0600
    try:
        ReceiptKey.load_or_create(tmp_path / "receipt.key")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "receipt.key").stat().st_mode)
    assert mode == RECEIPT_KEY_FILE_MODE == 0o600
    assert (tmp_path / "receipt.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["receipt.key"]


def test_load_or_create_twice_gives_the_same_key(tmp_path: Path) -> None:
    first = ReceiptKey.load_or_create(tmp_path / "receipt.key")
    second = ReceiptKey.load_or_create(tmp_path / "receipt.key")
    assert (
        first.public_bytes
        == second.public_bytes
        == ReceiptKey.load(tmp_path / "receipt.key").public_bytes
    )


def test_racing_load_or_create_all_get_the_one_key_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "receipt.key"
    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = list(pool.map(lambda _: ReceiptKey.load_or_create(path), range(64)))
    assert {k.public_bytes for k in keys} == {ReceiptKey.load(path).public_bytes}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["receipt.key"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    ReceiptKey.load_or_create(tmp_path / "receipt.key")
    (tmp_path / "receipt.key").chmod(mode)
    for load in (ReceiptKey.load, ReceiptKey.load_or_create):
        with pytest.raises(ReceiptKeyError, match="chmod 600"):
            load(tmp_path / "receipt.key")


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = ReceiptKey.load_or_create(tmp_path / "real.key")
    (tmp_path / "receipt.key").symlink_to(tmp_path / "real.key")
    for load in (ReceiptKey.load, ReceiptKey.load_or_create):
        with pytest.raises(ReceiptKeyError, match="symbolic link"):
            load(tmp_path / "receipt.key")
    assert ReceiptKey.load(tmp_path / "real.key").public_bytes == real.public_bytes


def test_a_dangling_symlink_is_refused_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    (tmp_path / "receipt.key").symlink_to(tmp_path / "elsewhere.key")
    with pytest.raises(ReceiptKeyError, match="symbolic link"):
        ReceiptKey.load_or_create(tmp_path / "receipt.key")
    assert not (tmp_path / "elsewhere.key").exists()


def test_load_never_creates_a_key(tmp_path: Path) -> None:
    with pytest.raises(ReceiptKeyError, match="cannot read"):
        ReceiptKey.load(tmp_path / "receipt.key")
    assert not (tmp_path / "receipt.key").exists()


def test_a_raw_or_pem_key_file_loads(tmp_path: Path) -> None:
    pem = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = ReceiptKey.load(_key_file(tmp_path / "raw.key", RFC8032_SEED))
    from_pem = ReceiptKey.load(_key_file(tmp_path / "pem.key", pem))
    assert raw.public_bytes == from_pem.public_bytes == RFC8032_PUBLIC


def _rsa_pem() -> bytes:
    return generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"short", bytes(33), b"-----BEGIN PRIVATE KEY-----\ngarbage\n", None],
)
def test_a_malformed_key_file_is_refused(tmp_path: Path, content: bytes | None) -> None:
    path = _key_file(tmp_path / "receipt.key", _rsa_pem() if content is None else content)
    for load in (ReceiptKey.load, ReceiptKey.load_or_create):
        with pytest.raises(ReceiptKeyError, match="not an Ed25519 private key"):
            load(path)


def test_a_receipt_with_wrong_sizes_cannot_be_built() -> None:
    good = {"sha256": "a" * 64, "day": KAT_DAY, "public_key": bytes(32), "signature": bytes(64)}
    Receipt(**good)  # type: ignore[arg-type]
    wrong = [
        ("public_key", bytes(31)),
        ("signature", bytes(65)),
        ("sha256", "a"),
        ("sha256", "A" * 64),
        ("day", datetime(2026, 11, 22, 15, 47)),
    ]
    for field, value in wrong:
        with pytest.raises(ReceiptInvalid):
            Receipt(**{**good, field: value})  # type: ignore[arg-type]


def test_a_receipt_for_another_day_does_not_verify(key: ReceiptKey) -> None:
    receipt = key.sign(entry_digest("x"), KAT_DAY)
    with pytest.raises(ReceiptInvalid, match="signature does not match"):
        replace(receipt, day=date(2026, 11, 21)).verify()


def test_a_key_path_that_is_not_a_regular_file_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.key", 0o600)
    (tmp_path / "dir.key").mkdir(mode=0o700)
    for name in ("fifo.key", "dir.key"):
        with pytest.raises(ReceiptKeyError, match="not a regular file"):
            ReceiptKey.load(tmp_path / name)
