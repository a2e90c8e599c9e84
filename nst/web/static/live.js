// The live view: reads the run's event stream (/events) and shows it; Stop posts /stop.
"use strict";

const points = [];  // [iteration, J] of every iteration known, for the plot
let ended = false;

function $(id) { return document.getElementById(id); }

function number(value) {
  if (value === null || value === undefined) return "–";
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-2)
    ? value.toExponential(4) : value.toPrecision(5);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}

function showProgress(p) {
  $("iteration").textContent = `iteration ${p.done} / ${p.total ?? "–"}`;
  $("J").textContent = number(p.J);
  if (p.costs) {
    const parts = Object.entries(p.costs).filter(([name]) => name !== "total")
      .map(([name, value]) => `${name} ${number(value)}`);
    $("parts").textContent = `${parts.join(", ")} (iteration ${p.costs_at})`;
  }
  $("rate").textContent = p.per_second === null ? "–" : p.per_second.toPrecision(3);
  $("left").textContent = duration(p.seconds_left);
  $("size").textContent = p.size ? `${p.size[0]} x ${p.size[1]} px` : "–";
  $("level").textContent = p.level
    ? `${p.level.index} / ${p.level.count} (${p.level.width} x ${p.level.height} px)` : "–";
  $("tile").textContent = p.tile ? `${p.tile} x ${p.tile} px` : "–";
  if (p.saved) {
    const link = document.createElement("a");
    link.href = `/run/${encodeURIComponent(p.saved)}`;
    link.textContent = p.saved;
    $("saved").replaceChildren(link);
  }
  showStyles(p.styles);
  for (const point of p.points || []) points.push(point);
  if ((p.points || []).length) drawPlot();
}

let stylesShown = 0;
function showStyles(count) {
  // the inputs exist once the run has started (it says how many style images it has)
  if (count && !$("content").getAttribute("src")) $("content").src = "/input/content.png";
  for (; stylesShown < count; stylesShown++) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = `/input/style-${stylesShown}.png`;
    img.alt = `style image ${stylesShown + 1}`;
    const caption = document.createElement("figcaption");
    caption.textContent = count > 1 ? `style ${stylesShown + 1}` : "style";
    figure.append(img, caption);
    $("styles").append(figure);
  }
}

function drawPlot() {
  // J against the iteration, J on a log scale (it falls by orders of magnitude)
  const canvas = $("plot"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 40;
  g.clearRect(0, 0, w, h);
  const shown = points.filter(([, J]) => J > 0 && Number.isFinite(J));
  if (!shown.length) return;
  const xs = shown.map(([i]) => i), ys = shown.map(([, J]) => Math.log10(J));
  const x0 = Math.min(...xs), x1 = Math.max(x0 + 1, ...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const X = (i) => pad + (i - x0) / (x1 - x0) * (w - pad - 10);
  const Y = (y) => h - pad + (y0 - y) / (y1 - y0) * (h - pad - 10);
  g.strokeStyle = "#999"; g.fillStyle = "#555"; g.font = "11px sans-serif";
  g.beginPath(); g.moveTo(pad, 10); g.lineTo(pad, h - pad); g.lineTo(w - 10, h - pad); g.stroke();
  g.fillText(`J ${number(10 ** y1)}`, 2, 12);
  g.fillText(number(10 ** y0), 2, h - pad);
  g.fillText(`iteration ${x0}`, pad, h - pad + 16);
  g.fillText(String(x1), w - 40, h - pad + 16);
  g.strokeStyle = "#1a6"; g.lineWidth = 1.5; g.beginPath();
  shown.forEach(([i], k) => (k ? g.lineTo(X(i), Y(ys[k])) : g.moveTo(X(i), Y(ys[k]))));
  g.stroke();
}

function showEnd(p) {
  ended = true;
  const words = {finished: "The run has finished", stopped: "The run was stopped",
                 interrupted: "The run was interrupted", failed: "The run failed"};
  $("status").textContent = `${words[p.status] || "The run has ended"}${p.message ? ": " + p.message : ""}`;
  $("status").className = "ended";
  $("stop").disabled = true;
  if (p.result) {
    $("download").href = `/run/${encodeURIComponent(p.result)}`;
    $("download").download = p.result;
  }
}

function listen() {
  const events = new EventSource("/events");
  events.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    if (p.status === "running") $("status").textContent = "Painting";
    showProgress(p);
  });
  events.addEventListener("image", (e) => {
    const image = JSON.parse(e.data);
    $("current").src = image.src;
    $("current").dataset.iteration = image.iteration;
    $("caption").textContent = `iteration ${image.iteration}`;
  });
  events.addEventListener("end", (e) => { showProgress(JSON.parse(e.data)); showEnd(JSON.parse(e.data)); events.close(); });
  events.onerror = () => {
    if (!ended) $("status").textContent = "Connection lost; trying again…";
  };
}

async function stop() {
  $("stop").disabled = true;
  const token = document.querySelector('meta[name="stop-token"]').content;
  try {
    const answer = await fetch("/stop", {method: "POST", headers: {"X-Live-Token": token}});
    $("status").textContent = answer.ok ? "Stopping after this iteration…" : "Stop was refused";
  } catch (error) {
    $("status").textContent = "Stop could not be sent";
    $("stop").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("stop").addEventListener("click", stop);
  listen();
});
