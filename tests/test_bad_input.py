"""Bad input: one clear sentence on stderr naming the file, no traceback, a non-zero exit; a
batch goes on with the other files and sums up what failed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_clean_error, batch_options, run_cli


def _png(path, shape=(20, 20)):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)).save(path)


@pytest.fixture
def corpus(tmp_path):
    """One good image and every kind of bad file."""
    _png(tmp_path / "good.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, I am not an image")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(buf, format="PNG")
    (tmp_path / "truncated.png").write_bytes(buf.getvalue()[:60])
    _png(tmp_path / "huge.png", shape=(300, 300))
    return tmp_path


@pytest.mark.parametrize("name,phrase", [
    ("empty.png", "not an image"),
    ("text.png", "not an image"),
    ("truncated.png", "truncated.png"),
    ("missing.png", "no such file"),
])
def test_bad_single_file(corpus, identity_fixed, name, phrase):
    result = run_cli(str(corpus / name), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert phrase in result.stderr and name in result.stderr


def test_too_many_pixels(corpus, identity_fixed):
    result = run_cli(str(corpus / "huge.png"), "-m", str(identity_fixed), "--max-pixels", "10000")
    assert_clean_error(result)
    assert "--max-pixels" in result.stderr and "the limit of 10,000 pixels" in result.stderr  # not "0.01 megapixels"


def test_batch_goes_on_and_sums_up(corpus, identity_fixed):
    result = run_cli(str(corpus), "-m", str(identity_fixed), "--max-pixels", "10000", "-o", str(corpus.parent / "out"), "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"ok": 1, "skipped": 0, "failed": 4}
    assert "1 denoised, 0 skipped, 4 failed" in result.stderr
    assert (corpus.parent / "out" / "good.png").exists()
    assert sorted(p.name for p in (corpus.parent / "out").iterdir()) == ["good.png"]  # nothing half-written
    quiet = run_cli(str(corpus), "-m", str(identity_fixed), "--max-pixels", "10000", "-o", str(corpus.parent / "quiet"), "-q")
    assert quiet.returncode == 1 and "0 skipped, 4 failed" in quiet.stderr  # --quiet still sums up failures


def test_a_batch_that_writes_nothing_leaves_no_empty_output_folder(tmp_path, identity_fixed):
    """A folder of unreadable files left an empty FOLDER_denoised/ behind, and a sub-folder whose
    files all failed an empty mirror of it; a folder that was there before is left alone."""
    (tmp_path / "bad" / "deep" / "deeper").mkdir(parents=True)
    for name in ("a.png", "deep/b.png", "deep/deeper/c.png"):
        (tmp_path / "bad" / name).write_text("not an image")
    result = run_cli(str(tmp_path / "bad"), "-r", "-m", str(identity_fixed))
    assert result.returncode == 1 and "0 denoised, 0 skipped, 3 failed" in result.stderr
    assert not (tmp_path / "bad_denoised").exists()
    _png(tmp_path / "bad" / "good.png")
    result = run_cli(str(tmp_path / "bad"), "-r", "-o", str(tmp_path / "out" / "new"), "-m", str(identity_fixed))
    assert result.returncode == 1 and "1 denoised, 0 skipped, 3 failed" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "new").iterdir()) == ["good.png"]  # no empty deep/ nor deep/deeper/
    (tmp_path / "kept").mkdir()
    run_cli(str(tmp_path / "bad" / "deep"), "-o", str(tmp_path / "kept"), "-m", str(identity_fixed))
    assert (tmp_path / "kept").is_dir()


def test_a_file_without_an_image_extension(corpus, identity_fixed):
    """notes.txt is named as no image, not by the output name notes_denoised.txt it would get;
    an image under a foreign extension is told to choose a --format, and then goes through."""
    (corpus / "notes.txt").write_text("shopping list")
    result = run_cli(str(corpus / "notes.txt"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "notes.txt: not an image" in result.stderr and "notes_denoised" not in result.stderr

    (corpus / "scan.dat").write_bytes((corpus / "good.png").read_bytes())
    result = run_cli(str(corpus / "scan.dat"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "unknown image extension '.dat'" in result.stderr and "--format" in result.stderr
    result = run_cli(str(corpus / "scan.dat"), "-m", str(identity_fixed), "--format", "png")
    assert result.returncode == 0, result.stderr
    Image.open(corpus / "good.png").save(corpus / "logo.tga")  # a format Pillow reads but does not write: said as such
    result = run_cli(str(corpus / "logo.tga"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "logo_denoised.tga: TGA is read, not written; use .png" in result.stderr and "--format" in result.stderr
    assert (corpus / "scan_denoised.png").exists()

    result = run_cli(str(corpus / "good.png"), "-o", str(corpus / "clean"), "-m", str(identity_fixed))  # a file or a folder?
    assert_clean_error(result)
    assert (f"{corpus / 'clean'}: no extension to tell the image format; name it clean.png (or .jpg, .tif, ...), choose a --format, "
            "or end it with / for a folder.") in result.stderr
    assert not (corpus / "clean").exists()


def test_camera_raw_files_are_named_not_misread(tmp_path, identity_fixed):
    """Pillow opens some raw files (TIFF inside) and would read their small preview: a raw file
    named on the command line is refused with what to do instead, and a folder's are counted."""
    (tmp_path / "shoot").mkdir()
    _png(tmp_path / "preview.png")
    for name in ("IMG_0001.CR2", "IMG_0002.dng"):  # what Pillow would read is beside the point: the suffix decides
        (tmp_path / "shoot" / name).write_bytes((tmp_path / "preview.png").read_bytes())
    result = run_cli(str(tmp_path / "shoot" / "IMG_0002.dng"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "IMG_0002.dng: a camera raw file" in result.stderr and "export it from your raw developer" in result.stderr
    assert not (tmp_path / "shoot" / "IMG_0002_denoised.dng").exists()
    only_raw = run_cli(str(tmp_path / "shoot"), "-m", str(identity_fixed))
    assert_clean_error(only_raw)
    assert "2 camera raw files passed over" in only_raw.stderr and "no images to denoise" in only_raw.stderr
    _png(tmp_path / "shoot" / "IMG_0003.png")
    mixed = run_cli(str(tmp_path / "shoot"), "-m", str(identity_fixed))
    assert mixed.returncode == 0 and "2 camera raw files passed over" in mixed.stderr
    assert sorted(p.name for p in (tmp_path / "shoot_denoised").iterdir()) == ["IMG_0003.png"]


def test_pictures_in_formats_read_but_not_written_are_counted_and_taken_with_a_format(tmp_path, identity_fixed):
    """A folder of a game's TGA textures was "no images to denoise"; they are read, but their
    format is not written, so without -f they are counted and the way to them said, and with -f
    they are denoised into that format."""
    (tmp_path / "textures").mkdir()
    pixels = np.random.default_rng(3).integers(0, 256, size=(20, 30), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "textures" / "wall.tga")
    Image.fromarray(pixels).save(tmp_path / "textures" / "floor.pcx")
    said = run_cli(str(tmp_path / "textures"), "-m", str(identity_fixed))
    assert_clean_error(said)
    assert ("2 pictures in formats denoise reads but does not write (PCX, TGA) passed over: add -f png (or another format it "
            "writes) to denoise them too.") in said.stderr and "no images to denoise" in said.stderr
    taken = run_cli(str(tmp_path / "textures"), "-m", str(identity_fixed), "-f", "png")
    assert taken.returncode == 0, taken.stderr
    assert sorted(p.name for p in (tmp_path / "textures_denoised").iterdir()) == ["floor.png", "wall.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "textures_denoised" / "wall.png")), pixels)
    Image.fromarray(pixels).save(tmp_path / "textures" / "floor.tga")  # two outputs floor.png: -f is what takes them, so not "leave out -f"
    clash = run_cli(str(tmp_path / "textures"), "-m", str(identity_fixed), "-f", "png", "-o", str(tmp_path / "again"))
    assert "(pictures that differ only by extension: give each its own -o)" in clash.stderr


def test_a_file_name_with_brackets_is_printed_as_it_is(tmp_path, identity_fixed):
    """Messages go through rich on stderr; "[red]" in a file name is a name, not markup."""
    (tmp_path / "scan [red].png").write_text("not an image")
    _png(tmp_path / "shot [1].png")
    result = run_cli(str(tmp_path / "scan [red].png"), str(tmp_path / "shot [1].png"), "-m", str(identity_fixed))
    assert "scan [red].png: not an image" in result.stderr
    assert "failed: " + str(tmp_path / "scan [red].png") in result.stderr


def test_names_the_terminal_cannot_encode_are_printed_as_escapes(tmp_path, identity_fixed):
    """A Japanese name on a console or log in a Western code page, or a name whose bytes are no
    UTF-8 on a UTF-8 one: the run goes on and says which file, escaped; it ended in a
    UnicodeEncodeError traceback after the first picture."""
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "\u65e5\u672c.png")
    _png(folder / os.fsdecode(b"caf\xe9.png"))  # Latin-1 bytes: no UTF-8
    for encoding in ("ascii", "utf-8"):
        result = run_cli(str(folder), "-m", str(identity_fixed), "-o", str(tmp_path / encoding), env={"PYTHONIOENCODING": encoding})
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "caf\\udce9.png ->" in result.stdout
        assert ("\\u65e5\\u672c.png ->" if encoding == "ascii" else "\u65e5\u672c.png ->") in result.stdout
        assert "2 denoised" in result.stdout + result.stderr


def test_a_name_with_a_newline_or_an_escape_sequence_stays_one_line_of_text(tmp_path, identity_fixed):
    """A newline in a file name split its output line in two for a script reading them, and an
    escape sequence in one went to the terminal as a command (colours, a cleared screen). Both
    are printed as escapes, as ls quotes them; the JSON summary keeps the names as they are."""
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "a\nb.png")
    (folder / "e\x1b[2Jvil.png").write_text("not an image")
    result = run_cli(str(folder), "-m", str(identity_fixed), "-o", str(tmp_path / "out"))
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{folder}/a\\nb.png -> {tmp_path}/out/a\\nb.png (20x20, ")
    assert "\x1b" not in result.stderr and f"error: {folder}/e\\x1b[2Jvil.png: not an image" in result.stderr
    assert "  failed: " + f"{folder}/e\\x1b[2Jvil.png" in result.stderr
    summary = json.loads(run_cli(str(folder), "-m", str(identity_fixed), "-o", str(tmp_path / "again"), "--json").stdout)
    assert sorted(Path(f["source"]).name for f in summary["files"]) == ["a\nb.png", "e\x1b[2Jvil.png"]


def test_unwritable_output(corpus, identity_fixed, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a permission allows; /proc refuses new files
        target = "/proc/denoise-cli-test.png"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = str(locked / "x.png")
    result = run_cli(str(corpus / "good.png"), "-m", str(identity_fixed), "-o", target)
    assert_clean_error(result)
    assert "denoise-cli-test.png" in result.stderr or "x.png" in result.stderr


def test_output_folder_missing_for_single_file(corpus, identity_fixed):
    result = run_cli(str(corpus / "good.png"), "-m", str(identity_fixed), "-o", str(corpus / "nope" / "x.png"))
    assert_clean_error(result)
    assert "does not exist" in result.stderr


def test_output_is_a_file_when_a_folder_is_needed(corpus, identity_fixed):
    result = run_cli(str(corpus), "-m", str(identity_fixed), "-o", str(corpus / "good.png"))
    assert_clean_error(result)
    looks_like_a_file = run_cli(str(corpus / "good.png"), str(corpus / "huge.png"), "-m", str(identity_fixed), "-o", str(corpus / "both.png"))
    assert_clean_error(looks_like_a_file)
    assert "looks like an image file's name" in looks_like_a_file.stderr and not (corpus / "both.png").exists()


def test_unknown_model_and_missing_model_file(corpus):
    result = run_cli(str(corpus / "good.png"), "--model", "no-such-model")
    assert_clean_error(result)
    assert "unknown model 'no-such-model'" in result.stderr
    result = run_cli(str(corpus / "good.png"), "--model", str(corpus / "nope.onnx"))
    assert_clean_error(result)
    assert "does not exist" in result.stderr
    result = run_cli(str(corpus / "good.png"), "--model", str(corpus))
    assert_clean_error(result)
    assert "is a folder; give the path to a .onnx file" in result.stderr


def test_not_an_onnx_model_and_model_without_description(corpus, models_dir):
    fake = corpus / "fake.onnx"
    fake.write_bytes(b"garbage")
    result = run_cli(str(corpus / "good.png"), "--model", str(fake))
    assert_clean_error(result)
    assert "fake.onnx: not an ONNX model" in result.stderr
    (corpus / "weights.bin").write_bytes(b"garbage")  # a file in the current folder, named without a folder or .onnx
    result = run_cli("good.png", "--model", "weights.bin", cwd=corpus)
    assert_clean_error(result)
    assert "weights.bin: not an ONNX model" in result.stderr and "unknown model" not in result.stderr
    (corpus / "checkpoint.pt").write_bytes(b"PK\x03\x04")  # what a user tries first: the training's own file
    result = run_cli("good.png", "--model", "checkpoint.pt", cwd=corpus)
    assert_clean_error(result)
    assert ("checkpoint.pt is a PyTorch file, not an ONNX model: export the network with torch.onnx.export, then give it its "
            "description with denoise-train describe") in result.stderr
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)])
    bare = corpus / "bare.onnx"
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, str(bare))
    result = run_cli(str(corpus / "good.png"), "--model", str(bare))
    assert_clean_error(result)
    assert "no denoise-cli description" in result.stderr
    proto.ir_version = 99  # from an onnx newer than this ONNX Runtime: the reason, not C++ source locations, fits the sentence
    onnx.save(proto, str(corpus / "new.onnx"))
    result = run_cli(str(corpus / "good.png"), "--model", str(corpus / "new.onnx"))
    assert_clean_error(result)
    assert "new.onnx: ONNX Runtime cannot load it (" in result.stderr and "Unsupported model IR version: 99" in result.stderr
    assert "onnxruntime_src" not in result.stderr


def test_no_images_in_folder(tmp_path, identity_fixed):
    (tmp_path / "empty").mkdir()
    result = run_cli(str(tmp_path / "empty"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "no images" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_a_device_given_as_a_file_is_one_sentence(tmp_path, identity_fixed):
    """A named pipe (or bash's <(...), or /dev/zero) is bytes to read once, with nothing to write
    beside it: one sentence that points at standard input, whatever -o is, and no hang. With -o
    out.png it said that -o must name a folder, as if several inputs had been given."""
    os.mkfifo(tmp_path / "fifo.png")
    for args in ([str(tmp_path / "fifo.png"), "-o", str(tmp_path / "out.png")], [str(tmp_path / "fifo.png"), "-o", "-"], [os.devnull]):
        result = run_cli(*args, "-m", str(identity_fixed), timeout=60)
        assert_clean_error(result)
        assert f"{args[0]}: not a regular file (a pipe or a device); send its bytes to standard input instead: denoise - < {args[0]}" in result.stderr
        assert "several inputs" not in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_overwrite_never_replaces_a_pipe_or_a_device(tmp_path, identity_fixed):
    """--overwrite renamed the output over a named pipe (as root, it would have replaced /dev/null
    itself); now refused before any work, through a symbolic link too, and by the writer itself."""
    from denoise_cli.atomic import write_atomically
    from denoise_cli.errors import DenoiseError

    _png(tmp_path / "in.png")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "link.png").symlink_to("pipe.png")
    for target in ("pipe.png", "link.png"):
        result = run_cli(str(tmp_path / "in.png"), "-o", str(tmp_path / target), "--overwrite", "-m", str(identity_fixed))
        assert_clean_error(result)
        assert f"{target}: not a regular file (a pipe or a device), which denoise does not replace" in result.stderr
    with pytest.raises(DenoiseError, match="not a regular file"):
        write_atomically(tmp_path / "pipe.png", lambda f: f.write(b"x"), overwrite=True)
    assert (tmp_path / "pipe.png").is_fifo() and (tmp_path / "link.png").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "link.png", "pipe.png"]  # no temporary file left


def test_unknown_glob_and_bad_option_values(tmp_path, identity_fixed):
    result = run_cli(str(tmp_path / "*.png"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "no image matches this pattern." in result.stderr
    _png(tmp_path / "IMG_0001.JPG")  # as cameras name them
    result = run_cli(str(tmp_path / "*.jpg"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "no image matches this pattern (patterns are case-sensitive; 1 matches with the case ignored, e.g. IMG_0001.JPG)" in result.stderr
    result = run_cli("img_0001.jpg", "-m", str(identity_fixed), cwd=tmp_path)
    assert_clean_error(result)
    assert "img_0001.jpg: no such file or folder (names are case-sensitive; did you mean IMG_0001.JPG?)" in result.stderr
    result = run_cli(str(tmp_path / "x.png"), "--format", "xyz")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "'xyz' is not one of png, jpeg," in result.stderr
    # a URL, whose query would read as a glob: how to pipe it in, not "no image matches this pattern"
    result = run_cli("https://example.com/shots/IMG_1.JPG?dl=1", "-m", str(identity_fixed), cwd=tmp_path)
    assert_clean_error(result)
    assert ("https://example.com/shots/IMG_1.JPG?dl=1: a URL; denoise reads files and standard input, so download it first or pipe it "
            "in: curl -sL 'https://example.com/shots/IMG_1.JPG?dl=1' | denoise - -o clean.jpg") in result.stderr
    result = run_cli("C://photos/x.png", "-m", str(identity_fixed), cwd=tmp_path)  # a Windows drive, no URL scheme
    assert "C://photos/x.png: no such file or folder." in result.stderr


def test_an_unreadable_folder_is_one_problem_and_the_others_go_on(tmp_path, monkeypatch):
    """(Root reads every folder, so the refusal is simulated where the folder is listed.)"""
    from pathlib import Path

    from denoise_cli.jobs import plan_jobs

    _png(tmp_path / "good.png")
    (tmp_path / "locked").mkdir()
    listing = Path.iterdir

    def iterdir(folder):
        if folder.name == "locked":
            raise PermissionError(13, "Permission denied", str(folder))
        return listing(folder)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    plan = plan_jobs([str(tmp_path / "locked"), str(tmp_path / "good.png")], tmp_path / "out")
    assert plan.problems == [f"{tmp_path / 'locked'}: cannot list the folder (Permission denied)."]
    assert [job.source.name for job in plan.jobs] == ["good.png"]


def test_empty_names_a_slashed_suffix_and_too_many_threads(tmp_path, identity_fixed):
    """An unset shell variable gives an empty name, which Path() reads as the current folder: an
    empty input or -o is refused, not taken as `.`; a --suffix with a slash is refused before any
    work; --threads beyond the cores is capped (ONNX Runtime crawls when oversubscribed)."""
    _png(tmp_path / "a.png")
    empty_input = run_cli("", "-m", str(identity_fixed), cwd=tmp_path)
    assert_clean_error(empty_input)
    assert "an input is empty" in empty_input.stderr and not (tmp_path.parent / f"{tmp_path.name}_denoised").exists()
    empty_output = run_cli("a.png", "-o", "", "-m", str(identity_fixed), cwd=tmp_path)
    assert_clean_error(empty_output)
    assert "-o is empty" in empty_output.stderr
    slashed = run_cli("a.png", "--suffix", "/clean", "-m", str(identity_fixed), cwd=tmp_path)
    assert_clean_error(slashed)
    assert "--suffix '/clean' holds a path separator" in slashed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    many = run_cli("a.png", "--threads", "512", "-m", str(identity_fixed), cwd=tmp_path)
    assert many.returncode == 0 and "--threads 512:" in many.stderr and (tmp_path / "a_denoised.png").exists()


# EXIF blocks damaged at random bytes (found by fuzzing a camera's EXIF): Pillow reads them with
# UserWarnings, and raised on writing them back (ImageOps.exif_transpose, Exif.tobytes).
DAMAGED_EXIF_TURNED = bytes.fromhex(
    "4578696600004d4d002a00000008000501540002000000060000004a0110000200000004454f530001120003000000010006000087690004000000010000"
    "005090030002000000145000007a0000000043616e6f6e000003829a00030000000200010064a002000300000001d62800001003000300000001201e0000"
    "00000000323032303a30313a30312030303a30303a303000")
DAMAGED_EXIF_UNWRITABLE = bytes.fromhex(
    "4578696600004d4d002a000000080005011f0002000000060000004a0110000200d90004454f53007c12000300000001000600008769000400000001000000"
    "5090030002000000140000007a0000000043616e6f6e000003829a00030000000200010064a00200030000000100280000a003000300000072001e00000000"
    "0000323032303a30313a30312030303a30303a303000")


def test_a_photo_with_damaged_exif_is_denoised(tmp_path, identity_fixed):
    """Damaged EXIF costs the EXIF at most, never the picture, and Pillow's own warnings do not
    reach the user as file:line lines that read like a crash."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=DAMAGED_EXIF_TURNED)
    Image.fromarray(pixels).save(tmp_path / "unwritable.jpg", exif=DAMAGED_EXIF_UNWRITABLE)
    result = run_cli(str(tmp_path / "turned.jpg"), str(tmp_path / "unwritable.jpg"), "-m", str(identity_fixed))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr
    turned = Image.open(tmp_path / "turned_denoised.jpg")
    assert turned.size == (30, 40) and turned.getexif().get(0x0112) == 1  # upright, and says so
    assert "unwritable.jpg: its EXIF is damaged and cannot be written back" in result.stderr
    assert not Image.open(tmp_path / "unwritable_denoised.jpg").getexif()


@pytest.mark.skipif(not __import__("PIL.features", fromlist=["check"]).check("avif"), reason="this Pillow has no AVIF support")
def test_a_damaged_avif_is_one_error_line(tmp_path, identity_fixed):
    """Pillow's AVIF decoder raises RuntimeError, which no other format does."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(buffer, format="AVIF")
    damaged = bytearray(buffer.getvalue())
    damaged[81] ^= 0xFF  # inside the file's item table: "Missing or empty image item"
    (tmp_path / "damaged.avif").write_bytes(bytes(damaged))
    result = run_cli(str(tmp_path / "damaged.avif"), "-m", str(identity_fixed))
    assert_clean_error(result)
    assert "damaged.avif: " in result.stderr  # "cannot read the image (Failed to decode image: ...)" with this libavif


def test_a_model_that_fails_at_run_time_fails_that_image_alone(tmp_path):
    """A user's model whose description promises tiles of any size, while its graph takes only
    28x28: ONNX Runtime's error is one line for the image, and the batch goes on to the end."""
    from onnx import helper, numpy_helper

    from conftest import build_model, describe

    shape = numpy_helper.from_array(np.array([1, 1, 28, 28], dtype=np.int64), "shape")
    model = build_model(tmp_path / "promises-too-much.onnx", [helper.make_node("Reshape", ["input", "shape"], ["output"])], [shape],
                        describe("promises-too-much", fixed_size=False, receptive_field=1, tile_size=32))
    _png(tmp_path / "a.png", shape=(40, 40))
    _png(tmp_path / "b.png", shape=(50, 50))
    result = run_cli(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-m", str(model))
    assert_clean_error(result)
    assert result.stderr.count("ONNX Runtime failed on a batch of tiles") >= 2 and "0 denoised, 0 skipped, 2 failed" in result.stderr


@pytest.mark.parametrize("method,error,message", [
    ("denoise_image", MemoryError(), "big.png: not enough memory to denoise it"),
    # a bug that escapes (ours, or a codec's exception of an unforeseen type) while reading
    ("load_file", KeyError("no such tag"), "big.png: unexpected KeyError ('no such tag'); this is a bug, please report it with the file"),
])
def test_an_image_that_fails_in_an_unforeseen_way_fails_alone(tmp_path, identity_fixed, monkeypatch, capsys, method, error, message):
    """(In-process, with the model made to run out of memory, or the reader to fail, on the
    larger image.) That file is one error line; the batch goes on with the others."""
    from denoise_cli import batch
    from denoise_cli.api import Denoiser

    _png(tmp_path / "big.png", shape=(60, 60))
    _png(tmp_path / "small.png")
    works = getattr(Denoiser, method)

    def fails_on_the_big_one(self, first, *args, **kwargs):
        if getattr(first, "width", None) == 60 or getattr(first, "name", None) == "big.png":
            raise error
        return works(self, first, *args, **kwargs)

    monkeypatch.setattr(Denoiser, method, fails_on_the_big_one)
    options = batch_options([tmp_path / "big.png", tmp_path / "small.png"], tmp_path / "out", identity_fixed)
    assert batch.run_batch(options, batch.Reporter(quiet=True, json_summary=False)) == 1
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small.png"]


@pytest.mark.parametrize("folder", ["read-only", "full"])
def test_a_folder_that_cannot_be_written_is_refused_before_the_work(tmp_path, identity_fixed, monkeypatch, capsys, folder):
    """Photos on a read-only card or share, or on a full one, denoised beside themselves: each is
    refused at once, not after the model's minutes on it; a dry run says so too. (In-process:
    root writes in every folder, so the read-only file system is simulated where files are
    created, and the full disk where free space is asked.)"""
    import dataclasses
    import errno
    import os

    from denoise_cli import atomic, batch
    from denoise_cli.api import Denoiser

    card = tmp_path / "card"
    card.mkdir()
    _png(card / "a.png")
    _png(card / "b.png", shape=(50, 40))
    create, access, free = os.open, os.access, atomic._free_bytes

    def read_only(path, flags, *args, **kwargs):
        if os.path.dirname(os.fspath(path)) == str(card) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return create(path, flags, *args, **kwargs)

    if folder == "read-only":
        monkeypatch.setattr(os, "open", read_only)
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if os.fspath(path) == str(card) else access(path, mode, **kw))
    else:
        monkeypatch.setattr(atomic, "_free_bytes", lambda path: 0 if os.fspath(path) == str(card) else free(path))
    worked = []
    monkeypatch.setattr(Denoiser, "denoise_image", lambda self, image, progress=None: worked.append(image))
    options = dataclasses.replace(batch_options([card / "a.png", card / "b.png"], tmp_path, identity_fixed), output=None)
    assert batch.run_batch(options, batch.Reporter(quiet=True, json_summary=False)) == 1
    said = capsys.readouterr().err
    assert worked == [] and "0 denoised, 0 skipped, 2 failed" in said
    why = {"read-only": os.strerror(errno.EROFS), "full": os.strerror(errno.ENOSPC)}[folder]
    assert f"{card / 'a_denoised.png'}: cannot write ({why})." in said
    assert batch.run_batch(dataclasses.replace(options, dry_run=True), batch.Reporter(quiet=True, json_summary=False)) == 1
    why = {"read-only": "read-only, or not yours to write in", "full": "no space left on its device"}[folder]
    assert f"{card / 'b_denoised.png'}: cannot write in the folder {card} ({why})." in capsys.readouterr().err
    assert sorted(p.name for p in card.iterdir()) == ["a.png", "b.png"]


def test_links_to_pictures_on_a_missing_drive_are_said_not_silently_passed_over(tmp_path, identity_fixed):
    """A folder of links into a photo library on an external drive, unplugged: its pictures were
    passed over without a word, so the folder had 'no images to denoise'. They are counted in a
    warning; a link named on the command line says where it points."""
    (tmp_path / "album").mkdir()
    try:
        for k in (1, 2):
            os.symlink(tmp_path / "unplugged" / f"IMG_{k}.JPG", tmp_path / "album" / f"IMG_{k}.JPG")
    except (OSError, NotImplementedError):
        pytest.skip("no symbolic links here")
    _png(tmp_path / "album" / "kept.png")
    result = run_cli(str(tmp_path / "album"), "-m", str(identity_fixed))
    assert result.returncode == 0, result.stderr
    assert "2 links to pictures passed over: the files they name are missing (on a drive not plugged in?)" in result.stderr
    assert sorted(p.name for p in (tmp_path / "album_denoised").iterdir()) == ["kept.png"]
    one = run_cli(str(tmp_path / "album" / "IMG_1.JPG"), "-m", str(identity_fixed))
    assert_clean_error(one)
    assert f"IMG_1.JPG: a link to {tmp_path / 'unplugged' / 'IMG_1.JPG'}, which is missing" in one.stderr


def test_a_file_system_that_gives_no_sizes_is_not_taken_for_a_full_one(tmp_path, identity_fixed, monkeypatch):
    """Some FUSE mounts answer statfs with zeros throughout: no sizes, not a full disk."""
    import os

    from denoise_cli.api import Denoiser

    _png(tmp_path / "a.png")
    if hasattr(os, "statvfs"):
        monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 0, 0, 0, 0, 0, 0, 0, 255)))
    else:
        import shutil

        monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(0, 0, 0))
    Denoiser(identity_fixed, "cpu").denoise_file(tmp_path / "a.png", tmp_path / "out.png")
    assert (tmp_path / "out.png").exists()


def test_recursion_passes_over_hidden_folders_and_names_a_sub_folder_it_cannot_list(tmp_path, monkeypatch):
    """.thumbnails, .git, a camera card's .Trashes hold no pictures of the user's, as hidden files
    do not; a locked sub-folder is one problem, and the rest of the folder goes on."""
    import os

    from denoise_cli.jobs import plan_jobs

    for name in ("top.png", "sub/b.png", ".thumbnails/t.png", "sub/.cache/c.png", "locked/l.png", ".hidden.png"):
        (tmp_path / "card" / name).parent.mkdir(parents=True, exist_ok=True)
        _png(tmp_path / "card" / name)
    scandir = os.scandir

    def refusing(path="."):
        if os.path.basename(os.fspath(path)) == "locked":  # root reads every folder, so the refusal is simulated
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    plan = plan_jobs([str(tmp_path / "card")], tmp_path / "out", recursive=True)
    assert sorted(str(job.source.relative_to(tmp_path / "card")) for job in plan.jobs) == ["sub/b.png", "top.png"]
    assert plan.problems == [f"{tmp_path / 'card' / 'locked'}: cannot list the folder (Permission denied)."]


def _tiff_with_tag_changed(path, tag: int, field: str, value: int, pixels=None, page: int = 0) -> None:
    """A TIFF written by tifffile (a float colour one unless `pixels` says otherwise, its first
    axis the pages when there are several) with one IFD entry's code, type or value replaced."""
    import struct

    import tifffile

    pixels = np.zeros((8, 8, 3), np.float32) if pixels is None else pixels
    tifffile.imwrite(path, pixels, photometric="rgb" if pixels.shape[-1] == 3 else "minisblack", metadata=None)
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for _ in range(page):
        ifd = struct.unpack_from("<I", data, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0])[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == tag:
            offset, form = {"code": (0, "<H"), "type": (2, "<H"), "value": (8, "<I")}[field]
            struct.pack_into(form, data, at + offset, value)
    path.write_bytes(bytes(data))


def test_damaged_tiffs_are_one_error_line_each(tmp_path, identity_fixed):
    """Pillow and tifffile log what they make of a damaged TIFF (at error level) before they
    give up; the user sees our one sentence per file, and nothing else."""
    pytest.importorskip("tifffile")
    _tiff_with_tag_changed(tmp_path / "samples.tif", 277, "value", 300)  # Pillow: "More samples per pixel than can be decoded"
    _tiff_with_tag_changed(tmp_path / "format.tif", 339, "type", 0x3003)  # tifffile: "invalid data type"
    # Pillow: TypeError "Missing dimensions", from a second page without a width, as it counts pages
    _tiff_with_tag_changed(tmp_path / "pages.tif", 256, "code", 65000, pixels=np.zeros((2, 8, 8), np.uint16), page=1)
    result = run_cli(*(str(tmp_path / name) for name in ("samples.tif", "format.tif", "pages.tif")), "-m", str(identity_fixed), "-q")
    assert_clean_error(result)
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("  failed: ", "0 denoised"))]
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), result.stderr


def test_a_name_longer_than_the_system_allows_is_one_error_line(tmp_path, identity_fixed):
    _png(tmp_path / "a.png")
    too_long = str(tmp_path / ("a" * 300 + ".png"))  # over the 255-byte limit of common file systems
    for args in ([str(tmp_path / "a.png"), "-o", too_long], [too_long]):
        result = run_cli(*args, "-m", str(identity_fixed))
        assert_clean_error(result)
        assert "name too long" in result.stderr.lower() or "no such file" in result.stderr


def test_damaged_files_of_every_format_are_one_error_each():
    """A short run of tests/fuzz_readers.py (which runs 300 copies of each): cut or flipped
    bytes in every format and layout the reader handles give a DenoiseError, nothing else."""
    import random

    from fuzz_readers import damaged, read, samples

    from denoise_cli.errors import DenoiseError

    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")
        for name, data in samples().items():
            rng, path = random.Random(name), Path(folder) / f"damaged.{name.rsplit('.', 1)[-1]}"
            for copy in range(30):
                path.write_bytes(damaged(data, copy, rng))
                with contextlib.suppress(DenoiseError):
                    read(path, name)
