/* Who else has this conversation open (messenger.views.presence, live.presence): the page
   says it is there every 15 s while visible, that its member types a reply (at most every
   3 s; never for a private note), and that it left (pagehide, a beacon). The region
   #conversation-presence (aria-live="polite") is a live part (data-live="presence:<id>"):
   live.js refreshes it on a presence event or a poll tick; this script also refreshes it
   when the first colleague shown lapses (nobody says they stopped typing).
   On the inbox's conversation page and the ticket page (both have #composer-text). */
(function () {
  "use strict";

  var VIEWING_EVERY_MS = 15000;
  var TYPING_EVERY_MS = 3000;

  var region = null;
  var url = "";
  var lastTyping = 0;
  var viewingTimer = null;
  var lapseTimer = null;

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function signal(state) {
    var body = new URLSearchParams({ state: state });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      // No longer allowed to see it (404), or signed out: nothing more to say.
      if (response.status === 403 || response.status === 404) stop();
    }).catch(function () { /* presence is a courtesy */ });
  }

  function refresh() {
    if (region && window.htmx) window.htmx.trigger(region, "live");
  }

  function beatViewing() {
    if (document.visibilityState !== "visible") return;
    signal("viewing");
  }

  function stop() {
    if (viewingTimer) window.clearInterval(viewingTimer);
    viewingTimer = null;
    url = "";
  }

  function scheduleLapse(seconds) {
    if (lapseTimer) window.clearTimeout(lapseTimer);
    lapseTimer = null;
    if (seconds > 0) lapseTimer = window.setTimeout(refresh, seconds * 1000 + 250);
  }

  function onInput(event) {
    var form = document.getElementById("composer");
    var textarea = event.target;
    if (!url || !form || textarea.id !== "composer-text" || !textarea.value) return;
    if (form.dataset.mode === "note") return;  // a note is not a reply
    var now = Date.now();
    if (now - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = now;
    signal("typing");
  }

  function start() {
    region = document.getElementById("conversation-presence");
    if (!region || !window.fetch) return;
    url = region.dataset.presenceUrl;
    signal("viewing").then(refresh);
    viewingTimer = window.setInterval(beatViewing, VIEWING_EVERY_MS);
    document.addEventListener("input", onInput);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && url) { signal("viewing"); refresh(); }
    });
    window.addEventListener("pagehide", function () {
      if (!url || !navigator.sendBeacon) return;
      var form = new FormData();
      form.append("state", "left");
      form.append("csrfmiddlewaretoken", csrfToken());
      navigator.sendBeacon(url, form);
    });
    window.addEventListener("pageshow", function (event) { if (event.persisted && url) { signal("viewing"); refresh(); } });
    // Every answer (an unchanged 204 too) says when the first colleague shown lapses.
    document.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== region || !event.detail.xhr) return;
      scheduleLapse(Number(event.detail.xhr.getResponseHeader("X-Presence-Expires")) || 0);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
