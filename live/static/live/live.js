/* Live updates: the page's parts that show changing data carry `hx-trigger="live"` and
   `data-live="<topics>"` (conversations, conversation:<id>, ticket:<id>, tickets,
   notifications). This script fires "live" on the parts an event names, and they fetch
   their fragment through htmx (an unchanged fragment answers 204).

   Push: an EventSource on the member's stream (live.views.stream). Each event names its
   topics; "resync" refreshes every part (a catch-up that could not be complete); "fallback"
   and "close" end the stream. Without push (the server answers 204: no Redis, a WSGI
   server; no "hello" within a few seconds: a buffering proxy; the connection lost) the page
   polls every `data-poll-seconds` (a part may ask for less often: data-live-poll="15"),
   says nothing about it, and tries push again later.

   Every event also reaches the page's other scripts as a `helpdesk:live` DOM event on the
   document, its detail the event's data ({kind, topics, …}); {kind: "tick"} is a poll. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var streamUrl = script.dataset.streamUrl;
  var position = script.dataset.from || "";
  var pollSeconds = Number(script.dataset.pollSeconds) || 2;
  var RETRY_SECONDS = 30;      // after push was refused or lost
  var HELLO_SECONDS = 8;       // an open stream says hello at once; a buffering proxy never lets it through

  var source = null;
  var pollTimer = null;
  var retryTimer = null;
  var helloTimer = null;
  var lastPolled = new WeakMap();
  var state = { mode: "starting", lastEventId: position };

  function announce(detail) {
    document.dispatchEvent(new CustomEvent("helpdesk:live", { detail: detail }));
  }

  function parts() { return Array.prototype.slice.call(document.querySelectorAll("[data-live]")); }

  // A part still loading when an event names it again fetches once more when its answer is in:
  // htmx would queue the request on the element its answer replaces (hx-swap="outerHTML"),
  // and drop it with the element, leaving what changed meanwhile unshown.
  var again = {};
  var AGAIN_CHECK_MS = 100;

  function loading(part) { return part.classList.contains("htmx-request"); }

  function fetchAgain(id) {
    var part = document.getElementById(id);
    if (part && loading(part)) { window.setTimeout(fetchAgain, AGAIN_CHECK_MS, id); return; }
    delete again[id];
    if (part && window.htmx) window.htmx.trigger(part, "live");
  }

  function fire(part) {
    if (loading(part) && part.id) {
      if (!again[part.id]) {
        again[part.id] = true;
        window.setTimeout(fetchAgain, AGAIN_CHECK_MS, part.id);
      }
      return;
    }
    window.htmx.trigger(part, "live");
  }

  function refresh(topics) {
    if (!window.htmx) return;
    var wanted = topics ? new Set(topics) : null;
    parts().forEach(function (part) {
      if (wanted && !part.dataset.live.split(/\s+/).some(function (topic) { return wanted.has(topic); })) return;
      fire(part);
    });
  }

  function setMode(mode) {
    state.mode = mode;
    document.documentElement.dataset.live = mode;
  }

  // --- Polling ------------------------------------------------------------------------------

  function pollOnce() {
    var now = Date.now();
    parts().forEach(function (part) {
      var every = (Number(part.dataset.livePoll) || pollSeconds) * 1000;
      var last = lastPolled.get(part) || 0;
      if (now - last + 50 < every) return;
      lastPolled.set(part, now);
      if (window.htmx) fire(part);
    });
    announce({ kind: "tick", topics: [] });
  }

  function startPolling() {
    if (pollTimer) return;
    setMode("poll");
    pollTimer = window.setInterval(pollOnce, pollSeconds * 1000);
  }

  function stopPolling() {
    if (pollTimer) window.clearInterval(pollTimer);
    pollTimer = null;
  }

  // --- Push ---------------------------------------------------------------------------------

  function closeSource() {
    if (helloTimer) window.clearTimeout(helloTimer);
    helloTimer = null;
    if (source) source.close();
    source = null;
  }

  function fallBack(retrySeconds) {
    closeSource();
    startPolling();
    if (retryTimer) window.clearTimeout(retryTimer);
    retryTimer = retrySeconds ? window.setTimeout(connect, retrySeconds * 1000) : null;
  }

  function remember(event) {
    if (event.lastEventId) state.lastEventId = event.lastEventId;
  }

  function connect() {
    retryTimer = null;
    if (!streamUrl || !window.EventSource || source) {
      if (!source) startPolling();
      return;
    }
    var url = streamUrl + (state.lastEventId ? "?from=" + encodeURIComponent(state.lastEventId) : "");
    source = new EventSource(url);
    helloTimer = window.setTimeout(function () { fallBack(RETRY_SECONDS); }, HELLO_SECONDS * 1000);

    source.addEventListener("hello", function () {
      if (helloTimer) window.clearTimeout(helloTimer);
      helloTimer = null;
      var wasPolling = state.mode !== "push";
      stopPolling();
      setMode("push");
      announce({ kind: "connected", topics: [], polled: wasPolling });
    });
    source.addEventListener("live", function (event) {
      remember(event);
      var data;
      try { data = JSON.parse(event.data); } catch (error) { return; }
      refresh(data.topics || []);
      announce(data);
    });
    source.addEventListener("resync", function (event) {
      remember(event);
      refresh(null);
      announce({ kind: "resync", topics: [] });
    });
    source.addEventListener("fallback", function () { fallBack(RETRY_SECONDS / 3); });
    // This member opened more tabs than they may stream to, and this one is the oldest: it
    // polls until it is looked at again.
    source.addEventListener("close", function () { fallBack(0); });
    source.onerror = function () {
      if (!source) return;
      if (source.readyState === EventSource.CLOSED) {
        fallBack(RETRY_SECONDS);
      } else {
        // The browser reconnects by itself (with Last-Event-ID); poll meanwhile.
        startPolling();
      }
    };
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !source && state.mode !== "push") connect();
  });
  window.addEventListener("pagehide", closeSource);
  window.addEventListener("pageshow", function (event) { if (event.persisted) connect(); });

  window.hdLive = {
    state: function () { return { mode: state.mode, lastEventId: state.lastEventId }; },
    refresh: refresh
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
