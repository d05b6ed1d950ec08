// The Posts page: follow the board while something moves (only the cards that changed since the last look),
// and send times with the browser's zone and UTC offset. Times show in the browser's zone (times.js).
// (The Content-Security-Policy allows no inline script, so all of it lives here.)
// Hooks kept stable for tests: #board[data-board-url][data-change][data-moving][data-updates], #board-problem,
// section.post-group[data-group] .cards .count, article.post-card[data-id][data-state][data-sort],
// input.tz-offset and input.tz-zone beside input[name=post_at_local].
(function () {
  "use strict";
  var POLL_MS = 2000;         // while something moves (due, uploading, processing, under review)
                              // and just after a scheduled post's time (data-wake-in-ms)
  var RETRY_MS = POLL_MS * 5; // the app restarting: try again, slower
  var times = window.TikTokTimes;

  function inBrowserZone(form) {
    // The edit form arrives with the time in the server's zone and the instant beside it: show the instant in
    // the browser's zone instead, so an untouched time stays the same instant.
    var local = form.querySelector("input[name=post_at_local]");
    var instant = local && local.getAttribute("data-instant");
    if (!instant) { return; }
    var when = new Date(instant);
    if (!isNaN(when.getTime())) { local.value = times.localValueOf(when); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target, local = form.querySelector("input[name=post_at_local]");
    var offset = form.querySelector("input.tz-offset"), zone = form.querySelector("input.tz-zone");
    if (zone) { zone.value = times.browserZone(); }
    if (offset && local && local.value) {
      var problem = times.zoneProblem(local.value);
      if (problem) {
        event.preventDefault();
        local.setCustomValidity(problem);
        local.reportValidity();
        local.addEventListener("input", function () { local.setCustomValidity(""); }, {once: true});
        return;
      }
      offset.value = times.offsetFor(local.value);
    }
  }, true);

  function editing(board) {
    // Never replace a card under someone's fingers (a half-typed new time).
    var active = document.activeElement;
    return active && board.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function element(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function place(board, card) {
    // Put a changed card where it belongs: out of its old place, into its group in the group's order; not at
    // all when its place is after this page's last card and a later page follows (it is on that page now).
    var old = document.getElementById("post-" + card.id);
    if (old) { old.parentNode.removeChild(old); }
    var section = board.querySelector("section.post-group[data-group=" + card.group + "]");
    if (!section) { return; }
    var list = section.querySelector(".cards"), node = element(card.html), sort = Number(card.sort);
    var before = Array.prototype.find.call(list.children, function (other) {
      return Number(other.getAttribute("data-sort")) > sort;
    });
    if (!before && section.querySelector("a.more-link:not(.prev)")) { return; }
    list.insertBefore(node, before || null);
    times.showMoments(node);
  }

  function count(board, counts) {
    if (!counts) { return; }
    Object.keys(counts).forEach(function (name) {
      var section = board.querySelector("section.post-group[data-group=" + name + "]");
      if (!section) { return; }
      section.querySelector(".count").textContent = String(counts[name]);
      var empty = section.querySelector("p.empty");
      if (empty) { empty.hidden = section.querySelector(".cards").children.length > 0; }
    });
  }

  function follow(board) {
    var url = board.getAttribute("data-board-url"), problem = document.getElementById("board-problem");
    var onePage = board.hasAttribute("data-group-page");
    function again(ms) { setTimeout(tick, ms); }
    function show(text) {
      if (!problem) { return; }
      problem.textContent = text || "";
      problem.hidden = !text;
    }
    function merge(data) {
      if (data.full) {
        if (!onePage) { board.innerHTML = data.html; times.showMoments(board); }
      } else {
        (data.removed || []).forEach(function (id) {
          var gone = document.getElementById("post-" + id);
          if (gone) { gone.parentNode.removeChild(gone); }
        });
        (data.cards || []).forEach(function (card) { place(board, card); });
        count(board, data.counts);
      }
      board.setAttribute("data-change", String(data.change));
    }
    function tick(fresh) {
      if (editing(board)) { again(POLL_MS); return; }
      var since = board.getAttribute("data-change");
      var ask = fresh || since === null ? url : url + "?since=" + encodeURIComponent(since);
      fetch(ask, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          show(data.problem);
          if (!data.problem) { merge(data); }
          board.setAttribute("data-moving", data.moving ? "1" : "0");
          board.setAttribute("data-updates", String(Number(board.getAttribute("data-updates") || "0") + 1));
          if (data.moving || data.problem) { again(data.moving ? POLL_MS : RETRY_MS); }
          else if (typeof data.wake_in_ms === "number") { setTimeout(function () { tick(true); },
                                                                     untilDue(data.wake_in_ms)); }
        })
        .catch(function () { again(RETRY_MS); });
    }
    // A scheduled post comes due: look at the whole board again just after its time (its card moves group by
    // the clock, not by a change), and at least hourly.
    function untilDue(ms) { return Math.min(ms + POLL_MS, 3600000); }
    var wake = board.getAttribute("data-wake-in-ms");
    if (board.getAttribute("data-moving") === "1") { again(POLL_MS); }
    else if (wake !== null) { setTimeout(function () { tick(true); }, untilDue(Number(wake))); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board"), edit = document.getElementById("edit-post");
    Array.prototype.forEach.call(document.querySelectorAll(".zone-name"), function (node) {
      if (times.browserZone()) { node.textContent = "(" + times.browserZone() + ")"; }
    });
    if (board) { follow(board); }
    if (edit) { inBrowserZone(edit); }
  });
})();
