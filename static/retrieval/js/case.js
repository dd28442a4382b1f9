// Case page: drag-and-drop uploads with per-file progress, and live processing status without reload.
(function () {
  "use strict";
  const dropzone = document.getElementById("dropzone");
  const grid = document.getElementById("media-grid");
  const list = document.getElementById("upload-list");
  const template = document.getElementById("media-card-template");
  const caseId = dropzone ? dropzone.dataset.case : (document.querySelector("[data-case]") || {}).dataset?.case;
  const maxBytes = dropzone ? Number(dropzone.dataset.max) : 0;

  function addCard(media) {
    if (!grid || grid.querySelector('[data-id="' + media.id + '"]')) return;
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.id = media.id;
    node.dataset.status = media.status;
    const url = "/media/" + media.id + "/";
    node.querySelector(".thumb").href = url;
    const name = node.querySelector(".name");
    name.href = url; name.textContent = media.original_name; name.title = media.original_name;
    grid.prepend(node);
    const empty = document.getElementById("media-empty");
    if (empty) empty.remove();
    watch(media.id);
  }

  if (dropzone) {
    window.mmsecUpload.attach(dropzone, document.getElementById("file-input"), {
      url: "/api/v1/media/", fields: { case: caseId }, list: list, maxBytes: maxBytes,
      onResults: function (body, state) {
        body.forEach(function (r) { addCard(r.media); state.textContent = r.created ? "uploaded" : "already in this case"; });
      },
    });
  }

  // ---- live status polling
  const watched = new Set();
  function watch(id) { watched.add(String(id)); }
  document.querySelectorAll(".media-card").forEach(function (card) {
    if (card.dataset.status === "pending" || card.dataset.status === "processing") watch(card.dataset.id);
  });
  function applyStatus(item) {
    const card = grid && grid.querySelector('[data-id="' + item.id + '"]');
    if (!card) return;
    card.dataset.status = item.status;
    const badge = card.querySelector(".badge.status");
    badge.className = "badge status " + item.status; badge.textContent = item.status;
    const running = (item.steps || []).find(function (s) { return s.state === "running" && s.progress > 0; });
    if (running && item.status === "processing") badge.textContent = "processing " + Math.round(running.progress * 100) + " %";
    const pct = item.status === "ready" || item.status === "failed" ? 100 : Math.max(10, Math.round(item.progress * 100));
    card.querySelector(".bar span").style.width = pct + "%";
    card.querySelector(".err").textContent = item.error || "";
    const thumb = card.querySelector(".thumb");
    if (item.has_preview && !thumb.querySelector("img")) {
      const img = document.createElement("img");
      img.src = "/media/" + item.id + "/preview.png"; img.alt = "Preview"; img.loading = "lazy";
      thumb.innerHTML = ""; thumb.appendChild(img);
    } else if (item.status === "failed" && !thumb.querySelector("img")) {
      thumb.innerHTML = '<span class="placeholder failed">Could not read</span>';
    }
    if (item.status === "ready" || item.status === "failed") watched.delete(String(item.id));
  }
  let lastWatched = 0;
  async function poll() {
    if ((watched.size || lastWatched) && caseId) {
      lastWatched = watched.size;
      try {
        const res = await fetch("/cases/" + caseId + "/status/?ids=" + Array.from(watched).join(","), { credentials: "same-origin" });
        if (res.ok) {
          const body = await res.json();
          body.items.forEach(applyStatus);
          ["total", "ready", "busy", "failed"].forEach(function (k) {
            const el = document.getElementById("stat-" + k);
            if (el) el.textContent = body.counts[k];
          });
        }
      } catch (err) { /* transient network error: try again next tick */ }
    }
    setTimeout(poll, 1500);
  }
  poll();
})();
