"""A Request whose file parts never reach disk in plaintext (P1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from flask import Request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestTimeout
from werkzeug.formparser import FormDataParser, MultiPartParser

from securedrop_lite.spool import EncryptedSpool


def _any_nul(fields: MultiDict[str, str], *texts: str) -> bool:
    """Whether any text, or any value of any field, holds a NUL character."""
    values = (value for _, values in fields.lists() for value in values)
    return any("\x00" in value for value in (*texts, *values))


class MalformedForm(BadRequest):
    description = "The form could not be read. Please go back and send it again."


class UploadStalled(RequestTimeout):
    description = (
        "Nothing arrived for several minutes, so the upload was stopped and nothing of "
        "it was kept. Please send it again."
    )


# Read request bodies in 1 MiB pieces, gunicorn's largest recv(): with Werkzeug's
# default 64 KiB reads, gunicorn re-copies the rest of every 1 MiB it received at each
# read, and a 256 MiB upload cost several times the CPU of encrypting it.
READ_CHUNK_BYTES = 1024 * 1024


class LargeReadFormDataParser(FormDataParser):
    """Werkzeug's form parser, reading multipart bodies READ_CHUNK_BYTES at a time."""

    def _parse_multipart(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> Any:
        parser = MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=READ_CHUNK_BYTES,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class SecureRequest(Request):
    """File parts go to an upload sink chosen by the view, or else to an encrypted spool.

    A view that accepts one file sets `upload_sink` before it reads the form; the first
    named file part is written into the sink as it arrives. Every other file part goes
    to an EncryptedSpool, so no code path can spool an upload to disk in plaintext.
    """

    form_data_parser_class = LargeReadFormDataParser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_sink: Callable[[str], IO[bytes]] | None = None
        self._opened: list[IO[bytes]] = []

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream: IO[bytes]
        if self.upload_sink is not None and filename:
            stream = self.upload_sink(filename)
            self.upload_sink = None  # one file per request
        else:
            stream = EncryptedSpool()  # type: ignore[assignment]
        self._opened.append(stream)
        return stream

    def make_form_data_parser(self) -> FormDataParser:
        parser = super().make_form_data_parser()
        parser.silent = False  # a malformed body is a 400, not a silently empty form
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except (ValueError, ParseException, NoMoreData) as exc:  # gunicorn's: bad chunking
            raise MalformedForm from exc
        except TimeoutError as exc:  # the idle timeout of securedrop_lite.serve
            raise UploadStalled from exc
        except ClientDisconnected as exc:
            # Werkzeug reports a read that timed out as a disconnection; say which it was.
            if isinstance(exc.__context__, TimeoutError):
                raise UploadStalled from exc
            raise
        # No text the apps store or look up may hold a NUL (PostgreSQL refuses it outright).
        if _any_nul(self.form):
            raise MalformedForm

    @property
    def has_nul(self) -> bool:
        """Whether the path or the query holds a NUL (form fields are checked as parsed)."""
        return _any_nul(self.args, self.path)

    def close(self) -> None:
        """Close every stream this request opened, even when parsing stopped half-way."""
        try:
            super().close()
        finally:
            for stream in self._opened:
                stream.close()
            self._opened.clear()
