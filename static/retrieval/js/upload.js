// Shared by the case page and the reference collection page: drag-and-drop / file-input uploads to an API
// endpoint, one XHR per file with a progress bar in a list. Exposes window.mmsecUpload.
(function () {
  "use strict";
  function csrfToken() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function human(n) {
    const u = ["B", "KB", "MB", "GB"]; let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + u[i];
  }
  // opts: {url, fields: {name: value}, list: <ul>, maxBytes, onResults(body, stateNode)}
  function uploadOne(file, opts) {
    const li = document.createElement("li");
    li.className = "upload";
    li.innerHTML = '<span class="fname"></span> <span class="small muted size"></span>' +
      '<progress max="100" value="0" aria-label="Upload progress"></progress> <span class="state small">queued</span>';
    li.querySelector(".fname").textContent = file.name;
    li.querySelector(".size").textContent = human(file.size);
    opts.list.appendChild(li);
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    if (opts.maxBytes && file.size > opts.maxBytes) {
      state.textContent = "too large (limit " + human(opts.maxBytes) + ")"; li.classList.add("failed"); return Promise.resolve();
    }
    return new Promise(function (resolve) {
      const form = new FormData();
      Object.keys(opts.fields || {}).forEach(function (k) { form.append(k, opts.fields[k]); });
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", opts.url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); state.textContent = bar.value + "%"; }
      };
      xhr.onload = function () {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status === 201 && Array.isArray(body)) {
          bar.value = 100;
          opts.onResults(body, state);
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
  function attach(dropzone, input, opts) {
    async function uploadAll(files) { for (const f of Array.from(files)) { await uploadOne(f, opts); } }
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
  window.mmsecUpload = { attach: attach, csrfToken: csrfToken, human: human };
})();
