"""Template forms: JSON rows, ISO/IEC 19794-2:2005 records."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest

from plugins.fingerprint.template import Template, as_template, from_iso19794_2, to_iso19794_2


def _template() -> Template:
    rng = np.random.default_rng(3)
    m = np.column_stack([
        rng.integers(10, 290, 30), rng.integers(10, 350, 30), rng.uniform(0, 2 * np.pi, 30),
        rng.integers(0, 2, 30), rng.uniform(0, 1, 30),
    ]).astype(np.float32)
    return Template(m, 304, 360, 57)


def test_iso_record_has_the_2005_layout() -> None:
    t = _template()
    rec = to_iso19794_2(t)
    assert rec[:8] == b"FMR\x00 20\x00"
    assert struct.unpack(">I", rec[8:12])[0] == len(rec) == 24 + 4 + 6 * 30 + 2
    assert struct.unpack(">HHHH", rec[14:22]) == (304, 360, 197, 197)
    assert rec[26] == 57 and rec[27] == 30
    assert rec[28] >> 6 in (1, 2)  # type bits: 01 ending, 10 bifurcation


def test_iso_round_trip_keeps_minutiae_within_quantisation() -> None:
    t = _template()
    back = from_iso19794_2(to_iso19794_2(t))
    assert (back.width, back.height, back.quality, back.n) == (304, 360, 57, 30)
    assert np.abs(back.minutiae[:, :2] - np.round(t.minutiae[:, :2])).max() == 0
    dtheta = np.angle(np.exp(1j * (back.minutiae[:, 2] - t.minutiae[:, 2])))
    assert np.abs(dtheta).max() <= np.radians(360 / 256 / 2) + 1e-6
    assert (back.minutiae[:, 3] == t.minutiae[:, 3]).all()


def test_as_template_accepts_every_stored_form() -> None:
    t = _template()
    rec = to_iso19794_2(t)
    data = {"minutiae": t.to_data(), "size": [t.width, t.height], "quality": t.quality}
    for obj in (t, data, rec, base64.b64encode(rec).decode(), {"iso_template_b64": base64.b64encode(rec).decode()}):
        got = as_template(obj)
        assert got.n == t.n
        assert np.allclose(got.minutiae[:, :2], np.round(t.minutiae[:, :2]))
    with pytest.raises(ValueError):
        as_template(b"not a record")
