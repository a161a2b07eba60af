"""The request class: large body reads, and file parts that never reach disk in plaintext."""

from __future__ import annotations

import io
from typing import Any

from werkzeug.test import EnvironBuilder

from securedrop_lite.serve import tune_allocator
from securedrop_lite.spool import EncryptedSpool
from securedrop_lite.web.request import READ_CHUNK_BYTES, SecureRequest


class RecordingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        self.sizes.append(len(buffer))
        return super().readinto(buffer)


def _multipart_request(file_bytes: bytes) -> tuple[SecureRequest, RecordingStream]:
    builder = EnvironBuilder(
        method="POST", data={"msg": "hi", "fh": (io.BytesIO(file_bytes), "a.bin")}
    )
    environ = builder.get_environ()
    builder.close()
    with environ["wsgi.input"] as original:  # the builder spools large bodies to a file
        stream = RecordingStream(original.read())
    environ["wsgi.input"] = stream
    return SecureRequest(environ), stream


def test_multipart_bodies_are_read_a_mebibyte_at_a_time() -> None:
    request, stream = _multipart_request(b"x" * (3 * READ_CHUNK_BYTES))
    request.max_form_memory_size = 2 * READ_CHUNK_BYTES
    assert request.form["msg"] == "hi"
    request.close()
    assert max(stream.sizes) == READ_CHUNK_BYTES
    assert len(stream.sizes) <= 5


def test_file_parts_without_an_upload_sink_go_to_the_encrypted_spool() -> None:
    request, _ = _multipart_request(b"y" * 1000)
    request.max_form_memory_size = 2 * READ_CHUNK_BYTES
    part: Any = request.files["fh"]
    assert isinstance(part.stream, EncryptedSpool)
    assert part.stream.read() == b"y" * 1000
    request.close()
    assert part.stream.closed


def test_allocator_tuning_applies_on_glibc() -> None:
    assert tune_allocator() is True
