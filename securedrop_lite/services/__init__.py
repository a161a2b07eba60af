"""The verbs of the system, and the one place they are built from a Config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path

from securedrop_lite.adminlog import admin_logger
from securedrop_lite.auth import PassphraseCheck, passphrase_hasher
from securedrop_lite.codename import CodenameGenerator, DesignationGenerator, eff_large_wordlist
from securedrop_lite.config import Config
from securedrop_lite.crypto import SubmissionKey
from securedrop_lite.db import Database
from securedrop_lite.infopages import InfoPageService
from securedrop_lite.kdf import CodenameKdf
from securedrop_lite.onion import OnionPublisher, OnionSettings
from securedrop_lite.receipts import ReceiptKey
from securedrop_lite.services.audit import AuditLog
from securedrop_lite.services.conversation import ConversationService
from securedrop_lite.services.deletion import DeletionService
from securedrop_lite.services.inbox import InboxService
from securedrop_lite.services.incidentlog import IncidentLogService
from securedrop_lite.services.keystatus import KeyMonitor
from securedrop_lite.services.replies import ReplyService
from securedrop_lite.services.settings import InstanceSettings, SettingsService
from securedrop_lite.services.sources import Deadlines, SourceService
from securedrop_lite.services.submissions import Limits, SubmissionService
from securedrop_lite.services.throttle import Throttle
from securedrop_lite.services.users import UserService
from securedrop_lite.sessions import SessionStore
from securedrop_lite.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    config: Config
    clock: Callable[[], datetime]
    db: Database
    store: Store
    key: SubmissionKey
    key_monitor: KeyMonitor
    sessions: SessionStore
    sources: SourceService
    submissions: SubmissionService
    settings: SettingsService
    inbox: InboxService
    replies: ReplyService
    deletion: DeletionService
    users: UserService
    audit: AuditLog
    onion: OnionPublisher
    info_pages: InfoPageService
    incident_log: IncidentLogService
    conversations: ConversationService
    throttle: Throttle


def onion_settings(config: Config) -> OnionSettings:
    return OnionSettings(
        onion_dir=config.onion_dir,
        control=config.tor_control,
        control_password=config.tor_control_password,
        source_target=config.source_listen,
        ombuds_target=config.ombuds_listen,
        source_pow=config.onion_pow,
        source_address_override=config.onion_address,
    )


def _receipt_key_loader(path: Path) -> Callable[[], ReceiptKey]:
    """Read the receipt key once, at first use: never create it here, never read it again.

    `sdlite init` makes the key, and `sdlite serve` makes it for an older instance before
    any worker starts; a web process that made its own would sign with an unpublished key.
    Reading it once also keeps the file's access time from dating a worker's writes. A
    failed read is not cached: the next write tries again.
    """
    return cache(partial(ReceiptKey.load, path))


def _incident_log(
    config: Config, db: Database, submissions: SubmissionService, clock: Callable[[], datetime]
) -> IncidentLogService:
    return IncidentLogService(
        db,
        _receipt_key_loader(config.receipt_key_path),
        submissions.submit_texts,
        config.max_message_chars,
        clock,
    )


def build_services(config: Config, clock: Callable[[], datetime] = utc_now) -> Services:
    """Build every service once, for one app or one CLI command."""
    db = Database(config.database_url, clock)
    store = Store(config.store_dir, clock)
    key = SubmissionKey(config.gpg_home, config.submission_key_fingerprint)
    log = admin_logger(config.admin_log_path)
    words = CodenameGenerator(eff_large_wordlist())
    settings = SettingsService(db, InstanceSettings.taken_from(config))
    deletion = DeletionService(db, store, clock)

    def limits() -> Limits:
        current = settings.current()
        return Limits(config.max_message_chars, current.max_upload_bytes, current.allow_uploads)

    sources = SourceService(
        db,
        store,
        words,
        DesignationGenerator.from_diceware(),
        CodenameKdf(config.pepper_id, config.pepper_key, config.kdf),
        clock,
        deletion,
        Deadlines(config.acknowledge_days, config.respond_days),
    )
    submissions = SubmissionService(db, store, key, limits, clock)
    users = UserService(
        db,
        words,
        PassphraseCheck(passphrase_hasher(config.kdf)),
        clock,
        config.login_attempts_per_minute,
        lambda: settings.current().organization_name,
    )
    return Services(
        config=config,
        clock=clock,
        db=db,
        store=store,
        key=key,
        key_monitor=KeyMonitor(key, clock, log),
        sessions=SessionStore(db, config.session_lifetime, clock),
        sources=sources,
        submissions=submissions,
        settings=settings,
        inbox=InboxService(db, store, deletion, clock, acknowledge_days=config.acknowledge_days),
        replies=ReplyService(db, store, key, deletion, config.max_message_chars, clock),
        deletion=deletion,
        users=users,
        audit=AuditLog(db, clock),
        onion=OnionPublisher(onion_settings(config), lambda: list(users.onion_clients().values())),
        info_pages=InfoPageService(db, clock),
        incident_log=_incident_log(config, db, submissions, clock),
        conversations=ConversationService(submissions.submit_texts),
        throttle=Throttle(db, clock),
    )
