"""A Request whose file parts never reach disk in plaintext (P1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from flask import Request
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser

from securedrop_lite.spool import EncryptedSpool


class MalformedForm(BadRequest):
    description = "The form could not be read. Please go back and send it again."


class SecureRequest(Request):
    """File parts go to an upload sink chosen by the view, or else to an encrypted spool.

    A view that accepts one file sets `upload_sink` before it reads the form; the first
    named file part is written into the sink as it arrives. Every other file part goes
    to an EncryptedSpool, so no code path can spool an upload to disk in plaintext.
    """

    spool_dir: Path | None = None

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
            stream = EncryptedSpool(self.spool_dir)  # type: ignore[assignment]
        self._opened.append(stream)
        return stream

    def make_form_data_parser(self) -> FormDataParser:
        parser = super().make_form_data_parser()
        parser.silent = False  # a malformed body is a 400, not a silently empty form
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except ValueError as exc:
            raise MalformedForm from exc

    def close(self) -> None:
        """Close every stream this request opened, even when parsing stopped half-way."""
        try:
            super().close()
        finally:
            for stream in self._opened:
                stream.close()
            self._opened.clear()
