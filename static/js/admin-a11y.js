/* Accessibility fixes for Django's own admin scripts (issue 15 item 3), loaded on every admin page.

   The selection widget (SelectFilter2, filter_horizontal) names its filter boxes' magnifier icon with an
   aria-label on a plain <span>, which ARIA does not allow (axe: aria-prohibited-attr). The span is an
   image of a magnifier: give it role="img" so that its name is valid. The widget is built on "load";
   this runs right after it. */
"use strict";
window.addEventListener("load", function () {
  window.setTimeout(function () {
    document.querySelectorAll(".search-label-icon[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }, 0);
});
