"""Atomic writes (vtkdicom_app.atomic.atomic_path): all or nothing under the final name.

Real files in tmp_path: a failed or empty write leaves the destination as it was (absent,
or the old content) and no temporary file behind; a successful one replaces the
destination in one rename (a new inode: readers of the old file keep the old bytes).
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from vtkdicom_app.atomic import atomic_path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


class Boom(Exception):
    """Raised inside the block to simulate a writer failing half way."""


def test_success_puts_the_content_under_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "mesh.stl"
    with atomic_path(target, suffix=".stl") as tmp:
        temp = Path(tmp)
        assert temp.parent == tmp_path  # same folder: the rename cannot cross file systems
        assert temp.name.startswith(".mesh.stl.") and temp.name.endswith(".part.stl")  # writers pick the format by suffix
        assert not target.exists()
        temp.write_bytes(b"solid x\nendsolid x\n")
    assert target.read_bytes() == b"solid x\nendsolid x\n"
    assert _leftovers(tmp_path) == []


def test_a_failure_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(Boom), atomic_path(target) as tmp:
        Path(tmp).write_text('{"half": ')
        raise Boom
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_a_failure_keeps_the_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old and complete")
    raised = Boom("disk on fire")
    with pytest.raises(Boom) as info, atomic_path(target) as tmp:
        Path(tmp).write_text("new but half")
        raise raised
    assert info.value is raised  # the writer's own exception, unchanged
    assert target.read_text() == "old and complete"
    assert _leftovers(tmp_path) == []


def test_an_interrupt_also_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"x" * 100)
        raise KeyboardInterrupt
    assert not target.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [None, b"previous"], ids=["new", "over-old"])
def test_an_empty_result_is_refused(tmp_path: Path, existing: bytes | None) -> None:
    target = tmp_path / "out.bin"
    if existing is not None:
        target.write_bytes(existing)
    with pytest.raises(OSError, match="empty file"), atomic_path(target):
        pass  # the writer wrote nothing (a full disk looks like this)
    assert (target.read_bytes() if target.exists() else None) == existing
    assert _leftovers(tmp_path) == []


def test_replace_is_one_rename_to_a_new_inode(tmp_path: Path) -> None:
    target = tmp_path / "volume.nii"
    target.write_bytes(b"version 1")
    reader_view = tmp_path / "hardlink_held_by_a_reader"
    os.link(target, reader_view)  # same inode as the old file
    old_inode = target.stat().st_ino
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"version 2, longer")
    assert target.read_bytes() == b"version 2, longer"
    assert target.stat().st_ino != old_inode  # replaced, not rewritten in place
    assert reader_view.read_bytes() == b"version 1"  # the old file was never truncated
    assert _leftovers(tmp_path) == []


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            Path(tmp).write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640  # not mkstemp's 0600


def test_replacing_keeps_the_permissions_of_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "private.stl"
    target.write_text("old")
    target.chmod(0o600)
    old = os.umask(0o022)
    try:
        with atomic_path(target) as tmp:
            Path(tmp).write_text("new")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_relative_name_writes_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with atomic_path("plain.txt") as tmp:
        assert Path(tmp).resolve().parent == tmp_path.resolve()
        Path(tmp).write_text("here")
    assert (tmp_path / "plain.txt").read_text() == "here"


def test_a_missing_folder_fails_before_the_block_runs(tmp_path: Path) -> None:
    ran = []
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "no" / "such" / "out.txt"):
        ran.append(True)
    assert ran == [] and not (tmp_path / "no").exists()


def test_a_directory_in_the_way_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("inside")
    with pytest.raises(OSError), atomic_path(target) as tmp:
        Path(tmp).write_text("file content")
    assert (target / "keep.txt").read_text() == "inside"
    assert _leftovers(tmp_path) == []


def test_concurrent_writers_never_mix_their_bytes(tmp_path: Path) -> None:
    target = tmp_path / "shared.bin"
    payloads = [bytes([n]) * 200_000 for n in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(5):
                with atomic_path(target) as tmp, open(tmp, "wb") as fh:
                    for start in range(0, len(data), 4096):
                        fh.write(data[start : start + 4096])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads  # one writer's complete content
    assert _leftovers(tmp_path) == []
