// Reference collection page: drag-and-drop uploads to the API with per-file progress, then live
// fingerprinting status of the recordings (polled from /api/v1/reference-recordings/).
(function () {
  "use strict";
  const dropzone = document.getElementById("ref-dropzone");
  const table = document.getElementById("recordings");
  const list = document.getElementById("upload-list");
  const template = document.getElementById("recording-row-template");
  if (!table) return;
  const collection = table.dataset.collection;
  const maxBytes = dropzone ? Number(dropzone.dataset.max) : 0;
  const labels = { pending: "Waiting", processing: "Fingerprinting", ready: "Ready", failed: "Failed" };

  function csrfToken() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function human(n) {
    const u = ["B", "KB", "MB", "GB"]; let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + u[i];
  }
  function applyRow(row, r) {
    row.dataset.status = r.status;
    const badge = row.querySelector(".badge.status");
    badge.className = "badge status " + r.status; badge.textContent = labels[r.status] || r.status;
    row.querySelector(".err").textContent = r.error || "";
    row.querySelector(".dur").textContent = r.duration_s ? r.duration_s.toFixed(1) + " s" : "—";
    row.querySelector(".hashes").textContent = r.n_hashes;
  }
  function addRow(r) {
    if (table.querySelector('tr[data-id="' + r.id + '"]')) return;
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.id = r.id; row.id = "rec-" + r.id;
    const a = row.querySelector("a"); a.href = "/references/recordings/" + r.id + "/file/"; a.textContent = r.title;
    row.querySelector(".mono").textContent = r.sha256.slice(0, 17) + "…";
    applyRow(row, r);
    table.querySelector("tbody").prepend(row);
    const empty = document.getElementById("rec-empty");
    if (empty) empty.remove();
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
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/reference-collections/" + collection + "/recordings/");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); state.textContent = bar.value + "%"; }
      };
      xhr.onload = function () {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status === 201 && Array.isArray(body)) {
          bar.value = 100;
          body.forEach(function (r) { addRow(r.recording); state.textContent = r.created ? "uploaded, fingerprinting" : "already in this collection"; });
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
  async function uploadAll(files) { for (const f of Array.from(files)) { await uploadOne(f); } }

  if (dropzone) {
    const input = document.getElementById("ref-file-input");
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

  async function poll() {
    const busy = table.querySelectorAll('tr[data-status="pending"], tr[data-status="processing"]');
    if (busy.length) {
      try {
        const res = await fetch("/api/v1/reference-recordings/?page_size=500&collection=" + collection, { credentials: "same-origin" });
        if (res.ok) {
          const body = await res.json();
          const counts = { total: body.count, ready: 0, busy: 0, failed: 0 };
          body.results.forEach(function (r) {
            const row = table.querySelector('tr[data-id="' + r.id + '"]');
            if (row) applyRow(row, r);
            if (r.status === "ready") counts.ready++; else if (r.status === "failed") counts.failed++; else counts.busy++;
          });
          Object.keys(counts).forEach(function (k) { const el = document.getElementById("stat-" + k); if (el) el.textContent = counts[k]; });
        }
      } catch (err) { /* transient network error: try again next tick */ }
    }
    setTimeout(poll, 1500);
  }
  poll();
})();
