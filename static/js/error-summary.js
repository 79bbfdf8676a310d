// After a failed submit, move focus to the error summary (WCAG 2.4.3, 3.3.1): a screen reader reads
// it first and a keyboard user continues from there. A link in the summary focuses its field, not only
// scrolls to it. A file of its own (no inline script), so the strict Content-Security-Policy holds;
// without JavaScript the summary is still the first thing in the main content.
(function () {
  function focusSummary() {
    var summary = document.querySelector(".error-summary");
    if (!summary) {
      return;
    }
    if (!summary.hasAttribute("tabindex")) {
      summary.setAttribute("tabindex", "-1");
    }
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (field) {
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
})();
