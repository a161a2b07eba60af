"""Logins over HTTP, each against the Argon2id work it must do, timed alone in this process.

A source login derives two Argon2id keys from the codename (the lookup id and the key
seed); its baseline is the project's own CodenameKdf doing both, with the instance's
peppers and parameters. An ombuds login verifies one Argon2id passphrase hash; its
baseline is the project's own hasher verifying a hash of the same parameters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from bench.common import BenchError, csrf_token
from bench.ombuds.login import login_form
from bench.proc import MachineCpu, cpu_seconds, own_cpu_seconds
from bench.server import Server
from securedrop_lite.auth import normalize_passphrase, passphrase_hasher
from securedrop_lite.config import Config
from securedrop_lite.kdf import CodenameKdf
from securedrop_lite.services import Services

_CODENAME = re.compile(r'<p class="codename" id="codename">([^<]+)</p>')
TIMEOUT = 120


@dataclass
class LoginRun:
    """One run's times in ms: wall clock, and CPU (the worker's, or this process's)."""

    run: int
    codename_kdf_ms: float  # baseline: source_id + key_seed, in-process
    codename_kdf_cpu_ms: float
    source_login_ms: float
    source_login_cpu_ms: float
    wrong_codename_ms: float
    wrong_codename_cpu_ms: float
    passphrase_kdf_ms: float  # baseline: one Argon2id verify, in-process
    passphrase_kdf_cpu_ms: float
    ombuds_login_ms: float
    ombuds_login_cpu_ms: float
    others_cpu_share: float  # CPU anything else used during the run, as a share of one CPU


@dataclass(frozen=True)
class Timed:
    ms: float
    cpu_ms: float


def sign_up(server: Server) -> str:
    """Sign a source up over HTTP, as a browser would; return its codename."""
    browser = requests.Session()
    consent = browser.get(server.url + "/consent", timeout=TIMEOUT).text
    form = {"csrf_token": csrf_token(consent), "next": "generate"}
    accepted = browser.post(
        server.url + "/consent", data=form, timeout=TIMEOUT, allow_redirects=False
    )
    if accepted.status_code != 302:
        raise BenchError(f"/consent answered {accepted.status_code}")
    page = browser.get(server.url + "/generate", timeout=TIMEOUT, allow_redirects=False).text
    found = _CODENAME.search(page)
    if not found:
        raise BenchError("no codename on /generate")
    created = browser.post(server.url + "/create", data={"csrf_token": csrf_token(page)},
                           timeout=TIMEOUT, allow_redirects=False)  # fmt: skip
    if created.status_code != 302:
        raise BenchError(f"/create answered {created.status_code}")
    return found.group(1)


def timed_login(
    server: Server, fields: Callable[[str], dict[str, str]], expect: int, where: str
) -> Timed:
    """GET /login for a fresh session and its CSRF token, then time the POST alone.

    fields(page) returns the form. The POST is timed up to its answer, not the redirect's;
    the CPU is the worker's meanwhile.
    """
    browser = requests.Session()
    page = browser.get(server.url + "/login", timeout=TIMEOUT).text
    form = fields(page)
    worker = server.worker_pid()
    cpu0, started = cpu_seconds(worker)[0], time.perf_counter()
    response = browser.post(server.url + "/login", data=form, timeout=TIMEOUT,
                            allow_redirects=False)  # fmt: skip
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(worker)[0] - cpu0
    location = response.headers.get("Location", "")
    if response.status_code != expect or (expect == 302 and not location.endswith(where)):
        raise BenchError(
            f"POST /login answered {response.status_code} {location!r}, not {expect} {where}\n"
            f"{server.log_text()[-2000:]}"
        )
    return Timed(elapsed * 1000, cpu * 1000)


def in_process(work: Callable[[], object]) -> Timed:
    """Time work here: wall clock, and this process's CPU (all its threads: Argon2id's lanes)."""
    cpu0, started = own_cpu_seconds(), time.perf_counter()
    work()
    return Timed((time.perf_counter() - started) * 1000, (own_cpu_seconds() - cpu0) * 1000)


class LoginBench:
    """Everything the login runs share: the servers, the codenames, the baselines' inputs."""

    def __init__(self, config: Config, services: Services, source: Server, journalist: Server):
        self.services = services
        self.source = source
        self.journalist = journalist
        self.kdf = CodenameKdf(config.pepper_id, config.pepper_key, config.kdf)
        self.hasher = passphrase_hasher(config.kdf)
        self.codename = sign_up(source)
        # Well formed, so that the server runs both derivations before it finds no source.
        self.wrong_codename = services.sources.codenames.generate()

    def source_login(self, codename: str, expect: int) -> Timed:
        def fields(page: str) -> dict[str, str]:
            return {"csrf_token": csrf_token(page), "codename": codename}

        return timed_login(self.source, fields, expect, "/lookup")

    def ombuds_login(self, run: int) -> tuple[Timed, Timed]:
        """Time a new account's login, and its passphrase check alone before it.

        One account per run: a TOTP code is accepted once per account and time step.
        """
        credentials = self.services.users.add(f"bench-login-{run}")
        passphrase = normalize_passphrase(credentials.passphrase)
        stored = self.hasher.hash(passphrase)  # the same parameters as the account's hash
        baseline = in_process(lambda: self.hasher.verify(stored, passphrase))
        login = timed_login(self.journalist, lambda page: login_form(page, credentials), 302, "/")
        return login, baseline

    def run(self, run: int) -> LoginRun:
        """Take turns: each baseline just before the logins it stands for."""
        workers = [self.source.worker_pid(), self.journalist.worker_pid()]
        workers_cpu0 = sum(cpu_seconds(w)[0] for w in workers)
        machine0, t0 = MachineCpu.now(), time.perf_counter()
        codename_kdf = in_process(
            lambda: (self.kdf.source_id(self.codename), self.kdf.key_seed(self.codename))
        )
        source = self.source_login(self.codename, 302)
        wrong = self.source_login(self.wrong_codename, 401)
        ombuds, passphrase_kdf = self.ombuds_login(run)
        machine1, t1 = MachineCpu.now(), time.perf_counter()
        workers_cpu = sum(cpu_seconds(w)[0] for w in workers) - workers_cpu0
        others = machine1.others_since(machine0, workers_cpu)
        return LoginRun(
            run=run,
            codename_kdf_ms=codename_kdf.ms,
            codename_kdf_cpu_ms=codename_kdf.cpu_ms,
            source_login_ms=source.ms,
            source_login_cpu_ms=source.cpu_ms,
            wrong_codename_ms=wrong.ms,
            wrong_codename_cpu_ms=wrong.cpu_ms,
            passphrase_kdf_ms=passphrase_kdf.ms,
            passphrase_kdf_cpu_ms=passphrase_kdf.cpu_ms,
            ombuds_login_ms=ombuds.ms,
            ombuds_login_cpu_ms=ombuds.cpu_ms,
            others_cpu_share=max(others, 0.0) / (t1 - t0),
        )


def measure_logins(
    config: Config, services: Services, source: Server, journalist: Server, runs: int
) -> list[LoginRun]:
    bench = LoginBench(config, services, source, journalist)
    results = []
    for index in range(1, runs + 1):
        print(f"  login run {index}/{runs}:", end="", flush=True)
        done = bench.run(index)
        print(f" source {done.source_login_ms:.0f} ms (KDF {done.codename_kdf_ms:.0f} ms), "
              f"ombuds {done.ombuds_login_ms:.0f} ms (KDF {done.passphrase_kdf_ms:.0f} ms)",
              flush=True)  # fmt: skip
        results.append(done)
    return results
