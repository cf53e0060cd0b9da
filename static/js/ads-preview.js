// Live preview on the creative form: the ad in each placement, at phone and
// desktop width, redrawn as the advertiser types or picks a picture. Without
// script the saved creatives' previews below still show every placement.
(function () {
  "use strict";
  var form = document.querySelector("[data-preview-form]");
  var panel = document.querySelector("[data-live-preview]");
  if (!form || !panel) return;
  var sponsored = document.getElementById("ad-template-sponsored").content.textContent;
  var imageUrl = "";
  var frames = panel.querySelectorAll("[data-live-placement]");

  function field(name) {
    var el = form.elements[name];
    return el ? el.value.trim() : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function draw(screen) {
    var placement = screen.dataset.livePlacement;
    var shapes = { home: "ad-banner", search: "ad-card", listing: "ad-box", inbox: "ad-line" };
    var root = el(placement === "search" ? "div" : "aside", shapes[placement]);
    var label = el("p", "ad-label", sponsored);
    var link = el("a", shapes[placement] + "__link");
    link.href = "#preview";
    if (imageUrl) {
      var img = el("img", shapes[placement] + "__img");
      img.src = imageUrl;
      img.alt = field("alt_text");
      link.appendChild(img);
    }
    var text = el("span", shapes[placement] + "__body");
    if (placement === "inbox") text.appendChild(label);
    text.appendChild(el("strong", "ad-headline", field("headline") || "…"));
    text.appendChild(el("span", "ad-text", field("text")));
    text.appendChild(el("span", "ad-domain", field("display_domain")));
    link.appendChild(text);
    if (placement !== "inbox") root.appendChild(label);
    root.appendChild(link);
    screen.replaceChildren(root);
  }

  function redraw() { frames.forEach(draw); }

  form.addEventListener("input", redraw);
  var file = form.elements.image;
  if (file) {
    // A data: URL, which the site's Content-Security-Policy allows for images.
    file.addEventListener("change", function () {
      var chosen = file.files && file.files[0];
      if (!chosen) { imageUrl = ""; redraw(); return; }
      var reader = new FileReader();
      reader.onload = function () { imageUrl = reader.result; redraw(); };
      reader.readAsDataURL(chosen);
    });
  }
  panel.hidden = false;
  redraw();
})();
