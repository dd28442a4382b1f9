"""Locust users for bench/load_test.py (issue 10 load test): investigators browsing, searching by example, uploading.

Not meant to be run by hand: ``bench/load_test.py`` seeds the site started by ``make run`` and writes the plan
(users, passwords, tokens, their case, its media and findings) to the JSON file named by ``MMSEC_LOAD_PLAN``.
Request names start with ``page:`` (HTML and images for the browser), ``api:`` (REST clients) or ``login:``, so the
report can give figures per group. Every user picks one identity of the plan and works only in its case.

Think times are those of people reading results (2-8 s between actions, 20-40 s between uploads), not of a
request generator: 50 users then make about 8-10 requests per second, which is the load the issue describes.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import wave
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["MMSEC_LOAD_PLAN"]).read_text())
_IDENTITIES = itertools.cycle(PLAN["users"])
_WORDS = PLAN.get("words") or ["the", "time", "house"]
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


_HISTORY_PATH = os.environ.get("MMSEC_LOAD_HISTORY")
_HISTORY = open(_HISTORY_PATH, "a", buffering=1) if _HISTORY_PATH else None  # noqa: SIM115 - open for the run


@events.request.add_listener
def _record(name: str, response_time: float, exception: Exception | None, **_: Any) -> None:
    """Every response time (for exact group percentiles across request names)."""
    if _HISTORY is not None:
        _HISTORY.write(json.dumps({"name": name, "ms": round(response_time, 2), "ok": exception is None}) + "\n")


def _identity() -> dict[str, Any]:
    return next(_IDENTITIES)


def _case(identity: dict[str, Any]) -> dict[str, Any]:
    return PLAN["cases"][str(identity["case"])]


def _fresh_image(source: Path) -> bytes:
    """A new JPEG from a corpus photo (random crop and brightness), so every upload is new evidence."""
    from PIL import Image, ImageEnhance

    with Image.open(source) as img:
        img = img.convert("RGB")
        w, h = img.size
        dx, dy = random.randint(0, w // 12), random.randint(0, h // 12)
        img = img.crop((dx, dy, w - random.randint(0, w // 12), h - random.randint(0, h // 12)))
        img = ImageEnhance.Brightness(img).enhance(random.uniform(0.85, 1.15))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
    return out.getvalue()


def _fresh_clip(source: Path) -> bytes:
    """A new WAV excerpt (random start, 3-8 s) of a corpus 16 kHz speech/sound file."""
    with wave.open(str(source), "rb") as w:
        rate, frames, width, channels = w.getframerate(), w.getnframes(), w.getsampwidth(), w.getnchannels()
        length = min(frames, int(rate * random.uniform(3.0, 8.0)))
        w.setpos(random.randint(0, max(0, frames - length)))
        data = w.readframes(length)
    out = io.BytesIO()
    with wave.open(out, "wb") as o:
        o.setnchannels(channels)
        o.setsampwidth(width)
        o.setframerate(rate)
        o.writeframes(data)
    return out.getvalue()


class Investigator(FastHttpUser):
    """A person in the browser: case list and page, media pages and previews, alerts, search pages."""

    weight = 30
    wait_time = between(2, 8)

    def on_start(self) -> None:
        self.me = _identity()
        self.case = _case(self.me)
        page = self.client.get("/login/", name="login: form")
        token = _CSRF.search(page.text or "")
        self.client.post("/login/", data={"username": self.me["username"], "password": self.me["password"],
                                          "csrfmiddlewaretoken": token.group(1) if token else ""},
                         headers={"Referer": f"{self.host}/login/"}, name="login: submit")

    @task(3)
    def case_list(self) -> None:
        self.client.get("/cases/", name="page: case list")

    @task(5)
    def case_page(self) -> None:
        self.client.get(f"/cases/{self.case['id']}/", name="page: case")

    @task(1)
    def case_page_images(self) -> None:
        self.client.get(f"/cases/{self.case['id']}/?kind=image", name="page: case (images)")

    @task(4)
    def media_page(self) -> None:
        self.client.get(f"/media/{random.choice(self.case['media'])}/", name="page: media")

    @task(3)
    def preview(self) -> None:
        self.client.get(f"/media/{random.choice(self.case['media'])}/preview.png", name="page: preview image")

    @task(2)
    def alerts(self) -> None:
        self.client.get("/alerts/", name="page: alerts inbox")

    @task(1)
    def portal(self) -> None:
        self.client.get("/search/", name="page: search portal")

    @task(2)
    def transcript_search(self) -> None:
        self.client.get(f"/search/transcripts/?q={random.choice(_WORDS)}", name="page: transcript search")

    @task(1)
    def event_search(self) -> None:
        self.client.get("/audio-events/", name="page: sound event search")

    @task(1)
    def persons(self) -> None:
        self.client.get(f"/cases/{self.case['id']}/persons/", name="page: persons")


class ApiClient(FastHttpUser):
    """A REST client (or the search portal's scripts): search by example, transcripts, media list."""

    weight = 15
    wait_time = between(2, 8)

    def on_start(self) -> None:
        self.me = _identity()
        self.case = _case(self.me)
        self.auth = {"Authorization": f"Token {self.me['token']}"}

    @task(5)
    def similar_faces(self) -> None:
        if not self.case["faces"]:
            return
        self.client.post("/api/v1/search/similar/", json={"plugin": PLAN["face_space"][0],
                                                          "space": PLAN["face_space"][1],
                                                          "finding": random.choice(self.case["faces"]), "k": 20},
                         headers=self.auth, name="api: similar faces (by example)")

    @task(3)
    def similar_sounds(self) -> None:
        if not self.case["sounds"]:
            return
        self.client.get(f"/api/v1/audio-events/{random.choice(self.case['sounds'])}/similar/", headers=self.auth,
                        name="api: similar sounds (by example)")

    @task(1)
    def face_probe(self) -> None:
        photo = Path(random.choice(PLAN["probe_photos"]))
        self.client.post("/api/v1/faces/probe/", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")},
                         headers=self.auth, name="api: face probe photo (by example)")

    @task(1)
    def audio_probe(self) -> None:
        clip = _fresh_clip(Path(random.choice(PLAN["probe_clips"])))  # 4-12 s speech (some events < 1 s)
        self.client.post("/api/v1/audio/probe/", files={"file": ("clip.wav", clip, "audio/wav")},
                         headers=self.auth, name="api: audio clip probe (by example)")

    @task(3)
    def transcripts(self) -> None:
        self.client.get(f"/api/v1/search/transcripts/?q={random.choice(_WORDS)}", headers=self.auth,
                        name="api: transcript search")

    @task(2)
    def media_list(self) -> None:
        self.client.get(f"/api/v1/media/?case={self.case['id']}", headers=self.auth, name="api: media list")

    @task(1)
    def alerts(self) -> None:
        self.client.get("/api/v1/alerts/", headers=self.auth, name="api: alerts")


class Uploader(FastHttpUser):
    """An investigator adding evidence through the API: photos and audio clips, then following their processing."""

    weight = 5
    wait_time = between(20, 40)

    def on_start(self) -> None:
        self.me = _identity()
        self.case = _case(self.me)
        self.auth = {"Authorization": f"Token {self.me['token']}"}
        self.last: int | None = None

    def _upload(self, name: str, body: bytes, content_type: str) -> None:
        with self.client.post("/api/v1/media/", data={"case": str(self.case["id"])},
                              files={"file": (name, body, content_type)}, headers=self.auth,
                              name="api: upload", catch_response=True) as resp:
            if resp.status_code != 201:
                resp.failure(f"upload answered {resp.status_code}: {(resp.text or '')[:200]}")
                return
            self.last = resp.json()[0]["media"]["id"]

    @task(2)
    def upload_photo(self) -> None:
        self._upload(f"photo-{random.randrange(10**9)}.jpg", _fresh_image(Path(random.choice(PLAN["photos"]))),
                     "image/jpeg")

    @task(1)
    def upload_clip(self) -> None:
        self._upload(f"clip-{random.randrange(10**9)}.wav", _fresh_clip(Path(random.choice(PLAN["clips"]))),
                     "audio/wav")

    @task(2)
    def follow(self) -> None:
        if self.last is not None:
            self.client.get(f"/api/v1/media/{self.last}/status/", headers=self.auth, name="api: processing status")
