/* supportbot chat widget: the loader for host pages. One script, no framework, no third-party
 * requests.
 *
 * <script src="https://SERVER/widget.js" data-locale="en-GB" data-exit-url="https://www.bbc.co.uk/weather" async></script>
 *
 * All this puts on the host page is an iframe served from the bot's own origin: the chat, its
 * session token and its signing key live there, where no script on the host page can reach them.
 * The two talk only with postMessage, each checking the other's origin and window. The host page
 * learns the frame's size and when to leave (it replaces itself with the neutral exit URL);
 * it can ask the frame to open, close or leave, and passes on Escape presses made on the host
 * page, so Escape twice leaves wherever the focus is.
 * Nothing is stored on the host page: no sessionStorage, localStorage or cookies.
 */
(function () {
  "use strict";
  var TITLES = __TITLES__;
  var script = document.currentScript;
  if (!script || window.__supportbotWidget) return;

  var data = script.dataset;
  var server = new URL(data.server || script.src, location.href).origin;
  var locale = TITLES[data.locale] ? data.locale : TITLES._default;
  var exitUrl = safeUrl(data.exitUrl) || "https://www.bbc.co.uk/weather";
  var side = data.position === "left" ? "left" : "right";
  var other = side === "left" ? "right" : "left";

  function safeUrl(value) {
    if (!value) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Earlier versions kept the token and an exportable key in the host page's sessionStorage:
  // gone, so nothing of the chat is left where the host page's scripts can read it.
  try {
    sessionStorage.removeItem("supportbot:" + (data.server || server).replace(/\/+$/, ""));
    sessionStorage.removeItem("supportbot:" + server);
  } catch (e) {
    /* storage off: nothing there */
  }

  var query = new URLSearchParams({ host: location.origin, locale: locale });
  [["accent", "accent"], ["accentText", "accent-text"], ["background", "background"], ["text", "text"], ["start", "start"]].forEach(function (pair) {
    if (data[pair[0]]) query.set(pair[1], data[pair[0]].slice(0, 64));
  });

  var frame = document.createElement("iframe");
  frame.setAttribute("data-supportbot", "");
  frame.title = TITLES[locale];
  frame.referrerPolicy = "no-referrer";
  frame.src = server + __FRAME_PATH__ + "?" + query.toString();

  // Styled through the CSSOM with !important: no inline style attribute for a strict CSP to
  // block, and the host page's own CSS can't move or hide it by accident.
  var size = { open: false, width: 0, height: 0, shown: false, leaving: false };
  var narrow = window.matchMedia ? window.matchMedia("(max-width: 480px)") : { matches: false };
  function put(name, value) {
    frame.style.setProperty(name, value, "important");
  }
  function layout() {
    var small = narrow.matches;
    put("position", "fixed");
    put("z-index", "2147483000");
    put("border", "0");
    put("margin", "0");
    put("padding", "0");
    put("background", "transparent");
    put("color-scheme", "normal");
    put("display", "block");
    put("max-width", "none");
    put("max-height", "none");
    put("min-width", "0");
    put("min-height", "0");
    put("transform", "none");
    put("opacity", "1");
    put(other, "auto");
    put("top", "auto");
    put("visibility", size.shown && !size.leaving ? "visible" : "hidden");
    if (size.open) {
      var edge = small ? "8px" : "16px";
      put("bottom", edge);
      put(side, edge);
      put("width", small ? "calc(100vw - 16px)" : "min(370px, calc(100vw - 32px))");
      put("height", small ? "calc(100vh - 16px)" : "min(560px, calc(100vh - 32px))");
      put("border-radius", "12px");
      put("box-shadow", "0 4px 24px rgba(0, 0, 0, .25)");
    } else {
      // The frame holds the launcher with 8px around it for its focus ring.
      var gap = small ? "0px" : "8px";
      put("bottom", gap);
      put(side, gap);
      put("width", (size.width || 1) + "px");
      put("height", (size.height || 1) + "px");
      put("border-radius", "0");
      put("box-shadow", "none");
    }
  }
  layout();
  if (narrow.addEventListener) narrow.addEventListener("change", layout);

  var ready = false;
  var waiting = []; // messages for the frame before it has said it is there
  function tell(message) {
    if (ready && frame.contentWindow) frame.contentWindow.postMessage(message, server);
    else if (waiting.length < 10) waiting.push(message);
  }

  var fallback = null;
  function goNeutral() {
    location.replace(exitUrl);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== server) return;
    var message = event.data;
    if (!message || typeof message !== "object") return;
    if (message.supportbot === "state") {
      size.open = !!message.open;
      size.width = Math.min(Math.max(Number(message.width) || 0, 1), 600);
      size.height = Math.min(Math.max(Number(message.height) || 0, 1), 300);
      size.shown = true;
      layout();
      if (!ready) {
        ready = true;
        waiting.splice(0).forEach(tell);
      }
    } else if (message.supportbot === "leaving") {
      size.leaving = true;
      layout();
      // The frame clears its storage, tells the server and then says "exit"; never wait long.
      if (!fallback) fallback = setTimeout(goNeutral, 3000);
    } else if (message.supportbot === "exit") {
      goNeutral();
    }
  });

  // Escape pressed on the host page: the frame counts it with its own presses.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") tell({ supportbot: "escape", at: Date.now() });
  }, true);

  window.__supportbotWidget = {
    open: function () { tell({ supportbot: "open" }); },
    close: function () { tell({ supportbot: "close" }); },
    leave: function () { tell({ supportbot: "leave" }); },
  };
  (document.body || document.documentElement).append(frame);
})();
