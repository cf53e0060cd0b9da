/*
 * Maps drawn with Leaflet (static/vendor/leaflet) on [data-map] elements.
 * The page's text location stays until a tile has loaded, and comes back if
 * tiles cannot load (offline, blocked): a map of grey squares helps nobody.
 * Search maps ([data-search-map]) show the results of the page and can
 * search the area in view: the list below is the same search, so list and
 * map are always in step.
 */
(function () {
  "use strict";
  if (!window.L) { return; }

  function tiles(el, map) {
    var loaded = false;
    var fallback = el.parentNode.querySelector("[data-map-fallback]");
    var layer = L.tileLayer(el.dataset.tiles, {
      attribution: el.dataset.attribution,
      maxZoom: 18,
      crossOrigin: false
    }).addTo(map);
    layer.on("tileload", function () {
      if (loaded) { return; }
      loaded = true;
      el.classList.add("map--ready");
      if (fallback) { fallback.hidden = true; }
    });
    // No tile within a few seconds: give the space back to the text.
    window.setTimeout(function () {
      if (!loaded) { el.hidden = true; if (fallback) { fallback.hidden = false; } }
    }, 6000);
  }

  function listingMap(el) {
    el.hidden = false;
    var lat = parseFloat(el.dataset.lat), lng = parseFloat(el.dataset.lng);
    var zoom = parseInt(el.dataset.zoom, 10) || 14;
    var map = L.map(el, { scrollWheelZoom: false }).setView([lat, lng], zoom);
    tiles(el, map);
    if (zoom >= 16) {
      L.marker([lat, lng], { title: el.dataset.label, alt: el.dataset.label }).addTo(map);
    } else {
      // Locality precision: an area, not a house.
      L.circle([lat, lng], { radius: 700, color: "#003893", weight: 2 }).addTo(map)
        .bindTooltip(el.dataset.label);
    }
  }

  function searchMap(el) {
    el.hidden = false;
    var points = JSON.parse(el.dataset.points || "[]");
    var map = L.map(el);
    tiles(el, map);
    var bounds = [];
    points.forEach(function (p) {
      var marker = L.circleMarker([p.lat, p.lng], { radius: 10, color: "#c8102e", weight: 2 })
        .addTo(map);
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = p.label;
      box.appendChild(link);
      marker.bindPopup(box);
      bounds.push([p.lat, p.lng]);
    });
    var initial = el.dataset.bbox ? el.dataset.bbox.split(",").map(parseFloat) : null;
    if (initial && initial.length === 4) {
      map.fitBounds([[initial[0], initial[1]], [initial[2], initial[3]]]);
    } else if (bounds.length) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
    } else {
      map.setView([27.7, 85.33], 12);
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button map__search-area";
    button.textContent = el.dataset.searchAreaLabel;
    button.hidden = true;
    el.parentNode.insertBefore(button, el.nextSibling);
    map.on("moveend", function () { button.hidden = false; });
    button.addEventListener("click", function () {
      var b = map.getBounds();
      var params = new URLSearchParams(window.location.search);
      params.set("bbox", [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]
        .map(function (n) { return n.toFixed(4); }).join(","));
      params.set("view", "map");
      params.delete("page");
      window.location.search = params.toString();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), listingMap);
  Array.prototype.forEach.call(document.querySelectorAll("[data-search-map]"), searchMap);
})();
