"""denoise-cli: remove noise from images with small neural networks on ONNX Runtime.

`import denoise_cli` is cheap: numpy and onnxruntime load only when a name below is used.
"""

from typing import TYPE_CHECKING

from denoise_cli._version import __version__

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on first use
    from denoise_cli.api import Denoiser
    from denoise_cli.description import ModelDescription
    from denoise_cli.errors import DenoiseError, OutputExistsError

__all__ = ["Denoiser", "DenoiseError", "ModelDescription", "OutputExistsError", "__version__"]


def __getattr__(name: str):
    if name == "Denoiser":
        from denoise_cli.api import Denoiser

        return Denoiser
    if name in ("DenoiseError", "OutputExistsError"):
        from denoise_cli import errors

        return getattr(errors, name)
    if name == "ModelDescription":
        from denoise_cli.description import ModelDescription

        return ModelDescription
    raise AttributeError(f"module 'denoise_cli' has no attribute {name!r}")
