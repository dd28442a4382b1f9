// Case page: drag-and-drop uploads with per-file progress, and live processing status without reload.
(function () {
  "use strict";
  const dropzone = document.getElementById("dropzone");
  const grid = document.getElementById("media-grid");
  const list = document.getElementById("upload-list");
  const template = document.getElementById("media-card-template");
  const caseId = dropzone ? dropzone.dataset.case : (document.querySelector("[data-case]") || {}).dataset?.case;
  const maxBytes = dropzone ? Number(dropzone.dataset.max) : 0;

  function csrfToken() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function human(n) {
    const u = ["B", "KB", "MB", "GB"]; let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + u[i];
  }

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

  function uploadOne(file) {
    const li = document.createElement("li");
    li.className = "upload";
    li.innerHTML = '<span class="fname"></span> <span class="small muted size"></span>' +
      '<progress max="100" value="0" aria-label="Upload progress"></progress> <span class="state small">queued</span>';
    li.querySelector(".fname").textContent = file.name;
    li.querySelector(".size").textContent = human(file.size);
    list.appendChild(li);
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    if (maxBytes && file.size > maxBytes) {
      state.textContent = "too large (limit " + human(maxBytes) + ")"; li.classList.add("failed"); return Promise.resolve();
    }
    return new Promise(function (resolve) {
      const form = new FormData();
      form.append("case", caseId);
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/media/");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); state.textContent = bar.value + "%"; }
      };
      xhr.onload = function () {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status === 201 && Array.isArray(body)) {
          bar.value = 100;
          body.forEach(function (r) { addCard(r.media); state.textContent = r.created ? "uploaded" : "already in this case"; });
          li.classList.add("done");
        } else {
          li.classList.add("failed");
          state.textContent = (xhr.status === 413 ? "too large" : "failed") + (body && body.detail ? ": " + body.detail : "");
        }
        resolve();
      };
      xhr.onerror = function () { li.classList.add("failed"); state.textContent = "network error"; resolve(); };
      state.textContent = "uploading";
      xhr.send(form);
    });
  }

  async function uploadAll(files) {
    for (const f of Array.from(files)) { await uploadOne(f); }
  }

  if (dropzone) {
    const input = document.getElementById("file-input");
    ["dragenter", "dragover"].forEach(function (ev) {
      dropzone.addEventListener(ev, function (e) { e.preventDefault(); dropzone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      dropzone.addEventListener(ev, function (e) { e.preventDefault(); dropzone.classList.remove("over"); });
    });
    dropzone.addEventListener("drop", function (e) { uploadAll(e.dataTransfer.files); });
    dropzone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    input.addEventListener("change", function () { uploadAll(input.files); input.value = ""; });
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
