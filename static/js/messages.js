// Keeps the header's unread-messages badge current on every page.
// The conversation page shares its own socket through window.nbMessages.
(function () {
  "use strict";
  var badge = document.querySelector("[data-unread-badge]");
  var number = badge && badge.querySelector("[data-unread-number]");
  var nepali = (document.documentElement.lang || "").indexOf("ne") === 0;

  // The count as the page shows its numbers (Nepali digits on a Nepali page);
  // the number itself stays in data-count.
  function shown(count) {
    var text = String(count);
    return nepali ? text.replace(/[0-9]/g, function (d) { return "०१२३४५६७८९"[+d]; }) : text;
  }

  function current() { return parseInt(badge.dataset.count, 10) || 0; }

  function setUnread(count) {
    if (!badge) { return; }
    count = Math.max(0, parseInt(count, 10) || 0);
    badge.dataset.count = String(count);
    number.textContent = shown(count);
    badge.hidden = count === 0;
  }
  // A socket event carries the exact `count`, or the number of messages just
  // `added` (a new message); the exact count comes on page load and on "seen".
  function applyUnread(data) {
    if (data.count !== undefined) {
      setUnread(data.count);
    } else if (badge) {
      setUnread(current() + (parseInt(data.added, 10) || 0));
    }
  }
  window.nbMessages = { setUnread: setUnread, applyUnread: applyUnread };

  if (!badge || !("WebSocket" in window) || document.querySelector("[data-chat]")) { return; }

  var delay = 1000;
  var pollTimer = null;

  function poll() {
    fetch(badge.getAttribute("data-unread-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { setUnread(data.count); } })
      .catch(function () {});
  }

  function startPolling() {
    if (!pollTimer) { pollTimer = window.setInterval(poll, 30000); }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/messages/");
    socket.onopen = function () {
      delay = 1000;
      if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
      poll();
    };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "unread") { applyUnread(data); }
    };
    socket.onclose = function (event) {
      // 4401: logged out, 4403: refused. Reconnecting would not help.
      if (event.code === 4401 || event.code === 4403) { return; }
      startPolling();
      window.setTimeout(connect, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
