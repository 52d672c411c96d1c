/* Alerts a member notices (helpdesk.alerts, messenger.alerts): the unread count in the tab's
   title ("(3) Inbox"), desktop notifications and a short tone, from the page's live events
   (live.js dispatches `helpdesk:live` on the document).

   - Conversation events ("created", "customer_message"): the page asks the server whether and
     what to alert (data-conversation-alert-url: the visibility rule, the member's Preferences,
     their language); the event itself carries ids only.
   - Notification events: the notice's words come from data-notification-alert-url. A new
     conversation's notice is alerted through its conversation event, not twice.
   - The title's count (data-count-url): unread notifications plus open conversations assigned
     to the member with unread messages; fetched on load, on events, and on polling ticks at
     most every 15 s.

   Permission for desktop notifications is asked only from a click on an element with
   `data-alerts-enable` (Preferences, the inbox's dismissible prompt `data-alerts-prompt`),
   never on load. The tone is made by the Web Audio API. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var userId = Number(script.dataset.userId);
  var countUrl = script.dataset.countUrl;
  var conversationUrl = script.dataset.conversationAlertUrl;
  var notificationUrl = script.dataset.notificationAlertUrl;
  var TICK_COUNT_MS = 15000;
  var lastCountAt = 0;
  var countTimer = null;
  var seen = new Set();
  var audio = null;
  var wantsDesktop = false;
  var PROMPT_DISMISSED = "hd-alerts-prompt-dismissed";

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  // --- The title --------------------------------------------------------------------------

  function setTitle(count) {
    // The page's own title, whatever count it carries (htmx may have swapped it since).
    var plain = document.title.replace(/^\(\d+\) /, "");
    document.title = count > 0 ? "(" + count + ") " + plain : plain;
    document.documentElement.dataset.alertCount = String(count);
  }

  function fetchCount() {
    if (!countUrl) return;
    lastCountAt = Date.now();
    getJson(countUrl).then(function (data) {
      if (!data) return;
      setTitle(Number(data.count) || 0);
      wantsDesktop = Boolean(data.desktop);
      describe();
    });
  }

  function countSoon() {
    if (countTimer) return;
    countTimer = window.setTimeout(function () { countTimer = null; fetchCount(); }, 300);
  }

  // --- Desktop notifications and the tone -------------------------------------------------

  function desktopAllowed() {
    return "Notification" in window && window.Notification.permission === "granted";
  }

  function looking(url) {
    // The member is looking at the very page the alert points to.
    return document.visibilityState === "visible" && document.hasFocus() &&
      url && window.location.pathname === url.split("#")[0];
  }

  function tone() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      var now = audio.currentTime;
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(880, now);
      oscillator.frequency.setValueAtTime(660, now + 0.12);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now);
      oscillator.stop(now + 0.32);
    } catch (error) { /* no sound is better than a broken page */ }
  }

  function show(alert, tag) {
    if (!alert) return;
    if (alert.sound) tone();
    if (!alert.desktop || !desktopAllowed() || looking(alert.url)) return;
    try {
      var notification = new window.Notification(alert.title, {
        body: alert.body || "",
        tag: tag,
        lang: document.documentElement.lang || ""
      });
      notification.onclick = function () {
        window.focus();
        if (alert.url) window.location.href = alert.url;
        notification.close();
      };
    } catch (error) { /* some browsers only show them from a service worker */ }
  }

  function once(key) {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }

  function alertConversation(detail) {
    var id = Number(detail.conversation);
    if (!id || !conversationUrl) return;
    // What is someone else's is not asked about (the server checks again).
    if (detail.what === "customer_message" && detail.assignee !== undefined && detail.assignee !== userId) return;
    if (detail.what === "created" && detail.assignee && detail.assignee !== userId) return;
    var url = conversationUrl.replace(/\/0\/alert\.json$/, "/" + id + "/alert.json") + "?what=" + encodeURIComponent(detail.what);
    getJson(url).then(function (data) {
      if (data && data.alert) show(data, "hd-conversation-" + id);
    });
  }

  function alertNotification(detail) {
    var id = Number(detail.notification);
    if (!id || !notificationUrl || detail.what === "new_conversation" || !once("n" + id)) return;
    getJson(notificationUrl.replace(/\/0\/alert\.json$/, "/" + id + "/alert.json")).then(function (data) {
      if (data) show(data, "hd-notification-" + id);
    });
  }

  document.addEventListener("helpdesk:live", function (event) {
    var detail = event.detail || {};
    if (detail.kind === "tick") {
      if (Date.now() - lastCountAt >= TICK_COUNT_MS) fetchCount();
    } else if (detail.kind === "notification") {
      countSoon();
      alertNotification(detail);
    } else if (detail.kind === "conversation") {
      if (["created", "customer_message", "assignment", "state"].indexOf(detail.what) >= 0) countSoon();
      if (detail.what === "created" || detail.what === "customer_message") alertConversation(detail);
    } else if (detail.kind === "connected" || detail.kind === "resync") {
      countSoon();
    }
  });

  // A read conversation or notice lowers the count: htmx swaps follow them.
  document.addEventListener("htmx:afterRequest", function (event) {
    var verb = event.detail && event.detail.requestConfig && event.detail.requestConfig.verb;
    if (verb && verb !== "get") countSoon();
  });

  // --- Asking permission, from a click only -----------------------------------------------

  function permissionState() {
    return "Notification" in window ? window.Notification.permission : "unsupported";
  }

  function describe() {
    var state = permissionState();
    document.querySelectorAll("[data-alerts-permission]").forEach(function (status) {
      var text = status.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
      status.textContent = text || "";
    });
    document.querySelectorAll("[data-alerts-enable]").forEach(function (button) {
      button.hidden = state !== "default";
    });
    // The inbox's prompt: while this browser was never asked, for a member who wants desktop alerts.
    document.querySelectorAll("[data-alerts-prompt]").forEach(function (prompt) {
      prompt.hidden = state !== "default" || !wantsDesktop || dismissed();
    });
  }

  function dismissed() {
    try { return window.localStorage.getItem(PROMPT_DISMISSED) === "1"; } catch (error) { return false; }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    // Browsers let a page start its sound only after a gesture: the first click prepares it.
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (error) { audio = null; }
    }
    var button = target && target.closest("[data-alerts-enable]");
    if (button && "Notification" in window) {
      var asked = window.Notification.requestPermission(describe);
      if (asked && asked.then) asked.then(describe);
      return;
    }
    if (target && target.closest("[data-alerts-dismiss]")) {
      try { window.localStorage.setItem(PROMPT_DISMISSED, "1"); } catch (error) { /* private mode */ }
      describe();
      return;
    }
    if (target && target.closest("[data-alerts-tone]")) tone();
  });

  function start() {
    describe();
    fetchCount();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
