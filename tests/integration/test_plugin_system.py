"""Plugin system end to end with the database: enable/disable, fan-out, batching, findings in pgvector,
model versions and atomic switching after reprocessing, weight verification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from retrieval import inference
from retrieval.models import EmbeddingSpace, Finding, JobState, ModelVersion, PluginConfiguration, ProcessingJob
from retrieval.plugin_registry import reset_registry
from retrieval.services import plugins
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def histogram_plugin(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MMSEC_EXTRA_PLUGINS", "histogram=tests.fakes:HistogramPlugin")
    reset_registry()
    inference.unload_all()
    plugins.sync_plugins()
    yield
    reset_registry()
    inference.unload_all()


def _enable(personas, name: str = "histogram", **fields) -> PluginConfiguration:
    config = PluginConfiguration.objects.get(name=name)
    return plugins.update_configuration(actor=personas["staff"], config=config, enabled=True, **fields)


def test_new_plugins_appear_disabled(personas) -> None:
    config = PluginConfiguration.objects.get(name="histogram")
    assert not config.enabled and config.installed and config.code_model_version == "hist16-v1"
    assert PluginConfiguration.objects.get(name="image_phash").installed


def test_first_start_enables_the_default_plugins_once(personas, settings) -> None:
    """`make run` on a fresh database: the bundled default plugins work without a visit to the admin;
    after an administrator has configured plugins, a restart never overrides their choice."""
    settings.MMSEC_DEFAULT_PLUGINS = ["histogram", "no_such_plugin"]
    assert plugins.enable_defaults() == ["histogram"]
    assert PluginConfiguration.objects.get(name="histogram").enabled
    plugins.update_configuration(actor=personas["staff"], config=PluginConfiguration.objects.get(name="histogram"),
                                 enabled=False)
    assert plugins.enable_defaults() == []
    assert not PluginConfiguration.objects.get(name="histogram").enabled


def test_enabled_plugins_process_uploads_and_results_are_searchable(api, personas) -> None:
    _enable(personas)
    red = upload(api("alice"), personas["case"].pk, "red.png", samples.png_bytes(color=(250, 10, 10))).json()
    blue = upload(api("alice"), personas["case"].pk, "blue.png", samples.png_bytes(color=(10, 10, 250))).json()
    tone = upload(api("alice"), personas["case"].pk, "a.wav", samples.wav_bytes(1.0)).json()
    for r in (red, blue, tone):
        media = process_inline(r[0]["media"]["id"])
        assert media.status == "ready"
        assert media.jobs.get(step="plugin:histogram@hist16-v1").state == JobState.DONE
    audio_finding = Finding.objects.get(media_id=tone[0]["media"]["id"], plugin="histogram")
    assert audio_finding.start_s == 0.0 and abs(audio_finding.end_s - 1.0) < 0.01
    red_finding = Finding.objects.get(media_id=red[0]["media"]["id"])
    response = api("bob").post("/api/v1/search/similar/", {"plugin": "histogram", "space": "hist",
                                                            "finding": red_finding.pk, "k": 2}, format="json")
    assert response.status_code == 200, response.content
    hits = response.json()["hits"]
    assert hits[0]["media_id"] == red[0]["media"]["id"] and hits[0]["similarity"] > 0.999
    outsider = api("charlie").post("/api/v1/search/similar/", {"plugin": "histogram", "space": "hist",
                                                                "vector": list(map(float, red_finding.vector))},
                                   format="json")
    assert outsider.json()["hits"] == []


def test_image_jobs_of_one_step_are_batched_together(api, personas) -> None:
    _enable(personas, batch_size=4)
    client = api("alice")
    ids = [upload(client, personas["case"].pk, f"{i}.png", samples.png_bytes(20 + i, 20)).json()[0]["media"]["id"]
           for i in range(5)]
    from retrieval.services import pipeline

    for media_id in ids:
        pipeline.run_job(ProcessingJob.objects.get(media_id=media_id, step="metadata").pk)
    first = ProcessingJob.objects.filter(step="plugin:histogram@hist16-v1").order_by("id").first()
    pipeline.run_job(first.pk)
    states = list(ProcessingJob.objects.filter(step="plugin:histogram@hist16-v1").values_list("state", flat=True))
    assert states.count(JobState.DONE) == 4 and states.count(JobState.QUEUED) == 1


def test_disabling_stops_new_work(api, personas) -> None:
    config = _enable(personas)
    plugins.update_configuration(actor=personas["staff"], config=config, enabled=False)
    response = upload(api("alice"), personas["case"].pk, "x.png", samples.png_bytes())
    media = process_inline(response.json()[0]["media"]["id"])
    assert [j.step for j in media.jobs.all()] == ["metadata"]
    assert not Finding.objects.filter(media=media).exists()


def test_settings_are_validated(personas) -> None:
    config = PluginConfiguration.objects.get(name="histogram")
    with pytest.raises(ValidationError):
        plugins.update_configuration(actor=personas["staff"], config=config, settings={"nope": 1})
    with pytest.raises(ValidationError):
        plugins.update_configuration(actor=personas["staff"], config=config, settings={"sleep_s": "slow"})
    with pytest.raises(ValidationError):
        plugins.update_configuration(actor=personas["staff"], config=config, batch_size=1000)


def _weights_dir(tmp_path: Path) -> Path:
    weights = tmp_path / "hist-v2"
    weights.mkdir()
    np.savez(weights / "bins.npz", bins=np.arange(16))
    return weights


def test_reprocessing_switches_search_atomically_when_complete(api, personas, tmp_path: Path) -> None:
    _enable(personas)
    client = api("alice")
    ids = [upload(client, personas["case"].pk, f"{i}.png", samples.png_bytes(30 + i, 30)).json()[0]["media"]["id"]
           for i in range(3)]
    for media_id in ids:
        process_inline(media_id)
    v1 = EmbeddingSpace.objects.get(plugin="histogram", model_version="hist16-v1")
    assert v1.state == "active"
    plugins.register_model_version(actor=personas["staff"], plugin="histogram", version="hist16-v2",
                                   weights=_weights_dir(tmp_path))
    run = plugins.start_reprocess(actor=personas["staff"], plugin="histogram", version="hist16-v2")
    assert run.total == 3
    v2 = EmbeddingSpace.objects.get(plugin="histogram", model_version="hist16-v2")
    assert v2.state == "building"
    from retrieval.services import pipeline, search

    jobs = list(ProcessingJob.objects.filter(step="plugin:histogram@hist16-v2").order_by("id"))
    pipeline.run_job(jobs[0].pk)  # batch of images may take all three at once
    remaining = ProcessingJob.objects.filter(step="plugin:histogram@hist16-v2", state=JobState.QUEUED)
    if remaining.exists():
        assert search.active_space("histogram", "hist").model_version == "hist16-v1"  # not switched early
        for job in remaining:
            pipeline.run_job(job.pk)
    run.refresh_from_db()
    assert run.state == "done"
    assert search.active_space("histogram", "hist").model_version == "hist16-v2"
    assert EmbeddingSpace.objects.get(pk=v1.pk).state == "retired"
    assert PluginConfiguration.objects.get(name="histogram").active_model_version == "hist16-v2"
    plugins.drop_model_version(actor=personas["staff"], plugin="histogram", version="hist16-v1")
    assert not Finding.objects.filter(plugin="histogram", model_version="hist16-v1").exists()
    assert not EmbeddingSpace.objects.filter(pk=v1.pk).exists()


def test_pickle_weights_are_refused(personas, tmp_path: Path) -> None:
    import pickle

    (tmp_path / "model.pt").write_bytes(b"whatever")
    with pytest.raises(ValidationError, match="not accepted"):
        plugins.register_model_version(actor=None, plugin="histogram", version="x1", weights=tmp_path / "model.pt")
    disguised = tmp_path / "model.bin"
    disguised.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(ValidationError, match="pickle"):
        plugins.register_model_version(actor=None, plugin="histogram", version="x2", weights=disguised)


def test_a_weights_hash_mismatch_refuses_to_load(api, personas, tmp_path: Path) -> None:
    config = _enable(personas)
    model = plugins.register_model_version(actor=personas["staff"], plugin="histogram", version="hist16-v3",
                                           weights=_weights_dir(tmp_path))
    (Path(model.weights_path) / "bins.npz").write_bytes(b"tampered")
    PluginConfiguration.objects.filter(pk=config.pk).update(active_model_version="hist16-v3")
    response = upload(api("alice"), personas["case"].pk, "x.png", samples.png_bytes())
    media = process_inline(response.json()[0]["media"]["id"])
    job = media.jobs.get(step="plugin:histogram@hist16-v3")
    assert job.state == JobState.FAILED and "refusing to load" in job.error
    assert ModelVersion.objects.filter(plugin="histogram").count() == 2


def test_video_is_split_into_timed_frames_and_an_audio_track(api, personas, settings) -> None:
    settings.MMSEC_VIDEO_FRAME_INTERVAL_S = 0.5
    _enable(personas)
    response = upload(api("alice"), personas["case"].pk, "v.mp4", samples.mp4_bytes(seconds=2.0, scene_cut_at=1.25))
    media = process_inline(response.json()[0]["media"]["id"])
    assert media.status == "ready", media.error
    findings = list(Finding.objects.filter(media=media, plugin="histogram").order_by("start_s", "key"))
    audio = [f for f in findings if f.end_s and f.end_s > f.start_s]
    frames = [f for f in findings if f not in audio]
    assert len(audio) == 1 and abs(audio[0].end_s - 2.0) < 0.15
    times = [round(f.start_s, 2) for f in frames]
    assert times[:4] == [0.0, 0.5, 1.0, 1.3]  # interval samples plus the scene cut
    assert all(f.vector is not None for f in findings)


def test_a_cut_video_is_analysed_as_far_as_it_goes_and_the_job_says_so(api, personas, settings) -> None:
    """A Matroska video cut in half (its header states 10 s): the frames that are there are analysed, the job is
    done and its warning says up to where; the whole file gives no warning."""
    _enable(personas)
    whole = samples.matroska_bytes(samples.mp4_bytes(seconds=10.0, size=(160, 96)))
    jobs = {}
    for name, data in (("whole.mkv", whole), ("cut.mkv", whole[: len(whole) // 2])):
        response = upload(api("alice"), personas["case"].pk, name, data)
        media = process_inline(response.json()[0]["media"]["id"])
        assert media.status == "ready", media.error
        jobs[name] = media.jobs.get(step__startswith="plugin:histogram")
        assert jobs[name].state == "done"
    assert jobs["whole.mkv"].warning == ""
    frames = Finding.objects.filter(media=jobs["cut.mkv"].media, plugin="histogram").count()
    assert 2 <= frames <= 7
    assert "video frames decoded only up to" in jobs["cut.mkv"].warning
    assert "of the 10.0 s this file declares" in jobs["cut.mkv"].warning


def test_a_process_that_loads_a_model_keeps_freed_heap_for_the_next_batch(api, personas, settings) -> None:
    """retrieval.allocator: a model-running process keeps MMSEC_HEAP_KEEP_MB of freed heap (no page-fault
    churn per batch); the setting is applied once per process, when the first model loads."""
    _enable(personas)
    red = upload(api("alice"), personas["case"].pk, "red.png", samples.png_bytes(color=(250, 10, 10))).json()
    assert process_inline(red[0]["media"]["id"]).status == "ready"
    assert inference.heap_tuning() == (settings.MMSEC_HEAP_KEEP_MB, True)
    assert settings.MMSEC_HEAP_KEEP_MB == 128
