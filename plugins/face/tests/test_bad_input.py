"""Bad or unusual input: a correct result or a clear error, never an exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.face.tests.conftest import load_rgb, save
from retrieval.plugin_api import Item, MediaKind


def process_one(plugin, path: Path):
    (result,) = plugin.process([Item(7, MediaKind.IMAGE, path)])
    assert result.media_id == 7
    return result


def test_an_image_without_faces_gives_no_findings(face_plugin, tmp_path):
    rng = np.random.default_rng(0)
    noise = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    for name, rgb in {"flat": np.full((240, 320, 3), 128, np.uint8), "noise": noise}.items():
        result = process_one(face_plugin, save(rgb, tmp_path / f"{name}.png"))
        assert result.error is None and list(result.findings) == []


BAD_BYTES = [b"", b"GIF89a\x01\x00garbage", b"\xff\xd8\xff\xe0" + b"\x00" * 50, b"not an image"]


@pytest.mark.parametrize("content", BAD_BYTES)
def test_corrupt_files_are_reported_as_errors(face_plugin, tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    result = process_one(face_plugin, path)
    assert result.error and not result.findings


def test_truncated_jpeg_is_an_error_or_a_result_not_a_crash(face_plugin, tmp_path):
    path = save(load_rgb("biden.jpg"), tmp_path / "full.jpg", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    result = process_one(face_plugin, cut)
    assert result.error or result.findings is not None


def test_a_bad_item_does_not_spoil_the_batch(face_plugin, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    good = Path(__file__).parent / "samples" / "biden.jpg"
    results = face_plugin.process([Item(1, MediaKind.IMAGE, bad), Item(2, MediaKind.IMAGE, good)])
    assert [r.media_id for r in results] == [1, 2]
    assert results[0].error and results[1].error is None and len(results[1].findings) == 1


def test_wrong_item_kind_is_an_error(face_plugin):
    (result,) = face_plugin.process([Item(3, MediaKind.AUDIO, Path("/dev/null"))])
    assert "does not accept" in result.error


@pytest.mark.parametrize("mode", ["L", "CMYK", "I;16", "RGBA", "P"])
def test_other_pixel_formats_still_find_the_face(face_plugin, tmp_path, mode):
    img = Image.fromarray(load_rgb("obama_a.jpg"))
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        img = Image.frombytes("I;16", arr.shape[::-1], arr.tobytes())
        path = tmp_path / "x.png"
    elif mode == "CMYK":
        img, path = img.convert("CMYK"), tmp_path / "x.jpg"
    else:
        img, path = img.convert(mode), tmp_path / "x.png"
    img.save(path)
    result = process_one(face_plugin, path)
    assert result.error is None and len(result.findings) == 1


def test_exif_rotation_is_honoured(face_plugin, tmp_path):
    """Pixels stored sideways with Orientation=6: the face is found, box in the upright image."""
    rgb = load_rgb("astronaut.jpg")
    sideways = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # stored rotated 90 deg CCW
    exif = Image.Exif()
    exif[0x0112] = 6  # display = rotate 90 CW
    path = tmp_path / "rot.jpg"
    sideways.save(path, exif=exif, quality=95)
    result = process_one(face_plugin, path)
    assert result.error is None and len(result.findings) == 1
    upright = process_one(face_plugin, save(rgb, tmp_path / "up.jpg", quality=95)).findings[0]
    assert np.allclose(result.findings[0].region.box, upright.region.box, atol=6)


def test_animated_gif_uses_its_first_frame(face_plugin, tmp_path):
    face = Image.fromarray(load_rgb("biden.jpg"))
    blank = Image.new("RGB", face.size, (0, 0, 0))
    path = tmp_path / "anim.gif"
    face.save(path, save_all=True, append_images=[blank, face], duration=100, loop=0)
    result = process_one(face_plugin, path)
    assert result.error is None and len(result.findings) == 1


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (3, 400)])
def test_tiny_and_degenerate_images(face_plugin, tmp_path, size):
    result = process_one(face_plugin, save(np.full((*size, 3), 200, np.uint8), tmp_path / "tiny.png"))
    assert result.error is None and list(result.findings) == []


def test_images_above_the_pixel_limit_are_refused_clearly(face_plugin, tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (10_000, 9_000)).save(path)  # 90 MP, compresses to a few kB
    result = process_one(face_plugin, path)
    assert "limit" in result.error


def test_large_images_are_downsized_and_faces_still_found(face_plugin, tmp_path):
    canvas = Image.new("RGB", (5000, 3000), (90, 90, 90))
    canvas.paste(Image.fromarray(load_rgb("obama_a.jpg")).resize((600, 572)), (3000, 1500))
    path = tmp_path / "big.jpg"
    canvas.save(path, quality=85)
    (finding,) = process_one(face_plugin, path).findings
    x1, y1, x2, y2 = finding.region.box
    assert 3000 < x1 < x2 < 3600 and 1500 < y1 < y2 < 2072, "box is in original pixel coordinates"
