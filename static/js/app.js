// Small behaviours the pages share; no inline scripts (the CSP forbids them) and no eval.
(function () {
  "use strict";

  var TOAST_MS = 6000;

  function toastBox() {
    return document.getElementById("toasts");
  }

  function dismissLater(toast) {
    if (toast.dataset.timer) return;
    toast.dataset.timer = "1";
    setTimeout(function () { toast.remove(); }, TOAST_MS);
  }

  function dismissToasts() {
    document.querySelectorAll("#toasts .toast").forEach(dismissLater);
  }

  function showToast(message, level) {
    var box = toastBox();
    if (!box || !message) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    box.appendChild(toast);
    dismissLater(toast);
  }

  // Routes answer `HX-Trigger: {"toast": {"message": ..., "level": ...}}` after each action.
  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || detail.value, detail.level);
  });

  var STATUS_WORDS = {
    400: "The form expired or was incomplete. Reload the page and try again.",
    401: "Your session ended. Sign in again.",
    403: "You do not have permission to do this.",
    404: "This no longer exists: it may have been deleted in another tab. Reload the page to see the current list.",
    409: "This is not possible in its current state.",
    413: "That was too large to send.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again."
  };

  // An htmx request that failed is not swapped; say what happened instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = STATUS_WORDS[xhr.status] || STATUS_WORDS[500];
    if (xhr.status === 401 || (xhr.responseURL && xhr.responseURL.indexOf("/login") !== -1)) {
      window.location.reload();
      return;
    }
    // The error page carries the specific reason (e.g. "Only the business's owners can open this.").
    if (xhr.status !== 404 && xhr.responseText) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var reason = doc.querySelector("[data-error-message]");
      if (reason && reason.textContent.trim()) message = reason.textContent.trim();
    }
    showToast(message, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    showToast("Could not reach the server. Check your connection and try again.", "error");
  });

  // A route that answers an error with a message meant for a spot on the page (a stale form) says
  // where with HX-Retarget: swap it there instead of only toasting.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a form comes back with errors, move focus to the first field that needs attention.
  document.addEventListener("htmx:afterSwap", function (event) {
    dismissToasts();
    var target = event.detail.target;
    if (!target || !target.querySelector) return;
    var form = target.matches("form[data-focus-errors]") ? target : target.querySelector("form[data-focus-errors]");
    if (!form || event.detail.requestConfig.verb === "get") return;
    var invalid = form.querySelector("[aria-invalid='true'], .form-alert");
    if (invalid) {
      if (!invalid.hasAttribute("tabindex") && invalid.classList.contains("form-alert")) invalid.setAttribute("tabindex", "-1");
      invalid.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", dismissToasts);
  document.addEventListener("htmx:oobAfterSwap", dismissToasts);

  // Remove a row of a list input (e.g. one recipient) without a round trip.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-remove-closest]") : null;
    if (!button) return;
    event.preventDefault();
    var row = button.closest(button.getAttribute("data-remove-closest"));
    if (!row) return;
    var form = row.closest("form");
    var list = row.parentElement;
    row.remove();
    var next = list && list.querySelector("input");
    if (next) next.focus();
    // Let the live preview and other listeners know the form changed.
    if (form) form.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Ask before destructive actions (hx-confirm), through the browser's own dialog.
  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    if (window.confirm(question)) event.detail.issueRequest(true);
  });

})();
