// Light or dark (issue 26): the system's choice (prefers-color-scheme) until the person presses the toggle in the
// nav; that choice is remembered in localStorage and set as <html data-theme>, which style.css reads. Loaded in
// <head> without defer, so the attribute is there before the first paint (no flash of the other theme), and from
// a file because the Content-Security-Policy allows no inline script (tiktok/web/security.py).
(function () {
  "use strict";
  var KEY = "theme";
  var root = document.documentElement;
  var systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function remembered() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }  // storage may be blocked
  }

  function apply(choice) {
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
  }

  function current() {
    return root.getAttribute("data-theme") || (systemDark.matches ? "dark" : "light");
  }

  apply(remembered());

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    function show() { toggle.setAttribute("aria-pressed", String(current() === "dark")); }
    toggle.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      apply(next);
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* still switched for this page */ }
      show();
    });
    systemDark.addEventListener("change", show);
    window.addEventListener("storage", function (event) {  // another tab pressed the toggle
      if (event.key === KEY) { apply(event.newValue); show(); }
    });
    toggle.hidden = false;
    show();
  });
})();
