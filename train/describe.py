"""Give a model trained elsewhere (a DnCNN or an FFDNet exported to ONNX, a network of one's own)
the description `denoise` runs by, so that it is tiled, batched and written like a shipped one.

What the graph itself shows is measured, not asked: whether it takes any size or one patch, the
multiple its sides must be, its receptive field (the pixels one change in the input reaches in the
output), its parameters and multiply-adds. What only its author knows is given: its name, the
noise it removes, the value range it takes, whether it gives the clean picture or the noise. The
inputs and output are renamed to the names the runtime feeds (input, sigma, output) and the batch
axis is freed; the result is run by a real Denoiser before it is written.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import onnx
import onnx.external_data_helper

from denoise_cli.api import Denoiser
from denoise_cli.atomic import check_folder_writable, write_atomically
from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError
from denoise_cli.registry import FRAMEWORK_FILES
from denoise_cli.session import open_session
from denoise_cli.tiling import tile_margin

DEFAULT_TILE = 512
LARGEST_SIDE = 2048  # a receptive field that reaches the border of this is no local one
MULTIPLES = (1, 2, 4, 8, 16, 32, 64)


def describe_onnx(source: Path, target: Path, *, name: str, noise: dict, predicts: str = "clean", input_scale: float = 1.0,
                  input_offset: float = 0.0, tile: int = DEFAULT_TILE, summary: str | None = None, overwrite: bool = False) -> ModelDescription:
    """Measure `source`, describe it with the author's facts, check that `denoise` runs it, write
    it to `target` with the description in its metadata; returns the description."""
    if not overwrite and target.exists():
        raise DenoiseError(f"{target}: exists already; pass --overwrite to replace it.")
    check_folder_writable(target, overwrite)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise DenoiseError(f"{source}: cannot read it ({exc.strerror or exc}).") from None
    try:
        proto = onnx.load_from_string(data)
    except Exception:  # protobuf's DecodeError, or whatever else a file that is no model gives
        framework, way = FRAMEWORK_FILES.get(source.suffix.lower(), (None, None))
        raise DenoiseError(f"{source}: not an ONNX model" + (f" but {framework} file: {way} first." if framework else ".")) from None
    try:  # weights saved beside it (external data, as exporters do for large models) are taken in
        onnx.external_data_helper.load_external_data_for_model(proto, str(source.parent))
    except Exception as exc:  # noqa: BLE001 - onnx raises its own types, or OSError, for a missing or short file
        raise DenoiseError(f"{source}: its weights kept in a file beside it cannot be read ({str(exc).splitlines()[0][:200]}).") from None
    image, level = _io_names(proto.graph, source.name)
    _rename(proto.graph, {image: "input", **({level: "sigma"} if level else {}), proto.graph.output[0].name: "output"})
    sides = _free_batch(proto.graph)
    fixed = sides[0] if sides else 0
    del proto.metadata_props[:]  # a description of its own, if any, is replaced
    probing = (source.name, input_scale, input_offset, level is not None)
    multiple, receptive = 1, 0
    if not fixed:
        multiple, receptive = _measure(proto, *probing)
    else:  # an exporter without dynamic axes fixes a fully convolutional network to its example's size
        freed = _with_free_sides(proto)
        try:
            multiple, receptive = _measure(freed, *probing)
            proto, fixed = freed, 0
        except DenoiseError:  # no picture of its input's size at other sides, or no local filter there: its own patch size it is
            pass
    if fixed and sides[0] != sides[1]:
        raise DenoiseError(f"{source}: takes {sides[1]}x{sides[0]} pictures only; denoise cuts pictures into square patches.")
    side = fixed or max(-(-tile // multiple) * multiple, 2 * tile_margin(receptive, multiple) + 8 * multiple)
    description = ModelDescription(
        name=name, summary=summary or f"Described from {source.name} (denoise-train describe)", noise=noise,
        patch_size=side, fixed_size=bool(fixed), params=_parameters(proto.graph),
        macs_per_pixel=_macs_per_pixel(proto, fixed or multiple * math.ceil(96 / multiple), probing),
        tile_size=0 if fixed else side, multiple_of=multiple,
        receptive_field=receptive, input_scale=input_scale, input_offset=input_offset, predicts=predicts,
        noise_level_input=level is not None,
        recipe={"described_from": source.name, "sha256": hashlib.sha256(data).hexdigest()},
    )
    for key, value in description.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    serialized = proto.SerializeToString()
    _check_runs(serialized, target.name, description)
    write_atomically(target, lambda f: f.write(serialized), overwrite=overwrite)
    return description


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    """A graph input's or output's dimensions: sizes, or names where they vary (or are unset)."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim]


def _io_names(graph: onnx.GraphProto, source: str) -> tuple[str, str | None]:
    """The picture's input, (N, 1, H, W), and the noise level's, (N, 1, 1, 1), if there is one."""
    initialized = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialized]  # older exports list the weights as inputs too
    if not inputs or len(inputs) > 2 or len(graph.output) != 1:
        raise DenoiseError(f"{source}: takes {len(inputs)} inputs and gives {len(graph.output)} outputs; denoise runs a model that takes "
                           "a picture (and, for a noise-level model, the level) and gives one picture.")
    image, level = None, None
    for value in inputs:
        dims = _dims(value)
        if len(dims) == 4 and dims[2:] == [1, 1] and dims[1] == 1:
            level = value.name
        elif len(dims) == 4 and dims[1] == 1:
            image = value.name
        elif len(dims) == 4 and dims[3] in (1, 3) and dims[1] not in (1, 3):
            raise DenoiseError(f"{source}: its input {value.name} is channels last ({'x'.join(map(str, dims))}); denoise feeds "
                               "(N, 1, H, W): export it channels first.")
        else:
            raise DenoiseError(f"{source}: its input {value.name} has the shape {'x'.join(map(str, dims)) or 'unknown'}; denoise feeds one "
                               "channel at a time, (N, 1, H, W) (colour pictures channel by channel), and a noise level as (N, 1, 1, 1).")
    if image is None:
        raise DenoiseError(f"{source}: none of its inputs takes a picture of shape (N, 1, H, W).")
    return image, level


def _rename(graph: onnx.GraphProto, names: dict[str, str]) -> None:
    """Rename tensors everywhere they are named; a tensor that already bears a wanted name is
    renamed out of the way first."""
    taken = {n for node in graph.node for n in (*node.input, *node.output)} | {i.name for i in graph.initializer}
    for old, new in list(names.items()):
        if new in taken and new not in names and old != new:
            names = {new: f"{new}_renamed", **names}
    def new_name(name: str) -> str:
        return names.get(name, name)
    for node in graph.node:
        node.input[:] = [new_name(n) for n in node.input]
        node.output[:] = [new_name(n) for n in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        value.name = new_name(value.name)


def _free_batch(graph: onnx.GraphProto) -> tuple[int, int] | None:
    """Name the batch axis of the picture, level and output (the tiler sends many tiles at once);
    returns the picture's height and width when the graph takes one size only."""
    for value in (*graph.input, *graph.output):
        if value.name in ("input", "sigma", "output"):
            shape = value.type.tensor_type.shape
            if shape.dim:
                shape.dim[0].Clear()
                shape.dim[0].dim_param = "batch"
    height, width = _dims(next(i for i in graph.input if i.name == "input"))[2:]
    return (height, width) if isinstance(height, int) and isinstance(width, int) else None


def _measure(proto: onnx.ModelProto, source: str, scale: float, offset: float, level: bool) -> tuple[int, int]:
    """A fully convolutional graph's multiple of sides and receptive field."""
    probe = _Probe(proto.SerializeToString(), source, scale, offset, level)
    multiple = probe.multiple_of()
    return multiple, probe.receptive_field(multiple)


def _with_free_sides(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with its picture's sides left free, for a network an exporter fixed to its
    example's size, which would otherwise be cut into patches that see only themselves."""
    freed = onnx.ModelProto()
    freed.CopyFrom(proto)
    del freed.graph.value_info[:]  # the example's shapes, recorded at export
    for value in (*freed.graph.input, *freed.graph.output):
        if value.name in ("input", "output"):
            for axis, label in ((2, "height"), (3, "width")):
                dim = value.type.tensor_type.shape.dim[axis]
                dim.Clear()
                dim.dim_param = label
    return freed


class _Probe:
    """Runs the renamed graph on ONNX Runtime to find what it takes and what reaches what."""

    def __init__(self, model: bytes, source: str, scale: float, offset: float, level: bool):
        self.session = open_session(model, device="cpu", name=source, quiet=True)  # one ONNX Runtime cannot load: its sentence
        self.source, self.scale, self.offset, self.level = source, scale, offset, level
        self.refusal = ""  # ONNX Runtime's words on the last picture it refused

    def feeds(self, unit: np.ndarray) -> dict[str, np.ndarray]:
        """A (1, 1, H, W) picture on the 0-1 scale as the graph takes it, with a noise level if it takes one."""
        feeds = {"input": (unit * self.scale + self.offset).astype(np.float32)}
        if self.level:
            feeds["sigma"] = np.full((1, 1, 1, 1), 0.1 * abs(self.scale), np.float32)  # std 0.1 in its own units, as model.infer feeds it
        return feeds

    def run(self, unit: np.ndarray) -> np.ndarray | None:
        """The output for a (1, 1, H, W) picture on the 0-1 scale, or None if the graph refuses it."""
        try:
            output = self.session.run(["output"], self.feeds(unit))[0]
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own exception types: this size is not taken
            self.refusal = str(exc).splitlines()[0][:200]
            return None
        if output.shape != unit.shape:
            self.refusal = f"a {'x'.join(map(str, unit.shape))} input gave {'x'.join(map(str, output.shape))}"
            return None
        return output

    def multiple_of(self) -> int:
        """The smallest multiple the sides must be of: tried at sides that are odd multiples of
        each candidate, so that 2 cannot pass for 4."""
        rng = np.random.default_rng(0)
        for multiple in MULTIPLES:
            side = multiple * (2 * math.ceil(48 / multiple) + 1)
            if self.run(rng.random((1, 1, side, side))) is not None:
                return multiple
        raise DenoiseError(f"{self.source}: gives no picture of its input's size at any side tried (last: {self.refusal}); denoise "
                           "needs an output the size of the input.")

    def receptive_field(self, multiple: int) -> int:
        """The side of the output square that one changed input pixel reaches (the receptive
        field, for a network that treats every position alike), tried at several pixels and at
        black and white (an impulse remover passes other values through), on random pictures
        with impulses; the picture grows until the square stays off its border."""
        side = multiple * math.ceil(160 / multiple)
        while side <= LARGEST_SIDE:
            reach = self._reach(side, multiple)
            if reach < self._border(side, multiple):
                return reach
            side *= 2
        raise DenoiseError(f"{self.source}: one input pixel changes the output {LARGEST_SIDE} px away; denoise cuts pictures into "
                           "tiles and needs a network whose output depends on a bounded window (no global pooling or attention).")

    @staticmethod
    def _border(side: int, multiple: int) -> int:
        """A reach from which the square may have been cut by the picture's border."""
        return side - 2 * multiple

    def _reach(self, side: int, multiple: int) -> int:
        """The widest change one pixel makes, over pictures with no, some and mostly impulses
        (an impulse remover's output moves only at its impulses, which must reach the window's
        edges), several pixels and three values each; given up on as soon as it reaches the
        border (a network of global reach then costs a run or two at each size, not 36)."""
        rng = np.random.default_rng(1)
        reach = 0
        for density in (0.0, 0.2, 0.7):
            picture = rng.random((1, 1, side, side))
            specks = rng.random(picture.shape)
            picture[specks < density / 2], picture[specks > 1 - density / 2] = 0.0, 1.0
            before = self.run(picture)
            if before is None:
                raise DenoiseError(f"{self.source}: refuses a {side}x{side} picture, which its sides' multiple {multiple} allows ({self.refusal}).")
            for dy, dx in ((0, 0), (1, 1), (0, multiple // 2), (multiple - 1, 0)):
                y, x = side // 2 + dy, side // 2 + dx
                for value in (0.0, 1.0, 0.5):
                    changed = picture.copy()
                    changed[0, 0, y, x] = value if picture[0, 0, y, x] != value else 0.25
                    rows, cols = np.nonzero(np.abs(self.run(changed) - before)[0, 0] > 0)
                    if len(rows):
                        reach = max(reach, rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
                    if reach >= self._border(side, multiple):
                        return int(reach)
        return int(reach)


def _parameters(graph: onnx.GraphProto) -> int:
    """Trained values: the elements of its floating-point weights, as initializers or as Constant
    nodes of more than one value (some exporters store weights so)."""
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
    constants = [a.t for node in graph.node if node.op_type == "Constant" for a in node.attribute if a.name == "value"]
    return (sum(math.prod(i.dims) for i in graph.initializer if i.data_type in floats)
            + sum(math.prod(t.dims) for t in constants if t.data_type in floats and math.prod(t.dims) > 1))


def _macs_per_pixel(proto: onnx.ModelProto, side: int, probing: tuple[str, float, float, bool]) -> int:
    """Multiply-adds of its convolutions and matrix products per pixel of a side x side picture
    (a small one: each of their tensors is kept), from the shapes of those tensors on one real
    run (shape inference stops at the shapes a graph computes, such as a noise level expanded to
    the picture's size)."""
    counted = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm")]
    weights = {i.name: list(i.dims) for i in proto.graph.initializer}
    watched = dict.fromkeys(n for node in counted for n in (node.input[0], node.input[1], node.output[0]) if n not in weights)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    outputs = {o.name for o in exposed.graph.output}
    exposed.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in watched if n not in outputs)
    probe = _Probe(exposed.SerializeToString(), *probing)
    names = [o.name for o in probe.session.get_outputs()]
    shapes = {**weights, **{name: list(value.shape) for name, value in zip(names, probe.session.run(names, probe.feeds(np.zeros((1, 1, side, side)))))}}
    total = 0
    for node in counted:
        first, weight, out = (shapes[n] for n in (node.input[0], node.input[1], node.output[0]))
        if node.op_type == "Conv":
            total += math.prod(out) * math.prod(weight[1:])  # each output: (in channels / groups) x kernel
        elif node.op_type == "ConvTranspose":
            total += math.prod(first) * math.prod(weight[1:])  # each input scattered over (out channels / groups) x kernel
        else:
            transposed = any(a.name == "transA" and a.i for a in node.attribute)
            total += math.prod(out) * (first[-2] if transposed else first[-1])
    return round(total / (side * side))


def _check_runs(model: bytes, name: str, d: ModelDescription) -> None:
    """Run the described model as `denoise` would, in batches of several tiles."""
    with TemporaryDirectory(prefix="denoise-describe-") as folder:
        path = Path(folder) / name
        path.write_bytes(model)
        tile = None if d.fixed_size else 2 * tile_margin(d.receptive_field, d.multiple_of) + 4 * d.multiple_of
        picture = np.random.default_rng(2).random((3 * (tile or d.patch_size), 2 * (tile or d.patch_size)), dtype=np.float32)
        try:
            Denoiser(path, "cpu", tile=tile).denoise(picture)
        except DenoiseError as exc:
            raise DenoiseError(f"{exc} It failed on a batch of tiles: was its batch size fixed at export? (dynamic_axes in torch.onnx.export)") from None
