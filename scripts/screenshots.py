#!/usr/bin/env python
"""Screenshots of the UI for the docs: docs/img/ui-flow.png, ui-run.png, ui-task.png.

    scripts/install-browser          # once: Debian's chromium
    python scripts/screenshots.py    # runs a few flows in a temporary datastore, then shoots

The flows are the UI tests' own (tests/ui/flows/), run for real as a user would, so the
pictures show exactly what `headwater ui` shows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
FLOWS = HERE / "tests" / "ui" / "flows"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--force-color-profile=srgb", "--hide-scrollbars"]


def run(root: Path, flow: str, *args: str, user: str = "ana") -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(HEADWATER_HOME=str(root), HEADWATER_USER=user)
    subprocess.run([sys.executable, str(FLOWS / f"{flow}.py"), "run", "--quiet", *args], cwd=root.parent,
                   env=env, capture_output=True, text=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description="Take the UI screenshots used in the docs.")
    parser.add_argument("--out", type=Path, default=HERE / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="hw-shots-")) / ".headwater"
    root.mkdir()
    runs = [("ana", ["--tag", "baseline", "--alpha", "0.5"]), ("ana", ["--tag", "experiment", "--alpha", "0.7"]),
            ("bob", ["--tag", "experiment", "--alpha", "0.9", "--epochs", "2", "--gate", "0.01"]),
            ("bob", ["--tag", "experiment", "--alpha", "0.9", "--epochs", "8"]),
            ("ana", ["--tag", "experiment", "--tag", "v2", "--alpha", "0.6", "--work", "1.2"])]
    for user, extra in runs:
        run(root, "train_flow", "--work", "0.4", *extra, user=user)
    run(root, "fail_flow")
    run(root, "live_flow", "--pause", "0.5")
    cards_example = HERE / "examples" / "cards.py"
    if cards_example.exists():  # a task with a card makes the best picture of a task page
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(HEADWATER_HOME=str(root), HEADWATER_USER="ana")
        subprocess.run([sys.executable, str(cards_example), "run", "--quiet"], cwd=root.parent, env=env,
                       capture_output=True, text=True, timeout=300)

    from playwright.sync_api import sync_playwright

    from headwater.ui.server import start_in_thread

    server = start_in_thread(root)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 600}, device_scale_factor=1)
            task = "/TrainFlow/5/train/3"
            if (root / "cards" / "CardsFlow").exists():
                task = "/CardsFlow/1/train/2"
            for name, path in (("ui-flow.png", "/TrainFlow"), ("ui-run.png", "/TrainFlow/5"), ("ui-task.png", task)):
                page.goto(server.url + path)
                page.wait_for_timeout(800)  # card frames report their height
                page.screenshot(path=str(args.out / name), full_page=True)
                print(args.out / name)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
