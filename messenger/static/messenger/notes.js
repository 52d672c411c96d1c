/* Private notes in the inbox's composer: the Reply / Note toggle and the @ autocomplete.

   The mode is the form's data-mode ("reply" | "note"). Other scripts switch it with
   window.hdComposerMode.set("note") (the keyboard shortcut "n"), read it with
   window.hdComposerMode.get(), or by dispatching `hd:composer-mode` on document with
   { detail: { mode: "note" } }; the composer announces each change with the same event on the
   form (detail.mode). In Note mode the form posts to the notes URL, the file input and the
   message length counter hide, and the reply window does not disable it.

   The autocomplete follows the ARIA combobox pattern: the textarea owns a listbox
   (aria-controls, aria-activedescendant on the highlighted option); arrow keys move, Enter or
   Tab chooses, Escape closes. A mention starts after a
   character that cannot be part of a username (as messenger/mentions.py reads it), so
   nothing is suggested inside an email address. */
(function () {
  "use strict";

  var NOTE_MAX_LENGTH = 5000;
  var DEBOUNCE_MS = 120;
  // The name being typed right before the caret: "@" at the start, or after anything but an
  // ASCII letter, digit or _ @ . + - (as messenger/mentions.py reads it: Japanese may run up to it).
  var TYPED_MENTION = /(^|[^A-Za-z0-9_@.+\-])@([\p{L}\p{N}_.+\-]*)$/u;

  var form, textarea, bar, list, status, label;
  var replyPlaceholder = "", replyLabel = "", replySend = "";
  var suggestions = [], active = -1, query = null, sequence = 0, timer = null;

  function mode() { return form && form.dataset.mode === "note" ? "note" : "reply"; }

  function canReply() {
    var windowLine = document.getElementById("reply-window");
    return !windowLine || windowLine.dataset.canReply !== "false";
  }

  function setMode(next, options) {
    if (!form) return;
    next = next === "note" ? "note" : "reply";
    var note = next === "note";
    form.dataset.mode = next;
    form.setAttribute("action", note ? bar.dataset.noteUrl : bar.dataset.replyUrl);
    bar.querySelectorAll("[role=tab]").forEach(function (tab) {
      var selected = tab.dataset.composerMode === next;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      tab.classList.toggle("active", selected);
    });
    bar.querySelectorAll("[data-note-only]").forEach(function (element) { element.hidden = !note; });
    textarea.placeholder = note ? bar.dataset.notePlaceholder : replyPlaceholder;
    if (label) label.textContent = note ? bar.dataset.noteLabel : replyLabel;
    var sendLabel = form.querySelector("[data-composer-send-label]");
    if (sendLabel) sendLabel.textContent = note ? bar.dataset.noteSend : replySend;
    var file = form.querySelector("#composer-file");
    var open = note || canReply();
    textarea.disabled = !open;
    // A file is never part of a note: a disabled input is not posted.
    if (file) file.disabled = note || !open;
    if (note) {
      textarea.setAttribute("maxlength", String(NOTE_MAX_LENGTH));
      // A <textarea> keeps its textbox role (HTML allows no other): the combobox pattern is
      // carried by aria-autocomplete, aria-haspopup, aria-controls and aria-activedescendant.
      textarea.setAttribute("aria-autocomplete", "list");
      textarea.setAttribute("aria-haspopup", "listbox");
    } else {
      textarea.removeAttribute("maxlength");
      closeList();
      if (textarea.getAttribute("aria-haspopup") === "listbox" && textarea.getAttribute("aria-controls") === list.id) {
        textarea.removeAttribute("aria-controls");
      }
      textarea.removeAttribute("aria-autocomplete");
      textarea.removeAttribute("aria-haspopup");
    }
    var feedback = document.getElementById("composer-feedback");
    if (feedback && !(options && options.keepFeedback)) feedback.innerHTML = "";
    // The counter and the Send button follow (inbox.js listens to input; at load it read the mode itself).
    if (!(options && options.initial)) textarea.dispatchEvent(new Event("input", { bubbles: true }));
    form.dispatchEvent(new CustomEvent("hd:composer-mode", { detail: { mode: next } }));
    if (options && options.focus) textarea.focus();
  }

  // --- The @ autocomplete ----------------------------------------------------------------------

  function typedMention() {
    if (mode() !== "note" || textarea.selectionStart !== textarea.selectionEnd) return null;
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = TYPED_MENTION.exec(before);
    if (!match) return null;
    return { term: match[2], start: before.length - match[2].length - 1, end: before.length };
  }

  function closeList() {
    if (!list) return;
    list.hidden = true;
    list.innerHTML = "";
    suggestions = [];
    active = -1;
    query = null;
    if (textarea) {
      textarea.removeAttribute("aria-activedescendant");
      if (textarea.getAttribute("aria-controls") === list.id) textarea.removeAttribute("aria-controls");
    }
  }

  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    if (!options.length) return;
    active = (index + options.length) % options.length;
    options.forEach(function (option, i) {
      var on = i === active;
      option.setAttribute("aria-selected", on ? "true" : "false");
      option.classList.toggle("active", on);
      if (on) option.scrollIntoView({ block: "nearest" });
    });
    textarea.setAttribute("aria-activedescendant", options[active].id);
  }

  function render(members) {
    suggestions = members;
    list.innerHTML = "";
    members.forEach(function (member, i) {
      var option = document.createElement("li");
      option.id = "composer-mention-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.className = "list-group-item list-group-item-action py-1 px-2 small";
      option.dataset.username = member.username;
      var name = document.createElement("span");
      name.textContent = member.name;
      var handle = document.createElement("span");
      handle.className = "text-secondary ms-1 hd-mention-handle";
      handle.textContent = "@" + member.username;
      option.appendChild(name);
      option.appendChild(handle);
      list.appendChild(option);
    });
    if (!members.length) {
      status.textContent = bar.dataset.noMatch;
      closeList();
      return;
    }
    status.textContent = "";
    list.hidden = false;
    textarea.setAttribute("aria-controls", list.id);
    highlight(0);
  }

  function suggest() {
    var typed = typedMention();
    if (!typed) { closeList(); return; }
    query = typed;
    var mine = ++sequence;
    clearTimeout(timer);
    timer = setTimeout(function () {
      var url = bar.dataset.mentionableUrl + "?q=" + encodeURIComponent(typed.term);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { members: [] }; })
        .then(function (data) {
          // Only the answer to the latest keystroke counts, and only while that name is still
          // what stands before the caret (read again: a blur may have closed the list meanwhile).
          var still = typedMention();
          if (mine !== sequence || !still || still.term !== typed.term) return;
          query = still;
          render(data.members || []);
        })
        .catch(function () { closeList(); });
    }, DEBOUNCE_MS);
  }

  function choose(index) {
    var member = suggestions[index];
    var typed = typedMention() || query;
    if (!member || !typed) return;
    var insert = "@" + member.username + " ";
    var value = textarea.value;
    textarea.value = value.slice(0, typed.start) + insert + value.slice(typed.end);
    var caret = typed.start + insert.length;
    textarea.setSelectionRange(caret, caret);
    closeList();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  function onKeydown(event) {
    if (list.hidden || !suggestions.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
      event.preventDefault();
      event.stopImmediatePropagation();
      choose(active < 0 ? 0 : active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeList();
    }
  }

  function onTabKeydown(event) {
    var keys = { ArrowLeft: -1, ArrowRight: 1, Home: "first", End: "last" };
    if (!(event.key in keys)) return;
    event.preventDefault();
    var tabs = Array.prototype.slice.call(bar.querySelectorAll("[role=tab]"));
    var index = tabs.indexOf(event.currentTarget);
    var step = keys[event.key];
    var next = step === "first" ? 0 : step === "last" ? tabs.length - 1 : (index + step + tabs.length) % tabs.length;
    setMode(tabs[next].dataset.composerMode);
    tabs[next].focus();
  }

  function init() {
    form = document.getElementById("composer");
    if (!form) return;
    bar = form.querySelector(".hd-composer-modes");
    textarea = form.querySelector("#composer-text");
    list = document.getElementById("composer-mentions");
    status = document.getElementById("composer-mentions-status");
    if (!bar || !textarea || !list) return;
    label = form.querySelector("label[for=composer-text]");
    replyPlaceholder = textarea.placeholder;
    // A page that may open in Note mode (the ticket page after a refused note) gives the reply's words.
    replyLabel = bar.dataset.replyLabel || (label ? label.textContent : "");
    var sendLabel = form.querySelector("[data-composer-send-label]");
    replySend = bar.dataset.replySend || (sendLabel ? sendLabel.textContent : "");
    bar.hidden = false;
    bar.querySelectorAll("[role=tab]").forEach(function (tab) {
      tab.addEventListener("click", function () { setMode(tab.dataset.composerMode, { focus: true }); });
      tab.addEventListener("keydown", onTabKeydown);
    });
    textarea.addEventListener("keydown", onKeydown);
    textarea.addEventListener("input", function () { if (mode() === "note") suggest(); });
    textarea.addEventListener("click", function () { if (mode() === "note") suggest(); });
    // Focus that went elsewhere in the page closes the list; the window losing focus (another
    // window or tab in front) leaves the textarea the active element, and the list as it is.
    textarea.addEventListener("blur", function () {
      setTimeout(function () { if (document.activeElement !== textarea) closeList(); }, 150);
    });
    // mousedown, not click: the textarea keeps focus (and its caret) while a member is picked.
    list.addEventListener("mousedown", function (event) {
      var option = event.target.closest("[role=option]");
      if (!option) return;
      event.preventDefault();
      choose(Array.prototype.indexOf.call(list.children, option));
    });
    // A note goes to the notes URL (htmx reads the form's hx-post once: the path is changed here).
    document.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt === form && mode() === "note") event.detail.path = bar.dataset.noteUrl;
    });
    document.addEventListener("hd:composer-mode", function (event) {
      if (event.target === document && event.detail) setMode(event.detail.mode, { focus: true });
    });
    setMode(form.dataset.mode, { keepFeedback: true, initial: true });
  }

  window.hdComposerMode = {
    get: function () { return mode(); },
    set: function (next) { setMode(next, { focus: true }); }
  };

  document.addEventListener("DOMContentLoaded", init);
})();
