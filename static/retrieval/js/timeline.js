// The media page's combined timeline: one row per track (faces, audio events, transcript, matches...).
// Bars are positioned in % of the media duration; clicking a bar (or pressing Enter on it) seeks the player.
(function () {
  "use strict";
  const player = document.getElementById("player");
  const startAt = document.getElementById("start-at");
  function seek(t) {
    if (!player) return;
    const go = () => { player.currentTime = t; };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, {once: true});
  }
  if (startAt) seek(Number(startAt.dataset.t));
  document.addEventListener("click", (ev) => {
    const target = ev.target.closest("[data-seek]");
    if (target) { ev.preventDefault(); seek(Number(target.dataset.seek)); if (player) player.play().catch(() => {}); }
  });
  const root = document.getElementById("timeline");
  const dataNode = document.getElementById("timeline-data");
  if (!root || !dataNode) return;
  const segments = JSON.parse(dataNode.textContent);
  const duration = Number(root.dataset.duration) || Math.max(1, ...segments.map((s) => s.end_s || s.start_s));
  const fmt = (t) => { t = Math.max(0, Math.round(t)); return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`; };
  const tracks = new Map();
  for (const s of segments) { if (!tracks.has(s.track)) tracks.set(s.track, []); tracks.get(s.track).push(s); }
  const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04"];
  let i = 0;
  for (const [name, items] of tracks) {
    const color = palette[i++ % palette.length];
    const row = document.createElement("div"); row.className = "tl-row";
    const label = document.createElement("div"); label.className = "tl-label"; label.textContent = name;
    const lane = document.createElement("div"); lane.className = "tl-lane";
    for (const s of items) {
      const bar = document.createElement("button");
      bar.type = "button"; bar.className = "tl-bar"; bar.dataset.seek = s.start_s;
      bar.style.left = (100 * s.start_s / duration) + "%";
      bar.style.width = Math.max(0.4, 100 * (Math.max(s.end_s, s.start_s) - s.start_s) / duration) + "%";
      bar.style.background = s.color || color;
      const score = s.score == null ? "" : ` (${Number(s.score).toFixed(2)})`;
      bar.title = `${s.label}${score} at ${fmt(s.start_s)}–${fmt(s.end_s)}`;
      bar.setAttribute("aria-label", `${name}: ${bar.title}`);
      if (s.href) bar.addEventListener("dblclick", () => { window.location.href = s.href; });
      lane.appendChild(bar);
    }
    row.append(label, lane); root.appendChild(row);
  }
  const axis = document.createElement("div"); axis.className = "tl-axis";
  for (let k = 0; k <= 4; k++) { const t = document.createElement("span"); t.style.left = (25 * k) + "%"; t.textContent = fmt(duration * k / 4); axis.appendChild(t); }
  root.appendChild(axis);
  if (player) {
    const head = document.createElement("div"); head.className = "tl-head"; head.setAttribute("aria-hidden", "true");
    root.appendChild(head);
    player.addEventListener("timeupdate", () => { head.style.left = `calc(120px + (100% - 120px) * ${player.currentTime / duration})`; });
  }
})();
