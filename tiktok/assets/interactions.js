// Likes and bookmarks in place (tiktok.web.interactions): the forms work without this script (the server redirects
// back); with it, they are sent with Accept: application/json and the button and counts change where they are.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.classList || !form.classList.contains("interact") || !window.fetch) { return; }
  event.preventDefault();
  var bar = form.closest(".interactions");
  var problem = bar && bar.querySelector(".interact-problem");
  fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                      headers: {"Accept": "application/json"}})
    .then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    })
    .then(function (answer) {
      if (!answer.ok) { if (problem) { problem.textContent = answer.data.error || "That did not work; reload the page."; } return; }
      if (problem) { problem.textContent = ""; }
      update(bar, answer.data);
    })
    .catch(function () { if (problem) { problem.textContent = "The app did not answer; try again."; } });
});

function update(bar, counts) {
  var states = {like: [counts.liked, "Liked", "Like"], bookmark: [counts.bookmarked, "Bookmarked", "Bookmark"]};
  bar.querySelectorAll("form.interact").forEach(function (form) {
    var state = states[form.getAttribute("data-kind")];
    if (!state) { return; }
    var on = state[0], button = form.querySelector("button");
    form.querySelector('input[name="value"]').value = on ? "0" : "1";
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.querySelector(".label").textContent = on ? state[1] : state[2];
  });
  bar.querySelectorAll(".count.likes").forEach(function (el) { el.textContent = counts.likes; });
  bar.querySelectorAll(".count.comments").forEach(function (el) { el.textContent = counts.comments; });
}
