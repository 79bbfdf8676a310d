/* The warning before a logged-in session's idle end (accounts/session_timeout.py; WCAG 2.2.1).
 *
 * Progressive enhancement: the server ends the session whatever happens here, and without script
 * the dialog's forms still work. The page says how many seconds were left when it was rendered;
 * WARNING seconds before that the dialog opens (modal, focus on "Stay logged in", Escape counts as
 * staying). Before opening it asks the server for the time left, since another tab may have kept
 * the session alive. At the end the page reloads, and the server explains that the session expired.
 */
(function () {
  "use strict";
  var dialog = document.getElementById("session-timeout");
  if (!dialog || typeof dialog.showModal !== "function" || !window.fetch) {
    return;
  }
  var warning = parseInt(dialog.dataset.warning, 10) * 1000;
  var statusUrl = dialog.dataset.statusUrl;
  var status = document.getElementById("session-timeout-status");
  var renewedText = document.getElementById("session-timeout-renewed");
  var extendForm = dialog.querySelector("form[data-session-extend]");
  var deadline = 0;
  var warnTimer = null;
  var endTimer = null;
  var returnFocus = null;

  function schedule(remainingSeconds) {
    deadline = Date.now() + remainingSeconds * 1000;
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    warnTimer = window.setTimeout(check, Math.max(0, deadline - warning - Date.now()));
    endTimer = window.setTimeout(expire, Math.max(0, deadline - Date.now()) + 1000);
  }

  function expire() {
    window.location.reload();
  }

  function check() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.remaining * 1000 > warning + 5000) {
          schedule(state.remaining); // kept alive elsewhere (another tab)
        } else {
          open();
        }
      })
      .catch(open);
  }

  function open() {
    if (dialog.open) {
      return;
    }
    returnFocus = document.activeElement;
    status.textContent = "";
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]");
    if (first) {
      first.focus();
    }
  }

  function close() {
    if (dialog.open) {
      dialog.close();
    }
    if (returnFocus && typeof returnFocus.focus === "function") {
      returnFocus.focus();
    }
  }

  function extend() {
    if (!extendForm) {
      close();
      return;
    }
    fetch(extendForm.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new FormData(extendForm),
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("expired");
        }
        return response.json();
      })
      .then(function (state) {
        close();
        status.textContent = renewedText ? renewedText.content.textContent : "";
        schedule(state.remaining);
      })
      .catch(expire);
  }

  if (extendForm) {
    extendForm.addEventListener("submit", function (event) {
      event.preventDefault();
      extend();
    });
  }
  dialog.addEventListener("cancel", function (event) {
    // Escape: the user is there, so stay logged in (or, past the maximum, just close the warning).
    event.preventDefault();
    extend();
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      check(); // back from the browser's page cache: the timers are stale, ask the server
    }
  });

  schedule(parseInt(dialog.dataset.remaining, 10));
})();
