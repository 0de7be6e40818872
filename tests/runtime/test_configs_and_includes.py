"""``Config`` (default file, --config, --config-value, in decorators) and ``IncludeFile``."""

from __future__ import annotations

import json

import pytest

CONFIGURED = """
from headwater import retry

class ConfigFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")
    notes = IncludeFile("notes", default="notes.txt")
    raw = IncludeFile("raw", is_text=False, default="raw.bin")

    @retry(times=cfg.retries, minutes_between_retries=0)
    @step
    def start(self):
        self.attempts_needed = self.cfg.retries
        if current.retry_count < self.cfg.retries:
            raise RuntimeError(f"attempt {current.retry_count} fails on purpose")
        self.by_attr = self.cfg.model.depth
        self.by_key = self.cfg["model"]["depth"]
        self.mixed = self.cfg.model["layers"][1]
        self.name_seen = self.cfg.name
        self.notes_seen = self.notes
        self.raw_seen = self.raw
        self.next(self.end)

    @step
    def end(self):
        self.end_depth = self.cfg.model.depth

if __name__ == "__main__":
    ConfigFlow()
"""

DEFAULT_CFG = {"name": "default", "retries": 1, "model": {"depth": 3, "layers": [8, 16]}}
OTHER_CFG = {"name": "other", "retries": 2, "model": {"depth": 5, "layers": [1, 2]}}
INLINE_CFG = {"name": "inline", "retries": 0, "model": {"depth": 7, "layers": [0, 9]}}
NOTES = "line one\nnaïve café ☕\n"
RAW = bytes(range(256)) * 4


@pytest.fixture(scope="module")
def cfg_dir(module_fd):
    module_fd.write(CONFIGURED)
    (module_fd.path / "cfg.json").write_text(json.dumps(DEFAULT_CFG))
    (module_fd.path / "other.json").write_text(json.dumps(OTHER_CFG))
    (module_fd.path / "notes.txt").write_text(NOTES, encoding="utf-8")
    (module_fd.path / "raw.bin").write_bytes(RAW)
    (module_fd.path / "more.txt").write_text("more notes\n")
    return module_fd


@pytest.fixture(scope="module")
def runs(cfg_dir):
    fd = cfg_dir
    out = {
        "default": fd.run(),
        "file": fd.cli("--config", "cfg", "other.json", "run", "--notes", "more.txt"),
        "inline": fd.cli("--config-value", "cfg", json.dumps(INLINE_CFG), "run"),
    }
    for name, done in out.items():
        assert done.returncode == 0, (name, done)
    return {name: done.run_id("ConfigFlow") for name, done in out.items()}


@pytest.mark.parametrize("which, cfg", [
    ("default", DEFAULT_CFG), ("file", OTHER_CFG), ("inline", INLINE_CFG)])
def test_config_values_by_attribute_and_key(cfg_dir, runs, which, cfg):
    v = lambda name: cfg_dir.value("ConfigFlow", runs[which], "start", name)
    assert v("name_seen") == cfg["name"]
    assert v("by_attr") == v("by_key") == cfg["model"]["depth"]
    assert v("mixed") == cfg["model"]["layers"][1]
    assert cfg_dir.value("ConfigFlow", runs[which], "end", "end_depth") == cfg["model"]["depth"]


@pytest.mark.parametrize("which, cfg", [
    ("default", DEFAULT_CFG), ("file", OTHER_CFG), ("inline", INLINE_CFG)])
def test_config_in_a_decorator_argument_sets_the_retries(cfg_dir, runs, which, cfg):
    (task,) = cfg_dir.tasks("ConfigFlow", runs[which], "start")
    assert task["attempt"] == cfg["retries"], "failed until the last allowed attempt"
    assert task["status"] == "succeeded"


def test_show_resolves_config_values_in_decorators(cfg_dir):
    done = cfg_dir.cli("show")
    assert done.returncode == 0, done
    assert "@retry(times=1" in done.stdout
    done = cfg_dir.cli("--config", "cfg", "other.json", "show")
    assert done.returncode == 0, done
    assert "@retry(times=2" in done.stdout
    done = cfg_dir.cli("--config-value", "cfg", json.dumps(INLINE_CFG), "show")
    assert "@retry(times=0" in done.stdout


def test_include_file_text_and_binary_are_seen_by_the_step(cfg_dir, runs):
    assert cfg_dir.value("ConfigFlow", runs["default"], "start", "notes_seen") == NOTES
    assert cfg_dir.value("ConfigFlow", runs["default"], "start", "raw_seen") == RAW
    assert cfg_dir.value("ConfigFlow", runs["file"], "start", "notes_seen") == "more notes\n"


def test_included_files_and_configs_are_stored_with_the_run(cfg_dir, runs):
    # Change the files on disk: the runs keep what they read.
    (cfg_dir.path / "notes.txt").write_text("changed")
    (cfg_dir.path / "raw.bin").write_bytes(b"changed")
    with cfg_dir.client() as hw:
        run = hw.Run(f"ConfigFlow/{runs['default']}")
        assert run.data.notes == NOTES
        assert run.data.raw == RAW
        assert isinstance(run.data.raw, bytes)
        assert run.data.cfg["model"]["depth"] == 3
        assert hw.Run(f"ConfigFlow/{runs['file']}").data.notes == "more notes\n"
        assert hw.Run(f"ConfigFlow/{runs['inline']}").data.cfg["name"] == "inline"


def test_config_given_after_run_is_not_accepted(cfg_dir):
    before = cfg_dir.files()
    done = cfg_dir.run("--config", "cfg", "other.json")
    assert done.returncode != 0
    assert "--config" in done.stderr
    assert cfg_dir.files() == before


def test_decorator_argument_naming_a_missing_config_key_is_refused(fd):
    fd.write(CONFIGURED.replace("cfg.retries, minutes", "cfg.model.width, minutes"))
    (fd.path / "cfg.json").write_text(json.dumps(DEFAULT_CFG))
    done = fd.run()
    assert done.returncode != 0
    assert "cfg.model.width" in done.stderr and "width" in done.stderr
    assert "Traceback" not in done.output
    assert fd.files() == {}
