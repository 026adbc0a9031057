"""The development SECRET_KEY is written once and then kept, whoever starts first."""

from __future__ import annotations

from imagegen.var import ensure_dev_secret_key


def test_it_writes_a_key_once_and_keeps_it(tmp_path):
    key_file = tmp_path / "secret_key"

    first = ensure_dev_secret_key(key_file)
    key = key_file.read_text()
    second = ensure_dev_secret_key(key_file)

    assert (first, second) == (True, False)
    assert key_file.read_text() == key
    assert len(key) >= 50


def test_a_key_already_there_is_never_replaced(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("made-by-the-process-that-started-first")

    assert ensure_dev_secret_key(key_file) is False
    assert key_file.read_text() == "made-by-the-process-that-started-first"
