"""Django admin: users (built in), plugins and model versions, worker health, audit trail (read-only).

Case evidence is deliberately not editable here: administering the platform
does not grant access to cases (see ``Case.objects.visible_to``).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.utils.html import format_html

from retrieval.forms import RateLimitedAdminAuthenticationForm
from retrieval.models import (
    AuditEvent,
    Case,
    EmbeddingSpace,
    ModelVersion,
    PluginConfiguration,
    ReprocessRun,
    WorkerStatus,
)
from retrieval.services import embeddings as embedding_services
from retrieval.services import plugins as plugin_services


class PluginConfigurationForm(forms.ModelForm):
    """Settings are checked on the form (unknown keys, JSON types, the plugin's own ``check_settings`` rules,
    e.g. per-label thresholds of audio_events), so a bad value is shown next to the field and nothing is saved."""

    class Meta:
        model = PluginConfiguration
        fields = ("enabled", "settings", "queue", "batch_size", "device")

    def clean_settings(self) -> Any:
        value = self.cleaned_data.get("settings") or {}
        cls = plugin_services.get_registry().get(self.instance.name)
        if cls is None:
            return value
        try:
            return plugin_services.validate_settings(cls, value)
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"settings": exc.messages}
            raise forms.ValidationError([f"{k}: {' '.join(v)}" for k, v in detail.items()]) from exc


class CountOnlyDeleteMixin:
    """The delete confirmation lists related objects by name (case titles, file names, finding labels):
    show only counts per type, so that administering the platform does not reveal case contents."""

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        _names, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        summary = [f"{count} {model}" for model, count in model_count.items()]
        return summary, model_count, perms_needed, [f"{len(protected)} protected object(s)"] if protected else []


admin.site.login_form = RateLimitedAdminAuthenticationForm  # same failed-login limits as the login page
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class PlatformUserAdmin(CountOnlyDeleteMixin, UserAdmin):
    """Django's user admin, without listing a user's case objects on the delete page."""


@admin.register(PluginConfiguration)
class PluginConfigurationAdmin(admin.ModelAdmin):
    form = PluginConfigurationForm
    list_display = ("name", "enabled", "installed", "installed_version", "active_model_version", "queue",
                    "batch_size", "device", "load_error")
    list_filter = ("enabled", "installed")
    readonly_fields = ("name", "installed", "installed_version", "code_model_version", "api_version", "media_kinds",
                       "description", "load_error", "last_seen_at", "active_model_version", "defaults")
    fields = ("enabled", "settings", "defaults", "queue", "batch_size", "device", *readonly_fields[:-1])
    actions = ["enable", "disable", "reprocess_all"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from installed plugins (sync_plugins)

    @admin.display(description="Defaults (override any key in Settings; applies to jobs that start after saving)")
    def defaults(self, obj: PluginConfiguration) -> str:
        cls = plugin_services.get_registry().get(obj.name)
        if cls is None:
            return "-"
        return format_html('<pre style="max-height:24em;overflow:auto">{}</pre>',
                           json.dumps(dict(cls.default_settings), indent=1, sort_keys=True))

    def save_model(self, request: HttpRequest, obj: PluginConfiguration, form: Any, change: bool) -> None:
        try:
            plugin_services.update_configuration(actor=request.user, config=obj, request=request,
                                                 settings=obj.settings, batch_size=obj.batch_size, queue=obj.queue,
                                                 device=obj.device, enabled=obj.enabled)
        except ValidationError as exc:
            self.message_user(request, f"Not saved: {'; '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Enable selected plugins")
    def enable(self, request: HttpRequest, queryset: Any) -> None:
        for config in queryset:
            try:
                plugin_services.update_configuration(actor=request.user, config=config, enabled=True, request=request)
            except ValidationError as exc:
                self.message_user(request, f"{config.name}: {'; '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Disable selected plugins (stops new work)")
    def disable(self, request: HttpRequest, queryset: Any) -> None:
        for config in queryset:
            plugin_services.update_configuration(actor=request.user, config=config, enabled=False, request=request)

    @admin.action(description="Reprocess all media with the active model version")
    def reprocess_all(self, request: HttpRequest, queryset: Any) -> None:
        for config in queryset:
            run = plugin_services.start_reprocess(actor=request.user, plugin=config.name,
                                                  version=config.active_model_version, request=request)
            self.message_user(request, f"{config.name}: reprocessing {run.total} item(s)")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("plugin", "version", "weights_path", "created_at", "created_by")
    readonly_fields = ("plugin", "version", "weights_path", "artifacts", "created_by", "created_at")
    actions = ["reprocess_with"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # use `manage.py register_model_version` (hashes and checks the files)

    @admin.action(description="Reprocess all media with this version (it becomes active when done)")
    def reprocess_with(self, request: HttpRequest, queryset: Any) -> None:
        for model in queryset:
            try:
                run = plugin_services.start_reprocess(actor=request.user, plugin=model.plugin, version=model.version,
                                                      request=request)
            except ValidationError as exc:
                self.message_user(request, f"{model}: {'; '.join(exc.messages)}", messages.ERROR)
                continue
            self.message_user(request, f"{model}: reprocessing {run.total} item(s)")


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(CountOnlyDeleteMixin, admin.ModelAdmin):
    """HNSW build parameters are editable (they apply at the next rebuild); "Rebuild index" runs on a worker.

    The search ef floor (``ef_search_min``) applies to the next query.
    """

    list_display = ("plugin", "name", "model_version", "dim", "distance", "state", "hnsw_m", "hnsw_ef_construction",
                    "ef_search_min", "index_status", "created_at")
    list_filter = ("plugin", "state")
    fields = ("hnsw_m", "hnsw_ef_construction", "ef_search_min", "index_status", "live_index")
    readonly_fields = ("index_status", "live_index")
    actions = ["rebuild_index"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Index")
    def index_status(self, obj: EmbeddingSpace) -> str:
        progress = embedding_services.index_build_progress(obj)
        if progress:
            return f"building: {progress['phase']}, {progress['percent']} % of the table scanned"
        return "ready" if obj.index_ready else "not ready (build queued or failed: see the worker log)"

    @admin.display(description="Live index")
    def live_index(self, obj: EmbeddingSpace) -> str:
        info = embedding_services.index_info(obj)
        hnsw = (f"{embedding_services.index_name(obj)}: m={info['m']}, ef_construction={info['ef_construction']}, "
                f"{info['bytes'] / 2**20:.1f} MiB{'' if info['valid'] else ', INVALID'}") if info else "none"
        exact = embedding_services.exact_index_bytes(obj)
        if exact is not None:
            return (f"{hnsw}; exact-path index {embedding_services.exact_index_name(obj.pk)}: {exact / 2**20:.1f} MiB "
                    "(selective filters are searched exactly from it)")
        if embedding_services.has_exact_index(obj):
            return f"{hnsw}; exact-path index missing (migration 0013 or a new space creates it)"
        return f"{hnsw}; no exact-path index ({obj.dim} dimensions > {embedding_services.EXACT_INDEX_MAX_DIM})"

    def save_model(self, request: HttpRequest, obj: EmbeddingSpace, form: Any, change: bool) -> None:
        try:
            embedding_services.update_hnsw_params(actor=request.user, space=obj, m=obj.hnsw_m,
                                                  ef_construction=obj.hnsw_ef_construction,
                                                  ef_search_min=obj.ef_search_min, request=request)
        except ValueError as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)
            return
        self.message_user(request, "Saved; m and ef_construction apply when the index is rebuilt (action “Rebuild "
                                   "HNSW index”), the search ef floor applies at once.")

    @admin.action(description="Rebuild HNSW index with the space's m / ef_construction (runs on a worker)")
    def rebuild_index(self, request: HttpRequest, queryset: Any) -> None:
        for space in queryset:
            embedding_services.request_index_rebuild(actor=request.user, space=space, request=request)
            self.message_user(request, f"{space.plugin}/{space.name}: rebuild queued; the Index column shows its "
                                       "progress.")


@admin.register(ReprocessRun)
class ReprocessRunAdmin(admin.ModelAdmin):
    list_display = ("plugin", "model_version", "case", "total", "progress", "state", "created_at", "finished_at")

    def get_queryset(self, request: HttpRequest) -> Any:  # a case-wide run names its case: members only
        return super().get_queryset(request).filter(
            Q(case__isnull=True) | Q(case__in=Case.objects.visible_to(request.user)))
    readonly_fields = ("plugin", "model_version", "case", "total", "state", "created_by", "created_at", "finished_at")

    @admin.display(description="Progress")
    def progress(self, run: ReprocessRun) -> str:
        p = plugin_services.reprocess_progress(run)
        return f"{p['done']} / {p['total']}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WorkerStatus)
class WorkerStatusAdmin(admin.ModelAdmin):
    list_display = ("plugin", "model_version", "hostname", "pid", "device", "rss_mb", "gpu_mem_mb",
                    "items_processed", "items_per_s", "loaded_at", "last_seen_at")
    readonly_fields = [f.name for f in WorkerStatus._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("time", "actor_name", "action", "target_type", "target_id", "case_id", "ip")
    list_filter = ("action",)
    search_fields = ("actor_name", "action", "target_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def get_queryset(self, request: HttpRequest) -> Any:
        """Platform events, and events of the cases the administrator is a member of (details name evidence)."""
        visible = Case.objects.visible_to(request.user).values("id")
        return super().get_queryset(request).filter(Q(case_id__isnull=True) | Q(case_id__in=visible))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
