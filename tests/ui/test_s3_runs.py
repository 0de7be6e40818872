"""`headwater ui` showing a run whose artifacts, logs and cards are on S3 (a real SeaweedFS).

The run's records are in the local ``.headwater``; its bytes are on S3. The real command
serves the pages, and they must show what a local run shows: the artifact's value, the
task's output, its card.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid

FLOW = """
from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown

class CloudFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        self.answer = 4321
        print("printed on the way to S3")
        current.card.append(Markdown("# Card stored on S3"))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CloudFlow()
"""


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback only
        return response.read().decode("utf-8")


def test_the_ui_shows_an_s3_runs_artifacts_logs_and_cards(s3_server, tmp_path):
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(s3_server.env, HEADWATER_HOME=str(tmp_path / "records"), HEADWATER_USER="ana")
    root = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"
    done = subprocess.run([sys.executable, "flow.py", "--datastore-root", root, "run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    ui = subprocess.Popen([sys.executable, "-c", "from headwater.cli.main import main; main()",
                           "ui", "--port", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = ui.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            url = found.group(0) if found else None
        assert url, "the UI printed its address"
        task = _get(f"{url}/CloudFlow/1/start/1")
        assert "4321" in task, "the artifact's value, loaded from S3"
        assert "printed on the way to S3" in task, "the task's output, read from S3"
        raw = _get(f"{url}/_hw/log/CloudFlow/1/start/1/0/stdout?raw=1")
        assert raw == "printed on the way to S3\n"
        card = _get(f"{url}/_hw/card/CloudFlow/1/start/1/0/0")
        assert "Card stored on S3" in card
    finally:
        ui.terminate()
        ui.wait(timeout=30)
