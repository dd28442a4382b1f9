"""Small media files made on the fly (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from pathlib import Path

import numpy as np


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40),
              mode: str = "RGB") -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 8):  # some structure so previews are not flat
        img.paste((x * 3 % 255, 90, 160), (x, 0, x + 4, height))
    if mode != "RGB":
        img = img.convert(mode)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 80, height: int = 40, exif_orientation: int | None = None, mode: str = "RGB") -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), (20, 120, 200))
    img.paste((250, 250, 0), (0, 0, width // 4, height // 2))
    if mode != "RGB":
        img = img.convert(mode)
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    img.save(out, format="JPEG", quality=90, **kwargs)
    return out.getvalue()


def png16_bytes(width: int = 32, height: int = 32) -> bytes:
    from PIL import Image

    arr = (np.linspace(0, 65535, width * height).reshape(height, width)).astype(np.uint16)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG")
    return out.getvalue()


def gif_animated_bytes() -> bytes:
    from PIL import Image

    frames = [Image.new("P", (30, 30), i * 40) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims huge dimensions (decompression-bomb style)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sine(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * math.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * math.pi * 0.5 * t))
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def wav_bytes(seconds: float = 1.0, rate: int = 16000, channels: int = 1, freq: float = 440.0) -> bytes:
    data = sine(seconds, rate, freq, channels)
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wf:
        wf.setnchannels(channels)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.tobytes())
    return out.getvalue()


def late_audio_mpeg_ps(video_s: float = 2.0, audio_s: float = 2.0) -> bytes:
    """MPEG program stream whose audio (a 440 Hz tone) starts after ``video_s`` of noisy high-rate video."""
    import av

    out = io.BytesIO()
    rng = np.random.default_rng(0)
    with av.open(out, "w", format="mpeg") as c:
        v = c.add_stream("mpeg1video", rate=25)
        v.width, v.height, v.bit_rate, v.pix_fmt = 320, 240, 8_000_000, "yuv420p"
        a = c.add_stream("mp2", rate=44100)
        a.layout = "mono"
        for i in range(int(video_s * 25)):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        tone = sine(audio_s, 44100, 440.0, 1).reshape(-1).astype(np.float32) * 0.3
        for k in range(0, tone.size, 1152):
            af = av.AudioFrame.from_ndarray(tone[None, k : k + 1152], format="flt", layout="mono")
            af.sample_rate, af.pts = 44100, int(video_s * 44100) + k
            c.mux(a.encode(af))
        c.mux(a.encode(None))
    return out.getvalue()


def encode_audio(fmt: str, codec: str, seconds: float = 1.0, rate: int = 44100, amplitude: float = 1.0) -> bytes:
    """Encode a tone with PyAV (e.g. ``("mp3", "libmp3lame")``, ``("ogg", "libvorbis")``); amplitude 0 = silence."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        samples = (amplitude * sine(seconds, rate)).astype(np.float32)
        frame_size = stream.codec_context.frame_size or 1152
        fmt_name = stream.codec_context.format.name
        for start in range(0, samples.size, frame_size):
            part = _as_sample_format(samples[start : start + frame_size], fmt_name)
            frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format=fmt_name, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _as_sample_format(samples: np.ndarray, fmt: str) -> np.ndarray:
    base = fmt.rstrip("p")
    if base == "s16":
        return (samples * 32767).astype(np.int16)
    if base == "s32":
        return (samples * 2147483647).astype(np.int32)
    return samples.astype(np.float32)


def mp4_bytes(seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = (96, 64), with_audio: bool = True,
              scene_cut_at: float | None = None, soundtrack: np.ndarray | None = None) -> bytes:
    """An H.264 (+AAC) MP4 made with PyAV: a moving bar, optionally a hard scene cut and a given 22.05 kHz
    mono soundtrack (default: a sine)."""
    import av

    out = io.BytesIO()
    width, height = size
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=22050, layout="mono") if with_audio else None
        for i in range(int(seconds * fps)):
            t = i / fps
            base = 30 if scene_cut_at is None or t < scene_cut_at else 220
            arr = np.full((height, width, 3), base, np.uint8)
            x = int((i * 5) % max(1, width - 10))
            arr[:, x : x + 10] = (240, 30, 30)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            samples = (sine(seconds, 22050) if soundtrack is None else soundtrack).astype(np.float32)
            frame_size = audio.codec_context.frame_size or 1024
            for start in range(0, samples.size - frame_size, frame_size):
                frame = av.AudioFrame.from_ndarray(samples[start : start + frame_size].reshape(1, -1),
                                                   format="fltp", layout="mono")
                frame.sample_rate = 22050
                frame.pts = start
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return out.getvalue()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def matroska_bytes(mp4: bytes) -> bytes:
    """The video stream of an MP4 remuxed into Matroska (whose header keeps the duration: a cut copy still
    declares the whole length, unlike an MP4 with its index at the end, which becomes unreadable)."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(mp4)) as src, av.open(out, "w", format="matroska") as dst:
        video = src.streams.video[0]
        stream = dst.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return out.getvalue()

