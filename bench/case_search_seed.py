"""Search-scale data for bench/case_page.py: transcript segments and audio events with sound vectors.

Transcript segments are ``speech_translation`` findings as the plugin stores them (original words in ``text``,
``data.language`` / ``data.text_en``, a 384-d MiniLM vector in the active ``minilm`` space; the stored generated
``tsvector`` columns fill themselves). Sentences are built from five slots (who, did what, to what, where, when:
10^5 distinct sentences, 30 % of them in Spanish with their English translation). Their vectors are the
normalised sum of the real MiniLM embeddings of the five English slot phrases (50 model calls, not 100,000), so
semantic queries meet a realistic similarity distribution (plus a little noise per segment); random unit vectors
when the weights are missing.

Audio events are ``audio_events`` findings (label, AudioSet class, score, times) and each has one overlapping
0.96 s segment vector (1024-d, space ``yamnet``) drawn around a per-label centre, as "sounds like this" needs.
Vectors go in before their HNSW index is built (one build instead of 100,000 inserts into a graph).
"""

from __future__ import annotations

import random
from typing import Any

WHO = [("I", "yo"), ("we", "nosotros"), ("he", "él"), ("she", "ella"), ("they", "ellos"),
       ("my brother", "mi hermano"), ("the driver", "el conductor"), ("your friend", "tu amigo"),
       ("the boss", "el jefe"), ("nobody", "nadie")]
DID = [("will meet", "va a encontrar"), ("called about", "llamó por"), ("saw", "vio"), ("is waiting for", "espera"),
       ("paid for", "pagó"), ("left", "dejó"), ("moved", "movió"), ("picked up", "recogió"),
       ("asked about", "preguntó por"), ("brought", "trajo")]
WHAT = [("the money", "el dinero"), ("the car", "el coche"), ("the package", "el paquete"), ("the keys", "las llaves"),
        ("the boat", "el barco"), ("the documents", "los documentos"), ("the phone", "el teléfono"),
        ("the cash", "el efectivo"), ("the guns", "las armas"), ("the container", "el contenedor")]
WHERE = [("at the bank", "en el banco"), ("near the harbour", "cerca del puerto"), ("at the station", "en la estación"),
         ("behind the warehouse", "detrás del almacén"), ("in the parking lot", "en el aparcamiento"),
         ("at the airport", "en el aeropuerto"), ("on the bridge", "en el puente"), ("at the hotel", "en el hotel"),
         ("in the market", "en el mercado"), ("at the garage", "en el taller")]
WHEN = [("tomorrow at six", "mañana a las seis"), ("tonight", "esta noche"), ("on Friday", "el viernes"),
        ("after midnight", "después de medianoche"), ("next week", "la semana que viene"),
        ("this morning", "esta mañana"), ("at noon", "al mediodía"),
        ("before the police come", "antes de que venga la policía"), ("on Monday", "el lunes"), ("later", "más tarde")]
SLOTS = [WHO, DID, WHAT, WHERE, WHEN]

#: Keyword queries (single words, phrases, an OR) and meaning queries (words that are not in the sentences).
TEXT_QUERIES = ["money", "harbour", '"tomorrow at six"', "package", "airport", "police", "keys OR boat", "banco",
                "warehouse", "documents"]
SEMANTIC_QUERIES = ["meeting at the port", "cash payment", "hand over the car keys", "guns in a shipping container",
                    "see you at the terminal", "paperwork for the vessel", "call me tonight", "flight tickets"]

SOUND_CLASSES = {"gunshot": "Gunshot, gunfire", "glass_break": "Glass", "siren": "Siren", "scream": "Screaming",
                 "dog_bark": "Bark", "speech": "Speech", "vehicle": "Vehicle", "alarm": "Alarm"}


def _slot_vectors(rng: random.Random) -> list[Any]:
    """Per slot, one 384-d vector per phrase: MiniLM of the English phrase, random if no weights."""
    import numpy as np

    from retrieval.services.transcripts import embed_query

    if embed_query.available():
        return [np.stack([np.asarray(embed_query(en), dtype=np.float32) for en, _ in slot]) for slot in SLOTS]
    gen = np.random.default_rng(rng.randint(0, 2**31))
    return [gen.standard_normal((len(slot), 384)).astype(np.float32) for slot in SLOTS]


def _bulk(rows: list[Any]) -> None:
    from retrieval.models import Finding

    Finding.objects.bulk_create(rows, batch_size=2000)
    rows.clear()


def _without_index(space: Any, fill: Any) -> None:
    """Drop the space's HNSW index, ``fill()``, build the index once."""
    from django.db import connection

    from retrieval.services.embeddings import ensure_space_index, index_name

    with connection.cursor() as cur:
        cur.execute(f'DROP INDEX IF EXISTS "{index_name(space)}"')
    fill()
    ensure_space_index(space)


def seed_transcripts(case: Any, n: int, rng: random.Random) -> dict[str, Any]:
    import numpy as np

    from retrieval.models import Finding, MediaItem
    from retrieval.services.embeddings import get_or_create_space

    audible = list(MediaItem.objects.filter(case=case, kind__in=["audio", "video"]).values_list("id", "kind"))
    space = get_or_create_space("speech_translation", "minilm", "bench", 384)
    slot_vecs = _slot_vectors(rng)
    noise = np.random.default_rng(rng.randint(0, 2**31))
    languages = {"en": 0, "es": 0}

    def fill() -> None:
        rows: list[Finding] = []
        for i in range(n):
            picks = [rng.randrange(len(slot)) for slot in SLOTS]
            english = " ".join(SLOTS[s][p][0] for s, p in enumerate(picks)).capitalize() + "."
            spanish = rng.random() < 0.3
            text = " ".join(SLOTS[s][p][1] for s, p in enumerate(picks)).capitalize() + "." if spanish else english
            # Plus a little noise: two segments with the same five slots are worded differently in real speech
            # (and exact duplicate vectors make a degenerate HNSW graph).
            vec = sum(slot_vecs[s][p] for s, p in enumerate(picks)) + 0.03 * noise.standard_normal(384)
            vec = (vec / np.linalg.norm(vec)).astype(np.float32)
            lang = "es" if spanish else "en"
            languages[lang] += 1
            mid, kind = rng.choice(audible)
            t = rng.uniform(0, 600)
            rows.append(Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="speech_translation",
                                model_version="bench", key=f"audio:0:t{i}", text=text, space=space, vector=vec,
                                score=rng.uniform(0.6, 0.99), start_s=t, end_s=t + rng.uniform(1.5, 6.0),
                                data={"language": lang, "text_en": english, "engine": "bench"}))
            if len(rows) >= 2000:
                _bulk(rows)
        _bulk(rows)

    from retrieval.services.transcripts import embed_query

    _without_index(space, fill)
    return {"segments": n, "languages": languages,
            "vectors": "sum of MiniLM slot embeddings" if embed_query.available() else "random (no MiniLM weights)"}


def seed_sounds(case: Any, n: int, rng: random.Random) -> dict[str, Any]:
    """``n`` audio events, each with one overlapping 1024-d segment vector."""
    import numpy as np

    from retrieval.models import Finding, MediaItem
    from retrieval.services import audio_events
    from retrieval.services.embeddings import get_or_create_space

    version = (audio_events._active_versions() or ["bench"])[0]
    audible = list(MediaItem.objects.filter(case=case, kind__in=["audio", "video"]).values_list("id", "kind"))
    space = get_or_create_space("audio_events", "yamnet", version, 1024)
    gen = np.random.default_rng(rng.randint(0, 2**31))
    labels = list(SOUND_CLASSES)
    centres = {label: gen.standard_normal((4, 1024)).astype(np.float32) for label in labels}

    def fill() -> None:
        rows: list[Finding] = []
        for i in range(n):
            label = rng.choice(labels)
            mid, kind = rng.choice(audible)
            t = round(rng.uniform(0, 600), 2)
            rows.append(Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="audio_events",
                                model_version=version, key=f"audio:0:e{i}", label=label, score=rng.uniform(0.3, 1.0),
                                start_s=t, end_s=t + rng.uniform(0.5, 4.0),
                                data={"audioset_class": SOUND_CLASSES[label],
                                      "plain_name": SOUND_CLASSES[label].split(",")[0]}))
            vec = centres[label][rng.randrange(4)] + 0.8 * gen.standard_normal(1024).astype(np.float32)
            rows.append(Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="audio_events",
                                model_version=version, key=f"audio:0:s{i}", space=space,
                                vector=(vec / np.linalg.norm(vec)).astype(np.float32), start_s=t, end_s=t + 0.96))
            if len(rows) >= 2000:
                _bulk(rows)
        _bulk(rows)

    _without_index(space, fill)
    return {"events": n, "segment_vectors": n, "model_version": version}
