// The Videos page: "Transcribe selected" and Retry post the ticked videos in the background, then each card's
// progress is polled from progress.json until none is queued or running (no reload).
(function () {
  "use strict";
  const form = document.getElementById("videos-form");
  if (!form) return;
  const said = document.getElementById("videos-said");
  const POLL_MS = 1000;
  let timer = null;

  function card(id) { return form.querySelector('.video-card[data-video-id="' + CSS.escape(id) + '"]'); }

  function show(id, state, detail, url) {
    const el = card(id);
    if (!el) return;
    el.dataset.state = state;
    const label = el.querySelector(".video-state");
    label.textContent = "";
    if (state === "done" && url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = "Transcribed";
      label.appendChild(link);
    } else {
      label.textContent = {queued: "Queued…", running: "Running…", failed: "Failed", done: "Transcribed"}[state] || "";
    }
    el.querySelector(".video-detail").textContent = detail || "";
    el.querySelector(".video-retry").hidden = state !== "failed";
  }

  function busy() {
    return Array.from(form.querySelectorAll('.video-card[data-state="queued"], .video-card[data-state="running"]'))
      .map(function (el) { return el.dataset.videoId; });
  }

  function poll() {
    timer = null;
    const ids = busy();
    if (!ids.length) return;
    fetch(form.dataset.progress + "?ids=" + encodeURIComponent(ids.join(",")),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (answer) {
        Object.keys(answer).forEach(function (id) { show(id, answer[id].state, answer[id].detail, answer[id].url); });
      })
      .catch(function () { /* a missed poll is tried again */ })
      .finally(function () { if (busy().length) timer = setTimeout(poll, POLL_MS); });
  }

  function start(ids) {
    if (!ids.length) { said.textContent = "Tick one or more videos first."; return; }
    const body = new FormData();
    body.append("csrf", form.elements.csrf.value);
    ids.forEach(function (id) { body.append("video_id", id); show(id, "queued", ""); });
    fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                        headers: {"Accept": "application/json", "X-Requested-With": "fetch"}})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        said.textContent = answer.problem || (answer.queued + " video" + (answer.queued === 1 ? "" : "s") +
          " queued; the page shows each one's progress.");
      })
      .catch(function () { said.textContent = "The app did not answer; reload the page and try again."; })
      .finally(function () { if (!timer) poll(); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const ids = Array.from(form.querySelectorAll('input[name="video_id"]:checked')).map(function (b) { return b.value; });
    start(ids);
  });
  form.addEventListener("click", function (event) {
    const retry = event.target.closest(".video-retry");
    if (retry) { event.preventDefault(); start([retry.dataset.videoId]); }
  });
  if (busy().length) poll();
})();
