// The Calendar page (/calendar/): EventCalendar (vendor/event-calendar, MIT) in the browser's time zone, fed by
// /calendar/events for the visible range; a drop asks /calendar/move (the Posts page's Reschedule) and puts the
// event back when the server refuses, saying why. (No inline script: the Content-Security-Policy allows none.)
// Hooks kept stable for tests: #calendar[data-events-url][data-move-url][data-compose-url][data-edit-url]
// [data-board-url][data-csrf]
// [data-account][data-ready], .ec-event[data-post][data-state][data-movable], #calendar-message[data-kind].
(function () {
  "use strict";
  var PHONE_PX = 600;  // narrower than this: the list view (a week grid does not fit a phone)
  var SHOWN_MS = 30 * 60 * 1000;  // a post is a moment: drawn half an hour long so its caption fits
  var el = document.getElementById("calendar");
  if (!el || !window.EventCalendar) { return; }
  var times = window.TikTokTimes;
  var zone = times ? times.browserZone() : "";
  var message = document.getElementById("calendar-message");
  var zoneNote = document.getElementById("calendar-zone");
  if (zoneNote && zone) { zoneNote.textContent = " (" + zone + ")"; }

  function say(text, kind) {
    message.textContent = text;
    message.setAttribute("data-kind", kind);
    message.className = "calendar-message flash flash-" + (kind === "ok" ? "ok" : "warning");
    message.hidden = false;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function linkOf(e) {  // a movable post opens its edit form; any other, its group on the Posts page
    return e.movable ? el.dataset.editUrl.replace("/0/", "/" + e.id + "/")
      : el.dataset.boardUrl + "?group=" + encodeURIComponent(e.board);
  }

  function fetchEvents(info) {
    var query = new URLSearchParams({start: String(info.start.getTime() / 1000),
                                     end: String(info.end.getTime() / 1000), account: el.dataset.account || ""});
    return fetch(el.dataset.eventsUrl + "?" + query, {credentials: "same-origin"}).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.problem || "The posts could not be read."); }
        return body.events.map(function (e) {
          var start = new Date(e.at * 1000);
          return {id: String(e.id), start: start, end: new Date(start.getTime() + SHOWN_MS), title: e.title,
                  editable: e.movable, startEditable: e.movable, durationEditable: false,
                  classNames: ["post-" + e.board, "state-" + e.state],
                  extendedProps: {post: e.id, revision: e.revision, state: e.state, movable: e.movable,
                                  url: linkOf(e)}};
        });
      });
    }).catch(function (error) { say(error.message, "problem"); return []; });
  }

  function drop(info) {
    var props = info.event.extendedProps;
    var form = new URLSearchParams({csrf: el.dataset.csrf, post: String(props.post), revision: String(props.revision),
                                    at: String(info.event.start.getTime() / 1000), zone: zone});
    fetch(el.dataset.moveUrl, {method: "POST", body: form, credentials: "same-origin"}).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok || !body.ok) {  // an answer without a sentence (the form expired, the app is down)
          throw new Error(body.message || "Post " + props.post + " was not moved: the app answered " +
                          response.status + "; reload the page and try again.");
        }
        info.event.extendedProps.revision = body.revision;
        calendar.updateEvent(info.event);
        say(body.message, "ok");
      });
    }).catch(function (error) {
      info.revert();
      say(error instanceof TypeError ? "Post " + props.post + " was not moved: the app did not answer; try again."
        : error.message, "refused");
    });
  }

  var narrow = window.matchMedia("(max-width: " + PHONE_PX + "px)").matches;
  var start = new URLSearchParams(window.location.search).get("date");
  var options = {
    view: narrow ? "listWeek" : "timeGridWeek",
    headerToolbar: narrow ? {start: "prev,next today", center: "", end: "title"}
      : {start: "prev,next today", center: "title", end: "dayGridMonth,timeGridWeek,listWeek"},
    buttonText: function (text) { return Object.assign({}, text, {dayGridMonth: "month", timeGridWeek: "week",
                                                                 listWeek: "list"}); },
    firstDay: 1,
    height: narrow ? "auto" : "720px",
    dayMaxEvents: true,
    eventStartEditable: true,
    eventDurationEditable: false,
    scrollTime: "08:00:00",
    eventSources: [{events: fetchEvents}],
    eventDidMount: function (info) {
      var props = info.event.extendedProps;
      info.el.setAttribute("data-post", props.post);
      info.el.setAttribute("data-state", props.state);
      info.el.setAttribute("data-movable", props.movable ? "1" : "0");
    },
    eventDrop: drop,
    eventClick: function (info) { window.location.href = info.event.extendedProps.url; },
    dateClick: function (info) {
      var day = new Date(info.date.getTime());
      if (info.allDay) { day.setHours(12, 0, 0, 0); }  // a day in the month view: noon, changed on the form
      var query = new URLSearchParams({post_at_local: localValue(day)});
      if (el.dataset.account) { query.set("open_id", el.dataset.account); }
      window.location.href = el.dataset.composeUrl + "?" + query;
    },
    loading: function (busy) { if (!busy) { el.setAttribute("data-ready", "1"); } }
  };
  if (start) { options.date = start; }
  var calendar = window.EventCalendar.create(el, options);
}());
