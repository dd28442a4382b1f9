"""Fast JPEG decoding (nvJPEG on the GPU, or torchvision on the host threads) gives what Pillow gives.

The torchvision decoder runs on the CPU too, so ``jpeg_decode="device"`` exercises the same code
here; the GPU run of the same path is in bench/gpu_throughput.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.face.device_jpeg import decode_on_device, device_decodable
from plugins.face.tests.conftest import SAMPLES, load_rgb, save
from retrieval.media_io import read_image
from retrieval.plugin_api import Item, MediaKind


@pytest.fixture(scope="module", params=["device", "torchvision"])
def device_plugin(face_model_dir, request):
    """``device``: nvJPEG on a GPU (torchvision's CPU decoder here); ``torchvision``: on the host threads."""
    from plugins.face import FacePlugin

    plugin = FacePlugin({"jpeg_decode": request.param}, face_model_dir)
    plugin.load("cpu")
    return plugin


def odd_files(tmp_path):
    """Files the device path must leave to Pillow, with what Pillow makes of them."""
    rgb = load_rgb("obama_a.jpg")
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers turn it 90 degrees
    Image.fromarray(np.rot90(rgb, k=1).copy()).save(rotated, exif=exif, quality=92)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(cmyk, quality=92)
    full = save(rgb, tmp_path / "full.jpg", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    png = save(rgb, tmp_path / "face.png")
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50 + b"\xff\xd9")
    return {"rotated": rotated, "cmyk": cmyk, "cut": cut, "png": png, "fake": fake}


def test_only_plain_jpegs_take_the_device_path(tmp_path):
    assert device_decodable(SAMPLES / "biden.jpg", 4096) is not None
    assert device_decodable(SAMPLES / "biden.jpg", 100) is None  # above max_side: Pillow fits it
    for name, path in odd_files(tmp_path).items():
        assert device_decodable(path, 4096) is None, name


def test_device_decoder_gives_the_same_pixels_within_jpeg_rounding():
    names = ("biden.jpg", "astronaut.jpg")
    blobs = [(SAMPLES / name).read_bytes() for name in names]
    for name, tensor in zip(names, decode_on_device(blobs, "cpu"), strict=True):
        host = read_image(SAMPLES / name).astype(np.int16)
        device = tensor.permute(1, 2, 0).numpy().astype(np.int16)
        assert device.shape == host.shape
        assert np.abs(device - host).mean() < 1.0


def test_a_broken_blob_fails_alone():
    good = (SAMPLES / "biden.jpg").read_bytes()
    out = decode_on_device([good, b"\xff\xd8\xff\xe0" + b"\x00" * 50 + b"\xff\xd9", good], "cpu")
    assert out[0] is not None and out[1] is None and out[2] is not None


def test_process_finds_the_same_faces_and_keeps_every_file_accounted_for(face_plugin, device_plugin, tmp_path):
    odd = odd_files(tmp_path)
    paths = [SAMPLES / "biden.jpg", odd["rotated"], SAMPLES / "astronaut.jpg", odd["cut"], odd["cmyk"], odd["fake"]]
    paths += [odd["png"], SAMPLES / "obama_b.jpg"]
    items = [Item(k, MediaKind.IMAGE, p) for k, p in enumerate(paths)]
    if device_plugin._jpeg_mode() == "device":
        on_device, on_host = device_plugin._split_decoding(items, list(range(len(items))))
        assert [i for i, _ in on_device] == [0, 2, 7] and on_host == [1, 3, 4, 5, 6]
    else:
        kinds = [type(device_plugin._read_jpeg_fast(item)[0]).__name__ for item in items if item.media_id in (0, 1)]
        assert kinds == ["Tensor", "ndarray"]  # plain JPEG: torchvision; EXIF-rotated: Pillow
    host, device = face_plugin.process(items), device_plugin.process(items)
    assert [r.media_id for r in device] == list(range(len(paths)))
    for h, d in zip(host, device, strict=True):
        assert bool(h.error) == bool(d.error), (paths[h.media_id], h.error, d.error)
        assert len(h.findings) == len(d.findings)
        for fh, fd in zip(h.findings, d.findings, strict=True):
            assert float(np.dot(fh.vector, fd.vector)) > 0.99
            assert np.abs(np.subtract(fh.region.box, fd.region.box)).max() < 3.0
    assert device[5].error  # the fake JPEG: a clear error either way
    assert len(device[1].findings) == 1  # the rotated photo is turned upright before detection
