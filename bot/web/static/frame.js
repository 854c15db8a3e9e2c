/* supportbot chat widget, inside its frame: this file runs only on the bot's own origin, in the
 * iframe that the loader (/widget.js) puts on the host page. No framework, no third-party requests.
 *
 * Isolation: the host page cannot reach anything here. The session token is kept in this origin's
 * sessionStorage (this tab only); the key that proves this tab started the session is a
 * NON-extractable WebCrypto key kept in this origin's IndexedDB (a CryptoKey is stored as is: its
 * private half can be used to sign, never read, not even by this script). The host page and this
 * frame talk only through postMessage, each checking the other's origin and window; the host may
 * ask to open, close or leave, and is told the frame's size and when to leave. No message
 * carries the token, the key or anything said.
 *
 * Privacy: the tab keeps only the token, which key is its own, whether the chat is open and the
 * number of the last message shown; no chat text. All of it is cleared on quick exit.
 * Text is only ever set with textContent: nothing the server sends is parsed as HTML.
 * Phone and SMS numbers of the support directory (sent by the server with its hello) become
 * tel:/sms: links in the bot's own messages, built as elements; nothing else is linked.
 */
(function () {
  "use strict";
  var UI = __UI__;
  var params = new URLSearchParams(location.search);
  var hostOrigin = params.get("host") || ""; // checked by the server: the frame's only ancestor
  var framed = window.parent !== window;
  var locale = UI[params.get("locale")] ? params.get("locale") : UI._default;
  var ui = UI[locale];
  var server = location.origin;
  var storeKey = "supportbot";
  var MAX_FILE_BYTES = __MAX_FILE_BYTES__;
  var CHUNK = 256 * 1024;
  var KEY_DB = "supportbot";
  var KEY_STORE = "keys";
  var KEY_STALE_MS = 24 * 3600 * 1000; // a key unused this long belongs to a tab long closed

  // --- state kept for this tab only ------------------------------------------------------------
  var state = load();
  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(storeKey)) || {};
    } catch (e) {
      return {};
    }
  }
  function save() {
    try {
      sessionStorage.setItem(storeKey, JSON.stringify(state));
    } catch (e) {
      /* storage off: the chat still works, it just won't survive a reload */
    }
  }
  function clearAll() {
    state = {};
    try {
      sessionStorage.removeItem(storeKey);
    } catch (e) {
      /* nothing kept */
    }
  }

  // --- the signing key, non-extractable, in IndexedDB -----------------------------------------
  function keyStore(mode, work) {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) return reject(new Error("no IndexedDB"));
      var opening = indexedDB.open(KEY_DB, 1);
      opening.onupgradeneeded = function () {
        opening.result.createObjectStore(KEY_STORE, { keyPath: "id" });
      };
      opening.onerror = function () { reject(opening.error); };
      opening.onsuccess = function () {
        var db = opening.result;
        var tx = db.transaction(KEY_STORE, mode);
        var result = work(tx.objectStore(KEY_STORE));
        tx.oncomplete = function () {
          db.close();
          resolve(result && "result" in result ? result.result : undefined);
        };
        tx.onerror = tx.onabort = function () {
          db.close();
          reject(tx.error);
        };
      };
    });
  }
  function keyGet(id) {
    return keyStore("readonly", function (store) { return store.get(id); });
  }
  function keyPut(record) {
    return keyStore("readwrite", function (store) { store.put(record); });
  }
  function keyTouch(id) {
    return keyStore("readwrite", function (store) {
      var got = store.get(id);
      got.onsuccess = function () {
        if (got.result) {
          got.result.used = Date.now();
          store.put(got.result);
        }
      };
    }).catch(function () {});
  }
  function keyForget(id) {
    // This tab's key, any key left behind by a tab long closed, and the database once empty.
    return keyStore("readwrite", function (store) {
      if (id) store.delete(id);
      var cursor = store.openCursor();
      cursor.onsuccess = function () {
        var at = cursor.result;
        if (!at) return;
        if (!(at.value.used > Date.now() - KEY_STALE_MS) && at.value.id !== state.keyId) at.delete();
        at.continue();
      };
    }).then(function () {
      return keyStore("readonly", function (store) { return store.count(); });
    }).then(function (left) {
      if (left === 0) indexedDB.deleteDatabase(KEY_DB);
    }).catch(function () {});
  }
  function tidyKeys() {
    // Only where the database already exists: opening it would create it.
    if (!window.indexedDB || !indexedDB.databases) return;
    indexedDB.databases().then(function (all) {
      if (all.some(function (db) { return db.name === KEY_DB; })) keyForget(null);
    }).catch(function () {});
  }

  // --- the DOM ----------------------------------------------------------------------------------
  var rootStyle = document.documentElement.style;
  var colour = function (value) { return value && /^[#\w\s(),.%/-]{1,64}$/.test(value) ? value : null; };
  [["accent", "--sb-accent"], ["accent-text", "--sb-accent-text"], ["background", "--sb-bg"], ["text", "--sb-text"]].forEach(function (pair) {
    var value = colour(params.get(pair[0]));
    if (value) rootStyle.setProperty(pair[1], value);
  });

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text != null) node.textContent = text;
    return node;
  }

  var wrap = el("div", { class: "wrap", lang: locale });
  var launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "sb-panel" }, ui.open);
  var panel = el("section", { id: "sb-panel", class: "panel", role: "dialog", "aria-labelledby": "sb-title", hidden: "" });
  var head = el("header", { class: "head" });
  var title = el("h2", { id: "sb-title" }, ui.title);
  var leaveButton = el("button", { type: "button", class: "leave", title: ui.leave_hint }, ui.leave);
  var minimise = el("button", { type: "button", class: "minimise", "aria-label": ui.minimise }, "\u2013");
  head.append(title, leaveButton, minimise);
  var hint = el("p", { class: "hint" }, ui.leave_hint);
  var logBox = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": ui.log_label, tabindex: "0" });
  var typing = el("div", { class: "typing", hidden: "" });
  typing.append(el("span", { class: "visually-hidden" }, ui.typing), el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "dot", "aria-hidden": "true" }));
  var choicesBox = el("div", { class: "choices", role: "group", "aria-label": ui.choices_label });
  var status = el("p", { class: "status", role: "status" });
  var form = el("form", { class: "compose" });
  var inputLabel = el("label", { for: "sb-input", class: "visually-hidden" }, ui.input_label);
  var input = el("textarea", { id: "sb-input", rows: "2", maxlength: "4000", placeholder: ui.placeholder, autocomplete: "off" });
  var fileInput = el("input", { type: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true", accept: "image/png,image/jpeg,image/webp,image/gif,application/pdf,text/plain,.eml,.msg" });
  var attach = el("button", { type: "button", class: "attach", hidden: "" }, ui.attach);
  var send = el("button", { type: "submit", class: "send" }, ui.send);
  form.append(inputLabel, input, fileInput, attach, send);
  panel.append(head, hint, logBox, typing, choicesBox, status, form);
  wrap.append(launcher, panel);
  document.body.append(wrap);

  // --- the host page: postMessage only, origin and window checked both ways ---------------------
  function tell(message) {
    if (framed && hostOrigin) window.parent.postMessage(message, hostOrigin);
  }

  function tellSize() {
    // Closed: just the launcher and room for its focus ring; open: the loader sizes the panel.
    tell({
      supportbot: "state",
      open: !panel.hidden,
      active: !!state.token || !panel.hidden,
      width: Math.ceil(launcher.offsetWidth) + 16,
      height: Math.ceil(launcher.offsetHeight) + 16,
    });
  }

  window.addEventListener("message", function (event) {
    if (!framed || event.source !== window.parent || event.origin !== hostOrigin) return;
    var message = event.data;
    if (!message || typeof message !== "object") return;
    if (message.supportbot === "open" && panel.hidden) openPanel(true);
    else if (message.supportbot === "close" && !panel.hidden) closePanel();
    else if (message.supportbot === "escape") escape(Number(message.at) || Date.now());
    else if (message.supportbot === "leave") leave();
  });

  // --- showing messages, paced -------------------------------------------------------------------
  var queue = [];
  var showing = false;
  var received = 0; // highest message number received on this page

  function enqueue(frame) {
    if (frame.seq > 0 && frame.seq <= received) return; // already here (resent after a resume)
    if (frame.seq > 0) received = frame.seq;
    queue.push(frame);
    if (!showing) drain();
  }

  function drain() {
    showing = true;
    var frame = queue.shift();
    if (!frame) {
      showing = false;
      typing.hidden = true;
      return;
    }
    var instant = frame.seq > 0 && frame.seq <= (state.shown || 0);
    var pause = instant ? 0 : Math.min(frame.pause || 0, 4);
    if (pause > 0 && !document.hidden) {
      typing.hidden = false;
      setTimeout(function () {
        typing.hidden = true;
        show(frame);
        drain();
      }, pause * 1000);
    } else {
      show(frame);
      drain();
    }
  }

  function show(frame) {
    if (frame.t === "say" && frame.kind === "moderator") {
      // A person from the team, not the bot: say so, in words as well as colour.
      var bubble = addBubble("bot moderator", "");
      bubble.append(el("span", { class: "who" }, ui.team_label), document.createTextNode(frame.text));
    } else if (frame.t === "say" || frame.t === "upload") {
      var said = addBubble("bot" + (frame.kind === "crisis" ? " crisis" : ""), frame.text);
      if (frame.t === "say" && LINKED_KINDS.indexOf(frame.kind || "step") >= 0) linkNumbers(said);
      if (frame.t === "upload") attach.hidden = false;
    } else if (frame.t === "you") {
      clearChoices();
      var mine = frame.id && logBox.querySelector('[data-id="' + CSS.escape(frame.id) + '"]');
      if (mine) mine.classList.remove("pending");
      else addBubble("you", frame.file ? ui.file_sent + " " + frame.file : frame.text);
    } else if (frame.t === "choices") {
      showChoices(frame.options || []);
    } else if (frame.t === "pack") {
      var button = el("button", { type: "button", class: "pack" }, ui.download_pack);
      button.addEventListener("click", function () {
        sendFrame({ t: "getpack" }, false);
      });
      var row = el("div", { class: "msg bot" });
      row.append(button);
      logBox.append(row);
    } else if (frame.t === "end") {
      clearChoices();
    }
    if (frame.seq > (state.shown || 0)) {
      state.shown = frame.seq;
      save();
    }
    logBox.scrollTop = logBox.scrollHeight;
  }

  // --- tappable numbers -----------------------------------------------------------------------
  // Only the directory's own numbers (the server sends them), only in the bot's own messages:
  // a number the person typed, even when the bot reads it back, never becomes a link.
  var LINKED_KINDS = ["step", "crisis", "notice"];
  var numbers = { tel: [], sms: [] };
  var numberPattern = null;

  function knownNumbers(given) {
    var clean = function (list) {
      return (Array.isArray(list) ? list : []).filter(function (n) {
        return typeof n === "string" && /^\+?[\d -]{2,20}$/.test(n) && /\d/.test(n);
      });
    };
    numbers = { tel: clean(given && given.tel), sms: clean(given && given.sms) };
    var all = numbers.tel.concat(numbers.sms).sort(function (a, b) { return b.length - a.length; });
    var escaped = all.map(function (n) { return n.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&"); });
    // Longest first, and never part of a longer run of digits ("101" inside "18001 101" is 101).
    numberPattern = all.length ? new RegExp("(?<![\\d+])(?:" + escaped.join("|") + ")(?![\\d])", "g") : null;
  }

  function linkNumbers(bubble) {
    if (!numberPattern) return;
    var text = bubble.textContent;
    var parts = [];
    var last = 0;
    numberPattern.lastIndex = 0;
    var match;
    while ((match = numberPattern.exec(text))) {
      var found = match[0];
      var isTel = numbers.tel.indexOf(found) >= 0;
      var isSms = numbers.sms.indexOf(found) >= 0;
      // A number that is both: "text ... to 85258" is a text message, otherwise a call.
      var before = text.slice(Math.max(0, match.index - 40), match.index);
      var scheme = isSms && (!isTel || /\btext\b[^.\n]*$/i.test(before)) ? "sms:" : "tel:";
      parts.push(document.createTextNode(text.slice(last, match.index)));
      parts.push(el("a", { href: scheme + found.replace(/[^\d+]/g, ""), class: "number" }, found));
      last = match.index + found.length;
    }
    if (!parts.length) return;
    parts.push(document.createTextNode(text.slice(last)));
    bubble.textContent = "";
    bubble.append.apply(bubble, parts);
  }

  function addBubble(who, text, id) {
    var bubble = el("div", { class: "msg " + who }, text);
    if (id) {
      bubble.setAttribute("data-id", id);
      bubble.classList.add("pending");
    }
    logBox.append(bubble);
    logBox.scrollTop = logBox.scrollHeight;
    return bubble;
  }

  function clearChoices() {
    while (choicesBox.firstChild) choicesBox.firstChild.remove();
  }

  function showChoices(options) {
    clearChoices();
    options.forEach(function (option) {
      var button = el("button", { type: "button", class: "choice" }, option.label);
      button.addEventListener("click", function () {
        var id = newId();
        addBubble("you", option.label, id);
        clearChoices();
        sendFrame({ t: "choice", id: id, option: option.id, label: option.label }, true);
      });
      choicesBox.append(button);
    });
  }

  // --- the connection ----------------------------------------------------------------------------
  var ws = null;
  var key = null; // CryptoKey for signing: non-extractable, never leaves this origin
  var publicKey = null; // its public half (base64), sent when a new session starts
  var connecting = false;
  var pending = []; // sent but not acknowledged: resent after a reconnect
  var backoff = 500;
  var ready = false;
  var expectPack = false;
  var leaving = false;

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function b64(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  function sign(message) {
    return crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(message)).then(b64);
  }

  function storedKey() {
    // This tab's key, if it has a session and the key is still kept.
    if (!state.token || !state.keyId) return Promise.resolve(null);
    return keyGet(state.keyId).then(function (record) {
      return record && record.key instanceof CryptoKey ? record.key : null;
    }, function () {
      return null;
    });
  }

  function ensureKey() {
    if (key) return Promise.resolve();
    return storedKey().then(function (found) {
      if (found) {
        key = found;
        keyTouch(state.keyId);
        return;
      }
      // No key for the token (never made here, or gone): the token alone opens nothing anyway.
      delete state.token;
      return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]).then(function (pair) {
        key = pair.privateKey;
        var id = newId();
        var stored = keyPut({ id: id, key: pair.privateKey, used: Date.now() }).then(function () {
          var old = state.keyId;
          state.keyId = id;
          save();
          if (old && old !== id) keyForget(old);
        }, function () {
          /* no IndexedDB (e.g. some private modes): the key lives in this page only */
        });
        return Promise.all([crypto.subtle.exportKey("raw", pair.publicKey), stored]).then(function (parts) {
          publicKey = b64(parts[0]);
        });
      });
    });
  }

  function connect() {
    if (leaving || ws || connecting) return;
    if (!window.crypto || !crypto.subtle) {
      status.textContent = ui.needs_https;
      return;
    }
    status.textContent = ui.connecting;
    connecting = true;
    ensureKey().then(function () {
      connecting = false;
      if (leaving || ws) return;
      var socket = new WebSocket(server.replace(/^http/, "ws") + "/ws");
      socket.binaryType = "arraybuffer";
      ws = socket;
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          if (expectPack) savePack(event.data);
          expectPack = false;
          return;
        }
        var frame;
        try {
          frame = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        onFrame(socket, frame);
      };
      socket.onclose = function (event) {
        if (ws === socket) ws = null;
        ready = false;
        if (leaving || event.code === 4000) return;
        if (event.code === 4401) return restart();
        if (event.code === 4409) return; // this session was opened in a newer connection
        if (event.code === 4429) { // limited: try again much later, not in a tight loop
          status.textContent = ui.reconnecting;
          setTimeout(connect, 60000 + Math.random() * 5000);
          return;
        }
        status.textContent = ui.reconnecting;
        setTimeout(connect, backoff + Math.random() * 250);
        backoff = Math.min(backoff * 2, 8000);
      };
    }).catch(function () {
      connecting = false;
      status.textContent = ui.needs_https;
    });
  }

  function onFrame(socket, frame) {
    if (frame.t === "hello") {
      knownNumbers(frame.numbers);
      var nonceMessage = "supportbot:connect:" + frame.nonce;
      sign(nonceMessage).then(function (sig) {
        if (state.token) {
          socket.send(JSON.stringify({ t: "resume", token: state.token, sig: sig, after: received }));
        } else {
          socket.send(JSON.stringify({ t: "new", key: publicKey, sig: sig, start: (params.get("start") || "").slice(0, 64), locale: locale }));
        }
      });
    } else if (frame.t === "session") {
      state.token = frame.token;
      save();
      opened();
      // Typed while the session was being set up: send it now.
      pending.forEach(function (item) { transmit(item); });
    } else if (frame.t === "resumed") {
      opened();
      pending.forEach(function (item) { transmit(item); });
    } else if (frame.t === "denied") {
      socket.close(4401);
    } else if (frame.t === "ack") {
      pending = pending.filter(function (item) { return item.frame.id !== frame.id; });
    } else if (frame.t === "packfile") {
      expectPack = true;
    } else if (frame.t === "limited") {
      // Too many chats from this connection: nothing is stored, but typed words still get an
      // answer (the crisis lines when they are needed).
      opened();
      pending.forEach(function (item) { transmit(item); });
    } else if (frame.t === "error" && (frame.code === "busy" || frame.code === "not_now" || frame.code === "upload_timeout")) {
      pending = pending.filter(function (item) { return item.frame.id !== frame.id; });
      status.textContent = frame.code === "busy" ? ui.busy : frame.code === "not_now" ? ui.upload_not_now : ui.upload_timeout;
    } else if (frame.t === "pong" || frame.t === "error") {
      /* nothing to show: a bad frame came from us, not the person */
    } else {
      enqueue(frame);
    }
  }

  function opened() {
    ready = true;
    backoff = 500;
    status.textContent = "";
    tellSize();
  }

  function restart() {
    // The server no longer knows this session (it was deleted or expired): start a new one.
    var shown = logBox.childNodes.length > 0;
    var oldKey = state.keyId;
    var open = state.open;
    clearAll();
    if (oldKey) keyForget(oldKey);
    state.open = open;
    save();
    key = null;
    publicKey = null;
    received = 0;
    pending = [];
    while (logBox.firstChild) logBox.firstChild.remove();
    clearChoices();
    if (shown) status.textContent = ui.restarted;
    connect();
  }

  function transmit(item) {
    if (!ws || !ready) return;
    ws.send(JSON.stringify(item.frame));
    if (item.file && item.file.size > 0 && item.file.size <= MAX_FILE_BYTES) {
      for (var start = 0; start < item.file.size; start += CHUNK) ws.send(item.file.slice(start, start + CHUNK));
    }
  }

  function sendFrame(frame, keep, file) {
    var item = { frame: frame, file: file };
    if (keep) pending.push(item);
    transmit(item);
  }

  function savePack(buffer) {
    var url = URL.createObjectURL(new Blob([buffer], { type: "application/zip" }));
    var link = el("a", { href: url, download: "evidence-pack.zip" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  // --- what the person does ----------------------------------------------------------------------
  function openPanel(focus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    state.open = true;
    save();
    tellSize();
    connect();
    // Only when the person asked for it: a restored chat never takes focus from the host page.
    if (focus) input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    tellSize();
    launcher.focus();
  }

  launcher.addEventListener("click", function () { openPanel(true); });
  minimise.addEventListener("click", closePanel);
  leaveButton.addEventListener("click", leave);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    var id = newId();
    addBubble("you", text, id);
    clearChoices();
    sendFrame({ t: "text", id: id, text: text }, true);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  attach.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    var id = newId();
    addBubble("you", ui.file_sent + " " + file.name, id);
    sendFrame({ t: "file", id: id, name: file.name, size: file.size }, true, file);
  });

  // Quick exit: the button, or Escape twice within a second, pressed here or on the host page
  // (the loader passes the host page's presses on, with their time).
  var lastEscape = 0;
  function escape(at) {
    if (!state.token && panel.hidden) return;
    if (Math.abs(at - lastEscape) < 1000) leave();
    lastEscape = at;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") escape(Date.now());
  }, true);

  function leave() {
    if (leaving) return;
    leaving = true;
    tell({ supportbot: "leaving" }); // the host hides the frame at once
    wrap.remove();
    var token = state.token;
    var keyId = state.keyId;
    clearAll();
    var socket = ws;
    if (socket && ready) socket.send(JSON.stringify({ t: "exit", id: newId() }));
    var done = function () {
      if (framed) tell({ supportbot: "exit" });
      else location.replace("https://www.bbc.co.uk/weather");
    };
    var signer = key ? Promise.resolve(key) : token && keyId ? keyGet(keyId).then(function (r) { return r && r.key; }) : Promise.resolve(null);
    signer.then(function (k) {
      key = k;
      if (!token || !k) return;
      // A beacon too, in case the socket is down (or was never opened on this page, e.g. the
      // chat was minimised before moving to another page): it survives the page going away.
      return sign("supportbot:forget:" + token).then(function (sig) {
        navigator.sendBeacon(server + "/api/forget", JSON.stringify({ token: token, sig: sig }));
      });
    }).catch(function () {}).then(function () {
      return keyForget(keyId);
    }).finally(done);
  }

  tidyKeys(); // keys left by tabs long closed
  if (state.open) openPanel(false);
  else tellSize();
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(tellSize);
})();
