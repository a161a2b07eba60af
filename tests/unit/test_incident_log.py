"""The private incident log: sealed to the codename, revisable, deletable, shareable, receipted."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from securedrop_lite.models import LogEntry, Submission
from securedrop_lite.receipts import ReceiptKey, verify_document
from securedrop_lite.services import Services
from securedrop_lite.services.incidentlog import (
    PAD_BYTES,
    EntryFields,
    EntryLabels,
    EntryRefused,
    NoSuchEntry,
)
from securedrop_lite.services.sources import SourceIdentity
from tests.conftest import FrozenClock, KeyPair, decrypt_with_airgap_tool

LABELS = EntryLabels("When it happened", "Where", "Who was present", "What happened", "Witnesses")
SECRET = "The first AD cornered me by the honey wagon, unit base, stage 9"
ENTRY = EntryFields(
    when="Tuesday night, after wrap",
    where="Stage 9",
    present="the first AD",
    what=SECRET,
    witnesses="a driver, maybe",
)


def new_source(services: Services) -> tuple[str, SourceIdentity]:
    codename, identity = services.sources.new_identity()
    services.sources.create(identity)
    return codename, identity


def everything_on_disk(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def test_entry_plaintext_appears_nowhere_on_the_server(services: Services, data_dir: Path) -> None:
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    services.incident_log.revise(identity, ref, EntryFields(what=SECRET + " (again)"), LABELS)
    services.db.dispose()  # flush SQLite's journal and close the files
    disk = everything_on_disk(data_dir)
    for needle in (SECRET, "honey wagon", "Stage 9", "Tuesday night", "What happened"):
        for encoding in ("utf-8", "utf-16-le"):
            assert needle.encode(encoding) not in disk, needle
    # Nor the digest the receipt signs: a seized server cannot confirm a guess.
    history = services.incident_log.history(identity, ref)
    for version in history:
        assert version.receipt.sha256.encode() not in disk
        assert bytes.fromhex(version.receipt.sha256) not in disk


def test_only_the_owner_can_read_an_entry(services: Services) -> None:
    _, owner = new_source(services)
    _, other = new_source(services)
    ref = services.incident_log.add(owner, ENTRY, LABELS)
    assert services.incident_log.history(owner, ref)[0].fields.what == SECRET
    with pytest.raises(NoSuchEntry):
        services.incident_log.history(other, ref)
    with pytest.raises(NoSuchEntry):
        services.incident_log.delete(other, ref)
    assert services.incident_log.entries(other) == []
    # Even with the other's row ids, the owner's boxes do not open under another key.
    with services.db.session() as s:
        row = s.scalars(select(LogEntry)).one()
        assert SECRET.encode() not in row.box
    forged = SourceIdentity(owner.lookup_id, bytes(32))
    with pytest.raises(NoSuchEntry):
        services.incident_log.history(forged, ref)


def test_boxes_are_padded_so_their_size_hides_the_entry_length(services: Services) -> None:
    _, identity = new_source(services)
    services.incident_log.add(identity, EntryFields(what="short"), LABELS)
    services.incident_log.add(identity, EntryFields(what="x" * 300), LABELS)
    with services.db.session() as s:
        sizes = {len(row.box) for row in s.scalars(select(LogEntry))}
    assert len(sizes) == 1
    box_overhead = 5 + 32 + 12 + 16  # magic, ephemeral key, nonce, tag
    assert (sizes.pop() - box_overhead) % PAD_BYTES == 0


def test_revising_keeps_every_version_with_its_own_receipt(
    services: Services, clock: FrozenClock
) -> None:
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    clock.advance(timedelta(days=3))
    assert services.incident_log.revise(identity, ref, EntryFields(what="corrected"), LABELS) == 2
    history = services.incident_log.history(identity, ref)
    assert [v.version for v in history] == [1, 2]
    assert [v.created_on for v in history] == [date(2026, 11, 22), date(2026, 11, 25)]
    assert history[0].fields == ENTRY
    assert history[1].fields.what == "corrected"
    assert history[0].receipt.sha256 != history[1].receipt.sha256
    assert [r.latest.version for r in services.incident_log.entries(identity)] == [2]


def test_deleting_an_entry_removes_every_version(services: Services) -> None:
    _, identity = new_source(services)
    kept = services.incident_log.add(identity, EntryFields(what="keep"), LABELS)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    services.incident_log.revise(identity, ref, EntryFields(what="v2"), LABELS)
    services.incident_log.delete(identity, ref)
    with services.db.session() as s:
        refs = set(s.scalars(select(LogEntry.entry_ref)))
    assert refs == {kept}
    with pytest.raises(NoSuchEntry):
        services.incident_log.history(identity, ref)
    with pytest.raises(NoSuchEntry):
        services.incident_log.delete(identity, ref)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (EntryFields(when="yesterday"), "what"),
        (EntryFields(what="   \n "), "what"),
        (EntryFields(what="x" * 100_001), "length"),
    ],
)
def test_an_empty_or_oversized_entry_is_refused_and_nothing_is_stored(
    services: Services, entry: EntryFields, reason: str
) -> None:
    _, identity = new_source(services)
    with pytest.raises(EntryRefused, match=reason):
        services.incident_log.add(identity, entry, LABELS)
    with services.db.session() as s:
        assert s.scalars(select(LogEntry)).all() == []


def test_windows_line_ends_are_normalized_before_the_receipt_is_signed(
    services: Services,
) -> None:
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, EntryFields(what="one\r\ntwo\rthree"), LABELS)
    (version,) = services.incident_log.history(identity, ref)
    assert version.fields.what == "one\ntwo\nthree"
    assert "\r" not in version.text


def test_a_downloaded_entry_verifies_against_the_instance_receipt_key(
    services: Services, config: Any
) -> None:
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    document = services.incident_log.document(identity, ref, 1, "A heading.")
    key = ReceiptKey.load(config.receipt_key_path)
    verified = verify_document(document, key.public_bytes)
    assert verified.key_trusted
    assert verified.text == services.incident_log.history(identity, ref)[0].text
    assert verified.receipt.day == date(2026, 11, 22)
    assert SECRET in verified.text


def test_a_shared_entry_becomes_a_submission_that_the_airgap_tool_decrypts(
    services: Services, ombuds_key: KeyPair, tmp_path: Path, config: Any
) -> None:
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    assert services.incident_log.share(identity, [ref, ref], "A heading.") == 1
    with services.db.session() as s:
        (submission,) = s.scalars(select(Submission)).all()
        store_dir = submission.source.store_dir
        assert submission.kind == "log"
        assert submission.file_name.endswith("-msg.gpg")
        assert submission.source.first_submission_on == date(2026, 11, 22)
    ciphertext = config.store_dir / store_dir / submission.file_name
    assert SECRET.encode() not in ciphertext.read_bytes()
    text = decrypt_with_airgap_tool(ciphertext, tmp_path / "plain", ombuds_key).read_bytes()
    assert SECRET.encode() in text
    key = ReceiptKey.load(config.receipt_key_path)
    assert verify_document(text, key.public_bytes).receipt.day == date(2026, 11, 22)
    # The worker's own copy stays private and in place.
    assert services.incident_log.history(identity, ref)[0].fields == ENTRY


def test_sharing_nothing_or_another_workers_entry_stores_nothing(services: Services) -> None:
    _, owner = new_source(services)
    _, other = new_source(services)
    ref = services.incident_log.add(owner, ENTRY, LABELS)
    for refs in ([], [ref], ["0" * 32]):
        with pytest.raises(NoSuchEntry):
            services.incident_log.share(other, refs, "A heading.")
    with services.db.session() as s:
        assert s.scalars(select(Submission)).all() == []


def test_concurrent_revisions_each_get_their_own_version(services: Services) -> None:
    import threading

    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    errors: list[BaseException] = []

    def revise(n: int) -> None:
        try:
            for i in range(4):
                services.incident_log.revise(identity, ref, EntryFields(what=f"{n}.{i}"), LABELS)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=revise, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = [v.version for v in services.incident_log.history(identity, ref)]
    assert versions == list(range(1, 26))


def test_the_log_is_bounded_in_entries_versions_and_length(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import securedrop_lite.services.incidentlog as incidentlog

    monkeypatch.setattr(incidentlog, "MAX_ENTRIES", 2)
    monkeypatch.setattr(incidentlog, "MAX_VERSIONS", 3)
    _, identity = new_source(services)
    ref = services.incident_log.add(identity, ENTRY, LABELS)
    services.incident_log.add(identity, ENTRY, LABELS)
    with pytest.raises(EntryRefused, match="entries"):
        services.incident_log.add(identity, ENTRY, LABELS)
    services.incident_log.revise(identity, ref, ENTRY, LABELS)
    services.incident_log.revise(identity, ref, ENTRY, LABELS)
    with pytest.raises(EntryRefused, match="versions"):
        services.incident_log.revise(identity, ref, ENTRY, LABELS)
    with pytest.raises(EntryRefused, match="length"):
        services.incident_log.add(identity, EntryFields(what="x" * 20_001), LABELS)
    assert services.incident_log.count(identity) == 2


def test_listing_and_downloading_open_only_the_versions_they_show(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from securedrop_lite.services.incidentlog import IncidentLogService

    _, identity = new_source(services)
    for _ in range(3):
        ref = services.incident_log.add(identity, ENTRY, LABELS)
        for _ in range(4):
            services.incident_log.revise(identity, ref, ENTRY, LABELS)
    opened: list[int] = []
    real_open = IncidentLogService._open

    def counting_open(keys: Any, row: LogEntry) -> Any:
        opened.append(row.version)
        return real_open(keys, row)

    monkeypatch.setattr(IncidentLogService, "_open", staticmethod(counting_open))
    summaries = services.incident_log.entries(identity)
    assert [s.versions for s in summaries] == [5, 5, 5]
    assert opened == [5, 5, 5]
    opened.clear()
    services.incident_log.document(identity, ref, 2, "A heading.")
    assert opened == [2]
    opened.clear()
    services.incident_log.share(identity, [ref], "A heading.")
    assert opened == [5]


def test_web_processes_never_create_the_receipt_key(
    source: Any, services: Services, config: Any
) -> None:
    config.receipt_key_path.unlink()
    source.signup()
    page = source.client.get("/log/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    response = source.client.post("/log/new", data={"csrf_token": token.group(1), "what": "x"})
    assert response.status_code == 503
    assert "nothing of it was kept" in response.get_data(as_text=True)
    assert not config.receipt_key_path.exists()
    with services.db.session() as s:
        assert s.scalars(select(LogEntry)).all() == []


def test_an_unreadable_receipt_key_is_a_clear_page_not_a_500(
    source: Any, services: Services, config: Any
) -> None:
    config.receipt_key_path.chmod(0o640)  # refused: a private key readable by the group
    source.signup()
    page = source.client.get("/log/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    response = source.client.post("/log/new", data={"csrf_token": token.group(1), "what": "x"})
    assert response.status_code == 503
    with services.db.session() as s:
        assert s.scalars(select(LogEntry)).all() == []
