"""sdlite-airgap export: mat2 in a sandbox strips metadata; nothing uncleaned leaves."""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from PIL import Image

from securedrop_lite.airgap import export, export_command
from securedrop_lite.airgap.export import (
    Mat2,
    Mat2Missing,
    NotExported,
    SandboxUnavailable,
    export_file,
    sandbox_command,
)
from tests.conftest import VENV_BIN

GPS_IFD = 0x8825
AUTHOR = "Jane Crew"
LAST_EDITOR = "John Roe"


@pytest.fixture(scope="module")
def mat2() -> Mat2:
    """The real mat2 in the real sandbox: if either is missing, every test here fails."""
    return Mat2()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def run_export(*argv: str | Path) -> int:
    """Run the export subcommand as the sdlite-airgap parser would."""
    parser = argparse.ArgumentParser(prog="sdlite-airgap")
    export_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *map(str, argv)])
    status: int = args.run(args)
    return status


def make_jpeg_with_gps(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x010F] = "Test Camera Maker"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    Image.new("RGB", (32, 32), "red").save(path, format="JPEG", exif=exif)
    return path


def make_pdf_with_author(path: Path) -> Path:
    figure = Figure()
    figure.add_subplot().plot([1, 2, 3], [3, 1, 2])
    figure.savefig(path, format="pdf", metadata={"Author": AUTHOR, "Title": "My complaint"})
    return path


_DOCX_MEMBERS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
        '<Relationship Id="rId2" Target="docProps/core.xml" Type="http://schemas.'
        'openxmlformats.org/package/2006/relationships/metadata/core-properties"/>'
        '<Relationship Id="rId3" Target="docProps/app.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/extended-properties"/>'
        "</Relationships>"
    ),
    "word/document.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>The complaint.</w:t></w:r></w:p></w:body></w:document>"
    ),
    "docProps/core.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{AUTHOR}</dc:creator>"
        f"<cp:lastModifiedBy>{LAST_EDITOR}</cp:lastModifiedBy>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2026-01-02T03:04:05Z</dcterms:created>'
        "</cp:coreProperties>"
    ),
    "docProps/app.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<Properties "
        'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>Microsoft Office Word</Application>"
        f"<Manager>{AUTHOR}</Manager></Properties>"
    ),
}


def make_docx_with_authors(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as docx:
        for name, text in _DOCX_MEMBERS.items():
            docx.writestr(name, text)
    return path


def zip_texts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def entries(directory: Path) -> list[str]:
    """List every name in directory, hidden ones included."""
    return sorted(os.listdir(directory))


def test_export_removes_gps_data_from_a_jpeg(mat2: Mat2, tmp_path: Path, out_dir: Path) -> None:
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    with Image.open(photo) as before:
        assert before.getexif().get_ifd(GPS_IFD)[1] == "N"

    cleaned = export_file(mat2, photo, out_dir)

    assert cleaned == out_dir / "photo.jpg"
    with Image.open(cleaned) as after:
        assert after.format == "JPEG"
        assert after.size == (32, 32)
        assert after.getexif().get_ifd(GPS_IFD) == {}
        assert len(after.getexif()) == 0
    assert b"Exif\x00\x00" not in cleaned.read_bytes()


def test_export_removes_the_author_from_a_pdf(mat2: Mat2, tmp_path: Path, out_dir: Path) -> None:
    report = make_pdf_with_author(tmp_path / "report.pdf")
    assert AUTHOR.encode() in report.read_bytes()

    cleaned = export_file(mat2, report, out_dir)

    data = cleaned.read_bytes()
    assert data.startswith(b"%PDF-")
    assert AUTHOR.encode() not in data
    assert b"My complaint" not in data
    assert b"Matplotlib" not in data


def test_export_removes_author_fields_from_a_docx(
    mat2: Mat2, tmp_path: Path, out_dir: Path
) -> None:
    letter = make_docx_with_authors(tmp_path / "letter.docx")
    assert any(AUTHOR.encode() in text for text in zip_texts(letter).values())
    assert any(LAST_EDITOR.encode() in text for text in zip_texts(letter).values())

    cleaned = export_file(mat2, letter, out_dir)

    members = zip_texts(cleaned)
    assert b"The complaint." in members["word/document.xml"]
    for name, text in members.items():
        assert AUTHOR.encode() not in text, name
        assert LAST_EDITOR.encode() not in text, name


def test_unsupported_file_is_reported_not_cleaned_and_nothing_of_it_is_exported(
    tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    blob = tmp_path / "x.bin"
    blob.write_bytes(os.urandom(4096))
    letter = make_docx_with_authors(tmp_path / "letter.docx")

    assert run_export(photo, blob, letter, "--out", out_dir) == 1

    report = capsys.readouterr().out
    assert f"ok      {photo} -> {out_dir / 'photo.jpg'}" in report
    assert f"failed  {blob}: mat2 does not support this format" in report
    assert f"NOT cleaned, not exported: {blob}: mat2 does not support" in report
    assert entries(out_dir) == ["letter.docx", "photo.jpg"]


def test_a_file_mat2_cannot_parse_is_not_exported(
    tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"not a PDF at all, " + AUTHOR.encode())

    assert run_export(fake, "--out", out_dir) == 1

    assert f"NOT cleaned, not exported: {fake}: mat2 could not clean it" in capsys.readouterr().out
    assert entries(out_dir) == []


def test_all_cleaned_exits_zero(
    tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = make_pdf_with_author(tmp_path / "report.pdf")

    assert run_export(report, "--out", out_dir) == 0

    assert capsys.readouterr().out == f"ok      {report} -> {out_dir / 'report.pdf'}\n"


def test_verification_rejects_a_file_that_still_has_metadata(mat2: Mat2, tmp_path: Path) -> None:
    """The second look after cleaning: what mat2 -s still sees blocks the export."""
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")

    with pytest.raises(NotExported, match=r"metadata remain after cleaning: .*GPSLatitude"):
        mat2.verify_clean(photo)


def test_export_never_overwrites_an_existing_file(
    mat2: Mat2, tmp_path: Path, out_dir: Path
) -> None:
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    existing = out_dir / "photo.jpg"
    existing.write_bytes(b"the ombuds' own file")

    first = export_file(mat2, photo, out_dir)
    second = export_file(mat2, photo, out_dir)

    assert existing.read_bytes() == b"the ombuds' own file"
    assert (first.name, second.name) == ("photo (2).jpg", "photo (3).jpg")


def test_the_uncleaned_copy_never_touches_the_export_folder(
    mat2: Mat2, tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """out_dir is the stick that leaves: not even a deleted uncleaned copy may be on it."""
    seen_in_out: list[list[str]] = []
    real_clean = Mat2.clean

    def watching_clean(self: Mat2, work_copy: Path) -> Path:
        seen_in_out.append([str(p) for p in out_dir.rglob("*")])
        assert not work_copy.is_relative_to(out_dir)
        return real_clean(self, work_copy)

    monkeypatch.setattr(Mat2, "clean", watching_clean)
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")

    cleaned = export_file(mat2, photo, out_dir)

    assert seen_in_out == [[]]
    assert entries(out_dir) == ["photo.jpg"]
    with Image.open(cleaned) as after:
        assert after.getexif().get_ifd(GPS_IFD) == {}


def test_a_file_whose_content_is_not_its_harmless_extension_is_refused(
    mat2: Mat2, tmp_path: Path, out_dir: Path
) -> None:
    """mat2 copies .txt and .bmp untouched; a JPEG renamed .txt must not slip out."""
    disguised = tmp_path / "holiday.txt"
    disguised.write_bytes(make_jpeg_with_gps(tmp_path / "photo.jpg").read_bytes())
    fake_bmp = tmp_path / "scan.bmp"
    fake_bmp.write_bytes(disguised.read_bytes())
    honest = tmp_path / "notes.txt"
    honest.write_text("Meeting on Tuesday. Café at 10.\n")

    for refused in (disguised, fake_bmp):
        with pytest.raises(NotExported, match="refused"):
            export_file(mat2, refused, out_dir)
    assert export_file(mat2, honest, out_dir).read_text() == honest.read_text()
    assert entries(out_dir) == ["notes.txt"]


def test_export_leaves_the_original_unchanged(mat2: Mat2, tmp_path: Path, out_dir: Path) -> None:
    sources = [
        make_jpeg_with_gps(tmp_path / "photo.jpg"),
        make_pdf_with_author(tmp_path / "report.pdf"),
        make_docx_with_authors(tmp_path / "letter.docx"),
    ]
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in sources}

    for path in sources:
        export_file(mat2, path, out_dir)

    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in sources} == before
    assert entries(tmp_path) == ["letter.docx", "out", "photo.jpg", "report.pdf"]


def test_export_refuses_a_symlink(
    tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)

    assert run_export(link, "--out", out_dir) == 1

    assert f"failed  {link}: refused: it is a symbolic link" in capsys.readouterr().out
    assert entries(out_dir) == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: path.mkdir(), "refused: it is a folder"),
        (os.mkfifo, "refused: it is not a regular file"),
    ],
    ids=["folder", "fifo"],
)
def test_export_refuses_folders_and_special_files(
    mat2: Mat2, tmp_path: Path, out_dir: Path, make: Callable[[Path], object], reason: str
) -> None:
    odd = tmp_path / "odd.jpg"
    make(odd)

    with pytest.raises(NotExported, match=reason):
        export_file(mat2, odd, out_dir)
    assert entries(out_dir) == []


def test_no_temporary_files_remain_after_success_or_failure(
    tmp_path: Path,
    out_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work_area = tmp_path / "tmp"
    work_area.mkdir()
    monkeypatch.setattr(export.tempfile, "tempdir", str(work_area))
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.4 broken")
    blob = tmp_path / "x.bin"
    blob.write_bytes(b"\x00" * 64)

    assert run_export(photo, fake, blob, tmp_path / "missing.jpg", "--out", out_dir) == 1

    assert entries(out_dir) == ["photo.jpg"]
    assert entries(work_area) == []
    assert capsys.readouterr().out.count("NOT cleaned, not exported:") == 3


def test_exported_name_is_sanitized_and_printed_without_control_characters(
    tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_jpeg_with_gps(tmp_path / "\x1b[31mphoto\x07.jpg")

    assert run_export(photo, "--out", out_dir) == 0

    assert entries(out_dir) == ["[31mphoto.jpg"]
    report = capsys.readouterr().out
    assert "\x1b" not in report
    assert "\x07" not in report


def test_missing_mat2_exits_2_naming_the_debian_package(
    tmp_path: Path,
    out_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-mat2"
    with pytest.raises(Mat2Missing, match="install Debian's mat2"):
        Mat2(executable=missing)
    monkeypatch.setattr(export_command, "Mat2", functools.partial(Mat2, executable=missing))
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")

    assert run_export(photo, "--out", out_dir) == 2

    assert "install Debian's mat2. Nothing was exported." in capsys.readouterr().err
    assert entries(out_dir) == []


def test_an_output_path_that_is_a_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "out"
    not_a_folder.write_bytes(b"keep me")
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")

    assert run_export(photo, "--out", not_a_folder) == 2

    assert "as the output folder" in capsys.readouterr().err
    assert not_a_folder.read_bytes() == b"keep me"


def test_missing_bubblewrap_refuses_rather_than_running_mat2_unsandboxed(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="install Debian's bubblewrap"):
        Mat2(bwrap=tmp_path / "no-bwrap")


def test_sandbox_cannot_read_files_outside_its_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("private key material")

    outside = subprocess.run(
        sandbox_command(export.BWRAP, work, ["/usr/bin/cat", str(secret)]),
        capture_output=True,
        check=False,
    )
    inside = subprocess.run(
        sandbox_command(export.BWRAP, work, ["/usr/bin/touch", str(work / "made")]),
        capture_output=True,
        check=False,
    )

    assert outside.returncode != 0
    assert b"private key material" not in outside.stdout
    assert inside.returncode == 0, inside.stderr
    assert (work / "made").exists()


def test_sandbox_has_no_network(tmp_path: Path) -> None:
    probe = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=5)"

    done = subprocess.run(
        sandbox_command(export.BWRAP, tmp_path, ["/usr/bin/python3", "-c", probe]),
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "Network is unreachable" in done.stderr


def test_export_modules_import_no_networking_code() -> None:
    code = (
        "import sys, securedrop_lite.airgap.export_command\n"
        "banned = {'socket', '_socket', 'ssl', '_ssl', 'http', 'urllib.request'}\n"
        "print(sorted(banned & set(sys.modules)))\n"
    )

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"


def test_console_script_exports_cleaned_files_only(tmp_path: Path, out_dir: Path) -> None:
    photo = make_jpeg_with_gps(tmp_path / "photo.jpg")
    blob = tmp_path / "x.bin"
    blob.write_bytes(os.urandom(256))

    done = subprocess.run(
        [VENV_BIN / "sdlite-airgap", "export", photo, blob, "--out", out_dir],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    assert f"ok      {photo} -> {out_dir / 'photo.jpg'}" in done.stdout
    assert f"NOT cleaned, not exported: {blob}: mat2 does not support" in done.stdout
    assert entries(out_dir) == ["photo.jpg"]
    assert (out_dir / "photo.jpg").stat().st_mode & 0o077 == 0
