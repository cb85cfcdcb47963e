/* The thread view (/threads): the viewer's negotiation threads, one thread's messages,
 * its current proposal and a box to write in. Talks to the JSON API of bot/thread_api.py
 * on the same origin, as the chat widget's session: rasa-webchat keeps it in
 * localStorage under "chat_session" ({"session_id": "web:...", ...}).
 * Everything the server sends is shown with textContent, never as markup. */
(function () {
  "use strict";

  var SESSION_KEY = "chat_session";
  var LIST_REFRESH_MS = 10000;
  var THREAD_REFRESH_MS = 4000;

  var LABELS = {
    zh: {
      title: "洽谈", subtitle: "Threads", back: "对话 · Chat", your_threads: "我的洽谈",
      all_threads: "‹ 全部洽谈", message: "消息", send: "发送", sending: "发送中…",
      loading: "加载中…", none: "还没有洽谈。在对话中说“联系第2个”即可发起。",
      no_session: "请先打开对话页面，开始一次对话后再查看洽谈。",
      open_chat: "打开对话", unavailable: "服务暂时不可用，请稍后再试。",
      not_found: "没有这个洽谈。", send_failed: "发送失败，请重试。",
      closed_thread: "这个洽谈已结束，不能再发消息。", bad_message: "消息需为 1-2000 个字符。",
      you: "我", them: "对方", platform: "平台", listing: "成果/需求",
      proposal: "当前方案", price: "价格", duration: "期限", days: "天", milestones: "里程碑",
      yuan: "元", proposed_by_me: "我方提出", proposed_by_them: "对方提出",
      contact: "联系方式", updated: "更新于",
      states: { requested: "待回应", accepted: "已接受", declined: "已拒绝", nda_pending: "保密协议确认中",
        open: "洽谈中", agreed: "已达成", closed: "已关闭" },
      proposal_states: { open: "待答复", accepted: "已接受", rejected: "已拒绝", superseded: "已被替代" },
      org_types: { enterprise: "企业", university: "高校", institute: "科研院所", intermediary: "中介机构",
        individual: "个人" },
      kinds: { licence: "许可", transfer: "转让", joint_development: "联合开发", commissioned_rnd: "委托研发" },
      roles: { owner: "发布方", requester: "咨询方" },
      counterpart: function (c) {
        var type = LABELS.zh.org_types[c.org_type] || c.org_type || "机构";
        var text = (c.region ? c.region + "的" : "") + "一家" + type;
        return c.field ? text + "（" + c.field + "）" : text;
      },
      system: {
        request: "发起了联系请求", accepted: "接受了请求，请双方确认保密协议", declined: "拒绝了请求",
        nda_confirmed: "确认了保密协议", disclosed: "双方已确认保密协议，机构名称与联系方式已公开",
        closed: "洽谈已关闭", expired: "洽谈因长期无进展已关闭", withdrawn: "撤回了洽谈",
        deal: "接受了方案，合作达成", proposal_rejected: "拒绝了方案",
        proposal: "提出了方案", counter: "提出了还价方案"
      }
    },
    en: {
      title: "Threads", subtitle: "洽谈", back: "Chat · 对话", your_threads: "My threads",
      all_threads: "‹ All threads", message: "Message", send: "Send", sending: "Sending…",
      loading: "Loading…", none: "No threads yet. Say \u201ccontact 2\u201d in the chat to start one.",
      no_session: "Open the chat first and start a conversation, then come back to see your threads.",
      open_chat: "Open the chat", unavailable: "The service is unavailable at the moment; please try again later.",
      not_found: "There is no such thread.", send_failed: "Sending failed; please try again.",
      closed_thread: "This thread has ended; it takes no more messages.",
      bad_message: "A message is 1-2,000 characters.",
      you: "You", them: "Them", platform: "Platform", listing: "Listing",
      proposal: "Current proposal", price: "Price", duration: "Duration", days: "days", milestones: "Milestones",
      yuan: "yuan", proposed_by_me: "proposed by you", proposed_by_them: "proposed by them",
      contact: "Contact", updated: "Updated",
      states: { requested: "awaiting answer", accepted: "accepted", declined: "declined",
        nda_pending: "NDA pending", open: "open", agreed: "agreed", closed: "closed" },
      proposal_states: { open: "awaiting answer", accepted: "accepted", rejected: "rejected",
        superseded: "superseded" },
      org_types: { enterprise: "enterprise", university: "university", institute: "research institute",
        intermediary: "intermediary", individual: "individual" },
      kinds: { licence: "licence", transfer: "transfer", joint_development: "joint development",
        commissioned_rnd: "commissioned R&D" },
      roles: { owner: "listing owner", requester: "requester" },
      counterpart: function (c) {
        var type = LABELS.en.org_types[c.org_type] || c.org_type || "organisation";
        var article = /^[aeiou]/i.test(type) ? "an " : "a ";
        var text = article + type;
        if (c.region) text += " in " + c.region;
        if (c.field) text += ", " + c.field;
        return text;
      },
      system: {
        request: "asked to get in touch", accepted: "accepted the request; both sides now confirm the NDA",
        declined: "declined the request", nda_confirmed: "confirmed the NDA",
        disclosed: "Both sides confirmed the NDA: names and contact details are now shown",
        closed: "The thread was closed", expired: "The thread was closed after a long time without activity",
        withdrawn: "withdrew from the thread", deal: "accepted the proposal: a deal",
        proposal_rejected: "rejected the proposal", proposal: "made a proposal", counter: "made a counter-proposal"
      }
    }
  };

  function pickLanguage() {
    var match = /[?&]lang=(zh|en)\b/.exec(window.location.search);
    if (match) return match[1];
    return (navigator.language || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  }

  var lang = pickLanguage();
  var L = LABELS[lang];
  var state = { session: null, threads: [], current: null, listTimer: null, threadTimer: null, pendingKey: null,
    canWrite: true };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function readSession() {
    var stores = [window.localStorage, window.sessionStorage];
    for (var i = 0; i < stores.length; i++) {
      try {
        var raw = stores[i] && stores[i].getItem(SESSION_KEY);
        var parsed = raw ? JSON.parse(raw) : null;
        if (parsed && typeof parsed.session_id === "string" && parsed.session_id) return parsed.session_id;
      } catch (err) {
        /* an unreadable entry is no session */
      }
    }
    return null;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { "X-Session-Id": state.session, "Accept": "application/json" },
      credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (reply) {
      return reply.json().catch(function () { return {}; }).then(function (data) {
        return { status: reply.status, data: data };
      });
    });
  }

  function applyLabels() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = L.title + " · " + L.subtitle;
    var nodes = document.querySelectorAll("[data-label]");
    for (var i = 0; i < nodes.length; i++) {
      var text = L[nodes[i].getAttribute("data-label")];
      if (typeof text === "string") nodes[i].textContent = text;
    }
    $("composer-text").placeholder = L.message;
  }

  function counterpartText(c) {
    if (c.disclosed && c.name) return c.name;
    var names = (c.names && c.names[lang]) || {};
    return L.counterpart({ org_type: c.org_type, region: names.region || c.region, field: names.field || c.field });
  }

  function formatTime(seconds) {
    try {
      return new Date(seconds * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB",
        { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    } catch (err) {
      return "";
    }
  }

  function setListStatus(text) {
    var status = $("list-status");
    status.textContent = text || "";
    status.hidden = !text;
  }

  function renderList() {
    var list = $("thread-items");
    list.textContent = "";
    if (!state.threads.length) {
      setListStatus(L.none);
      return;
    }
    setListStatus("");
    state.threads.forEach(function (t) {
      var item = el("li", "thread-item");
      var link = el("a", "thread-link");
      link.href = "#thread-" + t.id;
      if (state.current === t.id) link.setAttribute("aria-current", "true");
      var top = el("span", "thread-top");
      top.appendChild(el("span", "thread-who", counterpartText(t.counterpart)));
      top.appendChild(el("span", "state state-" + t.state, L.states[t.state] || t.state));
      link.appendChild(top);
      if (t.listing) link.appendChild(el("span", "thread-listing", t.listing.title));
      link.appendChild(el("span", "thread-time", L.updated + " " + formatTime(t.updated_at)));
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  function loadList() {
    return api("GET", "/api/threads").then(function (reply) {
      if (reply.status !== 200) {
        setListStatus(reply.status === 401 ? L.no_session : L.unavailable);
        return;
      }
      state.threads = reply.data.threads || [];
      renderList();
    }).catch(function () { setListStatus(L.unavailable); });
  }

  function systemText(m) {
    var key = m.body;
    if (m.kind === "system" && key === "closed" && m.data && m.data.reason) key = m.data.reason;
    var text = L.system[key] || key;
    if (m.kind === "system" && key === "request" && m.data && m.data.context) text += ": " + m.data.context;
    return text;
  }

  function termsText(d) {
    var parts = [L.kinds[d.kind] || d.kind];
    if (typeof d.price_yuan === "number") parts.push(L.price + " " + d.price_yuan.toLocaleString() + " " + L.yuan);
    if (typeof d.duration_days === "number") parts.push(L.duration + " " + d.duration_days + " " + L.days);
    return parts.join(" · ");
  }

  function renderMessage(m) {
    var item = el("li", "message from-" + m.from + " kind-" + m.kind);
    var who = m.from === "me" ? L.you : m.from === "them" ? L.them : L.platform;
    var head = el("span", "message-head", who + " · " + formatTime(m.created_at));
    item.appendChild(head);
    if (m.kind === "text") {
      item.appendChild(el("span", "message-body", m.body));
    } else if (m.kind === "proposal") {
      item.appendChild(el("span", "message-body", systemText(m) + ": " + termsText(m.data || {})));
    } else {
      item.appendChild(el("span", "message-body", systemText(m)));
    }
    return item;
  }

  function renderProposal(p) {
    var card = $("proposal");
    card.textContent = "";
    card.hidden = !p;
    if (!p) return;
    var head = el("div", "proposal-head");
    head.appendChild(el("strong", "", L.proposal));
    head.appendChild(el("span", "state state-proposal-" + p.state, L.proposal_states[p.state] || p.state));
    card.appendChild(head);
    card.appendChild(el("p", "proposal-kind", (L.kinds[p.kind] || p.kind) + " · " +
      (p.from === "me" ? L.proposed_by_me : L.proposed_by_them)));
    var facts = el("dl", "proposal-terms");
    facts.appendChild(el("dt", "", L.price));
    facts.appendChild(el("dd", "", p.price_yuan.toLocaleString() + " " + L.yuan));
    facts.appendChild(el("dt", "", L.duration));
    facts.appendChild(el("dd", "", p.duration_days + " " + L.days));
    card.appendChild(facts);
    if (p.milestones && p.milestones.length) {
      card.appendChild(el("p", "proposal-milestones-title", L.milestones));
      var list = el("ol", "proposal-milestones");
      p.milestones.forEach(function (m) { list.appendChild(el("li", "", m)); });
      card.appendChild(list);
    }
  }

  function renderThread(data) {
    var t = data.thread;
    $("detail-title").textContent = counterpartText(t.counterpart);
    var facts = [L.states[t.state] || t.state, L.roles[t.counterpart.role] || t.counterpart.role];
    if (t.listing) facts.push(L.listing + ": " + t.listing.title);
    if (t.counterpart.disclosed && t.counterpart.contact) facts.push(L.contact + ": " + t.counterpart.contact);
    $("detail-facts").textContent = facts.join(" · ");
    renderProposal(data.proposal);
    var list = $("messages");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.textContent = "";
    (data.messages || []).forEach(function (m) { list.appendChild(renderMessage(m)); });
    if (atBottom || !list.getAttribute("data-shown")) list.scrollTop = list.scrollHeight;
    list.setAttribute("data-shown", String(t.id));
    state.canWrite = t.can_write;
    $("composer-text").disabled = !t.can_write;
    $("composer-send").disabled = !t.can_write;
    if (!t.can_write) $("composer-status").textContent = L.closed_thread;
  }

  function loadThread(id) {
    return api("GET", "/api/threads/" + id).then(function (reply) {
      if (state.current !== id) return;
      if (reply.status === 200) {
        renderThread(reply.data);
      } else {
        $("detail-title").textContent = reply.status === 404 ? L.not_found : L.unavailable;
        $("detail-facts").textContent = "";
        $("messages").textContent = "";
        renderProposal(null);
      }
    }).catch(function () {
      if (state.current === id) $("composer-status").textContent = L.unavailable;
    });
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(event) {
    event.preventDefault();
    var box = $("composer-text");
    var text = box.value.trim();
    var id = state.current;
    if (!text || id === null) return;
    if (!state.pendingKey) state.pendingKey = newKey();
    $("composer-send").disabled = true;
    $("composer-status").textContent = L.sending;
    api("POST", "/api/threads/" + id + "/messages", { body: text, client_key: state.pendingKey })
      .then(function (reply) {
        if (reply.status === 200 || reply.status === 201) {
          box.value = "";
          state.pendingKey = null;
          $("composer-status").textContent = "";
          return loadThread(id);
        }
        var error = reply.data && reply.data.error;
        if (reply.status === 409) state.pendingKey = null;
        if (error === "bad_message") state.pendingKey = null;
        $("composer-status").textContent = reply.status === 409 ? L.closed_thread
          : error === "bad_message" ? L.bad_message : reply.status === 404 ? L.not_found : L.send_failed;
        return null;
      })
      .catch(function () { $("composer-status").textContent = L.send_failed; })
      .then(function () { $("composer-send").disabled = !state.canWrite; });
  }

  function route() {
    var match = /^#thread-(\d+)$/.exec(window.location.hash);
    var id = match ? Number(match[1]) : null;
    if (id !== state.current) {
      state.pendingKey = null;
      $("composer-text").value = "";
      $("composer-status").textContent = "";
      $("messages").removeAttribute("data-shown");
    }
    state.current = id;
    $("threads").setAttribute("data-view", id === null ? "list" : "thread");
    $("thread-detail").hidden = id === null;
    clearInterval(state.threadTimer);
    renderList();
    if (id !== null) {
      loadThread(id);
      state.threadTimer = setInterval(function () {
        if (document.visibilityState !== "hidden") loadThread(id);
      }, THREAD_REFRESH_MS);
    }
  }

  function showNoSession() {
    setListStatus(L.no_session);
    var link = el("a", "open-chat", L.open_chat);
    link.href = "/";
    $("thread-list").appendChild(link);
  }

  function start() {
    applyLabels();
    state.session = readSession();
    if (!state.session) {
      showNoSession();
      return;
    }
    setListStatus(L.loading);
    $("composer").addEventListener("submit", send);
    $("composer-text").addEventListener("input", function () { state.pendingKey = null; });
    $("composer-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
    });
    $("back-to-list").addEventListener("click", function () { window.location.hash = ""; });
    window.addEventListener("hashchange", route);
    loadList().then(route);
    state.listTimer = setInterval(function () {
      if (document.visibilityState !== "hidden") loadList();
    }, LIST_REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
