// Live reprocessing progress on the model page (polls every 3 s while a run is running).
(function () {
  "use strict";
  const url = document.currentScript.dataset.url;
  async function poll() {
    let data;
    try { data = await (await fetch(url, {headers: {Accept: "application/json"}})).json(); } catch (e) { return setTimeout(poll, 10000); }
    let running = false;
    for (const run of data.runs) {
      const li = document.querySelector(`[data-run="${run.id}"]`);
      if (!li) continue;
      li.querySelector("[data-state]").textContent = run.state;
      li.querySelector("[data-state]").className = `badge ${run.state}`;
      li.querySelector("[data-count]").textContent = `${run.done}/${run.total}`;
      li.querySelector("[data-bar]").style.width = `${run.total ? 100 * run.done / run.total : 100}%`;
      running = running || run.state === "running";
    }
    if (running) setTimeout(poll, 3000);
  }
  if (document.querySelector("[data-run] .badge.running")) setTimeout(poll, 3000);
})();
