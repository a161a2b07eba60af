"""Many sources write at once while the ombuds downloads zips: every item lands exactly once.

Each source sends five messages and one file whose plaintext names the source and the
item, so every stored ciphertext can be decrypted and matched to exactly one thing sent.
The sources hold back their files until the ombuds has downloaded a first zip, so the
downloads certainly overlap the uploads.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.config import Config
from tests.conftest import HttpOmbuds, HttpSource, KeyPair, LiveServer, add_user, csrf_token
from tests.reliability.faults import files_under, sizes, source_count, submission_rows

_REF = re.compile(r'href="/col/([0-9a-f]{32})"')
WAIT_SECONDS = 300


@dataclass
class Responses:
    """Every HTTP answer any thread got, by status, and the requests that got a 5xx."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def hook(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{response.request.method} {response.url}")

    def watch(self, http: requests.Session) -> None:
        http.hooks["response"].append(self.hook)


@dataclass(frozen=True)
class Sent:
    """What one source sent: texts by plaintext, and its file's bytes and name."""

    messages: tuple[str, ...]
    document: bytes
    document_name: str


def what_source_sends(index: int, run: str, messages: int, file_bytes: int) -> Sent:
    texts = tuple(f"source {index} message {j} of run {run}: ñ" for j in range(messages))
    head = f"source {index} file of run {run}\n".encode()
    return Sent(texts, head + secrets.token_bytes(file_bytes - len(head)), f"evidence-{index}.bin")


def run_source(base_url: str, sent: Sent, first_zip: threading.Event, responses: Responses) -> None:
    source = HttpSource(base_url)
    responses.watch(source.http)
    source.signup()
    for text in sent.messages:
        assert source.submit(text).status_code == 302
    if not first_zip.wait(WAIT_SECONDS):
        raise AssertionError("the ombuds never downloaded a zip")
    assert source.submit("", (io.BytesIO(sent.document), sent.document_name)).status_code == 302


def download_zip(ombuds: HttpOmbuds, ref: str) -> dict[str, bytes]:
    """Download all of one source's items as a zip; return its members by file name."""
    token = csrf_token(ombuds.get(f"/col/{ref}").text)
    archive = ombuds.http.post(
        f"{ombuds.base}/col/{ref}/items",
        data={"csrf_token": token, "action": "download-all"},
        allow_redirects=False,
        timeout=60,
    )
    assert archive.status_code == 200, archive.status_code
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert z.testzip() is None
        return {Path(name).name: z.read(name) for name in z.namelist()}


def keep_downloading(ombuds: HttpOmbuds, stop: threading.Event, first_zip: threading.Event) -> int:
    """Download zips of the newest sources until told to stop; return how many."""
    downloads = 0
    try:
        while not stop.is_set():
            inbox = ombuds.get("/")
            assert inbox.status_code == 200, inbox.status_code
            for ref in _REF.findall(inbox.text)[:4]:
                download_zip(ombuds, ref)
                downloads += 1
                first_zip.set()
    finally:
        first_zip.set()  # a failed downloader must not leave the writers waiting
    return downloads


def test_concurrent_sources_and_zip_downloads_store_each_item_exactly_once(
    servers: tuple[LiveServer, LiveServer], config: Config, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source_server, ombuds_server = servers
    plan = sizes()
    run = secrets.token_hex(6)
    sent = [
        what_source_sends(i, run, plan.messages_per_source, plan.file_bytes_per_source)
        for i in range(plan.concurrent_sources)
    ]
    responses = Responses()
    ombuds = HttpOmbuds(ombuds_server.url)
    responses.watch(ombuds.http)
    assert ombuds.login(add_user(source_server.data_dir)).status_code == 302

    stop, first_zip = threading.Event(), threading.Event()
    with ThreadPoolExecutor(max_workers=len(sent) + 1) as pool:
        downloader = pool.submit(keep_downloading, ombuds, stop, first_zip)
        writers = [
            pool.submit(run_source, source_server.url, s, first_zip, responses) for s in sent
        ]
        try:
            for writer in writers:
                writer.result(timeout=WAIT_SECONDS)
        finally:
            stop.set()
        downloads = downloader.result(timeout=WAIT_SECONDS)

    assert downloads > 0
    assert responses.server_errors == []
    assert max(responses.statuses) < 500
    for server in servers:
        assert "Traceback" not in server.log_text()
        assert "unexpected error" not in server.log_text()

    # Rows and files: exactly messages + 1 per source, each row with its file and no more.
    per_item = plan.messages_per_source + 1
    rows = submission_rows(config.database_url)
    assert source_count(config.database_url) == len(sent)
    assert len(rows) == len(sent) * per_item
    assert not any(row.deleted for row in rows)
    by_source: dict[str, list[int]] = {}
    for row in rows:
        by_source.setdefault(row.store_dir, []).append(row.number)
    assert len(by_source) == len(sent)
    for numbers in by_source.values():
        assert sorted(numbers) == list(range(1, per_item + 1))
    store = config.store_dir
    stored = {str(p.relative_to(store)): p for p in files_under(store)}
    assert set(stored) == {row.path for row in rows}  # nothing left in staging either
    for row in rows:
        assert stored[row.path].stat().st_size == row.size

    # Every ciphertext decrypts to exactly one thing sent, and each source's six are together.
    expected = {}
    for index, one in enumerate(sent):
        for text in one.messages:
            expected[text.encode()] = (index, "message.txt")
        expected[one.document] = (index, one.document_name)
    found: dict[str, set[int]] = {}
    seen: Counter[bytes] = Counter()
    for number, row in enumerate(rows):
        decrypted = decrypt_file(ombuds_key.airgap_home, stored[row.path], tmp_path / str(number))
        plaintext = decrypted.path.read_bytes()
        assert plaintext in expected, f"{row.path} holds nothing any source sent"
        index, name = expected[plaintext]
        assert decrypted.original_name == name
        assert row.kind == ("msg" if name == "message.txt" else "doc")
        found.setdefault(row.store_dir, set()).add(index)
        seen[plaintext] += 1
    assert set(seen) == set(expected)
    assert set(seen.values()) == {1}
    assert all(len(indexes) == 1 for indexes in found.values())

    # A zip of each source, downloaded now, holds exactly its stored ciphertexts.
    for ref in by_source:
        members = download_zip(ombuds, ref)
        in_store = {p.name: p.read_bytes() for p in stored.values() if p.parent.name == ref}
        assert members == in_store
