/* The ticket page's composer: the inbox's, driven by messenger/notes.js (Reply / Note, the @
   list) and canned/canned.js ("/"). What follows the mode on this page only: the Send button
   (a reply waits for the reply window, a note never does), the words said of one mode only
   ([data-reply-only], [data-note-only] in the composer's section), and Ctrl+Enter sends. */
(function () {
  "use strict";

  var form = document.getElementById("composer");
  if (!form) return;
  var section = form.closest("section") || form;
  var send = form.querySelector("#composer-send");
  var textarea = form.querySelector("#composer-text");

  function canReply() {
    var windowLine = document.getElementById("reply-window");
    return !windowLine || windowLine.dataset.canReply !== "false";
  }

  // notes.js announces every mode, the first one included, on the form.
  form.addEventListener("hd:composer-mode", function (event) {
    var note = event.detail && event.detail.mode === "note";
    section.querySelectorAll("[data-reply-only]").forEach(function (element) { element.hidden = note; });
    section.querySelectorAll("[data-note-only]").forEach(function (element) {
      if (!element.closest(".hd-composer-modes")) element.hidden = !note;
    });
    if (send) send.disabled = !note && !canReply();
  });

  if (textarea && send) {
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (!send.disabled) form.requestSubmit();
      }
    });
  }
})();
