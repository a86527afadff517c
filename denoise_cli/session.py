"""ONNX Runtime sessions: provider choice, thread settings and session options, in one place.

`auto` uses CUDA when onnxruntime-gpu is installed *and* a CUDA session really starts (the GPU
package lists the CUDA provider even on machines without a GPU or CUDA libraries), else the CPU;
ONNX Runtime's own warnings about missing providers are silenced, since we report the outcome.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import onnxruntime as ort

from denoise_cli.description import ModelDescription
from denoise_cli.errors import DenoiseError

DEVICES = ("auto", "cpu", "cuda")
NO_CUDA_GPU = "--device cuda: no working CUDA GPU was found (the CUDA provider did not start); --device cpu runs here."
ort.set_default_logger_severity(3)  # errors only: no provider-fallback warnings on stderr


def cpu_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def session_options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def _providers(device: str) -> list[str]:
    if device not in DEVICES:
        raise DenoiseError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}.")
    available = ort.get_available_providers()
    cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not cuda:
        raise DenoiseError("--device cuda: this ONNX Runtime has no CUDA support (install onnxruntime-gpu on a machine with an NVIDIA GPU).")
    if device == "cpu" or not cuda:
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def open_session(model: str | os.PathLike | bytes, device: str = "auto", threads: int | None = None, name: str | None = None,
                 quiet: bool = False) -> ort.InferenceSession:
    """An InferenceSession on the requested device; a model that will not load is a DenoiseError.
    `quiet`: its runs log nothing, not even errors (a probe's refused sizes are answers)."""
    providers = _providers(device)
    source = model if isinstance(model, bytes) else str(model)
    name = name or ("model" if isinstance(model, bytes) else Path(model).name)
    if device == "auto" and "CUDAExecutionProvider" in providers and not _cuda_works():
        providers = ["CPUExecutionProvider"]
    if device == "cuda" and not _cuda_works():  # tried silently: ONNX Runtime would log its own red error first
        raise DenoiseError(NO_CUDA_GPU)
    options = session_options(threads)
    if quiet:
        options.log_severity_level = 4
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises its own exception types for bad files
        reason = str(exc).splitlines()[0]
        if "INVALID_PROTOBUF" in reason:  # not an ONNX file at all: an image, a PyTorch checkpoint, a download's error page
            raise DenoiseError(f"{name}: not an ONNX model (export one with denoise-train).") from None
        raise DenoiseError(f"{name}: ONNX Runtime cannot load it ({_plain_reason(reason)[:200]}).") from None
    if device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
        raise DenoiseError(NO_CUDA_GPU)
    return session


def _plain_reason(reason: str) -> str:
    """ONNX Runtime's error without its code, C++ source location and function signature, which
    fill the first 200 characters before the reason ("Unsupported model IR version: 14, ...")."""
    reason = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", reason)
    reason = re.sub(r"/onnxruntime_src/\S+:\d+ (?:[\w:<>~]+\([^()]*\)(?: const)? )?", "", reason)
    return reason.strip() or "no reason given"


@functools.lru_cache(maxsize=1)
def _cuda_works() -> bool:
    """Whether a CUDA session really starts here (tried once per process, silently)."""
    ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(_tiny_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        return session.get_providers()[0] == "CUDAExecutionProvider"
    except Exception:
        return False
    finally:
        ort.set_default_logger_severity(3)


def _tiny_model() -> bytes:
    """An ONNX Identity model, built by hand from protobuf wire format (no onnx package needed)."""

    def field(number: int, payload: bytes) -> bytes:  # length-delimited protobuf field
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    def value_info(name: bytes) -> bytes:  # a float tensor
        return field(1, name) + field(2, field(1, _varint(1 << 3) + _varint(1)))

    node = field(1, b"x") + field(2, b"y") + field(4, b"Identity")
    graph = field(1, node) + field(2, b"g") + field(11, value_info(b"x")) + field(12, value_info(b"y"))
    opset = _varint(2 << 3) + _varint(13)
    return _varint(1 << 3) + _varint(8) + field(7, graph) + field(8, opset)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_metadata(data: bytes) -> dict[str, str] | None:
    """An ONNX file's metadata (ModelProto field 14) read straight from its bytes, skipping the
    graph, so that a model's description is known before its session is built; None when the
    bytes are not a protobuf message."""
    try:
        metadata = {}
        for number, wire, value in _fields(memoryview(data)):
            if number == 14 and wire == 2:  # StringStringEntryProto: key 1, value 2
                entry = {n: bytes(v).decode() for n, w, v in _fields(value) if w == 2}
                metadata[entry.get(1, "")] = entry.get(2, "")
        return metadata
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _fields(buffer: memoryview):
    """(field number, wire type, value) of one protobuf message: bytes for length-delimited
    fields, an int for varints."""
    pos = 0
    while pos < len(buffer):
        key, pos = _read_varint(buffer, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buffer, pos)
        elif wire == 2:
            size, pos = _read_varint(buffer, pos)
            if pos + size > len(buffer):
                raise ValueError("truncated field")
            value, pos = buffer[pos : pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = buffer[pos : pos + size], pos + size
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def _read_varint(buffer: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buffer[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def read_description(session: ort.InferenceSession, source: str) -> ModelDescription:
    return ModelDescription.from_metadata(session.get_modelmeta().custom_metadata_map, source)


def active_device(session: ort.InferenceSession) -> str:
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
