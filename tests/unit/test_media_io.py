"""Decoders: real files made on the fly, including broken and hostile ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import media_io
from tests import samples


@pytest.mark.parametrize(
    ("name", "make", "kind", "mime"),
    [
        ("a.png", samples.png_bytes, "image", "image/png"),
        ("a.jpg", samples.jpeg_bytes, "image", "image/jpeg"),
        ("a.gif", samples.gif_animated_bytes, "image", "image/gif"),
        ("a.wav", samples.wav_bytes, "audio", "audio/wav"),
        ("a.mp3", lambda: samples.encode_audio("mp3", "libmp3lame"), "audio", "audio/mpeg"),
        ("a.ogg", lambda: samples.encode_audio("ogg", "libopus", rate=48000), "audio", "audio/ogg"),
        ("a.mp4", samples.mp4_bytes, "video", "video/mp4"),
        # The extension lies: content decides.
        ("photo.mp3", samples.png_bytes, "image", "image/png"),
        ("song.jpg", samples.wav_bytes, "audio", "audio/wav"),
        ("notes.jpg", lambda: b"just some text\n", "unknown", "application/octet-stream"),
        ("empty.png", lambda: b"", "unknown", "application/x-empty"),
    ],
)
def test_it_sniffs_kind_from_content_not_name(tmp_path: Path, name: str, make, kind: str, mime: str) -> None:
    sniffed = media_io.sniff(samples.write(tmp_path, name, make()))
    assert (sniffed.kind, sniffed.mime) == (kind, mime)


def test_it_honours_exif_rotation(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "r.jpg", samples.jpeg_bytes(80, 40, exif_orientation=6))
    assert media_io.probe_image(path)[("width")] == 40
    assert media_io.read_image(path).shape == (80, 40, 3)


@pytest.mark.parametrize("make", [
    lambda: samples.jpeg_bytes(mode="CMYK"), samples.png16_bytes, lambda: samples.png_bytes(mode="RGBA"),
    lambda: samples.png_bytes(mode="L"), samples.gif_animated_bytes,
])
def test_it_reads_unusual_image_modes_as_rgb(tmp_path: Path, make) -> None:
    rgb = media_io.read_image(samples.write(tmp_path, "x.img", make()))
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


def test_it_refuses_decompression_bombs_before_decoding(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "bomb.png", samples.png_header_claiming(100_000, 100_000))
    with pytest.raises(media_io.DecodeError, match="above the limit"):
        media_io.probe_image(path)
    with pytest.raises(media_io.DecodeError, match="above the limit"):
        media_io.read_image(path)


@pytest.mark.parametrize(("name", "data_fn"), [
    ("t.jpg", lambda: samples.jpeg_bytes()[:300]),
    ("t.png", lambda: samples.png_bytes()[:100]),
])
def test_it_reports_truncated_images(tmp_path: Path, name: str, data_fn) -> None:
    with pytest.raises(media_io.DecodeError):
        media_io.probe_image(samples.write(tmp_path, name, data_fn()))


def test_it_reports_truncated_video_without_leaking_paths(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "t.mp4", samples.mp4_bytes()[:2000])
    with pytest.raises(media_io.DecodeError) as info:
        media_io.probe_av(path)
    assert str(tmp_path) not in str(info.value)


def test_it_streams_audio_in_bounded_chunks(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "s.wav", samples.wav_bytes(seconds=3.0, rate=44100, channels=2))
    chunks = list(media_io.iter_audio(path, sample_rate=16000, chunk_s=1.0))
    assert [round(start, 3) for start, _ in chunks] == [0.0, 1.0, 2.0]
    assert all(c.size <= 16000 for _, c in chunks)
    total = sum(c.size for _, c in chunks)
    assert abs(total - 48000) < 200
    assert all(c.dtype == np.float32 for _, c in chunks)


def _bytes_read() -> int:
    with open("/proc/self/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_streaming_starts_without_reading_the_whole_file_first(tmp_path: Path) -> None:
    """FFmpeg's default stream probe parses ~0.5 MB of a PCM WAV before the first sample (~10 ms per 48 kHz
    file, a seventh of the audio-event plugin's time on 30-s files); the WAV header already says everything."""
    path = samples.write(tmp_path, "long.wav", samples.wav_bytes(seconds=60.0, rate=48000))  # 5.8 MB
    before = _bytes_read()
    chunks = media_io.iter_audio(path, sample_rate=16000, chunk_s=0.1)
    start, first = next(chunks)
    assert start == 0.0 and first.size == 1600
    assert _bytes_read() - before < 250_000
    assert sum(c.size for _, c in chunks) + first.size == 60 * 16000


def _frames(sizes: list[int], fmt: str = "s16", channels: int = 2, rate: int = 44100) -> list:
    import av

    rng = np.random.default_rng(1)
    out = []
    for n in sizes:
        data = rng.integers(-3000, 3000, (1, n * channels)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo" if channels == 2 else "mono")
        frame.sample_rate = rate
        out.append(frame)
    return out


def test_small_decoded_frames_are_joined_for_the_resampler_without_changing_a_sample() -> None:
    """Vorbis-like 128/1024-sample frames -> blocks of >= 2,000 samples, same samples in the same order; a
    change of rate starts a new block."""
    frames = _frames([128] * 20 + [1024] * 3) + _frames([500, 700], rate=48000)
    merged = list(media_io.merged_frames(frames, 2000))
    assert [f.samples for f in merged] == [2048, 512 + 2048, 1024, 1200]
    assert [f.sample_rate for f in merged] == [44100, 44100, 44100, 48000]
    assert np.array_equal(np.concatenate([f.to_ndarray() for f in merged], axis=1),
                          np.concatenate([f.to_ndarray() for f in frames], axis=1))


def test_what_decoded_before_a_decoder_error_is_still_delivered() -> None:
    def failing():
        yield from _frames([128] * 5)
        raise RuntimeError("decoder gave up")

    got = []
    with pytest.raises(RuntimeError, match="gave up"):
        for frame in media_io.merged_frames(failing(), 2000):
            got.append(frame.samples)
    assert got == [640]


def test_a_stream_the_short_probe_cannot_describe_is_probed_again(tmp_path: Path) -> None:
    """MPEG-PS with 2 s of video before the first audio packet: the short probe finds the audio stream
    without its sample rate, so the file is opened again with FFmpeg's full probe; all audio decodes."""
    path = samples.write(tmp_path, "late.mpg", samples.late_audio_mpeg_ps())
    import av

    with av.open(str(path), options=media_io.SHORT_PROBE) as c:
        assert not c.streams.audio[0].codec_context.sample_rate
    total = sum(c.size for _, c in media_io.iter_audio(path, sample_rate=16000))
    assert abs(total - 2 * 16000) < 400


def test_it_extracts_a_video_audio_track_and_samples_frames(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "v.mp4", samples.mp4_bytes(seconds=2.0, scene_cut_at=1.25))
    wav = tmp_path / "track.wav"
    duration = media_io.extract_audio_track(path, wav)
    assert 1.8 < duration < 2.1
    assert media_io.probe_av(wav)["sample_rate"] == 16000
    frames = list(media_io.iter_video_frames(path, every_s=0.5))
    times = [round(f.time_s, 2) for f in frames]
    assert times[:4] == [0.0, 0.5, 1.0, 1.3]  # the scene cut at 1.25 s is caught between interval samples
    assert frames[3].reason == "scene"


def test_it_reports_missing_audio_track(tmp_path: Path) -> None:
    path = samples.write(tmp_path, "silent.mp4", samples.mp4_bytes(with_audio=False))
    with pytest.raises(media_io.DecodeError, match="no audio track"):
        list(media_io.iter_audio(path))


def test_a_video_stream_without_a_decoder_is_a_decode_error(tmp_path) -> None:
    """Found by bench/fuzz_decoders.py: av's DecoderNotFoundError escaped iter_video_frames (and the poster)."""
    from retrieval.services import previews

    data = samples.mp4_bytes(seconds=1.0, with_audio=False)
    entry = data.find(b"avc1", data.find(b"stsd"))
    path = tmp_path / "nodecoder.mp4"
    path.write_bytes(data[:entry] + b"zzzz" + data[entry + 4 :])
    with pytest.raises(media_io.DecodeError, match="could not be decoded"):
        list(media_io.iter_video_frames(path))
    with pytest.raises(media_io.DecodeError):
        previews.video_poster(path, tmp_path / "poster.png", 0.5)


def test_oversized_video_frames_are_refused_before_decoding(tmp_path) -> None:
    """Found by bench/fuzz_decoders.py: a tiny file claiming 77 MP frames took ~50 s per frame."""
    path = tmp_path / "big.mkv"
    path.write_bytes(samples.mp4_bytes(seconds=0.2, fps=5, size=(8192, 4360), with_audio=False))
    with pytest.raises(media_io.DecodeError, match="above the limit"):
        list(media_io.iter_video_frames(path))


@pytest.mark.parametrize("rate", [536_887_936, 8])
def test_absurd_sample_rates_are_refused_by_the_probe(tmp_path, rate: int) -> None:
    """Found by bench/hostile_ingest.py: a WAV header claiming 537 MHz cost > 60 s and 1.1 GB to resample."""
    data = bytearray(samples.wav_bytes(0.5))
    data[24:28] = rate.to_bytes(4, "little")
    path = tmp_path / "rate.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(media_io.DecodeError, match="sample rate"):
        media_io.probe_av(path)


def _read_with_report(path: Path) -> tuple[float, media_io.AudioReadReport]:
    report = media_io.AudioReadReport()
    seconds = sum(chunk.size for _, chunk in media_io.iter_audio(path, report=report)) / 16_000
    return seconds, report


@pytest.mark.parametrize(("fmt", "codec"), [("flac", "flac"), ("mp3", "libmp3lame")])
def test_a_truncated_recording_is_reported_not_silently_analysed_in_part(tmp_path: Path, fmt: str, codec: str) -> None:
    """An interrupted copy decodes without any error up to where the data ends: half a recording used to be
    analysed as if it were all of it. The file's own header states 20 s; the report says what was missing."""
    whole = samples.encode_audio(fmt, codec, seconds=20.0, rate=16_000, amplitude=0.5)
    complete, truncated = tmp_path / f"whole.{fmt}", tmp_path / f"half.{fmt}"
    complete.write_bytes(whole)
    truncated.write_bytes(whole[: len(whole) // 2])

    seconds, report = _read_with_report(complete)
    assert seconds == pytest.approx(20.0, abs=0.2) and report.warnings() == []

    seconds, report = _read_with_report(truncated)
    assert 8.0 < seconds < 12.0
    assert report.declared_s == pytest.approx(20.0, abs=0.2)
    (note,) = [w for w in report.warnings() if "declares" in w]
    assert f"only {seconds:.1f} s of the 20.0 s" in note and "not analysed" in note


def test_damaged_packets_in_the_middle_are_counted(tmp_path: Path) -> None:
    data = bytearray(samples.encode_audio("mp3", "libmp3lame", seconds=20.0, rate=16_000, amplitude=0.5))
    middle = len(data) // 2
    data[middle : middle + 2000] = b"\xff" * 2000
    path = tmp_path / "damaged.mp3"
    path.write_bytes(bytes(data))
    seconds, report = _read_with_report(path)
    assert 17.0 < seconds < 20.0 and report.skipped_packets >= 1
    assert any("damaged audio packet(s) skipped" in w for w in report.warnings())


def test_a_cut_video_is_reported_not_silently_sampled_in_part(tmp_path: Path) -> None:
    """A Matroska file (or a fast-start MP4) cut short decodes frames without an error up to where the data
    ends; its header still states 10 s, so the report can say what was not analysed."""
    whole = samples.matroska_bytes(samples.mp4_bytes(seconds=10.0, size=(160, 96)))
    (tmp_path / "whole.mkv").write_bytes(whole)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole[: len(whole) // 2])
    for path, complete in ((tmp_path / "whole.mkv", True), (cut, False)):
        report = media_io.VideoReadReport()
        frames = list(media_io.iter_video_frames(path, every_s=1.0, report=report))
        assert report.declared_s == pytest.approx(10.0, abs=0.2)
        if complete:
            assert len(frames) == 10 and report.warnings(1.0) == []
        else:
            assert 2 <= len(frames) <= 7 and report.last_frame_s == frames[-1].time_s
            (note,) = report.warnings(1.0)
            assert f"up to {frames[-1].time_s:.1f} s of the 10.0 s" in note and "not analysed" in note
