"""What a person sees: a progress bar on a terminal, none when output is piped or --quiet; the
CUDA path where a GPU exists."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import cli_env, run_cli


def _run_on_terminal(args, timeout=60) -> str:
    """Run the CLI with stderr on a pseudo-terminal; return what the terminal received."""
    master, slave = pty.openpty()
    env = cli_env(colour=True, COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "denoise_cli.cli", *args], stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=timeout)
    os.close(master)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def folder(tmp_path):
    for k in range(3):
        Image.fromarray(np.random.default_rng(k).integers(0, 256, size=(300, 300), dtype=np.uint8)).save(tmp_path / f"{k}.png")
    return tmp_path


def test_progress_bar_on_a_terminal(folder, conv_stack, tmp_path):
    shown = _run_on_terminal([str(folder), "-m", str(conv_stack), "-o", str(tmp_path / "a"), "--tile", "40"])
    assert "files" in shown and "━" in shown


def test_no_progress_bar_when_quiet_or_piped(folder, conv_stack, tmp_path):
    quiet = _run_on_terminal([str(folder), "-m", str(conv_stack), "-o", str(tmp_path / "b"), "--quiet"])
    assert quiet.strip() == ""  # a batch that went through says nothing: no bar, no lines, no summary
    piped = run_cli(str(folder), "-m", str(conv_stack), "-o", str(tmp_path / "c"))
    assert "━" not in piped.stderr and "━" not in piped.stdout


def test_cuda_path_where_a_gpu_exists(conv_stack):
    from denoise_cli import Denoiser
    from denoise_cli.session import _cuda_works

    if not _cuda_works():
        pytest.skip("no working CUDA GPU on this machine")
    image = np.random.default_rng(0).random((200, 300), dtype=np.float32)
    gpu = Denoiser(conv_stack, device="cuda")
    assert gpu.device == "cuda"
    assert np.abs(gpu.denoise(image) - Denoiser(conv_stack, device="cpu").denoise(image)).max() < 1e-3
