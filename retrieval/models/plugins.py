"""Administrator-managed plugin configuration, model versions and worker health.

Rows are synced from the plugin registry (``services.plugins.sync_plugins``) on
``migrate`` and by ``manage.py sync_plugins``. New plugins start disabled.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Device(models.TextChoices):
    AUTO = "auto", "Auto (CUDA if available)"
    CPU = "cpu", "CPU"
    CUDA = "cuda", "CUDA"


class PluginConfiguration(models.Model):
    """How mmsec runs one installed plugin."""

    name = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=64, blank=True, help_text="empty = cpu.<name>")
    batch_size = models.PositiveIntegerField(default=8)
    device = models.CharField(max_length=8, choices=Device.choices, default=Device.AUTO)
    active_model_version = models.CharField(max_length=128, blank=True)
    # Read-only mirrors of the code, refreshed by sync_plugins.
    installed_version = models.CharField(max_length=64, blank=True)
    code_model_version = models.CharField(max_length=128, blank=True)
    api_version = models.IntegerField(null=True, blank=True)
    media_kinds = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    load_error = models.TextField(blank=True)
    installed = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_plugins", "Can manage model plugins")]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_queue(self) -> str:
        return self.queue or f"cpu.{self.name}"


class ModelVersion(models.Model):
    """A set of weights a plugin runs with. The built-in one comes from code; others are registered by admins."""

    plugin = models.CharField(max_length=64)
    version = models.CharField(max_length=128)
    weights_path = models.CharField(max_length=1024, blank=True, help_text="empty = the plugin's bundled weights")
    artifacts = models.JSONField(default=list, blank=True)  # [{"name", "path", "sha256", "size"}]
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plugin", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["plugin", "version"], name="uniq_model_version")]

    def __str__(self) -> str:
        return f"{self.plugin}@{self.version}"


class ReprocessRun(models.Model):
    """Running one model version over a case (or all media); search switches when it completes."""

    plugin = models.CharField(max_length=64)
    model_version = models.CharField(max_length=128)
    case = models.ForeignKey("retrieval.Case", null=True, blank=True, on_delete=models.CASCADE)
    total = models.IntegerField(default=0)
    state = models.CharField(max_length=16, default="running")  # running | done | failed
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reprocess {self.plugin}@{self.model_version}"


class WorkerStatus(models.Model):
    """Heartbeat of a worker process: which models it has loaded, on which device, how fast."""

    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    plugin = models.CharField(max_length=64)
    model_version = models.CharField(max_length=128, blank=True)
    device = models.CharField(max_length=32, blank=True)
    rss_mb = models.FloatField(null=True, blank=True)
    gpu_mem_mb = models.FloatField(null=True, blank=True)
    items_processed = models.BigIntegerField(default=0)
    items_per_s = models.FloatField(null=True, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [models.UniqueConstraint(fields=["hostname", "pid", "plugin"], name="uniq_worker_plugin")]

    def __str__(self) -> str:
        return f"{self.plugin} on {self.hostname}:{self.pid} ({self.device})"
