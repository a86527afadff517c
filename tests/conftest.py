"""Shared fixtures: small real ONNX models built with onnx.helper (identity, a random conv stack,
a box blur), each carrying a denoise-cli description, and a helper to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from denoise_cli.description import ModelDescription  # noqa: E402


def build_model(path: Path, nodes, initializers, description: ModelDescription) -> Path:
    side = description.patch_size
    dims = ["batch", 1, side, side] if description.fixed_size else ["batch", 1, "height", "width"]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)]
    if description.noise_level_input:
        inputs.append(helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["batch", len(description.level_readings), 1, 1]))
    graph = helper.make_graph(
        nodes, "test", inputs, [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)], initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="denoise-cli-tests")
    model.ir_version = 8
    for key, value in description.to_metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def describe(name: str, **values) -> ModelDescription:
    base = dict(name=name, summary=f"test model {name}", noise={"kind": "gaussian", "std": 0.1}, patch_size=28,
                fixed_size=True, params=0, macs_per_pixel=0)
    base.update(values)
    return ModelDescription(**base)


def identity_model(path: Path, **values) -> Path:
    return build_model(path, [helper.make_node("Identity", ["input"], ["output"])], [], describe(path.stem, **values))


def conv_stack_model(path: Path, layers: int = 3, seed: int = 0, **values) -> Path:
    """A random 3x3 conv stack with ReLUs (receptive field 2*layers+1), fully convolutional."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev, channels = [], [], "input", 1
    for k in range(layers):
        out_ch = 1 if k == layers - 1 else 4
        w = (rng.standard_normal((out_ch, channels, 3, 3)) * 0.3).astype(np.float32)
        b = (rng.standard_normal(out_ch) * 0.05).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(b, f"b{k}")]
        name = "output" if k == layers - 1 else f"h{k}"
        conv = f"c{k}" if k < layers - 1 else name
        nodes.append(helper.make_node("Conv", [prev, f"w{k}", f"b{k}"], [conv], pads=[1, 1, 1, 1]))
        if k < layers - 1:
            nodes.append(helper.make_node("Relu", [conv], [name]))
        prev, channels = name, out_ch
    values = {"fixed_size": False, "receptive_field": 2 * layers + 1, "tile_size": 32, **values}
    return build_model(path, nodes, inits, describe(path.stem, **values))


def box_blur_model(path: Path, **values) -> Path:
    """A 3x3 box blur on fixed 28x28 patches (zero padding at the patch edge: seams if unblended)."""
    w = numpy_helper.from_array(np.full((1, 1, 3, 3), 1 / 9, dtype=np.float32), "w")
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1])
    return build_model(path, [node], [w], describe(path.stem, **values))


def level_echo_model(path: Path, echo: int = 0, **values) -> Path:
    """A noise-level model whose output is the level it was given, everywhere (input * 0 +
    sigma, of reading number `echo`): the output image shows which level the API fed it."""
    values = {"fixed_size": False, "receptive_field": 1, "tile_size": 32, "noise_level_input": True, **values}
    description = describe(path.stem, **values)
    pick = np.zeros((1, len(description.level_readings), 1, 1), dtype=np.float32)
    pick[0, echo] = 1
    inits = [numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero"), numpy_helper.from_array(pick, "pick")]
    nodes = [
        helper.make_node("Mul", ["input", "zero"], ["blank"]),
        helper.make_node("Conv", ["sigma", "pick"], ["picked"]),  # (N, 1, 1, 1): the chosen reading
        helper.make_node("Add", ["blank", "picked"], ["output"]),
    ]
    return build_model(path, nodes, inits, description)


@pytest.fixture
def echoed_levels(monkeypatch):
    """For tests that read what a level-echo model was fed from its output: the brightness
    correction (brightness.py), which gives an over-fed model's output the input's local mean
    back, would blend the echoed level with the input."""
    monkeypatch.setattr("denoise_cli.api.keep_local_brightness", lambda *args: None)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def identity_fixed(models_dir) -> Path:
    return identity_model(models_dir / "identity-fixed.onnx")


@pytest.fixture(scope="session")
def identity_conv(models_dir) -> Path:
    return identity_model(models_dir / "identity-conv.onnx", fixed_size=False, multiple_of=4, receptive_field=0, tile_size=64)


@pytest.fixture(scope="session")
def conv_stack(models_dir) -> Path:
    return conv_stack_model(models_dir / "conv-stack.onnx")


@pytest.fixture(scope="session")
def box_blur(models_dir) -> Path:
    return box_blur_model(models_dir / "box-blur.onnx")


def camera_exif(make: str, model: str, size: tuple[int, int], orientation: int = 1):
    """EXIF as a camera writes it: Make, Model, orientation, and the recorded pixel size
    (ExifImageWidth / ExifImageHeight in the Exif sub-IFD)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = make, model, orientation
    exif.get_ifd(0x8769).update({0xA002: size[0], 0xA003: size[1]})
    return exif


def cli_env(colour: bool = False, **extra: str) -> dict[str, str]:
    """The environment for a `denoise` subprocess: wide, uncoloured unless asked, and none of the
    developer's own DENOISE_* settings (which would change what the tests run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENOISE_")}
    return {**env, "COLUMNS": "200", **({} if colour else {"NO_COLOR": "1"}), **extra}


def batch_options(inputs, output, model):
    """A batch as `denoise INPUTS -o OUTPUT -m MODEL --device cpu` runs it, for in-process tests."""
    from denoise_cli import batch

    return batch.BatchOptions(inputs=[str(p) for p in inputs], output=str(output), model=str(model), device="cpu", recursive=False,
                              overwrite=False, suffix="_denoised", format=None, threads=None, tile=None, overlap=None, batch_size=None,
                              max_pixels=10**8)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, module: str = "denoise_cli.cli", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real `denoise` command in a subprocess (the installed console script's module)."""
    env = cli_env(**(env or {}))
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def run_cli_piped(*args: str, stdin: bytes, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`denoise` with bytes on standard input; standard output comes back as bytes too."""
    env = cli_env()
    return subprocess.run([sys.executable, "-m", "denoise_cli.cli", *args], input=stdin, capture_output=True, cwd=cwd, timeout=120, env=env)


def run_train_cli(*args: str) -> subprocess.CompletedProcess:
    """The real `denoise-train` command in a subprocess."""
    return run_cli(*args, module="denoise_cli.train.cli")


def assert_clean_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "error:" in result.stderr


@pytest.fixture(scope="session")
def level_echo(models_dir) -> Path:
    return level_echo_model(models_dir / "level-echo.onnx")
