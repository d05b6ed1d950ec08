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

  // A file goes up in slices (tiktok/web/uploads.py): the server first checks the token, the account, the size
  // and its disk, then takes slices of the size it names, a few at once, each written in its place. A slice whose
  // connection drops is sent again after asking the server which slices arrived, so an upload resumes where it was.
  var IN_FLIGHT = 4, TRIES = 6, RETRY_MS = 500, ROUNDS = 3;  // 6 tries wait 0.5 + 1 + 2 + 4 + 8 s between them

  function Refused(message) { this.message = message; }  // the server said no: sending again would not help
  Refused.prototype = Object.create(Error.prototype);

  function wait(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }

  function SlicedUpload(file, startUrl, csrf, progress, kind) {
    this.file = file;
    this.kind = kind || "video";  // "photo": the server's cap for a picture, and its conversion at the finish
    this.startUrl = startUrl;
    this.csrf = csrf;
    this.progress = progress;
    this.url = null;  // this upload's own address, once started
    this.arrived = {};  // slice index -> true, as the server confirmed
    this.moving = {};  // slice index -> bytes of it the browser has sent so far, while it is on its way
    this.sent = 0;
    this.abandoned = false;  // the page dropped it (another file chosen, the page left)
    this.failed = false;  // one slice failed for good: the others stop too
  }

  SlicedUpload.prototype.call = function (method, url, body, type) {
    var headers = {"X-CSRF-Token": this.csrf};
    if (type) { headers["Content-Type"] = type; }
    return fetch(url, {method: method, body: body, credentials: "same-origin", headers: headers})
      .then(function (response) {
        return response.json().then(function (data) {
          return {ok: response.ok, status: response.status, data: data};
        }, function () {
          return {ok: false, status: response.status, data: {error: "the app did not answer as the page expects " +
                  "(HTTP " + response.status + "); reload the page"}};
        });
      });
  };

  // PUT one slice with XMLHttpRequest rather than fetch: only it tells how much of a body has gone, so the bar moves
  // while a 64 MiB slice is on its way, not once per slice. Answers as ``call`` does; a dropped connection rejects.
  SlicedUpload.prototype.put = function (index, piece) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      request.open("PUT", self.url + "/" + index);
      request.setRequestHeader("X-CSRF-Token", self.csrf);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.upload.onprogress = function (event) { self.going(index, event.loaded); };
      request.onload = function () {
        var data;
        try { data = JSON.parse(request.responseText); } catch (error) {
          data = {error: "the app did not answer as the page expects (HTTP " + request.status + "); reload the page"};
        }
        resolve({ok: request.status >= 200 && request.status < 300, status: request.status, data: data});
      };
      request.onerror = request.onabort = request.ontimeout = function () {
        self.going(index, 0);
        reject(new Error("the connection dropped"));
      };
      request.send(piece);
    });
  };

  SlicedUpload.prototype.going = function (index, loaded) {
    if (this.arrived[index]) { return; }
    this.moving[index] = loaded;
    this.report();
  };

  SlicedUpload.prototype.report = function () {
    var total = this.sent;
    for (var index in this.moving) { total += this.moving[index]; }
    this.progress(Math.min(total, this.file.size));
  };

  SlicedUpload.prototype.run = function () {
    var self = this, file = this.file;
    return this.call("POST", this.startUrl, JSON.stringify({name: file.name, size: file.size, kind: this.kind}),
                     "application/json")
      .then(function (answer) {
        if (!answer.ok) { throw new Refused(answer.data.error || "the upload was refused"); }
        self.url = answer.data.url;
        self.sliceBytes = answer.data.slice_bytes;
        var all = [];
        for (var i = 0; i < answer.data.slices; i += 1) { all.push(i); }
        return self.round(all, 1);
      }).catch(function (error) {
        self.forget();  // nothing is left behind on the server
        throw error;
      });
  };

  // Send ``indexes`` (a few at once), then finish; a finish that names missing slices sends those and tries again.
  SlicedUpload.prototype.round = function (indexes, number) {
    var self = this, queue = indexes.slice(), workers = [];
    function next() {
      if (self.abandoned || self.failed) { return Promise.reject(new Error("stopped")); }
      if (!queue.length) { return Promise.resolve(); }
      return self.sendSlice(queue.shift(), 1).then(next, function (error) { self.failed = true; throw error; });
    }
    for (var n = 0; n < Math.min(IN_FLIGHT, queue.length); n += 1) { workers.push(next()); }
    return Promise.all(workers).then(function () {
      return self.call("POST", self.url + "/finish");
    }).then(function (answer) {
      if (answer.ok) { self.url = null; return answer.data; }
      if (answer.status === 409 && answer.data.missing && number < ROUNDS) {
        answer.data.missing.forEach(function (i) {
          if (self.arrived[i]) {  // counted, yet the server lacks it: its bytes are to be sent again
            delete self.arrived[i];
            self.sent -= Math.min(self.sliceBytes, self.file.size - i * self.sliceBytes);
          }
        });
        return self.round(answer.data.missing, number + 1);
      }
      throw new Refused(answer.data.error || "the upload was refused");
    });
  };

  SlicedUpload.prototype.sendSlice = function (index, attempt) {
    var self = this, start = index * this.sliceBytes;
    var piece = this.file.slice(start, Math.min(start + this.sliceBytes, this.file.size));
    return this.put(index, piece).then(function (answer) {
      if (answer.ok) { return self.confirmed(index, piece.size); }
      if (answer.status < 500 || answer.status === 507) {  // refused, or the disk is full: the server said why
        throw new Refused(answer.data.error || "slice " + index + " was refused");
      }
      throw new Error(answer.data.error || "the app answered " + answer.status);
    }).catch(function (error) {
      if (error instanceof Refused || self.abandoned) { throw error; }
      if (attempt >= TRIES) {
        throw new Error("the connection failed " + TRIES + " times while sending part of the file (" +
                        error.message + "); choose the file again");
      }
      return wait(RETRY_MS * Math.pow(2, attempt - 1)).then(function () {
        return self.call("GET", self.url);  // the slice may have arrived before the connection dropped
      }).then(function (answer) {
        if (!answer.ok && answer.status < 500) { throw new Refused(answer.data.error || "the upload is gone"); }
        if (answer.ok && answer.data.missing.indexOf(index) < 0) { return self.confirmed(index, piece.size); }
        return self.sendSlice(index, attempt + 1);
      }, function () {
        return self.sendSlice(index, attempt + 1);  // still no connection: the next try waits longer
      });
    });
  };

  SlicedUpload.prototype.confirmed = function (index, size) {
    if (!this.arrived[index]) {
      this.arrived[index] = true;
      this.sent += size;
    }
    delete this.moving[index];
    this.report();
  };

  SlicedUpload.prototype.abandon = function () {
    this.abandoned = true;
    this.forget();
  };

  // Drop this upload on the server now (its part file goes at once, not after an hour idle); ``keepalive`` lets the
  // request outlive the page.
  SlicedUpload.prototype.forget = function () {
    if (!this.url) { return; }
    fetch(this.url, {method: "DELETE", credentials: "same-origin", keepalive: true,
                     headers: {"X-CSRF-Token": this.csrf}}).catch(function () {});
    this.url = null;
  };

  function Composer(form) {
    this.form = form;
    this.media = null;  // the upload route's answer for the current file
    this.uploading = false;
    this.sending = null;  // the SlicedUpload on its way
    this.maxBytes = Number(form.getAttribute("data-max-bytes"));
    this.maxPhotoBytes = Number(form.getAttribute("data-max-photo-bytes"));
    this.photos = [];  // the upload route's answers for the photos, in the post's order
    this.photoQueue = [];  // files chosen and not sent yet
    this.photoSending = null;  // the SlicedUpload of the photo on its way
    this.photoProgress = "";
    this.photoNotes = [];  // what went wrong with the files chosen last: [className, sentence]
    this.coverId = null;  // the media id of the cover photo
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
    this.form.querySelector("section.checks").hidden = source !== "upload";  // photos have their own lines
    $("caption-limit").textContent = String(photo ? PHOTO_LIMIT : VIDEO_LIMIT);
  };

  Composer.prototype.captionOk = function () {
    var units = captionText($("description").value, $("tags").value).length;  // JS strings count UTF-16 units
    var limit = this.source() === "photos" ? PHOTO_LIMIT : VIDEO_LIMIT;
    $("caption-count").textContent = String(units);
    $("caption-counter").classList.toggle("over", units > limit);
    return units <= limit;
  };

  // TikTok's exact words come from the page (#disclosure's data-*: DISCLOSURE_TEXTS in tiktok/posting/composition.py).
  Composer.prototype.disclosureOk = function () {
    var disclose = $("disclose").checked, yours = $("your-brand"), branded = $("branded"), privacy = $("privacy");
    var selfOnly = privacy.querySelector("option[value=SELF_ONLY]"), privateChosen = privacy.value === "SELF_ONLY";
    var said = function (name) { return $("disclosure").getAttribute("data-" + name); };
    $("disclosure-options").hidden = !disclose;
    yours.disabled = !disclose;
    branded.disabled = !disclose || privateChosen;  // branded content is never "Only me"
    if (privateChosen) { branded.checked = false; }
    if (selfOnly) {
      selfOnly.disabled = disclose && branded.checked;
      if (selfOnly.disabled) { selfOnly.title = said("branded-not-private"); }
      else { selfOnly.removeAttribute("title"); }
    }
    $("branded-privacy-note").hidden = !(disclose && privateChosen);
    $("privacy-branded-note").hidden = !(selfOnly && selfOnly.disabled);
    var label = !disclose ? "" : branded.checked ? said("paid-partnership") : yours.checked ? said("promotional") : "";
    var sentence = $("disclosure-label"), ok = !disclose || yours.checked || branded.checked;
    sentence.hidden = !label;
    sentence.textContent = label ? said("labeled-as").replace("photo/video", this.source() === "photos" ? "photo" :
      "video").replace("{label}", label) : "";
    $("disclosure-needed").hidden = ok;
    var consent = $("consent-text");
    consent.textContent = consent.getAttribute(disclose && branded.checked ? "data-branded" : "data-music");
    return ok;
  };

  Composer.prototype.mediaOk = function () {
    if (this.source() === "photos") { return !this.photoSending && !this.photoQueue.length; }
    if (this.source() !== "upload") { return true; }
    return !this.uploading && !!this.media && this.media.problems.length === 0;
  };

  Composer.prototype.update = function () {
    this.showSource();
    var media = this.mediaOk(), caption = this.captionOk(), disclosure = this.disclosureOk();
    $("post-now").disabled = $("post-schedule").disabled = !(media && caption && disclosure);
    var waiting = disclosure ? "" : $("disclosure").getAttribute("data-needed");  // TikTok's hover text
    ["post-now", "post-schedule"].forEach(function (id) {
      if (waiting) { $(id).title = waiting; } else { $(id).removeAttribute("title"); }
    });
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
    this.form.dispatchEvent(new CustomEvent("composer:media", {detail: media}));  // fix.js offers "Fix it"
  };

  Composer.prototype.upload = function (file) {
    var self = this;
    if (this.sending) { this.sending.abandon(); }  // another file chosen: the one on its way is dropped
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
    var sending = this.sending = new SlicedUpload(file, this.form.getAttribute("data-upload-url"), csrf,
      function (sent) {
        if (sending !== self.sending) { return; }
        self.checks("uploading", [["fact", "Uploading " + file.name + ": " + Math.floor(100 * sent / file.size) +
          " % (" + megabytes(sent) + " of " + megabytes(file.size) + ")…"]]);
      });
    sending.run().then(function (media) {
      if (sending === self.sending) { self.showMedia(media); }
    }).catch(function (error) {
      if (sending === self.sending && !sending.abandoned) {
        self.checks("error", [["problem", "Upload failed: " + error.message]]);
      }
    }).then(function () {
      if (sending !== self.sending) { return; }
      self.sending = null;
      self.uploading = false;
      self.update();
    });
  };

  // Photos: each file goes up on its own, one after another (the server holds only a few uploads per browser), and
  // the app converts it when TikTok would refuse it (tiktok/web/photos.py), saying what it changed. The list keeps
  // the order chosen; photos can be moved, removed and one made the cover. The form sends their ids in that order.
  var MAX_PHOTOS = 35;  // reference 3.4

  Composer.prototype.choosePhotos = function (files) {
    var self = this, room = MAX_PHOTOS - this.photos.length - this.photoQueue.length - (this.photoSending ? 1 : 0);
    this.photoNotes = [];
    Array.prototype.forEach.call(files, function (file) {
      if (room <= 0) {
        self.photoNotes.push(["problem", file.name + " was left out: TikTok takes at most " + MAX_PHOTOS +
          " photos in a post."]);
      } else if (file.size > self.maxPhotoBytes) {
        self.photoNotes.push(["problem", file.name + " is " + megabytes(file.size) + ", over the " +
          megabytes(self.maxPhotoBytes) + " the app takes for one picture: export a smaller copy."]);
      } else {
        room -= 1;
        self.photoQueue.push(file);
      }
    });
    this.nextPhoto();
    this.showPhotos();
  };

  Composer.prototype.nextPhoto = function () {
    var self = this;
    if (this.photoSending || !this.photoQueue.length) { return; }
    var file = this.photoQueue.shift(), csrf = this.form.querySelector("input[name=csrf]").value;
    this.photoProgress = "Uploading " + file.name + " (" + megabytes(file.size) + ")…";
    var sending = this.photoSending = new SlicedUpload(file, this.form.getAttribute("data-upload-url"), csrf,
      function (sent) {
        self.photoProgress = "Uploading " + file.name + ": " + Math.floor(100 * sent / file.size) + " %…";
        if (sent >= file.size) { self.photoProgress = "Converting " + file.name + " for TikTok…"; }
        self.showPhotos();
      }, "photo");
    sending.run().then(function (photo) {
      if (!sending.abandoned) { self.photos.push(photo); }
    }).catch(function (error) {
      if (!sending.abandoned) { self.photoNotes.push(["problem", file.name + ": " + error.message]); }
    }).then(function () {
      if (self.photoSending === sending) { self.photoSending = null; }
      self.nextPhoto();
      self.showPhotos();
      self.update();
    });
  };

  Composer.prototype.photoAction = function (action, index) {
    var photos = this.photos, other = action === "up" ? index - 1 : index + 1;
    if (action === "remove") {
      photos.splice(index, 1);  // the kept file stays in the media library until its cleanup
    } else if (other >= 0 && other < photos.length) {
      var moved = photos[index];
      photos[index] = photos[other];
      photos[other] = moved;
    }
    this.showPhotos();
    this.update();
  };

  function element(tag, className, text) {
    var made = document.createElement(tag);
    if (className) { made.className = className; }
    if (text !== undefined) { made.textContent = text; }
    return made;
  }

  function button(label, action, index, title) {
    var made = element("button", "button small", label);
    made.type = "button";
    made.setAttribute("data-action", action);
    made.setAttribute("data-index", String(index));
    made.title = title;
    return made;
  }

  Composer.prototype.photoItem = function (photo, index) {
    var item = element("li", "photo"), picture = element("img"), about = element("div", "photo-about");
    item.setAttribute("data-media-id", photo.media_id);
    picture.src = photo.thumb_url;
    picture.alt = "";
    picture.loading = "lazy";
    about.appendChild(element("strong", "photo-name", photo.original_name));
    about.appendChild(element("span", "photo-facts", " " + photo.width + " × " + photo.height + " px, " +
      megabytes(photo.size_bytes)));
    about.appendChild(element("p", "photo-changes" + (photo.changes.length ? " changed" : ""), photo.changes.length ?
      "Changed for TikTok: " + photo.changes.join("; ") + "." : "TikTok takes it as it is."));
    var controls = element("div", "photo-controls"), cover = element("label", "photo-cover"),
      radio = element("input");
    radio.type = "radio";
    radio.name = "cover_choice";  // the server reads photo_cover, which this sets
    radio.value = photo.media_id;
    radio.checked = photo.media_id === this.coverId;
    cover.appendChild(radio);
    cover.appendChild(document.createTextNode(" Cover"));
    controls.appendChild(cover);
    controls.appendChild(button("↑", "up", index, "Move up"));
    controls.appendChild(button("↓", "down", index, "Move down"));
    controls.appendChild(button("Remove", "remove", index, "Leave this photo out of the post"));
    about.appendChild(controls);
    item.appendChild(picture);
    item.appendChild(about);
    return item;
  };

  Composer.prototype.showPhotos = function () {
    var self = this, list = $("photo-list"), ids = this.photos.map(function (photo) { return photo.media_id; });
    if (ids.indexOf(this.coverId) < 0) { this.coverId = ids.length ? ids[0] : null; }
    list.textContent = "";
    this.photos.forEach(function (photo, index) { list.appendChild(self.photoItem(photo, index)); });
    $("photo-ids").value = ids.join(" ");
    if (ids.length) { $("photo-cover").value = String(ids.indexOf(this.coverId) + 1); }
    $("photo-cover-row").hidden = ids.length > 0;  // the list's "Cover" buttons choose it
    var items = this.photoNotes.slice();
    if (this.photoSending) { items.push(["fact", this.photoProgress]); }
    if (this.photoQueue.length) { items.push(["fact", this.photoQueue.length + " more to send after this one."]); }
    var box = $("photo-checks"), notes = element("ul");
    box.setAttribute("data-state", this.photoSending || this.photoQueue.length ? "uploading" :
      this.photoNotes.length ? "failed" : ids.length ? "ok" : "none");
    box.textContent = "";
    items.forEach(function (item) { notes.appendChild(element("li", item[0], item[1])); });
    box.appendChild(notes);
  };

  Composer.prototype.startPhotos = function () {
    var self = this, saved = this.form.getAttribute("data-photos");
    this.photos = saved ? JSON.parse(saved) : [];
    var chosen = Number($("photo-cover").value) - 1;
    this.coverId = this.photos[chosen] ? this.photos[chosen].media_id : null;
    $("photo-files").addEventListener("change", function () {
      if (this.files.length) { self.choosePhotos(this.files); }
      this.value = "";  // the same file chosen again is a new choice
    });
    $("photo-list").addEventListener("click", function (event) {
      var target = event.target.closest("button[data-action]");
      if (target) { self.photoAction(target.getAttribute("data-action"), Number(target.getAttribute("data-index"))); }
    });
    $("photo-list").addEventListener("change", function (event) {
      if (event.target.name === "cover_choice") {
        self.coverId = event.target.value;
        self.showPhotos();
      }
    });
    this.showPhotos();
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

  // Before Schedule: when a time is picked, ask the app how many of the account's posts that day holds
  // (/posts/new/day, tiktok/web/compose.py) and show its warning with the "Schedule anyway" box; a later pick's
  // answer wins. The server refuses a full day without the box either way.
  Composer.prototype.checkDay = function () {
    var box = $("day-warning"), local = $("post-at").value, asked = (this.dayAsked || 0) + 1;
    this.dayAsked = asked;
    var quiet = function () { box.hidden = true; $("full-day-ok").checked = false; };
    if (!box || !local) { if (box) { quiet(); } return; }
    var query = new URLSearchParams({open_id: this.form.elements.open_id.value, post_at_local: local,
                                     offset: offsetFor(local) || "", zone: browserZone() || ""});
    var self = this;
    fetch(box.getAttribute("data-url") + "?" + query, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(function (answer) {
        if (self.dayAsked !== asked) { return; }
        if (!answer.warning) { quiet(); return; }
        $("day-warning-text").textContent = answer.warning;
        box.hidden = false;
      }, function () {});  // no answer: the server still checks when the form is sent
  };

  Composer.prototype.start = function () {
    var self = this, update = function () { self.update(); };
    $("post-at").addEventListener("change", function () { self.checkDay(); });
    if ($("post-at").value && $("day-warning").hidden) { this.checkDay(); }  // the calendar's "compose for this day"
    this.form.addEventListener("input", update);
    this.form.addEventListener("change", update);
    this.form.addEventListener("submit", function (event) { self.submitting(event); });
    window.addEventListener("pagehide", function () {
      if (self.sending) { self.sending.abandon(); }
      if (self.photoSending) { self.photoSending.abandon(); }
    });
    this.startPhotos();
    $("video-file").addEventListener("change", function () {
      if (this.files.length) { self.upload(this.files[0]); }
    });
    this.form.addEventListener("composer:use-media", function (event) {  // fix.js: the fixed copy, in its place
      self.showMedia(event.detail);
      self.update();
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
