// The app's script on every page (the Content-Security-Policy allows no inline script): confirmations. The copy
// buttons are share.js's (with a fallback where the Clipboard API is missing).
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});

