"""Under load and faults: interruption mid-batch (SIGINT, SIGTERM) leaves no partial file and a
re-run completes the rest; two processes share an output folder safely; output is deterministic;
random bytes, sizes and modes never crash the reader or the tiler."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import cli_env, run_cli
from denoise_cli import Denoiser
from denoise_cli.errors import DenoiseError
from denoise_cli.imageio import read_image

COUNT = 120


@pytest.fixture
def many_images(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(COUNT):
        Image.fromarray(rng.integers(0, 256, size=(96, 96), dtype=np.uint8)).save(folder / f"{k:04d}.png")
    return folder


def _cli(*args):
    env = cli_env()
    return subprocess.Popen([sys.executable, "-m", "denoise_cli.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _assert_outputs_whole(folder, sources):
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporary files left behind"
    for out in folder.iterdir():
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(sources / out.name)))


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_interrupted_batch_leaves_whole_files_and_resumes(many_images, conv_stack, tmp_path, identity_fixed, sig, code, word):
    out = tmp_path / "out"
    proc = _cli(str(many_images), "-o", str(out), "-m", str(identity_fixed), "--json")
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.01)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the batch finished before the signal arrived")
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and f"{word}:" in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] == word
    done = len(list(out.iterdir()))
    assert summary["counts"]["ok"] == done < COUNT
    _assert_outputs_whole(out, many_images)
    rerun = run_cli(str(many_images), "-o", str(out), "-m", str(identity_fixed), "--json")
    assert rerun.returncode == 0
    assert json.loads(rerun.stdout)["counts"] == {"ok": COUNT - done, "skipped": done, "failed": 0}
    _assert_outputs_whole(out, many_images)


def test_two_processes_share_an_output_folder(many_images, identity_fixed, tmp_path):
    out = tmp_path / "out"
    procs = [_cli(str(many_images), "-o", str(out), "-m", str(identity_fixed), "--json") for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    counts = [json.loads(stdout)["counts"] for stdout, _ in results]
    assert counts[0]["ok"] + counts[1]["ok"] == COUNT  # every file written exactly once
    assert counts[0]["failed"] == counts[1]["failed"] == 0
    assert len(list(out.iterdir())) == COUNT
    _assert_outputs_whole(out, many_images)


@pytest.mark.parametrize("refusal", ["EPERM", "ENOTSUP", "ENOSYS", "EINVAL"])
def test_outputs_are_written_on_a_file_system_without_hard_links(tmp_path, conv_stack, monkeypatch, refusal):
    """A USB stick in FAT or exFAT has no hard links, by which a new output is put in place
    without replacing a file; link() then fails with the system's own word for it (Windows
    says "Incorrect function", errno EINVAL), and the output must still be written, once."""
    import errno
    import os

    def no_hard_links(*_):
        raise OSError(getattr(errno, refusal), os.strerror(getattr(errno, refusal)))

    monkeypatch.setattr(os, "link", no_hard_links)
    source = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50), np.uint8)).save(source)
    denoiser = Denoiser(str(conv_stack), device="cpu")
    denoiser.denoise_file(source, tmp_path / "out.png")
    assert read_image(tmp_path / "out.png").planes.shape == (1, 40, 50)
    with pytest.raises(DenoiseError, match="exists already"):
        denoiser.denoise_file(source, tmp_path / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_same_input_same_model_gives_identical_bytes(tmp_path, conv_stack):
    src = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(150, 170), dtype=np.uint8)).save(src)
    for k in range(2):
        assert run_cli(str(src), "-m", str(conv_stack), "-o", str(tmp_path / f"out{k}.png"), "--tile", "48").returncode == 0
    assert (tmp_path / "out0.png").read_bytes() == (tmp_path / "out1.png").read_bytes()


def test_small_patch_models_shard_batches_across_cores_with_the_same_result():
    """A 32 px model on the CPU runs one single-threaded shard per core; the output must be the
    one a single thread gives, to the bit."""
    image = np.random.default_rng(2).random((150, 170)).astype(np.float32)
    sharded = Denoiser("cifar-sp", device="cpu", threads=2)
    assert sharded.model.workers == 2
    single = Denoiser("cifar-sp", device="cpu", threads=1)
    assert single.model.workers == 1
    assert np.array_equal(sharded.denoise(image), single.denoise(image))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


@FUZZ
@given(data=st.binary(max_size=2000), png_header=st.booleans())
def test_fuzz_random_bytes_never_crash_the_reader(tmp_path, data, png_header):
    path = tmp_path / "fuzz.png"
    path.write_bytes((PNG_HEAD if png_header else b"") + data)
    try:
        image = read_image(path)
    except DenoiseError as exc:
        assert "fuzz.png" in str(exc)
    else:
        assert image.planes.ndim == 3


MODES = ["L", "I;16", "I", "F", "RGB", "RGBA", "LA", "P", "1", "CMYK"]


@FUZZ
@given(width=st.integers(1, 70), height=st.integers(1, 70), mode=st.sampled_from(MODES), fmt=st.sampled_from(["png", "tif"]), seed=st.integers(0, 2**16))
def test_fuzz_sizes_and_modes_denoise_or_fail_cleanly(identity_fixed, tmp_path, width, height, mode, fmt, seed):
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I", "F"):
        image = Image.fromarray(rng.integers(0, 60000, size=(height, width)).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
    src = tmp_path / f"in.{fmt}"
    try:
        image.save(src)
    except OSError:
        return  # Pillow cannot write this mode in this format: nothing to test
    target = tmp_path / f"out.{fmt}"
    target.unlink(missing_ok=True)
    try:
        result = _denoiser(identity_fixed).denoise_file(src, target)
    except DenoiseError:
        assert not target.exists()
    else:
        assert Image.open(target).size == (width, height) == (result.width, result.height)


_cache: dict = {}


def _denoiser(path):
    if path not in _cache:
        _cache[path] = Denoiser(path, "cpu")
    return _cache[path]
