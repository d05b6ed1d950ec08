// Times on every page in the browser's own time zone, the zone named; and the checks a picked local time needs
// before it is sent (a time the zone skips or repeats at a daylight-saving change is refused, never shifted).
// Used by posts.js and compose.js; it also rewrites every <time class="moment" datetime="..."> on the page.
// (The Content-Security-Policy allows no inline script, so all of it lives here.)
(function () {
  "use strict";

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  function localValueOf(date) {
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + "T" +
      two(date.getHours()) + ":" + two(date.getMinutes());
  }

  function offsetFor(localValue) {
    // "+01:00": the browser's UTC offset at that local time (daylight saving included); "" when it is no time.
    var when = localValue ? new Date(localValue) : new Date();
    if (isNaN(when.getTime())) { return ""; }
    var minutes = -when.getTimezoneOffset(), sign = minutes >= 0 ? "+" : "-";
    minutes = Math.abs(minutes);
    return sign + two(Math.floor(minutes / 60)) + ":" + two(minutes % 60);
  }

  function zoneProblem(localValue) {
    // "" when the local time exists once in the browser's zone; otherwise a sentence saying why it cannot be used.
    var value = localValue.slice(0, 16), when = new Date(value);
    if (isNaN(when.getTime())) { return "That is not a date and time."; }
    var zone = browserZone() || "your time zone";
    if (localValueOf(when) !== value) {
      return value.replace("T", " ") + " does not exist in " + zone +
        ": the clocks jump forward over it (daylight saving). Choose another time.";
    }
    var steps = [30, 60, 120];
    for (var i = 0; i < steps.length; i += 1) {
      var later = new Date(when.getTime() + steps[i] * 60000);
      if (localValueOf(later) === value) {
        return value.replace("T", " ") + " happens twice in " + zone +
          " (the clocks go back). Choose a time outside that hour.";
      }
    }
    return "";
  }

  function describe(date) {
    // "Tue 3 Dec 2026, 09:00 CET (Europe/Berlin)": the browser's zone, named.
    var zone = browserZone(), text;
    try {
      text = new Intl.DateTimeFormat(undefined, {weekday: "short", day: "numeric", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short"}).format(date);
    } catch (e) {
      text = localValueOf(date).replace("T", " ") + " UTC" + offsetFor(localValueOf(date));
    }
    return zone ? text + " (" + zone + ")" : text;
  }

  function showMoments(root) {
    var nodes = (root || document).querySelectorAll("time.moment[datetime]");
    Array.prototype.forEach.call(nodes, function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        if (!node.title) { node.title = node.textContent; }
        node.textContent = describe(when);
        node.setAttribute("data-zone", browserZone());
      }
    });
  }

  window.TikTokTimes = {browserZone: browserZone, localValueOf: localValueOf, offsetFor: offsetFor,
    zoneProblem: zoneProblem, describe: describe, showMoments: showMoments};
  document.addEventListener("DOMContentLoaded", function () { showMoments(document); });
})();
