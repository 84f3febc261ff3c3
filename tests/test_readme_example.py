"""The README's library example (BCA through peft: train, save, load, merge) runs as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_library_example_runs(tmp_path):
    code = readme_block("### BCA and CDD as a library")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trainable params" in out.stdout
    saved = {p.name for p in (tmp_path / "out" / "bca").iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json"} <= saved
