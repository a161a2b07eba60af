"""Serve an app with gunicorn: it streams request bodies instead of spooling them to disk.

Timeouts for slow Tor uploads: 500 MiB at 50 KiB/s, a slow but working circuit, take
almost three hours. gthread workers keep such an upload in a thread while the worker's
main loop keeps answering the arbiter's heartbeat, so gunicorn's `timeout` (the
heartbeat) never cuts it off, and nothing bounds the total time. What is bounded is
silence: a connection that sends no byte for `upload_idle_seconds` (5 minutes by
default) is closed with a 408 page, so stalled uploads cannot hold every thread forever.

Workers and threads: each worker is a process with its own database pool and `threads`
threads; each thread serves one request at a time, so `workers * threads` uploads can
arrive at once (16 by default). Each upload buffers about 1 MiB, so threads are cheap
in memory; more workers use both cores for encryption.

There is no access log at all (P4), and the error log is scrubbed of addresses,
because gunicorn writes the client's IP when it refuses a malformed request.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

_ADDRESS = re.compile(r"ip=\S+|\b\d{1,3}(?:\.\d{1,3}){3}\b|\[?[0-9a-fA-F]*:[0-9a-fA-F:]{2,}\]?")


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _ADDRESS.sub("[address removed]", record.getMessage())
        record.args = ()
        return True


class ScrubbingLogger(Logger):
    """gunicorn's logger: no access log, no time of day, and no addresses in the error log."""

    datefmt = "[%Y-%m-%d]"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.addFilter(_Redact())

    def access(self, *args: Any, **kwargs: Any) -> None:
        return None


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 16 * 1024 * 1024


def tune_allocator() -> bool:
    """Keep 1 MiB request buffers on the heap and stop glibc returning it to the kernel each read.

    By default each 1 MiB body read is mmap'd or trimmed away when freed, and the next
    read faults in fresh zeroed pages: about six page faults per page of upload, which
    cost more CPU than encrypting it. The thresholds bound what stays cached: at most
    16 MiB of free heap per arena, within the 64 MiB memory budget of an upload.
    Returns False where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


class IdleTimeout:
    """WSGI middleware: a request's socket reads time out after `seconds` of silence."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            # gthread leaves the socket blocking with no timeout while a request is read.
            sock.settimeout(self.seconds)
        return self.app(environ, start_response)


class _Server(BaseApplication):
    def __init__(
        self, factory: Callable[[], Any], options: dict[str, Any], idle_seconds: float
    ) -> None:
        self._factory = factory
        self._options = options
        self._idle_seconds = idle_seconds
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        tune_allocator()  # in the worker, after the fork
        app = self._factory()
        app.wsgi_app = IdleTimeout(app.wsgi_app, self._idle_seconds)
        return app


def gunicorn_options(bind: str, workers: int = 2, threads: int = 8) -> dict[str, Any]:
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 120,  # the arbiter's heartbeat, not a limit on a request: see above
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "logger_class": ScrubbingLogger,
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
        "proc_name": "sdlite",
    }


def serve(
    factory: Callable[[], Any],
    bind: str,
    workers: int = 2,
    threads: int = 8,
    idle_seconds: float = 300,
    when_ready: Callable[[Any], None] | None = None,
) -> None:
    """Run gunicorn in the foreground; each worker builds its own app with factory().

    when_ready(arbiter) runs once gunicorn handles signals itself.
    """
    options = gunicorn_options(bind, workers, threads)
    if when_ready is not None:
        options["when_ready"] = when_ready
    _Server(factory, options, idle_seconds).run()
