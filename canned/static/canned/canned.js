/* Canned responses in the inbox's composer. Typing "/" at the start of the reply (or after a
   space or line break) opens a search of the canned responses (an ARIA combobox: the
   textarea controls a listbox; ↑/↓ move, Enter or Tab inserts, Escape closes, a click
   inserts too). Inserting asks the server to fill the response in for this conversation:
   its text replaces the "/query" (the agent can still edit it) and its files become
   removable chips carrying hidden `kept_file` inputs, sent with the reply. Loaded only when
   the composer carries data-canned-url (the inbox's conversation, or the ticket page: its
   search URL is the ticket's); never in note mode (data-mode="note"). */
(function () {
  "use strict";

  var script = document.currentScript;
  var texts = script ? script.dataset : {};
  var SEARCH_DELAY_MS = 120;
  var MAX_QUERY = 60;

  function init() {
    var form = document.getElementById("composer");
    if (!form || !form.dataset.cannedUrl || form.dataset.cannedReady) return;
    form.dataset.cannedReady = "1";
    var textarea = form.querySelector("#composer-text");
    var popup = document.getElementById("canned-popup");
    var listbox = document.getElementById("canned-listbox");
    var status = document.getElementById("canned-popup-status");
    var chips = document.getElementById("canned-chips");
    var tooLong = document.getElementById("canned-too-long");
    var results = [];
    var active = -1;
    var trigger = null; // {start, end, query}: the "/query" being typed
    var timer = null;
    var requestNumber = 0;

    textarea.setAttribute("role", "combobox");
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", "canned-listbox");
    textarea.setAttribute("aria-expanded", "false");

    function csrfToken() {
      var input = form.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    function findTrigger() {
      if (form.dataset.mode === "note") return null;
      var caret = textarea.selectionStart;
      if (caret !== textarea.selectionEnd) return null;
      var before = textarea.value.slice(0, caret);
      var slash = before.lastIndexOf("/");
      if (slash < 0) return null;
      if (slash > 0 && !/\s/.test(before.charAt(slash - 1))) return null;
      var query = before.slice(slash + 1);
      if (query.length > MAX_QUERY || /[\r\n]/.test(query)) return null;
      return { start: slash, end: caret, query: query };
    }

    function isOpen() { return !popup.hidden; }

    function close() {
      popup.hidden = true;
      textarea.setAttribute("aria-expanded", "false");
      textarea.removeAttribute("aria-activedescendant");
      results = [];
      active = -1;
      trigger = null;
    }

    function setActive(index) {
      var options = listbox.querySelectorAll("[role=option]");
      if (!options.length) { active = -1; return; }
      active = (index + options.length) % options.length;
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
        option.classList.toggle("active-option", i === active);
      });
      textarea.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function render(found) {
      results = found;
      listbox.innerHTML = "";
      found.forEach(function (item, index) {
        var option = document.createElement("li");
        option.className = "list-group-item py-1";
        option.id = "canned-option-" + item.id;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        var head = document.createElement("div");
        var shortcut = document.createElement("code");
        shortcut.textContent = "/" + item.shortcut;
        var title = document.createElement("span");
        title.className = "ms-2 fw-semibold";
        title.textContent = item.title;
        var scope = document.createElement("span");
        scope.className = "ms-2 small text-secondary";
        scope.textContent = item.scope;
        head.append(shortcut, title, scope);
        var preview = document.createElement("small");
        preview.className = "text-secondary hd-canned-preview";
        preview.textContent = item.preview;
        option.append(head, preview);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus (and the caret) in the textarea
          choose(index);
        });
        listbox.appendChild(option);
      });
      status.textContent = found.length ? (texts.textCount || "__N__").replace("__N__", found.length) : (texts.textNone || "");
      popup.hidden = false;
      textarea.setAttribute("aria-expanded", "true");
      setActive(0);
    }

    function search() {
      var current = findTrigger();
      if (!current) { close(); return; }
      trigger = current;
      var number = ++requestNumber;
      var url = form.dataset.cannedUrl + "?q=" + encodeURIComponent(current.query);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (number !== requestNumber || !trigger) return;
          // A space typed after a "/" that finds nothing was not a search: close quietly.
          if (!data.results.length && /\s/.test(trigger.query)) { close(); return; }
          render(data.results);
        })
        .catch(function () {
          if (number !== requestNumber) return;
          results = [];
          listbox.innerHTML = "";
          status.textContent = texts.textError || "";
          popup.hidden = false;
          textarea.setAttribute("aria-expanded", "true");
        });
    }

    function addChip(attachment) {
      var chip = document.createElement("span");
      chip.className = "badge rounded-pill text-bg-light border hd-canned-chip";
      var icon = document.createElement("i");
      icon.className = "bi bi-paperclip";
      icon.setAttribute("aria-hidden", "true");
      var name = document.createElement("span");
      name.textContent = attachment.title;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "kept_file";
      input.value = attachment.kept_file;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn-close btn-close-sm ms-1";
      remove.setAttribute("aria-label", (texts.textRemove || "Remove") + ": " + attachment.title);
      chip.append(icon, name, input, remove);
      chips.appendChild(chip);
      chips.hidden = false;
    }

    // One listener for every chip's remove button, those the page came with included (the
    // ticket page shows a refused reply's files again).
    chips.addEventListener("click", function (event) {
      var remove = event.target.closest(".btn-close");
      if (!remove) return;
      remove.closest(".hd-canned-chip").remove();
      chips.hidden = !chips.querySelector(".hd-canned-chip");
      textarea.focus();
    });

    function clearChips() {
      chips.innerHTML = "";
      chips.hidden = true;
    }

    function choose(index) {
      var item = results[index];
      var place = trigger;
      if (!item || !place) return;
      close();
      fetch(item.render_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" }
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          var value = textarea.value;
          textarea.value = value.slice(0, place.start) + data.text + value.slice(place.end);
          var caret = place.start + data.text.length;
          textarea.focus();
          textarea.setSelectionRange(caret, caret);
          data.attachments.forEach(addChip);
          tooLong.textContent = data.too_long_message || "";
          tooLong.hidden = !data.too_long;
          // The inbox's counter (red, "N characters too many") and the typing indicator.
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        })
        .catch(function () {
          status.textContent = texts.textError || "";
        });
    }

    textarea.addEventListener("input", function () {
      if (!tooLong.hidden && parseInt(form.dataset.maxLength, 10) >= [...textarea.value.trim()].length) {
        tooLong.hidden = true;
      }
      window.clearTimeout(timer);
      if (!findTrigger()) { close(); return; }
      timer = window.setTimeout(search, SEARCH_DELAY_MS);
    });

    textarea.addEventListener("keydown", function (event) {
      if (!isOpen()) return;
      if (event.key === "ArrowDown") { event.preventDefault(); setActive(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); setActive(active - 1); }
      else if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey && !event.shiftKey && active >= 0 && results.length) {
        event.preventDefault();
        event.stopImmediatePropagation();
        choose(active);
      }
      else if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); close(); }
    });

    // As the mention list (notes.js): only focus moved elsewhere in the page closes it.
    textarea.addEventListener("blur", function () {
      window.setTimeout(function () { if (document.activeElement !== textarea) close(); }, 150);
    });
    textarea.addEventListener("click", function () { if (isOpen() && !findTrigger()) close(); });

    document.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== form) return;
      var ok = event.detail.xhr && event.detail.xhr.status >= 200 && event.detail.xhr.status < 300;
      if (ok) { clearChips(); tooLong.hidden = true; }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
