"""The built wheel carries the shipped weights and installs no top-level `train` module."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    return next(out.glob("denoise_cli-*.whl"))


def test_wheel_contains_every_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = json.loads((ROOT / "weights" / "manifest.json").read_text())
    assert "denoise_cli/weights/manifest.json" in names
    assert "denoise_cli/py.typed" in names  # PEP 561: type checkers read the API's hints
    for info in manifest["models"].values():
        assert f"denoise_cli/weights/{info['file']}" in names


def test_wheel_has_no_top_level_train_package(wheel):
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"denoise_cli"}
    assert any(n.startswith("denoise_cli/train/") for n in zipfile.ZipFile(wheel).namelist())


def test_wheel_declares_the_console_scripts(wheel):
    with zipfile.ZipFile(wheel) as z:
        entry_points = next(z.read(n).decode() for n in z.namelist() if n.endswith("entry_points.txt"))
    assert "denoise = denoise_cli.entry:main" in entry_points and "denoise-train = denoise_cli.train.cli:main" in entry_points
