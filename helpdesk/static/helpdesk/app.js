/* Behaviour every page shares, declared in the markup with data attributes so that the pages
   carry no inline script or on* handler (the Content-Security-Policy allows neither):

   <form data-confirm="Question?">       asks before submitting (htmx requests included)
   <select data-autosubmit>              submits its form when changed
   <select data-navigate>                goes to the address that is the chosen option's value
   <div data-scroll-end>                 stays scrolled to its end when htmx swaps into it
   <form data-reset-on-success>          is emptied after an htmx request that succeeded
*/
(function () {
  "use strict";

  // Capture phase: runs before htmx's own submit listener on the form, so a "Cancel" stops both.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

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

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (event.detail.successful && form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success")) form.reset();
  });
})();
