"""Replies: sealed to the source's key, encrypted to the ombuds key, readable by one source only."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.codename import designation_slug
from securedrop_lite.models import Reply, Source
from securedrop_lite.services import Services
from securedrop_lite.services.inbox import NoSuchSource
from securedrop_lite.services.replies import NoSuchReply, ReplyRefused
from securedrop_lite.services.sources import SourceIdentity, UnknownSource
from tests.conftest import FrozenClock, KeyPair

DAY = timedelta(days=1)
REPLY_TEXT = "Thank you for writing. Ça ira: we will raise it with the producer — privately. ✓"


@dataclasses.dataclass
class Made:
    identity: SourceIdentity
    ref: str
    designation: str


def _new_source(services: Services, *messages: str) -> Made:
    _, identity = services.sources.new_identity()
    designation = services.sources.create(identity)
    for message in messages:
        services.submissions.submit(identity, message, None)
    with services.db.session() as s:
        ref = s.scalars(
            select(Source.store_dir).where(Source.lookup_id == identity.lookup_id)
        ).one()
    return Made(identity, ref, designation)


def _reply_path(services: Services, made: Made, number: int) -> Path:
    name = f"{number}-{designation_slug(made.designation)}-reply.gpg"
    return services.store.path_for(made.ref, name)


def _reply_rows(services: Services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Reply)) or 0


def _texts(services: Services, identity: SourceIdentity) -> list[str]:
    return [reply.text for reply in services.sources.summary(identity).replies]


# --- the round trip -------------------------------------------------------------------


def test_reply_round_trip_source_reads_exact_text_and_ombuds_copy_decrypts(
    services: Services, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    made = _new_source(services, "The grip keeps making comments about my body.")
    number = services.replies.reply(made.ref, REPLY_TEXT)
    summary = services.sources.summary(made.identity)
    assert [(r.number, r.text) for r in summary.replies] == [(number, REPLY_TEXT)]
    assert summary.unreadable_replies == 0
    decrypted = decrypt_file(
        ombuds_key.airgap_home, _reply_path(services, made, number), tmp_path / "out"
    )
    assert decrypted.path.read_text(encoding="utf-8") == REPLY_TEXT


def test_reply_keeps_whitespace_and_line_breaks_exactly(services: Services) -> None:
    made = _new_source(services, "hello")
    text = "  Dear colleague,\n\n\tline two\r\nend  \n"
    services.replies.reply(made.ref, text)
    assert _texts(services, made.identity) == [text]


def test_replies_are_shown_to_the_source_in_order_with_their_day(
    services: Services, clock: FrozenClock
) -> None:
    made = _new_source(services, "hello")
    services.replies.reply(made.ref, "first")
    clock.advance(DAY)
    services.replies.reply(made.ref, "second")
    replies = services.sources.summary(made.identity).replies
    assert [(r.number, r.text) for r in replies] == [(2, "first"), (3, "second")]
    assert [r.created_on for r in replies] == [clock().date() - DAY, clock().date()]


def test_reply_numbers_continue_the_sources_item_numbering(services: Services) -> None:
    made = _new_source(services, "one", "two")
    assert services.replies.reply(made.ref, "a reply") == 3
    services.submissions.submit(made.identity, "three", None)
    assert services.replies.reply(made.ref, "another") == 5
    assert _reply_path(services, made, 3).is_file()
    assert _reply_path(services, made, 5).is_file()


def test_the_first_reply_day_is_kept(services: Services, clock: FrozenClock) -> None:
    made = _new_source(services, "hello")
    first_day = clock().date()
    services.replies.reply(made.ref, "first")
    clock.advance(2 * DAY)
    services.replies.reply(made.ref, "second")
    with services.db.session() as s:
        assert s.scalar(select(Source.first_reply_on).where(Source.store_dir == made.ref)) == (
            first_day
        )


def test_summary_counts_the_sources_own_submissions(services: Services, clock: FrozenClock) -> None:
    made = _new_source(services, "one")
    clock.advance(DAY)
    services.submissions.submit(made.identity, "two", None)
    _new_source(services, "someone else")
    summary = services.sources.summary(made.identity)
    assert summary.submission_count == 2
    assert summary.submission_dates == [clock().date() - DAY, clock().date()]
    assert summary.replies == []


# --- confidentiality ------------------------------------------------------------------


def test_reply_ciphertext_does_not_contain_plaintext(services: Services) -> None:
    made = _new_source(services, "hello")
    text = "We will meet you at the union office on Tuesday at noon. " * 20
    number = services.replies.reply(made.ref, text)
    stored = _reply_path(services, made, number).read_bytes()
    with services.db.session() as s:
        box = s.scalars(select(Reply.source_box)).one()
    for ciphertext in (stored, box):
        assert b"union office" not in ciphertext
        assert text.encode()[:40] not in ciphertext
    assert b"reply.txt" not in stored
    assert not stored.startswith(b"-----BEGIN")


def test_source_cannot_read_another_sources_replies(services: Services) -> None:
    alice = _new_source(services, "from alice")
    bob = _new_source(services, "from bob")
    services.replies.reply(alice.ref, "for alice only")
    summary = services.sources.summary(bob.identity)
    assert summary.replies == []
    assert summary.unreadable_replies == 0
    assert _texts(services, alice.identity) == ["for alice only"]


def test_a_reply_box_for_another_key_is_counted_unreadable(services: Services) -> None:
    alice = _new_source(services, "from alice")
    bob = _new_source(services, "from bob")
    services.replies.reply(alice.ref, "for alice only")
    services.replies.reply(bob.ref, "for bob")
    with services.db.session() as s:
        alice_id = s.scalar(select(Source.id).where(Source.store_dir == alice.ref))
        bob_box = s.scalar(select(Reply.source_box).join(Source).where(Source.store_dir == bob.ref))
        s.execute(update(Reply).where(Reply.source_id == alice_id).values(source_box=bob_box))
    summary = services.sources.summary(alice.identity)
    assert (summary.replies, summary.unreadable_replies) == ([], 1)


def test_a_damaged_reply_box_is_counted_unreadable(services: Services) -> None:
    made = _new_source(services, "hello")
    services.replies.reply(made.ref, "first")
    services.replies.reply(made.ref, "second")
    with services.db.session() as s:
        reply = s.scalars(select(Reply).where(Reply.number == 2)).one()
        reply.source_box = reply.source_box[:-1] + bytes([reply.source_box[-1] ^ 1])
    summary = services.sources.summary(made.identity)
    assert [r.text for r in summary.replies] == ["second"]
    assert summary.unreadable_replies == 1


# --- deletion by the source -----------------------------------------------------------


def test_source_deletes_their_own_reply(services: Services) -> None:
    made = _new_source(services, "hello")
    first = services.replies.reply(made.ref, "first")
    services.replies.reply(made.ref, "second")
    services.replies.delete_for_source(made.identity, first)
    assert _texts(services, made.identity) == ["second"]
    assert not _reply_path(services, made, first).exists()
    assert _reply_rows(services) == 1
    assert [i.kind for i in services.inbox.source(made.ref).items] == ["message", "reply"]


def test_source_cannot_delete_another_sources_reply(services: Services) -> None:
    alice = _new_source(services, "from alice")
    bob = _new_source(services, "from bob", "and more")
    number = services.replies.reply(alice.ref, "for alice only")
    with pytest.raises(NoSuchReply):
        services.replies.delete_for_source(bob.identity, number)
    assert _texts(services, alice.identity) == ["for alice only"]
    assert _reply_path(services, alice, number).is_file()
    assert _reply_rows(services) == 1


@pytest.mark.parametrize("number", [1, 3, 0, -1, 10**12])
def test_deleting_a_reply_that_is_not_there_raises_no_such_reply(
    services: Services, number: int
) -> None:
    made = _new_source(services, "hello")  # item 1 is a submission, not a reply
    services.replies.reply(made.ref, "a reply")  # item 2
    with pytest.raises(NoSuchReply):
        services.replies.delete_for_source(made.identity, number)
    assert _reply_rows(services) == 1
    assert len(services.sources.summary(made.identity).submission_dates) == 1


def test_deleting_the_same_reply_twice_raises_no_such_reply(services: Services) -> None:
    made = _new_source(services, "hello")
    number = services.replies.reply(made.ref, "a reply")
    services.replies.delete_for_source(made.identity, number)
    with pytest.raises(NoSuchReply):
        services.replies.delete_for_source(made.identity, number)


def test_a_deleted_source_cannot_delete_replies(services: Services) -> None:
    made = _new_source(services, "hello")
    number = services.replies.reply(made.ref, "a reply")
    services.inbox.delete_source(made.ref)
    with pytest.raises(UnknownSource):
        services.replies.delete_for_source(made.identity, number)


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_an_empty_reply_is_refused(services: Services, text: str) -> None:
    made = _new_source(services, "hello")
    with pytest.raises(ReplyRefused):
        services.replies.reply(made.ref, text)
    assert _reply_rows(services) == 0
    assert len(services.store.item_names(made.ref)) == 1


def test_a_reply_over_the_length_limit_is_refused(services: Services) -> None:
    made = _new_source(services, "hello")
    limit = services.config.max_message_chars
    with pytest.raises(ReplyRefused, match=f"{limit:,}"):
        services.replies.reply(made.ref, "x" * (limit + 1))
    assert _reply_rows(services) == 0
    assert len(services.store.item_names(made.ref)) == 1


def test_a_reply_at_the_length_limit_is_accepted(services: Services) -> None:
    made = _new_source(services, "hello")
    text = "é" * services.config.max_message_chars
    services.replies.reply(made.ref, text)
    assert _texts(services, made.identity) == [text]


@pytest.mark.parametrize("ref", ["../x", "", "0" * 32, "../" + "0" * 29, "A" * 32])
def test_reply_to_an_unknown_ref_raises_no_such_source(services: Services, ref: str) -> None:
    with pytest.raises(NoSuchSource):
        services.replies.reply(ref, "hello")
    assert _reply_rows(services) == 0


def test_reply_to_a_source_that_never_submitted_raises_no_such_source(
    services: Services,
) -> None:
    made = _new_source(services)
    with pytest.raises(NoSuchSource):
        services.replies.reply(made.ref, "hello")
    assert not (services.store.root / made.ref).exists()


# --- a source deleted while a reply is on its way -----------------------------------------


def test_a_reply_to_a_source_deleted_during_encryption_raises_no_such_source(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _new_source(services, "hello")
    real_encrypt = services.key.encrypt

    def encrypt_while_another_ombuds_deletes(*args: object, **kwargs: object) -> None:
        real_encrypt(*args, **kwargs)  # type: ignore[arg-type]
        services.inbox.delete_source(made.ref)

    monkeypatch.setattr(services.key, "encrypt", encrypt_while_another_ombuds_deletes)
    with pytest.raises(NoSuchSource):
        services.replies.reply(made.ref, "sent as the source was deleted")
    assert _reply_rows(services) == 0
    assert not (services.store.root / made.ref).exists()


def test_a_reply_racing_a_source_deletion_leaves_no_file_behind(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker encrypts a reply while another deletes the source: nothing may survive.

    The interleaving: the reply passes its check; the deletion tombstones the source and
    empties its directory; the reply is stored; the deletion removes the source's rows.
    """
    made = _new_source(services, "hello")
    directory_emptied, reply_finished = threading.Event(), threading.Event()
    deleter_errors: list[BaseException] = []
    real_encrypt = services.key.encrypt
    real_delete_dir = services.store.delete_source_dir

    def delete_dir_then_let_the_reply_in(source_dir: str) -> None:
        real_delete_dir(source_dir)
        directory_emptied.set()
        reply_finished.wait(timeout=10)

    def delete_source() -> None:
        try:
            services.inbox.delete_source(made.ref)
        except BaseException as exc:  # reported by the assertion below
            deleter_errors.append(exc)
        finally:
            directory_emptied.set()

    deleter = threading.Thread(target=delete_source)

    def encrypt_then_wait_for_the_deletion(*args: object, **kwargs: object) -> None:
        real_encrypt(*args, **kwargs)  # type: ignore[arg-type]
        deleter.start()
        assert directory_emptied.wait(timeout=10)

    monkeypatch.setattr(services.key, "encrypt", encrypt_then_wait_for_the_deletion)
    monkeypatch.setattr(services.store, "delete_source_dir", delete_dir_then_let_the_reply_in)
    outcome: list[object] = []
    try:
        outcome.append(services.replies.reply(made.ref, "sent as the source was deleted"))
    except NoSuchSource as exc:
        outcome.append(exc)
    finally:
        reply_finished.set()
        deleter.join(timeout=10)
    assert deleter_errors == []
    assert services.store.item_names(made.ref) == []  # no orphaned reply ciphertext
    assert _reply_rows(services) == 0
    assert isinstance(outcome[0], NoSuchSource)
