// Live conversation: sends and receives over a websocket, falls back to form
// posts and periodic fetches, and never shows a message twice. The page works
// without this file as plain form posts and reloads.
(function () {
  "use strict";
  var root = document.querySelector("[data-chat]");
  if (!root) { return; }

  var me = parseInt(root.dataset.me, 10);
  var otherRead = parseInt(root.dataset.otherRead, 10) || 0;
  var log = root.querySelector("[data-log]");
  var scroller = root.querySelector("[data-scroller]");
  var form = root.querySelector("[data-form]");
  var textarea = form && form.querySelector("textarea");
  var errorBox = form && form.querySelector("[data-error]");
  var statusBox = root.querySelector("[data-status]");
  var typingBox = root.querySelector("[data-typing]");
  var olderLink = root.querySelector("[data-older]");
  var csrf = form && form.querySelector("[name=csrfmiddlewaretoken]");
  var showingOlder = new URLSearchParams(window.location.search).has("before");

  var socket = null;
  var delay = 1000;
  var pollTimer = null;
  var typingTimer = null;
  var lastTypingSent = 0;
  var seenSent = 0;
  var loadingOlder = false;
  var outbox = {};  // client_id -> {body, element}

  function lastId() {
    var items = log.querySelectorAll("[data-id]");
    for (var i = items.length - 1; i >= 0; i--) {
      var id = parseInt(items[i].dataset.id, 10);
      if (id) { return id; }
    }
    return 0;
  }

  function firstId() {
    var item = log.querySelector("[data-id]:not([data-id=''])");
    return item ? parseInt(item.dataset.id, 10) : 0;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToBottom() { scroller.scrollTop = scroller.scrollHeight; }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (window.crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  function buildMessage(message) {
    var mine = message.sender_id === me;
    var item = document.createElement("li");
    item.className = "msg " + (mine ? "msg--mine" : "msg--theirs");
    item.dataset.id = message.id || "";
    item.dataset.clientId = message.client_id;
    var body = document.createElement("p");
    body.className = "msg__body";
    body.textContent = message.body;  // Text, never HTML.
    item.appendChild(body);
    var meta = document.createElement("p");
    meta.className = "msg__meta";
    var time = document.createElement("time");
    if (message.created_at) { time.setAttribute("datetime", message.created_at); }
    time.textContent = message.time || "";
    meta.appendChild(time);
    item.appendChild(meta);
    if (message.asks_for_money && !mine) {
      var warning = document.createElement("p");
      warning.className = "msg__warning";
      warning.setAttribute("role", "note");
      warning.textContent = root.dataset.textMoney;
      item.appendChild(warning);
    }
    return item;
  }

  function insert(message) {
    var empty = root.querySelector("[data-empty]");
    if (empty) { empty.remove(); }
    if (log.querySelector('[data-id="' + message.id + '"]')) { return false; }
    var stick = nearBottom() || message.sender_id === me;
    var element = buildMessage(message);
    var pending = outbox[message.client_id];
    if (pending) {
      pending.element.replaceWith(element);
      delete outbox[message.client_id];
    } else {
      // Keep the log in id order even when a back-fill and a live push cross.
      var after = null;
      var items = log.querySelectorAll("[data-id]");
      for (var i = 0; i < items.length; i++) {
        var id = parseInt(items[i].dataset.id, 10);
        if (id && id > message.id) { after = items[i]; break; }
      }
      log.insertBefore(element, after);
    }
    if (stick) { scrollToBottom(); }
    return true;
  }

  function receive(message) {
    if (showingOlder) { return; }
    if (insert(message) && message.sender_id !== me) { markSeen(); }
  }

  function updateSeenMarks() {
    var old = log.querySelectorAll("[data-seen-mark]");
    for (var i = 0; i < old.length; i++) { old[i].remove(); }
    var mine = log.querySelectorAll(".msg--mine[data-id]");
    for (var j = mine.length - 1; j >= 0; j--) {
      var id = parseInt(mine[j].dataset.id, 10);
      if (id && id <= otherRead) {
        var mark = document.createElement("span");
        mark.className = "msg__seen";
        mark.dataset.seenMark = "";
        mark.textContent = " · " + root.dataset.textSeen;
        mine[j].querySelector(".msg__meta").appendChild(mark);
        return;
      }
    }
  }

  function markSeen() {
    var id = lastId();
    if (document.visibilityState !== "visible" || id <= seenSent) { return; }
    if (socket && socket.readyState === WebSocket.OPEN) {
      seenSent = id;
      socket.send(JSON.stringify({ type: "seen", up_to: id }));
    }
  }

  function showStatus(text) {
    statusBox.textContent = text;
    statusBox.hidden = !text;
  }

  function showError(text) {
    if (!errorBox) { return; }
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function fetchSince() {
    return fetch(root.dataset.sinceUrl.replace(/0\/$/, lastId() + "/"), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(receive);
        otherRead = Math.max(otherRead, data.other_read_up_to);
        updateSeenMarks();
        if (window.nbMessages) { window.nbMessages.setUnread(data.unread); }
      })
      .catch(function () {});
  }

  function startPolling() {
    if (!pollTimer) { pollTimer = window.setInterval(fetchSince, 5000); }
  }

  function stopPolling() {
    if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
  }

  function postMessage(clientId, body) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", csrf.value);
    data.append("client_id", clientId);
    data.append("body", body);
    return fetch(window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (json) {
        if (json.message) { receive(json.message); } else { failed(clientId, json.message || "", true); }
      });
    }).catch(function () {
      failed(clientId, root.dataset.textFailed, false);
    });
  }

  function failed(clientId, text, refused) {
    var pending = outbox[clientId];
    if (!pending) { return; }
    if (refused) {
      // Refused for good: give the text back so nothing is lost.
      pending.element.remove();
      delete outbox[clientId];
      if (textarea && !textarea.value) { textarea.value = pending.body; }
    } else {
      pending.element.classList.add("msg--failed");
    }
    showError(text);
  }

  function send(clientId, body) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message", client_id: clientId, body: body }));
    } else {
      postMessage(clientId, body);
    }
  }

  function flushOutbox() {
    Object.keys(outbox).forEach(function (clientId) {
      outbox[clientId].element.classList.remove("msg--failed");
      send(clientId, outbox[clientId].body);
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // The page's language: the server writes message times the way this page does.
    socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath + "?after=" + lastId() +
      "&lang=" + encodeURIComponent(document.documentElement.lang || ""));
    socket.onopen = function () {
      delay = 1000;
      root.dataset.live = "";
      stopPolling();
      showStatus("");
      flushOutbox();
      markSeen();
    };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "message") {
        receive(data.message);
        if (typingBox && data.message.sender_id !== me) { typingBox.hidden = true; }
      } else if (data.type === "seen" && data.user_id !== me) {
        otherRead = Math.max(otherRead, data.up_to);
        updateSeenMarks();
      } else if (data.type === "typing" && typingBox) {
        typingBox.hidden = false;
        window.clearTimeout(typingTimer);
        typingTimer = window.setTimeout(function () { typingBox.hidden = true; }, 4000);
      } else if (data.type === "unread" && window.nbMessages) {
        window.nbMessages.applyUnread(data);
      } else if (data.type === "error") {
        failed(data.client_id, data.message, true);
        if (!data.client_id) { showError(data.message); }
      }
    };
    socket.onclose = function (event) {
      socket = null;
      delete root.dataset.live;
      startPolling();
      if (event.code === 4401 || event.code === 4403) { return; }
      showStatus(root.dataset.textOffline);
      window.setTimeout(function () { fetchSince().then(connect); }, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    };
  }

  function loadOlder(event) {
    if (event) { event.preventDefault(); }
    if (loadingOlder || !olderLink) { return; }
    loadingOlder = true;
    olderLink.textContent = root.dataset.textLoading;
    fetch(root.dataset.beforeUrl.replace(/0\/$/, firstId() + "/"), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var height = scroller.scrollHeight;
        var first = log.firstElementChild;
        data.messages.forEach(function (message) { log.insertBefore(buildMessage(message), first); });
        scroller.scrollTop += scroller.scrollHeight - height;
        if (!data.has_older) { olderLink.parentNode.remove(); olderLink = null; }
        updateSeenMarks();
      })
      .catch(function () {})
      .then(function () {
        loadingOlder = false;
        if (olderLink) { olderLink.textContent = olderLink.dataset.label; }
      });
  }

  if (!showingOlder) { scrollToBottom(); }
  if (olderLink && !showingOlder) {
    olderLink.dataset.label = olderLink.textContent;
    olderLink.addEventListener("click", loadOlder);
    scroller.addEventListener("scroll", function () {
      if (scroller.scrollTop < 40) { loadOlder(); }
    });
  }

  if (form && !showingOlder) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = textarea.value.trim();
      if (!body) { return; }
      showError("");
      var clientId = uuid();
      var element = buildMessage({ client_id: clientId, sender_id: me, body: body, time: "" });
      element.classList.add("msg--pending");
      var empty = root.querySelector("[data-empty]");
      if (empty) { empty.remove(); }
      log.appendChild(element);
      outbox[clientId] = { body: body, element: element };
      textarea.value = "";
      scrollToBottom();
      send(clientId, body);
    });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (socket && socket.readyState === WebSocket.OPEN && now - lastTypingSent > 2000) {
        lastTypingSent = now;
        socket.send(JSON.stringify({ type: "typing" }));
      }
    });
  }

  document.addEventListener("visibilitychange", markSeen);
  if (!showingOlder && "WebSocket" in window) { connect(); } else if (!showingOlder) { startPolling(); }
})();
