"""The pages, in-process: the inbox and a source page against the account page, with their SQL."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.common import BenchError
from bench.ombuds.data import Dataset
from bench.ombuds.login import log_in_test_client
from bench.ombuds.plan import DEEP_PAGE, INBOX_TARGET_MS, ITEMS_PER_SOURCE, WARMUPS
from bench.proc import MachineCpu
from journalist_interface import create_app
from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.services.inbox import PER_PAGE


class SqlCounter:
    """Counts the statements an engine sends, and the time spent in them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.seconds = 0.0
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(" ".join(statement.split()))
        self._started = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._started

    def reset(self) -> None:
        self.statements, self.seconds = [], 0.0

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


@dataclass
class Page:
    name: str
    path: str
    check: Callable[[str], bool]  # is the page what it should be?
    service: Callable[[], object] | None = None  # the service call behind it, timed alone
    target_ms: float | None = None
    render_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    sample_statements: list[str] = field(default_factory=list)

    def summary(self, baseline_ms: float) -> dict[str, Any]:
        render = statistics.median(self.render_ms)
        return {
            "name": self.name,
            "path": self.path,
            "requests": len(self.render_ms),
            "render_ms_median": render,
            "render_ms_min": min(self.render_ms),
            "render_ms_max": max(self.render_ms),
            "vs_baseline": render / baseline_ms,
            "sql_ms_median": statistics.median(self.sql_ms),
            "service_ms_median": statistics.median(self.service_ms) if self.service_ms else None,
            "statements": max(self.statements),
            "statements_vary": min(self.statements) != max(self.statements),
            "target_ms": self.target_ms,
            "target_met": None if self.target_ms is None else render <= self.target_ms,
            "sample_statements": self.sample_statements,
        }


def pages_to_measure(services: Services, dataset: Dataset) -> list[Page]:
    pages = max(1, -(-dataset.sources // PER_PAGE))
    deep = min(DEEP_PAGE, pages)

    def inbox_check(number: int) -> Callable[[str], bool]:
        rows = min(PER_PAGE, dataset.sources - (number - 1) * PER_PAGE)
        return lambda text: (
            f"Page {number} of {pages}" in text and text.count('href="/col/') == rows
        )

    return [
        Page("account (baseline)", "/account", lambda text: "bench-pages" in text),
        Page("inbox page 1", "/", inbox_check(1), lambda: services.inbox.page(1), INBOX_TARGET_MS),
        Page(f"inbox page {deep}", f"/?page={deep}", inbox_check(deep),
             lambda: services.inbox.page(deep), INBOX_TARGET_MS),
        Page("source page", f"/col/{dataset.typical_ref}",
             lambda text: text.count('name="items"') == ITEMS_PER_SOURCE,
             lambda: services.inbox.source(dataset.typical_ref)),
    ]  # fmt: skip


def request_page(client: Any, page: Page, counter: SqlCounter, run: int) -> None:
    """Request page once; from the first run after the warm-ups, record what it took."""
    counter.reset()
    started = time.perf_counter()
    response = client.get(page.path)
    elapsed_ms = (time.perf_counter() - started) * 1000
    text = response.get_data(as_text=True)
    if response.status_code != 200 or (run == 0 and not page.check(text)):
        raise BenchError(f"{page.path} answered {response.status_code}: {text[:300]}")
    if run < WARMUPS:
        return
    page.render_ms.append(elapsed_ms)
    page.sql_ms.append(counter.seconds * 1000)
    page.statements.append(len(counter.statements))
    page.sample_statements = [s[:160] for s in counter.statements]
    if page.service is not None:
        started = time.perf_counter()
        page.service()
        page.service_ms.append((time.perf_counter() - started) * 1000)


def measure_pages(
    config: Config, services: Services, dataset: Dataset, runs: int
) -> tuple[list[Page], float]:
    """Time each page round-robin; return the pages and the share of a CPU others used."""
    client = create_app(config, services).test_client()
    log_in_test_client(client, services.users.add("bench-pages"))
    pages = pages_to_measure(services, dataset)
    counter = SqlCounter(services.db.engine)
    machine0, t0 = MachineCpu.now(), time.perf_counter()
    try:
        for run in range(WARMUPS + runs):
            for page in pages:
                request_page(client, page, counter, run)
    finally:
        counter.close()
    machine1, t1 = MachineCpu.now(), time.perf_counter()
    return pages, max(machine1.others_since(machine0), 0.0) / (t1 - t0)
