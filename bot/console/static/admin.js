// Moderator console: what only admins do. Accounts (disable, enable), the requirement of
// two-factor sign-in for everyone, and giving an open case to a moderator from the case view.
// Runs after console.js and uses its helpers ($, el, cell, getJson, postJson, setStatus, report,
// showView, caseAction, loadCase, refreshQueue). Words come from words.js. Every action answers
// in the #status live region; the server audits each one.
"use strict";

async function loadAdmin() {
  await Promise.all([loadSettings(), loadAccounts()]);
}

async function loadSettings() {
  try {
    const data = await getJson(`${API}/settings`);
    $("require-2fa").checked = Boolean(data.require_two_factor);
  } catch (err) {
    report(err);
  }
}

async function saveSettings() {
  const on = $("require-2fa").checked;
  const button = $("require-save");
  button.disabled = true;
  try {
    const data = await postJson(`${API}/settings/require-2fa`, { on });
    $("require-2fa").checked = Boolean(data.required);
    setStatus(data.required ? WORDS.requireOn : WORDS.requireOff, "ok");
  } catch (err) {
    report(err);
  } finally {
    button.disabled = false;
  }
}

async function loadAccounts() {
  try {
    const data = await getJson(`${API}/moderators`);
    const everyone = Array.isArray(data.moderators) ? data.moderators : [];
    renderAccounts(everyone);
    fillAssignees(everyone);
  } catch (err) {
    report(err, { 403: "Accounts are for administrators only." });
  }
}

function renderAccounts(everyone) {
  const [email, role, status, second, owned, action] = WORDS.columns;
  $("accounts-body").replaceChildren(...everyone.map((m) => {
    const act = cell(action);
    if (m.me) act.append(WORDS.you);
    else {
      const label = m.disabled ? WORDS.enable : WORDS.disable;
      act.append(el("button", { type: "button", class: `${m.disabled ? "enable" : "disable"} secondary` },
        label, el("span", { class: "visually-hidden" }, ` ${show(m.email)}`)));
    }
    return el("tr", { class: "account", "data-email": show(m.email, "") },
      cell(email, show(m.email)),
      cell(role, show(m.role)),
      cell(status, m.disabled ? WORDS.disabledState : WORDS.active),
      cell(second, m.two_factor ? WORDS.on : WORDS.off),
      cell(owned, show(m.cases, "0")),
      act);
  }));
  $("accounts").hidden = everyone.length === 0;
  $("accounts-empty").hidden = everyone.length > 0;
}

async function changeAccount(row, button) {
  const email = row.dataset.email;
  const disabling = button.classList.contains("disable");
  if (disabling && !window.confirm(WORDS.confirmDisable(email))) return;
  button.disabled = true;
  try {
    const data = await postJson(`${API}/moderators/${disabling ? "disable" : "enable"}`, { email });
    const released = Array.isArray(data.released) ? data.released.length : 0;
    setStatus(disabling ? WORDS.disabled(email, released) : WORDS.enabled(email), "ok");
    await loadAccounts();
    refreshQueue();
    // Keep the keyboard where it was: on the same account's (now opposite) button.
    $("accounts-body").querySelector(`tr[data-email="${CSS.escape(email)}"] button`)?.focus();
  } catch (err) {
    report(err);
    button.disabled = false;
  }
}

/** Active accounts, for "Give this case to". */
function fillAssignees(everyone) {
  const select = $("assign-to");
  const current = select.value;
  const active = everyone.filter((m) => !m.disabled).map((m) => show(m.email, ""));
  select.replaceChildren(el("option", { value: "" }, WORDS.assignChoose),
    ...active.map((email) => el("option", { value: email }, email)));
  if (active.includes(current)) select.value = current;
}

function reassign() {
  const email = $("assign-to").value;
  if (!email) {
    setStatus(WORDS.assignNone, "error");
    $("assign-to").focus();
    return;
  }
  caseAction($("assign"), async (id) => {
    await postJson(`${caseUrl(id)}/assign`, { email });
    setStatus(WORDS.assigned(email), "ok");
    await loadCase(id);
    refreshQueue();
  });
}

function setupAdmin() {
  if (ROLE !== "admin") return;
  $("nav-admin").hidden = false;
  $("accounts-columns").replaceChildren(...WORDS.columns.map((name) => el("th", { scope: "col" }, name)));
  $("nav-admin").addEventListener("click", () => { setStatus(""); showView("admin"); loadAdmin(); });
  onSubmit("require-form", saveSettings);
  onSubmit("assign-form", reassign);
  $("accounts-body").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const row = button?.closest("tr.account");
    if (button && row) changeAccount(row, button);
  });
  loadAccounts(); // the case view's list of moderators to give a case to
}

setupAdmin();
