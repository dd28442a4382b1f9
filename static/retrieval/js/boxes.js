// Draws a detection box over an evidence preview (data-box = "x1,y1,x2,y2" in original pixels).
(function () {
  const img = document.getElementById("alert-preview");
  if (!img || !img.dataset.box) return;
  const [x1, y1, x2, y2] = img.dataset.box.split(",").map(Number);
  function place() {
    const w = Number(img.dataset.width) || img.naturalWidth, h = Number(img.dataset.height) || img.naturalHeight;
    const sx = img.clientWidth / w, sy = img.clientHeight / h;
    let box = img.parentNode.querySelector(".box");
    if (!box) { box = document.createElement("div"); box.className = "box"; box.setAttribute("aria-hidden", "true"); img.parentNode.appendChild(box); }
    Object.assign(box.style, {left: x1 * sx + "px", top: y1 * sy + "px", width: (x2 - x1) * sx + "px", height: (y2 - y1) * sy + "px"});
  }
  if (img.complete) place(); else img.addEventListener("load", place);
  window.addEventListener("resize", place);
})();
