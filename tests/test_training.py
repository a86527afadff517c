"""The training extra on tiny generated data: loaders, a few-step run exported to ONNX that the
CLI then runs, resume, and the export parity check failing on a broken export."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import typer
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from conftest import assert_clean_error, camera_exif, cli_env, conv_stack_model, level_echo_model, run_cli, run_train_cli  # noqa: E402
from denoise_cli.errors import DenoiseError  # noqa: E402
from denoise_cli.estimate import estimate_noise_levels  # noqa: E402
from denoise_cli.pixels import PixelScale  # noqa: E402
from denoise_cli.model import load_model  # noqa: E402
from denoise_cli.train import data as datasets  # noqa: E402
from denoise_cli.train.export import check_parity, export_onnx  # noqa: E402
from denoise_cli.train.loop import describe, train  # noqa: E402
from denoise_cli.train.networks import build_network, count_parameters, level_channels  # noqa: E402
from denoise_cli.train.recipes import RECIPES, get_recipe, override  # noqa: E402


def _idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """64/32 MNIST-like digits, a 3-batch CIFAR-like tarball and a folder of 20 images."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    (root / "mnist").mkdir()
    for split, n in (("train", 64), ("t10k", 32)):
        images = np.zeros((n, 28, 28), np.uint8)
        images[:, 8:20, 10:18] = rng.integers(150, 256, size=(n, 12, 8))
        _idx(root / "mnist" / f"{split}-images-idx3-ubyte.gz", images)
        _idx(root / "mnist" / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    (root / "cifar10").mkdir()
    with tarfile.open(root / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, size=(8, 3072), dtype=np.uint8), b"labels": list(range(8))}
            raw = pickle.dumps(batch, protocol=3)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    (root / "photos").mkdir()
    for k in range(20):
        Image.fromarray(rng.integers(0, 256, size=(60, 70), dtype=np.uint8)).save(root / "photos" / f"{k:03d}.png")
    return root


def test_mnist_loader(tiny_data):
    split = datasets.load_mnist(tiny_data, "train")
    assert split.images.shape == (64, 1, 28, 28) and split.images.dtype == np.float32
    assert 0 <= split.images.min() and split.images.max() <= 1 and split.labels[:3].tolist() == [0, 1, 2]


def test_cifar_loader_and_r4_preprocessing(tiny_data):
    rgb, labels = datasets.load_cifar10_rgb(tiny_data, "train")
    assert rgb.shape == (40, 32, 32, 3) and len(labels) == 40
    gray = datasets.load_cifar10_gray(tiny_data, "test").images
    assert gray.shape == (8, 1, 32, 32)
    assert np.allclose(gray.min(axis=(1, 2, 3)), 0) and np.allclose(gray.max(axis=(1, 2, 3)), 1)
    assert np.allclose(gray * 100, np.round(gray * 100), atol=1e-4)  # two decimals


def test_folder_loader_and_patches(tiny_data):
    images = datasets.load_folder(tiny_data / "photos")
    patches = datasets.random_patches(images, 10, 24, np.random.default_rng(0))
    assert len(images) == 20 and patches.shape == (10, 1, 24, 24)


def test_enlarged_copies_are_the_share_asked_smooth_8_bit_and_seeded(tiny_data):
    images = datasets.load_folder(tiny_data / "photos")
    mixed = datasets.with_enlarged_copies(images, 0.5, (1.5, 3.0), np.random.default_rng(3))
    copies = mixed[len(images):]
    assert mixed[: len(images)] == images and len(copies) == len(images)
    for copy, original in zip(copies, images):
        factor = copy.shape[0] / original.shape[0]
        assert 1.45 <= factor <= 3.05 and copy.shape[1] / original.shape[1] == pytest.approx(factor, abs=0.05)
        assert np.array_equal(np.round(copy * 255) / 255, copy) and copy.min() >= 0 and copy.max() <= 1
        # smoother at the pixel scale: neighbours differ less than in the original
        assert np.abs(np.diff(copy, axis=1)).mean() < np.abs(np.diff(original, axis=1)).mean()
    again = datasets.with_enlarged_copies(images, 0.5, (1.5, 3.0), np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(copies, again[len(images):]))


def test_enlarged_share_trains_a_folder_recipe_and_is_refused_on_digits(tiny_data, tmp_path):
    photo = override(get_recipe("photo"), data="folder:photos", epochs=1, batch_size=4, steps_per_epoch=1, holdout_images=4, patch_size=20,
                     network_args={**get_recipe("photo").network_args, "channels": 8, "depth": 3}, enlarged_share=0.5)
    result = train(photo, tiny_data, tmp_path / "photo", show_progress=False, log=lambda *_: None)
    assert result.metrics["recipe"]["enlarged_share"] == 0.5
    refused = run_train_cli("--recipe", "mnist-conv-bn", "--data-dir", str(tiny_data), "--out", str(tmp_path), "--enlarged-share", "0.5")
    assert_clean_error(refused)
    assert "enlarged copies (--enlarged-share) apply to image-folder recipes only" in refused.stderr


def test_a_training_folder_with_an_image_smaller_than_the_patches_is_one_sentence(tiny_data, tmp_path):
    """A user's own folder of pictures may hold a thumbnail: cropping a 64 px patch from it
    ended the run in numpy's 'high <= 0' traceback, after the folder had been read."""
    import shutil

    folder = tmp_path / "data" / "photos"
    shutil.copytree(tiny_data / "photos", folder)
    Image.fromarray(np.zeros((30, 50), np.uint8)).save(folder / "thumb.png")
    recipe = override(get_recipe("photo"), data="folder:photos", epochs=1, steps_per_epoch=1, holdout_images=4, patch_size=40,
                      network_args={**get_recipe("photo").network_args, "channels": 8, "depth": 3})
    with pytest.raises(DenoiseError) as caught:
        train(recipe, tmp_path / "data", tmp_path / "run", show_progress=False, log=lambda *_: None)
    assert str(caught.value) == f"{folder / 'thumb.png'} is 50x30, smaller than the 40 px patches it would be cropped to: remove such images from the folder."


def test_missing_data_says_what_is_expected(tmp_path, monkeypatch):
    with pytest.raises(DenoiseError, match="train-images-idx3-ubyte.gz"):
        datasets.load_mnist(tmp_path, "train")
    with pytest.raises(DenoiseError, match="cifar-10-python.tar.gz"):
        datasets.load_cifar10_rgb(tmp_path, "train")
    with pytest.raises(DenoiseError, match=r"train400 does not exist: expected Train400, DnCNN's 400 training pictures \(180x180"):
        datasets.load_folder(tmp_path / "train400")
    (tmp_path / "train400").mkdir()
    with pytest.raises(DenoiseError, match="train400 holds no images: expected Train400"):
        datasets.load_folder(tmp_path / "train400")
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    with pytest.raises(DenoiseError, match="DENOISE_DATA_DIR"):
        datasets.resolve_data_dir(None)
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path / "gone"))  # set long ago, in a shell profile
    with pytest.raises(DenoiseError, match=rf"^data directory {re.escape(str(tmp_path / 'gone'))} \(from \$DENOISE_DATA_DIR\) does not exist\.$"):
        datasets.resolve_data_dir(None)
    with pytest.raises(DenoiseError, match=r"^data directory \S+ does not exist\.$"):
        datasets.resolve_data_dir(tmp_path / "typo")


def test_recipes_lists_every_recipe_whole_on_80_columns():
    """`denoise-train recipes` on 80 columns (or a pipe) names every recipe in full, where a
    seven-column table cut them to 'mnist-conv…'."""
    result = run_cli("recipes", module="denoise_cli.train.cli", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line in RECIPES] == list(RECIPES)
    assert all(len(line) <= 80 for line in lines) and "…" not in result.stdout


def test_r3_network_has_the_write_ups_parameter_count():
    assert count_parameters(build_network("mnist-conv-bn", {})) == 16385


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_network_maps_images_to_images(name):
    recipe = RECIPES[name]
    net = build_network(recipe.network, recipe.network_args).eval()
    x = torch.rand(2, 1, recipe.patch_size, recipe.patch_size)
    args = (x, torch.full((2, level_channels(net), 1, 1), 0.1)) if level_channels(net) else (x,)
    assert net(*args).shape == x.shape


@pytest.mark.parametrize("recipe_name", ["mnist-conv-bn", "mnist-dense", "cifar-sp", "gaussian", "photo", "salt-and-pepper"])
def test_few_step_training_exports_a_model_the_cli_runs(tiny_data, tmp_path, recipe_name):
    recipe = override(get_recipe(recipe_name), epochs=1, batch_size=8, steps_per_epoch=2, holdout_images=4)
    if recipe_name in ("gaussian", "photo", "salt-and-pepper"):
        recipe = override(recipe, data="folder:photos", network_args={**recipe.network_args, "channels": 8, "depth": 3}, patch_size=20)
    result = train(recipe, tiny_data, tmp_path / "run", show_progress=False, log=lambda *_: None)
    for name in (f"{recipe_name}.onnx", "metrics.json", "loss_curves.png", "samples.png", "checkpoint.pt"):
        assert (tmp_path / "run" / name).exists()
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(45, 61), dtype=np.uint8)).save(image)
    cli = run_cli(str(image), "--model", str(result.onnx_path), "-o", str(tmp_path / "out.png"), "--json")
    assert cli.returncode == 0, cli.stderr
    assert Image.open(tmp_path / "out.png").size == (61, 45)
    description = load_model(result.onnx_path, device="cpu").description
    floor = description.level_floor
    assert len(floor) == (len(recipe.level_readings) if recipe.level_floor else 0)  # measured on the training patches
    assert all(level > 0 for level in floor)
    assert description.texture_guard == list(recipe.texture_guard)  # the recipe's guard reaches the model
    assert description.solid_extremes == (4 if recipe_name == "salt-and-pepper" else 0)  # the network's own


def test_resume_continues_after_the_last_checkpoint(tiny_data, tmp_path):
    recipe = override(get_recipe("mnist-conv-bn"), epochs=1, batch_size=16)
    train(recipe, tiny_data, tmp_path, show_progress=False, log=lambda *_: None)
    lines = []
    result = train(override(recipe, epochs=2), tiny_data, tmp_path, resume=True, show_progress=False, log=lines.append)
    assert any("resuming" in str(line) for line in lines)
    assert [h["epoch"] for h in result.metrics["history"]] == [1, 2]


def test_a_run_without_resume_does_not_overwrite_an_earlier_run_s_checkpoint(tiny_data, tmp_path):
    """The same command without --resume (forgotten, or from shell history) started again from
    the first epoch and overwrote the checkpoint: hours of training gone. It is refused now,
    before anything is read; --resume with no checkpoint yet starts from the first epoch and says so."""
    recipe = override(get_recipe("mnist-conv-bn"), epochs=1, batch_size=16)
    lines = []
    train(recipe, tiny_data, tmp_path, resume=True, show_progress=False, log=lines.append)
    assert f"no checkpoint at {tmp_path / 'checkpoint.pt'} yet: training mnist-conv-bn from the first epoch" in lines
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(DenoiseError) as caught:
        train(override(recipe, epochs=2), tiny_data, tmp_path, show_progress=False, log=lambda *_: None)
    assert str(caught.value) == (f"{tmp_path / 'checkpoint.pt'} holds epoch 1 of an earlier run of mnist-conv-bn: --resume goes on from it; "
                                 "remove it, or give another --out, to train from the first epoch.")
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_a_run_resumed_in_its_folded_epochs_ends_as_an_uninterrupted_one(tiny_data, tmp_path):
    """Batch-norm recipes train on after folding their batch norms away: a run stopped there
    and resumed must ship the same network as one that never stopped."""
    import onnx
    from onnx import numpy_helper

    recipe = override(get_recipe("photo"), data="folder:photos", epochs=1, batch_size=4, steps_per_epoch=2, holdout_images=4,
                      patch_size=20, batch_norm_recalibration=2, folded_epochs=2, folded_lr=1e-3,
                      network_args={**get_recipe("photo").network_args, "channels": 8, "depth": 3})
    whole = train(recipe, tiny_data, tmp_path / "whole", show_progress=False, log=lambda *_: None)
    train(override(recipe, folded_epochs=1), tiny_data, tmp_path / "parts", show_progress=False, log=lambda *_: None)
    lines: list[str] = []
    parts = train(recipe, tiny_data, tmp_path / "parts", resume=True, show_progress=False, log=lines.append)
    assert any("resuming photo after epoch 2" in str(line) for line in lines)
    assert [h["epoch"] for h in parts.metrics["history"]] == [1, 2, 3]

    def weights(path):
        return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}

    a, b = weights(whole.onnx_path), weights(parts.onnx_path)
    assert a.keys() == b.keys()
    assert all(np.allclose(a[name], b[name], atol=1e-6) for name in a)


@pytest.mark.parametrize("folder", ["existing", "new"])
def test_a_run_folder_that_takes_no_file_is_refused_before_the_first_epoch(tiny_data, tmp_path, monkeypatch, folder):
    """--out on a read-only disk: its folder could not be made (a traceback), or, made already,
    the first checkpoint failed after the first epoch. (Simulated where files and folders are
    created: root writes everywhere.)"""
    import errno
    from pathlib import Path

    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS))
    create, make = os.open, Path.mkdir

    def refuse_files(path, flags, *args, **kwargs):
        if str(tmp_path) in os.fspath(path) and flags & os.O_CREAT:
            raise read_only
        return create(path, flags, *args, **kwargs)

    def refuse_folders(self, *args, **kwargs):
        if str(tmp_path) in str(self):
            raise read_only
        return make(self, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_files)
    if folder == "new":
        monkeypatch.setattr(Path, "mkdir", refuse_folders)
    lines: list[str] = []
    says = "cannot create the run's folder (Read-only file system)" if folder == "new" else "checkpoint.pt: cannot write (Read-only file system)"
    with pytest.raises(DenoiseError, match=re.escape(says)):
        train(override(get_recipe("mnist-conv-bn"), epochs=1, batch_size=16), tiny_data, tmp_path / "run", show_progress=False, log=lines.append)
    assert lines == []  # no epoch ran


@pytest.mark.parametrize("damage", [b"garbage\n", b""])
def test_resuming_a_damaged_checkpoint_says_so_in_one_sentence(tiny_data, tmp_path, damage):
    (tmp_path / "checkpoint.pt").write_bytes(damage)
    recipe = override(get_recipe("mnist-conv-bn"), epochs=1, batch_size=16)
    with pytest.raises(DenoiseError, match="not a checkpoint denoise-train can read"):
        train(recipe, tiny_data, tmp_path, resume=True, show_progress=False, log=lambda *_: None)


def test_resuming_with_a_different_network_says_so_in_one_sentence(tiny_data, tmp_path):
    recipe = override(get_recipe("photo"), data="folder:photos", epochs=1, batch_size=4, steps_per_epoch=1, holdout_images=4,
                      patch_size=20, batch_norm_recalibration=1, folded_epochs=0,
                      network_args={**get_recipe("photo").network_args, "channels": 8, "depth": 3})
    train(recipe, tiny_data, tmp_path, show_progress=False, log=lambda *_: None)
    wider = override(recipe, epochs=2, network_args={**recipe.network_args, "channels": 12})
    with pytest.raises(DenoiseError, match="holds a different network") as caught:
        train(wider, tiny_data, tmp_path, resume=True, show_progress=False, log=lambda *_: None)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_stopped_run_says_which_epoch_the_checkpoint_holds_and_resume_goes_on(tiny_data, tmp_path, sig, code, word):
    """Ctrl-C, or `kill` on a run left in the background with nohup."""
    command = ["--recipe", "mnist-dense", "--data-dir", str(tiny_data), "--out", str(tmp_path)]
    # a suite run in the background (nohup ... &) hands its children SIGINT ignored, as Unix does for
    # background jobs, and Python then installs no KeyboardInterrupt: the run stands for a foreground one
    proc = subprocess.Popen([sys.executable, "-m", "denoise_cli.train.cli", *command, "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoint = tmp_path / "mnist-dense" / "checkpoint.pt"
    deadline = time.time() + 60
    while time.time() < deadline and not checkpoint.exists():
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code and "Traceback" not in stderr
    epoch = int(re.search(rf"{word}; .* holds epoch (\d+): the same command with --resume", stderr).group(1))
    resumed = run_train_cli(*command, "--epochs", str(epoch + 1), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming mnist-dense after epoch {epoch}" in resumed.stdout


def test_a_full_disk_during_training_is_one_sentence_and_leaves_no_partial_file(tiny_data, tmp_path):
    """Every epoch writes a checkpoint of megabytes; a disk that fills up under a long run must
    end it in one sentence, with the last whole checkpoint (if any) still there to resume from."""
    import resource

    def small_files_only():  # files over 1 MB cannot be written: the kernel's EFBIG, as a full disk's ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    command = ["--recipe", "mnist-dense", "--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "1"]
    proc = subprocess.run([sys.executable, "-m", "denoise_cli.train.cli", *command], capture_output=True, text=True,
                          env=cli_env(), timeout=120, preexec_fn=small_files_only)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "checkpoint.pt: cannot write (File too large)." in proc.stderr
    assert os.listdir(tmp_path / "mnist-dense") == []


def test_unknown_loss_is_refused_before_training(tiny_data, tmp_path):
    with pytest.raises(DenoiseError, match="unknown loss"):
        train(override(get_recipe("mnist-conv-bn"), loss="l3"), tiny_data, tmp_path, show_progress=False, log=lambda *_: None)


def test_parity_check_fails_on_a_broken_export(tmp_path):
    recipe = get_recipe("mnist-conv-bn")
    net = build_network(recipe.network, recipe.network_args).eval()
    path = export_onnx(net, describe(net, recipe, {}), tmp_path / "m.onnx")
    inputs = {"input": torch.rand(2, 1, 28, 28)}
    assert check_parity(net, path, inputs) <= 1e-4
    with torch.no_grad():
        net.net[0].weight.add_(0.5)  # the file no longer matches the network
    with pytest.raises(DenoiseError, match="parity check failed"):
        check_parity(net, path, inputs)


def test_train_cli_bad_recipe_and_missing_data_are_clean_errors(tmp_path):
    for args in (["--recipe", "nope", "--data-dir", str(tmp_path)], ["--recipe", "mnist-dense", "--data-dir", str(tmp_path)]):
        result = run_train_cli(*args)
        assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("lr", ["0", "-0.001"])
def test_train_cli_refuses_a_learning_rate_that_learns_nothing(tmp_path, lr):
    result = run_train_cli("--recipe", "mnist-dense", "--data-dir", str(tmp_path), "--lr", lr)
    assert result.returncode == 2 and "is not above 0" in result.stderr


def test_make_scan_writes_as_denoise_does_and_never_replaces_a_file_unasked(tmp_path):
    scan = tmp_path / "scan.tif"
    assert run_train_cli("make-scan", str(scan), "--width", "40", "--height", "30", "--bits", "16").returncode == 0
    with Image.open(scan) as written:
        assert (written.mode, written.size, written.info["compression"]) == ("I;16", (40, 30), "raw")
    kept = scan.read_bytes()
    again = run_train_cli("make-scan", str(scan), "--width", "20", "--height", "20")
    assert again.returncode == 1 and "exists already" in again.stderr and scan.read_bytes() == kept
    for target, bits in ((tmp_path / "x.png", "12"), (tmp_path / "no-such-folder" / "x.png", "8")):
        result = run_train_cli("make-scan", str(target), "--width", "8", "--height", "8", "--bits", bits)
        assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr
        assert not target.exists()


def test_ship_registers_a_model_and_a_refused_ship_leaves_the_weights_folder_as_it_was(conv_stack, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    shipped = run_train_cli("ship", str(conv_stack), "--weights", str(weights), "--alias", "cs", "--default")
    assert shipped.returncode == 0, shipped.stderr
    manifest = json.loads((weights / "manifest.json").read_text())
    name = manifest["default"]
    assert manifest["aliases"] == {"cs": name} and (weights / manifest["models"][name]["file"]).read_bytes() == conv_stack.read_bytes()
    before = {p.name: p.read_bytes() for p in weights.iterdir()}
    (tmp_path / "new").mkdir()
    retrained = conv_stack_model(tmp_path / "new" / conv_stack.name, seed=1)  # the same name, new weights
    refused = run_train_cli("ship", str(retrained), "--weights", str(weights), "--alias", name)
    assert refused.returncode == 1 and "is a model name already" in refused.stderr
    assert {p.name: p.read_bytes() for p in weights.iterdir()} == before


def test_restate_gives_a_trained_model_its_recipe_s_new_guard_and_nothing_else(tiny_data, tmp_path, conv_stack):
    """A shipped model whose run folder is gone takes a recipe's new run settings as `--resume`
    would give them, weights untouched; a recipe that would now train it differently, or a file
    another recipe (or none) made, is refused in one sentence."""
    import onnx

    from denoise_cli.train.export import restate

    recipe = override(get_recipe("photo"), data="folder:photos", epochs=1, batch_size=4, steps_per_epoch=2, holdout_images=4,
                      patch_size=20, folded_epochs=0, network_args={**get_recipe("photo").network_args, "channels": 8, "depth": 3})
    model = train(recipe, tiny_data, tmp_path / "run", show_progress=False, log=lambda *_: None).onnx_path
    graph = onnx.load(str(model)).graph
    new_guard = override(recipe, texture_guard=(4 / 255, 1 / 255, 0.6, 1.8, 0.2, 0.8, 2 / 255))
    restate(model, new_guard)
    description = load_model(model, device="cpu").description
    assert description.texture_guard == list(new_guard.texture_guard) and description.recipe["texture_guard"] == list(new_guard.texture_guard)
    assert description.level_floor and onnx.load(str(model)).graph == graph
    with pytest.raises(DenoiseError, match="now trains differently \\(epochs\\)"):
        restate(model, override(new_guard, epochs=2))
    other = run_train_cli("restate", str(conv_stack), "--recipe", "photo")
    assert other.returncode == 1 and "not trained by the recipe 'photo'" in other.stderr and "Traceback" not in other.stderr


def test_score_from_rows_on_a_file_that_is_no_model_or_without_rows_is_one_sentence(tmp_path, conv_stack):
    (tmp_path / "rows.json").write_text("[]")
    (tmp_path / "bad.onnx").write_text("no model")
    bad = run_train_cli("score", str(tmp_path / "bad.onnx"), "--rows", str(tmp_path / "rows.json"))
    assert bad.returncode == 1 and "bad.onnx: not an ONNX model" in bad.stderr and "Traceback" not in bad.stderr
    empty = run_train_cli("score", str(conv_stack), "--rows", str(tmp_path / "rows.json"))
    assert empty.returncode == 1 and f"no benchmark rows for conv-stack in {tmp_path / 'rows.json'}." in empty.stderr


def test_make_noisy_degrades_each_channel_and_keeps_the_image(tiny_data, tmp_path):
    source = tmp_path / "clean.png"
    Image.fromarray(np.full((40, 50, 3), 128, np.uint8)).save(source)
    command = ["make-noisy", str(source), "-o", str(tmp_path / "noisy.png")]
    result = run_train_cli(*command, "--scenario", "gauss25")
    assert result.returncode == 0, result.stderr
    noisy = np.asarray(Image.open(tmp_path / "noisy.png"), dtype=np.float64)
    assert noisy.shape == (40, 50, 3) and abs(noisy.std() - 25) < 3
    assert not np.array_equal(noisy[..., 0], noisy[..., 1])  # each channel has its own noise
    again = run_train_cli(*command, "--scenario", "cameraZ")
    assert again.returncode == 1 and "cameraL" in again.stderr and "Traceback" not in again.stderr


def test_the_camera_pipeline_s_tone_curve_keeps_the_picture_and_moves_noise_out_of_the_shadows():
    """With the tone curve, a noiseless patch comes back as it was (the curve is undone before the
    noise and applied after it), and the shadows hold less of the noise than mid-grey, as in the
    real pair (docs/photo.md), where the plain gamma puts more there; at probability 0 the
    pipeline draws what it drew before the option existed."""
    from denoise_cli.train.degrade import CameraNoise, camera_noise, smoothstep, smoothstep_inverse

    ramp = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(smoothstep(smoothstep_inverse(ramp)), ramp, atol=1e-5)
    quiet = dict(log_shot=(np.log(1e-12), np.log(1e-12)), read_offset=-40.0, read_jitter=0.0, sharpen_probability=0.0, jpeg_probability=0.0)
    patch = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    assert np.allclose(camera_noise(patch, np.random.default_rng(1), CameraNoise(**quiet, tone_curve_probability=1.0)), patch, atol=1e-4)

    loud = dict(log_shot=(np.log(4e-3), np.log(4e-3)), read_jitter=0.0, white_probability=1.0, sharpen_probability=0.0, jpeg_probability=0.0)
    shadow, mid = np.full((128, 128), 0.08, np.float32), np.full((128, 128), 0.5, np.float32)
    for curve, shadow_over_mid in ((0.0, lambda r: r > 1.3), (1.0, lambda r: r < 0.8)):  # 1.59 and 0.70 here
        p = CameraNoise(**loud, tone_curve_probability=curve)
        std = [float((camera_noise(x, np.random.default_rng(2), p) - x).std()) for x in (shadow, mid)]
        assert shadow_over_mid(std[0] / std[1]), (curve, std)
    rng = np.random.default_rng(3)  # at 0, the draws the pipeline made before the option existed (measured then)
    plain = camera_noise(patch, rng, CameraNoise(sharpen_probability=0.0, jpeg_probability=0.0, tone_curve_probability=0.0))
    assert abs(float(plain.astype(np.float64).sum()) - 2033.2665) < 1e-3 and rng.random() == pytest.approx(0.8733676280730748)


def test_svg_panels_hold_exactly_the_pixels_they_were_given(tmp_path):
    from denoise_cli.train.svg import Panel, read_panels, write_panels

    rng = np.random.default_rng(3)
    flat_and_noisy = np.concatenate([np.full((12, 9), 0.5), rng.random((12, 8))], axis=1)
    panels = [Panel("noisy <input> & more", flat_and_noisy), Panel("black", np.zeros((12, 5))), Panel("white", np.ones((12, 3)))]
    write_panels(panels, tmp_path / "f.svg", zoom=3)
    back = read_panels((tmp_path / "f.svg").read_text())
    assert [label for label, _ in back] == [p.label for p in panels]
    for (_, pixels), panel in zip(back, panels):
        assert np.array_equal(pixels, np.round(panel.pixels * 255).astype(np.uint8))
    with pytest.raises(DenoiseError, match="exists already"):
        write_panels(panels, tmp_path / "f.svg")  # never replaced unless asked


def test_before_after_figure_shows_noisy_model_and_clean_crops(tmp_path):
    from denoise_cli.train.svg import read_panels

    yy, xx = np.mgrid[0:60, 0:70]
    clean = np.clip(60 + 2 * xx + 40 * ((yy // 10) % 2), 0, 255).astype(np.uint8)
    Image.fromarray(clean).save(tmp_path / "clean.png")
    figure = tmp_path / "figure.svg"
    command = ["before-after", str(tmp_path / "clean.png"), "-o", str(figure)]
    result = run_train_cli(*command, "--box", "10,5,40,30", "--scenario", "gauss25", "--models", "photo")
    assert result.returncode == 0, result.stderr
    (noisy_label, noisy), (photo_label, denoised), (clean_label, shown) = read_panels(figure.read_text())
    assert noisy_label.startswith("noisy (gauss25)") and photo_label.startswith("photo") and clean_label == "clean"
    assert np.array_equal(shown, clean[5:35, 10:50])
    error = [np.abs(p.astype(float) - shown).mean() for p in (noisy, denoised)]
    assert error[1] < error[0] / 2  # the model removed most of the noise
    outside = run_train_cli(*command, "--overwrite", "--box", "40,40,40,40")
    assert outside.returncode == 1 and "does not fit" in outside.stderr and "Traceback" not in outside.stderr


def test_before_after_figure_runs_a_model_at_a_strength_on_an_enlarged_picture(tmp_path):
    """`before-after --enlarge F --models photo,photo@2,photo@camera`: the picture as `bench
    --enlarge` makes it, and one panel per model and strength, or as a camera's own photo."""
    from denoise_cli.train.bench import enlarge
    from denoise_cli.train.scoring import quantize
    from denoise_cli.train.svg import read_panels

    yy, xx = np.mgrid[0:40, 0:50]
    clean = np.clip(60 + 2 * xx + 40 * ((yy // 10) % 2), 0, 255).astype(np.uint8)
    Image.fromarray(clean).save(tmp_path / "clean.png")
    figure = tmp_path / "figure.svg"
    command = ["before-after", str(tmp_path / "clean.png"), "-o", str(figure), "--box", "30,20,40,30", "--enlarge", "2"]
    result = run_train_cli(*command, "--scenario", "cameraL", "--models", "photo,photo@2,photo@camera")
    assert result.returncode == 0, result.stderr
    (_, noisy), (gentle_label, gentle), (strong_label, strong), (camera_label, _), (_, shown) = read_panels(figure.read_text())
    assert gentle_label.startswith("photo ") and strong_label.startswith("photo (strength 2)")
    assert camera_label.startswith("photo (camera photo)")
    assert np.array_equal(shown, quantize(enlarge(clean / 255, 2))[20:50, 30:70])
    assert not np.array_equal(gentle, strong)
    bad = run_train_cli(*command, "--overwrite", "--models", "photo@x")
    assert bad.returncode == 1 and "MODEL@STRENGTH" in bad.stderr and "Traceback" not in bad.stderr


def test_before_after_figure_of_a_real_noisy_shot_and_its_reference(tmp_path):
    """`before-after REFERENCE --noisy SHOT`: the real shot's crop instead of simulated noise, as
    the README's crop of a real photo needs, read as `bench --pairs` reads pairs."""
    from denoise_cli.train.svg import read_panels

    yy, xx = np.mgrid[0:60, 0:70]
    reference = np.clip(60 + 2 * xx + 40 * ((yy // 10) % 2), 0, 255).astype(np.uint8)
    shot = np.clip(reference + np.random.default_rng(0).normal(0, 20, reference.shape), 0, 255).astype(np.uint8)
    Image.fromarray(reference).save(tmp_path / "scene_mean.png")
    Image.fromarray(np.stack([shot] * 3, axis=-1)).save(tmp_path / "scene_real.png")  # colour, as shot
    figure = tmp_path / "figure.svg"
    command = ["before-after", str(tmp_path / "scene_mean.png"), "-o", str(figure), "--box", "10,5,40,30"]
    result = run_train_cli(*command, "--noisy", str(tmp_path / "scene_real.png"))
    assert result.returncode == 0, result.stderr
    (noisy_label, noisy), (photo_label, denoised), (reference_label, shown) = read_panels(figure.read_text())
    assert noisy_label.startswith("noisy (real)") and photo_label.startswith("photo") and reference_label == "reference"
    assert np.array_equal(noisy, shot[5:35, 10:50]) and np.array_equal(shown, reference[5:35, 10:50])
    error = [np.abs(p.astype(float) - shown).mean() for p in (noisy, denoised)]
    assert error[1] < error[0] / 2
    Image.fromarray(shot[:50]).save(tmp_path / "cropped_real.png")
    other_size = run_train_cli(*command, "--overwrite", "--noisy", str(tmp_path / "cropped_real.png"))
    assert other_size.returncode == 1 and "must be the same size" in other_size.stderr and "Traceback" not in other_size.stderr
    enlarged = run_train_cli(*command, "--overwrite", "--noisy", str(tmp_path / "scene_real.png"), "--enlarge", "2")
    assert enlarged.returncode == 1 and "does not apply" in enlarged.stderr


def test_before_after_figure_of_a_real_photo_without_a_reference_and_a_baseline(tmp_path):
    """`before-after --noisy PHOTO` alone: a real photo has no mean of many shots, so the figure
    shows the photo and each output, unscored; a baseline of `bench` (median3) can stand beside
    the models, run on the whole picture as they are."""
    from scipy.ndimage import median_filter

    from denoise_cli.train.svg import read_panels

    yy, xx = np.mgrid[0:60, 0:70]
    scene = np.clip(60 + 2 * xx + 40 * ((yy // 10) % 2), 0, 255)
    shot = np.clip(scene + np.random.default_rng(1).normal(0, 12, scene.shape), 0, 255).astype(np.uint8)
    Image.fromarray(shot).save(tmp_path / "photo.png")
    figure = tmp_path / "figure.svg"
    result = run_train_cli("before-after", "--noisy", str(tmp_path / "photo.png"), "-o", str(figure), "--box", "10,5,40,30", "--models", "photo,median3")
    assert result.returncode == 0, result.stderr
    (noisy_label, noisy), (photo_label, denoised), (median_label, median) = read_panels(figure.read_text())
    assert (noisy_label, photo_label, median_label) == ("noisy (real)", "photo", "median3")  # no reference, no scores
    assert np.array_equal(noisy, shot[5:35, 10:50])
    assert np.array_equal(median, median_filter(shot, size=3, mode="reflect")[5:35, 10:50])
    assert not np.array_equal(denoised, noisy)
    neither = run_train_cli("before-after", "-o", str(tmp_path / "other.svg"))
    assert neither.returncode == 1 and "--noisy" in neither.stderr and "Traceback" not in neither.stderr


def test_the_receptive_field_of_an_impulse_remover_is_its_window_not_one_pixel():
    """An impulse remover passes every pixel but exact black and white through, so at a random
    input the gradient reached the pixel itself alone: `salt-and-pepper` shipped with a receptive
    field of 1, and its tiles differed from the whole picture along their edges."""
    from denoise_cli.train.export import measure_receptive_field
    from denoise_cli.train.networks import ImpulseUnshuffleCNN, ResidualUnshuffleCNN

    torch.manual_seed(0)
    for network in (ImpulseUnshuffleCNN(channels=8, depth=3), ResidualUnshuffleCNN(channels=8, depth=3)):
        assert measure_receptive_field(network.eval(), 2) == 14  # three 3x3 convolutions at half resolution


def test_subpixel_export_form_computes_the_same_network():
    """Transposed convolutions exported as conv + pixel shuffle give the trained network's output,
    and converting back recovers its weights (what the speed benchmark's PyTorch side runs)."""
    from denoise_cli.train.subpixel import SubPixelConv, convertible, from_subpixel, to_subpixel

    name = "mnist-conv-bn"  # R3: two stride-2, kernel-4 transposed convolutions and batch norms
    torch.manual_seed(0)
    net = build_network(name, get_recipe(name).network_args).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    sub = to_subpixel(net).eval()
    assert any(isinstance(m, SubPixelConv) for m in sub.modules())
    assert not any(convertible(m) for m in sub.modules())  # stride-1 ones stay as they are
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(sub(x), net(x), atol=1e-5)
    back = from_subpixel(sub, build_network(name, get_recipe(name).network_args))
    for key, value in net.state_dict().items():
        assert torch.allclose(back.state_dict()[key].float(), value.float(), atol=1e-6), key


def test_batch_norms_are_folded_into_the_exported_convolutions(tmp_path):
    """A batch-norm network exports as the plain convolution stack (no BatchNormalization left)
    with the trained network's outputs, and the speed benchmark's PyTorch side loads that file."""
    import onnx

    from denoise_cli.api import Denoiser
    from denoise_cli.train.speed import TorchSession

    recipe = override(get_recipe("gaussian"), network_args={"channels": 8, "depth": 4, "noise_level_input": True, "batch_norm": True})
    torch.manual_seed(0)
    net = build_network(recipe.network, recipe.network_args).train()
    with torch.no_grad():
        for _ in range(3):  # running statistics that are not the identity
            net(torch.rand(4, 1, 24, 24) * 2, torch.rand(4, 1, 1, 1))
    net.eval()
    path = export_onnx(net, describe(net, recipe, {}), tmp_path / "bn.onnx")
    assert "BatchNormalization" not in {node.op_type for node in onnx.load(str(path)).graph.node}
    x, sigma = torch.rand(2, 1, 30, 30), torch.full((2, 1, 1, 1), 0.1)
    torch_side = TorchSession(Denoiser(str(path)))
    with torch.no_grad():
        assert torch.allclose(torch_side.net(x, sigma), net(x, sigma), atol=1e-5)


def test_bench_runs_a_model_at_the_strength_asked(level_echo, echoed_levels):
    """`denoise-train bench --strength` measures what `denoise --strength` does, under its own row name."""
    from denoise_cli.train.bench import applies, model_method

    name, run, _ = model_method(str(level_echo), give_sigma=True, strength=2)
    assert name == "level-echo (sigma given, strength 2)"
    assert np.allclose(run(np.full((32, 32), 0.5, np.float32), 25.5), 2 * 25.5 / 255)
    assert not applies(name, "gaussian", "cameraL") and applies(name, "gaussian", "gauss25")
    assert applies("sp-jpeg", "compressed-salt-and-pepper", "clean") and not applies("sp-jpeg", "compressed-salt-and-pepper", "gauss25")


def test_bench_can_take_test_pictures_for_a_camera_s_own_photos(models_dir, echoed_levels):
    """`bench --camera-photo` measures what `denoise` does with a camera's own unresized photo:
    the model's camera strength, on the estimates raised to its level floor as on any picture."""
    from denoise_cli.train.bench import model_method

    floor = [30 / 255]
    echo = level_echo_model(models_dir / "camera-floor-echo.onnx", camera_strength=2.0, level_floor=floor)
    noisy = np.clip(0.5 + np.random.default_rng(2).normal(0, 20 / 255, (64, 64)), 0, 1).astype(np.float32)
    name, as_camera, _ = model_method(str(echo), give_sigma=False, camera_photo=True)
    _, as_array, _ = model_method(str(echo), give_sigma=False)
    assert name == "camera-floor-echo (blind, as a camera's photo)"
    estimate = float(estimate_noise_levels(noisy, PixelScale(0.0, 1.0, np.float32), ["full"])[0])
    assert estimate < floor[0]
    assert np.allclose(as_camera(noisy, 20.0), 2 * floor[0], rtol=1e-5)
    assert np.allclose(as_array(noisy, 20.0), floor[0], rtol=1e-5)
    with pytest.raises(DenoiseError, match="exclude each other"):
        model_method(str(echo), give_sigma=False, strength=1.5, camera_photo=True)


def _pair_folder(folder, names=("a", "b"), noisy_suffix="_real", reference_suffix="_mean"):
    """Flat grey references and their noisy shots (white noise, std 20 on 0-255) as 8-bit PNGs."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in names:
        reference = np.full((40, 52), 120, np.uint8)
        noisy = np.clip(reference + rng.normal(0, 20, reference.shape), 0, 255).round().astype(np.uint8)
        Image.fromarray(reference).save(folder / f"{name}{reference_suffix}.png")
        Image.fromarray(noisy).save(folder / f"{name}{noisy_suffix}.png")
    return folder


def test_bench_pairs_scores_real_shots_against_their_references(tmp_path, box_blur):
    """`denoise-train bench --pairs`: each method on the noisy shot against its reference, and on
    the reference itself (what it does to a picture without noise)."""
    from denoise_cli.imageio import read_gray
    from denoise_cli.train.bench import benchmark
    from denoise_cli.train.scoring import mean_scores

    folder = _pair_folder(tmp_path / "pairs", noisy_suffix="_Noisy", reference_suffix="_gt")
    rows = {(r.method, r.scenario): r for r in benchmark(folder, [], [], [], ["noisy"], [str(box_blur)], None, log=lambda *_: None, pairs=folder)}
    references = [read_gray(folder / f"{n}_gt.png") for n in "ab"]
    shots = [read_gray(folder / f"{n}_Noisy.png") for n in "ab"]
    assert rows["noisy", "real"].psnr == pytest.approx(mean_scores(references, shots)["psnr"], abs=0.01)
    assert rows["noisy", "reference"].psnr == float("inf")
    assert rows["box-blur", "real"].psnr > rows["noisy", "real"].psnr + 2
    assert rows["box-blur", "reference"].images == 2


def test_bench_log_lines_stay_whole_in_a_narrow_or_redirected_stderr(tmp_path, box_blur):
    """Each measured row is logged as one line of JSON: a log file of a long run (nohup, 80
    columns) must hold rows a script can read back, not rows cut where the terminal would wrap."""
    folder = _pair_folder(tmp_path / "pairs", noisy_suffix="_Noisy", reference_suffix="_gt")
    result = run_cli("bench", "--pairs", str(folder), "--baselines", "noisy", "--models", str(box_blur),
                     module="denoise_cli.train.cli", env={"COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {(row["method"], row["scenario"]) for row in rows} >= {("noisy", "real"), ("box-blur", "real")}


def test_bench_says_whether_the_default_model_s_targets_hold(tmp_path, box_blur, identity_fixed):
    """After the table, one line per model where the rows can tell: on real photos, the gain over
    the noisy shots against +1.5 dB and against the 3x3 median; on gauss2, the pictures that lose
    more than 0.1 dB against their input, by name."""
    from denoise_cli.train.bench import Row, benchmark, target_lines

    folder = _pair_folder(tmp_path / "pairs")
    rows = benchmark(folder, [], [], [], ["noisy", "median3"], [str(box_blur), str(identity_fixed)], None, log=lambda *_: None, pairs=folder)
    lines = target_lines(rows)
    blur, identity = (next(line for line in lines if line.startswith(name)) for name in ("box-blur", "identity-fixed"))
    assert "over the noisy shots (target +1.50: met)" in blur and "against median3" in blur
    assert "+0.00 dB over the noisy shots (target +1.50: NOT met)" in identity and "(target: above it: NOT met)" in identity
    assert not [line for line in lines if " reference " in line]  # the reference rows have no target of their own

    nearly_clean = [Row("noisy", "set12", "gauss2", "png8", 42.0, 0.97, 0, 3, {"a.png": [42.0, 0.97], "b.png": [41.0, 0.97], "c.png": [43, 0.98]}),
                    Row("photo (blind)", "set12", "gauss2", "png8", 41.5, 0.97, 1, 3, {"a.png": [42.5, 0.98], "b.png": [40.5, 0.96], "c.png": [42.95, 0.98]})]
    assert target_lines(nearly_clean) == ["photo (blind) on set12 gauss2 png8: 1 of 3 pictures lose more than 0.1 dB against their input (b.png 0.50)."]


def test_bench_pairs_says_which_shot_has_no_reference(tmp_path):
    from denoise_cli.train.bench import load_pairs

    folder = _pair_folder(tmp_path / "pairs")
    (folder / "b_mean.png").unlink()
    with pytest.raises(DenoiseError, match="no reference for b_real.png"):
        load_pairs(folder, None)


def test_bench_refuses_an_unknown_baseline_or_one_whose_library_is_missing(monkeypatch):
    from denoise_cli.train import bench

    with pytest.raises(DenoiseError, match="unknown baseline 'median5'"):
        bench.check_baselines(["noisy", "median5"])
    monkeypatch.setitem(bench.BASELINE_MODULES, "nlm", "no_such_module_for_nlm")
    with pytest.raises(DenoiseError, match=r"the nlm baseline needs the bench extra: pip install \"denoise-cli\[bench\]\""):
        bench.check_baselines(["noisy", "nlm"])
    bench.check_baselines(["noisy", "median3", "switching-median"])  # the training extra has what these need


@pytest.mark.parametrize("scenario,variant,message", [
    ("gauss2x", "png8", r"unknown benchmark scenario 'gauss2x' \(expected gaussS, spNN, spjpegNN, cameraXL/L/M/H or clean\)"),
    ("sp", "png8", "unknown benchmark scenario 'sp'"),
    ("cameraXXL", "png8", "unknown camera setting 'cameraXXL'"),
    ("spjpeg", "png8", "unknown benchmark scenario 'spjpeg'"),
    ("gauss25", "jpg", "unknown benchmark variant 'jpg'"),
])
def test_bench_refuses_an_unknown_scenario_or_variant_before_any_work(tmp_path, scenario, variant, message):
    """A typo in a long benchmark is one sentence at once, not a traceback (or a silent float
    run) minutes later."""
    from denoise_cli.train.bench import benchmark

    with pytest.raises(DenoiseError, match=message):
        benchmark(tmp_path / "no-data", ["set12"], ["gauss15", scenario], [variant], ["noisy"], [], None, log=lambda *_: None)


def test_bench_pairs_read_sidd_s_layout_too(tmp_path):
    """SIDD keeps a folder per scene, with NOISY_SRGB_010.PNG beside GT_SRGB_010.PNG."""
    from denoise_cli.train.bench import load_pairs

    rng = np.random.default_rng(6)
    for scene in ("0001_001_S6", "0002_001_S6"):
        (tmp_path / "sidd" / scene).mkdir(parents=True)
        for shot in ("010", "011"):
            Image.fromarray(rng.integers(0, 256, (20, 24)).astype(np.uint8)).save(tmp_path / "sidd" / scene / f"GT_SRGB_{shot}.PNG")
            Image.fromarray(rng.integers(0, 256, (20, 24)).astype(np.uint8)).save(tmp_path / "sidd" / scene / f"NOISY_SRGB_{shot}.PNG")
    photos = load_pairs(tmp_path / "sidd", None)
    assert photos.names == [f"{scene}/NOISY_SRGB_{shot}.PNG" for scene in ("0001_001_S6", "0002_001_S6") for shot in ("010", "011")]
    assert np.array_equal(photos.references[3] * 255, np.asarray(Image.open(tmp_path / "sidd" / "0002_001_S6" / "GT_SRGB_011.PNG")))
    (tmp_path / "sidd" / "0002_001_S6" / "GT_SRGB_011.PNG").unlink()
    with pytest.raises(DenoiseError, match="no reference for 0002_001_S6/NOISY_SRGB_011.PNG"):
        load_pairs(tmp_path / "sidd", None)


def test_bench_pairs_read_sibling_noisy_and_reference_folders(tmp_path):
    """A set kept as noisy/NAME beside mean/NAME (or clean/, gt/, reference/), the same name in
    both, as a team's own verification photos are often laid out."""
    from denoise_cli.train.bench import load_pairs

    rng = np.random.default_rng(7)
    for folder in ("Noisy", "Mean"):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for name in ("kitchen", "street"):
            Image.fromarray(rng.integers(0, 256, (20, 24)).astype(np.uint8)).save(tmp_path / "set" / folder / f"{name}.png")
    photos = load_pairs(tmp_path / "set", None)
    assert photos.names == ["Noisy/kitchen.png", "Noisy/street.png"]
    assert np.array_equal(photos.references[1] * 255, np.asarray(Image.open(tmp_path / "set" / "Mean" / "street.png")))
    assert np.array_equal(photos.shots[1] * 255, np.asarray(Image.open(tmp_path / "set" / "Noisy" / "street.png")))
    (tmp_path / "set" / "Mean" / "street.png").unlink()
    with pytest.raises(DenoiseError, match="no reference for Noisy/street.png"):
        load_pairs(tmp_path / "set", None)


def test_bench_pairs_treat_a_camera_s_own_shot_as_denoise_does(tmp_path, models_dir, echoed_levels):
    """A noisy shot whose EXIF shows it unresized from a camera gets the model's camera strength
    in `bench --pairs`, as `denoise` gives it: the figures measure what a user gets."""
    from denoise_cli.train.bench import load_pairs, model_method

    folder = _pair_folder(tmp_path / "pairs")
    shot = np.clip(120 + np.random.default_rng(4).normal(0, 20, (2000, 2600)), 0, 255).astype(np.uint8)  # 5.2 MP: a sensor's size
    Image.fromarray(shot).save(folder / "a_real.png", exif=camera_exif("Canon", "Canon EOS 80D", (2600, 2000)))
    Image.new("L", (2600, 2000), 120).save(folder / "a_mean.png")
    photos = load_pairs(folder, None)
    assert photos.shot_cameras == ["Canon EOS 80D", None] and photos.reference_cameras == [None, None]
    _, run, _ = model_method(str(level_echo_model(models_dir / "pair-echo.onnx", camera_strength=2.0)), give_sigma=False)
    shot = photos.shots[0]
    assert np.allclose(run(shot, 0.0, photos.shot_cameras[0]), 2 * run(shot, 0.0, None), rtol=1e-5)


def test_bench_gives_a_fixed_sigma_to_every_method_that_takes_a_level(tmp_path, models_dir, echoed_levels):
    """`bench --sigma S`: our noise-level models are told S on every picture (as `denoise --sigma`),
    in one row instead of the blind and sigma-given pair, and so are nlm and bm3d; on a real pair
    that tells a model short of its reading from one short of itself. Filters without a level
    keep their names."""
    from denoise_cli.train.bench import benchmark, model_method

    folder = _pair_folder(tmp_path / "pairs")
    echo = level_echo_model(models_dir / "fixed-echo.onnx")
    _, run, _ = model_method(str(echo), give_sigma=False, fixed_sigma=8.0)
    shot = np.full((40, 52), 0.5, np.float32)
    assert np.allclose(run(shot, 25.0), 8 / 255, atol=1e-6)  # the fixed level, not the one the bench offers
    baselines = ["noisy", "median3"] + (["nlm"] if importlib.util.find_spec("cv2") else [])
    rows = benchmark(folder, [], [], [], baselines, [str(echo)], None, log=lambda *_: None, pairs=folder, fixed_sigma=8.0)
    methods = list(dict.fromkeys(r.method for r in rows))
    assert methods == ["noisy", "median3"] + (["nlm (sigma 8)"] if "nlm" in baselines else []) + ["fixed-echo (sigma 8)"]
    bad = run_train_cli("bench", "--pairs", str(folder), "--baselines", "noisy", "--models", str(echo), "--sigma", "300")
    assert bad.returncode == 1 and "--sigma must be between 0 and 255" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_enlarges_the_test_pictures_when_asked(tmp_path):
    """`bench --enlarge`: the set's pictures, enlarged and 8-bit, are smooth at the pixel scale
    as a camera's photos are, which is what makes a 3x3 median help there and hurt on the set."""
    from denoise_cli.train.bench import benchmark, enlarge

    (tmp_path / "set12").mkdir()
    rng = np.random.default_rng(5)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (30, 40)).astype(np.uint8)).save(tmp_path / "set12" / f"{k:02d}.png")
    large = enlarge(np.full((30, 40), 0.5), 2.5)
    assert large.shape == (75, 100) and np.allclose(large * 255, np.round(large * 255))

    def gains(factor):
        rows = benchmark(tmp_path, ["set12"], ["gauss25"], ["png8"], ["noisy", "median3"], [], None, log=lambda *_: None, enlarge_by=factor)
        assert {r.set for r in rows} == {"set12" if factor == 1 else f"set12 x{factor:g}"}
        return rows[1].psnr - rows[0].psnr

    assert gains(1.0) < 0 < gains(2.5)


def test_bench_per_image_csv_names_each_picture_and_its_scores(tmp_path):
    """`bench --per-image F.csv`: one line per method, scenario and picture, by file name, whose
    mean is the table's; `--merge` of saved rows writes the same; a missing folder is found first."""
    import csv
    import json
    (tmp_path / "set12").mkdir()
    yy, xx = np.mgrid[0:40, 0:48]
    Image.fromarray((60 + 2 * xx + 30 * ((yy // 8) % 2)).astype(np.uint8)).save(tmp_path / "set12" / "smooth, striped.png")
    Image.fromarray(np.random.default_rng(6).integers(0, 256, (40, 48)).astype(np.uint8)).save(tmp_path / "set12" / "speckled.png")
    command = ["bench", "--data-dir", str(tmp_path), "--sets", "set12",
               "--scenarios", "gauss25", "--variants", "png8", "--baselines", "noisy,median3", "--models", ""]
    result = run_train_cli(*command, "--per-image", str(tmp_path / "images.csv"), "--out", str(tmp_path / "rows"))
    assert result.returncode == 0, result.stderr
    lines = list(csv.DictReader((tmp_path / "images.csv").open()))
    assert [(r["method"], r["image"]) for r in lines] == [(m, n) for m in ("noisy", "median3") for n in ("smooth, striped.png", "speckled.png")]
    psnr = {(r["method"], r["image"]): float(r["psnr"]) for r in lines}
    assert psnr["median3", "smooth, striped.png"] > psnr["noisy", "smooth, striped.png"]  # a median helps smooth content
    assert psnr["median3", "speckled.png"] < psnr["noisy", "speckled.png"]  # and hurts pixel-scale detail
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert rows[1]["psnr"] == pytest.approx(np.mean([psnr["median3", n] for n in ("smooth, striped.png", "speckled.png")]), abs=2e-3)
    merged = run_train_cli("bench", "--merge", str(tmp_path / "rows.json"), "--per-image", str(tmp_path / "again.csv"))
    assert merged.returncode == 0 and (tmp_path / "again.csv").read_text() == (tmp_path / "images.csv").read_text()
    missing = run_train_cli(*command, "--per-image", str(tmp_path / "nowhere" / "images.csv"))
    assert missing.returncode == 1 and "output folder does not exist" in missing.stderr and "Traceback" not in missing.stderr
    assert '"noisy"' not in missing.stderr  # failed before measuring: no row was logged


def test_bench_refuses_an_output_folder_that_takes_no_file_before_measuring(tmp_path, monkeypatch):
    """A read-only (or full) folder for --out is found before hours of measuring, not after
    them. (In-process, the read-only file system simulated where files are created.)"""
    import errno
    import json

    from typer.testing import CliRunner

    from denoise_cli.train.cli import app

    (tmp_path / "rows.json").write_text(json.dumps([{"method": "noisy", "set": "set12", "scenario": "gauss25", "variant": "png8",
                                                     "psnr": 20.0, "ssim": 0.5, "megapixels_per_second": 0.0, "images": 1}]))
    (tmp_path / "locked").mkdir()
    create = os.open

    def read_only(path, flags, *args, **kwargs):
        if os.path.dirname(os.fspath(path)) == str(tmp_path / "locked") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return create(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    result = CliRunner().invoke(app, ["bench", "--merge", str(tmp_path / "rows.json"), "--out", str(tmp_path / "locked" / "table")])
    assert result.exit_code == 1 and "table: cannot write (Read-only file system)" in result.output
    assert "| noisy" not in result.output  # refused before the rows were read and the table printed


def test_compressed_impulses_are_the_protocol_s_then_a_jpeg(tiny_data):
    """`spjpegNN` is the protocol's spNN saved as a JPEG: the same impulses, smeared over the
    pixels around them; the training kind draws such damage, seeded."""
    from denoise_cli.imageio import read_gray
    from denoise_cli.noise import apply_noise
    from denoise_cli.train.bench import scenario_noise
    from denoise_cli.train.degrade import SPJPEG_QUALITY, jpeg

    clean = read_gray(tiny_data / "photos" / "010.png")
    plain, compressed = scenario_noise(clean, "sp20", 3, "png8"), scenario_noise(clean, "spjpeg20", 3, "png8")
    assert np.array_equal(compressed, jpeg(plain, SPJPEG_QUALITY))
    impulses = (plain == 0) | (plain == 1)
    assert 0.15 < impulses.mean() < 0.25
    spread = np.abs(compressed - plain)[~impulses] > 2 / 255
    assert spread.mean() > 0.3  # the damage spreads to pixels the impulses missed, where `sp` never looks
    spec = RECIPES["salt-and-pepper-jpeg"].noise
    batch = np.repeat(clean[None, None, :64, :64], 4, axis=0)
    first, again = (apply_noise(batch, spec, np.random.default_rng(7)) for _ in range(2))
    assert np.array_equal(first, again) and first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1
    assert not np.array_equal(first[0], first[1])  # a density and a quality per image


def test_sweep_scores_each_picture_at_each_strength_and_evaluates_a_guard_on_them(tiny_data, tmp_path):
    """The sweep's figure for a picture at a strength is what `denoise --strength` gives it,
    scored; a guard that touches nothing repeats strength 1, one that lowers every picture to
    its least gives the sweep's figures at that strength; the CLI reads a sweep back."""
    from denoise_cli import Denoiser
    from denoise_cli.imageio import read_gray
    from denoise_cli.train.bench import scenario_noise
    from denoise_cli.train.scoring import psnr, quantize
    from denoise_cli.train.sweep import guard_rows, sweep

    lines: list[str] = []
    pictures = sweep(tiny_data, ["photos"], ["gauss15"], "photo", [1.0, 0.5], every=10, log=lines.append)
    assert [p.image for p in pictures] == ["000", "010"] and len(lines) == 2
    assert all(p.strengths == [0.5, 1.0] and len(p.readings) == 2 and p.readings[0] > 5 for p in pictures)
    clean = read_gray(tiny_data / "photos" / "010.png")
    noisy = scenario_noise(clean, "gauss15", 10, "png8")  # seeded by the picture's index in the set
    direct = psnr(quantize(clean), quantize(Denoiser("photo", strength=0.5).denoise(noisy.astype(np.float32))))
    assert pictures[1].psnr[0] == pytest.approx(direct, abs=1e-3)
    assert pictures[1].noisy == pytest.approx(psnr(quantize(clean), quantize(noisy)), abs=1e-3)
    (untouched,) = guard_rows(pictures, [255, 1, 0, 99, 0.5])
    assert untouched["guarded"] == 0 and untouched["guard psnr"] == pytest.approx(untouched["strength 1 psnr"])
    (lowered,) = guard_rows(pictures, [0, 0.01, 0, 99, 0.5])
    assert lowered["guarded"] == 2 and lowered["guard psnr"] == pytest.approx(np.mean([p.psnr[0] for p in pictures]))
    assert all(0 < p.uniformity <= 1.5 for p in pictures)  # each picture's uniformity is recorded, for a guard's sixth value
    (even,) = guard_rows(pictures, [0, 0.01, 0, 99, 0.5, min(p.uniformity for p in pictures)])
    assert even["guarded"] == 0  # every picture reads at least that evenly: left alone
    (tmp_path / "sweep.jsonl").write_text("\n".join(lines) + "\n")
    result = run_train_cli("sweep", "--from", str(tmp_path / "sweep.jsonl"), "--guard", "0,0.01,0,99,0.5")
    assert result.returncode == 0, result.stderr
    assert "| photos | gauss15 | 2 | 2 | 0.50 |" in result.stdout
    (tmp_path / "bad.jsonl").write_text("not a sweep\n")
    bad = run_train_cli("sweep", "--from", str(tmp_path / "bad.jsonl"))
    assert bad.returncode == 1 and "not a file written by `denoise-train sweep --out`" in bad.stderr and "Traceback" not in bad.stderr
    old = [json.dumps({k: v for k, v in json.loads(line).items() if k != "uniformity"}) for line in lines]
    (tmp_path / "old.jsonl").write_text("\n".join(old) + "\n")  # written before the uniformity was read
    assert run_train_cli("sweep", "--from", str(tmp_path / "old.jsonl"), "--guard", "0,0.01,0,99,0.5").returncode == 0
    stale = run_train_cli("sweep", "--from", str(tmp_path / "old.jsonl"), "--guard", "0,0.01,0,99,0.5,0.8")
    assert stale.returncode == 1 and "run it again" in stale.stderr and "Traceback" not in stale.stderr


def test_train_help_names_every_options_value():
    """As `denoise run -h` does: PATH, N, FLOAT, TEXT, not typer's <str>, <int range>, <path>."""
    from typer.testing import CliRunner

    from denoise_cli.train.cli import app

    commands = [command.name for command in typer.main.get_command(app).commands.values()]
    assert len(commands) >= 10
    for command in commands:
        page = CliRunner().invoke(app, [command, "-h"], env={"COLUMNS": "200"}).output
        options = [line for line in page.splitlines() if line.lstrip().startswith("-")]
        assert options and not [line for line in options if "<" in line.lstrip().split("  ")[0]], page


@pytest.mark.parametrize("module,named", [("torch", "PyTorch"), ("skimage", "scikit-image")])
def test_denoise_train_without_the_training_extra_says_what_to_install(tmp_path, module, named):
    """`pip install denoise-cli` installs the denoise-train command but not what it trains
    with; running it ended in a ModuleNotFoundError traceback."""
    blocked = f"import sys; sys.modules[{module!r}] = None; from denoise_cli.train.cli import main; main()"
    args = ["--recipe", "mnist-conv-bn", "--data-dir", str(tmp_path)] if module == "torch" else ["score", str(tmp_path / "m.onnx")]
    (tmp_path / "m.onnx").write_bytes(b"")
    result = subprocess.run([sys.executable, "-c", blocked, *args], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: {named} is not installed, and denoise-train needs the training extra: install the PyTorch build "
                                     'you want (pip install torch), then pip install "denoise-cli[train]".')


def test_make_pair_keeps_the_shot_as_taken_and_averages_the_others_for_bench_pairs(tmp_path):
    """`make-pair SHOTS -o pairs/scene`: a burst of a still scene becomes a real pair as `bench
    --pairs` takes it: the chosen shot copied byte for byte (its EXIF still tells what `denoise`
    makes of it), the mean of the other shots as its reference; a shot that moved is refused."""
    from scipy.ndimage import gaussian_filter

    from denoise_cli.imageio import read_gray

    rng = np.random.default_rng(3)
    texture = gaussian_filter(rng.normal(0, 1, (96, 128)), 3)
    scene = np.clip(128 + 60 * texture / texture.std(), 0, 255)
    shots = []
    for k in range(6):
        path = tmp_path / f"IMG_{k}.png"
        Image.fromarray(np.clip(np.round(scene + rng.normal(0, 8, scene.shape)), 0, 255).astype(np.uint8)).save(path)
        shots.append(path)
    result = run_train_cli("make-pair", *map(str, shots), "-o", str(tmp_path / "pairs" / "scene"), "--shot", "2")
    assert result.returncode == 0, result.stderr
    real, mean = tmp_path / "pairs" / "scene_real.png", tmp_path / "pairs" / "scene_mean.png"
    assert real.read_bytes() == shots[1].read_bytes()
    others = np.mean([read_gray(p) for k, p in enumerate(shots) if k != 1], axis=0)
    assert np.array_equal(read_gray(mean), np.round(others * 255) / np.float32(255))  # bench reads it at 8 bits
    assert np.array(Image.open(mean)).dtype == np.uint16  # the mean keeps its fractions
    noise = float(re.search(r"noise of the shot: ([0-9.]+)", result.stdout).group(1))
    assert 7 < noise < 9  # the shots' own std, 8
    bench = run_train_cli("bench", "--pairs", str(tmp_path / "pairs"), "--baselines", "noisy", "--models", "photo")
    assert bench.returncode == 0 and "| photo (blind) |" in bench.stdout and "dB over the noisy shots" in bench.stderr, bench.stderr
    moved = tmp_path / "moved.png"
    Image.fromarray(np.roll(np.asarray(Image.open(shots[0])), 2, axis=1)).save(moved)
    refused = run_train_cli("make-pair", *map(str, shots), str(moved), "-o", str(tmp_path / "other"))
    assert refused.returncode == 1 and "moved by 2 px sideways" in refused.stderr and "Traceback" not in refused.stderr
    assert not list(tmp_path.glob("other_*"))  # nothing written
    again = run_train_cli("make-pair", *map(str, shots), "-o", str(tmp_path / "pairs" / "scene"))
    assert again.returncode == 1 and "exists already" in again.stderr
    few = run_train_cli("make-pair", *map(str, shots[:2]), "-o", str(tmp_path / "few"))
    assert few.returncode == 1 and "at least 3 shots" in few.stderr
    raw = tmp_path / "IMG_9.DNG"
    raw.write_bytes(shots[0].read_bytes())  # Pillow would read a raw's embedded preview, not its sensor data
    refused_raw = run_train_cli("make-pair", str(raw), *map(str, shots), "-o", str(tmp_path / "raw"))
    assert refused_raw.returncode == 1 and "camera raw file" in refused_raw.stderr


def test_make_pair_takes_a_burst_of_a_scene_without_detail_and_says_it_could_not_check_it(tmp_path):
    """A burst of a grey card or a bare wall, the plainest way to measure a camera's noise, was
    refused as "moved by 107 px": with nothing in the scene to align, the shift read was the
    noise's. Now such shots are taken as they are, and the output says they were not checked."""
    rng = np.random.default_rng(4)
    shots = []
    for k in range(4):
        path = tmp_path / f"card_{k}.png"
        Image.fromarray(np.clip(np.round(118 + rng.normal(0, 6, (120, 160))), 0, 255).astype(np.uint8)).save(path)
        shots.append(path)
    result = run_train_cli("make-pair", *map(str, shots), "-o", str(tmp_path / "pairs" / "card"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pairs" / "card_real.png").exists() and (tmp_path / "pairs" / "card_mean.png").exists()
    assert ("warning: 3 of the shots could not be checked for movement: the scene holds too little detail to align them by (a grey card "
            "or a bare wall, say), so their mean is taken as it is.") in result.stderr
