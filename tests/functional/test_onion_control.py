"""`sdlite onion` and `sdlite user` against a real tor's control port (network off)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from securedrop_lite.cli import main
from securedrop_lite.onion import ControlEndpoint, read_address
from securedrop_lite.onion.control import command, connect
from tests.functional.offline_tor import OfflineTor


@pytest.fixture
def tor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineTor]:
    with OfflineTor(tmp_path) as running:
        monkeypatch.setenv("SDLITE_TOR_CONTROL", f"127.0.0.1:{running.control_port}")
        yield running


def detached(tor: OfflineTor) -> set[str]:
    """Ask tor itself which services it publishes."""
    with connect(ControlEndpoint.parse(f"127.0.0.1:{tor.control_port}"), tor.password) as c:
        reply = str(command(c, "GETINFO onions/detached"))
    return {word for line in reply.splitlines() for word in line.replace("=", " ").split()
            if len(word) == 56}  # fmt: skip


def sdlite(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def add_user(capsys: pytest.CaptureFixture[str], data_dir: Path, name: str) -> dict[str, str]:
    code, out, _ = sdlite(capsys, "user", "add", name, "--json", "--data-dir", str(data_dir))
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def addresses(data_dir: Path) -> tuple[str, str]:
    source = read_address(data_dir / "onion" / "source")
    ombuds = read_address(data_dir / "onion" / "ombuds")
    assert source
    assert ombuds
    return source, ombuds


def published_clients(data_dir: Path) -> set[str]:
    path = data_dir / "onion" / "ombuds" / "published-clients"
    return set(path.read_text().split()) if path.exists() else set()


def test_onion_up_twice_gives_the_same_addresses(
    tor: OfflineTor, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_user(capsys, data_dir, "alice")
    source, ombuds = addresses(data_dir)
    first = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
    second = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
    assert first[0] == second[0] == 0
    assert first[1] == second[1]
    assert f"http://{source}/  published" in first[1]
    assert f"http://{ombuds}/  published" in first[1]
    assert detached(tor) == {source[:56], ombuds[:56]}
    assert addresses(data_dir) == (source, ombuds)


def test_the_ombuds_service_is_never_published_without_client_keys(
    tor: OfflineTor, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = addresses(data_dir)
    code, out, _ = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
    assert code == 0  # all is as it should be: no user, so the ombuds interface is closed
    assert "no user has a client key: it stays closed" in out
    assert detached(tor) == {source[:56]}


def test_each_user_gets_a_key_and_deleting_one_revokes_only_theirs(
    tor: OfflineTor, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ombuds = addresses(data_dir)
    assert sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))[0] == 0  # no users yet
    alice = add_user(capsys, data_dir, "alice")
    bob = add_user(capsys, data_dir, "bob")
    assert alice["onion_address"] == ombuds
    assert ombuds[:56] in detached(tor)  # `user add` republished at once
    code, out, _ = sdlite(capsys, "onion", "status", "--data-dir", str(data_dir))
    assert code == 0
    assert "2 client key(s)" in out
    keys_before = published_clients(data_dir)
    assert len(keys_before) == 2
    code, out, err = sdlite(capsys, "user", "delete", "alice", "--data-dir", str(data_dir))
    assert code == 0, err
    assert "now admits 1 client key(s)" in out
    remaining = published_clients(data_dir)
    assert len(remaining) == 1
    assert remaining < keys_before
    assert ombuds[:56] in detached(tor)
    assert bob["onion_private_key"] != alice["onion_private_key"]


def test_reissuing_a_key_replaces_the_old_one(
    tor: OfflineTor, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_user(capsys, data_dir, "alice")
    old = published_clients(data_dir)
    code, out, _ = sdlite(capsys, "user", "onion-key", "alice", "--data-dir", str(data_dir))
    assert code == 0
    assert "the old one is revoked" in out
    assert ".auth_private" in out
    new = published_clients(data_dir)
    assert len(new) == 1
    assert new != old


def test_onion_down_withdraws_both_and_keeps_the_keys(
    tor: OfflineTor, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_user(capsys, data_dir, "alice")
    before = addresses(data_dir)
    assert sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))[0] == 0
    assert sdlite(capsys, "onion", "down", "--data-dir", str(data_dir))[0] == 0
    assert detached(tor) == set()
    code, out, _ = sdlite(capsys, "onion", "status", "--data-dir", str(data_dir))
    assert code == 1
    assert out.count("NOT published") == 2
    assert addresses(data_dir) == before
    for name in ("hs_ed25519_secret_key", "hs_ed25519_public_key", "hostname"):
        for service in ("source", "ombuds"):
            path = data_dir / "onion" / service / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_proof_of_work_defenses_are_accepted_by_tor(
    tor: OfflineTor,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SDLITE_ONION_POW", "true")
    source, _ = addresses(data_dir)
    sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
    assert source[:56] in detached(tor)


def test_a_closed_control_port_is_named_unreachable(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("SDLITE_TOR_CONTROL", f"127.0.0.1:{free_port()}")
    code, _, err = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
    assert code == 3
    assert "TorUnreachable" in err
    assert "Traceback" not in err


def test_a_missing_control_socket_is_named_missing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SDLITE_TOR_CONTROL", f"unix:{tmp_path / 'no-such-socket'}")
    code, _, err = sdlite(capsys, "onion", "status", "--data-dir", str(data_dir))
    assert code == 3
    assert "TorMissing" in err
    assert "is tor running?" in err


def test_a_wrong_control_password_is_named_refused(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with OfflineTor(tmp_path, password="correct horse battery") as tor:
        monkeypatch.setenv("SDLITE_TOR_CONTROL", f"127.0.0.1:{tor.control_port}")
        monkeypatch.setenv("SDLITE_TOR_CONTROL_PASSWORD", "wrong horse battery")
        code, _, err = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
        assert code == 3
        assert "TorRefused" in err
        monkeypatch.setenv("SDLITE_TOR_CONTROL_PASSWORD", "correct horse battery")
        code, out, _ = sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))
        assert "published" in out


def test_without_a_control_port_user_changes_say_how_to_apply_them(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_user(capsys, data_dir, "alice")
    add_user(capsys, data_dir, "bob")
    out_dir = tmp_path / "authorized_clients"
    out_dir.mkdir()
    (out_dir / "mallory.auth").write_text("descriptor:x25519:" + "A" * 52 + "\n")
    code, _, _ = sdlite(
        capsys, "onion", "export-clients", str(out_dir), "--data-dir", str(data_dir)
    )
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["alice.auth", "bob.auth"]
    line = (out_dir / "alice.auth").read_text()
    assert line.startswith("descriptor:x25519:")
    assert stat.S_IMODE((out_dir / "alice.auth").stat().st_mode) == 0o600
    code, out, _ = sdlite(capsys, "user", "delete", "bob", "--data-dir", str(data_dir))
    assert code == 0
    assert "run `sdlite onion export-clients`" in out


def test_the_demo_publishes_both_onion_services_when_a_control_port_is_set(
    tor: OfflineTor, tmp_path: Path
) -> None:
    from tests.conftest import VENV_BIN, free_port

    port, ombuds_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(VENV_BIN / "sdlite"), "demo", "--data-dir", str(tmp_path / "demo"),
             "--bind", f"127.0.0.1:{port}", "--journalist-bind", f"127.0.0.1:{ombuds_port}",
             "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Press Ctrl-C" not in log.read_text() and time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()
            time.sleep(0.2)
        source, ombuds = addresses(tmp_path / "demo")
        banner = log.read_text()
        assert f"Source onion:       http://{source}/" in banner
        assert f"Ombuds onion:       http://{ombuds}/" in banner
        # demo-admin's key opens the ombuds service, so both are up.
        assert detached(tor) == {source[:56], ombuds[:56]}
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    assert detached(tor) == set()  # withdrawn when the demo stops


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_admin_pages_show_a_new_key_first_and_republish_after(
    tor: OfflineTor, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import HttpOmbuds, start_live_server, stop_live_server

    boss = add_user(capsys, data_dir, "boss")
    code, out, _ = sdlite(
        capsys, "user", "add", "chief", "--admin", "--json", "--data-dir", str(data_dir)
    )
    chief = json.loads(out)
    assert code == 0
    assert sdlite(capsys, "onion", "up", "--data-dir", str(data_dir))[0] == 0
    env = {"SDLITE_TOR_CONTROL": os.environ["SDLITE_TOR_CONTROL"]}
    server = start_live_server(data_dir, tmp_path, env, app="journalist")
    try:
        admin = HttpOmbuds(server.url)
        assert admin.login(chief).status_code == 302
        page = admin.post("/admin/users", {"username": "carol"}, page="/admin/")
        assert page.status_code == 200
        assert 'id="onion-key"' in page.text
        assert "republished with the new list of Tor keys" in page.text
        wait_for(lambda: len(published_clients(data_dir)) == 3)  # boss, chief, carol
        users = admin.get("/admin/")
        assert "Both onion services are published" in users.text
        assert "admits 3 client key(s)" in users.text

        (boss_id,) = re.findall(r'/admin/users/(\d+)/delete"', users.text)[:1]
        assert boss["username"] == "boss"
        before = published_clients(data_dir)
        deleted = admin.post(
            f"/admin/users/{boss_id}/delete", {}, page=f"/admin/users/{boss_id}/delete"
        )
        assert deleted.status_code == 302
        wait_for(lambda: len(published_clients(data_dir)) == 2)
        assert published_clients(data_dir) < before

        # Whatever breaks at the onion service, the change stands and the page says so.
        lock = data_dir / "onion" / ".lock"
        lock.unlink()
        lock.mkdir()
        page = admin.post("/admin/users", {"username": "dave"}, page="/admin/")
        assert page.status_code == 200
        assert 'id="onion-key"' in page.text
        users = admin.get("/admin/")
        assert users.status_code == 200
        assert "dave" in users.text
        assert "NOT as they should be" in users.text
        assert "Traceback" not in server.log_text()
    finally:
        stop_live_server(server)


def test_export_clients_refuses_to_leave_the_ombuds_service_open(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "authorized_clients"
    out_dir.mkdir()
    (out_dir / "old.auth").write_text("descriptor:x25519:" + "A" * 52 + "\n")
    code, _, err = sdlite(
        capsys, "onion", "export-clients", str(out_dir), "--data-dir", str(data_dir)
    )
    assert code == 2
    assert "would open the ombuds service to anyone" in err
    assert [p.name for p in out_dir.iterdir()] == ["old.auth"]  # nothing touched
