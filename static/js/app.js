// Small behaviours the pages share; no inline scripts (the CSP forbids them) and no eval.
(function () {
  "use strict";

  // Long enough to read a sentence; short, and click-through (CSS), so it never stands over a row's buttons.
  var TOAST_MS = 4000;
  var LOADING_AFTER_MS = 300;

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

  // After a form comes back with errors, move focus to the first field that needs attention. The
  // form was swapped out (outerHTML): look for its replacement, not in the detached old one.
  document.addEventListener("htmx:afterSwap", function (event) {
    dismissToasts();
    var target = event.detail.target;
    if (!target || event.detail.requestConfig.verb === "get") return;
    var form = null;
    if (target.matches && target.matches("form[data-focus-errors]")) {
      form = target.isConnected ? target : (target.id && document.getElementById(target.id));
    } else if (target.querySelector) {
      form = target.querySelector("form[data-focus-errors]");
    }
    if (!form) return;
    var invalid = form.querySelector("[aria-invalid='true']") || form.querySelector(".form-alert");
    if (invalid) {
      if (!invalid.hasAttribute("tabindex") && invalid.classList.contains("form-alert")) invalid.setAttribute("tabindex", "-1");
      invalid.focus();
    }
  });

  // A row's menu closes when the person clicks elsewhere or presses Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.row-menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.row-menu") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.row-menu[open]");
    if (!open) return;
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  });

  // A timezone found by typing a city: picking it fills the box (and the preview follows).
  document.addEventListener("click", function (event) {
    var option = event.target.closest ? event.target.closest("[data-timezone]") : null;
    if (!option) return;
    var input = document.getElementById("timezone");
    if (!input) return;
    input.value = option.getAttribute("data-timezone");
    var list = document.getElementById("timezone-options");
    if (list) list.textContent = "";
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // ---- The schedule form helps as it is filled in (templates/schedules/partials/_form.html) ----

  function hidden(form, name) {
    return form.querySelector("input[type=hidden][name='" + name + "']");
  }

  // Every field the person changed is "touched": the live check reports only those (all of them
  // after a failed save), and clears their errors as they are fixed. Capture phase: recorded
  // before htmx reads the form for its request.
  function touch(event) {
    var field = event.target;
    var form = field.form;
    if (!form || !form.hasAttribute("data-live-check") || !field.name) return;
    // A field counts as touched once changed (left, or picked): no error while it is first typed.
    var touched = event.type === "change" && hidden(form, "touched");
    if (touched) {
      var names = touched.value ? touched.value.split(",") : [];
      if (names.indexOf(field.name) === -1) names.push(field.name);
      touched.value = names.join(",");
    }
    if (field.name === "name") {
      var nameAuto = hidden(form, "name_auto");
      if (nameAuto && field.value !== nameAuto.value) nameAuto.value = "";
    }
    if (field.name === "filters.date_range" && event.type === "change") {
      var periodAuto = hidden(form, "period_auto");
      if (periodAuto) periodAuto.value = "";
    }
    // The period follows the frequency until the person picks one.
    if (field.name === "frequency" && event.type === "change") {
      var auto = hidden(form, "period_auto");
      var period = form.querySelector("select[name='filters.date_range']");
      var map = JSON.parse(field.getAttribute("data-period-for") || "{}");
      if (auto && auto.value && period && map[field.value]) period.value = map[field.value];
    }
  }
  document.addEventListener("change", touch, true);
  document.addEventListener("input", touch, true);

  function showFieldErrors(form, errors) {
    Object.keys(errors).forEach(function (field) {
      var messages = errors[field] || [];
      var box = form.querySelector("[data-errors-for='" + field + "']");
      if (box) {
        box.textContent = "";
        messages.forEach(function (message) {
          var p = document.createElement("p");
          p.className = "field-error";
          p.textContent = message;
          box.appendChild(p);
        });
      }
      var control = form.querySelector("[name='" + field + "']:not([type=hidden])");
      if (control) {
        if (messages.length) {
          control.setAttribute("aria-invalid", "true");
          if (box && box.id) control.setAttribute("aria-describedby", box.id);
        } else {
          control.removeAttribute("aria-invalid");
        }
      }
      // The summary at the top loses each problem once it is fixed, and goes when none is left.
      if (!messages.length) {
        form.querySelectorAll(".error-summary li[data-field='" + field + "']").forEach(function (li) { li.remove(); });
      }
    });
    var summary = form.querySelector(".form-alert .error-summary");
    if (summary && !summary.querySelector("li")) summary.closest(".form-alert").remove();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "preview") return;
    var form = target.closest("form");
    var data = target.querySelector("[data-live]");
    if (!form || !data) return;
    var live = JSON.parse(data.getAttribute("data-live") || "{}");
    showFieldErrors(form, live.errors || {});
    var name = form.querySelector("input[name='name']");
    var nameAuto = hidden(form, "name_auto");
    if (live.suggested_name && name && nameAuto && nameAuto.value && name.value === nameAuto.value) {
      name.value = live.suggested_name;
      nameAuto.value = live.suggested_name;
    }
  });

  // Loading: any htmx request still running after 300 ms shows the page's indicator (a bar and
  // "Loading…" for screen readers), and marks what it will replace as busy. One place for every
  // request, so a new page gets it without doing anything.
  var inFlight = 0;
  var loadingTimer = null;

  function setLoading(on) {
    var box = document.getElementById("loading");
    document.documentElement.classList.toggle("is-loading", on);
    if (box) box.textContent = on ? "Loading…" : "";
  }

  // A form being submitted cannot be submitted twice: its submit buttons wait for the answer.
  // (Per-form hx-disabled-elt was inherited by the form's own fields, whose requests then logged
  // "hx-disabled-elt ... returned no matches".)
  function submitButtons(elt) {
    return elt && elt.tagName === "FORM" ? elt.querySelectorAll("button[type=submit], button:not([type])") : [];
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    inFlight += 1;
    if (!loadingTimer) loadingTimer = setTimeout(function () { setLoading(true); }, LOADING_AFTER_MS);
    var target = event.detail.target;
    if (target && target.setAttribute) target.setAttribute("aria-busy", "true");
    submitButtons(elt).forEach(function (button) {
      if (!button.disabled) { button.disabled = true; button.dataset.waiting = "1"; }
    });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    inFlight = Math.max(0, inFlight - 1);
    var target = event.detail.target;
    if (target && target.removeAttribute) target.removeAttribute("aria-busy");
    submitButtons(event.detail.elt).forEach(function (button) {
      if (button.dataset.waiting) { button.disabled = false; delete button.dataset.waiting; }
    });
    if (inFlight === 0) {
      clearTimeout(loadingTimer);
      loadingTimer = null;
      setLoading(false);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") document.querySelectorAll("#toasts .toast").forEach(function (t) { t.remove(); });
  });

  // Filters fold away on phones only: open them where there is room.
  function openWideFolds() {
    if (!window.matchMedia("(min-width: 761px)").matches) return;
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
  }
  document.addEventListener("DOMContentLoaded", openWideFolds);
  window.addEventListener("resize", openWideFolds);

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
