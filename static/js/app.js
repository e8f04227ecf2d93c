// Small behaviours the pages share; no inline scripts (the CSP forbids them).
(function () {
  function dismissToasts() {
    document.querySelectorAll("#toasts .toast").forEach(function (toast) {
      if (toast.dataset.timer) return;
      toast.dataset.timer = "1";
      setTimeout(function () { toast.remove(); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", dismissToasts);
  document.addEventListener("htmx:afterSwap", dismissToasts);
  document.addEventListener("htmx:oobAfterSwap", dismissToasts);
  // Confirm destructive actions without hx-confirm's window.confirm being bypassed by keyboard users.
  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    if (window.confirm(question)) event.detail.issueRequest(true);
  });
})();
