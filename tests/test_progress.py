"""bca-reproduce's progress line (bca.paper.progress): counts from the records, remaining runs priced by hand."""

from types import SimpleNamespace

from sample_records import sample_record

from bca.paper.progress import summary
from bca.run import records


def cfg(method, task):
    return {"method": {"name": method}, "task": {"name": task}}


def test_remaining_runs_are_priced_at_the_median_of_their_method_and_task(tmp_path):
    composed = []
    for i, seconds in enumerate((100.0, 300.0, 1000.0)):  # finished: lora/rte 100 and 300, vera/rte 1000
        method = "vera" if i == 2 else "lora"
        rec = sample_record(f"r{i}", time={"train_s": seconds})
        rec["config"] |= {"method": {"name": method}, "task": {"name": "rte", "max_train_samples": None}}
        path = records.record_path(tmp_path, f"r{i}")
        records.write_record(path, rec)
        composed.append((SimpleNamespace(), cfg(method, "rte"), path))
    for i, (method, task) in enumerate((("lora", "rte"), ("bca", "rte"), ("bca", "mrpc"))):
        composed.append((SimpleNamespace(), cfg(method, task), records.record_path(tmp_path, f"todo{i}")))
    line = summary(composed, pending=[("lora", "rte", 2)])
    # lora/rte: median(100, 300) = 200, x3 (one todo + 2 pending); bca/rte: the task's median(100, 300, 1000) = 300;
    # bca/mrpc: nothing to price it. 3 x 200 + 300 = 900 s, printed as ~0.2 h
    assert line == (
        "3 of 8 runs finished, 5 to run: ~0.2 h at the finished runs' training times "
        "(1 run(s) with no finished run of their task to price them)"
    )
    assert summary(composed[:3]) == "3 of 3 runs finished, 0 to run"
