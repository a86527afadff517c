"""`denoise-train describe`: a model exported elsewhere, with its own names for its inputs and no
description, becomes one `denoise` runs, with what its graph shows measured from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from conftest import box_blur_model, conv_stack_model, level_echo_model, run_cli, run_train_cli  # noqa: E402
from denoise_cli import Denoiser  # noqa: E402
from denoise_cli.errors import DenoiseError  # noqa: E402
from denoise_cli.train.describe import describe_onnx  # noqa: E402


def _foreign(described: Path, target: Path, names: dict[str, str], external: bool = False) -> Path:
    """The model as another exporter would give it: no description, its own tensor names, and
    with `external` its weights in a file beside it (as exporters keep a large model's)."""
    proto = onnx.load(str(described))
    del proto.metadata_props[:]
    graph = proto.graph
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in (*graph.input, *graph.output):
        value.name = names.get(value.name, value.name)
    onnx.save(proto, str(target), save_as_external_data=external, location=f"{target.name}.data", size_threshold=0)
    return target


def _graph(path: Path, nodes, inits, inputs, outputs) -> Path:
    graph = helper.make_graph(nodes, "foreign", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _tensor(name: str, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def test_a_foreign_conv_stack_is_measured_and_runs_as_its_described_twin(tmp_path):
    """Three 3x3 convolutions (1 -> 4 -> 4 -> 1 channels), inputs named as torch.onnx names them:
    any size, receptive field 7, 9 x (4 + 16 + 4) multiply-adds per pixel, and the same output
    as the same network described by hand."""
    twin = conv_stack_model(tmp_path / "twin.onnx")
    foreign = _foreign(twin, tmp_path / "dncnn.onnx", {"input": "input.1", "output": "37"}, external=True)
    d = describe_onnx(foreign, tmp_path / "mine.onnx", name="mine", noise={"kind": "gaussian", "std": [0.0, 0.2]}, tile=64)
    assert (d.fixed_size, d.multiple_of, d.receptive_field, d.tile_size) == (False, 1, 7, 64)
    assert d.params == 4 * 9 + 4 + 4 * 4 * 9 + 4 + 4 * 9 + 1 and d.macs_per_pixel == 9 * (4 + 16 + 4)
    assert d.recipe["described_from"] == "dncnn.onnx" and len(d.recipe["sha256"]) == 64
    picture = np.random.default_rng(0).random((150, 170), dtype=np.float32)
    assert np.abs(Denoiser(tmp_path / "mine.onnx", "cpu").denoise(picture) - Denoiser(twin, "cpu").denoise(picture)).max() < 1e-5
    with pytest.raises(DenoiseError, match="mine.onnx: exists already; pass --overwrite"):
        describe_onnx(foreign, tmp_path / "mine.onnx", name="mine", noise={"kind": "gaussian"})
    (tmp_path / "dncnn.onnx.data").unlink()  # the described model holds its weights itself; its source needs them
    assert Denoiser(tmp_path / "mine.onnx", "cpu").denoise(picture).shape == picture.shape
    with pytest.raises(DenoiseError, match="dncnn.onnx: its weights kept in a file beside it cannot be read"):
        describe_onnx(foreign, tmp_path / "again.onnx", name="again", noise={"kind": "gaussian"})


def test_fixed_patches_a_noise_level_and_an_impulse_remover_s_reach(tmp_path):
    """A model of one patch size keeps it, unless only its export fixed it; a second input
    (N, 1, 1, 1) is the noise level; an impulse remover, whose output moves only at black and
    white pixels, is measured there."""
    dense = numpy_helper.from_array(np.random.default_rng(0).normal(0, 0.03, (784, 784)).astype(np.float32), "w")
    shapes = [numpy_helper.from_array(np.array(shape, np.int64), name) for shape, name in (([-1, 784], "flat"), ([-1, 1, 28, 28], "patch"))]
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["rows"]), helper.make_node("MatMul", ["rows", "w"], ["mixed"]),
             helper.make_node("Reshape", ["mixed", "patch"], ["y"])]
    patches = _graph(tmp_path / "dense.onnx", nodes, [dense, *shapes], [_tensor("x", [1, 1, 28, 28])], [_tensor("y", [1, 1, 28, 28])])
    d = describe_onnx(patches, tmp_path / "dense-mine.onnx", name="dense", noise={"kind": "gaussian"})
    assert (d.fixed_size, d.patch_size, d.params, d.macs_per_pixel) == (True, 28, 784 * 784, 784)
    # a 3x3 blur exported at 28 x 28 without dynamic axes: a filter of any size all the same
    blur = describe_onnx(_foreign(box_blur_model(tmp_path / "blur.onnx"), tmp_path / "b.onnx", {"input": "x", "output": "y"}),
                         tmp_path / "blur-mine.onnx", name="blur", noise={"kind": "gaussian"})
    assert (blur.fixed_size, blur.receptive_field, blur.macs_per_pixel) == (False, 3, 9)
    echo = describe_onnx(_foreign(level_echo_model(tmp_path / "echo.onnx"), tmp_path / "e.onnx", {"sigma": "noise_level"}),
                         tmp_path / "echo-mine.onnx", name="echo", noise={"kind": "gaussian"})
    assert echo.noise_level_input and echo.level_readings == ["full"]
    assert np.allclose(Denoiser(tmp_path / "echo-mine.onnx", "cpu", sigma=51).denoise(np.zeros((40, 40), np.float32)), 0.2)
    # an FFDNet of 0-255 pixels takes its level in 0-255 units too: fed 51, not 0.2 (the echo, mapped back, reads 0.2 again)
    describe_onnx(tmp_path / "e.onnx", tmp_path / "echo-255.onnx", name="echo", noise={"kind": "gaussian"}, input_scale=255)
    assert np.allclose(Denoiser(tmp_path / "echo-255.onnx", "cpu", sigma=51).denoise(np.zeros((40, 40), np.float32)), 0.2)
    # output = input, but a pixel at exactly 0 or 1 becomes the mean of its 5x5 window
    window = numpy_helper.from_array(np.full((1, 1, 5, 5), 1 / 25, np.float32), "w")
    nodes = [helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.zeros((), np.float32))),
             helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.ones((), np.float32))),
             helper.make_node("LessOrEqual", ["x", "zero"], ["low"]), helper.make_node("GreaterOrEqual", ["x", "one"], ["high"]),
             helper.make_node("Or", ["low", "high"], ["impulse"]),
             helper.make_node("Conv", ["x", "w"], ["mean"], pads=[2, 2, 2, 2]),
             helper.make_node("Where", ["impulse", "mean", "x"], ["y"])]
    impulses = _graph(tmp_path / "impulses.onnx", nodes, [window], [_tensor("x", ["n", 1, "h", "w"])], [_tensor("y", ["n", 1, "h", "w"])])
    assert describe_onnx(impulses, tmp_path / "impulses-mine.onnx", name="sp", noise={"kind": "salt-and-pepper"}).receptive_field == 5


@pytest.mark.parametrize("case,says", [
    ("colour", "has the shape 1x3xHxW; denoise feeds one channel at a time"),
    ("channels-last", "is channels last (1xHxWx1); denoise feeds (N, 1, H, W): export it channels first"),
    ("global", "one input pixel changes the output 2048 px away"),
    ("halves", "gives no picture of its input's size at any side tried"),
    ("oblong", "takes 32x28 pictures only; denoise cuts pictures into square patches"),
    ("no-model", "not an ONNX model but a PyTorch file: export the network with torch.onnx.export first."),
])
def test_what_denoise_cannot_run_is_one_sentence(tmp_path, case, says):
    path = tmp_path / ("checkpoint.pth" if case == "no-model" else f"{case}.onnx")
    if case == "colour":
        _graph(path, [helper.make_node("Identity", ["x"], ["y"])], [], [_tensor("x", [1, 3, "H", "W"])], [_tensor("y", [1, 3, "H", "W"])])
    elif case == "channels-last":
        _graph(path, [helper.make_node("Identity", ["x"], ["y"])], [], [_tensor("x", [1, "H", "W", 1])], [_tensor("y", [1, "H", "W", 1])])
    elif case == "global":  # the picture plus its own mean: every pixel reaches every other
        nodes = [helper.make_node("GlobalAveragePool", ["x"], ["mean"]), helper.make_node("Add", ["x", "mean"], ["y"])]
        _graph(path, nodes, [], [_tensor("x", ["n", 1, "h", "w"])], [_tensor("y", ["n", 1, "h", "w"])])
    elif case == "halves":
        _graph(path, [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], [],
               [_tensor("x", ["n", 1, "h", "w"])], [_tensor("y", ["n", 1, "oh", "ow"])])
    elif case == "oblong":  # dense: one size only
        weights = [numpy_helper.from_array(np.eye(896, dtype=np.float32), "w"), numpy_helper.from_array(np.array([-1, 896], np.int64), "flat"),
                   numpy_helper.from_array(np.array([-1, 1, 28, 32], np.int64), "patch")]
        nodes = [helper.make_node("Reshape", ["x", "flat"], ["rows"]), helper.make_node("MatMul", ["rows", "w"], ["mixed"]),
                 helper.make_node("Reshape", ["mixed", "patch"], ["y"])]
        _graph(path, nodes, weights, [_tensor("x", [1, 1, 28, 32])], [_tensor("y", [1, 1, 28, 32])])
    else:
        path.write_bytes(b"PK\x03\x04 a PyTorch checkpoint, say")
    result = run_train_cli("describe", str(path), "-o", str(tmp_path / "out.onnx"), "--noise", "gaussian")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr and not (tmp_path / "out.onnx").exists()


def test_the_command_line_describes_and_denoise_runs_the_result(tmp_path):
    """The whole way a user goes: describe, list, denoise a picture with it."""
    from PIL import Image

    foreign = _foreign(conv_stack_model(tmp_path / "twin.onnx"), tmp_path / "theirs.onnx", {"input": "image", "output": "clean"})
    described = run_train_cli("describe", str(foreign), "-o", str(tmp_path / "mine.onnx"), "--noise", "gaussian",
                              "--noise-param", "std=0-0.2", "--predicts", "clean", "--summary", "Their DnCNN, for my scans")
    assert described.returncode == 0, described.stderr
    assert "mine, any size (sides a multiple of 1), receptive field 7 px, tiles of 512 px, 225 parameters, 216 multiply-adds" in described.stdout
    listed = run_cli("models", str(tmp_path / "mine.onnx"))
    assert "Their DnCNN, for my scans" in listed.stdout and "Gaussian noise, std 0-51 grey levels" in listed.stdout
    assert "described from theirs.onnx" in listed.stdout
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 80), dtype=np.uint8)).save(tmp_path / "scan.png")
    ran = run_cli(str(tmp_path / "scan.png"), "-m", str(tmp_path / "mine.onnx"))
    assert ran.returncode == 0 and (tmp_path / "scan_denoised.png").exists(), ran.stderr
    bad = run_train_cli("describe", str(foreign), "-o", str(tmp_path / "again.onnx"), "--noise", "gaussian", "--noise-param", "std")
    assert bad.returncode == 1 and "--noise-param takes KEY=VALUE or KEY=LOW-HIGH" in bad.stderr
