// Upload progress for the photo form. Without this script the form posts as usual.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = form.querySelector(".upload-form__progress");
  var status = form.querySelector(".upload-form__status");
  var button = form.querySelector("button[type=submit]");

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    if (!input || !input.files.length) { return; }
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.hidden = false;
      bar.value = percent;
      status.textContent = percent < 100
        ? form.dataset.uploading + " " + percent + "%"
        : form.dataset.processing;
    });
    request.addEventListener("load", function () {
      // The server answers with the page to show (the photo list or the errors).
      document.open();
      document.write(request.responseText);
      document.close();
      if (request.responseURL) { window.history.replaceState(null, "", request.responseURL); }
    });
    request.addEventListener("error", function () {
      status.textContent = form.dataset.failed;
      button.disabled = false;
    });
    button.disabled = true;
    status.textContent = form.dataset.uploading;
    request.send(new FormData(form));
  });
})();
