"""files.py: the one atomic writer keeps each file's layout and never leaves a torn target."""

import json

import numpy as np
import pytest

from alexnet_lightning.files import replacing, write_atomic, write_json


def test_write_json_keeps_the_layout_asked_for(tmp_path):
    path = tmp_path / "sub" / "m.json"
    write_json(path, {"b": "é", "a": 1}, indent=2, sort_keys=True, end="\n")
    assert path.read_text(encoding="utf-8") == '{\n  "a": 1,\n  "b": "\\u00e9"\n}\n'
    write_json(path, {"b": "é"}, ensure_ascii=False)
    assert path.read_bytes() == '{"b": "é"}'.encode()
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temp file left


def test_write_json_writes_non_finite_numbers_as_null(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"loss": float("nan"), "runs": [{"acc": float("inf")}, 0.5], "n": 3})
    assert path.read_text() == '{"loss": null, "runs": [{"acc": null}, 0.5], "n": 3}'


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "labels.npy"
    write_atomic(path, lambda f: np.save(f, np.arange(3)))

    def half_then_fail(f):
        f.write(b"\x93NUMPY")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, half_then_fail)
    assert np.load(path).tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["labels.npy"]


def test_replacing_gives_path_writers_a_unique_hidden_sibling(tmp_path):
    target = tmp_path / "a.json"
    with replacing(target) as first, replacing(target) as second:
        assert first != second and first.parent == tmp_path and first.name.startswith(".a.json.")
        first.write_text(json.dumps(1))
        second.write_text(json.dumps(2))
    assert json.loads(target.read_text()) == 1  # the outer (later) rename wins
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
