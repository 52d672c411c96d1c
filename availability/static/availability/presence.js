/* Presence: while a tab of the helpdesk is open it tells the server so, every minute, and
 * whether its user touched the keyboard, mouse or screen since the last beat
 * (availability.views.heartbeat). No beat for three minutes means no open tab (offline); no
 * input for the organization's idle time means away. The first input after a quiet minute
 * beats at once, so that an agent set away for idleness comes back online promptly.
 *
 * Loaded by base.html for members of an organization:
 *   <script src="presence.js" data-heartbeat-url="/o/<slug>/availability/heartbeat/" defer>
 * The CSRF token is the one htmx sends (the body's hx-headers).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script && script.dataset.heartbeatUrl;
  if (!url || !window.fetch) return;

  var BEAT_MS = 60 * 1000;
  var MIN_GAP_MS = 5 * 1000; // an immediate beat never follows another this closely
  var inputSeen = false;
  var lastBeatAt = 0;
  var lastBeatHadInput = false;
  var stopped = false;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function showStatus(status, label) {
    var menu = document.querySelector("[data-availability-menu]");
    if (!menu || !status) return;
    var shown = menu.querySelector("[data-availability-status]");
    if (!shown || shown.dataset.availabilityStatus === status) return;
    // The dot's classes are those of the menu's entry for this status (one template draws both).
    var entry = document.querySelector(".dropdown-menu [data-availability-status='" + status + "']");
    if (entry) shown.replaceWith(entry.cloneNode(true));
    if (menu.dataset.labelTemplate) {
      menu.setAttribute("aria-label", menu.dataset.labelTemplate.replace("%(status)s", label));
    }
  }

  function beat() {
    if (stopped) return;
    var withInput = inputSeen;
    inputSeen = false;
    lastBeatAt = Date.now();
    lastBeatHadInput = withInput;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: {"X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded"},
      body: "input=" + (withInput ? "1" : "0"),
    }).then(function (response) {
      // Signed out, or no longer a member: this tab has nothing to report any more.
      if (response.status === 401 || response.status === 403 || response.status === 404) stopped = true;
      if (!response.ok) return null;
      return response.json();
    }).then(function (body) {
      if (body) showStatus(body.status, body.label);
    }).catch(function () { /* offline for a moment: the next beat tries again */ });
  }

  function onInput() {
    if (inputSeen) return;
    inputSeen = true;
    // Quiet since the last beat (which saw no input): say so now rather than within a minute.
    if (!lastBeatHadInput && Date.now() - lastBeatAt >= MIN_GAP_MS) beat();
  }

  ["keydown", "mousedown", "mousemove", "wheel", "touchstart"].forEach(function (kind) {
    document.addEventListener(kind, onInput, {passive: true, capture: true});
  });

  // A hidden tab keeps beating (it is still open; browsers slow its timers to once a minute at
  // most, which is the beat), but sees no input. Coming back into view beats at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && Date.now() - lastBeatAt >= MIN_GAP_MS) beat();
  });

  window.setInterval(beat, BEAT_MS);
  beat();
})();
