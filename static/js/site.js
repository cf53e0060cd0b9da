// Small enhancements shared by every page. Every page works without this file.
(function () {
  "use strict";
  // Close the phone menu when a link in it is followed or Escape is pressed.
  var menu = document.querySelector(".nav-menu");
  if (menu) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) { menu.open = false; }
    });
    if (window.matchMedia("(min-width: 48rem)").matches) {
      menu.open = true;
      menu.classList.add("nav-menu--desktop");
    }
  }
})();
