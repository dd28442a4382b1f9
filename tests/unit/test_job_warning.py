"""What a finished job tells the user about the part of a media item that was not analysed."""

from __future__ import annotations

from pathlib import Path

from retrieval.plugin_api import Item, ItemResult, MediaKind
from retrieval.services.plugins import job_warning


def _pair(index: int, **result) -> tuple[Item, ItemResult]:
    return Item(1, MediaKind.IMAGE, Path(f"/tmp/{index}.png"), frame_index=index), ItemResult(1, **result)


def test_a_complete_analysis_has_no_warning() -> None:
    assert job_warning([_pair(0), _pair(1)]) == ""


def test_platform_notes_plugin_warnings_once_each_and_failed_frames_are_all_told() -> None:
    pairs = [
        _pair(0, warnings=["only 10.0 s of the 20.0 s decoded"]),
        _pair(1, error="frame too small"),
        _pair(2, warnings=["only 10.0 s of the 20.0 s decoded"]),
        _pair(3, error="frame unreadable"),
    ]
    text = job_warning(pairs, ["video audio track: 2 damaged audio packet(s) skipped"])
    assert text == (
        "video audio track: 2 damaged audio packet(s) skipped; only 10.0 s of the 20.0 s decoded; "
        "2 of 4 items (video frames or audio track) could not be analysed, e.g. frame too small"
    )
