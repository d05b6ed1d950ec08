// "Fix it": an uploaded video TikTok would refuse for a reason a re-encode fixes (the upload's answer says
// "fixable") is re-encoded by the app (tiktok/web/fixes.py) into a new upload, and the page takes that one instead.
// compose.js tells this script which video the page shows ("composer:media" on the form) and takes the fixed one
// back ("composer:use-media"). A re-encode can take minutes for a long video: the page says so and shows the time
// it has taken, and the button stays disabled until the answer comes. (The Content-Security-Policy allows no inline
// script.)
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function clock(seconds) {
    var minutes = Math.floor(seconds / 60), rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function paragraph(text, className) {
    var p = document.createElement("p");
    p.textContent = text;
    if (className) { p.className = className; }
    return p;
  }

  function Fixer(form, box) {
    this.form = form;
    this.box = box;
    this.media = null;  // the upload the page shows
    this.fixing = null;  // the media id being fixed
    this.timer = null;
  }

  // The page shows ``media``: offer to fix it, say what a fix changed, or show nothing.
  Fixer.prototype.offer = function (media) {
    this.media = media;
    if (this.fixing) { return; }  // the answer for the file being fixed decides what shows
    this.box.textContent = "";
    if (media && media.fixed && media.fixed.changes) {
      var took = Math.round(media.fixed.seconds || 0);
      this.box.appendChild(paragraph("Fixed" + (took ? " (re-encoded in " + clock(took) + ")" : "") +
        ": this is a new copy made for TikTok; your original upload is kept. What changed:"));
      var list = document.createElement("ul");
      media.fixed.changes.forEach(function (change) {
        var li = document.createElement("li");
        li.textContent = change;
        list.appendChild(li);
      });
      this.box.appendChild(list);
      this.box.setAttribute("data-state", "fixed");
      this.box.hidden = false;
      return;
    }
    if (!media || !media.fixable) {
      this.box.hidden = true;
      this.box.setAttribute("data-state", "none");
      return;
    }
    var self = this, button = document.createElement("button");
    button.type = "button";
    button.id = "fix-media";
    button.className = "button";
    button.textContent = "Fix it";
    button.addEventListener("click", function () { self.fix(button); });
    this.box.appendChild(paragraph("TikTok would refuse this video, but re-encoding fixes it: the app can make an " +
      "H.264 MP4 copy within TikTok's limits and post that instead. Your original upload is kept."));
    this.box.appendChild(button);
    this.box.appendChild(paragraph("", "fix-status"));
    this.box.setAttribute("data-state", "offer");
    this.box.hidden = false;
  };

  Fixer.prototype.status = function (text) {
    var line = this.box.querySelector(".fix-status");
    if (line) { line.textContent = text; }
  };

  Fixer.prototype.fix = function (button) {
    var self = this, source = this.media.media_id, started = Date.now();
    var csrf = this.form.querySelector("input[name=csrf]").value;
    var url = this.box.getAttribute("data-fix-url").replace("/MEDIA_ID/", "/" + encodeURIComponent(source) + "/");
    this.fixing = source;
    button.disabled = true;
    button.textContent = "Fixing…";
    this.box.setAttribute("aria-busy", "true");
    this.box.setAttribute("data-state", "busy");
    var tick = function () {
      self.status("Re-encoding " + clock(Math.floor((Date.now() - started) / 1000)) + " so far. This takes about " +
        "as long as the video plays, longer for a big picture; keep this page open.");
    };
    tick();
    this.timer = setInterval(tick, 1000);
    fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"X-CSRF-Token": csrf, "X-File-Name": encodeURIComponent($("media-name").value || "")}})
      .then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; }, function () {
          return {ok: false, data: {error: "the app answered " + response.status + " without a message; reload " +
                                           "the page"}};
        });
      }).then(function (answer) {
        if (!answer.ok) { throw new Error(answer.data.error || "the app refused to fix it"); }
        self.done();
        if ($("media-id").value !== source) { return; }  // another file was chosen meanwhile: keep that one
        self.form.dispatchEvent(new CustomEvent("composer:use-media", {detail: answer.data}));
      }).catch(function (error) {
        self.done();
        if ($("media-id").value !== source) { return; }
        button.disabled = false;
        button.textContent = "Fix it";
        self.box.setAttribute("data-state", "error");
        self.status("Could not fix it: " + error.message);
      });
  };

  Fixer.prototype.done = function () {
    clearInterval(this.timer);
    this.timer = null;
    this.fixing = null;
    this.box.removeAttribute("aria-busy");
  };

  // Listen at once (deferred scripts run before DOMContentLoaded, when compose.js shows a saved upload).
  var form = $("compose-form"), box = $("media-fix");
  if (form && box) {
    var fixer = new Fixer(form, box);
    form.addEventListener("composer:media", function (event) { fixer.offer(event.detail); });
    $("video-file").addEventListener("change", function () {  // another file: a fix on its way no longer counts
      fixer.done();
      fixer.offer(null);
    });
  }
})();
