"""Generate a corpus of hostile and broken media files for ``bench/hostile_ingest.py``.

    .venv/bin/python bench/hostile_corpus.py OUT_DIR N [--seed S]

Writes N files (deterministic for a seed) under OUT_DIR/<category>/ and OUT_DIR/manifest.csv
(file, category, variant, note). Categories: truncated, bitflip, wrong_ext, polyglot, image_bomb,
audio_bomb, absurd (dimensions/durations/rates), zero (empty files and empty streams), metadata
(huge metadata), nested (nested containers, IFD loops, deep atoms), garbage (random bytes with magic).
Valid seed files are made on the fly with Pillow/PyAV (``tests/samples.py``): nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import io
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import samples  # noqa: E402

Maker = Callable[[np.random.Generator], tuple[bytes, str, str]]  # → (data, extension, note)


# --------------------------------------------------------------------------- valid seeds


def _pil(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **kw: object) -> bytes:
    from PIL import Image

    img = Image.new(mode, size, 120 if mode in ("L", "P") else (30, 140, 200))
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def seeds() -> dict[str, bytes]:
    return {
        "png": samples.png_bytes(64, 48), "jpg": samples.jpeg_bytes(80, 40, exif_orientation=6),
        "gif": samples.gif_animated_bytes(), "webp": _pil("WEBP"), "tif": _pil("TIFF"), "bmp": _pil("BMP"),
        "png16": samples.png16_bytes(), "wav": samples.wav_bytes(0.5),
        "mp3": samples.encode_audio("mp3", "libmp3lame", 0.5),
        "ogg": samples.encode_audio("ogg", "libopus", 0.5, rate=48000),
        "flac": samples.encode_audio("flac", "flac", 0.5),
        "m4a": samples.encode_audio("mp4", "aac", 0.5), "mp4": samples.mp4_bytes(seconds=1.0),
        "mp4_silent": samples.mp4_bytes(seconds=1.0, with_audio=False),
    }


def _ext(name: str) -> str:
    return {"png16": "png", "m4a": "m4a", "mp4_silent": "mp4"}.get(name, name)


# --------------------------------------------------------------------------- helpers


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, color_type: int = 0, bit_depth: int = 8) -> bytes:
    """A real, valid PNG of ``width``x``height`` zeros: tiny on disk, huge decoded."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\x00" + b"\x00" * (width * channels * bit_depth // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(min(height, 4096))]
    body = b"".join(parts)
    if height > 4096:  # repeat the compressed-row stream cheaply: the decompressor sees height rows of zeros
        block = comp.compress(row * 64)
        body += block * ((height - 4096) // 64)
    body += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def wav_header(rate: int, channels: int, bits: int, data_len: int, riff_len: int | None = None,
               fmt_tag: int = 1) -> bytes:
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    riff = riff_len if riff_len is not None else 36 + data_len
    return (b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_len & 0xFFFFFFFF))


def id3v2(size: int, payload: bytes = b"") -> bytes:
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + payload


def mp4_box(kind: bytes, payload: bytes, size: int | None = None) -> bytes:
    return struct.pack(">I", size if size is not None else 8 + len(payload)) + kind + payload


def _patch_mvhd_duration(mp4: bytes, duration: int) -> bytes:
    i = mp4.find(b"mvhd")
    if i < 0:
        return mp4
    version = mp4[i + 4]
    off = i + 4 + 4 + (16 if version == 1 else 8) + 4  # version/flags, times, timescale
    fmt = ">Q" if version == 1 else ">I"
    width = 8 if version == 1 else 4
    return mp4[:off] + struct.pack(fmt, duration & (2 ** (8 * width) - 1)) + mp4[off + width:]


# --------------------------------------------------------------------------- categories


def make_makers(seed_files: dict[str, bytes]) -> dict[str, Maker]:
    names = sorted(seed_files)

    def truncated(rng: np.random.Generator) -> tuple[bytes, str, str]:
        name = names[rng.integers(len(names))]
        data = seed_files[name]
        cut = int(rng.integers(1, max(2, len(data))))
        return data[:cut], _ext(name), f"{name} cut at {cut}/{len(data)}"

    def bitflip(rng: np.random.Generator) -> tuple[bytes, str, str]:
        name = names[rng.integers(len(names))]
        data = bytearray(seed_files[name])
        flips = int(rng.integers(1, 64))
        # flips concentrated in headers half of the time (where parsers decide sizes)
        span = min(len(data), 512) if rng.random() < 0.5 else len(data)
        for pos in rng.integers(0, span, flips):
            data[pos] ^= 1 << int(rng.integers(8))
        return bytes(data), _ext(name), f"{name} with {flips} bit flips in the first {span} bytes"

    def wrong_ext(rng: np.random.Generator) -> tuple[bytes, str, str]:
        name = names[rng.integers(len(names))]
        ext = ["jpg", "png", "mp3", "wav", "mp4", "exe", "txt", "pdf", "", "tar.gz"][rng.integers(10)]
        return seed_files[name], ext, f"valid {name} named .{ext}"

    def polyglot(rng: np.random.Generator) -> tuple[bytes, str, str]:
        a, b = (names[i] for i in rng.choice(len(names), 2, replace=False))
        kind = int(rng.integers(5))
        if kind == 0:
            return seed_files[a] + seed_files[b], _ext(a), f"{a} followed by {b}"
        if kind == 1:
            return seed_files[a] + b"PK\x03\x04" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)), _ext(a), \
                f"{a} + zip tail"
        if kind == 2:
            return b"GIF89a/*" + b"\x00" * 8 + b"*/=1;alert(1)//" + seed_files[a], "gif", f"GIF/JS header + {a}"
        if kind == 3:
            return b"%PDF-1.4\n" + seed_files[a], "pdf", f"PDF header + {a}"
        head = seed_files[a][:64]
        return head + seed_files[b], _ext(a), f"{a} header (64 B) + {b}"

    def image_bomb(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(6))
        if kind == 0:
            w, h = int(rng.integers(9_000, 60_000)), int(rng.integers(9_000, 60_000))
            return samples.png_header_claiming(w, h), "png", f"PNG header claims {w}x{h}"
        if kind == 1:
            side = int(rng.choice([4_000, 8_000, 9_000, 12_000]))
            return png_bomb(side, side), "png", f"valid {side}x{side} grey PNG of zeros"
        if kind == 2:
            w, h = int(rng.integers(1, 65_535)), int(rng.integers(1, 65_535))
            data = bytearray(seed_files["jpg"])
            sof = data.find(b"\xff\xc0")
            if sof > 0:
                data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
            return bytes(data), "jpg", f"JPEG SOF claims {w}x{h}"
        if kind == 3:
            w, h = int(rng.integers(1, 65_535)), int(rng.integers(1, 65_535))
            data = bytearray(seed_files["gif"])
            data[6:10] = struct.pack("<HH", w, h)
            return bytes(data), "gif", f"GIF screen claims {w}x{h}"
        if kind == 4:
            frames = int(rng.integers(1_000, 20_000))
            one = b"\x21\xf9\x04\x00\x01\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00"
            body = one * frames
            return b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + body + b"\x3b", "gif", f"GIF with {frames} frames"
        w, h = int(rng.integers(20_000, 100_000)), int(rng.integers(20_000, 100_000))
        data = bytearray(seed_files["bmp"])
        data[18:26] = struct.pack("<ii", w, h)
        return bytes(data), "bmp", f"BMP claims {w}x{h}"

    def audio_bomb(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(5))
        if kind == 0:
            frames = bytes(rng.integers(0, 256, 2000, dtype=np.uint8))
            return wav_header(16_000, 1, 16, 0xFFFFFFF0) + frames, "wav", "WAV data chunk claims 4 GiB"
        if kind == 1:
            rate = int(rng.choice([1, 3, 8, 4_000_000, 2_000_000_000]))
            return wav_header(rate, 1, 16, 4000) + b"\x00" * 4000, "wav", f"WAV at {rate} Hz"
        if kind == 2:
            ch = int(rng.choice([0, 255, 1024, 65535]))
            return wav_header(16_000, ch, 16, 4000) + b"\x01" * 4000, "wav", f"WAV with {ch} channels"
        if kind == 3:
            # FLAC STREAMINFO claiming 2^36-1 samples
            data = bytearray(seed_files["flac"])
            i = data.find(b"fLaC") + 8
            total = (1 << 36) - 1
            packed = int.from_bytes(data[i + 10 : i + 18], "big")
            packed = (packed & ~((1 << 36) - 1)) | total
            data[i + 10 : i + 18] = packed.to_bytes(8, "big")
            return bytes(data), "flac", "FLAC claims 2^36 samples"
        # long silence, highly compressible: 20 minutes of mono 8 kHz zeros as raw WAV is 19 MB; as FLAC tiny
        seconds = int(rng.integers(600, 3600))
        return _silent_flac(seconds), "flac", f"{seconds} s of silence in FLAC"

    def absurd(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(4))
        if kind == 0:
            dur = int(rng.choice([0, 1, 2**31 - 1, 2**32 - 1]))
            return _patch_mvhd_duration(seed_files["mp4"], dur), "mp4", f"MP4 mvhd duration {dur}"
        if kind == 1:
            return samples.png_header_claiming(int(rng.integers(1, 3)), 0), "png", "PNG with zero height"
        if kind == 2:
            w = int(rng.choice([1, 2**31 - 1]))
            return samples.png_header_claiming(w, 1), "png", f"PNG {w}x1"
        return wav_header(16_000, 1, int(rng.choice([0, 1, 7, 64, 255])), 400) + b"\x00" * 400, "wav", "WAV odd bits"

    def zero(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(6))
        if kind == 0:
            return b"", ["png", "mp4", "wav", "jpg"][rng.integers(4)], "0 bytes"
        if kind == 1:
            return wav_header(16_000, 1, 16, 0), "wav", "WAV with no frames"
        if kind == 2:
            return b"\x89PNG\r\n\x1a\n", "png", "PNG signature only"
        if kind == 3:
            ftyp = mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
            return ftyp + mp4_box(b"moov", b""), "mp4", "MP4 empty moov"
        if kind == 4:
            return b"\xff\xd8\xff\xd9", "jpg", "JPEG SOI+EOI"
        return b"OggS" + b"\x00" * 23, "ogg", "Ogg page header only"

    def metadata(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(4))
        if kind == 0:
            size = int(rng.choice([64, 256, 1024, 4096])) * 1024
            text = png_chunk(b"tEXt", b"Comment\x00" + b"A" * size)
            png = seed_files["png"]
            return png[:33] + text + png[33:], "png", f"PNG with a {size // 1024} KiB tEXt chunk"
        if kind == 1:
            n = int(rng.integers(1, 17))
            com = b"".join(b"\xff\xfe\xff\xff" + b"C" * 65533 for _ in range(n))
            jpg = seed_files["jpg"]
            return jpg[:2] + com + jpg[2:], "jpg", f"JPEG with {n} 64 KiB comments"
        if kind == 2:
            claim = int(rng.integers(1 << 20, (1 << 28) - 1))
            return id3v2(claim, b"TIT2" + struct.pack(">I", 1 << 24) + b"\x00\x00\x03" + b"t" * 1000) + \
                seed_files["mp3"], "mp3", f"ID3 tag claims {claim} bytes"
        exif_len = 65533
        exif = b"\xff\xe1" + struct.pack(">H", exif_len) + b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + \
            b"\x00" * (exif_len - 18)
        jpg = seed_files["jpg"]
        return jpg[:2] + exif + jpg[2:], "jpg", "JPEG EXIF with 65535 IFD entries claimed"

    def nested(rng: np.random.Generator) -> tuple[bytes, str, str]:
        kind = int(rng.integers(4))
        if kind == 0:
            depth = int(rng.integers(100, 5000))
            box = b""
            for _ in range(depth):
                box = mp4_box(b"moov", box)
            return mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box, "mp4", f"{depth} nested moov boxes"
        if kind == 1:
            # TIFF whose IFD points to itself (loop) or chains many IFDs
            loop = int(rng.integers(2))
            ifd = struct.pack("<H", 1) + struct.pack("<HHII", 256, 4, 1, 1) + struct.pack("<I", 8 if loop else 0)
            return b"II*\x00" + struct.pack("<I", 8) + ifd, "tif", "TIFF IFD loop" if loop else "TIFF one tag"
        if kind == 2:
            inner = image_bomb(rng)[0]
            apic = b"\x00image/png\x00\x03\x00" + inner
            frame = b"APIC" + struct.pack(">I", len(apic)) + b"\x00\x00" + apic
            return id3v2(len(frame), frame) + seed_files["mp3"], "mp3", "MP3 cover art is an image bomb"
        inner = seed_files["mp4"]
        for _ in range(int(rng.integers(1, 4))):
            inner = mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isom") + mp4_box(b"mdat", inner)
        return inner, "mp4", "MP4 inside MP4 mdat"

    def garbage(rng: np.random.Generator) -> tuple[bytes, str, str]:
        magic = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WAVE", b"ID3", b"fLaC",
                 b"\x1a\x45\xdf\xa3", b"OggS", b"\x00\x00\x00\x18ftypisom", b"II*\x00", b"BM", b""][rng.integers(12)]
        n = int(rng.integers(1, 20_000))
        return magic + bytes(rng.integers(0, 256, n, dtype=np.uint8)), "bin", f"magic {magic[:8]!r} + {n} random bytes"

    return {"truncated": truncated, "bitflip": bitflip, "wrong_ext": wrong_ext, "polyglot": polyglot,
            "image_bomb": image_bomb, "audio_bomb": audio_bomb, "absurd": absurd, "zero": zero,
            "metadata": metadata, "nested": nested, "garbage": garbage}


_FLAC_CACHE: dict[int, bytes] = {}


def _silent_flac(seconds: int) -> bytes:
    bucket = (seconds // 600) * 600 or 600
    if bucket not in _FLAC_CACHE:
        _FLAC_CACHE[bucket] = samples.encode_audio("flac", "flac", float(bucket), rate=8000, amplitude=0.0)
    return _FLAC_CACHE[bucket]


#: Share of the corpus per category (the cheap, high-yield mutations get most files).
WEIGHTS = {"truncated": 0.22, "bitflip": 0.3, "wrong_ext": 0.04, "polyglot": 0.08, "image_bomb": 0.06,
           "audio_bomb": 0.04, "absurd": 0.04, "zero": 0.03, "metadata": 0.03, "nested": 0.06, "garbage": 0.10}


def generate(out: Path, n: int, seed: int = 0) -> list[dict[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    makers = make_makers(seeds())
    rng = np.random.default_rng(seed)
    categories = list(WEIGHTS)
    counts = {c: max(1, int(round(WEIGHTS[c] * n))) for c in categories}
    counts["bitflip"] += n - sum(counts.values())
    rows = []
    for category in categories:
        (out / category).mkdir(exist_ok=True)
        for i in range(counts[category]):
            data, ext, note = makers[category](rng)
            name = f"{category}/{i:05d}" + (f".{ext}" if ext else "")
            (out / name).write_bytes(data)
            rows.append({"file": name, "category": category, "variant": str(i), "bytes": str(len(data)),
                         "note": note})
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "category", "variant", "bytes", "note"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = generate(args.out, args.n, args.seed)
    total = sum(int(r["bytes"]) for r in rows)
    print(f"wrote {len(rows)} files ({total / 2**20:.1f} MiB) to {args.out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
