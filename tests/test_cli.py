"""The `denoise` command through a real subprocess: outputs where a user expects them, folders
mirrored, nothing overwritten without --overwrite, JSON summary, models listing."""

from __future__ import annotations

import io
import os
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_clean_error, batch_options, camera_exif, cli_env, level_echo_model, run_cli, run_cli_piped
from denoise_cli import Denoiser


def _write(path, shape=(30, 40), seed=0, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def test_version_and_help():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("denoise-cli ")
    for args in (["--help"], ["run", "--help"], ["models", "--help"]):
        result = run_cli(*args)
        assert result.returncode == 0 and "Usage" in result.stdout


def test_single_file_default_output_beside_input(tmp_path, identity_fixed):
    pixels = _write(tmp_path / "photo.png")
    result = run_cli("photo.png", "--model", str(identity_fixed), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "photo_denoised.png")), pixels)


def test_single_file_explicit_output_and_format(tmp_path, identity_fixed):
    _write(tmp_path / "in.png")
    result = run_cli(str(tmp_path / "in.png"), "-o", str(tmp_path / "out.tif"), "-m", str(identity_fixed))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.tif").format == "TIFF"
    result = run_cli(str(tmp_path / "in.png"), "-o", str(tmp_path / "conv"), "--format", "webp", "-m", str(identity_fixed))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "conv.webp").format == "WEBP"
    result = run_cli(str(tmp_path / "in.png"), "-f", "JPG", "-m", str(identity_fixed))  # as file names spell it
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "in_denoised.jpg").format == "JPEG"
    result = run_cli(str(tmp_path / "in.png"), "-o", str(tmp_path / "small.jpg"), "--quality", "40", "-m", str(identity_fixed))
    assert result.returncode == 0, result.stderr
    reference = io.BytesIO()
    Image.open(tmp_path / "in.png").save(reference, format="JPEG", quality=40)
    assert Image.open(tmp_path / "small.jpg").quantization == Image.open(reference).quantization


def test_format_renames_only_an_extension_of_another_format(tmp_path, identity_fixed):
    """-f sets the extension when the one given names another format (clean.jpg -f png: clean.png),
    and keeps the user's own spelling of the same format (clean.jpeg -f jpg, scan.tiff -f tiff)."""
    _write(tmp_path / "in.png")
    for given, fmt, written in (("clean.jpg", "png", "clean.png"), ("clean.jpeg", "jpg", "clean.jpeg"), ("scan.tiff", "tiff", "scan.tiff")):
        result = run_cli(str(tmp_path / "in.png"), "-o", str(tmp_path / given), "-f", fmt, "-m", str(identity_fixed))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / written).exists() and Image.open(tmp_path / written).format == {"png": "PNG", "jpg": "JPEG", "tiff": "TIFF"}[fmt]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.jpeg", "clean.png", "in.png", "scan.tiff"]


def test_one_file_into_a_folder_named_with_a_slash_creates_it(tmp_path, identity_fixed):
    pixels = _write(tmp_path / "in.png")
    result = run_cli("in.png", "-o", "clean/", "-m", str(identity_fixed), cwd=tmp_path)  # Path() would drop the slash
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "clean" / "in.png")), pixels)


def test_a_quoted_tilde_is_home_in_the_output_as_in_the_inputs(tmp_path, identity_fixed):
    """A script or an alias passes "~/..." unexpanded: it said the output folder ~ did not exist."""
    home = tmp_path / "home"
    (home / "shots").mkdir(parents=True)
    pixels = _write(home / "shots" / "in.png")
    result = run_cli("~/shots/in.png", "-o", "~/clean/", "-m", str(identity_fixed), cwd=tmp_path, env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(home / "clean" / "in.png")), pixels)
    assert not (tmp_path / "~").exists()


def test_folder_goes_to_a_sibling_folder_and_recursive_mirrors(tmp_path, identity_fixed):
    _write(tmp_path / "scans" / "a.png")
    _write(tmp_path / "scans" / "sub" / "b.png", seed=1)
    (tmp_path / "scans" / "notes.txt").write_text("not an image")
    flat = run_cli(str(tmp_path / "scans"), "-m", str(identity_fixed))
    assert flat.returncode == 0, flat.stderr
    assert sorted(p.name for p in (tmp_path / "scans_denoised").iterdir()) == ["a.png"]
    deep = run_cli(str(tmp_path / "scans"), "-r", "-o", str(tmp_path / "out"), "-m", str(identity_fixed))
    assert deep.returncode == 0, deep.stderr
    assert (tmp_path / "out" / "a.png").exists() and (tmp_path / "out" / "sub" / "b.png").exists()
    assert sorted(p.name for p in (tmp_path / "scans").iterdir()) == ["a.png", "notes.txt", "sub"]  # input untouched
    here = run_cli(".", "-m", str(identity_fixed), cwd=tmp_path / "scans" / "sub")
    assert here.returncode == 0 and (tmp_path / "scans" / "sub_denoised" / "b.png").exists()
    relative = run_cli("scans/", "-m", str(identity_fixed), "--overwrite", cwd=tmp_path)
    assert relative.stdout.startswith("scans/a.png -> scans_denoised/a.png")  # named as the user wrote the input


def test_output_folder_inside_input_is_not_picked_up_again(tmp_path, identity_fixed):
    _write(tmp_path / "in" / "a.png")
    for _ in range(2):
        result = run_cli(str(tmp_path / "in"), "-r", "-o", str(tmp_path / "in" / "clean"), "-m", str(identity_fixed), "--json")
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "in" / "clean" / "clean").exists()
    for _ in range(2):  # written relative, as typed in a shell: the walk gives relative paths
        result = run_cli("in", "-r", "-o", "in/relative", "-m", str(identity_fixed), "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "in" / "relative" / "relative").exists()


def test_a_folder_into_itself_is_denoised_in_place_only_with_overwrite(tmp_path, identity_fixed, box_blur):
    """-o naming the input folder: every output would replace its input, so each is skipped as
    as the input itself (it said there were no images, then that the file "exists already"),
    replaced with --overwrite, or written beside its input under another format."""
    _write(tmp_path / "in" / "a.png")
    before = (tmp_path / "in" / "a.png").read_bytes()
    kept = run_cli("in", "-o", "in", "-m", str(box_blur), "--json", cwd=tmp_path)
    assert json.loads(kept.stdout)["counts"] == {"ok": 0, "skipped": 1, "failed": 0}
    assert "in/a.png: is the input itself (pass --overwrite to denoise it in place); skipped." in kept.stderr
    assert (tmp_path / "in" / "a.png").read_bytes() == before
    converted = run_cli("in", "-o", "in", "-f", "tiff", "-m", str(identity_fixed), cwd=tmp_path)
    assert converted.returncode == 0, converted.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "in" / "a.tif")), np.asarray(Image.open(tmp_path / "in" / "a.png")))
    replaced = run_cli(str(tmp_path / "in"), "-o", str(tmp_path / "in"), "--overwrite", "-m", str(box_blur), "--json")
    assert json.loads(replaced.stdout)["counts"]["ok"] == 2  # a.png and a.tif, each in place
    assert (tmp_path / "in" / "a.png").read_bytes() != before and sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png", "a.tif"]
    # in place into one format: a.bmp's result, first by name, must not replace a.png, which is denoised in place itself
    _write(tmp_path / "in" / "a.png", seed=5)
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "in" / "a.bmp")
    own = np.asarray(Image.open(tmp_path / "in" / "a.png"))
    merged = run_cli("in", "-o", "in", "--overwrite", "-f", "png", "-m", str(identity_fixed), cwd=tmp_path)
    assert merged.returncode == 1 and ("in/a.bmp: not denoised: its output in/a.png is in/a.png itself, which is denoised in place "
                                       "(pictures that differ only by extension: leave out -f, or give each its own -o).") in merged.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "in" / "a.png")), own)


def test_a_warning_that_recurs_over_a_batch_is_said_once_and_counted(tmp_path, identity_fixed):
    """A folder of camera photos into BMP: one warning in full, then how many more files it
    concerns, not one long line per file."""
    (tmp_path / "shots").mkdir()
    for k in range(4):
        Image.fromarray(np.full((8, 9, 3), 40 * k, np.uint8)).save(tmp_path / "shots" / f"{k}.jpg", exif=camera_exif("Canon", "EOS", (9, 8)))
    result = run_cli("shots", "-f", "bmp", "-o", "out", "-m", str(identity_fixed), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("holds no EXIF") == 2 and "warning: 3 more files likewise: a bmp file holds no EXIF" in result.stderr
    summary = json.loads(run_cli("shots", "-f", "bmp", "-o", "again", "-m", str(identity_fixed), "--json", cwd=tmp_path).stdout)
    assert all(len(f["warnings"]) == 1 and "holds no EXIF" in f["warnings"][0] for f in summary["files"])  # each file's, in full


def test_globs_and_several_files(tmp_path, identity_fixed):
    for k in range(3):
        _write(tmp_path / f"img{k}.png", seed=k)
    result = run_cli("img*.png", "-m", str(identity_fixed), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all((tmp_path / f"img{k}_denoised.png").exists() for k in range(3))
    again = run_cli("img*.png", "-m", str(identity_fixed), "--json", cwd=tmp_path)  # outputs match the glob now
    summary = json.loads(again.stdout)
    assert summary["counts"] == {"ok": 0, "skipped": 3, "failed": 0}
    _write(tmp_path / "shots" / "2026" / "11" / "deep.png")
    deep = run_cli("shots/**/*.png", "-m", str(identity_fixed), cwd=tmp_path)  # any depth, as bash's globstar, without -r
    assert deep.returncode == 0 and (tmp_path / "shots" / "2026" / "11" / "deep_denoised.png").exists(), deep.stderr


def test_two_inputs_with_one_output_name_write_it_once_and_say_how_to_keep_both(tmp_path, identity_fixed):
    """Into one folder, scan.png and scan.jpg with -f png, or two folders' a.png, would write the
    same file: the first is denoised, the other fails with what to do, and nothing is replaced."""
    _write(tmp_path / "scan.png", seed=1)
    Image.open(tmp_path / "scan.png").save(tmp_path / "scan.jpg")
    _write(tmp_path / "x" / "a.png", seed=2)
    _write(tmp_path / "y" / "a.png", seed=3)
    result = run_cli("scan.png", "scan.jpg", "x/a.png", "y/a.png", "x/a.png", "-f", "png", "-o", "out/", "-m", str(identity_fixed), "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["counts"] == {"ok": 2, "skipped": 0, "failed": 2}  # x/a.png named twice: done once, no failure
    assert ("scan.jpg: not denoised: its output out/scan.png is already that of scan.png (pictures that differ only by extension: "
            "leave out -f, or give each its own -o).") in result.stderr
    assert ("y/a.png: not denoised: its output out/a.png is already that of x/a.png (files of one name from two folders: "
            "give each folder its own -o).") in result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), np.asarray(Image.open(tmp_path / "x" / "a.png")))


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, identity_fixed, box_blur):
    _write(tmp_path / "a.png")
    (tmp_path / "a_denoised.png").write_bytes(b"precious")
    result = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed))
    assert result.returncode == 0 and "exists already" in result.stderr
    assert (tmp_path / "a_denoised.png").read_bytes() == b"precious"
    result = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "--overwrite")
    assert result.returncode == 0 and Image.open(tmp_path / "a_denoised.png").size == (40, 30)


def test_json_summary_and_quiet(tmp_path, identity_fixed):
    _write(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "--json", "--quiet")
    summary = json.loads(result.stdout)
    assert summary["model"] == "identity-fixed" and summary["device"] == "cpu" and summary["ensemble"] is False
    assert summary["files"][0]["status"] == "ok" and summary["files"][0]["width"] == 40
    assert result.stderr == ""


def test_json_and_the_summary_list_files_in_the_order_given(tmp_path, identity_fixed):
    """Not in the order they finished: a file that fails to load is settled while the one before
    it is still being written."""
    for name in ("c.png", "a.png"):
        _write(tmp_path / name)
    (tmp_path / "b.png").write_text("not an image")
    (tmp_path / "d.png").write_text("nor this")
    result = run_cli(*(str(tmp_path / n) for n in ("c.png", "b.png", "a.png", "d.png")), "-m", str(identity_fixed), "-o", str(tmp_path / "out"),
                     "--json", "-q")
    assert [Path(f["source"]).name for f in json.loads(result.stdout)["files"]] == ["c.png", "b.png", "a.png", "d.png"]
    assert [line.split(": ")[1].rsplit("/", 1)[-1] for line in result.stderr.splitlines() if line.startswith("  failed")] == ["b.png", "d.png"]


def test_a_file_s_seconds_are_its_own_not_the_wait_behind_the_one_before(tmp_path, identity_fixed, monkeypatch, capsys):
    """A batch reads the next file while the model works on this one: a thumbnail after a large
    scan said it took the scan's ten seconds. (In-process, with the clock moved on 1000 s while
    the model works on the first file.)"""
    import time

    from denoise_cli import batch

    for name, side in (("scan.png", 60), ("thumb.png", 20)):
        _write(tmp_path / name, shape=(side, side))
    clock, moved = time.perf_counter, [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock() + moved[0])
    works = Denoiser.denoise_image

    def slow_on_the_scan(self, image, progress=None):
        if image.width == 60:
            time.sleep(0.3)  # the thumbnail is read meanwhile
            moved[0] += 1000.0
        return works(self, image, progress)

    monkeypatch.setattr(Denoiser, "denoise_image", slow_on_the_scan)
    options = batch_options([tmp_path / "scan.png", tmp_path / "thumb.png"], tmp_path / "out", identity_fixed)
    assert batch.run_batch(options, batch.Reporter(quiet=True, json_summary=True)) == 0
    seconds = {Path(f["source"]).name: f["seconds"] for f in json.loads(capsys.readouterr().out)["files"]}
    assert seconds["scan.png"] >= 1000 and seconds["thumb.png"] < 100


def test_sigma_and_strength_from_the_command_line(tmp_path, level_echo):
    _write(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-m", str(level_echo), "--sigma", "40", "--strength", "0.5", "--json", "-q")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["sigma"] == [20.0]
    assert np.all(np.asarray(Image.open(tmp_path / "a_denoised.png")) == 20)
    bad = run_cli(str(tmp_path / "a.png"), "-m", str(level_echo), "--strength", "9", "-o", str(tmp_path / "b.png"))
    assert bad.returncode == 2 and "--strength" in bad.stderr and "Traceback" not in bad.stderr


def test_a_camera_s_own_photo_gets_the_model_s_camera_strength(tmp_path, models_dir):
    """Left automatic, the strength is the model's camera strength on a photo whose EXIF shows it
    unresized from a camera, and 1 on the same pixels without that EXIF; the output says so, and
    an explicit --strength wins, as does a --sigma. The shipped default model carries such a strength."""
    echo = level_echo_model(models_dir / "camera-echo.onnx", camera_strength=2.0)
    pixels = np.clip(128 + np.random.default_rng(3).normal(0, 8, (2000, 2600)), 0, 255).astype(np.uint8)  # 5.2 MP: a sensor's size
    Image.fromarray(pixels).save(tmp_path / "camera.png", exif=camera_exif("Canon", "Canon EOS 80D", (2600, 2000)))  # the file's own size
    Image.fromarray(pixels).save(tmp_path / "plain.png")

    def run(name, *args, model=echo):
        result = run_cli(str(tmp_path / name), "-m", str(model), "--json", "-q", "--overwrite", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["files"][0]

    plain, camera = run("plain.png"), run("camera.png")
    assert plain["strength"] == 1 and "camera" not in plain
    assert camera["strength"] == 2 and camera["camera"] == "Canon EOS 80D"
    assert camera["sigma"][0] == pytest.approx(2 * plain["sigma"][0], abs=0.02)  # the echo's pixels: brightness.py blends them
    assert run("camera.png", "--strength", "1")["strength"] == 1
    given = run("camera.png", "--sigma", "10")
    assert given["strength"] == 1 and given["sigma"] == [10.0] and "camera" not in given
    said = run_cli(str(tmp_path / "camera.png"), "-m", str(echo), "--overwrite")
    assert "strength 2 for an unresized Canon EOS 80D photo" in said.stdout
    assert 1 < run("camera.png", model="default")["strength"] <= 2  # phased in as the reading rises


def test_a_picture_that_reads_as_dense_texture_gets_the_guard_s_strength_and_says_so(tmp_path, models_dir):
    """Left automatic, the strength on a picture whose readings look like dense texture is the
    texture guard's, below 1; the output line and the JSON record say so, and --strength 1 gives
    the full level back. The shipped default model carries such a guard, which leaves alone a
    picture that reads as evenly as noise does."""
    echo = level_echo_model(models_dir / "cli-guard-echo.onnx", level_readings=["full", "half"], texture_guard=[2 / 255, 2 / 255, 0.7, 1.8, 0.25])
    white = np.random.default_rng(6).normal(0, 12, (202, 202))
    texture = (white[:-2, :-2] + white[1:-1, 1:-1] + white[2:, 2:] + white[1:-1, :-2] + white[1:-1, 2:]) / np.sqrt(5)
    texture[:, :60] = white[:200, :60] / 12  # a flat strip under faint noise, as texture leaves (noise would not)
    Image.fromarray(np.clip(128 + texture, 0, 255).astype(np.uint8)).save(tmp_path / "texture.png")

    def run(*args, model=echo):
        result = run_cli(str(tmp_path / "texture.png"), "-m", str(model), "--json", "-q", "--overwrite", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["files"][0]

    guarded, full = run(), run("--strength", "1")
    assert 0.25 < guarded["strength"] < 1 and guarded["texture"] is True
    assert full["strength"] == 1 and "texture" not in full
    assert guarded["sigma"][0] == pytest.approx(guarded["strength"] * full["sigma"][0], abs=0.02)
    said = run_cli(str(tmp_path / "texture.png"), "-m", str(echo), "--overwrite")
    assert f"at strength {guarded['strength']:g}: reads as dense texture" in said.stdout
    assert run(model="default")["texture"] is True
    uniform = np.clip(128 + (white[:-2, :-2] + white[1:-1, 1:-1] + white[2:, 2:] + white[1:-1, :-2] + white[1:-1, 2:]) / np.sqrt(5), 0, 255)
    Image.fromarray(uniform.astype(np.uint8)).save(tmp_path / "texture.png")
    assert "texture" not in run(model="default")  # as much in every part of the picture: noise, left to the full level


def test_expert_options_reach_the_api(tmp_path, conv_stack):
    _write(tmp_path / "a.png", shape=(70, 90))
    result = run_cli(str(tmp_path / "a.png"), "-m", str(conv_stack), "--tile", "24", "--overlap", "4", "--batch-size", "2", "--threads", "1", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    ensembled = run_cli(str(tmp_path / "a.png"), "-m", str(conv_stack), "--ensemble", "-o", str(tmp_path / "e.png"), "--json")
    assert ensembled.returncode == 0, ensembled.stderr
    assert json.loads(ensembled.stdout)["ensemble"] is True
    assert np.array_equal(np.asarray(Image.open(tmp_path / "e.png")), Denoiser(conv_stack, "cpu", ensemble=True).denoise(np.asarray(Image.open(tmp_path / "a.png"))))
    bad = run_cli(str(tmp_path / "a.png"), "-m", str(conv_stack), "--tile", "4", "-o", str(tmp_path / "x.png"))
    assert_clean_error(bad)
    assert "too small" in bad.stderr


def test_depth_reaches_the_api_and_a_dry_run_checks_it(tmp_path, identity_fixed):
    _write(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "--depth", "16", "-o", str(tmp_path / "a16.png"))
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a16.png")), np.asarray(Image.open(tmp_path / "a.png")).astype(np.uint16) * 257)
    for dry in ([], ["--dry-run"]):
        refused = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "--depth", "16", "-f", "jpeg", *dry)
        assert_clean_error(refused)
        assert "a_denoised.jpg: JPEG holds 8 bits per channel, not the 16 of --depth 16; choose another format (png, tiff, jp2, pnm)." in refused.stderr
    assert not (tmp_path / "a_denoised.jpg").exists()


def test_models_lists_the_shipped_models():
    result = run_cli("models")
    assert result.returncode == 0, result.stderr
    listing = json.loads(run_cli("models", "--json").stdout)
    for model in listing:
        assert model["name"] in result.stdout
        assert "error" not in model
        assert model["description"]["params"] > 0
    assert "bsd68: " in result.stdout and "set12: " not in result.stdout  # one test set in the overview, all in `models NAME`
    both = run_cli("models", "--json", "--markdown")  # Markdown was printed, the --json dropped without a word
    assert both.returncode == 2 and "give one" in both.stderr and not both.stdout


def test_models_name_says_when_a_model_trained_on_enlarged_copies():
    """`photo` learnt what noise reads on pictures as smooth as a camera's own, from enlarged
    copies of its training pictures; its page says so, from its own recipe, and `gaussian`'s does not."""
    photo = run_cli("models", "photo", env={"COLUMNS": "200"})
    gaussian = run_cli("models", "gaussian", env={"COLUMNS": "200"})
    assert photo.returncode == gaussian.returncode == 0, photo.stderr + gaussian.stderr
    assert "on folder:train400 (50% of it enlarged copies, 1.5-3x)," in photo.stdout
    assert "on folder:train400, " in gaussian.stdout and "enlarged" not in gaussian.stdout


def test_models_name_says_where_the_texture_guard_phases_in():
    """The guard's ramp is part of how a model chooses its strength: its page states it, read from
    the file's own description, in the grey levels the output line speaks."""
    from denoise_cli.api import Denoiser

    guard = Denoiser("photo", device="cpu").description.texture_guard
    photo = run_cli("models", "photo", env={"COLUMNS": "200"})
    assert photo.returncode == 0, photo.stderr
    assert f"phased in from a reading of {(guard[0] - guard[6]) * 255:.2f} to {guard[0] * 255:.2f} grey levels: the texture guard" in photo.stdout


def test_models_reads_on_an_80_column_terminal_default_first():
    """On 80 columns (or a pipe, which rich takes for 80) the overview is a block per model, not a
    six-column table that breaks words in the middle; the default comes first and the reference
    recipes, which are not for photos, last."""
    from denoise_cli import registry

    result = run_cli("models", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    headings = [line.split(":")[0].split(" ")[0] for line in lines if line and not line.startswith(" ") and line.split(" ")[0].rstrip(":") in
                {e.name for e in registry.shipped_models()}]
    assert headings[0] == registry.default_model_name() and sorted(headings) == sorted(e.name for e in registry.shipped_models())
    assert headings.index("mnist-dense") > headings.index("gaussian") and headings.index("cifar-sp") > headings.index("salt-and-pepper")
    gaussian = result.stdout[result.stdout.index("\ngaussian"):]
    assert "noise-level input" in " ".join(gaussian.split())  # wrapped between words, never inside one
    assert "PSNR dB, bsd68: gauss2 " in gaussian and "multiply-adds per pixel" in gaussian


def test_the_readme_models_table_is_what_the_models_say():
    """The README's table is `denoise models --markdown` verbatim, so it cannot drift from the
    shipped files; it stays short (BSD68 only) and says what each model removes in a user's terms."""
    result = run_cli("models", "--markdown")
    assert result.returncode == 0, result.stderr
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert result.stdout in readme, "README.md's models table is out of date: paste `denoise models --markdown` into it"
    gaussian = next(line for line in result.stdout.splitlines() if line.startswith("| `gaussian`"))
    assert "Gaussian noise, std 0-55 grey levels" in gaussian and "png8_fraction" not in gaussian
    assert "set12" not in result.stdout and "SSIM" not in result.stdout


def test_a_user_model_s_noise_is_named_with_its_own_parameters():
    """A model trained on another noise (denoise-train's registered kinds) lists its parameters as
    its recipe gave them, integers as integers."""
    import dataclasses

    from denoise_cli import registry
    from denoise_cli.catalog import describe

    shipped = describe(registry.resolve("gaussian"))
    assert dataclasses.replace(shipped, noise={"kind": "poisson", "peak": 1000}).noise_label == "poisson, peak 1000"
    assert dataclasses.replace(shipped, noise={"kind": "speckle", "std": [0.1, 0.3]}).noise_label == "speckle, std 0.1-0.3"


def test_models_name_describes_one_model_in_full():
    """Every measured setting with its SSIM, in the benchmark's order, and the command that trains it."""
    result = run_cli("models", "default")
    assert result.returncode == 0, result.stderr
    described = json.loads(run_cli("models", "default", "--json").stdout)
    assert described["name"] == "photo" and "default" in described["aliases"]
    for key, value in described["description"]["scores"].items():
        if key.count("/") == 2:
            assert f"{value['denoised']['psnr']:.2f}" in result.stdout and f"{value['denoised']['ssim']:.3f}" in result.stdout
    table = result.stdout[result.stdout.index("PSNR dB"):]
    assert table.index("gauss2 ") < table.index("gauss15") < table.index("gauss50") < table.index("cameraXL") < table.index("cameraH") < table.index("clean")
    assert table.count("gauss25") == 1 and "set12 float" in table  # one row per setting, across sets and noise variants
    assert "denoise-train --recipe photo" in result.stdout and "texture" in result.stdout
    assert "black, white" not in result.stdout
    impulse = run_cli("models", "sp")  # how it treats black and white, where that is its own
    assert impulse.returncode == 0 and "black, white" in impulse.stdout and "4x4 squares" in impulse.stdout
    unknown = run_cli("models", "no-such-model")
    assert_clean_error(unknown)
    assert "unknown model 'no-such-model'" in unknown.stderr


@pytest.mark.parametrize("name", [m for m in __import__("denoise_cli.registry", fromlist=["x"]).shipped_models()], ids=lambda m: m.name)
def test_every_shipped_model_denoises_from_the_cli(tmp_path, name):
    _write(tmp_path / "digit.png", shape=(28, 28))
    result = run_cli(str(tmp_path / "digit.png"), "--model", name.name, "-o", str(tmp_path / "out.png"))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (28, 28)


def test_sp_says_when_a_picture_has_nothing_it_can_remove(tmp_path):
    """A photo with no pixel at exactly black or white comes back unchanged from `sp`: the user
    is told why, and the file is still written; a picture with impulses gets no such warning."""
    calm = np.random.default_rng(3).integers(20, 230, size=(40, 50), dtype=np.uint8)
    Image.fromarray(calm).save(tmp_path / "calm.png")
    noisy = calm.copy()
    noisy[::7, ::5] = 255
    Image.fromarray(noisy).save(tmp_path / "specks.png")
    result = run_cli(str(tmp_path / "calm.png"), str(tmp_path / "specks.png"), "-m", "sp", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "calm.png: salt-and-pepper changed no pixel" in result.stderr and "found none" in result.stderr
    assert "specks.png" not in result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "calm.png")), calm)
    Image.fromarray(noisy).save(tmp_path / "specks.jpg", quality=85)  # the impulses smeared: sp cannot see them
    jpeg = run_cli(str(tmp_path / "specks.jpg"), "-m", "sp", "-o", str(tmp_path / "out.jpg"))
    assert jpeg.returncode == 0, jpeg.stderr
    assert "specks.jpg: a JPEG, whose compression smears impulses" in jpeg.stderr and "-m sp-jpeg, trained on salt-and-pepper noise saved as JPEG" in jpeg.stderr
    assert run_cli(str(tmp_path / "specks.jpg"), "-m", "sp-jpeg", "-o", str(tmp_path / "out2.jpg")).stderr == ""  # the model it names takes it


def test_the_jpeg_impulse_model_cleans_a_compressed_speckled_picture(tmp_path):
    """`sp-jpeg` on salt and pepper saved as JPEG (the benchmark's spjpeg10, on a picture of
    its own): far closer to the clean picture than the input, and than `sp`, which finds
    almost no exact impulses left to fill."""
    from denoise_cli import Denoiser

    rng = np.random.default_rng(5)
    clean = np.asarray(Image.fromarray(rng.integers(60, 200, size=(24, 32), dtype=np.uint8)).resize((128, 96), Image.BICUBIC))
    specks = clean.copy()
    u = rng.random(clean.shape)
    specks[u < 0.05], specks[u > 0.95] = 0, 255
    Image.fromarray(specks).save(tmp_path / "specks.jpg", quality=85)
    noisy = np.asarray(Image.open(tmp_path / "specks.jpg"))

    def psnr(x):
        return 10 * np.log10(255**2 / np.mean((x.astype(float) - clean) ** 2))

    cleaned, sp = Denoiser("sp-jpeg", "cpu").denoise(noisy), Denoiser("sp", "cpu").denoise(noisy)
    assert psnr(cleaned) > psnr(noisy) + 10 and psnr(cleaned) > psnr(sp) + 6


def test_device_cuda_without_gpu_is_a_clear_error(tmp_path, identity_fixed):
    from denoise_cli.session import _cuda_works

    if _cuda_works():
        pytest.skip("this machine has a working CUDA GPU")
    _write(tmp_path / "a.png")
    result = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "--device", "cuda")
    assert_clean_error(result)
    assert "cuda" in result.stderr.lower()
    # our one sentence, without ONNX Runtime's own log of the library it could not load before it
    assert "ONNXRuntimeError" not in result.stderr and "provider_bridge" not in result.stderr


def _encoded(pixels: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_pipes_standard_input_to_standard_output(tmp_path, identity_fixed):
    pixels = np.random.default_rng(0).integers(0, 256, size=(30, 40), dtype=np.uint8)
    filtered = run_cli_piped("-", "-m", str(identity_fixed), stdin=_encoded(pixels, "PNG"))
    assert filtered.returncode == 0, filtered.stderr
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(filtered.stdout))), pixels)  # stdout holds the image alone
    assert "<stdin> -> <stdout> (40x30" in filtered.stderr.decode()
    colour = np.random.default_rng(1).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    as_jpeg = run_cli_piped("-", "-o", "-", "-m", str(identity_fixed), stdin=_encoded(colour, "JPEG", quality=90))
    assert as_jpeg.returncode == 0 and Image.open(io.BytesIO(as_jpeg.stdout)).format == "JPEG"  # the input's format
    as_webp = run_cli_piped("-", "-f", "webp", "-q", "-m", str(identity_fixed), stdin=_encoded(colour, "JPEG"))
    assert as_webp.returncode == 0 and Image.open(io.BytesIO(as_webp.stdout)).format == "WEBP" and as_webp.stderr == b""
    to_file = run_cli_piped("-", "-o", str(tmp_path / "clean.png"), "--json", "-m", str(identity_fixed), stdin=_encoded(pixels, "PNG"))
    assert to_file.returncode == 0, to_file.stderr
    assert json.loads(to_file.stdout)["files"][0]["source"] == "<stdin>"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "clean.png")), pixels)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    from_file = run_cli_piped(str(tmp_path / "photo.png"), "-o", "-", "-m", str(identity_fixed), stdin=b"")
    assert from_file.returncode == 0 and np.array_equal(np.asarray(Image.open(io.BytesIO(from_file.stdout))), pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.png", "photo.png"]  # nothing left beside


@pytest.mark.parametrize("args, stdin, says", [
    (["-"], b"not an image at all", "<stdin>: not an image Pillow can read"),
    (["-"], b"", "<stdin>: empty"),
    (["-", "other.png"], b"", "- (standard input) takes one image"),
    (["a.png", "b.png", "-o", "-"], b"", "-o - (standard output) takes one image"),
    (["-", "--json"], b"PNG", "--json prints on standard output"),
    (["-"], "TGA", "TGA is read, not written: choose a --format"),
    (["-", "-f", "jpeg"], "16-bit", "<stdout>: JPEG cannot store this"),
], ids=["garbage", "empty", "two-inputs", "two-to-stdout", "json-on-stdout", "unwritable-format", "lossy-format"])
def test_pipes_refuse_what_cannot_work_and_send_nothing(tmp_path, identity_fixed, args, stdin, says):
    pixels = np.random.default_rng(0).integers(0, 256, size=(30, 40), dtype=np.uint8)
    if stdin == "TGA":
        stdin = _encoded(pixels, "TGA")
    elif stdin == "16-bit":
        stdin = _encoded(pixels.astype(np.uint16) * 257, "PNG")
    elif stdin == b"PNG":
        stdin = _encoded(pixels, "PNG")
    result = run_cli_piped(*args, "-m", str(identity_fixed), stdin=stdin, cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in stderr and result.stdout == b""
    assert says in stderr and str(tmp_path) not in stderr  # the pipe's name, not the spooled file's


def test_pipes_refuse_a_terminal_at_either_end(tmp_path):
    from denoise_cli.errors import DenoiseError
    from denoise_cli.stdio import plan_piped_job

    with pytest.raises(DenoiseError, match="standard input is a terminal"):
        plan_piped_job(["-"], tmp_path / "out.png", None, tmp_path, stdin_is_terminal=True)
    with pytest.raises(DenoiseError, match="standard output is a terminal"):
        plan_piped_job(["-"], None, None, tmp_path, stdout_is_terminal=True)


def test_a_pipe_closed_early_is_one_error_line(tmp_path, identity_fixed):
    import subprocess
    import sys

    noise = np.random.default_rng(0).integers(0, 256, size=(1500, 1500), dtype=np.uint8)  # 2.25 MB: far over a pipe's buffer
    Image.fromarray(noise).save(tmp_path / "big.png")
    reader = subprocess.Popen([sys.executable, "-m", "denoise_cli.cli", str(tmp_path / "big.png"), "-o", "-", "-m", str(identity_fixed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.read(8) == b"\x89PNG\r\n\x1a\n"
    reader.stdout.close()  # like `| head -c 8`
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 1
    assert "<stdout>: the reading end of the pipe closed" in stderr and "Traceback" not in stderr and "Exception" not in stderr


def test_info_says_what_this_installation_can_do():
    from importlib import util

    from denoise_cli import registry
    from denoise_cli.session import _cuda_works

    facts = json.loads(run_cli("info", "--json").stdout)
    assert facts["device auto"] == ("cuda" if _cuda_works() else "cpu")
    assert facts["models"]["default"] == registry.default_model_name() and facts["models"]["shipped"] == len(registry.shipped_models())
    heic = util.find_spec("pillow_heif") is not None
    assert ("HEIC" in facts["formats"]) == heic and ("HEIC" in facts["formats missing"]) == (not heic)
    assert "onnxruntime" in " ".join(facts["packages"]) and facts["cpu cores"] >= 1
    assert ("imagecodecs" in facts["packages"]) == (util.find_spec("imagecodecs") is not None)  # the optional codecs, for bug reports
    plain = run_cli("info")
    assert plain.returncode == 0 and "device auto:" in plain.stdout and "formats:" in plain.stdout


def test_a_dry_run_shows_the_plan_and_touches_nothing(tmp_path, identity_fixed):
    _write(tmp_path / "scans" / "a.png")
    _write(tmp_path / "scans" / "sub" / "b.png", seed=1)
    _write(tmp_path / "scans_denoised" / "a.png", seed=2)  # an earlier output
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_cli("scans", "-r", "-n", "-m", str(identity_fixed), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "scans/sub/b.png -> scans_denoised/sub/b.png" in result.stdout and "scans_denoised/a.png: exists already" in result.stderr
    assert "dry run, nothing read or written: 1 to denoise, 1 to skip, 0 failed" in result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no file, no folder
    planned = json.loads(run_cli("scans", "-r", "--dry-run", "--json", "--overwrite", "-m", str(identity_fixed), cwd=tmp_path).stdout)
    assert planned["dry_run"] is True and planned["counts"] == {"planned": 2, "ok": 0, "skipped": 0, "failed": 0}
    bad_model = run_cli("scans", "-n", "-m", "no-such-model", cwd=tmp_path)
    assert_clean_error(bad_model)  # the model is checked, as a real run would
    for output, says in (("missing/out.png", "the output folder missing does not exist"), ("out.xyz", "unknown image extension")):
        refused = run_cli("scans/a.png", "-n", "-o", output, "-m", str(identity_fixed), cwd=tmp_path)
        assert_clean_error(refused)
        assert says in refused.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_disk_is_one_error_line(tmp_path, identity_fixed):
    import subprocess
    import sys

    _write(tmp_path / "a.png")
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "denoise_cli.cli", str(tmp_path / "a.png"), "-o", "-", "-m", str(identity_fixed)],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1 and "<stdout>: cannot write (No space left on device)" in result.stderr and "Traceback" not in result.stderr


def test_environment_variables_set_the_model_device_and_threads(tmp_path, identity_fixed):
    """For a server or a shell profile: DENOISE_MODEL, DENOISE_DEVICE and DENOISE_THREADS stand
    for the options, and an option on the command line wins."""
    _write(tmp_path / "a.png")
    env = {"DENOISE_MODEL": str(identity_fixed), "DENOISE_DEVICE": "cpu", "DENOISE_THREADS": "1"}
    from_env = json.loads(run_cli("a.png", "--json", "-n", cwd=tmp_path, env=env).stdout)
    assert from_env["model"] == "identity-fixed" and from_env["device"] == "cpu"
    assert json.loads(run_cli("a.png", "--json", "-n", "-m", "sp", cwd=tmp_path, env=env).stdout)["model"] == "salt-and-pepper"
    for name, bad in (("DENOISE_THREADS", "0"), ("DENOISE_DEVICE", "gpu")):  # read, and checked as the options are
        assert name in run_cli("a.png", "-n", cwd=tmp_path, env={**env, name: bad}).stderr
    stale = run_cli("a.png", "-n", cwd=tmp_path, env={**env, "DENOISE_MODEL": "old-model"})  # a model no longer there
    assert stale.returncode == 1 and "unknown model 'old-model'" in stale.stderr
    assert "DENOISE_MODEL=old-model is set in the environment." in stale.stderr  # else it names a model never typed
    assert "DENOISE_DEVICE" not in stale.stderr
    typed = run_cli("a.png", "-n", "-m", "old-model", cwd=tmp_path, env=env)
    assert "unknown model 'old-model'" in typed.stderr and "environment" not in typed.stderr



def test_shell_completion_offers_the_model_names():
    """Through the shell's completion protocol, as `--install-completion` sets it up for bash."""
    import subprocess
    import sys

    def complete(words: str) -> list[str]:
        env = cli_env(COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1), _DENOISE_COMPLETE="complete_bash")
        script = Path(sys.executable).parent / "denoise"  # the installed console script: completion keys on its name
        return subprocess.run([str(script)], env=env, capture_output=True, text=True).stdout.split()

    assert complete("denoise run x.png --model mnist-conv-b") == ["mnist-conv-bn"]
    assert "photo" in complete("denoise models ph") and "default" in complete("denoise x.png -m d")


def test_a_multi_page_tiff_says_how_many_pages(tmp_path, identity_fixed):
    pages = [Image.fromarray(np.random.default_rng(k).integers(0, 256, (30, 40), dtype=np.uint8)) for k in range(4)]
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    line = run_cli(str(tmp_path / "scan.tif"), "-m", str(identity_fixed))
    assert line.returncode == 0 and "(40x30, 4 pages, " in line.stdout
    summary = json.loads(run_cli(str(tmp_path / "scan.tif"), "-m", str(identity_fixed), "--json", "--overwrite").stdout)
    assert summary["files"][0]["pages"] == 4


def test_help_names_every_options_value_as_the_readme_does():
    """typer 0.29 labels a value by its Python type (<str>, <int range>, <path>) unless told a
    metavar; the README's options table and these help pages say PATH, NAME, N, FLOAT, TEXT."""
    from typer.testing import CliRunner

    from denoise_cli.cli import app

    for command in (["run", "-h"], ["models", "-h"]):
        page = CliRunner().invoke(app, command, env={"COLUMNS": "200"}).output
        options = [line for line in page.splitlines() if line.lstrip().startswith("-")]
        assert options and not [line for line in options if "<" in line.lstrip().split("  ")[0]], page
    usage = CliRunner().invoke(app, ["run", "-h"], env={"COLUMNS": "200"}).output.splitlines()[0]
    assert re.search(r"run \[OPTIONS\] \{?INPUT\b", usage), usage  # typer 0.29: {INPUT}..., 0.20: INPUT; not {inputs}...


def test_quality_given_for_an_output_without_one_is_said_once(tmp_path, identity_fixed):
    """--quality compresses JPEG, WebP, AVIF, HEIC and JPEG XL; for a PNG it would do nothing, unsaid."""
    for name in ("a.png", "b.png"):
        _write(tmp_path / name)
    png = run_cli(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-m", str(identity_fixed), "-o", str(tmp_path / "out"), "--quality", "50")
    assert png.returncode == 0, png.stderr
    assert png.stderr.count("--quality 50 applies to JPEG, WebP, AVIF, HEIC and JPEG XL outputs; PNG is written losslessly") == 1
    jpeg = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "-o", str(tmp_path / "a.jpg"), "--quality", "50")
    default = run_cli(str(tmp_path / "a.png"), "-m", str(identity_fixed), "-o", str(tmp_path / "c.png"))
    assert jpeg.returncode == default.returncode == 0 and "warning" not in jpeg.stderr + default.stderr
