// Copy buttons (issue 26, item 5): "Copy text" (#copy: the transcript) and "Copy link" ([data-copy]: a share link's
// address, the id of the field holding it). The Clipboard API needs a secure context (https, or 127.0.0.1 and
// localhost); over plain http on another address it is missing, so the text is selected and
// document.execCommand("copy") tried, and failing that it stays selected for the person's own Ctrl+C.
// From a file: the Content-Security-Policy allows no inline script (tiktok/web/security.py).
(function () {
  "use strict";

  function select(node) {
    if (typeof node.select === "function") { node.focus(); node.select(); return; }
    var range = document.createRange(), selection = window.getSelection();
    range.selectNodeContents(node);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(node) {
    select(node);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  function copy(button, node, done) {
    var text = typeof node.value === "string" ? node.value : node.textContent;
    function said(copied) {
      button.textContent = copied ? done : "Selected: press Ctrl+C to copy";
      button.setAttribute("data-copied", copied ? "yes" : "selected");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said(true); }, function () { said(fallback(node)); });
    } else {
      said(fallback(node));
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("copy"), source = document.getElementById("transcript-text");
    if (button && source) button.addEventListener("click", function () { copy(button, source, "Copied"); });
    document.querySelectorAll("[data-copy]").forEach(function (each) {
      var target = document.getElementById(each.getAttribute("data-copy"));
      if (target) each.addEventListener("click", function () { copy(each, target, "Link copied"); });
    });
  });
})();
