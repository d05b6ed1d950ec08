// The Posts page: follow the board while something moves, and send times with the browser's UTC offset.
// (The Content-Security-Policy allows no inline script, so all of it lives here.)
(function () {
  "use strict";
  var POLL_MS = 2000;

  function offsetFor(localValue) {
    // "+01:00" for the browser's zone at that local time (daylight saving included); "" when it is no time.
    var when = localValue ? new Date(localValue) : new Date();
    if (isNaN(when.getTime())) { return ""; }
    var minutes = -when.getTimezoneOffset(), sign = minutes >= 0 ? "+" : "-";
    minutes = Math.abs(minutes);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return sign + two(Math.floor(minutes / 60)) + ":" + two(minutes % 60);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target, field = form.querySelector("input.tz-offset");
    var local = form.querySelector("input[name=post_at_local]");
    if (field && local && local.value) { field.value = offsetFor(local.value); }
  }, true);

  function editing(board) {
    // Never replace the board under someone's fingers (a half-typed new time).
    var active = document.activeElement;
    return active && board.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function follow(board) {
    var url = board.getAttribute("data-board-url"), timer = null;
    function tick() {
      if (editing(board)) { timer = setTimeout(tick, POLL_MS); return; }
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
        .then(function (data) {
          if (data.html) { board.innerHTML = data.html; }
          board.setAttribute("data-moving", data.moving ? "1" : "0");
          board.setAttribute("data-updates", String(Number(board.getAttribute("data-updates") || "0") + 1));
          if (data.moving) { timer = setTimeout(tick, POLL_MS); }
        })
        .catch(function () { timer = setTimeout(tick, POLL_MS * 5); });  // the app restarting: try again, slower
    }
    if (board.getAttribute("data-moving") === "1") { timer = setTimeout(tick, POLL_MS); }
    return function () { if (timer) { clearTimeout(timer); } };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board");
    if (board) { follow(board); }
  });
})();
