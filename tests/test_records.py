"""The run record: stable identity hash, atomic writes, damaged files reported instead of crashing."""

import json

import pytest
from sample_records import sample_record

from bca.run import records


def test_run_id_ignores_logging_and_paths_but_not_hyperparameters():
    base = {
        "model": {"name": "m"},
        "trainer": {"seed": 0, "progress": True},
        "logger": {"mode": "offline"},
        "results_dir": "a",
    }
    same = {
        **base,
        "logger": {"mode": "disabled"},
        "results_dir": "b",
        "trainer": {"seed": 0, "progress": False},
    }
    other = {**base, "trainer": {"seed": 1, "progress": True}}
    assert records.run_id(base) == records.run_id(same)
    assert records.run_id(base) != records.run_id(other)


def test_write_then_read_round_trip(tmp_path):
    path = records.record_path(tmp_path, "abc")
    rec = sample_record("abc")
    records.write_record(path, rec)
    assert records.read_record(path) == rec
    assert records.finished(path)
    assert not list(path.parent.glob("*.tmp")), "temp file left behind"


def test_failed_or_damaged_records_do_not_count_as_finished(tmp_path):
    path = records.record_path(tmp_path, "bad")
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": "bad", "status": "ok", "conf')  # truncated mid-write
    assert not records.finished(path)
    with pytest.raises(records.RecordError, match="unreadable"):
        records.read_record(path)
    failed = records.record_path(tmp_path, "failed")
    failed.write_text(json.dumps(sample_record("failed", status="failed", metrics=None)))
    assert not records.finished(failed)


def test_iter_records_reports_and_skips_damaged_files(tmp_path, capsys):
    good = records.record_path(tmp_path, "good")
    records.write_record(good, sample_record("good"))
    damaged = {
        "truncated": '{"run_id": "t", "status": "ok", "conf',
        "empty": "",
        "binary": b"\x00\xff\xfe".decode("latin-1"),
        "scalar": "3",
        "not_a_record": json.dumps({"hello": 1}),
    }
    for name, text in damaged.items():
        records.record_path(tmp_path, name).write_text(text)
    seen = []
    found = dict(records.iter_records(tmp_path, on_damaged=lambda p, err: seen.append(p.stem)))
    assert list(found) == [good] and found[good]["run_id"] == "good"
    assert sorted(seen) == sorted(damaged)
    # default: one warning per damaged file on stderr, naming it, and the good record still comes through
    assert [p for p, _ in records.iter_records(tmp_path)] == [good]
    err = capsys.readouterr().err
    assert all(f"{name}.json" in err for name in damaged) and err.count("skipping damaged record") == 5
