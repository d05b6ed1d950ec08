// The composer: pick the account, upload and check the video, count the caption, keep TikTok's posting rules as
// the person fills the form. The server checks every rule again (tiktok/posting/composition.py); this only stops
// a post that would be refused before it is sent. (The Content-Security-Policy allows no inline script.)
(function () {
  "use strict";
  var VIDEO_LIMIT = 2200, PHOTO_LIMIT = 4000;  // UTF-16 units: video title, photo description (reference 3.2, 3.4)

  function $(id) { return document.getElementById(id); }

  function captionText(description, tags) {
    // What the server builds: the trimmed description, then each new "#tag" (case-insensitive), joined by spaces.
    var text = description.replace(/\r\n/g, "\n").trim(), seen = {}, pieces = text ? [text] : [];
    tags.split(/[\s,]+/).forEach(function (word) {
      var bare = word.replace(/^#+/, ""), key = bare.toLowerCase();
      if (bare && !seen[key]) { seen[key] = true; pieces.push("#" + bare); }
    });
    return pieces.join(" ");
  }

  var offsetFor = window.TikTokTimes.offsetFor, browserZone = window.TikTokTimes.browserZone,
    zoneProblem = window.TikTokTimes.zoneProblem;  // times.js, loaded first by base.html

  function megabytes(bytes) {
    return bytes < 1e6 ? Math.ceil(bytes / 1e3) + " kB" : (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0) + " MB";
  }

  function Composer(form) {
    this.form = form;
    this.media = null;  // the upload route's answer for the current file
    this.uploading = false;
    this.maxBytes = Number(form.getAttribute("data-max-bytes"));
  }

  Composer.prototype.source = function () {
    var checked = this.form.querySelector("input[name=source]:checked");
    return checked ? checked.value : "upload";
  };

  Composer.prototype.showSource = function () {
    var source = this.source(), photo = source === "photos";
    this.form.querySelectorAll(".source-panel").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-source") !== source;
    });
    this.form.querySelectorAll("[data-video-only]").forEach(function (row) {
      var box = row.querySelector("input");
      row.hidden = photo;
      box.disabled = photo || box.hasAttribute("data-creator-disabled");
      if (photo) { box.checked = false; }
    });
    $("photo-interactions-note").hidden = !photo;
    $("caption-inbox-note").hidden = photo;
    $("preview").hidden = source !== "upload" || !this.media;
    $("caption-limit").textContent = String(photo ? PHOTO_LIMIT : VIDEO_LIMIT);
  };

  Composer.prototype.captionOk = function () {
    var units = captionText($("description").value, $("tags").value).length;  // JS strings count UTF-16 units
    var limit = this.source() === "photos" ? PHOTO_LIMIT : VIDEO_LIMIT;
    $("caption-count").textContent = String(units);
    $("caption-counter").classList.toggle("over", units > limit);
    return units <= limit;
  };

  Composer.prototype.disclosureOk = function () {
    var disclose = $("disclose").checked, yours = $("your-brand"), branded = $("branded"), privacy = $("privacy");
    var selfOnly = privacy.querySelector("option[value=SELF_ONLY]"), privateChosen = privacy.value === "SELF_ONLY";
    $("disclosure-options").hidden = !disclose;
    yours.disabled = !disclose;
    branded.disabled = !disclose || privateChosen;  // branded content is never "Only me"
    if (privateChosen) { branded.checked = false; }
    if (selfOnly) { selfOnly.disabled = disclose && branded.checked; }
    $("branded-privacy-note").hidden = !(disclose && privateChosen);
    $("privacy-branded-note").hidden = !(selfOnly && selfOnly.disabled);
    var label = branded.checked ? "Paid partnership" : yours.checked ? "Promotional content" : "";
    $("disclosure-label").textContent = label ? "Your post will be labelled “" + label + "”." :
      "With disclosure on, choose “Your brand”, “Branded content” or both.";
    var consent = $("consent-text");
    consent.textContent = consent.getAttribute(disclose && branded.checked ? "data-branded" : "data-music");
    return !disclose || yours.checked || branded.checked;
  };

  Composer.prototype.mediaOk = function () {
    if (this.source() !== "upload") { return true; }
    return !this.uploading && !!this.media && this.media.problems.length === 0;
  };

  Composer.prototype.update = function () {
    this.showSource();
    var media = this.mediaOk(), caption = this.captionOk(), disclosure = this.disclosureOk();
    $("post-now").disabled = $("post-schedule").disabled = !(media && caption && disclosure);
    $("post-inbox").disabled = !(media && caption);
  };

  Composer.prototype.checks = function (state, items) {
    var box = $("media-checks"), list = document.createElement("ul");
    box.setAttribute("data-state", state);
    box.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.className = item[0];
      li.textContent = item[1];
      list.appendChild(li);
    });
    box.appendChild(list);
  };

  Composer.prototype.showMedia = function (media) {
    this.media = media;
    $("media-id").value = media.media_id;
    if (media.original_name) { $("media-name").value = media.original_name; }
    var preview = $("preview");
    if (preview.getAttribute("src") !== media.preview_url) { preview.src = media.preview_url; }
    var limit = media.max_duration_s ? " (this account may post up to " + media.max_duration_s + " s)" : "";
    var items = [
      ["fact", "Format: " + media.container.toUpperCase() + ", " + media.codec_label],
      ["fact", "Resolution: " + media.width + " × " + media.height + " px" +
        (media.fps ? ", " + Math.round(media.fps * 100) / 100 + " fps" : "")],
      ["fact", "Length: " + (media.duration_s === null ? "unknown" : media.duration_s.toFixed(1) + " s") + limit],
      ["fact", "Size: " + megabytes(media.size_bytes)]
    ];
    media.problems.forEach(function (problem) { items.push(["problem", problem]); });
    items.push(media.problems.length ? ["problem", "This video cannot be posted: choose another file."] :
      ["ok", "Meets TikTok's requirements for this account."]);
    this.checks(media.problems.length ? "failed" : "ok", items);
  };

  Composer.prototype.upload = function (file) {
    var self = this;
    this.media = null;
    $("media-id").value = "";
    if (file.size > this.maxBytes) {
      this.checks("failed", [["problem", file.name + " is " + megabytes(file.size) + ", over TikTok's 4 GB limit."]]);
      return this.update();
    }
    this.uploading = true;
    this.checks("uploading", [["fact", "Uploading " + file.name + " (" + megabytes(file.size) + ")…"]]);
    this.update();
    var csrf = this.form.querySelector("input[name=csrf]").value;
    fetch(this.form.getAttribute("data-upload-url"), {
      method: "POST", body: file, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream",
                "X-File-Name": encodeURIComponent(file.name)}
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    }).then(function (answer) {
      if (!answer.ok) { throw new Error(answer.data.error || "the upload was refused"); }
      self.showMedia(answer.data);
    }).catch(function (error) {
      self.checks("error", [["problem", "Upload failed: " + error.message]]);
    }).then(function () {
      self.uploading = false;
      self.update();
    });
  };

  Composer.prototype.submitting = function (event) {
    var local = $("post-at").value;
    if (local) { $("tz-offset").value = offsetFor(local) || $("tz-offset").value; }
    $("tz-zone").value = browserZone();
    var problem = local ? zoneProblem(local) : "";
    var button = event.submitter;
    if (problem && button && button.value === "schedule") {
      event.preventDefault();
      $("post-at").focus();
      $("tz-note").textContent = problem;
      return;
    }
    if (button && button.value === "schedule" && !local) {
      event.preventDefault();
      $("post-at").focus();
      $("tz-note").textContent = "Choose the date and time to post at, then press Schedule again.";
    }
  };

  Composer.prototype.start = function () {
    var self = this, update = function () { self.update(); };
    this.form.addEventListener("input", update);
    this.form.addEventListener("change", update);
    this.form.addEventListener("submit", function (event) { self.submitting(event); });
    $("video-file").addEventListener("change", function () {
      if (this.files.length) { self.upload(this.files[0]); }
    });
    var saved = this.form.getAttribute("data-media");
    if (saved) { this.showMedia(JSON.parse(saved)); }
    this.update();
  };

  document.addEventListener("DOMContentLoaded", function () {
    var account = $("account"), go = $("account-go"), form = $("compose-form");
    if (account && go) {
      go.hidden = true;  // choosing an account reloads the page for it
      account.addEventListener("change", function () { account.form.submit(); });
    }
    if (form) { new Composer(form).start(); }
    if ($("tz-name") && browserZone()) { $("tz-name").textContent = " (" + browserZone() + ")"; }
  });
})();
