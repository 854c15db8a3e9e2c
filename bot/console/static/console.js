// Moderator console: the browser side. Plain JS, no framework, served under a strict CSP.
// Everything the server sends (summaries, messages, notes, file names, audit details) is put
// into the DOM as text (textContent, append(string), createTextNode): people paste attack
// payloads into chats, and here they must stay inert text.
"use strict";

const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";

const CSRF = meta("csrf-token");
const ROLE = meta("role");
const LOGIN = "/console/login";
const TWO_FACTOR = "/console/2fa";
const SET_UP_SECOND_FACTOR = "set up two-factor sign-in first"; // the server's refusal until then
const API = "/console/api";
const VIEWS = ["queue", "case", "dashboard", "audit", "admin", "password"];
const PAGE = 50; // queue entries per request (the server sends at most 100)
const POLL_MS = 15000; // fallback when the event stream is down
const TICK_MS = 5000; // how often waiting times are redrawn
const AUTHORS = { person: "Person", bot: "Bot", moderator: "You/Team", note: "Note" };
const PRIORITIES = ["crisis", "young", "normal"];
const CASE_ERRORS = { 403: "This case belongs to someone else." };

const state = {
  caseId: null, // the case shown in #view-case
  lineKeys: [], // lines drawn for that case: new ones are appended, so the log does not jump
  evidenceKey: null, // ids of the evidence drawn: redraw only on change, keeping typed reasons
  previews: new Map(), // evidence id -> object URL of an image the moderator chose to reveal
  queueAt: 0, // Date.now() when the queue's waiting times were measured
  queuePages: 1, // pages of the queue shown ("Show more" adds one)
  groups: new Map(), // id of a source's group shown open -> how many pages of it are shown
  caseMine: false, // whether the open case is this moderator's own (else an admin is looking)
  stream: null,
  leaving: false, // on the way to the sign-in page: stay quiet
};

// --- small helpers --------------------------------------------------------------------------

/** Build an element. Children that are strings or numbers become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value != null && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A table cell; data-label lets narrow screens show the column name beside the value. */
const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
const show = (value, fallback = "—") => (value == null || value === "" ? fallback : `${value}`);
const pad = (n) => String(n).padStart(2, "0");
const humanise = (code) => String(code).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
const caseUrl = (id) => `${API}/cases/${encodeURIComponent(String(id))}`;
const sameCase = (a, b) => a != null && b != null && `${a}` === `${b}`;

/** The API sends unix seconds; null when missing or unreadable. */
function toDate(at) {
  const date = at == null ? null : new Date(typeof at === "number" ? at * 1000 : at);
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

/** Local "HH:MM": moderators follow conversations as they happen. */
function clock(at) {
  const date = toDate(at);
  return date ? `${pad(date.getHours())}:${pad(date.getMinutes())}` : "—";
}

/** Local date and time, for records that span days (notes, evidence, audit). */
function dated(at) {
  const date = toDate(at);
  return date ? `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock(at)}` : "—";
}

function minutes(seconds) {
  const s = seconds == null ? NaN : Number(seconds);
  if (!Number.isFinite(s)) return "—";
  return s < 60 ? "<1 min" : `${Math.floor(s / 60)} min`;
}

function humanSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n)) return "—";
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

/** Run a task one at a time; calls made meanwhile fold into a single run after it. */
function coalesce(task) {
  let busy = false;
  let again = false;
  return async function run() {
    if (busy) { again = true; return; }
    busy = true;
    try { do { again = false; await task(); } while (again); } finally { busy = false; }
  };
}

// --- status messages and errors -------------------------------------------------------------

function setStatus(message, kind = "info") {
  const box = $("status");
  box.textContent = message;
  box.classList.toggle("error", kind === "error");
  box.classList.toggle("ok", kind === "ok");
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function signedOut() {
  if (state.leaving) return;
  state.leaving = true;
  state.stream?.close();
  location.assign(LOGIN);
}

/** Show what went wrong, preferring our own wording for statuses listed in `overrides`. */
function report(err, overrides = {}) {
  if (state.leaving || err?.status === 401) return;
  if (!(err instanceof ApiError)) console.error(err); // a bug here, not a refusal from the server
  const fallback = err instanceof ApiError ? err.message : "Something went wrong. Please try again.";
  setStatus(overrides[err?.status] ?? fallback, "error");
}

// --- talking to the server ------------------------------------------------------------------

async function readJson(res) {
  try { return await res.json(); } catch { return {}; }
}

/** fetch with the CSRF header on writes; 401 anywhere means the session is over. */
async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = CSRF;
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(path, init).catch(() => {
    throw new ApiError(0, "Cannot reach the server. Check the connection; the console keeps trying.");
  });
  if (res.status === 401) { signedOut(); throw new ApiError(401, "Your session has ended."); }
  if (res.ok) return res;
  const { error } = await readJson(res); // the server's short reason, e.g. "write a message first"
  if (res.status === 403 && error === SET_UP_SECOND_FACTOR) { // required from now on
    state.leaving = true;
    state.stream?.close();
    location.assign(TWO_FACTOR);
    throw new ApiError(401, "Set up two-factor sign-in first.");
  }
  const text = typeof error === "string" && error ? `${humanise(error)}.` : `The server answered ${res.status}.`;
  throw new ApiError(res.status, text);
}

const getJson = async (path) => readJson(await request("GET", path));
const postJson = async (path, body) => readJson(await request("POST", path, body));

// --- views ----------------------------------------------------------------------------------

function showView(name, { focus = true } = {}) {
  if (name !== "case") leaveCase();
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const button of document.querySelectorAll("[data-view]")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  // Move focus to the new heading so keyboard and screen-reader users land on the new content.
  if (focus) $(`view-${name}`).querySelector("h2")?.focus();
}

/** Forget the open case: drafts must never carry over to another person, images are let go. */
function leaveCase() {
  for (const url of state.previews.values()) URL.revokeObjectURL(url);
  state.previews.clear();
  state.caseId = null;
  state.lineKeys = [];
  state.evidenceKey = null;
  $("lines").replaceChildren();
  $("evidence-body").replaceChildren();
  for (const id of ["reply-text", "note-text", "export-consent"]) $(id).value = "";
}

// --- the queue ------------------------------------------------------------------------------

const refreshQueue = coalesce(async () => {
  try { renderQueue(await loadQueue()); } catch (err) { report(err); }
});

/** The pages of the queue shown so far, and the cases of each group shown open. Entries can
 *  move between pages while they load (a new crisis goes first): each case is drawn once. */
async function loadQueue() {
  const pages = await loadPages(`${API}/queue?`, state.queuePages);
  const members = new Map();
  for (const [id, count] of state.groups) {
    members.set(id, await loadPages(`${API}/queue?group=${encodeURIComponent(id)}&`, count));
  }
  return { ...pages.last, cases: pages.cases, more: pages.more, members };
}

async function loadPages(base, count) {
  const cases = [];
  const seen = new Set();
  let last = {};
  for (let page = 0; page < count; page++) {
    last = await getJson(`${base}offset=${page * PAGE}&limit=${PAGE}`);
    for (const item of Array.isArray(last.cases) ? last.cases : []) {
      if (!seen.has(`${item.id}`)) { seen.add(`${item.id}`); cases.push(item); }
    }
    if (!last.more) break;
  }
  return { last, cases, more: Boolean(last.more) };
}

function renderQueue(data) {
  const cases = data.cases;
  state.queueAt = Date.now();
  setOutcomes(Array.isArray(data.outcomes) ? data.outcomes : []);
  $("online").textContent = String(Number(data.online) || 0);
  const counts = data.counts ?? {};
  const waiting = Number(counts.waiting) || 0;
  $("queue-counts").textContent = WORDS.counts(waiting, Number(counts.urgent) || 0);

  // Redrawing replaces the buttons; put keyboard focus back where it was.
  const active = document.activeElement;
  const focused = $("queue-body").contains(active) ? {
    row: active.closest("tr")?.dataset.row,
    cls: ["claim", "open", "group-toggle", "group-more"].find((c) => active.classList.contains(c)),
  } : null;

  const groups = new Set(cases.map((item) => item.group?.id).filter(Boolean));
  for (const id of state.groups.keys()) if (!groups.has(id)) state.groups.delete(id); // gone
  const rows = [];
  for (const item of cases) {
    rows.push(queueRow(item));
    const members = item.group ? data.members.get(item.group.id) : null;
    if (!members) continue;
    for (const member of members.cases) if (!sameCase(member.id, item.id)) rows.push(queueRow(member, item.group.id));
    if (members.more) rows.push(groupMoreRow(item.group.id));
  }
  $("queue-body").replaceChildren(...rows);
  $("queue-table").hidden = cases.length === 0;
  $("queue-empty").hidden = cases.length !== 0;
  $("queue-more").hidden = !data.more;
  tickWaiting();

  if (focused) {
    const row = [...$("queue-body").rows].find((r) => r.dataset.row === focused.row);
    (row?.querySelector(`button.${focused.cls}`) ?? row?.querySelector("button"))?.focus();
  }
  document.title = waiting ? `(${waiting}) Moderator console` : "Moderator console";
}

function priorityBadge(priority) {
  const known = PRIORITIES.includes(priority) ? priority : "normal";
  return el("span", { class: `priority priority-${known}` }, show(priority));
}

/** One case. A group's leading case says how many came from its source and opens the rest;
 *  a case shown inside an open group (`group`) says it is from the same source. */
function queueRow(item, group = null) {
  const classes = [item.priority === "crisis" ? "crisis" : null, group ? "member" : null];
  const row = el("tr", { "data-case": item.id, "data-row": `c${item.id}`, "data-group": group ?? item.group?.id,
    class: classes.filter(Boolean).join(" ") || null });
  const waiting = cell("Waiting");
  waiting.classList.add("waiting");
  if (item.waiting != null) waiting.dataset.seconds = String(item.waiting);
  else waiting.textContent = item.status === "claimed" ? "Claimed" : "—";

  const actions = cell("Action");
  if (item.status === "queued") actions.append(el("button", { type: "button", class: "claim primary" }, "Claim"));
  // Admins open any case: to read it, give it to someone, or release it.
  if (item.mine || ROLE === "admin") actions.append(el("button", { type: "button", class: "open secondary" }, "Open"));
  const summary = cell("Summary", show(item.summary, ""));
  if (group) summary.append(el("span", { class: "member-note" }, WORDS.groupMember));
  if (item.group) {
    const open = state.groups.has(item.group.id);
    summary.append(el("span", { class: "group-badge" }, WORDS.groupBadge(item.group.cases, item.group.urgent)));
    actions.append(el("button", { type: "button", class: "group-toggle secondary", "aria-expanded": String(open) },
      open ? WORDS.groupClose : WORDS.groupOpen(item.group.cases - 1)));
  }

  row.append(
    cell("Priority", priorityBadge(item.priority)),
    summary,
    cell("Channel", show(item.channel)),
    waiting,
    cell("Moderator", show(item.owner, "Nobody yet")),
    actions,
  );
  return row;
}

/** After an open group's shown cases: more of them. */
function groupMoreRow(group) {
  return el("tr", { class: "member", "data-group": group, "data-row": `more:${group}` },
    el("td", { colspan: 6 }, el("button", { type: "button", class: "group-more secondary" }, WORDS.groupMore)));
}

function toggleGroup(group) {
  if (state.groups.has(group)) state.groups.delete(group);
  else state.groups.set(group, 1);
  refreshQueue();
}

function moreOfGroup(group) {
  state.groups.set(group, (state.groups.get(group) ?? 1) + 1);
  refreshQueue();
}

async function moreOfQueue() {
  state.queuePages += 1;
  await refreshQueue();
  const shown = $("queue-body").querySelectorAll("tr[data-case]:not(.member)").length;
  setStatus(WORDS.queueMoreDone(shown));
  if ($("queue-more").hidden) $("queue-body").querySelector("tr:last-child button")?.focus();
}

/** Waiting times keep growing between fetches; redraw them from the time of the fetch. */
function tickWaiting() {
  const elapsed = (Date.now() - state.queueAt) / 1000;
  for (const td of document.querySelectorAll("#queue-body td.waiting[data-seconds]")) {
    const text = minutes(Number(td.dataset.seconds) + elapsed);
    if (td.textContent !== text) td.textContent = text;
  }
}

function setOutcomes(outcomes) {
  const select = $("close-outcome");
  const current = select.value;
  const have = [...select.options].map((o) => o.value).join("\n");
  if (have === outcomes.map(String).join("\n")) return; // keep the moderator's choice
  select.replaceChildren(...outcomes.map((o) => el("option", { value: o }, humanise(o))));
  if (outcomes.includes(current)) select.value = current;
}

async function claim(id, button) {
  button.disabled = true;
  try {
    await postJson(`${caseUrl(id)}/claim`);
    setStatus("You have claimed this case.", "ok");
    await openCase(id);
  } catch (err) {
    report(err, { 409: "Another moderator has already claimed this case." });
    if (err.status === 409) refreshQueue();
  } finally {
    button.disabled = false;
  }
}

// --- one case -------------------------------------------------------------------------------

async function openCase(id) {
  if (!sameCase(id, state.caseId)) leaveCase();
  state.caseId = id;
  if (!(await loadCase(id))) return;
  showView("case");
  $("lines").scrollTop = $("lines").scrollHeight; // it was drawn while hidden, with no height
}

/** Fetch and draw a case; on 403/404 go back to the queue. Returns whether it was drawn. */
async function loadCase(id) {
  try {
    const data = await getJson(caseUrl(id));
    if (!sameCase(id, state.caseId)) return false; // the moderator moved on meanwhile
    renderCase(data);
    return true;
  } catch (err) {
    report(err, { ...CASE_ERRORS, 404: "This case no longer exists." });
    if ((err.status === 403 || err.status === 404) && sameCase(id, state.caseId)) {
      showView("queue");
      refreshQueue();
    }
    return false;
  }
}

const refreshCase = coalesce(async () => {
  if (state.caseId !== null && !$("view-case").hidden) await loadCase(state.caseId);
});

function renderCase(data) {
  const item = data.case ?? {};
  state.caseMine = Boolean(item.mine);
  $("assign-form").hidden = ROLE !== "admin" || item.status === "closed";
  $("case-heading").textContent = `Case ${show(item.id, "")}`;
  renderSummary(item);
  renderLines(Array.isArray(data.lines) ? data.lines : []);
  renderNotes(Array.isArray(data.notes) ? data.notes : []);
  renderEvidence(Array.isArray(data.evidence) ? data.evidence : []);
}

function renderSummary(item) {
  const pairs = [
    ["Summary", show(item.summary)],
    ["Priority", priorityBadge(item.priority)],
    ["Age band", show(item.age_band, "Not given")],
    ["Nation", show(item.nation, "Not given")],
    ["Language", show(item.language, "Not known")],
    ["Pattern", show(item.pattern, "Not known")],
    ["Channel", show(item.channel)],
    ["Opened", clock(item.opened_at)],
  ];
  $("case-summary").replaceChildren(
    ...pairs.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value))));
}

/** Append only the new lines, so the log keeps its scroll and screen readers hear just those;
 *  redraw everything if earlier lines changed (lines are sorted by time on the server). */
function renderLines(lines) {
  const box = $("lines");
  const keys = lines.map((line) => `${line.at}|${line.author}|${line.text}`);
  if (!state.lineKeys.every((key, i) => key === keys[i])) { box.replaceChildren(); state.lineKeys = []; }
  const first = state.lineKeys.length === 0;
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const fresh = lines.slice(state.lineKeys.length).map(lineNode);
  box.append(...fresh);
  state.lineKeys = keys;
  if (fresh.length && (first || nearBottom)) box.scrollTop = box.scrollHeight;
  $("lines-empty").hidden = lines.length > 0;
}

function lineNode(line) {
  const author = show(line.author, "");
  // The label is drawn by CSS from data-label, so the element's text is exactly the message.
  const label = `${AUTHORS[author] ?? humanise(author || "unknown")} · ${clock(line.at)}`;
  return el("p", { class: "line", "data-author": author, "data-label": label }, show(line.text, ""));
}

function renderNotes(notes) {
  $("notes").replaceChildren(...notes.map((note) => el("li", { class: "note" },
    el("p", { class: "note-text" }, show(note.text, "")),
    el("p", { class: "note-meta" }, `${show(note.author, "Moderator")} · ${dated(note.at)}`))));
  $("notes-empty").hidden = notes.length > 0;
}

function renderEvidence(items) {
  $("evidence").hidden = items.length === 0;
  $("evidence-empty").hidden = items.length > 0;
  const key = items.map((item) => String(item.id)).join("\n");
  if (key === state.evidenceKey) return; // nothing new: keep typed reasons and shown images
  const reasons = new Map([...document.querySelectorAll("#evidence-body .reveal-reason")]
    .map((input) => [input.closest("tr").dataset.item, input.value]));
  state.evidenceKey = key;
  $("evidence-body").replaceChildren(...items.map((item) => evidenceRow(item, reasons.get(String(item.id)))));
}

function evidenceRow(item, reason = "") {
  const id = String(item.id);
  return el("tr", { class: "evidence", "data-item": id },
    cell("Kind", show(item.kind)),
    cell("Type", show(item.media_type)),
    cell("Size", humanSize(item.size)),
    cell("SHA-256", el("code", { class: "sha" }, show(item.sha256))),
    cell("Received", dated(item.received_at)),
    cell("File name", el("span", { class: "file-name" }, show(item.name))),
    cell("Preview", item.previewable ? previewBox(id, reason) : "No preview"));
}

/** A revealed image, or the grey placeholder with the reason field that unlocks it. */
function previewBox(id, reason = "") {
  const url = state.previews.get(id);
  if (url) return el("div", { class: "preview-box" }, el("img", { class: "preview", alt: "Evidence image", src: url }));
  const inputId = `reveal-reason-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return el("div", { class: "preview-box" },
    el("div", { class: "blurred" }, "Hidden"),
    el("label", { for: inputId }, "Reason for viewing"),
    el("input", { id: inputId, class: "reveal-reason", type: "text", autocomplete: "off", value: reason }),
    el("button", { type: "button", class: "reveal secondary" }, "Reveal"));
}

function reveal(row) {
  const id = row.dataset.item;
  const input = row.querySelector(".reveal-reason");
  const reason = required(input, "Write a reason for viewing before revealing the image.");
  if (!reason) return;
  caseAction(row.querySelector(".reveal"), async (caseId) => {
    const res = await request("POST", `${caseUrl(caseId)}/evidence/${encodeURIComponent(id)}/reveal`, { reason });
    const blob = await res.blob();
    if (!sameCase(caseId, state.caseId)) return; // the case was left meanwhile: show nothing
    state.previews.set(id, URL.createObjectURL(blob));
    // The table may have been redrawn meanwhile (new evidence arrived): use the current row.
    const current = $("evidence-body").querySelector(`tr[data-item="${CSS.escape(id)}"]`);
    current?.querySelector(".preview-box")?.replaceWith(previewBox(id));
    setStatus("Image shown. Your reason was recorded.", "ok");
  });
}

/** Run a case action from a form: validate, disable the button, report errors. */
async function caseAction(button, action) {
  if (state.caseId === null) return;
  button.disabled = true;
  try {
    await action(state.caseId);
  } catch (err) {
    report(err, CASE_ERRORS);
  } finally {
    button.disabled = false;
  }
}

function required(input, message) {
  const value = input.value.trim();
  if (value) { input.removeAttribute("aria-invalid"); return value; }
  input.setAttribute("aria-invalid", "true");
  setStatus(message, "error");
  input.focus();
  return "";
}

/** Send a reply or a note from its textarea, then redraw the case so it shows in place. */
function postText(inputId, buttonId, path, empty, done) {
  const text = required($(inputId), empty);
  if (!text) return;
  caseAction($(buttonId), async (id) => {
    await postJson(`${caseUrl(id)}/${path}`, { text });
    $(inputId).value = "";
    setStatus(done, "ok");
    await loadCase(id);
  });
}

const sendReply = () => postText("reply-text", "reply-send", "reply", "Write a reply first.", "Reply sent.");
const addNote = () => postText("note-text", "note-add", "notes", "Write a note first.", "Note added.");

function exportPack() {
  const consent = required($("export-consent"), "Write down how the person gave consent before exporting.");
  if (!consent) return;
  caseAction($("export"), async (id) => {
    const res = await request("POST", `${caseUrl(id)}/export`, { consent });
    const url = URL.createObjectURL(await res.blob());
    const link = el("a", { href: url, download: "evidence-pack.zip", class: "hidden" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000); // give the download time to start
    setStatus("Evidence pack downloaded.", "ok");
  });
}

/** Release or close: the case leaves this moderator, so go back to the queue. */
function finish(buttonId, path, body, done) {
  caseAction($(buttonId), async (id) => {
    await postJson(`${caseUrl(id)}/${path}`, body);
    showView("queue");
    setStatus(done, "ok");
    await refreshQueue();
  });
}

const release = () => finish("release", "release", {},
  state.caseMine ? "Case released to the queue." : WORDS.forceReleased);

function closeCase() {
  const outcome = $("close-outcome").value;
  if (!outcome) { setStatus("Choose an outcome first.", "error"); $("close-outcome").focus(); return; }
  finish("close", "close", { outcome }, "Case closed.");
}

// --- live updates ---------------------------------------------------------------------------

function startStream() {
  if (!("EventSource" in window) || state.leaving) return;
  const stream = new EventSource(`${API}/stream`);
  state.stream = stream;
  stream.addEventListener("message", (event) => onEvent(event.data));
  stream.addEventListener("error", () => {
    // The browser retries by itself unless the stream is closed (e.g. an HTTP error);
    // then polling keeps the queue fresh and we try again later.
    if (stream.readyState === EventSource.CLOSED && state.stream === stream) {
      state.stream = null;
      setTimeout(startStream, POLL_MS);
    }
  });
}

function onEvent(raw) {
  let event;
  try { event = JSON.parse(raw); } catch { return; }
  if (!event || typeof event !== "object") return;
  refreshQueue();
  if (sameCase(event.case, state.caseId)) refreshCase(); // the person's replies appear live
  if (event.urgent && Number(event.more) > 0) {
    // Urgent cases from one source, summed up: each is in the queue, in its source's group.
    setStatus(WORDS.urgentMore(Number(event.more)), "error");
    notifyUrgent(WORDS.urgentMore(Number(event.more)), WORDS.urgentMoreBody);
  } else if (event.urgent) {
    setStatus("An urgent case is waiting.", "error");
    notifyUrgent();
  }
}

/** A desktop notification with no personal details: it may show on a shared screen. */
function notifyUrgent(title = "Urgent case waiting", body = "Someone needs help now. Open the console.") {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body });
  } catch { /* Chrome on Android allows notifications only from a service worker */ }
}

function setupNotifications() {
  const button = $("notify");
  if (!("Notification" in window)) { button.hidden = true; return; }
  const sync = () => {
    const permission = Notification.permission;
    button.disabled = permission !== "default";
    button.textContent = permission === "granted" ? "Notifications on"
      : permission === "denied" ? "Notifications blocked" : "Enable notifications";
  };
  button.addEventListener("click", async () => {
    const granted = (await Notification.requestPermission()) === "granted";
    sync();
    if (granted) setStatus("You will be notified of urgent cases.", "ok");
    else setStatus("Notifications are off. Keep this tab open to see urgent cases.");
  });
  sync();
}

// --- dashboard ------------------------------------------------------------------------------

async function loadDashboard() {
  try { renderDashboard(await getJson(`${API}/dashboard`)); } catch (err) { report(err); }
}

function renderDashboard(data) {
  $("wait-median").textContent = minutes(data.wait_median);
  $("wait-p90").textContent = minutes(data.wait_p90);
  $("claims").textContent = show(data.claims, "0");
  const days = Array.isArray(data.days) ? data.days : [];
  const ranked = (counts) => Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1])
    .map(([key, count]) => [humanise(key), count]);
  $("charts").replaceChildren(
    chart("Conversations per day", days.map((d) => [d.day, d.conversations]), columnChart),
    chart("Handoffs to a moderator per day", days.map((d) => [d.day, d.handoffs]), columnChart),
    chart("Handoffs by priority", ranked(data.by_priority), barChart),
    chart("Outcomes", ranked(data.outcomes), barChart),
    chart("Patterns", ranked(data.by_pattern), barChart),
    chart("Age bands", ranked(data.by_age_band), barChart),
    chart("Nations", ranked(data.by_nation), barChart),
  );
}

let chartCount = 0;

/** One chart: a heading, the SVG for sighted users and a hidden table for screen readers. */
function chart(title, pairs, draw) {
  const box = el("section", { class: "chart" }, el("h3", {}, title));
  const values = pairs.map(([label, value]) => [show(label), Number(value) || 0]);
  const titleId = `chart-title-${++chartCount}`;
  const image = el("svg:svg", { role: "img", "aria-labelledby": titleId, width: "100%" },
    el("svg:title", { id: titleId }, values.length ? title : `${title}: no data yet`));
  box.append(image);
  if (!values.length) {
    image.setAttribute("height", "28");
    image.append(el("svg:text", { x: 0, y: 18, class: "chart-value" }, "No data yet."));
    return box;
  }
  draw(image, values, Math.max(1, ...values.map(([, v]) => v)));
  const table = el("table", { class: "visually-hidden" }, el("caption", {}, title),
    ...values.map(([label, value]) => el("tr", {}, el("th", { scope: "row" }, label), el("td", {}, value))));
  box.append(table);
  return box;
}

/** Horizontal bars, label above each bar so long names fit on a phone. */
function barChart(image, values, max) {
  const row = 42;
  image.setAttribute("height", String(values.length * row));
  values.forEach(([label, value], i) => {
    const width = value ? Math.max(0.5, (value / max) * 85) : 0;
    const y = i * row;
    image.append(el("svg:text", { x: 0, y: y + 14, class: "chart-label" }, label),
      el("svg:rect", { x: 0, y: y + 20, width: `${width}%`, height: 14, class: "bar" },
        el("svg:title", {}, `${label}: ${value}`)),
      el("svg:text", { x: `${width + 1}%`, y: y + 32, class: "chart-value" }, value));
  });
}

/** Vertical columns for a series of days (130px high at most); first and last day on the axis. */
function columnChart(image, values, max) {
  const slot = 100 / Math.max(values.length, 14); // a few days should not make huge blocks
  image.setAttribute("height", "180");
  image.append(el("svg:text", { x: 0, y: 12, class: "chart-value" }, `highest: ${max}`),
    el("svg:line", { x1: 0, y1: 150, x2: "100%", y2: 150, class: "axis" }));
  values.forEach(([label, value], i) => {
    const height = (value / max) * 130;
    const x = `${(i + 0.1) * slot}%`;
    image.append(el("svg:rect", { x, y: 150 - height, width: `${slot * 0.8}%`, height, class: "bar" },
      el("svg:title", {}, `${label}: ${value}`)));
  });
  image.append(el("svg:text", { x: 0, y: 172, class: "chart-label" }, values[0][0]));
  if (values.length > 1) {
    image.append(el("svg:text", { x: "100%", y: 172, "text-anchor": "end", class: "chart-label" }, values.at(-1)[0]));
  }
}

// --- audit log (admins) ---------------------------------------------------------------------

async function loadAudit() {
  try {
    const data = await getJson(`${API}/audit`);
    const entries = Array.isArray(data.entries) ? data.entries : [];
    $("audit-body").replaceChildren(...entries.map((entry) => el("tr", { class: "audit-row" },
      cell("Time", dated(entry.at)),
      cell("Moderator", show(entry.moderator)),
      cell("Action", show(entry.action)),
      cell("Subject", show(entry.subject)),
      cell("Detail", show(entry.detail)))));
    $("audit").hidden = entries.length === 0;
    $("audit-empty").hidden = entries.length > 0;
  } catch (err) {
    report(err, { 403: "The audit log is for administrators only." });
  }
}

// --- password -------------------------------------------------------------------------------

async function changePassword() {
  const error = $("password-error");
  // The form's own alert says what is wrong; #status would announce it a second time.
  const fail = (message, input) => { error.textContent = message; input?.focus(); };
  const old = $("old-password").value;
  const fresh = $("new-password").value;
  if (!old) return fail("Enter your current password.", $("old-password"));
  if (fresh.length < 12) return fail("The new password needs at least 12 characters.", $("new-password"));
  error.textContent = "";
  $("change-password").disabled = true;
  try {
    await postJson(`${API}/password`, { old, new: fresh });
    state.leaving = true; // the server ends the session: sign in again with the new password
    location.assign(LOGIN);
  } catch (err) {
    if (err.status !== 401) fail(err.message, null);
  } finally {
    $("change-password").disabled = false;
  }
}

// --- wiring ---------------------------------------------------------------------------------

/** Forms submit through JS (Enter and buttons both work); no page reload. */
function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => { event.preventDefault(); handler(); });
}

function wire() {
  const go = (view, load) => () => { setStatus(""); showView(view); load?.(); }; // old news goes
  $("nav-queue").addEventListener("click", go("queue", refreshQueue));
  $("nav-dashboard").addEventListener("click", go("dashboard", loadDashboard));
  $("nav-audit").addEventListener("click", go("audit", loadAudit));
  $("nav-password").addEventListener("click", go("password"));
  $("back").addEventListener("click", go("queue", refreshQueue));

  $("queue-body").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const row = button?.closest("tr");
    if (!button || !row) return;
    const id = row.dataset.case;
    if (button.classList.contains("group-toggle")) toggleGroup(row.dataset.group);
    else if (button.classList.contains("group-more")) moreOfGroup(row.dataset.group);
    else if (id === undefined) return;
    else if (button.classList.contains("claim")) claim(id, button);
    else if (button.classList.contains("open")) openCase(id);
  });
  $("queue-more").addEventListener("click", moreOfQueue);

  $("evidence-body").addEventListener("click", (event) => {
    const row = event.target.closest("button.reveal")?.closest("tr.evidence");
    if (row) reveal(row);
  });
  $("evidence-body").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !event.target.classList.contains("reveal-reason")) return;
    event.preventDefault();
    reveal(event.target.closest("tr.evidence"));
  });

  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); sendReply(); }
  });
  onSubmit("reply-form", sendReply);
  onSubmit("note-form", addNote);
  onSubmit("export-form", exportPack);
  onSubmit("close-form", closeCase);
  onSubmit("password-form", changePassword);
  $("release").addEventListener("click", release);
}

function init() {
  fillWords();
  if (ROLE === "admin") $("nav-audit").hidden = false;
  wire();
  setupNotifications();
  showView("queue", { focus: false });
  refreshQueue();
  startStream();
  setInterval(() => {
    refreshQueue();
    // Without the stream, the open case's new messages arrive only by polling.
    if (!state.stream || state.stream.readyState !== EventSource.OPEN) refreshCase();
  }, POLL_MS);
  setInterval(tickWaiting, TICK_MS);
}

init();
