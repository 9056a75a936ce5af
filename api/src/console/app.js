// The hub's review console. It holds no data of its own: every page calls
// the hub's API with the token the user gave, so the API's domain checks
// decide what a user sees. Names come from outside sources (Wikidata,
// uploads), so the page is built with text nodes only, never innerHTML.
"use strict";

const TOKEN_KEY = "facerec.token";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const toastBox = document.getElementById("toast");
const dialog = document.getElementById("dialog");

// Everything a page starts (polls, blob URLs) is stopped when it is left.
let pageTimers = [];
let pageBlobs = [];
let pageKeys = null;

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

class ApiProblem extends Error {
  constructor(status, detail, field) { super(detail); this.status = status; this.field = field; }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401) { signOut("The token was refused: sign in again."); throw new ApiProblem(401, "unauthorised"); }
  const text = await res.text();
  const data = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : null;
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : `${res.status} ${res.statusText}`;
    throw new ApiProblem(res.status, detail, data && data.field);
  }
  return data;
}

// A picture the API serves to this token only: fetched with the token,
// shown through a blob: URL that is revoked when the page is left.
function picture(path, alt) {
  const img = h("img", { alt });
  fetch(path, { headers: { Authorization: "Bearer " + token() } })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.status))))
    .then((blob) => { const url = URL.createObjectURL(blob); pageBlobs.push(url); img.src = url; })
    .catch(() => { img.alt = alt + " (not available)"; img.classList.add("missing"); });
  return img;
}

function toast(message, isError) {
  const el = h("div", { class: isError ? "error" : "" }, message);
  toastBox.append(el);
  setTimeout(() => el.remove(), isError ? 8000 : 3500);
}

// Runs an action, reporting an API problem instead of throwing.
async function attempt(action, done) {
  try {
    const result = await action();
    if (done) toast(typeof done === "function" ? done(result) : done);
    return result;
  } catch (e) {
    if (e.status !== 401) toast(e.message, true);
    return undefined;
  }
}

function every(ms, fn) { fn(); pageTimers.push(setInterval(fn, ms)); }

function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

function list(text) { return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean); }

function confirmDialog(title, lines, action, confirmLabel) {
  dialog.replaceChildren(
    h("h2", {}, title),
    ...lines.map((l) => h("p", {}, l)),
    h("div", { class: "row" },
      h("button", { type: "button", class: "danger", id: "confirm", onclick: async () => { dialog.close(); await action(); } }, confirmLabel),
      h("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
  dialog.showModal();
}

function showPhoto(code, imageId, bbox) {
  const img = picture(`/api/domains/${code}/images/${imageId}/photo`, `photo ${imageId}`);
  const frame = h("div", { class: "photo" }, img);
  if (bbox) {
    img.addEventListener("load", () => {
      const s = img.clientWidth / img.naturalWidth;
      const box = h("div", { class: "box" });
      box.style.left = bbox[0] * s + "px";
      box.style.top = bbox[1] * s + "px";
      box.style.width = (bbox[2] - bbox[0]) * s + "px";
      box.style.height = (bbox[3] - bbox[1]) * s + "px";
      frame.append(box);
    });
  }
  dialog.replaceChildren(h("h2", {}, `Source photo ${imageId}`), frame,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  dialog.showModal();
}

// ---------------------------------------------------------------- routing

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = "#/login";
  if (message) toast(message, true);
}

function route() {
  pageTimers.forEach(clearInterval);
  pageTimers = [];
  pageBlobs.forEach((u) => URL.revokeObjectURL(u));
  pageBlobs = [];
  pageKeys = null;
  const hash = location.hash || "#/";
  const tokenInHash = /[#&]token=([^&]+)/.exec(hash);
  if (tokenInHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(tokenInHash[1]));
    // Out of the address bar and the history once taken.
    history.replaceState(null, "", location.pathname + "#/");
    return route();
  }
  document.getElementById("sign-out").hidden = !token();
  if (!token()) return loginPage();
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "d" && parts[1]) {
    const [code, page] = [parts[1], parts[2] || "review"];
    domainNav(code, page);
    const pages = { review: reviewPage, candidates: candidatesPage, people: peoplePage, publish: publishPage, edit: editDomainPage };
    return (pages[page] || reviewPage)(code);
  }
  nav.replaceChildren(h("a", { href: "#/", class: "current" }, "Domains"));
  if (parts[0] === "new") return newDomainPage();
  if (parts[0] === "login") return loginPage();
  return domainsPage();
}

function domainNav(code, current) {
  const tabs = [["review", "Review"], ["candidates", "Candidates"], ["people", "People"], ["publish", "Publish"], ["edit", "Settings"]];
  nav.replaceChildren(
    h("a", { href: "#/" }, "Domains"),
    h("span", { class: "domain", id: "current-domain" }, code),
    ...tabs.map(([p, label]) => h("a", { href: `#/d/${code}/${p}`, class: p === current ? "current" : "", id: `tab-${p}` }, label)));
}

function page(title, ...content) {
  main.replaceChildren(h("h1", {}, title), ...content);
}

// ---------------------------------------------------------------- pages

function loginPage() {
  nav.replaceChildren();
  const input = h("input", { id: "token", type: "password", autocomplete: "off", size: 50, placeholder: "token" });
  const error = h("div", { class: "field-error", id: "login-error" });
  const form = h("form", { class: "fields", onsubmit: async (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    const res = await fetch("/api/domains", { headers: { Authorization: "Bearer " + token() } });
    if (res.ok) { location.hash = "#/"; route(); } else {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = res.status === 401 ? "This token is not valid on this hub." : `The hub answered ${res.status}.`;
    }
  } },
  h("label", { for: "token" }, "Token"), h("div", {}, input, error,
    h("div", { class: "hint" }, "A token from `facerecd token create`; it is kept in this tab only.")),
  h("span"), h("div", {}, h("button", { class: "primary", id: "sign-in" }, "Sign in")));
  page("Sign in", form);
  input.focus();
}

async function domainsPage() {
  const domains = await attempt(() => api("GET", "/api/domains"));
  if (!domains) return page("Domains", h("p", { class: "muted" }, "The domains could not be read."));
  const rows = await Promise.all(domains.map(async (d) => {
    const [stats, view] = await Promise.all([
      api("GET", `/api/domains/${d.code}/stats`).catch(() => ({})),
      api("GET", `/api/domains/${d.code}`).catch(() => ({})),
    ]);
    return h("tr", { dataset: { domain: d.code } },
      h("td", {}, h("a", { href: `#/d/${d.code}/review` }, d.code)),
      h("td", {}, d.name),
      h("td", {}, view.pack || ""),
      h("td", {}, (view.datasets || []).map((x) => x.domain).join(" → ") || "—"),
      h("td", { class: "num" }, stats.total_people ?? d.total_people),
      h("td", { class: "num" }, stats.total_images ?? d.total_images),
      h("td", { class: "num" }, stats.images_from_wikimedia ?? ""),
      h("td", { class: "num" }, stats.images_from_serp ?? ""),
      h("td", { class: "num" }, stats.production_batches ?? ""),
      h("td", {}, when(stats.last_batch_at)),
      h("td", {}, d.is_active ? "yes" : "no"),
      h("td", {}, h("a", { href: `#/d/${d.code}/edit` }, "Settings")));
  }));
  page("Domains",
    h("div", { class: "row" }, h("a", { href: "#/new" }, h("button", { type: "button", class: "primary", id: "new-domain" }, "New domain"))),
    h("table", { id: "domains" },
      h("thead", {}, h("tr", {}, ["Domain", "Name", "Pack", "Inherits", "People", "Images", "From Wikimedia", "From search", "Batches", "Last batch", "Active", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 12, class: "muted" }, "No domains yet.")))));
}

// The domain form, for a new domain (`existing` undefined) or to edit one.
function domainForm(existing, onSave) {
  const v = existing || {};
  const errors = {};
  const field = (name, label, input, hint) => {
    errors[name] = h("div", { class: "field-error", dataset: { for: name } });
    return [h("label", { for: `f-${name}` }, label), h("div", {}, input, errors[name], hint ? h("div", { class: "hint" }, hint) : null)];
  };
  const input = (name, value, attrs) => h("input", Object.assign({ id: `f-${name}`, name, value: value ?? "" }, attrs || {}));
  const inputs = {
    domain_code: input("domain_code", v.domain_code, existing ? { disabled: true } : { required: true }),
    display_name: input("display_name", v.display_name),
    default_country: input("default_country", v.default_country, { size: 4 }),
    default_occupations: input("default_occupations", (v.default_occupations || []).join(", ")),
    countries: input("countries", (v.countries || []).join(", ")),
    datasets: input("datasets", (v.datasets || []).map((d) => d.domain).join(", ")),
    search_priority: input("search_priority", v.search_priority ?? 0, { type: "number" }),
    search_mode: h("select", { id: "f-search_mode", name: "search_mode" },
      ["first_match", "best"].map((m) => h("option", { value: m, selected: v.search_mode === m }, m))),
    filter: input("filter", v.filter, { size: 40, placeholder: "sitelinks >= 50" }),
    pack: h("select", { id: "f-pack", name: "pack", disabled: !!existing },
      ["sface-v1", "dlib-v1"].map((p) => h("option", { value: p, selected: v.pack === p }, p))),
    plugins: h("textarea", { id: "f-plugins", name: "plugins" },
      JSON.stringify(v.plugins || { sources: [], filters: [], http_allowlist: [] }, null, 2)),
  };
  const formError = h("div", { class: "form-error", id: "form-error" });
  const form = h("form", { class: "fields", id: "domain-form", onsubmit: async (e) => {
    e.preventDefault();
    Object.values(errors).forEach((el) => { el.textContent = ""; });
    formError.textContent = "";
    let plugins;
    try { plugins = JSON.parse(inputs.plugins.value || "{}"); } catch (err) {
      errors.plugins.textContent = "not JSON: " + err.message; return;
    }
    const body = {
      display_name: inputs.display_name.value.trim() || undefined,
      default_country: inputs.default_country.value.trim(),
      default_occupations: list(inputs.default_occupations.value),
      // No countries: the API's default ([default_country] or any).
      countries: list(inputs.countries.value).length ? list(inputs.countries.value) : undefined,
      search_priority: Number(inputs.search_priority.value || 0),
      search_mode: inputs.search_mode.value,
      filter: inputs.filter.value.trim(),
      plugins,
    };
    const datasets = list(inputs.datasets.value).map((domain, i) => ({ domain, priority: i + 1 }));
    try {
      await onSave(body, datasets, inputs);
    } catch (err) {
      if (err.status === 401) return;
      const key = err.field && Object.keys(errors).find((k) => err.field === k || err.field.startsWith(k));
      (key ? errors[key] : formError).textContent = err.message;
    }
  } },
  field("domain_code", "Code", inputs.domain_code, "lowercase letters, digits and _ (e.g. serbia)"),
  field("display_name", "Name", inputs.display_name),
  field("default_country", "Default country", inputs.default_country, "ISO code, e.g. RS"),
  field("default_occupations", "Default occupations", inputs.default_occupations, "comma separated"),
  field("countries", "Countries", inputs.countries, "comma separated, * for any"),
  field("datasets", "Inherits (in order)", inputs.datasets, "domains searched after this one, first first"),
  field("search_priority", "Search priority", inputs.search_priority),
  field("search_mode", "Search mode", inputs.search_mode),
  field("filter", "Filter", inputs.filter, "kept when true, e.g. sitelinks >= 50"),
  field("pack", "Model pack", inputs.pack, existing ? "change it with a re-embed" : "sface-v1 names fewer strangers"),
  field("plugins", "Plugins", inputs.plugins, "sources, filters (each {name, config}) and http_allowlist"),
  formError,
  h("span"), h("div", {}, h("button", { class: "primary", id: "save-domain" }, existing ? "Save" : "Create")));
  return form;
}

function newDomainPage() {
  page("New domain", domainForm(undefined, async (body, datasets, inputs) => {
    const created = await api("POST", "/api/domains", Object.assign({
      domain_code: inputs.domain_code.value.trim(), pack: inputs.pack.value,
    }, body, { default_country: body.default_country || undefined, filter: body.filter || undefined }));
    if (datasets.length) await api("PUT", `/api/domains/${created.domain_code}/datasets`, datasets);
    toast(`Domain ${created.domain_code} created`);
    location.hash = `#/d/${created.domain_code}/review`;
  }));
}

async function editDomainPage(code) {
  const view = await attempt(() => api("GET", `/api/domains/${code}`));
  if (!view) return page(`Settings of ${code}`);
  page(`Settings of ${code}`, domainForm(view, async (body, datasets) => {
    await api("PATCH", `/api/domains/${code}`, body);
    const before = (view.datasets || []).map((d) => d.domain).join(",");
    if (datasets.map((d) => d.domain).join(",") !== before) await api("PUT", `/api/domains/${code}/datasets`, datasets);
    toast("Saved");
    editDomainPage(code);
  }));
}

// The domain's jobs, refreshed while any runs.
function jobsPanel(code, onFinished) {
  const box = h("ul", { class: "jobs", id: "jobs" });
  const running = new Set();
  const refresh = async () => {
    const jobs = await api("GET", `/api/jobs?domain=${code}`).catch(() => []);
    box.replaceChildren(...jobs.slice(0, 6).map((j) => h("li", { dataset: { job: j.id, state: j.state } },
      `${j.kind} #${j.id}: `, h("progress", { max: j.total || 1, value: j.done }),
      ` ${j.done}/${j.total} · ${j.state}`, j.errors.length ? h("span", { class: "muted" }, ` · ${j.errors.length} errors`) : null)));
    for (const j of jobs) {
      if (j.state === "running") running.add(j.id);
      else if (running.delete(j.id) && onFinished) onFinished(j);
    }
  };
  every(1000, refresh);
  return { box, refresh };
}

async function startJob(path, code, jobs) {
  const job = await attempt(() => api("POST", path, { domain: code }), (j) => `${j.kind} job #${j.id} started`);
  if (job) jobs.refresh();
}

async function candidatesPage(code) {
  const view = await api("GET", `/api/domains/${code}`).catch(() => ({}));
  const jobs = jobsPanel(code);
  const country = h("input", { id: "c-country", value: view.default_country || "", size: 4 });
  const occupation = h("input", { id: "c-occupation", value: (view.default_occupations || [])[0] || "" });
  const limit = h("input", { id: "c-limit", type: "number", value: 100, min: 1, max: 5000 });
  const result = h("div", { id: "candidates" });
  const run = async () => {
    result.replaceChildren(h("p", { class: "muted" }, "Running the domain's plugins…"));
    const report = await attempt(() => api("POST", "/api/training/generate-candidates", {
      domain: code, country: country.value || undefined, occupation: occupation.value || undefined, limit: Number(limit.value),
    }));
    if (!report) { result.replaceChildren(); return; }
    const c = report.counts;
    result.replaceChildren(
      h("p", { id: "candidate-counts" }, `${c.generated} generated, ${c.unique} unique, ${c.kept} kept, ${c.dropped} dropped, ${c.new} new, ${c.known} already known.`),
      h("table", {}, h("tbody", {}, report.plugins.map((p) => h("tr", {},
        h("td", {}, p.plugin), h("td", {}, p.kind), h("td", { class: "num" }, `${p.elapsed_ms.toFixed(0)} ms`),
        h("td", {}, p.error ? h("span", { class: "field-error" }, p.error) : `${p.input} in, ${p.output} out`))))),
      h("h2", {}, `Kept (${report.candidates.length})`),
      h("table", { id: "kept" }, h("thead", {}, h("tr", {}, ["Name", "Wikidata", "Sitelinks", "Occupations", "Photos", "Status"].map((t) => h("th", {}, t)))),
        h("tbody", {}, report.candidates.map((p) => h("tr", { dataset: { person: p.person_id } },
          h("td", {}, p.name, p.new ? h("span", { class: "badge" }, " new") : null), h("td", {}, p.wikidata_id || ""),
          h("td", { class: "num" }, p.sitelinks ?? ""), h("td", {}, p.occupations.join(", ")),
          h("td", { class: "num" }, p.image_urls.length), h("td", {}, p.status))))),
      h("h2", {}, `Dropped (${report.dropped.length})`),
      h("table", { id: "dropped" }, h("thead", {}, h("tr", {}, ["Name", "Wikidata", "Filter", "Why"].map((t) => h("th", {}, t)))),
        h("tbody", {}, report.dropped.map((d) => h("tr", {}, h("td", {}, d.name), h("td", {}, d.wikidata_id || ""), h("td", {}, d.filter), h("td", {}, d.reason))))));
  };
  page(`Candidates of ${code}`,
    h("div", { class: "card" },
      h("div", { class: "row" }, "Country ", country, " Occupation ", occupation, " Limit ", limit,
        h("button", { type: "button", class: "primary", id: "run-candidates", onclick: run }, "Run sources and filters")),
      h("div", { class: "row" },
        h("button", { type: "button", id: "start-download", onclick: () => startJob("/api/training/download", code, jobs) }, "Download photos"),
        h("button", { type: "button", id: "start-process", onclick: () => startJob("/api/training/process", code, jobs) }, "Process photos"),
        h("span", { class: "muted" }, "then review the faces found"))),
    h("h2", {}, "Jobs"), jobs.box, result);
}

async function reviewPage(code) {
  const staged = h("div", { id: "staging" });
  const jobs = jobsPanel(code, (j) => { if (j.kind === "process" || j.kind === "reembed") load(); });
  let focus = { person: 0, face: -1 };

  // One person (optionally only some of their faces) or several whole people.
  const decide = async (verb, people, images) => {
    const body = { domain: code, people };
    if (images && images.length) body.images = images;
    const who = people.length === 1 ? people[0] : `${people.length} people`;
    const report = await attempt(() => api("POST", `/api/training/${verb}`, body),
      (r) => `${verb === "approve" ? "Approved" : "Rejected"} ${r.faces} face${r.faces === 1 ? "" : "s"} of ${who}`);
    if (report) load();
  };
  const checked = () => [...staged.querySelectorAll("input.pick:checked")].map((c) => c.closest("section.person").dataset.person);
  const bulk = (verb) => { const people = checked(); if (people.length) decide(verb, people); else toast("Tick the people first", true); };
  const selected = (section) => [...section.querySelectorAll("figure.face.selected")].map((f) => Number(f.dataset.image));

  const personCard = (entry) => {
    const p = entry.person;
    const section = h("section", { class: "card person", dataset: { person: p.id } });
    const faces = entry.staged.map((f) => h("figure", { class: "face", dataset: { image: f.image_id },
      title: "click: select · double-click: source photo",
      onclick: (e) => { if (e.target.tagName !== "BUTTON") e.currentTarget.classList.toggle("selected"); },
      ondblclick: () => showPhoto(code, f.image_id, f.bbox) },
    picture(`/api/domains/${code}/images/${f.image_id}/face`, `face ${f.image_id} of ${p.display_name}`),
    h("figcaption", {}, h("span", {}, `#${f.image_id} · ${f.score.toFixed(2)}`),
      h("span", {},
        h("button", { type: "button", class: "approve-face", title: "approve this face", onclick: () => decide("approve", [p.id], [f.image_id]) }, "✓"),
        h("button", { type: "button", class: "reject-face", title: "reject this face", onclick: () => decide("reject", [p.id], [f.image_id]) }, "✗")))));
    const refused = entry.refused.map((r) => h("li", { dataset: { image: r.image_id } },
      r.reason.startsWith("outlier") ? h("span", { class: "badge outlier" }, "outlier") : null, " ",
      `image ${r.image_id}: ${r.reason} `,
      h("button", { type: "button", class: "show-photo", onclick: () => showPhoto(code, r.image_id) }, "photo")));
    section.append(...[
      h("div", { class: "head" },
        h("input", { type: "checkbox", class: "pick", title: "tick for Approve / Reject ticked people", disabled: !entry.staged.length }),
        h("strong", { class: "name" }, p.display_name), h("span", { class: "muted" }, p.id),
        p.wikidata_id ? h("span", { class: "muted" }, p.wikidata_id) : null,
        h("span", { class: "badge" }, p.status),
        h("span", { class: "muted" }, `${entry.staged.length} staged, ${entry.refused.length} refused`)),
      h("div", { class: "faces" }, faces),
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary approve-person", disabled: !entry.staged.length,
          onclick: () => decide("approve", [p.id], selected(section)) }, "Approve"),
        h("button", { type: "button", class: "danger reject-person",
          onclick: () => decide("reject", [p.id], selected(section)) }, "Reject"),
        h("span", { class: "hint" }, "the selected faces, or all of them when none is selected")),
      refused.length ? h("details", { class: "refused" }, h("summary", {}, `Refused images (${refused.length})`), h("ul", {}, refused)) : null,
    ].filter(Boolean));
    return section;
  };

  const paintFocus = () => {
    const people = [...staged.querySelectorAll("section.person")];
    people.forEach((s, i) => s.classList.toggle("focused", i === focus.person));
    staged.querySelectorAll("figure.face.focused").forEach((f) => f.classList.remove("focused"));
    const current = people[focus.person];
    if (!current) return;
    const faces = current.querySelectorAll("figure.face");
    if (faces[focus.face]) faces[focus.face].classList.add("focused");
    current.scrollIntoView({ block: "nearest" });
  };

  async function load() {
    const entries = await attempt(() => api("GET", `/api/training/staging?domain=${code}`));
    if (!entries) return;
    staged.replaceChildren(...(entries.length ? entries.map(personCard)
      : [h("p", { class: "muted", id: "nothing-staged" }, "Nothing waits for review. Upload photos or run candidates, then process them.")]));
    focus.person = Math.min(focus.person, Math.max(entries.length - 1, 0));
    focus.face = -1;
    paintFocus();
  }

  pageKeys = (e) => {
    if (e.target.closest("input, textarea, select") || dialog.open) return;
    const people = [...staged.querySelectorAll("section.person")];
    const current = people[focus.person];
    if (!current) return;
    const faces = [...current.querySelectorAll("figure.face")];
    const keys = {
      j: () => { focus = { person: Math.min(focus.person + 1, people.length - 1), face: -1 }; },
      k: () => { focus = { person: Math.max(focus.person - 1, 0), face: -1 }; },
      l: () => { focus.face = Math.min(focus.face + 1, faces.length - 1); },
      h: () => { focus.face = Math.max(focus.face - 1, 0); },
      " ": () => { if (faces[focus.face]) faces[focus.face].classList.toggle("selected"); },
      a: () => current.querySelector(".approve-person").click(),
      r: () => current.querySelector(".reject-person").click(),
      o: () => { if (faces[focus.face]) faces[focus.face].dispatchEvent(new MouseEvent("dblclick")); },
      x: () => { const pick = current.querySelector("input.pick"); if (!pick.disabled) pick.checked = !pick.checked; },
    };
    keys.ArrowDown = keys.j; keys.ArrowUp = keys.k; keys.ArrowRight = keys.l; keys.ArrowLeft = keys.h;
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); paintFocus(); }
  };

  const person = h("input", { id: "u-person", placeholder: "novak_djokovic", required: true });
  const name = h("input", { id: "u-name", placeholder: "Novak Đoković" });
  const files = h("input", { id: "u-files", type: "file", multiple: true, accept: "image/*", required: true });
  const uploaded = h("p", { id: "upload-result", class: "hint" });
  const upload = h("form", { id: "upload", onsubmit: async (e) => {
    e.preventDefault();
    const form = new FormData();
    form.append("domain", code);
    form.append("person", person.value.trim());
    if (name.value.trim()) form.append("name", name.value.trim());
    for (const f of files.files) form.append("files", f, f.name);
    const report = await attempt(() => api("POST", "/api/training/images", form));
    if (!report) return;
    const count = (o) => report.files.filter((f) => f.outcome === o).length;
    const refused = report.files.filter((f) => f.outcome === "refused");
    uploaded.textContent = `${count("added")} added for ${report.person}, ${count("duplicate")} already known` +
      (refused.length ? `; refused: ${refused.map((f) => `${f.file} (${f.reason})`).join(", ")}` : "") +
      ". Process them to find their faces.";
    files.value = "";
  } }, h("div", { class: "row" }, "Person id ", person, " Name ", name, files,
    h("button", { class: "primary", id: "upload-files" }, "Upload"),
    h("button", { type: "button", id: "process", onclick: () => startJob("/api/training/process", code, jobs) }, "Process new photos")),
  uploaded);

  page(`Review of ${code}`,
    h("div", { class: "card" }, h("strong", {}, "Add photos"), upload),
    h("h2", {}, "Jobs"), jobs.box,
    h("h2", {}, "Waiting for review"),
    h("div", { class: "row" },
      h("button", { type: "button", id: "approve-ticked", onclick: () => bulk("approve") }, "Approve ticked people"),
      h("button", { type: "button", id: "reject-ticked", class: "danger", onclick: () => bulk("reject") }, "Reject ticked people")),
    h("p", { class: "hint" }, "Keys: ", h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " person, ", h("kbd", {}, "h"), "/", h("kbd", {}, "l"), " face, ",
      h("kbd", {}, "space"), " select, ", h("kbd", {}, "x"), " tick the person, ", h("kbd", {}, "a"), " approve, ", h("kbd", {}, "r"), " reject, ", h("kbd", {}, "o"), " source photo. Double-click a face for its photo."),
    staged);
  load();
}

async function peoplePage(code) {
  const q = h("input", { id: "people-q", type: "search", placeholder: "name, id or Wikidata id", size: 30 });
  const results = h("table", { id: "people" });
  const detail = h("div", { id: "person" });

  const openPerson = async (p) => {
    const faces = await attempt(() => api("GET", `/api/domains/${code}/people/${p.id}/faces`));
    if (!faces) return;
    const notThis = (f) => confirmDialog(`Not ${p.display_name}?`, [
      `Face #${f.image_id} is taken away from ${p.display_name} (${p.id}). Its photo stays on the hub, rejected as "not this person".`,
      `The next batch of ${code} sends the ${faces.length - 1} remaining face(s) to every edge of ${code} and of domains that inherit it.`,
    ], async () => {
      const r = await attempt(() => api("DELETE", `/api/domains/${code}/people/${p.id}/faces/${f.image_id}`),
        (r) => `Removed; ${r.faces_left} face(s) left, ${r.pending_batch ? "goes out with the next batch" : "nothing to publish"}`);
      if (r) { openPerson(p); search(); }
    }, "Not this person");
    const erase = () => {
      confirmDialog(`Erase ${p.display_name}?`, [
        `This deletes ${p.display_name} (${p.id}) from ${code} on the hub: every photo, face crop and descriptor, and the files in training/, trainingPass/ and recognized_faces_prod/.`,
        p.status === "production" ? `The next batch of ${code} removes the person from every edge of ${code} and of domains that inherit it.` : "The person was never published, so no edge holds them.",
        "It cannot be undone.",
      ], async () => {
        const done = await attempt(() => api("DELETE", `/api/domains/${code}/people/${p.id}`), `${p.display_name} erased`);
        if (done !== undefined) { detail.replaceChildren(); search(); }
      }, "Erase");
    };
    detail.replaceChildren(h("div", { class: "card", dataset: { person: p.id } },
      h("div", { class: "head" }, h("strong", {}, p.display_name), h("span", { class: "muted" }, p.id), h("span", { class: "badge" }, p.status)),
      h("div", { class: "faces" }, faces.length ? faces.map((f) => h("figure", { class: "face", dataset: { image: f.image_id } },
        f.image_id ? picture(`/api/domains/${code}/images/${f.image_id}/face`, `face ${f.image_id}`) : h("div", { class: "muted" }, "no photo"),
        h("figcaption", {}, h("span", {}, `#${f.image_id ?? "—"}`),
          f.image_id ? h("button", { type: "button", class: "not-this-person", onclick: () => notThis(f) }, "Not this person") : null)))
        : h("p", { class: "muted" }, "No approved faces.")),
      h("div", { class: "row" }, h("button", { type: "button", class: "danger", id: "erase-person", onclick: erase }, "Erase person…"))));
  };

  const search = async () => {
    const people = await attempt(() => api("GET", `/api/domains/${code}/people?q=${encodeURIComponent(q.value)}`));
    if (!people) return;
    results.replaceChildren(
      h("thead", {}, h("tr", {}, ["Name", "Id", "Wikidata", "Status", "Faces"].map((t) => h("th", {}, t)))),
      h("tbody", {}, people.map((p) => h("tr", { dataset: { person: p.id } },
        h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); openPerson(p); } }, p.display_name)),
        h("td", {}, p.id), h("td", {}, p.wikidata_id || ""), h("td", {}, p.status), h("td", { class: "num" }, p.faces)))));
  };
  q.addEventListener("input", () => { clearTimeout(q.timer); q.timer = setTimeout(search, 200); });
  page(`People of ${code}`, h("div", { class: "row" }, q), results, detail);
  search();
}

async function publishPage(code) {
  const manifest = h("pre", { id: "manifest" }, "Build a batch to see its manifest.");
  const edges = h("table", { id: "edges" });
  const stats = h("p", { id: "publish-stats", class: "muted" });
  const showStats = async () => {
    const s = await api("GET", `/api/domains/${code}/stats`).catch(() => null);
    if (s) stats.textContent = `${s.production_batches} batches, the last ${when(s.last_batch_at)}.`;
  };
  const build = async (kind) => {
    const path = kind === "batch" ? `/api/domains/${code}/batches` : `/api/domains/${code}/snapshots`;
    const result = await attempt(() => api("POST", path));
    if (!result) return;
    const m = kind === "batch" ? result.batch : result;
    if (!m) { toast("Nothing was approved or erased since the last batch: no batch built"); return; }
    toast(`${m.kind} ${m.id} built: ${m.people_added} added, ${m.people_removed} removed, ${m.descriptors} descriptors`);
    manifest.textContent = JSON.stringify(m, null, 2);
    showStats();
  };
  const showEdges = async () => {
    let list;
    try { list = await api("GET", `/api/domains/${code}/edges`); } catch (e) {
      edges.replaceChildren(h("tbody", {}, h("tr", {}, h("td", { class: "muted" }, e.message)))); return;
    }
    edges.replaceChildren(
      h("thead", {}, h("tr", {}, ["Edge", "State", "Applied", "Hub", "Lag", "Descriptors", "Pack", "Reported"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.length ? list.map((e) => h("tr", { dataset: { edge: e.device_id, applied: e.applied_seq } },
        h("td", {}, e.device_id),
        h("td", {}, h("span", { class: `badge ${e.online ? "online" : "offline"}` }, e.online ? "online" : "offline")),
        h("td", { class: "num applied" }, e.applied_seq), h("td", { class: "num" }, e.hub_seq),
        h("td", { class: "num" }, e.lag ? h("span", { class: "badge lag" }, `${e.lag} behind`) : "current"),
        h("td", { class: "num" }, e.descriptors), h("td", {}, e.pack || ""), h("td", {}, when(e.updated_at))))
        : h("tr", {}, h("td", { class: "muted", colspan: 8 }, "No edge has reported this domain yet."))));
  };
  page(`Publish ${code}`,
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", id: "build-batch", onclick: () => build("batch") }, "Build batch"),
      h("button", { type: "button", id: "build-snapshot", onclick: () => build("snapshot") }, "Build snapshot"),
      h("span", { class: "hint" }, "A batch carries what was approved or erased since the last one; a snapshot, everything published, for new edges.")),
    stats, h("h2", {}, "Manifest"), manifest, h("h2", {}, "Edges"), edges);
  showStats();
  every(2000, showEdges);
}

// ---------------------------------------------------------------- start

// A bug of the page is shown, not swallowed.
window.addEventListener("error", (e) => toast(`console error: ${e.message}`, true));
window.addEventListener("unhandledrejection", (e) => toast(`console error: ${e.reason && e.reason.message || e.reason}`, true));
document.getElementById("sign-out").addEventListener("click", () => signOut());
document.addEventListener("keydown", (e) => { if (pageKeys) pageKeys(e); });
window.addEventListener("hashchange", route);
route();
