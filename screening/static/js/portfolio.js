// Portfolio pages: progress polling and "copy link". Progressive enhancement only: every page
// works without this script (a "Reload" link stands in for the polling).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(function () {
        button.textContent = button.textContent.replace(/.*/, "\u2713 " + button.textContent);
      });
    });
  });
  document.querySelectorAll(".progress-box[data-progress-url]").forEach(function (box) {
    var status = box.dataset.status;
    if (status === "done" || status === "failed" || status === "ready") { return; }
    var bar = box.querySelector("progress");
    var label = box.querySelector(".progress-status");
    function poll() {
      fetch(box.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (bar && data.percent !== undefined) { bar.max = 100; bar.value = data.percent; }
          if (label) { label.textContent = data.status; }
          if (data.status === "done" || data.status === "failed" || data.status === "ready") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        });
    }
    window.setTimeout(poll, 500);
  });
});
