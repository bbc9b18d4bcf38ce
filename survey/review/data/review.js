// Review app: map + list + detail + decisions. Plain JS, no build step, works offline.
"use strict";
const COLOURS = ["#2e7d32", "#9e9d24", "#f9a825", "#ef6c00", "#b71c1c"];
const S = { run: null, features: [], selected: null, marks: {}, map: null, layer: null };
const $ = (sel) => document.querySelector(sel);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const colour = (s) => COLOURS[Math.min(Math.max(s, 1), 5) - 1];

async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function markStyle(p) {
  const d = p.decision;
  if (p.sensors === "inspector") return { radius: 4 + p.final_severity, color: "#e040fb", weight: 3, dashArray: null, fillColor: colour(p.final_severity), fillOpacity: 0.9 };
  return {
    radius: 4 + p.final_severity, color: d === "confirmed" ? "#000" : d === "needs_revisit" ? "#e65100" : "#333",
    weight: d === "unreviewed" ? 1 : 3, dashArray: d === "needs_revisit" ? "3 3" : null,
    fillColor: colour(p.final_severity), fillOpacity: d === "rejected" ? 0.25 : 0.9,
  };
}

// Uncertainty ellipse as lon/lat ring: semi-axes in metres, azimuth clockwise from north.
function ellipse(p) {
  if (p.unc_major_m == null || p.unc_minor_m == null) return null;
  const az = ((p.unc_azimuth_deg || 0) * Math.PI) / 180, k = 111320, ring = [];
  for (let i = 0; i <= 36; i++) {
    const t = (i / 36) * 2 * Math.PI, a = p.unc_major_m * Math.cos(t), b = p.unc_minor_m * Math.sin(t);
    const north = a * Math.cos(az) - b * Math.sin(az), east = a * Math.sin(az) + b * Math.cos(az);
    ring.push([p.lat_deg + north / k, p.lon_deg + east / (k * Math.cos((p.lat_deg * Math.PI) / 180))]);
  }
  return ring;
}

function drawLeaflet() {
  if (!S.map) {
    const imagery = S.run.imagery || [];
    const maxZoom = Math.max(19, ...imagery.map((t) => t.max_zoom + 2));
    S.map = L.map("map", { zoomControl: true, preferCanvas: false, maxZoom });
    // the run's own frames draped on the ground: offline tiles served from the run folder
    const bases = {};
    imagery.forEach((t, i) => {
      const [w, s, e, n] = t.bounds;
      const layer = L.tileLayer(t.url, {
        // below its coarsest level the layer hides (a minNativeZoom would make Leaflet walk
        // every fine tile of the world when zoomed out)
        minZoom: t.min_zoom, maxZoom, maxNativeZoom: t.max_zoom,
        bounds: L.latLngBounds([s, w], [n, e]), attribution: "survey run imagery",
        className: `imagery-${t.name}`,
      });
      bases[`${t.name === "rgb" ? "RGB" : "Thermal"} imagery (${(t.gsd_m * 100).toFixed(1)} cm)`] = layer;
      if (i === 0) layer.addTo(S.map);
    });
    if (imagery.length) L.control.layers(bases, {}, { collapsed: false }).addTo(S.map);
    // click anywhere: every frame that saw that ground point
    S.map.on("click", (e) => {
      if (S.measure) { measureAdd(e.latlng); return; }
      if (S.draw) { drawAdd(e.latlng); return; }
      showFrames({ lon: e.latlng.lng.toFixed(8), lat: e.latlng.lat.toFixed(8) }, `${e.latlng.lat.toFixed(6)}, ${e.latlng.lng.toFixed(6)}`);
    });
    const Measure = L.Control.extend({
      onAdd() {
        const b = L.DomUtil.create("button", "measure-btn");
        b.type = "button"; b.textContent = "Measure"; b.title = "click points on the map: distance and area (Esc ends)";
        L.DomEvent.disableClickPropagation(b);
        b.onclick = () => (S.measure ? measureEnd(true) : measureStart());
        return b;
      },
    });
    new Measure({ position: "topleft" }).addTo(S.map);
    const Add = L.Control.extend({
      onAdd() {
        const b = L.DomUtil.create("button", "add-btn");
        b.type = "button"; b.textContent = "Add defect"; b.title = "a defect the models missed: click its outline on the map (one click: a point)";
        L.DomEvent.disableClickPropagation(b);
        b.onclick = () => (S.draw ? drawEnd() : drawStart());
        return b;
      },
    });
    new Add({ position: "topleft" }).addTo(S.map);
    if (S.run.route) L.geoJSON(S.run.route, { style: { color: "#37474f", weight: 3 } }).addTo(S.map);
    if (S.run.coverage) L.geoJSON(S.run.coverage, { style: { color: "#4fc3f7", weight: 0, fillOpacity: 0.12 } }).addTo(S.map);
  }
  if (S.layer) S.layer.remove();
  S.layer = L.layerGroup().addTo(S.map);
  S.marks = {};
  const pts = [];
  for (const f of S.features) {
    const p = f.properties, ring = ellipse(p);
    if (ring) L.polygon(ring, { color: colour(p.final_severity), weight: 1, fill: false, dashArray: "2 3", interactive: false }).addTo(S.layer);
    if (f.geometry) L.geoJSON(f.geometry, { style: { color: colour(p.final_severity), weight: 1 }, interactive: false }).addTo(S.layer);
    const m = L.circleMarker([p.lat_deg, p.lon_deg], { ...markStyle(p), bubblingMouseEvents: false, className: `defect-marker defect-${p.defect_id}` });
    m.bindTooltip(`${esc(p.defect_id)} ${esc(p.class_name)} S${p.final_severity} ${esc(p.chainage_label)}`);
    m.on("click", () => select(p.defect_id));
    m.addTo(S.layer);
    S.marks[p.defect_id] = m;
    pts.push([p.lat_deg, p.lon_deg]);
  }
  if (pts.length && !S.fitted) { S.map.fitBounds(L.latLngBounds(pts).pad(0.05)); S.fitted = true; }
  const im = (S.run.imagery || [])[0];
  if (!pts.length && !S.fitted && im) {
    const [w, s, e, n] = im.bounds;
    S.map.fitBounds(L.latLngBounds([s, w], [n, e]));
    S.fitted = true;
  }
  if (!pts.length && !S.fitted) S.map.setView([0, 0], 2);
}

// Without Leaflet (no vendored copy): a plain SVG map in a local equirectangular projection.
function drawSvg() {
  const host = $("#map"), w = host.clientWidth || 800, h = host.clientHeight || 600;
  const coords = [];
  const route = (S.run.route?.features || []).flatMap((f) => (f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates));
  route.forEach((l) => coords.push(...l));
  S.features.forEach((f) => coords.push([f.properties.lon_deg, f.properties.lat_deg]));
  if (!coords.length) { host.innerHTML = "<p>No defects.</p>"; return; }
  const xs = coords.map((c) => c[0]), ys = coords.map((c) => c[1]);
  const cx = Math.cos(((Math.min(...ys) + Math.max(...ys)) / 2) * Math.PI / 180);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sc = Math.min((w - 40) / (((x1 - x0) * cx) || 1e-9), (h - 40) / ((y1 - y0) || 1e-9));
  const X = (lon) => 20 + (lon - x0) * cx * sc, Y = (lat) => h - 20 - (lat - y0) * sc;
  let svg = `<svg class="fallback" viewBox="0 0 ${w} ${h}"><g>`;
  for (const l of route) svg += `<polyline fill="none" stroke="#37474f" stroke-width="3" points="${l.map((c) => `${X(c[0])},${Y(c[1])}`).join(" ")}"/>`;
  for (const f of S.features) {
    const p = f.properties, st = markStyle(p);
    svg += `<circle class="defect-marker defect-${esc(p.defect_id)}" data-id="${esc(p.defect_id)}" cx="${X(p.lon_deg)}" cy="${Y(p.lat_deg)}" r="${st.radius}" fill="${st.fillColor}" fill-opacity="${st.fillOpacity}" stroke="${st.color}" stroke-width="${st.weight}"><title>${esc(p.defect_id)} ${esc(p.class_name)}</title></circle>`;
  }
  host.innerHTML = svg + `</g></svg><span class="banner">schematic map (Leaflet not installed)</span>`;
  host.querySelectorAll("circle.defect-marker").forEach((c) => c.addEventListener("click", () => select(c.dataset.id)));
}

function drawList() {
  const rows = S.features.map((f) => {
    const p = f.properties;
    return `<tr class="row${p.defect_id === S.selected ? " selected" : ""}" data-id="${esc(p.defect_id)}"><td>${esc(p.defect_id)}</td>` +
      `<td><span class="sev" style="background:${colour(p.final_severity)}">${p.final_severity}</span></td><td>${esc(p.class_name)}</td>` +
      `<td>${esc(p.chainage_label)} ${esc(p.side)}${p.sensors === "inspector" ? ' <span class="insp" title="added by an inspector">+</span>' : ""}</td><td class="dec-${esc(p.decision)}">${esc(p.decision.replace("_", " "))}</td></tr>`;
  });
  $("#list tbody").innerHTML = rows.join("");
  document.querySelectorAll("#list tr.row").forEach((tr) => tr.addEventListener("click", () => select(tr.dataset.id, true)));
  const c = S.run.counts;
  $("#counts").textContent = `${S.features.length} shown · ${c.confirmed} confirmed · ${c.rejected} rejected · ${c.needs_revisit} to revisit · ${c.unreviewed} open`;
}

function draw() { (window.HAS_LEAFLET && window.L ? drawLeaflet : drawSvg)(); drawList(); }

async function load() {
  const q = new URLSearchParams();
  for (const [id, key] of [["#f-class", "class"], ["#f-sev", "min_severity"], ["#f-decision", "decision"], ["#f-q", "q"]]) {
    const v = $(id).value.trim();
    if (v) q.set(key, v);
  }
  const fc = await api(`/api/defects?${q}`);
  S.features = fc.features;
  draw();
}

function img(path, alt) {
  return path ? `<figure><img src="/evidence/${path.split("/").map(encodeURIComponent).join("/")}" alt="${esc(alt)}"><figcaption class="muted">${esc(alt)}</figcaption></figure>` : "";
}

function detail(f) {
  const p = f.properties, fmt = (v, d = 2) => (v == null ? "–" : Number(v).toFixed(d));
  const hist = f.history.map((r) => `<li>${esc(r.decided_at.slice(0, 19))} <b>${esc(r.reviewer)}</b>: <span class="dec-${esc(r.decision)}">${esc(r.decision)}</span>${r.severity ? ` S${r.severity}` : ""}${r.comment ? ` “${esc(r.comment)}”` : ""}</li>`).join("");
  const sightings = f.sightings.map((s) => (s.crop_path ? img(s.crop_path, `${s.sensor} ${s.detection_id} ${(s.t_s % 86400 / 3600).toFixed(3)} h`) : "")).join("");
  const sevOpts = ['<option value="0">keep automatic</option>'].concat([1, 2, 3, 4, 5].map((s) => `<option value="${s}"${p.reviewed_severity === s ? " selected" : ""}>${s}</option>`)).join("");
  $("#detail").innerHTML = `
    <h2>${esc(p.defect_id)} · ${esc(p.class_name)} <span class="sev" style="background:${colour(p.final_severity)}">${p.final_severity}</span></h2>
    <p>Decision: <b class="decision dec-${esc(p.decision)}">${esc(p.decision)}</b>${p.reviewer ? ` by ${esc(p.reviewer)}` : ""}</p>
    <div class="actions">
      <button id="btn-confirm" type="button">Confirm (c)</button><button id="btn-reject" type="button">Reject (r)</button>
      <button id="btn-revisit" type="button">Needs revisit (n)</button>
      <label>Severity <select id="severity">${sevOpts}</select></label><span id="status"></span>
    </div>
    <textarea id="comment" placeholder="comment for the record">${esc(p.review_comment)}</textarea>
    <div class="evidence">${img(p.rgb_crop, "best RGB")}${img(p.thermal_crop, "best thermal")}</div>
    <table class="attrs">
      <tr><td>chainage</td><td>${esc(p.chainage_label)} (${fmt(p.chainage_start_m, 1)}–${fmt(p.chainage_end_m, 1)} m), ${esc(p.side)} ${fmt(p.offset_m)} m</td></tr>
      <tr><td>position</td><td>${fmt(p.lat_deg, 7)}, ${fmt(p.lon_deg, 7)} ± ${fmt(p.unc_major_m)} × ${fmt(p.unc_minor_m)} m (${Math.round(100 * p.unc_level)} %)</td></tr>
      <tr><td>confidence</td><td>${fmt(p.confidence)}${p.delta_t_k != null ? `, ΔT ${fmt(p.delta_t_k, 1)} K` : ""}</td></tr>
      <tr><td>severity</td><td>automatic ${p.severity}${p.reviewed_severity ? `, inspector ${p.reviewed_severity}` : ""}: ${esc(p.action)}</td></tr>
      <tr><td>seen</td><td>${p.n_sightings} sighting(s), ${esc(p.sensors)}</td></tr>
      <tr><td>sources</td><td>${p.source_files.map(esc).join("<br>")}</td></tr>
    </table>
    <h3>Sightings</h3><div class="sightings evidence">${sightings || '<span class="muted">no crops</span>'}</div>
    <h3>History</h3><ul class="history">${hist || '<li class="muted">not reviewed yet</li>'}</ul>`;
  $("#btn-confirm").onclick = () => decide("confirmed");
  $("#btn-reject").onclick = () => decide("rejected");
  $("#btn-revisit").onclick = () => decide("needs_revisit");
}

// Measuring on the map: distance along the clicked points and the area they enclose, in
// metres on a local tangent plane; the uncertainty is one imagery pixel per clicked point.
function measureStart() {
  S.measure = { pts: [], line: L.polyline([], { color: "#ff0", weight: 2, dashArray: "4 4" }).addTo(S.map), poly: null };
  document.querySelector(".measure-btn").classList.add("on");
  S.map.getContainer().style.cursor = "crosshair";
}
function measureEnd(clear) {
  if (!S.measure) return;
  if (clear) { S.measure.line.remove(); if (S.measure.poly) S.measure.poly.remove(); }
  S.measure = null;
  document.querySelector(".measure-btn")?.classList.remove("on");
  S.map.getContainer().style.cursor = "";
}
function measureAdd(ll) {
  const m = S.measure;
  m.pts.push(ll);
  m.line.setLatLngs(m.pts);
  const lat0 = (m.pts[0].lat * Math.PI) / 180, k = 111320;
  const xy = m.pts.map((p) => [(p.lng - m.pts[0].lng) * k * Math.cos(lat0), (p.lat - m.pts[0].lat) * k]);
  let d = 0;
  for (let i = 1; i < m.pts.length; i++) d += m.pts[i - 1].distanceTo(m.pts[i]);
  let area = 0;
  for (let i = 0; i < xy.length; i++) { const [x1, y1] = xy[i], [x2, y2] = xy[(i + 1) % xy.length]; area += x1 * y2 - x2 * y1; }
  area = Math.abs(area) / 2;
  const gsd = Math.min(...(S.run.imagery || []).map((t) => t.gsd_m), 0.05);
  const sd = gsd * Math.sqrt(2 * Math.max(m.pts.length - 1, 1));
  let text = `${d.toFixed(2)} m ± ${sd.toFixed(2)} m`;
  if (m.pts.length >= 3) {
    if (m.poly) m.poly.remove();
    m.poly = L.polygon(m.pts, { color: "#ff0", weight: 1, fillOpacity: 0.15, interactive: false }).addTo(S.map);
    text += ` · area ${area.toFixed(2)} m² ± ${(d * gsd).toFixed(2)} m²`;
  }
  m.line.bindTooltip(text, { permanent: true, className: "measure-tip" }).openTooltip(ll);
  $("#measure-out") ? ($("#measure-out").textContent = text) : $("#detail").insertAdjacentHTML("afterbegin", `<p id="measure-out" class="measure">${esc(text)}</p>`);
}
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && S.measure) measureEnd(false); });

// Adding a defect the models missed: click its outline, name class and severity, save.
function drawStart() {
  if (S.measure) measureEnd(true);
  S.draw = { pts: [], shape: L.polygon([], { color: "#e040fb", weight: 2, dashArray: "3 3" }).addTo(S.map) };
  document.querySelector(".add-btn").classList.add("on");
  S.map.getContainer().style.cursor = "crosshair";
  const known = [...new Set([...(S.run.known_classes || []), ...S.run.classes])].sort();
  $("#detail").innerHTML = `<h2>New defect</h2><p class="muted">Click the outline on the map (one click marks a point), then save.</p>
    <form id="add-form" onsubmit="return false">
      <label>Class <input id="add-class" list="add-classes" required pattern="[a-z][a-z0-9_]{1,39}"></label>
      <datalist id="add-classes">${known.map((c) => `<option value="${esc(c)}">`).join("")}</datalist>
      <label>Severity <select id="add-sev">${[1, 2, 3, 4, 5].map((v) => `<option${v === 3 ? " selected" : ""}>${v}</option>`).join("")}</select></label>
      <textarea id="add-comment" placeholder="what you see"></textarea>
      <button id="add-save" type="button">Save</button> <button id="add-cancel" type="button">Cancel</button> <span id="add-status"></span>
    </form>`;
  $("#add-save").onclick = drawSave;
  $("#add-cancel").onclick = drawEnd;
}
function drawAdd(ll) { S.draw.pts.push(ll); S.draw.shape.setLatLngs(S.draw.pts); }
function drawEnd() {
  if (!S.draw) return;
  S.draw.shape.remove();
  S.draw = null;
  document.querySelector(".add-btn")?.classList.remove("on");
  S.map.getContainer().style.cursor = "";
}
async function drawSave() {
  const st = $("#add-status"), pts = S.draw ? S.draw.pts : [];
  const reviewer = $("#reviewer").value.trim();
  if (!reviewer) { st.className = "error"; st.textContent = "enter your name as reviewer"; return; }
  if (!pts.length) { st.className = "error"; st.textContent = "click the defect on the map first"; return; }
  const ring = pts.map((p) => [p.lng, p.lat]);
  const geometry = pts.length >= 3 ? { type: "Polygon", coordinates: [[...ring, ring[0]]] } : { type: "Point", coordinates: ring[0] };
  const body = { geometry, class_name: $("#add-class").value.trim(), severity: Number($("#add-sev").value), comment: $("#add-comment").value, reviewer };
  try {
    const f = await api("/api/defects", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    localStorage.setItem("survey-reviewer", reviewer);
    drawEnd();
    S.run = await api("/api/run");
    await load();
    await select(f.id, true);
  } catch (e) { st.className = "error"; st.textContent = `not saved: ${e.message}`; }
}

// Frame browser: the frames that saw a point (or a defect), best first, RGB and thermal side by
// side, the point and the outline drawn where they project; temperature under the cursor.
async function showFrames(query, title) {
  let host = $("#frames");
  if (!host) { $("#detail").insertAdjacentHTML("beforeend", '<div id="frames"></div>'); host = $("#frames"); }
  host.innerHTML = `<h3>Frames that saw ${esc(title)}</h3><p class="muted">loading…</p>`;
  let res;
  try { res = await api(`/api/frames?${new URLSearchParams(query)}`); } catch (e) { host.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  if (!res.frames.length) { host.innerHTML = `<h3>Frames that saw ${esc(title)}</h3><p class="muted">no frame of this run saw this point</p>${res.chainage ? `<p class="chainage">chainage <b>${esc(res.chainage.label)}</b>, ${res.chainage.offset_m.toFixed(2)} m ${esc(res.chainage.side)}</p>` : ""}`; return; }
  const col = (sensor) => res.frames.filter((f) => f.sensor === sensor).map(frameFigure).join("");
  const c = res.chainage;
  const where = c ? `<p class="chainage">chainage <b>${esc(c.label)}</b> ${esc(c.route)}, ${c.offset_m.toFixed(2)} m ${esc(c.side)}${c.on_asset ? "" : " (off the asset)"}</p>` : "";
  host.innerHTML = `<h3>Frames that saw ${esc(title)} (${res.frames.length}, best first)</h3>${where}
    <div class="frame-cols"><div class="frame-col">${col("rgb")}</div><div class="frame-col">${col("thermal")}</div></div>`;
  host.querySelectorAll("figure.frame.thermal img").forEach((im) => {
    let busy = false;
    im.addEventListener("mousemove", async (e) => {
      if (busy) return;
      busy = true;
      const r = im.getBoundingClientRect(), fig = im.closest("figure");
      const u = ((e.clientX - r.left) / r.width) * fig.dataset.w - 0.5, v = ((e.clientY - r.top) / r.height) * fig.dataset.h - 0.5;
      try {
        const t = await api(`/api/frame/${encodeURIComponent(fig.dataset.stream)}/${fig.dataset.row}/temperature?u=${u.toFixed(1)}&v=${v.toFixed(1)}`);
        fig.querySelector(".temp").textContent = t.t_c == null ? "" : `${t.t_c.toFixed(1)} °C`;
      } catch (err) { /* outside the frame */ }
      busy = false;
    });
  });
}

function frameFigure(f) {
  const pts = f.outline_px.map((p) => p.join(",")).join(" ");
  const r = Math.max(f.width_px, f.height_px) / 80;
  return `<figure class="frame ${esc(f.sensor)}" data-stream="${esc(f.stream)}" data-row="${f.row}" data-w="${f.width_px}" data-h="${f.height_px}" data-u="${f.u_px}" data-v="${f.v_px}">
    <div class="frame-img"><img src="/${f.image.split("/").map(encodeURIComponent).join("/")}" alt="${esc(f.label)}" loading="lazy">
    <svg viewBox="-0.5 -0.5 ${f.width_px} ${f.height_px}" preserveAspectRatio="none">
      ${pts ? `<polygon points="${pts}" fill="none" stroke="#ff0" stroke-width="${r / 3}"/>` : ""}
      <circle class="frame-point" cx="${f.u_px}" cy="${f.v_px}" r="${r}" fill="none" stroke="#0ff" stroke-width="${r / 3}"/></svg></div>
    <figcaption class="muted">${esc(f.label)} · ${(f.gsd_m * 100).toFixed(1)} cm/px · ${f.range_m.toFixed(1)} m <span class="temp"></span></figcaption></figure>`;
}

async function select(id, pan = false) {
  S.selected = id;
  const m = S.marks[id];
  if (m) { m.bringToFront(); if (pan) S.map.setView(m.getLatLng(), Math.max(S.map.getZoom(), 18)); }
  document.querySelectorAll("#list tr.row").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === id));
  try { detail(await api(`/api/defects/${encodeURIComponent(id)}`)); } catch (e) { $("#detail").textContent = e.message; return; }
  showFrames({ defect: id }, id);
}

async function decide(decision) {
  const id = S.selected, status = $("#status");
  const reviewer = $("#reviewer").value.trim();
  if (!reviewer) { status.className = "error"; status.textContent = "enter your name as reviewer"; $("#reviewer").focus(); return; }
  localStorage.setItem("survey-reviewer", reviewer);
  const body = { decision, severity: Number($("#severity").value) || null, comment: $("#comment").value, reviewer };
  try {
    const f = await api(`/api/defects/${encodeURIComponent(id)}/review`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const old = S.features.find((x) => x.id === id);
    if (old) S.run.counts[old.properties.decision]--, S.run.counts[decision]++, Object.assign(old, f);
    draw();
    await select(id);
    $("#status").className = "ok";
    $("#status").textContent = `saved: ${decision} by ${f.properties.reviewer}`;
  } catch (e) { status.className = "error"; status.textContent = `not saved: ${e.message}`; }
}

document.addEventListener("keydown", (e) => {
  if (["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName) || !S.features.length) return;
  const i = S.features.findIndex((f) => f.id === S.selected);
  if (e.key === "j" || e.key === "k") select(S.features[Math.max(0, Math.min(S.features.length - 1, i + (e.key === "j" ? 1 : -1)))].id);
  else if (S.selected && e.key === "c") decide("confirmed");
  else if (S.selected && e.key === "r") decide("rejected");
  else if (S.selected && e.key === "n") decide("needs_revisit");
});

(async function main() {
  S.run = await api("/api/run");
  $("#reviewer").value = localStorage.getItem("survey-reviewer") || S.run.reviewer || "";
  for (const c of S.run.classes) $("#f-class").insertAdjacentHTML("beforeend", `<option>${esc(c)}</option>`);
  ["#f-class", "#f-sev", "#f-decision"].forEach((id) => $(id).addEventListener("change", load));
  $("#f-q").addEventListener("input", load);
  await load();
  document.body.dataset.ready = "1";
})().catch((e) => { $("#detail").textContent = `cannot load: ${e.message}`; });
