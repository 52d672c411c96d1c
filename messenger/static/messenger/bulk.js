/* Bulk actions in the inbox: checkboxes on the conversation list (shift-click selects a
   range), "select all on this page", and the toolbar that acts on the selection with one
   POST to inbox/bulk/ (messenger.views.bulk).

   The list is polled and swapped whole (its rows' HTML is cached by content, so a row never
   comes back checked): the selection lives here, in `selected`, and is put back on the rows
   after every swap. A selected conversation that leaves the list leaves the selection.
   Focus inside the list is put back too. shortcuts.js acts through `window.hdBulk`. */
(function () {
  "use strict";

  var selected = new Set();  // conversation ids, as strings
  var anchor = null;         // the last checkbox clicked: the start of a shift-click range
  var pending = null;        // an action asked for before the toolbar's form was loaded

  function lang() { return document.documentElement.lang || undefined; }
  function bar() { return document.getElementById("bulk-bar"); }
  function toolbar() { return document.getElementById("bulk-toolbar"); }
  function form() { return document.getElementById("bulk-form"); }
  function checks() { return Array.prototype.slice.call(document.querySelectorAll("#conversation-list .hd-bulk-check")); }

  function toast(level, message) {
    document.dispatchEvent(new CustomEvent("helpdesk:toast", { detail: { level: level, message: message } }));
  }

  function render() {
    var container = bar();
    if (!container) return;
    var boxes = checks();
    var present = new Set(boxes.map(function (box) { return box.value; }));
    selected.forEach(function (id) { if (!present.has(id)) selected.delete(id); });
    boxes.forEach(function (box) {
      box.checked = selected.has(box.value);
      var row = box.closest(".hd-conversation-row");
      if (row) row.classList.toggle("hd-selected", box.checked);
    });
    var all = document.getElementById("bulk-select-page");
    all.disabled = boxes.length === 0;
    all.checked = boxes.length > 0 && selected.size === boxes.length;
    all.indeterminate = selected.size > 0 && selected.size < boxes.length;
    var count = document.getElementById("bulk-count");
    var text = selected.size ? container.dataset.countText.replace("__N__", selected.size.toLocaleString(lang())) : "";
    if (count.textContent !== text) count.textContent = text;
    var tools = toolbar();
    tools.hidden = selected.size === 0;
    if (selected.size && window.htmx) window.htmx.trigger(tools, "inbox:bulk-open");
  }

  function setSelected(id, on) {
    if (on) selected.add(String(id)); else selected.delete(String(id));
  }

  function submitIds(ids, action, options) {
    options = options || {};
    var target = form();
    if (!target) {
      // The menus load on the first selection; act once they are there.
      pending = { ids: ids, action: action, options: options };
      if (window.htmx) window.htmx.trigger(toolbar(), "inbox:bulk-open");
      return;
    }
    target.querySelectorAll("input[name=ids]").forEach(function (input) { input.remove(); });
    ids.forEach(function (id) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "ids";
      input.value = id;
      target.appendChild(input);
    });
    target.elements.action.value = action;
    target.elements.assignee.value = options.assignee || "";
    target.elements.label.value = options.label || "";
    target.requestSubmit();
  }

  function submitSelected(action, options) {
    if (!selected.size) return false;
    submitIds(Array.from(selected), action, options);
    return true;
  }

  function refreshList() {
    var list = document.getElementById("conversation-list");
    if (list && list.getAttribute("hx-get") && window.htmx) {
      window.htmx.ajax("GET", list.getAttribute("hx-get"), { source: list, target: list, swap: "outerHTML" });
    } else {
      window.location.reload();  // a later page of the list is not polled
    }
  }

  function openLabelMenu() {
    var toggle = document.getElementById("bulk-label-add");
    if (!toggle || !window.bootstrap) return false;
    window.bootstrap.Dropdown.getOrCreateInstance(toggle).show();
    var first = toggle.parentElement.querySelector(".dropdown-item");
    if (first) first.focus();
    return true;
  }

  // --- Selecting -------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var box = target.closest(".hd-bulk-check");
    if (box) {
      var boxes = checks();
      var to = boxes.indexOf(box);
      var from = anchor === null ? -1 : boxes.findIndex(function (b) { return b.value === anchor; });
      if (event.shiftKey && from >= 0 && to >= 0) {
        var low = Math.min(from, to), high = Math.max(from, to);
        boxes.slice(low, high + 1).forEach(function (b) { setSelected(b.value, box.checked); });
      }
      setSelected(box.value, box.checked);
      anchor = box.value;
      render();
      return;
    }
    var button = target.closest("[data-bulk-action]");
    if (button && button.closest("#bulk-form")) {
      submitSelected(button.dataset.bulkAction, { assignee: button.dataset.bulkAssignee, label: button.dataset.bulkLabel });
      return;
    }
    if (target.closest("[data-bulk-clear]")) {
      selected.clear();
      anchor = null;
      render();
      document.getElementById("bulk-select-page").focus();
    }
  });

  document.addEventListener("change", function (event) {
    if (!(event.target instanceof Element) || event.target.id !== "bulk-select-page") return;
    var on = event.target.checked;
    checks().forEach(function (box) { setSelected(box.value, on); });
    render();
  });

  // --- The list's swaps, and the answers ---------------------------------------------------

  var focusedId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var list = document.getElementById("conversation-list");
    var active = document.activeElement;
    focusedId = list && active && list.contains(active) && active.id ? active.id : null;
  });

  // Put the selection back as soon as the new rows are in (afterSwap runs in the same task
  // as the swap: no frame shows them unchecked), and again once they have settled.
  document.addEventListener("htmx:afterSwap", function () { render(); });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "bulk-toolbar" && pending) {
      var asked = pending;
      pending = null;
      submitIds(asked.ids, asked.action, asked.options);
    }
    render();
    if (focusedId && !document.activeElement.closest("#conversation-list")) {
      var again = document.getElementById(focusedId);
      if (again) again.focus({ preventScroll: true });
    }
    focusedId = null;
  });

  document.addEventListener("inbox:bulk-done", function (event) {
    var changed = ((event.detail && event.detail.changed) || []).map(String);
    selected.clear();
    anchor = null;
    render();
    var active = document.querySelector("#conversation-list .hd-conversation-item.active");
    var activeRow = active && active.closest(".hd-conversation-row");
    // The open conversation changed: its page is shown again (the toast is on the list's refresh otherwise).
    if (activeRow && changed.indexOf(activeRow.dataset.conversationId) >= 0) {
      window.setTimeout(function () { window.location.reload(); }, 1200);
      return;
    }
    refreshList();
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.elt !== form()) return;
    var status = event.detail.xhr && event.detail.xhr.status;
    toast("error", status === 404 ? bar().dataset.goneText : bar().dataset.failedText);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (event.detail.elt === form()) toast("error", bar().dataset.failedText);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var container = bar();
    if (!container) return;
    document.documentElement.classList.add("hd-bulk-ready");
    container.hidden = false;
    render();
  });

  window.hdBulk = {
    count: function () { return selected.size; },
    toggle: function (id) { setSelected(id, !selected.has(String(id))); render(); },
    select: function (id) { setSelected(id, true); render(); },
    submitSelected: submitSelected,
    submitIds: submitIds,
    openLabelMenu: openLabelMenu
  };
})();
