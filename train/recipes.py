"""The training recipes: frozen dataclasses, one per model, with a comment on every value.

R0-R4 follow ../shared/SEEDS.md (the five reference write-ups); command-line options override a
value with `dataclasses.replace`, and the recipe travels with the checkpoint and into the ONNX
description, so a model can always be traced back to what made it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from denoise_cli.errors import DenoiseError


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str  # one line, shown by `denoise-train recipes` and `denoise models`
    data: str  # "mnist" | "cifar10-gray" | "folder:<sub-folder of the data dir>"
    noise: dict[str, Any]  # a spec for denoise_cli.noise.apply_noise
    network: str  # a key of networks.NETWORKS
    network_args: dict[str, Any] = field(default_factory=dict)
    init: str = "pytorch"  # "pytorch" defaults | "keras" (Glorot-uniform, zero bias) for the Keras write-ups | "he" (He-normal)
    loss: str = "mse"  # "mse" | "bce"
    batch_size: int = 128
    epochs: int = 10
    lr: float = 1e-3  # Adam's default, common to all write-ups
    lr_schedule: str = "constant"  # "constant" | "cosine" (down to lr/100 at the last epoch)
    noise_schedule: str = "fixed"  # "fixed": drawn once, as the Keras write-ups do; "fresh": every batch
    validation: str = "test"  # "test": the noisy test set; "split:0.2": a random 20% of train
    input_scale: float = 1.0  # the network sees x * input_scale + input_offset
    input_offset: float = 0.0
    predicts: str = "clean"  # "clean" | "noise" (residual learning)
    level_input: str = "true"  # networks with a noise-level input: "true" drawn std | "estimated" from the noisy image
    level_readings: tuple[str, ...] = ("full",)  # "estimated" levels: the estimator's readings (denoise_cli/estimate.py), one per level channel
    level_floor: bool = False  # "estimated" levels: raised at inference to at least a typical clean training patch's readings (loop.clean_patch_readings)
    camera_strength: float = 0.0  # noise-level models: the automatic strength on a camera's own unresized photo (0: 1, as on any picture)
    camera_ramp: tuple[float, ...] = ()  # with a camera strength: the strongest reading (0-1) from which it phases in, and where in full (description.py)
    texture_guard: tuple[float, ...] = ()  # "full" and "half" readings: (start, cap, low, high, least(, even(, ramp))), the automatic strength on dense texture (description.py)
    patch_size: int = 28  # training image side; for fully convolutional nets also the crop size
    tile_size: int = 0  # fully convolutional nets: default inference tile (0: patch_size)
    steps_per_epoch: int = 0  # patch data: batches per epoch (0: one pass over the dataset)
    holdout_images: int = 16  # image folders: the last N images (by name) are validation only
    enlarged_share: float = 0.0  # image folders: this share of the training images are enlarged copies (data.with_enlarged_copies)
    enlarged_factors: tuple[float, ...] = (1.5, 3.0)  # the range their enlargement factor is drawn from
    batch_norm_recalibration: int = 0  # batch-norm nets: recompute its statistics over N fresh batches at the end (loop.py)
    folded_epochs: int = 0  # batch-norm nets: then train N more epochs with the batch norms folded away (loop.py)
    folded_lr: float = 0.0  # their learning rate, cosine down to 1/100
    grid_noise: tuple[dict[str, Any], ...] = ()  # extra noise levels shown in the sample grid
    reported: dict[str, Any] = field(default_factory=dict)  # the write-up's own figures
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        data = dict(data)
        data["grid_noise"] = tuple(data.get("grid_noise", ()))
        data["level_readings"] = tuple(data.get("level_readings", ("full",)))
        data["camera_ramp"] = tuple(data.get("camera_ramp", ()))
        data["texture_guard"] = tuple(data.get("texture_guard", ()))
        if "enlarged_factors" in data:  # absent from earlier runs' recipes: the field's default
            data["enlarged_factors"] = tuple(data["enlarged_factors"])
        return cls(**data)


RECIPES: dict[str, Recipe] = {}


def _register(recipe: Recipe) -> Recipe:
    RECIPES[recipe.name] = recipe
    return recipe


_register(Recipe(
    name="mnist-conv-strided",
    summary="R0: strided conv autoencoder with a 16-d latent, MNIST, noise N(0.5, 0.5^2) clipped",
    data="mnist",
    noise={"kind": "gaussian", "mean": 0.5, "std": 0.5, "clip": True},  # note the non-zero mean
    network="mnist-conv-strided",
    init="keras",  # a TensorFlow/Keras write-up: Keras' default initialisation
    network_args={"filters": (32, 64), "kernel": 3, "latent": 16},  # the book example's values
    loss="mse", batch_size=128, epochs=10,
    grid_noise=({"kind": "gaussian", "mean": 0.5, "std": 0.75, "clip": True},
                {"kind": "gaussian", "mean": 0.5, "std": 1.0, "clip": True}),
    reported={"claim": "robust at std 0.5; degrades gracefully at 0.75 and 1.0"},
))

_register(Recipe(
    name="mnist-dense",
    summary="R1: dense 784-256-128-64 autoencoder, MNIST, noise 0.4 N(0,1) clipped, BCE",
    data="mnist",
    noise={"kind": "gaussian", "std": 0.4, "clip": True},
    network="mnist-dense",
    init="keras",  # a TensorFlow/Keras write-up: Keras' default initialisation
    network_args={"sizes": (256, 128, 64)},
    loss="bce", batch_size=128, epochs=50,
    # SEEDS does not say whether the noise was drawn once or per batch; per batch validates
    # lower here (0.094 vs 0.097 BCE after 50 epochs), so R1 draws it afresh.
    noise_schedule="fresh",
    reported={"val_loss": 0.088, "metric": "validation BCE at epoch 50 (illustrative curve)"},
))

_register(Recipe(
    name="mnist-conv-pool",
    summary="R2: conv + max-pool autoencoder (7x7x32 code), MNIST, noise 0.5 N(0,1) clipped, BCE",
    data="mnist",
    noise={"kind": "gaussian", "std": 0.5, "clip": True},
    network="mnist-conv-pool",
    init="keras",  # a TensorFlow/Keras write-up: Keras' default initialisation
    network_args={"filters": 32},
    loss="bce", batch_size=128, epochs=100,
    tile_size=512,  # fully convolutional: large tiles (128 px lost a third of the speed to margins)
    reported={},
))

_register(Recipe(
    name="mnist-conv-bn",
    summary="R3: conv/batch-norm autoencoder (16,385 parameters), MNIST, noise N(0, 0.1^2) unclipped",
    data="mnist",
    noise={"kind": "gaussian", "std": 0.1, "clip": False},  # variance 0.01, not clipped
    network="mnist-conv-bn",
    network_args={"momentum": 0.01},
    loss="mse", batch_size=64, epochs=10,
    noise_schedule="fresh",  # drawn afresh for every batch
    validation="split:0.2",  # 80/20 random split of the training set
    tile_size=512,  # fully convolutional: large tiles (128 px lost a third of the speed to margins)
    reported={"val_loss": 0.0054, "metric": "validation MSE at epoch 10, against the NOISY image",
              "val_loss_per_epoch": [0.0109, 0.0090, 0.0075, 0.0067, 0.0060, 0.0056, 0.0055, 0.0054, 0.0054, 0.0054]},
))

_register(Recipe(
    name="cifar-sp",
    summary="R4: conv autoencoder with a 1000-d latent, CIFAR-10 gray 32x32, 15% salt / 10% pepper",
    data="cifar10-gray",
    noise={"kind": "rounded-uniform-salt-and-pepper"},  # "intensity 0.2"
    network="cifar-sp",
    network_args={"latent": 1000},
    loss="mse", batch_size=64, epochs=15,
    input_scale=2.0, input_offset=-1.0,  # Normalize(mean 0.5, std 0.5) on input and target
    patch_size=32,
    reported={"claim": "blurry after epoch 1, sharper by 15; both losses still falling"},
))


# What the three natural-image recipes share: Train400 patches (its last 16 images held out for
# validation; nothing from BSD68 or Set12), fresh noise every batch, a cosine schedule, and large
# inference tiles so that the discarded margins cost little.
NATURAL_IMAGES = dict(
    data="folder:train400", batch_size=32, lr=1e-3, lr_schedule="cosine", noise_schedule="fresh",
    tile_size=1024, steps_per_epoch=150, holdout_images=16, loss="mse",
)

_register(Recipe(
    name="gaussian",
    summary="Blind Gaussian denoiser for photos and scans (std 0-55 on 0-255), with a noise-level input",
    # one level per patch; a quarter of the patches clipped and rounded to 8 bits as a saved
    # file holds them (at sigma 50 clipping near black and white cost 0.8 dB on BSD68 without)
    noise={"kind": "gaussian", "std": (0.0, 55 / 255), "clip": False, "png8_fraction": 0.25},
    network="residual-unshuffle",
    # 64 channels x 12 layers at half resolution: ~94k multiply-adds per pixel, 1/6 of DnCNN.
    # Batch norm (folded away at export): without it the stack sat at "predict no noise" for
    # its first 15 epochs, and 60 epochs scored 30.70 / 28.34 / 25.37 dB on BSD68 (sigma 15 /
    # 25 / 50, float); with it, 170 epochs (94 min on 2 threads) score 31.15 / 28.79 / 25.82
    network_args={"channels": 64, "depth": 12, "noise_level_input": True, "batch_norm": True},
    batch_norm_recalibration=200,
    # Not yet kept: `photo`'s 10 folded epochs (lr 5e-5), run from this model. Against it, blind
    # unless said: BSD68 sigma 15 / 25 / 50 float 31.16 / 28.80 / 25.84 (31.15 / 28.79 / 25.82);
    # told sigma 2, gauss2 png8 42.72 / 42.95 on Set12 / BSD68 (42.03 / 42.07, its input); Set12
    # told sigma 5 37.38 (36.97; BM3D 37.98); camera L 36.23 / 35.94 (35.50 / 35.34); the
    # stand-in's cameraXL 39.33 (37.09; `photo` at strength 2: 39.00). But blind gauss2 41.44 /
    # 41.54 (41.81 / 41.16; 7 of 12 Set12 pictures lose more than 0.1 dB, the boat 4.7) and clean
    # Set12 47.9 (66.8): it now acts on faint noise, and so on what the estimator over-reads
    epochs=170,
    predicts="noise",  # residual learning, as DnCNN
    patch_size=50,  # >= the receptive field (50 px)
    **NATURAL_IMAGES,
))

_register(Recipe(
    name="salt-and-pepper",
    summary="Impulse noise remover for photos and scans (5-50% salt and pepper); untouched pixels pass through",
    noise={"kind": "salt-and-pepper", "density": (0.05, 0.5)},  # one density per patch
    network="impulse-unshuffle",
    # ~94k multiply-adds per pixel, as `gaussian`: 48 channels x 10 layers (43k) scored
    # 0.15 dB lower at every density on BSD68
    network_args={"channels": 64, "depth": 12},
    epochs=60,  # 30 epochs scored 1.2-1.5 dB lower on BSD68: still learning at the end
    patch_size=50,
    # MSE, PyTorch init: He init with a per-patch PSNR loss scored 0.1-0.2 dB lower on BSD68
    **NATURAL_IMAGES,
))

_register(Recipe(
    name="salt-and-pepper-jpeg",
    summary="Salt-and-pepper noise in JPEGs (2-30%, saved at quality 60-95): impulses smeared by compression",
    # `salt-and-pepper` re-predicts only exact black and white, which JPEG leaves none of
    noise={"kind": "compressed-salt-and-pepper", "density": (0.02, 0.3), "quality": (60, 95)},
    network="residual-unshuffle",  # every pixel re-predicted: the blobs and their ringing are gray
    network_args={"channels": 64, "depth": 12},  # the size and cost of `salt-and-pepper`
    init="he",  # as `photo`: PyTorch's default init sat at "predict no noise" there
    epochs=60,
    predicts="noise",
    patch_size=50,
    **NATURAL_IMAGES,
))

_register(Recipe(
    name="photo",
    summary="Real camera noise (signal-dependent, demosaiced, sharpened, JPEG) and Gaussian noise in photos",
    # The figures below "against this model", "as shipped" or "shipped" are of the file shipped
    # until ccb4d0a, made in two pieces (weights/README.md); the file shipped after it was this
    # recipe's one command run from nothing (train/degrade.py compares the two), before half its
    # training pictures were enlarged ("the file shipped before" below); the file shipped now is
    # this recipe as it stands, run from nothing
    # train/degrade.py: camera pipeline 45%, white Gaussian 25%, clean 30%. A probe fine-tune of
    # the 10%-clean model with 30% gained 2.5 dB on clean Set12 and lost 0-0.4 dB on noisy
    noise={"kind": "camera", "clean_probability": 0.3},
    # Not kept: noise as coarse as the real pair's (docs/photo.md), whose estimator reading is a
    # quarter of its std. 10 folded epochs from this file with half the camera patches' noise
    # blurred (Gaussian, sigma 0.7-1.6, rescaled to its std; no sharpening), against 10 on this
    # recipe (in brackets), blind png8: the pair 30.81 dB (30.65; this file 30.74), but camera H
    # Set12 / BSD68 24.20 / 23.99 (25.07 / 24.74), clean BSD68 47.60 (49.05), the pair's reference
    # (clean) 43.16 (45.24), and on the stand-in cameraXL 39.65 (40.30), clean 45.23 (49.68), 5
    # gauss2 pictures losing more than 0.1 dB (2); the rest within 0.15 dB. What it gains on the
    # pair is far less than it costs elsewhere. The probe's script is in the note on issue 5 that
    # reports it.
    network="residual-unshuffle",
    # as `gaussian`, batch norm included. Against the 30-epoch model without it (Set12, blind):
    # camera L / M / H 36.18 / 29.17 / 22.36 -> 36.38 / 30.04 / 24.32 dB, clean 40.50 -> 42.84
    network_args={"channels": 64, "depth": 12, "noise_level_input": True, "level_channels": 2, "batch_norm": True},
    # Not kept: a U-Net with a context path in place of the plain stack (4 + 4 convolutions at
    # 1/2 resolution, 3 + 3 at 1/4, 4 at 1/8, skips added; receptive field 156 px against 50, the
    # same 94k multiply-adds per pixel), 128 px patches in batches of 8, this recipe otherwise.
    # Blind, against this model: Set12 camera L / M / H 36.08 / 29.75 / 25.12 dB (35.69 / 30.16 /
    # 24.94), gauss2 png8 41.95 (41.74), clean 49.7 (54.4); BSD68 36.16 / 29.42 / 24.71 (36.15 /
    # 29.74 / 24.61), gauss2 41.27 (41.60); Gaussian noise 0.2-1.0 dB lower on both sets; and
    # 0.86 / 0.67 MP/s against 1.35 / 1.27 on 2048 px and BSD68-sized pictures (its tiles need
    # 80 px margins, not 26). Better only on Set12's light noise, at a third to half the speed
    # lost. Part of that pattern is the patches': a 10-epoch fine-tune of this model on 128 px x 8
    # against one on its own 64 px x 32 gave Set12 camera L 35.84 / 35.70, M 29.86 / 30.25 dB
    batch_norm_recalibration=200,
    # then 10 epochs with the batch norms folded away, at lr 5e-5 with a fresh Adam (why: see
    # loop._folded). Against the 100-epoch model they start from (Set12 / BSD68, blind): camera
    # L / M / H 36.06 / 30.34 / 25.24 (35.69 / 30.16 / 24.94) and 36.36 / 29.89 / 24.89 (36.15 /
    # 29.74 / 24.61); gauss2 png8 42.07 / 42.01 (41.74 / 41.60; noisy 42.03 / 42.07), the median
    # picture +0.34 / +0.39 dB against its input (-0.10 / -0.08) and 2 of 12 / 16 of 68 pictures
    # losing more than 0.1 dB (6 / 30), though the worst lose as much or more (the Set12 boat 4.2
    # dB, 2.4 before); clean 52.2 / 52.4 (54.4 / 50.3); the stand-in's cameraXL 37.94 (37.34).
    # A probe with three times as many faint white-noise patches in these epochs (std 50 u^3 on
    # 0-255 in place of 50 u) gained 0.08 dB more on BSD68 gauss2, lost 0.1 dB on Set12 camera
    # L: not kept. Ten more folded epochs (111-120, the second half of a 20-epoch cosine) moved
    # nothing by more than 0.1 dB (Set12 gauss2 41.98, camera L 36.05; BSD68 42.06, 36.33; clean
    # 51.6 / 52.1): 10 is enough. Nor does teaching these epochs that dense texture can be
    # clean: each clean patch the most textured (highest reading) of 4 / 16 crops gave BSD68's
    # worst gauss2 picture -3.52 / -2.56 dB (-5.07) but as many or more pictures losing over 0.1
    # dB (17 / 27 of 68; 16), and clean Set12 / BSD68 50.4 / 49.1 and 47.7 / 47.1 (52.2 / 52.4).
    # The 16-crop run moves the model along its trade-off, not past it: on the stand-in without
    # EXIF, cameraXL 38.67 (37.94), clean 51.5 (62.6); camera L 36.46 / 36.71 (36.06 / 36.36), M
    # 30.48 / 29.94 (30.34 / 29.89), H 24.96 / 24.56 (25.24 / 24.89); at strength 2, cameraXL 38.87
    # (39.00). The comparisons "against this model" elsewhere here predate these epochs
    # Half the training images are enlarged copies, 1.5-3x (Lanczos; data.with_enlarged_copies). A
    # camera's own photos are smooth at the pixel scale, where every Train400 crop holds detail, so
    # their readings are the noise's alone. A probe first, 10 folded epochs from the file shipped
    # before with half enlarged (the note on issue 5 of 2026-11-24 has its script), took the
    # stand-in's cameraXL from 38.85 to 39.91 dB (BM3D 39.22), but changed clean pictures more
    # (Set12 / BSD68 44.81 / 46.27 dB against 48.25 / 50.14), with 3 / 7 pictures losing more than
    # 0.1 dB at gauss2 (1 / 0); a quarter enlarged: 39.32, clean 46.48 / 48.42, 3 / 2 losing. The
    # same 10 epochs without enlargement moved no noisy figure by over 0.08 dB. Then this recipe
    # from nothing, all 110 epochs (validation loss 0.001303; the file before it, without
    # enlargement: 0.001274). Its level floor, measured on the mixed pictures, fell to 0.74 / 2.16
    # (2.22 / 3.52), and with the guard shipped before (3,2,0.75,1.8,0.25,0.82) it took the faint
    # white noise of scaled-down pictures for more than it is: 4 / 8 pictures lost more than 0.1 dB
    # at gauss2 (the boat, peppers 2.0, airplane, Lena; test053 0.93), hence the guard below. Blind,
    # png8, with it, against the file shipped before: the stand-in's cameraXL 40.05 dB (38.85; BM3D
    # 39.22), camera L 37.91 (36.93), gauss2 44.54 (43.47), clean 49.9 (51.7); Set12 / BSD68 camera
    # L 35.79 / 36.47 (35.75 / 36.35), M 30.53 / 29.85 (30.35 / 29.66), H 25.15 / 24.81 (25.09 /
    # 24.65), gauss2 42.01 / 42.61 (42.13 / 42.63) with 1 / 3 pictures losing (1 / 0), clean 45.7 /
    # 49.3 (48.3 / 50.1); white noise of std 5 35.84 / 35.43 (36.40 / 36.13), 15 31.10 / 30.36
    # (31.26 / 30.62), 25 28.71 / 28.07 (28.84 / 28.19). Kept: a camera's own photos are what this
    # model is for, and on them it now beats BM3D; white noise on scaled-down pictures is
    # `gaussian`'s job. A quarter enlarged, from nothing, all 110 epochs (`denoise-train --recipe
    # photo --enlarged-share 0.25`; validation loss 0.00127), against this file: the real pair
    # (docs/photo.md) 30.38 dB (30.74), the stand-in's cameraXL 38.72 (40.05), gauss2 43.61
    # (44.54), clean 49.1 (49.9); Set12 / BSD68 camera L 35.73 / 36.37 (36.14 / 36.54), M 30.43 /
    # 29.79 (30.53 / 29.85), H 25.35 / 24.97 (25.15 / 24.81), gauss2 41.96 / 42.47 (42.12 / 42.78)
    # with 1 / 0 pictures losing, clean 48.0 / 52.1 (46.0 / 49.3). Ahead only at heavy noise and
    # on clean pictures, behind on the real pair and at light noise: not kept
    enlarged_share=0.5,
    folded_epochs=10, folded_lr=5e-5,
    init="he",  # with PyTorch's default init this stack stayed at "predict no noise" for 2 epochs
    # fed the estimator's readings, read on each 64 px training patch; inference reads the whole
    # image. Feeding each 64 px block of a test image its own readings instead (as in training)
    # did worse (Set12 blind: camera L 35.67 -> 35.37 dB, clean 54.08 -> 47.16): the whole
    # image's reading is the steadier one, and no reason to read tiles at inference.
    # What holds this model back is the reading, not the network. Probes on BSD68, blind, with
    # this model as shipped (its own figures in brackets): fed sqrt(n^2 + T^2), n the readings of
    # the noise alone (noisy - clean: an oracle), T a typical clean training patch's (2.2 / 3.7),
    # it gains +1.63 dB on the stand-in's cameraXL (+0.92) and +0.53 on gauss2 (-0.06), though
    # camera M falls to 29.17 (29.89) and clean to 49.0 (52.4). With the oracle as a brake only,
    # the readings times min(1, max over both of sqrt(n^2 + T^2) / reading), T = 1.0 / 1.8: gauss2
    # +0.40 with no picture losing more than 0.1 dB (16 of 68), camera L +0.87 (+1.00), M 29.85,
    # clean 59.7. But no estimator tried reads the noise under the densest textures (test001,
    # 029, 031, 036, 056, 067 read 5.7-10.6 when clean): low quantiles of 32 px block readings,
    # the smallest eigenvalue of 5x5 patches, a CNN trained 13 min on this recipe's noise to
    # predict n (48 channels x 8 layers: the four worst still lose 4.3-5.1 dB on gauss2, as
    # without), the reading of this model's own residual (input - output) against the input's
    # (full: 0.21-0.39 on BSD68's gauss2 pictures that lose over 0.1 dB, 0.20-0.67 on camera L,
    # 0.18-0.89 on M), where that residual lies (its std in 16 px blocks, in the input's most
    # active quarter of them over its least: 0.30-0.88 on those pictures, 0.12-2.11 on camera L),
    # and readings at a coarser scale (quarter over half resolution: 0.61-1.64 on those pictures,
    # 0.62-1.49 on camera L). Nor does choosing each picture's strength by Noise2Self's masked
    # loss (pixels on a 4 px grid, or 3x3 blocks on a 6 px grid, replaced by their ring's mean;
    # the strength whose output best predicts the hidden pixels): on BSD68's first 16 gauss2
    # pictures it chose 1.62-1.86 on average where 0.95 was best, the loss dominated by how well
    # the hidden pixels are inpainted (6-25 grey levels RMS against noise of 2)
    level_input="estimated",
    # full resolution and binned 2x2: one reading alone sees clean pictures and camera noise alike.
    # With both readings and 30% clean patches, against one reading and 10% (Set12, blind):
    # clean 42.84 -> 54.37 dB, gauss2 png8 40.60 -> 41.74, camera L / M / H 36.38 / 30.04 / 24.32
    # -> 35.69 / 30.16 / 24.94 (BSD68 L: 36.26 -> 36.15)
    level_readings=("full", "half"),
    # each reading raised to at least what a clean training patch reads (measured at export: 0.74
    # / 2.16 on 0-255 with half the pictures enlarged; 2.22 / 3.52 for the file shipped before,
    # whose figures follow): its training readings all hold their patch's texture, and fed the
    # readings of a smooth picture's noise alone it left that noise. Against the same weights
    # without the floor (blind): the stand-in's cameraXL 38.78 dB (37.94; median3 38.07), gauss2
    # 43.43 (42.43), clean 52.0 (62.6), camera L / M / H 36.94 / 31.02 / 26.10 (36.88 / 31.19 /
    # 26.10); Set12 / BSD68 gauss2 png8 42.17 / 42.11 (42.07 / 42.01), 2 of 12 / 17 of 68 pictures
    # losing more than 0.1 dB (2 / 16), the worst 3.1 / 5.1 dB (4.2 / 5.1); clean 47.9 / 47.6 (52.2
    # / 52.4); camera L / M / H and Gaussian noise within 0.06 dB. Raised in quadrature instead,
    # sqrt(r^2 + floor^2): cameraXL 38.75, gauss2 42.00 / 41.87 with 4 / 24 pictures losing more
    # than 0.1 dB, clean 46.9 / 46.0, camera L 36.43 / 36.58 and the stand-in's 37.36. Probes with
    # the floor read by hand (2.2 / 3.7; BSD68; in quadrature): half of it gave the stand-in 38.27,
    # gauss2 41.99 and clean 48.5; on the binned reading only, the stand-in 39.42 but clean 40.5; on
    # the full reading only, camera M 29.44 (29.89 without); twice the floor on the full reading
    # (4.4 / 3.52), gauss2 41.01 with 48 of 68 pictures losing more than 0.1 dB. On the stand-in
    # the floor at strength 1.5 gives cameraXL 39.22, clean 47.7, gauss2 43.06, against the plain
    # readings at strength 2 (39.00, 53.8, 43.49), which the camera strength below first acted on
    level_floor=True,
    # On the stand-in for a camera's own photos (BSD68 x2.25, noisy cameraXL 37.02 dB, blind), on
    # the readings as they are: strength 1 / 2 / 3 give 37.94 / 39.00 / 39.23 dB, gauss2 42.43 /
    # 43.49 / 42.13 (input 42.07), clean 62.6 / 53.8 / 49.0; camera L / M / H at strength 1 / 2:
    # 36.88 / 37.34, 31.19 / 31.93, 26.10 / 27.57 (with the folded epochs; before them 37.34 / 38.89
    # / 39.28 on cameraXL). On scaled-down pictures 2 costs 2.6-3.1 dB at gauss2, so it applies only
    # where EXIF shows an unresized camera photo
    camera_strength=2.0,
    # phased in as the strongest reading rises from 5.5 to 8.5 (on 0-255), on the floored readings.
    # At 2 in full, the plain readings of a camera's photo of dense texture under faint noise were
    # doubled and the texture smoothed away: on BSD68 x2.25 6 of 68 gauss2 pictures lost more than
    # 0.1 dB (test056 7.1), and 5 / 7 of 68 came out worse than their cameraXL / camera L input.
    # 5.5 is just above the strongest reading of a nearly clean picture there (5.3), 8.5 where
    # camera H's readings start. Against 2 in full (blind), on BSD68 x2.25: cameraXL 38.78
    # (39.00), L / M / H 36.94 / 31.46 / 27.56 (37.34 / 31.93 / 27.56), gauss2 43.43 (43.49),
    # clean 51.96 (53.77), and no picture worse than its input at any camera setting, 1 of 68
    # losing more than 0.1 dB at gauss2 (test056, 0.17). On Set12 x2.25, where no picture lost
    # either way: cameraXL 39.24 (39.51), L / M / H 37.34 / 32.08 / 28.20 (38.16 / 32.94 /
    # 28.20), gauss2 43.35 (43.70), clean 49.3 (48.2). Phased in from 4.0 to 7.0 instead, BSD68
    # x2.25: camera M 31.91, but 2 pictures lose more than 0.1 dB at each of cameraXL, gauss2 and
    # camera L (test056 3.2 at gauss2); from 5.5 to 7.0, camera M 31.52
    camera_ramp=(5.5 / 255, 8.5 / 255),
    # On any other picture, with the strength automatic: readings that look like dense texture (half
    # / full 0.65-1.8: white noise reads 0.5, camera noise about 2) with a full reading of 3.75 or
    # more get the strength 1.2 / full, at least 0.1 (api.texture_strength), phased in from a
    # reading of 2.5, unless the picture reads as uniformly as noise does (uniformity,
    # estimate.py, 0.82 or more: smooth pictures under noise). First without a ramp, with the
    # start at 3, chosen on Train400, the training pictures, not the test sets: every 4th picture,
    # `denoise-train sweep --sets train400 --every 4 --strengths
    # 0.1,0.25,0.4,0.55,0.7,0.85,1,1.2,1.5,2 --out F` at native size with --scenarios
    # gauss2,cameraL,cameraM, and gauss15,cameraH,gauss5, and with --enlarge 2.25 --scenarios
    # gauss5,cameraXL,gauss2,gauss10; then, over start 2.5-3.5, cap 1.2-2, low 0.6-0.75, least 0.1 /
    # 0.25 (high 1.8, even 0.82 as before), `--from F --guard G` for each: of the guards keeping the
    # enlarged cameraXL gain at 2.9 dB or more (3.14 at strength 1), the fewest native gauss2
    # pictures losing more than 0.1 dB, then the most native gauss5 + camera L gain. On those
    # sweeps, at strength 1 / with this guard / with the guard of the file shipped before
    # (3,2,0.75,1.8,0.25,0.82): gauss2 -0.88 / +0.63 / +0.65 dB mean gain with 53 / 3 / 14 pictures
    # losing, camera L +1.10 / +0.96 / +1.21 (14 / 0 / 0 losing), M +2.90 / +2.59 / +2.63, gauss5
    # +1.85 / +1.52 / +2.01 (17 / 0 / 0 losing), gauss15 +5.56 / +5.51 / +5.52, and enlarged
    # cameraXL +3.14 / +3.08 / +3.10, gauss5 +6.08 in each. The guards below 0.65 give gauss5 0.13
    # dB less (3,1.2,0.6: +1.39) for no fewer losers; from 0.75, 4 lose. Three BSD68 pictures lost
    # at gauss2 with it (test053 0.93 dB, 011, 003): each reads 2.965, just under the start; a start
    # of 2.9 would have spared them, read off the test set, so not taken. The file shipped before used the guard
    # above, chosen the same way on its own sweeps (every 2nd picture: 65 of 200 lost at gauss2 at
    # strength 1, 4 with it).
    # Then the ramp (the seventh value): the readings come in steps of a quarter of a grey level,
    # and with a hard start a texture one step below it got strength 1, one step above it 0.4. The
    # same rule on sweeps of the shipped file (native gauss2,cameraL,cameraM; gauss5; --enlarge 2.25
    # cameraXL), over start 2.5-4.5, ramp 0-2 (0.25 apart) and the values above: this guard (its
    # ramp from 2.5 to 3.75). Strength 1 / this guard / the guard without a ramp (3,1.2,0.65,...):
    # gauss2 -0.88 / +0.72 / +0.63 with 53 / 1 / 3 losing, camera L +1.10 / +1.01 / +0.96, M
    # +2.90 / +2.59 / +2.59, gauss5 +1.85 / +1.52 / +1.52, enlarged cameraXL +3.14 / +2.98 / +3.08.
    # `denoise-train restate` gave the shipped file this guard, its weights untouched. On the test
    # sets, checked only afterwards (blind png8, against the guard without a ramp): gauss2 Set12 /
    # BSD68 42.12 / 42.78 (42.01 / 42.61) with 1 / 0 pictures losing (1 / 3; test053, 011, 003
    # now gain), camera L 36.14 / 36.54 (35.79 / 36.47), clean 45.95 / 49.28 (45.67 / 49.32),
    # camera M / H and gauss5 unchanged; the stand-in's cameraXL 40.05 (40.05).
    texture_guard=(3.75 / 255, 1.2 / 255, 0.65, 1.8, 0.1, 0.82, 1.25 / 255),
    epochs=100,  # about 100 min on 2 threads, and 12 more for the folded epochs
    predicts="noise",
    patch_size=64,  # a multiple of JPEG's 8x8 blocks, larger than the 50 px receptive field
    # Not kept, an earlier probe unlike `enlarged_share` above (whole pictures, Lanczos, enlarged
    # before cutting): half the training crops enlarged 1-3x after cutting (bicubic), for content as
    # smooth at the pixel scale as a camera's own photos. Blind, 100 epochs, against the model of
    # that time: on the stand-in
    # for real photos (BSD68 x2.25; noisy cameraXL 37.02 dB) 37.62 (37.34), gauss2 42.04 (41.91),
    # clean 73.1 (52.6); Set12 camera L / M / H 36.28 / 30.07 / 24.50 (35.69 / 30.16 / 24.94),
    # gauss2 41.66 (41.74); BSD68 36.25 / 29.78 / 24.21 (36.15 / 29.74 / 24.61), gauss2 40.97
    # (41.60). Far from +1.5 dB on the stand-in, and 0.4 dB lost on heavy noise
    # MSE. A per-patch PSNR loss (NAFNet's), meant to make clean patches count, pulled the model
    # to "change nothing", from scratch and from epoch 15 of an MSE run alike. Each patch's MSE
    # divided by its noise's RMS (floored at 4/255, to give faint noise more of the network)
    # learnt white noise but still left camera noise untouched at epoch 31 of 100: stopped. As a
    # fine-tune of the shipped run (11 epochs, lr 1e-4) it kept camera L (Set12 35.71 against
    # 35.67 dB) and lost 0.4 / 0.8 dB at M / H and 1.1 dB on clean pictures. Divided by its noise's
    # variance (+ 1/255^2) instead, as a fine-tune with a fresh Adam at lr 2e-4, it had stopped
    # removing camera noise by epoch 2 (Set12 camera M 27.48 dB, noisy 27.39) and gauss2 stayed at
    # 41.64: stopped. (BM3D given sigma 2 gains 1.4-1.6 dB on gauss2: the room is there.)
    **NATURAL_IMAGES,
))


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise DenoiseError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}.")
    return RECIPES[name]


def override(recipe: Recipe, **values: Any) -> Recipe:
    """The recipe with the given values replaced (None means: keep the recipe's)."""
    return dataclasses.replace(recipe, **{k: v for k, v in values.items() if v is not None})
