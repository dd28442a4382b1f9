// Client-side pages for result tables computed in one request (probe searches: the probe is never stored, so
// a second request could not repeat the search). <table data-page-size="20"> gets Previous / Next buttons and
// a "Results 1–20 of 87" status; without JavaScript every row stays visible.
(function () {
  "use strict";
  document.querySelectorAll("table[data-page-size]").forEach(function (table) {
    var size = parseInt(table.dataset.pageSize, 10);
    var rows = Array.prototype.slice.call(table.tBodies[0] ? table.tBodies[0].rows : []);
    if (!size || rows.length <= size) { return; }
    var page = 0, pages = Math.ceil(rows.length / size);
    var nav = document.createElement("nav");
    nav.className = "pager";
    nav.setAttribute("aria-label", "Result pages");
    var prev = document.createElement("button"), next = document.createElement("button");
    var status = document.createElement("span");
    prev.type = next.type = "button";
    prev.textContent = "← Previous";
    next.textContent = "Next →";
    status.setAttribute("role", "status");
    status.className = "muted small";
    nav.append(prev, status, next);
    table.after(nav);
    function show() {
      rows.forEach(function (row, i) { row.hidden = Math.floor(i / size) !== page; });
      prev.disabled = page === 0;
      next.disabled = page === pages - 1;
      var first = page * size + 1, last = Math.min(rows.length, (page + 1) * size);
      status.textContent = "Results " + first + "–" + last + " of " + rows.length;
    }
    prev.addEventListener("click", function () { if (page > 0) { page -= 1; show(); } });
    next.addEventListener("click", function () { if (page < pages - 1) { page += 1; show(); } });
    show();
  });
})();
