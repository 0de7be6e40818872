"""The README's examples run as printed: the flow of "A flow", then the client snippet of
"Finding your results" against the runs it made (the snippet reads that flow's artifacts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from harness import FlowDir

README = Path(__file__).parents[1] / "README.md"


def python_block(section: str) -> str:
    """The first ```python block after the heading ``## {section}``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    found = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert found, f"no python block in the README's {section!r} section"
    return found.group(1)


def test_the_readme_flow_and_client_snippet_run_as_printed(tmp_path: Path) -> None:
    fd = FlowDir(tmp_path)
    fd.write(python_block("A flow"), "train.py", header=False)
    for _ in range(3):  # the snippet reads run 3, as the README's commands would have made
        done = fd.run("--alpha", "0.7", "--tag", "experiment", flow="train.py")
        assert done.returncode == 0, done
    snippet = python_block("Finding your results")
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=fd.path, env=fd.env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # for task in run["train"]: print(task.index, task.data.score): shard i scores i * alpha
    printed = sorted(tuple(line.split()) for line in proc.stdout.splitlines())
    assert printed == sorted((str(i), str(i * 0.7)) for i in range(8)), proc.stdout
