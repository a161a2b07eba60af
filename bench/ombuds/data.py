"""The data: sources and their items, bulk-inserted, and the download source's files."""

from __future__ import annotations

import os
import random
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.common import MIB, read_through
from bench.ombuds.plan import ITEMS_PER_SOURCE, REPLY_NUMBERS, ZIP_FILES, Plan
from securedrop_lite.codename import DesignationGenerator, designation_slug
from securedrop_lite.models import Reply, Source, Submission
from securedrop_lite.services import Services


@dataclass(frozen=True)
class StoredFile:
    path: Path
    arcname: str
    size: int
    crc: int


@dataclass
class Dataset:
    sources: int
    submissions: int
    replies: int
    starred: int
    typical_ref: str  # a source with ITEMS_PER_SOURCE items, for the source page
    download_ref: str
    download_designation: str
    files: list[StoredFile] = field(default_factory=list)


def designations(count: int, rng: random.Random) -> list[str]:
    """Draw distinct "adjective noun" names from the lists the app itself uses.

    Real words rather than "adjective17 noun": file names in the store must match
    [a-z]+(-[a-z]+)*, so a designation with digits could not name a stored file.
    """
    words = DesignationGenerator.from_diceware()
    adjectives, nouns = words.adjectives.words, words.nouns.words
    picks = rng.sample(range(len(adjectives) * len(nouns)), count)
    return [f"{adjectives[k // len(nouns)]} {nouns[k % len(nouns)]}" for k in picks]


def download_names(designation: str) -> list[str]:
    """Return the file names of the download source's items, in order."""
    slug = designation_slug(designation)
    return [f"{number}-{slug}-doc.gpg" for number in range(1, ZIP_FILES + 1)]


def source_row(index: int, name: str, today: date, rng: random.Random) -> dict[str, Any]:
    created = today - timedelta(days=rng.randrange(730))
    active = created + timedelta(days=rng.randrange((today - created).days + 1))
    answered = index % 4 != 0
    return {
        "id": index + 1,
        "lookup_id": secrets.token_hex(32),
        "store_dir": secrets.token_hex(16),
        "designation": name,
        "public_key": secrets.token_bytes(32),
        "created_on": created,
        "last_activity_on": active,
        "item_counter": ITEMS_PER_SOURCE,
        "first_submission_on": created,
        "first_reply_on": created + (active - created) / 2 if answered else None,
        "starred": index % 97 == 0,
        "deleted": False,
    }


def item_rows(source: dict[str, Any], rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Return a source's submissions and replies: messages, a few files, unread at the end."""
    slug = designation_slug(source["designation"])
    created, active = source["created_on"], source["last_activity_on"]
    submissions, replies = [], []
    for number in range(1, ITEMS_PER_SOURCE + 1):
        day = created + (active - created) * number / ITEMS_PER_SOURCE
        common = {"source_id": source["id"], "number": number, "created_on": day}
        if source["first_reply_on"] is not None and number in REPLY_NUMBERS:
            box = secrets.token_bytes(rng.randrange(200, 2000))
            name = f"{number}-{slug}-reply.gpg"
            replies.append({**common, "file_name": name, "size": len(box) + 600,
                            "source_box": box, "deleted": False})  # fmt: skip
            continue
        kind = "doc" if number % 3 == 0 else "msg"
        size = rng.randrange(50_000, 20 * MIB) if kind == "doc" else rng.randrange(700, 6000)
        unread = number > ITEMS_PER_SOURCE - (source["id"] % 3)
        submissions.append({**common, "kind": kind, "file_name": f"{number}-{slug}-{kind}.gpg",
                            "size": size, "seen": not unread, "deleted": False})  # fmt: skip
    return submissions, replies


def populate(services: Services, plan: Plan) -> Dataset:
    """Bulk-insert the sources and their items; source 0 is the download source."""
    rng = random.Random(20261122)  # reproducible shapes, not secrets
    today = services.clock().date()
    names = designations(plan.sources, rng)
    sources = [source_row(i, name, today, rng) for i, name in enumerate(names)]
    download = sources[0]
    download.update(last_activity_on=today, item_counter=ZIP_FILES, first_reply_on=None)
    file_size = plan.download_mib * MIB // ZIP_FILES
    submissions = [
        {"source_id": download["id"], "number": n, "kind": "doc", "created_on": today,
         "file_name": name, "size": file_size, "seen": False, "deleted": False}
        for n, name in enumerate(download_names(download["designation"]), start=1)
    ]  # fmt: skip
    replies: list[dict] = []
    for source in sources[1:]:
        more_submissions, more_replies = item_rows(source, rng)
        submissions += more_submissions
        replies += more_replies
    with services.db.session() as s:
        s.execute(insert(Source), sources)
        s.execute(insert(Submission), submissions)
        s.execute(insert(Reply), replies)
    with services.db.session() as s:
        counted = [
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Source, Submission, Reply)
        ]
    return Dataset(
        sources=counted[0],
        submissions=counted[1],
        replies=counted[2],
        starred=sum(1 for source in sources if source["starred"]),
        typical_ref=sources[1]["store_dir"],
        download_ref=download["store_dir"],
        download_designation=download["designation"],
    )


def write_download_files(store: Path, dataset: Dataset, total_mib: int) -> None:
    """Write the download source's files: random bytes, as incompressible as ciphertext."""
    directory = store / dataset.download_ref
    directory.mkdir(mode=0o700)
    folder = designation_slug(dataset.download_designation)  # the zip's folder for the source
    for name in download_names(dataset.download_designation):
        crc = 0
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            for _ in range(total_mib // ZIP_FILES):
                chunk = os.urandom(MIB)
                crc = zlib.crc32(chunk, crc)
                f.write(chunk)
        size = total_mib // ZIP_FILES * MIB
        dataset.files.append(StoredFile(directory / name, f"{folder}/{name}", size, crc))
    os.sync()  # so that no run pays for the write-back of these files


def warm(files: Sequence[StoredFile]) -> None:
    """Read every file once, so that the server and cat both read from the page cache."""
    buffer = bytearray(MIB)
    for stored in files:
        read_through(stored.path, buffer)
