/*
 * Bikram Sambat picker beside every date input: year, month and day in BS that
 * fill the AD date the form sends (and follow it when the AD date is changed).
 * Works offline: the month lengths (BS 2070-2099, from the same table the
 * server uses; a test compares them) are in this file. Without this script
 * the AD date input stays as it is, and a BS date typed as text (2083-08-15)
 * is read by the server too.
 */
(function () {
  "use strict";
  var TABLE = /* BS-TABLE */{"first":[2070,1,1,2013,4,14],"months":[[31,31,31,32,31,31,29,30,30,29,30,30],[31,31,32,31,31,31,30,29,30,29,30,30],[31,32,31,32,31,30,30,29,30,29,30,30],[31,32,31,32,31,30,30,30,29,29,30,31],[31,31,31,32,31,31,30,29,30,29,30,30],[31,31,32,31,31,31,30,29,30,29,30,30],[31,32,31,32,31,30,30,30,29,29,30,30],[31,32,31,32,31,30,30,30,29,30,29,31],[31,31,31,32,31,31,30,29,30,29,30,30],[31,31,32,31,31,31,30,29,30,29,30,30],[31,32,31,32,31,30,30,30,29,29,30,30],[31,32,31,32,31,30,30,30,29,30,29,31],[31,31,32,31,31,31,30,29,30,29,30,30],[31,31,32,31,31,31,30,29,30,29,30,30],[31,31,32,31,31,30,30,30,29,30,30,30],[31,32,31,32,30,31,30,30,29,30,30,30],[30,32,31,32,31,30,30,30,29,30,30,30],[31,31,32,31,31,31,30,29,30,30,30,30],[30,31,32,32,30,31,30,30,29,30,30,30],[30,32,31,32,31,30,30,30,29,30,30,30],[30,32,31,32,31,30,30,30,29,30,30,30],[31,31,32,31,31,31,30,30,29,30,30,30],[30,31,32,32,31,30,30,30,29,30,30,30],[30,32,31,32,31,30,30,30,29,30,30,30],[31,31,32,31,31,30,30,30,29,30,30,30],[31,31,32,31,31,31,30,29,30,30,30,30],[30,31,32,32,31,30,30,29,30,29,30,30],[31,32,31,32,31,30,30,30,29,30,30,30],[31,31,32,31,31,31,29,30,29,30,29,31],[31,31,32,31,31,31,30,29,29,30,30,30]]}/* END-BS-TABLE */;
  var DAY = 86400000;
  var lang = document.documentElement.lang || "en";
  var nepali = lang.indexOf("ne") === 0;
  var MONTHS = nepali
    ? ["वैशाख", "जेठ", "असार", "साउन", "भदौ", "असोज", "कात्तिक", "मंसिर", "पुस", "माघ", "फागुन", "चैत"]
    : ["Baisakh", "Jestha", "Asar", "Shrawan", "Bhadra", "Asoj", "Kartik", "Mangsir", "Poush", "Magh", "Falgun", "Chaitra"];
  var DIGITS = "०१२३४५६७८९";
  var epoch = Date.UTC(TABLE.first[3], TABLE.first[4] - 1, TABLE.first[5]);
  var lastYear = TABLE.first[0] + TABLE.months.length - 1;

  function digits(n) {
    var s = String(n);
    return nepali ? s.replace(/[0-9]/g, function (d) { return DIGITS[+d]; }) : s;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function toAd(y, m, d) {
    var days = 0;
    for (var yy = TABLE.first[0]; yy < y; yy++) {
      for (var k = 0; k < 12; k++) { days += TABLE.months[yy - TABLE.first[0]][k]; }
    }
    for (var mm = 1; mm < m; mm++) { days += TABLE.months[y - TABLE.first[0]][mm - 1]; }
    var t = new Date(epoch + (days + d - 1) * DAY);
    return t.getUTCFullYear() + "-" + pad(t.getUTCMonth() + 1) + "-" + pad(t.getUTCDate());
  }

  function toBs(iso) {
    var p = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!p) { return null; }
    var days = Math.round((Date.UTC(+p[1], +p[2] - 1, +p[3]) - epoch) / DAY);
    if (days < 0) { return null; }
    for (var i = 0; i < TABLE.months.length; i++) {
      for (var k = 0; k < 12; k++) {
        var len = TABLE.months[i][k];
        if (days < len) { return [TABLE.first[0] + i, k + 1, days + 1]; }
        days -= len;
      }
    }
    return null;
  }

  function select(label, options, cls) {
    var el = document.createElement("select");
    el.className = "bs-picker__" + cls;
    el.setAttribute("aria-label", label);
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o[0];
      opt.textContent = o[1];
      el.appendChild(opt);
    });
    return el;
  }

  function enhance(input) {
    var box = document.createElement("span");
    box.className = "bs-picker";
    var caption = document.createElement("span");
    caption.className = "bs-picker__label";
    caption.textContent = nepali ? "वि.सं." : "BS";
    var years = [];
    for (var y = TABLE.first[0]; y <= lastYear; y++) { years.push([y, digits(y)]); }
    var year = select(caption.textContent, years, "year");
    var month = select(caption.textContent, MONTHS.map(function (n, i) { return [i + 1, n]; }), "month");
    var day = select(caption.textContent, [], "day");

    function fillDays() {
      var len = TABLE.months[+year.value - TABLE.first[0]][+month.value - 1];
      var keep = Math.min(+day.value || 1, len);
      day.textContent = "";
      for (var d = 1; d <= len; d++) {
        var opt = document.createElement("option");
        opt.value = d;
        opt.textContent = digits(d);
        day.appendChild(opt);
      }
      day.value = keep;
    }
    function fromAd() {
      var bs = toBs(input.value) || toBs(new Date().toISOString().slice(0, 10));
      if (!bs) { return; }
      year.value = bs[0];
      month.value = bs[1];
      fillDays();
      day.value = bs[2];
    }
    function toInput() {
      fillDays();
      input.value = toAd(+year.value, +month.value, +day.value);
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    [year, month, day].forEach(function (el) { el.addEventListener("change", toInput); });
    input.addEventListener("change", function (e) { if (e.isTrusted) { fromAd(); } });
    box.appendChild(caption);
    box.appendChild(year);
    box.appendChild(month);
    box.appendChild(day);
    input.insertAdjacentElement("afterend", box);
    fromAd();
  }

  window.bsPicker = { toAd: toAd, toBs: toBs };
  Array.prototype.forEach.call(document.querySelectorAll('input[type="date"]'), enhance);
})();
