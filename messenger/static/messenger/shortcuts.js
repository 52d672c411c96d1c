/* Keyboard shortcuts of the inbox; "?" (or the inbox's "Keyboard shortcuts" link) shows
   them in the #shortcuts-help dialog.

   None fires while typing in a field (input, textarea, select, contenteditable), with
   Ctrl, Alt or Meta held, or while a dialog is open (or still fading out). "/" in the composer is the canned
   responses' (it is a field): here "/" only goes to search from outside fields.

   What a shortcut acts on: the selected conversations (bulk.js) if any; else the row the
   j/k cursor is on; else the open conversation, through the page's own forms
   (data-shortcut="close" and data-shortcut="assign" with its option data-me).

   Hooks for the composer's modes (private notes): "r" and "n" click an element
   [data-composer-mode="reply"] / [data-composer-mode="note"] when the page has one, else
   set data-mode on #composer (when it has the attribute) and fire "composer:mode" on it;
   then focus the composer. A composer with no modes: "r" focuses it, "n" does nothing. */
(function () {
  "use strict";

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    // A checkbox or a button takes no text: shortcuts still work from the list's checkboxes.
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf(target.type) < 0;
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#conversation-list .hd-conversation-item")); }

  function rowOf(element) {
    var row = element instanceof Element && element.closest("#conversation-list .hd-conversation-row");
    return row ? row.querySelector(".hd-conversation-item") : null;
  }

  function current() {
    return rowOf(document.activeElement) || document.querySelector("#conversation-list .hd-conversation-item.hd-cursor");
  }

  function moveCursor(step) {
    var links = rows();
    if (!links.length) return false;
    var at = links.indexOf(current());
    if (at < 0) at = links.indexOf(document.querySelector("#conversation-list .hd-conversation-item.active"));
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.max(0, Math.min(links.length - 1, at + step));
    links.forEach(function (link) { link.classList.remove("hd-cursor"); });
    links[next].classList.add("hd-cursor");
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function cursorId() {
    var link = current();
    var row = link && link.closest(".hd-conversation-row");
    return row ? row.dataset.conversationId : null;
  }

  function bulk() { return window.hdBulk || null; }

  // The selection, else the cursor's row: true when handed to the bulk actions.
  function actOnList(action, options) {
    var actions = bulk();
    if (!actions) return false;
    if (actions.submitSelected(action, options)) return true;
    var id = cursorId();
    if (id === null) return false;
    actions.submitIds([id], action, options);
    return true;
  }

  function composerMode(mode) {
    var form = document.getElementById("composer");
    if (!form) return false;
    var toggle = document.querySelector('[data-composer-mode="' + mode + '"]');
    if (toggle) toggle.click();
    else if (form.hasAttribute("data-mode")) {
      if (form.dataset.mode !== mode) {
        form.dataset.mode = mode;
        form.dispatchEvent(new CustomEvent("composer:mode", { bubbles: true, detail: { mode: mode } }));
      }
    } else if (mode !== "reply") {
      return false;  // a composer without notes: "n" must not lead to a reply sent to the customer
    }
    var text = form.querySelector("textarea");
    if (!text || text.disabled) return false;
    text.focus();
    return true;
  }

  function assignToMe() {
    if (actOnList("assign", { assignee: "me" })) return true;
    var form = document.querySelector('form[data-shortcut="assign"]');
    var me = form && form.querySelector("option[data-me]");
    if (!me) return false;
    me.selected = true;
    form.requestSubmit();
    return true;
  }

  function close() {
    if (actOnList("close")) return true;
    var form = document.querySelector('form[data-shortcut="close"]');
    if (!form) return false;
    form.requestSubmit();  // helpdesk/app.js asks first if the form has data-confirm
    return true;
  }

  function label() {
    var own = !(bulk() && bulk().count()) && document.querySelector('[data-shortcut="label"]');
    if (own) { own.click(); return true; }
    var actions = bulk();
    if (!actions) return false;
    if (!actions.count()) {
      var id = cursorId();
      var active = document.querySelector("#conversation-list .hd-conversation-item.active");
      var row = !id && active && active.closest(".hd-conversation-row");
      id = id || (row ? row.dataset.conversationId : null);
      if (id === null) return false;
      actions.select(id);
    }
    if (actions.openLabelMenu()) return true;
    // The toolbar's menus are loading: open it once they are there.
    document.addEventListener("htmx:afterSettle", function opened(event) {
      if (!event.detail.target || event.detail.target.id !== "bulk-toolbar") return;
      document.removeEventListener("htmx:afterSettle", opened);
      actions.openLabelMenu();
    });
    return true;
  }

  function search() {
    var field = document.getElementById("inbox-q");
    if (!field) return false;
    field.focus();
    field.select();
    return true;
  }

  function help() {
    var dialog = document.getElementById("shortcuts-help");
    if (!dialog || !window.bootstrap) return false;
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
    return true;
  }

  function toggleSelection() {
    var id = cursorId();
    if (id === null || !bulk()) return false;
    bulk().toggle(id);
    return true;
  }

  var SHORTCUTS = {
    j: function () { return moveCursor(1); },
    k: function () { return moveCursor(-1); },
    x: toggleSelection,
    r: function () { return composerMode("reply"); },
    n: function () { return composerMode("note"); },
    a: assignToMe,
    c: close,
    l: label,
    "/": search,
    s: search,
    "?": help
  };
  // The arrows only inside the list (elsewhere they scroll the page).
  var IN_LIST = {
    ArrowDown: function () { return moveCursor(1); },
    ArrowUp: function () { return moveCursor(-1); }
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    // A dialog fading out still has its backdrop: it gives focus back to what opened it once
    // gone, which would take the focus a shortcut just moved.
    if (typing(event.target) || document.querySelector(".modal.show, .modal-backdrop")) return;
    var shortcut = SHORTCUTS[event.key];
    if (!shortcut && event.target instanceof Element && event.target.closest("#conversation-list")) {
      shortcut = IN_LIST[event.key];
    }
    if (shortcut && shortcut()) event.preventDefault();
  });
})();
