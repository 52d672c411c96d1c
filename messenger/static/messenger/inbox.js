/* The inbox's bit of JavaScript: the live character count (Unicode code points, like the
   server), Ctrl+Enter to send, typing indicators (throttled), keeping the transcript
   scrolled to the newest message, turning the composer off when the window closes, and
   putting focus in the transcript of a conversation opened from the list. */
(function () {
  "use strict";

  var TYPING_EVERY_MS = 5000;
  // Opening a conversation is a page load: without this, focus would start again at the top,
  // many Tabs away from the messages and the reply box.
  var FOCUS_TRANSCRIPT_KEY = "hd-focus-transcript";
  var lastTyping = 0;

  function codePoints(text) {
    // What the server counts: line breaks as one character, emoji as one.
    return [...text.replace(/\r\n?/g, "\n").trim()].length;
  }

  function composer() { return document.getElementById("composer"); }

  function updateCount() {
    var form = composer();
    if (!form) return;
    var textarea = form.querySelector("#composer-text");
    var max = parseInt(form.dataset.maxLength, 10);
    var count = codePoints(textarea.value);
    var counter = document.getElementById("composer-count");
    counter.querySelector("[data-count]").textContent = count.toLocaleString(document.documentElement.lang || undefined);
    // A private note (notes.js) is never sent: neither the window nor the length limit of a message apply.
    var isNote = form.dataset.mode === "note";
    var over = isNote ? 0 : count - max;
    counter.classList.toggle("text-danger", over > 0);
    var tooLong = over === 1 ? form.dataset.tooLongOne : form.dataset.tooLong.replace("__N__", over.toLocaleString(document.documentElement.lang || undefined));
    counter.querySelector("[data-too-long-text]").textContent = over > 0 ? tooLong : "";
    textarea.classList.toggle("is-invalid", over > 0);
    var windowLine = document.getElementById("reply-window");
    var canReply = isNote || !windowLine || windowLine.dataset.canReply !== "false";
    form.querySelector("#composer-send").disabled = !canReply || over > 0;
  }

  function applyWindow() {
    var form = composer();
    var windowLine = document.getElementById("reply-window");
    if (!form || !windowLine) return;
    var canReply = windowLine.dataset.canReply !== "false";
    var isNote = form.dataset.mode === "note";  // notes.js: a note is not a reply
    form.querySelector("#composer-text").disabled = !canReply && !isNote;
    form.querySelector("#composer-file").disabled = !canReply || isNote;
    updateCount();
  }

  function sendTyping() {
    var form = composer();
    var now = Date.now();
    if (!form || now - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = now;
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    fetch(form.dataset.typingUrl, { method: "POST", headers: { "X-CSRFToken": token }, credentials: "same-origin" })
      .catch(function () { /* a typing indicator is a courtesy */ });
  }

  function transcript() { return document.getElementById("transcript-panel"); }
  var stickToBottom = true;

  function scrollToBottom() {
    var panel = transcript();
    if (panel) panel.scrollTop = panel.scrollHeight;
  }

  function focusOpenedConversation() {
    var opened = false;
    try {
      opened = window.sessionStorage.getItem(FOCUS_TRANSCRIPT_KEY) === "1";
      window.sessionStorage.removeItem(FOCUS_TRANSCRIPT_KEY);
    } catch (error) { /* storage off: focus stays where the browser puts it */ }
    var panel = transcript();
    if (opened && panel) panel.focus({ preventScroll: true });
  }

  // A click is also what Enter on a focused link sends.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".hd-conversation-item");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    try { window.sessionStorage.setItem(FOCUS_TRANSCRIPT_KEY, "1"); } catch (error) { /* storage off */ }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      // Show our error partials (400/409/413) instead of dropping them; 204 means "unchanged".
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "(400|409|413)", swap: true, error: false },
        { code: "[45]..", swap: false, error: true }
      ];
    }
    scrollToBottom();
    applyWindow();
    focusOpenedConversation();
    var form = composer();
    if (form) {
      var textarea = form.querySelector("#composer-text");
      textarea.addEventListener("input", function () { updateCount(); if (textarea.value && form.dataset.mode !== "note") sendTyping(); });
      textarea.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          if (!form.querySelector("#composer-send").disabled) form.requestSubmit();
        }
      });
    }
    // data-autosubmit selects and data-confirm forms: helpdesk/app.js, on every page.
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var panel = transcript();
    if (panel && event.detail.target === panel) {
      stickToBottom = panel.scrollHeight - panel.scrollTop - panel.clientHeight < 80;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "transcript-panel" && stickToBottom) scrollToBottom();
    applyWindow();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = composer();
    if (form && event.detail.elt === form) {
      var ok = event.detail.xhr && event.detail.xhr.status >= 200 && event.detail.xhr.status < 300;
      if (ok) {
        form.reset();
        document.getElementById("composer-feedback").innerHTML = "";
        stickToBottom = true;
        scrollToBottom();
        updateCount();
        form.querySelector("#composer-text").focus();
      }
    }
  });
})();
