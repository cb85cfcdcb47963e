/* Mounts the rasa-webchat widget, embedded and open, into #chat.
 * The socket.io server comes from /config.js (window.MATCHMAKER_CONFIG), which
 * bot/webpage.py renders from its --socket-url option. */
(function () {
  "use strict";

  var DEFAULT_SOCKET_URL = "http://127.0.0.1:5005";
  var cfg = window.MATCHMAKER_CONFIG || {};
  var mount = document.getElementById("chat");

  function showNotice(text) {
    var p = document.createElement("p");
    p.className = "notice";
    p.setAttribute("role", "alert");
    p.textContent = text;
    mount.appendChild(p);
  }

  if (!window.WebChat || typeof window.WebChat.default !== "function") {
    showNotice("聊天组件未能加载。 The chat widget could not be loaded.");
    return;
  }

  var zh = (navigator.language || "").toLowerCase().indexOf("zh") === 0;
  var statusEl = document.getElementById("status");
  var STATUS_TEXT = {
    connecting: "连接中… Connecting…",
    online: "在线 Online",
    offline: "离线，重试中… Offline, retrying…"
  };

  function setStatus(state) {
    if (!statusEl || statusEl.getAttribute("data-state") === state) return;
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = STATUS_TEXT[state];
  }

  window.WebChat.default({
    socketUrl: cfg.socketUrl || DEFAULT_SOCKET_URL,
    socketPath: cfg.socketPath || "/socket.io/",
    initPayload: cfg.initPayload || "/greet",
    embedded: true,
    withRules: false,
    hideWhenNotConnected: false,
    params: { storage: "local" },
    title: "协同创新撮合助手",
    subtitle: "Collaborative Innovation Matchmaker",
    inputTextFieldHint: zh ? "输入您的需求… / Type your need…" : "Type your need… / 输入您的需求…",
    connectingText: "正在连接… / Connecting…",
    showMessageDate: false,
    onSocketEvent: {
      connect: function () { setStatus("online"); },
      disconnect: function () { setStatus("offline"); },
      connect_error: function () { setStatus("offline"); }
    },
    customMessageDelay: function (message) {
      var delay = (message || "").length * 10;
      return Math.max(300, Math.min(delay, 1200));
    }
  }, mount);
})();
