// Counts a viewable impression: at least half of an ad on screen for one
// second sends its signed one-time token once. Pages loaded ahead of time
// (prerendering) wait until they are really shown.
(function () {
  "use strict";
  var SECONDS = 1000;
  var ads = document.querySelectorAll("[data-ad-view]");
  if (!ads.length || !("IntersectionObserver" in window)) return;

  function send(ad) {
    if (ad.dataset.adSent) return;
    ad.dataset.adSent = "1";
    var body = new FormData();
    body.append("token", ad.dataset.adView);
    var url = ad.dataset.adBeacon;
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    fetch(url, { method: "POST", body: body, credentials: "same-origin", keepalive: true });
  }

  var timers = new WeakMap();
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var ad = entry.target;
      if (entry.intersectionRatio >= 0.5 && document.visibilityState === "visible") {
        if (!timers.has(ad)) {
          timers.set(ad, setTimeout(function () {
            send(ad);
            observer.unobserve(ad);
          }, SECONDS));
        }
      } else if (timers.has(ad)) {
        clearTimeout(timers.get(ad));
        timers.delete(ad);
      }
    });
  }, { threshold: [0, 0.5, 1] });

  function start() {
    ads.forEach(function (ad) { observer.observe(ad); });
  }
  if (document.prerendering) {
    document.addEventListener("prerenderingchange", start, { once: true });
  } else {
    start();
  }
  // A tab hidden before the second is up does not count.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") {
      ads.forEach(function (ad) {
        if (timers.has(ad)) { clearTimeout(timers.get(ad)); timers.delete(ad); }
      });
    } else {
      ads.forEach(function (ad) {
        if (!ad.dataset.adSent) { observer.unobserve(ad); observer.observe(ad); }
      });
    }
  });
})();
