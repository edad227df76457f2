"""The one atomic writer every results file goes through: all or nothing, readable like any file."""

import os

import pytest

from coursekit import atomic_write
from coursekit.atomic_write import write_atomically, write_json_atomically


def test_a_write_replaces_the_file_and_makes_it_readable_as_open_would(tmp_path):
    target = tmp_path / "deep" / "grades.csv"
    write_atomically(target, "old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~atomic_write._umask()
    assert [path.name for path in target.parent.iterdir()] == ["grades.csv"]


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    write_json_atomically(target, {"score": 1})

    def disk_full(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_json_atomically(target, {"score": 2})
    assert target.read_text() == '{\n  "score": 1\n}\n'
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]
