// The app's only script (the Content-Security-Policy allows no inline script): confirmations and copy buttons.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});

document.addEventListener("DOMContentLoaded", function () {
  var copy = document.getElementById("copy"), source = document.getElementById("transcript-text");
  if (!copy || !source) { return; }
  copy.addEventListener("click", function () {
    navigator.clipboard.writeText(source.textContent).then(function () { copy.textContent = "Copied"; },
                                                           function () { copy.textContent = "Copy failed: select the text"; });
  });
});
