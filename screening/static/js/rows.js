// Progressive enhancement only: the forms work without this script.
document.addEventListener("DOMContentLoaded", function () {
  // After a failed submission, move focus to the first field with an error.
  var firstInvalid = document.querySelector("[aria-invalid='true'], .has-error input, .has-error select");
  if (document.getElementById("form-errors") && firstInvalid) {
    firstInvalid.focus();
  }
  // Ask before withdrawing: an irreversible step.
  document.querySelectorAll("button.danger").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm || button.textContent.trim() + "?")) {
        event.preventDefault();
      }
    });
  });
});
