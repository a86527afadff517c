"""What a model is, written into its ONNX file so that the CLI needs no special case per model.

The training side fills a `ModelDescription` and stores it as JSON under one metadata key of the
ONNX file; the inference side reads it back and refuses a model whose description is missing or
invalid (we own the training, so nothing is ever guessed).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from denoise_cli.errors import DenoiseError

METADATA_KEY = "denoise_cli.description"
FORMAT_VERSION = 1
PREDICTS = ("clean", "noise")
LEVEL_READINGS = ("full", "half")  # what estimate.py can read: the image as it is, or binned 2x2
NOISE_NAMES = {"gaussian": "Gaussian noise", "camera": "camera noise", "salt-and-pepper": "salt-and-pepper noise",
               "rounded-uniform-salt-and-pepper": "salt-and-pepper noise (rounded uniform)",
               "compressed-salt-and-pepper": "salt-and-pepper noise saved as JPEG"}
TRAINING_ONLY_NOISE_KEYS = ("png8_fraction", "clean_probability")  # how training mixes noise, not what it is


def _valid_guard(guard: list[float], readings: list[str]) -> bool:
    if len(guard) not in (5, 6, 7) or sorted(readings) != sorted(LEVEL_READINGS):
        return False
    start, cap, low, high, least = guard[:5]
    return (start >= 0 and cap > 0 and 0 <= low < high and 0 < least <= 1 and (len(guard) == 5 or guard[5] > 0)
            and (len(guard) < 7 or 0 <= guard[6] <= start))


@dataclass(frozen=True)
class ModelDescription:
    """Everything the tiler and the CLI need to run a model and to tell a user what it does."""

    name: str
    """Short name, also the name under which a shipped model is registered."""
    summary: str
    """One line for `denoise models`."""
    noise: dict[str, Any]
    """The noise it was trained on: {"kind": "gaussian" | "salt-and-pepper" | ..., levels ...}."""
    patch_size: int
    """Side of the square tile fed to the network (the exact size when `fixed_size`)."""
    fixed_size: bool
    """True when the network only accepts patch_size x patch_size inputs (dense layers)."""
    params: int
    """Number of trained parameters."""
    macs_per_pixel: int
    """Multiply-adds per output pixel (per patch pixel for fixed-size models)."""
    tile_size: int = 0
    """Fully convolutional models: default inference tile side (0: patch_size)."""
    multiple_of: int = 1
    """Fully convolutional models: height and width must be multiples of this."""
    receptive_field: int = 0
    """Fully convolutional models: side of the input window one output pixel depends on."""
    input_scale: float = 1.0
    """Network input = pixel value in [0, 1] * input_scale + input_offset."""
    input_offset: float = 0.0
    predicts: str = "clean"
    """"clean": the output is the clean image; "noise": the output is the noise to subtract."""
    noise_level_input: bool = False
    """The network takes a second input `sigma` (N x K x 1 x 1): the noise std on the scale of its
    own input (the 0-1 scale times `input_scale`: 0-255 values for a model of 0-255 pixels)."""
    level_readings: list[str] = field(default_factory=lambda: ["full"])
    """With a noise-level input: the K estimator readings it was trained on, in channel order
    ("full", "half": estimate.py). A user's sigma feeds each one as white noise of that std reads."""
    camera_strength: float = 0.0
    """With a noise-level input: the strength used, when the user sets neither strength nor
    sigma, on a camera's own unresized photo (its EXIF names the camera and records the pixel
    size; exif.py). Such photos are smooth at the pixel scale, where the estimator reads their
    noise low. 0: always 1."""
    camera_ramp: list[float] = field(default_factory=list)
    """With a camera strength: [start, end], the strongest reading (0-1 scale) from which it
    phases in and at which it applies in full; below the start such a photo gets strength 1
    (api.Denoiser.camera_strength_at says why). Empty: in full whatever the reading."""
    texture_guard: list[float] = field(default_factory=list)
    """With "full" and "half" readings: [start, cap, low, high, least], [..., least, even] or
    [..., even, ramp]. A picture whose readings (as read, before any floor) have half / full
    between low and high and full above start (0-1 scale), and whose uniformity (estimate.py) is
    below `even`, gets, when the user sets neither strength nor sigma, the strength cap / full (at
    least `least`): such readings are dense texture's more often than noise's, and the model fed
    them in full smooths the texture away (api.texture_strength says more). With a ramp, full
    readings from start - ramp to start get part of it. Empty: no guard."""
    level_floor: list[float] = field(default_factory=list)
    """With estimated levels: per reading, what a typical clean training patch reads (0-1 scale).
    The model learnt its levels from patches whose readings include their texture; a photo that
    is smooth at the pixel scale reads its noise alone, which such a model takes for less noise
    than there is. Each estimate is raised to at least its floor. Empty: used as read."""
    solid_extremes: int = 0
    """Models that re-predict every pixel at exactly black or white (impulse removers): the side
    of a square of one such value from which those pixels are picture, not impulses, and are kept;
    above 0 it also turns on extremes.py's rules for bilevel and rendered-text pages. 0: every
    such pixel is re-predicted."""
    recipe: dict[str, Any] = field(default_factory=dict)
    """How it was trained (the recipe's values), for reproduction."""
    scores: dict[str, Any] = field(default_factory=dict)
    """Measured scores, e.g. {"bsd68/gauss25/float": {"psnr": 29.1, "ssim": 0.82}}."""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("an empty name")
        if self.patch_size < 1:
            problems.append(f"patch_size {self.patch_size}")
        if self.multiple_of < 1:
            problems.append(f"multiple_of {self.multiple_of}")
        if self.predicts not in PREDICTS:
            problems.append(f"predicts {self.predicts!r} (expected one of {PREDICTS})")
        if self.solid_extremes < 0:
            problems.append(f"solid_extremes {self.solid_extremes}")
        if self.input_scale == 0:
            problems.append("input_scale 0")
        if not self.level_readings or any(r not in LEVEL_READINGS for r in self.level_readings):
            problems.append(f"level_readings {self.level_readings!r} (each one of {LEVEL_READINGS})")
        if self.camera_strength < 0 or (self.camera_strength and not self.noise_level_input):
            problems.append(f"camera_strength {self.camera_strength:g} (0, or above 0 with a noise-level input)")
        if self.camera_ramp and (len(self.camera_ramp) != 2 or not 0 <= self.camera_ramp[0] < self.camera_ramp[1] or not self.camera_strength):
            problems.append(f"camera_ramp {self.camera_ramp!r} (a start of 0 or more and a larger end, with a camera strength)")
        if self.texture_guard and not _valid_guard(self.texture_guard, self.level_readings):
            problems.append(f"texture_guard {self.texture_guard!r} (start 0 or more, cap above 0, low below high, least in (0, 1], an optional sixth value, even, above 0, then an optional ramp from 0 to start, with the full and half readings)")
        if self.level_floor and (len(self.level_floor) != len(self.level_readings) or min(self.level_floor) < 0):
            problems.append(f"level_floor {self.level_floor!r} (one level of 0 or more per reading)")
        if not isinstance(self.noise, dict) or "kind" not in self.noise:
            problems.append("no noise kind")
        if self.format_version > FORMAT_VERSION:
            problems.append(f"format version {self.format_version} (this denoise-cli reads {FORMAT_VERSION})")
        if problems:
            raise DenoiseError(f"model description of {self.name!r} is invalid: " + ", ".join(problems) + ".")

    @property
    def noise_label(self) -> str:
        """The noise in a user's terms, e.g. 'Gaussian noise, std 0-55 grey levels': Gaussian levels on
        the 0-255 scale of --sigma, densities in percent; knobs that only shape training (which
        share of patches is saved as 8-bit, or left clean) are left to the recipe."""
        kind = str(self.noise["kind"])
        parts = []
        for key, value in self.noise.items():
            if key == "kind" or key in TRAINING_ONLY_NOISE_KEYS or isinstance(value, bool):
                continue
            if kind == "gaussian" and key in ("std", "mean"):
                parts.append(f"{key} {_fmt(value, scale=255, digits=4)}" + (" grey levels" if key == "std" else ""))
            elif key == "density":
                parts.append(f"{_fmt(value, scale=100)}% of pixels")
            else:
                parts.append(f"{key} {_fmt(value)}")
        return ", ".join([NOISE_NAMES.get(kind, kind), *parts])

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def to_metadata(self) -> dict[str, str]:
        """The ONNX `metadata_props` entries that carry this description."""
        return {METADATA_KEY: self.to_json()}

    def with_scores(self, scores: dict[str, Any]) -> ModelDescription:
        return dataclasses.replace(self, scores={**self.scores, **scores})

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelDescription:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DenoiseError(f"{source}: its description is not valid JSON ({exc.msg}).") from None
        if not isinstance(data, dict):
            raise DenoiseError(f"{source}: its description is not a JSON object.")
        known = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and _required(f)]
        if missing:
            raise DenoiseError(f"{source}: its description lacks {', '.join(missing)}.")
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise DenoiseError(f"{source}: its description is invalid ({exc}).") from None

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "model") -> ModelDescription:
        if METADATA_KEY not in metadata:
            raise DenoiseError(
                f"{source} has no denoise-cli description in its ONNX metadata "
                f"(key {METADATA_KEY!r}); export it with denoise-train, or describe it with denoise-train describe if it was trained elsewhere."
            )
        return cls.from_json(metadata[METADATA_KEY], source)


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _fmt(value: Any, scale: float = 1.0, digits: int = 3) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{_fmt(value[0], scale, digits)}-{_fmt(value[1], scale, digits)}"
    if isinstance(value, int) and not isinstance(value, bool) and scale == 1:
        return str(value)  # a count or a peak as given: 1000, not 1e+03
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value * scale:.{digits}g}"
    return str(value)
