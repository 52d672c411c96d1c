/* Behaviour every page shares, declared in the markup with data attributes so that the pages
   carry no inline script or on* handler (the Content-Security-Policy allows neither):

   <form data-confirm="Question?">       asks in the page's dialog (#hd-confirm, base.html) before
         data-confirm-detail="…"         submitting (htmx requests included); optional: the text
         data-confirm-accept="Yes, …"    under the question, the accepting button's label and its
         data-confirm-style="warning"    Bootstrap colour (danger by default)
   <select data-autosubmit>              submits its form when changed
   <select data-navigate>                goes to the address that is the chosen option's value
   <div data-scroll-end>                 stays scrolled to its end when htmx swaps into it
   <form data-reset-on-success>          is emptied after an htmx request that succeeded

   And the toasts (helpdesk.toasts): those the page came with are announced and fade after a
   while (errors stay until closed); an htmx response's HX-Trigger "helpdesk:toast" adds one.
   They stand where they cover no control of the page (placeToasts).
*/
(function () {
  "use strict";

  // The form (and the button that submitted it) waiting for an answer, and the forms whose
  // next submit was accepted in the dialog.
  var pending = null;
  var accepted = new WeakSet();

  function confirmDialog() {
    var dialog = document.getElementById("hd-confirm");
    if (!dialog || !window.bootstrap) return null;
    return dialog;
  }

  function ask(dialog, form, submitter) {
    var detail = dialog.querySelector("[data-confirm-detail]");
    var accept = dialog.querySelector("[data-confirm-accept]");
    if (!accept.dataset.label) accept.dataset.label = accept.textContent;
    dialog.querySelector("[data-confirm-title]").textContent = form.dataset.confirm;
    detail.textContent = form.dataset.confirmDetail || "";
    detail.parentElement.hidden = !form.dataset.confirmDetail;
    accept.textContent = form.dataset.confirmAccept || accept.dataset.label;
    accept.className = "btn btn-" + (form.dataset.confirmStyle || "danger");
    pending = { form: form, submitter: submitter || null };
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
  }

  // Capture phase: runs before htmx's own submit listener on the form, so that nothing is sent
  // before the answer.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (accepted.has(form)) {
      accepted.delete(form);
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    var dialog = confirmDialog();
    if (dialog) ask(dialog, form, event.submitter);
  }, true);

  document.addEventListener("click", function (event) {
    var accept = event.target instanceof Element && event.target.closest("#hd-confirm [data-confirm-accept]");
    if (!accept || !pending) return;
    var answered = pending;
    pending = null;
    window.bootstrap.Modal.getOrCreateInstance(document.getElementById("hd-confirm")).hide();
    accepted.add(answered.form);
    if (answered.submitter) answered.form.requestSubmit(answered.submitter);
    else answered.form.requestSubmit();
  });

  // Cancelled: back to the button that asked, for whoever uses the keyboard.
  document.addEventListener("hidden.bs.modal", function (event) {
    if (event.target.id !== "hd-confirm" || !pending) return;
    var button = pending.submitter;
    pending = null;
    if (button) button.focus();
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLSelectElement)) return;
    if (field.hasAttribute("data-autosubmit") && field.form) field.form.requestSubmit();
    if (field.hasAttribute("data-navigate") && field.value) window.location.assign(field.value);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.hasAttribute && target.hasAttribute("data-scroll-end")) target.scrollTop = target.scrollHeight;
  });

  var TOAST_CLASSES = { error: "alert-danger", success: "alert-success", warning: "alert-warning", info: "alert-info" };
  var TOAST_SECONDS = 8;

  function dismissLater(toast) {
    if (toast.dataset.toastLevel === "error") return;  // an error stays until it is closed
    var timer = null;
    function close() {
      if (window.bootstrap && window.bootstrap.Alert) window.bootstrap.Alert.getOrCreateInstance(toast).close();
      else toast.remove();
    }
    function start() { timer = window.setTimeout(close, TOAST_SECONDS * 1000); }
    function pause() { window.clearTimeout(timer); }
    // Not while someone reads it with the pointer or the keyboard.
    toast.addEventListener("mouseenter", pause);
    toast.addEventListener("focusin", pause);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusout", start);
    start();
  }

  function showToast(level, text) {
    var container = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!container || !template || !text) return;
    level = TOAST_CLASSES[level] ? level : "info";
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.classList.remove("alert-info");
    toast.classList.add(TOAST_CLASSES[level]);
    toast.dataset.toastLevel = level;
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.querySelector("[data-toast-text]").textContent = text;
    container.appendChild(toast);
    dismissLater(toast);
  }

  // Where the toasts stand: at the bottom of the screen, on the right (across it on a phone:
  // app.css), unless controls of the page are there (the inbox's composer and Send); then as
  // low as the same column is free of them, so that no button, link or field lies under a
  // toast for its seconds. Measured again whenever toasts come or go, the window is resized,
  // htmx puts new content in, or a scroll (of the page or of a panel) has come to rest: a toast
  // that moved while the page moves would be harder to read.
  var CONTROLS = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [contenteditable="true"], ' +
    '[role="button"], [role="link"], [role="tab"], [role="checkbox"], [role="switch"], [role="menuitem"]';
  var TOAST_GAP = 8;
  var SCROLL_REST_MS = 150;
  var placing = false;
  var scrollRest = null;

  function placeToasts() {
    placing = false;
    var region = document.getElementById("toasts");
    if (!region || !region.querySelector(".hd-toast")) return;
    var viewport = document.documentElement.clientHeight;
    var floor = viewport - TOAST_GAP;
    region.style.bottom = "";
    var box = region.getBoundingClientRect();
    var navbar = document.querySelector(".hd-navbar");
    var ceiling = Math.max(navbar ? navbar.getBoundingClientRect().bottom : 0, 0) + TOAST_GAP;
    var taken = [];
    document.querySelectorAll(CONTROLS).forEach(function (control) {
      if (region.contains(control)) return;
      var edge = control.getBoundingClientRect();
      if (!edge.width || !edge.height || edge.right <= box.left || edge.left >= box.right) return;
      if (edge.bottom <= ceiling || edge.top >= floor || getComputedStyle(control).visibility === "hidden") return;
      taken.push(edge);
    });
    // The lowest bottom edge at which the toasts' height is free of controls: the screen's
    // own, or just above one of them; with none free, the screen's.
    var bottoms = taken.map(function (edge) { return edge.top - TOAST_GAP; }).filter(function (bottom) {
      return bottom < floor;
    }).sort(function (a, b) { return b - a; });
    bottoms.unshift(floor);
    var chosen = floor;
    for (var i = 0; i < bottoms.length; i += 1) {
      var bottom = bottoms[i];
      var top = bottom - box.height;
      if (top < ceiling) break;
      var covers = taken.some(function (edge) { return edge.top < bottom && edge.bottom > top; });
      if (!covers) { chosen = bottom; break; }
    }
    region.style.bottom = (viewport - chosen) + "px";
  }

  function placeToastsSoon() {
    if (placing) return;
    placing = true;
    window.requestAnimationFrame(placeToasts);
  }

  function placeToastsAtRest() {
    window.clearTimeout(scrollRest);
    if (document.querySelector("#toasts .hd-toast")) scrollRest = window.setTimeout(placeToastsSoon, SCROLL_REST_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("toasts");
    if (region && window.MutationObserver) new MutationObserver(placeToastsSoon).observe(region, { childList: true });
    window.addEventListener("resize", placeToastsSoon);
    window.addEventListener("load", placeToastsSoon);
    document.addEventListener("htmx:afterSettle", placeToastsSoon);
    document.addEventListener("scroll", placeToastsAtRest, { capture: true, passive: true });
    document.querySelectorAll("#toasts .hd-toast").forEach(function (served) {
      // Put in again once the page is there: an addition to the live region is announced.
      var toast = served.cloneNode(true);
      served.replaceWith(toast);
      dismissLater(toast);
    });
  });

  document.addEventListener("helpdesk:toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.level, detail.message);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (event.detail.successful && form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success")) form.reset();
  });
})();
