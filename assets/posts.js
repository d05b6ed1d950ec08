// The Posts page: follow the board while something moves, and send times with the browser's UTC offset.
// (The Content-Security-Policy allows no inline script, so all of it lives here.)
// Hooks kept stable for tests: #board[data-board-url][data-moving][data-updates], #board-problem,
// article.post-card[data-key][data-state], input.tz-offset beside input[name=post_at_local].
(function () {
  "use strict";
  var POLL_MS = 2000;         // while something moves (due, uploading, processing, under review)
                              // and just after a scheduled post's time (data-wake-in-ms)
  var RETRY_MS = POLL_MS * 5; // the app restarting: try again, slower

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function offsetFor(localValue) {
    // "+01:00" for the browser's zone at that local time (daylight saving included); "" when it is no time.
    var when = localValue ? new Date(localValue) : new Date();
    if (isNaN(when.getTime())) { return ""; }
    var minutes = -when.getTimezoneOffset(), sign = minutes >= 0 ? "+" : "-";
    minutes = Math.abs(minutes);
    return sign + two(Math.floor(minutes / 60)) + ":" + two(minutes % 60);
  }

  function localValueOf(date) {
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + "T" +
      two(date.getHours()) + ":" + two(date.getMinutes());
  }

  function inBrowserZone(form) {
    // The edit form arrives with the time as written (its own offset): show it in the browser's zone instead,
    // so the offset sent back is always the browser's and an untouched time stays the same instant.
    var local = form.querySelector("input[name=post_at_local]"), field = form.querySelector("input.tz-offset");
    if (!local || !field || !local.value || !field.value) { return; }
    var when = new Date(local.value + field.value);
    if (isNaN(when.getTime())) { return; }
    local.value = localValueOf(when);
    field.value = offsetFor(local.value);
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
    var url = board.getAttribute("data-board-url"), problem = document.getElementById("board-problem");
    function again(ms) { setTimeout(tick, ms); }
    function show(text) {
      if (!problem) { return; }
      problem.textContent = text || "";
      problem.hidden = !text;
    }
    function tick() {
      if (editing(board)) { again(POLL_MS); return; }
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
        .then(function (data) {
          show(data.problem);
          if (data.html) { board.innerHTML = data.html; }
          board.setAttribute("data-moving", data.moving ? "1" : "0");
          board.setAttribute("data-updates", String(Number(board.getAttribute("data-updates") || "0") + 1));
          if (data.moving || data.problem) { again(data.moving ? POLL_MS : RETRY_MS); }
          else if (typeof data.wake_in_ms === "number") { again(untilDue(data.wake_in_ms)); }
        })
        .catch(function () { again(RETRY_MS); });
    }
    // A scheduled post comes due: look again just after its time (a run posts it), and at least hourly.
    function untilDue(ms) { return Math.min(ms + POLL_MS, 3600000); }
    var wake = board.getAttribute("data-wake-in-ms");
    if (board.getAttribute("data-moving") === "1") { again(POLL_MS); }
    else if (wake !== null) { again(untilDue(Number(wake))); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board"), edit = document.getElementById("edit-post");
    if (board) { follow(board); }
    if (edit) { inBrowserZone(edit); }
  });
})();
