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
    // The same checks as the server, before anything is sent over a slow line.
    var problems = [];
    var allowed = ["image/jpeg", "image/png", "image/webp"];
    if (input.files.length > Number(form.dataset.room)) { problems.push(form.dataset.tooMany); }
    Array.prototype.forEach.call(input.files, function (file) {
      if (file.size > Number(form.dataset.maxBytes)) { problems.push(file.name + " " + form.dataset.tooBig); }
      if (file.type && allowed.indexOf(file.type) === -1) { problems.push(file.name + " " + form.dataset.wrongType); }
    });
    if (problems.length) {
      status.textContent = problems.join(" ");
      return;
    }
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
