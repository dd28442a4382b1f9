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

  if (dropzone) {
    window.mmsecUpload.attach(dropzone, document.getElementById("ref-file-input"), {
      url: "/api/v1/reference-collections/" + collection + "/recordings/", list: list, maxBytes: maxBytes,
      onResults: function (body, state) {
        body.forEach(function (r) { addRow(r.recording); state.textContent = r.created ? "uploaded, fingerprinting" : "already in this collection"; });
      },
    });
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
