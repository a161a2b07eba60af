"""Sources and their items for the ombuds-side tests, stored the way the source side stores them.

Shared log entries ("log") and conversation requests ("talk") are encrypted to the ombuds
key and named in the store exactly as SubmissionService stores a message: a real GnuPG
ciphertext file and its row, never a row without a file.
"""

from __future__ import annotations

from sqlalchemy import select

from securedrop_lite.models import Source, Submission
from securedrop_lite.services import Services
from securedrop_lite.services.sources import SourceIdentity
from securedrop_lite.services.submissions import TextItem


def new_source(services: Services, *messages: str) -> tuple[SourceIdentity, str]:
    """Create a source that sends each message in turn; return its identity and ref."""
    _, identity = services.sources.new_identity()
    services.sources.create(identity)
    for message in messages:
        services.submissions.submit(identity, message, None)
    with services.db.session() as s:
        ref = s.scalars(
            select(Source.store_dir).where(Source.lookup_id == identity.lookup_id)
        ).one()
    return identity, ref


def store_text_item(services: Services, identity: SourceIdentity, kind: str, text: str) -> str:
    """Encrypt text to the ombuds key as the source's `kind` item; return its file name."""
    services.submissions.submit_texts(
        identity, [TextItem(kind, text.encode("utf-8"), "message.txt")]
    )
    with services.db.session() as s:
        return s.scalars(
            select(Submission.file_name)
            .join(Source)
            .where(Source.lookup_id == identity.lookup_id, Submission.kind == kind)
            .order_by(Submission.number.desc())
            .limit(1)
        ).one()
