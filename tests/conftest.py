"""Fixtures in layers: key pair -> data dir -> config -> services -> app -> client -> actions."""

from __future__ import annotations

import html
import io
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from journalist_interface import create_app as create_journalist_app
from securedrop_lite.airgap.keys import export_public_key, generate_key, stop_agent
from securedrop_lite.auth import totp_code
from securedrop_lite.cli import initialize
from securedrop_lite.config import Config, config_path, load_config
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.users import NewCredentials
from source_interface import create_app
from tests.postgres import PostgresServer

VENV_BIN = Path(sys.executable).parent
# Loopback, a port nothing listens on: following the link goes nowhere.
QUICK_EXIT_URL = "http://127.0.0.1:9/weather"


@pytest.fixture(autouse=True)
def _insecure_fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Argon2id cheap for tests, through the one profile that allows it."""
    monkeypatch.setenv("SDLITE_KDF_PROFILE", "insecure-test")
    monkeypatch.setenv("SDLITE_TESTING", "1")
    # The quick-exit link must never send a test's HTTP client off this machine.
    monkeypatch.setenv("SDLITE_QUICK_EXIT_URL", QUICK_EXIT_URL)


@dataclass
class KeyPair:
    """The ombuds' key pair: the private half in an air-gap home the server never sees."""

    airgap_home: Path
    public_key: Path
    fingerprint: str


@pytest.fixture(scope="session")
def ombuds_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    base = tmp_path_factory.mktemp("airgap")
    home = base / "gnupg"
    fingerprint = generate_key(home, "Test Ombuds", "")
    public = base / "public.asc"
    export_public_key(home, fingerprint, public)
    yield KeyPair(home, public, fingerprint)
    stop_agent(home)


TEMPLATE_DATABASE = "sdlite_template"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out the tests of the SQLite file (they run in the SQLite pass)."""
    if os.environ.get("SDLITE_TEST_DATABASE", "sqlite") == "sqlite":
        return
    kept = [item for item in items if item.get_closest_marker("sqlite_only") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer | None]:
    """None for SQLite (the default); with SDLITE_TEST_DATABASE=postgresql, a real server."""
    backend = os.environ.get("SDLITE_TEST_DATABASE", "sqlite")
    if backend == "sqlite":
        yield None
        return
    if backend != "postgresql":
        raise RuntimeError(f"SDLITE_TEST_DATABASE must be sqlite or postgresql, not {backend}")
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def instance_template(
    tmp_path_factory: pytest.TempPathFactory,
    ombuds_key: KeyPair,
    database_server: PostgresServer | None,
) -> Path:
    directory = tmp_path_factory.mktemp("template") / "data"
    with pytest.MonkeyPatch.context() as env:
        if database_server is not None:
            env.setenv("SDLITE_DATABASE_URL", database_server.create_database(TEMPLATE_DATABASE))
        initialize(directory, ombuds_key.public_key, "Test Ombuds Office")
    return directory


_databases = itertools.count(1)


@pytest.fixture
def data_dir(
    tmp_path: Path,
    instance_template: Path,
    database_server: PostgresServer | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """Copy one initialized instance per test: running `initialize` each time is slow.

    On PostgreSQL the test's database is a copy of the migrated template, named in
    SDLITE_DATABASE_URL for this process and every server or command it starts.
    """
    directory = tmp_path / "data"
    shutil.copytree(instance_template, directory)
    if database_server is None:
        yield directory
        return
    name = f"test_{next(_databases)}"
    monkeypatch.setenv(
        "SDLITE_DATABASE_URL", database_server.create_database(name, TEMPLATE_DATABASE)
    )
    yield directory
    database_server.drop_database(name)


@pytest.fixture
def config(data_dir: Path) -> Config:
    return load_config(os.environ, config_path(data_dir))


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 22, 15, 47, 13, tzinfo=UTC))


@pytest.fixture
def services(config: Config, clock: FrozenClock) -> Services:
    built = build_services(config, clock)
    yield built
    built.db.dispose()


@pytest.fixture
def app(config: Config, services: Services) -> Any:
    application = create_app(config, services)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CODENAME = re.compile(r'<p class="codename" id="codename">([^<]+)</p>')


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class SourceActions:
    """Drives the source flow through the Flask test client."""

    client: Any
    codename: str = ""
    last_page: str = field(default="", repr=False)

    def consent(self, next_page: str = "generate") -> Any:
        """Read the consent page and accept it, as every source does before a codename."""
        page = self.client.get(f"/consent?next={next_page}").get_data(as_text=True)
        return self.client.post(
            "/consent", data={"csrf_token": csrf_token(page), "next": next_page}
        )

    def generate(self) -> str:
        if self.client.get("/generate").status_code == 302:
            self.consent()
        page = self.client.get("/generate").get_data(as_text=True)
        match = _CODENAME.search(page)
        assert match, "no codename on /generate"
        self.codename = html.unescape(match.group(1))
        self.last_page = page
        return self.codename

    def create(self) -> Any:
        if not self.last_page:
            self.generate()
        return self.client.post("/create", data={"csrf_token": csrf_token(self.last_page)})

    def signup(self) -> str:
        self.generate()
        response = self.create()
        assert response.status_code == 302, response.status_code
        return self.codename

    def login(self, codename: str | None = None) -> Any:
        page = self.client.get("/login").get_data(as_text=True)
        return self.client.post(
            "/login",
            data={"csrf_token": csrf_token(page), "codename": codename or self.codename},
        )

    def submit(self, msg: str = "", file: tuple[bytes, str] | None = None) -> Any:
        page = self.client.get("/lookup").get_data(as_text=True)
        data: dict[str, Any] = {"csrf_token": csrf_token(page), "msg": msg}
        if file is not None:
            import io

            data["fh"] = (io.BytesIO(file[0]), file[1])
        return self.client.post("/submit", data=data, content_type="multipart/form-data")


@pytest.fixture
def source(client: Any) -> SourceActions:
    return SourceActions(client)


def decrypt_with_airgap_tool(ciphertext: Path, out: Path, key: KeyPair) -> Path:
    """Run `sdlite-airgap decrypt` on one item as the ombuds would; return the plaintext file."""
    done = subprocess.run(
        [str(VENV_BIN / "sdlite-airgap"), "decrypt", str(ciphertext), "--out", str(out),
         "--gnupghome", str(key.airgap_home), "--no-passphrase"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (plain,) = [p for p in out.rglob("*") if p.is_file()]
    return plain


def make_submission_key_unusable(
    services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make the key check fail, as for an expired key, and move past the monitor's cache."""
    from securedrop_lite.crypto import KeyUnusableError

    def expired(now: object) -> None:
        raise KeyUnusableError("the submission key is expired, revoked or invalid")

    monkeypatch.setattr(services.key, "check", expired)
    clock.advance(timedelta(minutes=5))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A real gunicorn serving the source app over HTTP on loopback."""

    url: str
    data_dir: Path
    temp_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_live_server(
    data_dir: Path, work: Path, env: dict[str, str] | None = None, app: str = "source"
) -> LiveServer:
    """Start `sdlite serve APP` with its own TMPDIR, and wait until it answers."""
    if shutil.which("gpg") is None:
        raise RuntimeError("gpg is missing: install Debian's gnupg (make test does)")
    port = free_port()
    temp_dir = work / f"{app}-server-tmp"
    temp_dir.mkdir(exist_ok=True)
    log_path = work / f"{app}-server.log"
    child_env = {**os.environ, "TMPDIR": str(temp_dir), **(env or {})}
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(VENV_BIN / "sdlite"), "serve", app, "--data-dir", str(data_dir),
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
            stdout=log, stderr=subprocess.STDOUT, env=child_env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(url, data_dir, temp_dir, log_path, process)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')}")
            try:
                requests.get(url + "/static/none", timeout=5)
                return server
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        raise RuntimeError("server did not start within 60 s")
    except BaseException:
        stop_live_server(server)  # never leave a server running behind a failed start
        raise


def stop_live_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def live_server(data_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(data_dir, tmp_path)
    yield server
    stop_live_server(server)


class HttpSource:
    """Drives the source flow over real HTTP with requests."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()
        self.codename = ""

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, allow_redirects=False)

    def consent(self) -> None:
        page = self.get("/consent").text
        response = self.http.post(
            self.base + "/consent",
            data={"csrf_token": csrf_token(page), "next": "generate"},
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 302, response.text

    def signup(self) -> str:
        self.consent()
        page = self.get("/generate").text
        match = _CODENAME.search(page)
        assert match
        self.codename = html.unescape(match.group(1))
        response = self.http.post(
            self.base + "/create", data={"csrf_token": csrf_token(page)}, allow_redirects=False
        )
        assert response.status_code == 302, response.text
        return self.codename

    def login(self, codename: str | None = None) -> requests.Response:
        page = self.get("/login").text
        return self.http.post(
            self.base + "/login",
            data={"csrf_token": csrf_token(page), "codename": codename or self.codename},
            allow_redirects=False,
            timeout=60,
        )

    def submit(self, msg: str = "", file: tuple[Any, str] | None = None) -> requests.Response:
        page = self.get("/lookup").text
        files = {"fh": (file[1], file[0], "application/octet-stream")} if file else None
        return self.http.post(
            self.base + "/submit",
            data={"csrf_token": csrf_token(page), "msg": msg},
            files=files,
            allow_redirects=False,
            timeout=600,
        )


@pytest.fixture
def journalist_app(config: Config, services: Services) -> Any:
    application = create_journalist_app(config, services)
    application.config["TESTING"] = True
    return application


@dataclass
class OmbudsActions:
    """Drives the ombuds interface through the Flask test client, on the frozen clock."""

    client: Any
    clock: FrozenClock

    def csrf(self, path: str = "/") -> str:
        return csrf_token(self.client.get(path).get_data(as_text=True))

    def login(self, credentials: NewCredentials, code: str | None = None, **overrides: str) -> Any:
        page = self.client.get("/login").get_data(as_text=True)
        data = {
            "csrf_token": csrf_token(page),
            "username": credentials.username,
            "passphrase": credentials.passphrase,
            "token": code or totp_code(credentials.totp_secret, self.clock()),
            **overrides,
        }
        return self.client.post("/login", data=data)

    def post(self, path: str, data: dict[str, Any] | None = None, page: str = "/") -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf(page), **(data or {})})


@pytest.fixture
def admin_credentials(services: Services) -> NewCredentials:
    return services.users.add("alice", is_admin=True)


@pytest.fixture
def ombuds(journalist_app: Any, clock: FrozenClock, admin_credentials: NewCredentials) -> Any:
    """An admin logged in to the ombuds interface."""
    actions = OmbudsActions(journalist_app.test_client(), clock)
    assert actions.login(admin_credentials).status_code == 302
    return actions


@pytest.fixture
def servers(data_dir: Path, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    source = start_live_server(data_dir, tmp_path)
    try:
        ombuds = start_live_server(data_dir, tmp_path, app="journalist")
    except BaseException:
        stop_live_server(source)
        raise
    yield source, ombuds
    stop_live_server(ombuds)
    stop_live_server(source)


def add_user(data_dir: Path) -> dict[str, str]:
    result = subprocess.run(
        [str(VENV_BIN / "sdlite"), "user", "add", "dana", "--json", "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, env=os.environ.copy(),
    )  # fmt: skip
    credentials: dict[str, str] = json.loads(result.stdout)
    return credentials


class HttpOmbuds:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, allow_redirects=False)

    def post(self, path: str, data: dict[str, str], page: str = "/") -> requests.Response:
        token = csrf_token(self.get(page).text)
        return self.http.post(
            self.base + path, data={"csrf_token": token, **data}, allow_redirects=False, timeout=60
        )

    def download_all(self, ref: str, out: Path) -> tuple[Path, Path]:
        """Download a source's items as one zip, unpack it into out; return (msg, doc)."""
        archive = self.post(f"/col/{ref}/items", {"action": "download-all"}, page=f"/col/{ref}")
        assert archive.status_code == 200
        assert archive.headers["Content-Type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
            z.extractall(out)
        (msg,) = out.rglob("*-msg.gpg")
        (doc,) = out.rglob("*-doc.gpg")
        return msg, doc

    def login(self, credentials: dict[str, str]) -> requests.Response:
        code = totp_code(credentials["totp_secret"], datetime.now(UTC))
        form = {"username": credentials["username"], "passphrase": credentials["passphrase"]}
        return self.post("/login", {**form, "token": code}, page="/login")
