"""The networks of the recipes. Every network takes and returns (N, 1, H, W) images, so the
exported ONNX models all share one interface; constructors take keyword-only hyperparameters and
`build_network` records them next to the weights.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class MnistConvStrided(nn.Module):
    """R0: strided conv encoder -> dense latent -> transposed-conv decoder (Keras book example)."""

    fixed_size = True

    def __init__(self, *, filters: tuple[int, ...] = (32, 64), kernel: int = 3, latent: int = 16, size: int = 28):
        super().__init__()
        layers, channels = [], 1
        for f in filters:  # "same" padding, stride 2: 28 -> 14 -> 7
            layers += [nn.Conv2d(channels, f, kernel, stride=2, padding=kernel // 2), nn.ReLU()]
            channels = f
        self.encoder = nn.Sequential(*layers)
        self.bottom = size // 2 ** len(filters)
        self.channels = channels
        flat = channels * self.bottom**2
        self.to_latent = nn.Linear(flat, latent)  # linear, as in the write-up
        self.from_latent = nn.Linear(latent, flat)
        layers = []
        for f in reversed(filters):  # TF "same" transposed conv, stride 2: 7 -> 14 -> 28
            layers += [nn.ConvTranspose2d(channels, f, kernel, stride=2, padding=kernel // 2, output_padding=1), nn.ReLU()]
            channels = f
        layers += [nn.ConvTranspose2d(channels, 1, kernel, padding=kernel // 2), nn.Sigmoid()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28)
        z = self.to_latent(self.encoder(x).flatten(1))  # (N, latent)
        h = self.from_latent(z).view(-1, self.channels, self.bottom, self.bottom)  # (N, 64, 7, 7)
        return self.decoder(h)


class MnistDense(nn.Module):
    """R1: fully connected 784-256-128-64-128-256-784, ReLU, sigmoid output."""

    fixed_size = True

    def __init__(self, *, sizes: tuple[int, ...] = (256, 128, 64), side: int = 28):
        super().__init__()
        widths = [side * side, *sizes, *reversed(sizes[:-1]), side * side]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Linear(a, b), nn.Sigmoid() if i == len(widths) - 2 else nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.side = side

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28)
        return self.net(x.flatten(1)).view(-1, 1, self.side, self.side)


class MnistConvPool(nn.Module):
    """R2: conv + max-pool encoder to 7x7x32, conv + nearest up-sampling decoder, sigmoid."""

    fixed_size = False
    multiple_of = 4

    def __init__(self, *, filters: int = 32):
        super().__init__()
        f = filters
        self.net = nn.Sequential(
            nn.Conv2d(1, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, H/4, W/4)
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(f, 1, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MnistConvBN(nn.Module):
    """R3: Conv -> ReLU -> BatchNorm blocks, 16,385 parameters."""

    fixed_size = False
    multiple_of = 4

    def __init__(self, *, momentum: float = 0.01):
        super().__init__()

        def block(conv: nn.Module, channels: int) -> list[nn.Module]:
            return [conv, nn.ReLU(), nn.BatchNorm2d(channels, momentum=momentum)]

        self.net = nn.Sequential(
            *block(nn.Conv2d(1, 8, 3, stride=2, padding=1), 8),  # (N, 8, H/2, W/2)
            *block(nn.Conv2d(8, 16, 3, stride=2, padding=1), 16),  # (N, 16, H/4, W/4)
            *block(nn.Conv2d(16, 32, 3, stride=1, padding=1), 32),
            *block(nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), 16),  # (N, 16, H/2, W/2)
            *block(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), 8),  # (N, 8, H, W)
            nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CifarSP(nn.Module):
    """R4: conv encoder -> 1000-d latent -> conv decoder, no output activation ([-1, 1] space)."""

    fixed_size = True

    def __init__(self, *, latent: int = 1000):
        super().__init__()

        def conv(a: int, b: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, stride=stride, padding=1), nn.ReLU()]

        def up(a: int, b: int, stride: int = 1) -> list[nn.Module]:
            return [nn.ConvTranspose2d(a, b, 3, stride=stride, padding=1, output_padding=stride - 1), nn.ReLU()]

        self.encoder = nn.Sequential(
            *conv(1, 16), *conv(16, 16), *conv(16, 32, 2), *conv(32, 32), *conv(32, 64, 2), *conv(64, 64),
            nn.Flatten(), nn.Linear(64 * 8 * 8, latent), nn.ReLU(),
        )
        self.expand = nn.Sequential(nn.Linear(latent, 64 * 8 * 8), nn.ReLU())
        self.decoder = nn.Sequential(
            *up(64, 64), *up(64, 32, 2), *up(32, 32), *up(32, 16, 2), *up(16, 16),
            nn.ConvTranspose2d(16, 1, 3, padding=1),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 32, 32)
        h = self.expand(self.encoder(x)).view(-1, 64, 8, 8)
        return self.decoder(h)


class ResidualUnshuffleCNN(nn.Module):
    """Fully convolutional blind denoiser: pixel-unshuffle by 2, a plain conv stack at half
    resolution, pixel-shuffle back, predicting the noise (output = noise, clean = input - noise).

    Working at half resolution quarters the multiply-adds per pixel and doubles the receptive
    field for the same depth (the FFDNet idea). With `noise_level_input`, noise-level maps (one
    per reading, `level_channels`) are stacked with the unshuffled image, so the user can turn
    the strength up or down.
    """

    fixed_size = False
    multiple_of = 2

    def __init__(self, *, channels: int = 48, depth: int = 10, noise_level_input: bool = False, level_channels: int = 1, batch_norm: bool = False):
        super().__init__()
        self.level_channels = level_channels if noise_level_input else 0
        layers: list[nn.Module] = [nn.Conv2d(4 + self.level_channels, channels, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            # batch norm (DnCNN's, FFDNet's) between the inner convolutions speeds up training;
            # the export folds it into them (fold_batch_norm), so inference pays nothing
            conv = nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm)
            layers += [conv, nn.BatchNorm2d(channels), nn.ReLU()] if batch_norm else [conv, nn.ReLU()]
        layers += [nn.Conv2d(channels, 4, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.depth = depth

    @property
    def receptive_field(self) -> int:
        return 2 * (2 * self.depth + 1)  # depth 3x3 convs at half resolution

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        h = nn.functional.pixel_unshuffle(x, 2)  # (N, 4, H/2, W/2)
        if self.level_channels:
            level = sigma.expand(-1, self.level_channels, h.shape[2], h.shape[3])  # (N, K, H/2, W/2)
            h = torch.cat([h, level], dim=1)
        return nn.functional.pixel_shuffle(self.body(h), 2)  # the noise, (N, 1, H, W)


class ImpulseUnshuffleCNN(nn.Module):
    """Impulse (salt-and-pepper) remover: only pixels at exactly 0 or 1 can be impulses, so only
    they are re-predicted, from the others and the impulse mask; every other pixel passes through
    untouched (the idea of switching median filters, with a learned fill-in)."""

    fixed_size = False
    multiple_of = 2
    # inference keeps exact black and white in 4 x 4 squares of one value as picture (extremes.py):
    # on the protocol's noise at most 0.01 dB lower (BSD68 sp10); a scan's black border survives
    solid_extremes = 4

    def __init__(self, *, channels: int = 48, depth: int = 10):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(8, channels, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(channels, 4, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, H, W) in [0, 1]
        mask = ((x <= 0) | (x >= 1)).to(x.dtype)  # candidate impulses
        kept = x * (1 - mask)
        h = nn.functional.pixel_unshuffle(torch.cat([kept, mask], dim=1), 2)  # (N, 8, H/2, W/2)
        fill = nn.functional.pixel_shuffle(self.body(h), 2)  # (N, 1, H, W)
        return kept + mask * fill


NETWORKS: dict[str, type[nn.Module]] = {
    "mnist-conv-strided": MnistConvStrided,
    "mnist-dense": MnistDense,
    "mnist-conv-pool": MnistConvPool,
    "mnist-conv-bn": MnistConvBN,
    "cifar-sp": CifarSP,
    "residual-unshuffle": ResidualUnshuffleCNN,
    "impulse-unshuffle": ImpulseUnshuffleCNN,
}


INITS = ("pytorch", "keras", "he")


def build_network(name: str, args: dict[str, Any], init: str = "pytorch") -> nn.Module:
    """The network, initialised as the recipe's framework would: "pytorch" keeps PyTorch's
    defaults (or the network's own, as R4's Xavier); "keras" is Keras' default for Dense, Conv2D
    and Conv2DTranspose (Glorot-uniform weights, zero biases), for the TensorFlow/Keras write-ups;
    "he" is He-normal for ReLU stacks with zero biases: PyTorch's default shrinks the signal about
    sixfold per layer, and a deep plain stack then sits at "predict no noise" for epochs when the
    noise is faint (what happened to `photo`)."""
    net = NETWORKS[name](**args)
    if init == "keras":
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    elif init == "he":
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    elif init != "pytorch":
        raise ValueError(f"unknown init {init!r}; known: {INITS}")
    return net


def level_channels(model: nn.Module) -> int:
    """How many noise-level maps the network takes (0: none)."""
    return int(getattr(model, "level_channels", 0))


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with every BatchNorm2d that directly follows a Conv2d in
    an nn.Sequential folded into that convolution: the same function, one layer fewer each.
    Batch norms elsewhere (R3's come after a ReLU) stay as they are."""
    folded = copy.deepcopy(model).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        for i in range(1, len(seq)):
            conv, norm = seq[i - 1], seq[i]
            if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)):
                continue
            scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(norm.running_mean)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
                fused.bias.copy_((bias - norm.running_mean) * scale + norm.bias.detach())
            seq[i - 1], seq[i] = fused, nn.Identity()
    return folded


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, example: tuple[torch.Tensor, ...]) -> int:
    """Multiply-adds of one forward pass over `example` (convolutions and dense layers)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.ConvTranspose2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            total += inputs[0].numel() * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(*example)
    finally:
        for h in handles:
            h.remove()
    return total
