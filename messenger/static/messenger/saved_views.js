/* The inbox's "Saved views" section stays folded or unfolded as the member left it, across
   pages and after htmx answers the section again (messenger/inbox/_saved_views.html); saving
   a new view unfolds it. */
(function () {
  "use strict";

  var KEY = "hd-saved-views-folded";

  function folded() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (error) { return false; }
  }

  function apply() {
    var list = document.getElementById("saved-views-list");
    var toggle = document.getElementById("saved-views-heading");
    if (!list || !toggle || !folded()) return;
    list.classList.remove("show");
    toggle.setAttribute("aria-expanded", "false");
    toggle.classList.add("collapsed");
  }

  function remember(isFolded) {
    try { window.localStorage.setItem(KEY, isFolded ? "1" : "0"); } catch (error) { /* storage off */ }
  }

  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("htmx:afterSwap", function (event) {
    var detail = event.detail || {};
    if (!detail.target || detail.target.id !== "saved-views") return;
    var from = detail.requestConfig && detail.requestConfig.elt;
    // A view just saved is shown: the section unfolds for it.
    if (from && from.closest && from.closest("#saved-view-save")) remember(false);
    else apply();
  });
  document.addEventListener("hidden.bs.collapse", function (event) {
    if (event.target.id === "saved-views-list") remember(true);
  });
  document.addEventListener("shown.bs.collapse", function (event) {
    if (event.target.id === "saved-views-list") remember(false);
  });
})();
