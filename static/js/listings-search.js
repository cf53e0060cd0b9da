// Filter sheet on phones: a close button and Escape. Without this file the
// sheet still opens and closes from its summary and submits as a plain form.
(function () {
  "use strict";
  var sheet = document.querySelector(".filter-sheet");
  if (!sheet) { return; }
  var close = sheet.querySelector("[data-close-sheet]");
  if (close) {
    close.hidden = false;
    close.addEventListener("click", function () {
      sheet.open = false;
      sheet.querySelector("summary").focus();
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && sheet.open) { sheet.open = false; }
  });
})();
