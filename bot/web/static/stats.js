/* The operator's statistics page (/admin/stats): asks for the operator token once (kept in
 * sessionStorage for this tab), reads /stats with it in the Authorization header and draws
 * the figures with Apache ECharts (/vendor/echarts.js). Labels come from the JSON's
 * "labels" in the chosen language; everything the server sends is shown with textContent
 * or as chart data, never as markup. */
(function () {
  "use strict";

  var TOKEN_KEY = "matchmaker_stats_token";
  var LANG_KEY = "matchmaker_stats_lang";
  var CSV_NAME = "platform-stats.csv";
  var COLOURS = ["#1f5fae", "#2e9d6b", "#e0932b", "#8a5cc2"];
  // Shown before any labels arrived from the server (the sign-in form and its errors).
  var FALLBACK = {
    zh: { unauthorized: "运营令牌缺失或不正确。", disabled: "本服务器未启用统计功能。",
      failed: "统计数据加载失败。", loading: "加载中…", no_data: "所选范围内没有数据", all: "全部" },
    en: { unauthorized: "The operator token is missing or wrong.", disabled: "Statistics are disabled on this server.",
      failed: "The statistics could not be loaded.", loading: "Loading…", no_data: "No data for this selection",
      all: "All" }
  };

  var state = { lang: initialLanguage(), labels: null, data: null, charts: {} };

  function byId(id) {
    return document.getElementById(id);
  }

  function storage() {
    try {
      return window.sessionStorage;
    } catch (err) {
      return null;
    }
  }

  function readStored(key) {
    var store = storage();
    return store ? store.getItem(key) || "" : "";
  }

  function writeStored(key, value) {
    var store = storage();
    if (!store) return;
    if (value) store.setItem(key, value);
    else store.removeItem(key);
  }

  function initialLanguage() {
    var stored = readStored(LANG_KEY);
    if (stored === "zh" || stored === "en") return stored;
    return /^zh/i.test(navigator.language || "") ? "zh" : "en";
  }

  function label(key) {
    var labels = state.labels || {};
    return labels[key] || FALLBACK[state.lang][key] || key;
  }

  function showError(text) {
    var box = byId("error");
    box.textContent = text;
    box.hidden = !text;
  }

  function setStatus(text) {
    byId("status").textContent = text;
  }

  function showLogin(visible) {
    byId("login").hidden = !visible;
    byId("dashboard").hidden = visible;
    if (visible) byId("token").focus();
  }

  function markLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang]"), function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === state.lang));
    });
  }

  function query() {
    var params = new URLSearchParams();
    ["since", "until", "field", "region"].forEach(function (name) {
      var value = byId(name).value.trim();
      if (value) params.set(name, value);
    });
    params.set("lang", state.lang);
    return params.toString();
  }

  function request(path) {
    return fetch(path + "?" + query(), {
      headers: { Authorization: "Bearer " + readStored(TOKEN_KEY), Accept: "application/json, text/csv" },
      cache: "no-store",
      credentials: "same-origin"
    });
  }

  function errorText(response) {
    if (response.status === 401) return Promise.resolve(label("unauthorized"));
    return response.json().then(function (body) {
      return (body && body.error) || label("failed");
    }, function () {
      return label("failed") + " (" + response.status + ")";
    });
  }

  function refuse(response) {
    return errorText(response).then(function (text) {
      if (response.status === 401) {
        writeStored(TOKEN_KEY, "");
        showLogin(true);
      }
      showError(text);
      setStatus("");
    });
  }

  function load() {
    document.body.dataset.loaded = "0";
    showError("");
    setStatus(label("loading"));
    return request("/stats").then(function (response) {
      if (!response.ok) return refuse(response);
      return response.json().then(function (data) {
        state.data = data;
        state.labels = data.labels || {};
        showLogin(false);
        setStatus("");
        render(data);
        document.body.dataset.lang = state.lang;
        document.body.dataset.loaded = "1";
      });
    }).catch(function (err) {
      showError(label("failed") + " " + (err && err.message ? err.message : ""));
      setStatus("");
    });
  }

  function applyLabels() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-label]"), function (el) {
      el.textContent = label(el.getAttribute("data-label"));
    });
    document.title = label("title") + " — " + label("subtitle");
  }

  function fillSelect(id, codes, names) {
    var select = byId(id);
    var chosen = select.value;
    select.textContent = "";
    var all = document.createElement("option");
    all.value = "";
    all.textContent = label("all");
    select.appendChild(all);
    codes.forEach(function (code) {
      var option = document.createElement("option");
      option.value = code;
      option.textContent = names[code] || code;
      select.appendChild(option);
    });
    select.value = codes.indexOf(chosen) >= 0 ? chosen : "";
  }

  function hours(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(1);
  }

  function renderSummary(data) {
    byId("figure-searches").textContent = String(data.searches);
    byId("figure-contacts").textContent = String(data.contacts);
    byId("figure-accepted").textContent = String(data.accepted);
    byId("figure-deals").textContent = String(data.deals);
    byId("figure-median").textContent = hours(data.time_to_first_answer.median_hours);
    var answer = data.time_to_first_answer;
    byId("meta").textContent = label("answered") + ": " + answer.count + " · " + label("p90_hours") + ": " +
      hours(answer.p90_hours) + " · " + label("generated_at") + ": " +
      new Date(data.generated_at * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC · " + label("timezone");
  }

  function chart(id) {
    if (!state.charts[id]) state.charts[id] = window.echarts.init(byId(id), null, { renderer: "canvas" });
    return state.charts[id];
  }

  function emptyGraphic(isEmpty) {
    return isEmpty ? [{ type: "text", left: "center", top: "middle",
      style: { text: label("no_data"), fill: "#5b6675", fontSize: 14 } }] : [];
  }

  function listingsOption(table, kinds, names) {
    var codes = Object.keys(table);
    return {
      aria: { enabled: true },
      color: COLOURS,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: kinds.map(label) },
      grid: { left: 40, right: 16, top: 36, bottom: 72 },
      xAxis: { type: "category", data: codes.map(function (code) { return names[code] || code; }),
        axisLabel: { interval: 0, rotate: codes.length > 5 ? 35 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      graphic: emptyGraphic(codes.length === 0),
      series: kinds.map(function (kind) {
        return { name: label(kind), type: "bar", stack: "listings", emphasis: { focus: "series" },
          data: codes.map(function (code) { return table[code][kind] || 0; }) };
      })
    };
  }

  function funnelOption(funnel) {
    var weeks = Object.keys(funnel);
    var metrics = ["searches", "contacts", "accepted", "deals"];
    return {
      aria: { enabled: true },
      color: COLOURS,
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: metrics.map(label) },
      grid: { left: 40, right: 16, top: 36, bottom: 40 },
      xAxis: { type: "category", name: label("week"), nameLocation: "middle", nameGap: 26, data: weeks },
      yAxis: { type: "value", minInterval: 1 },
      graphic: emptyGraphic(weeks.length === 0),
      series: metrics.map(function (metric) {
        return { name: label(metric), type: metric === "searches" ? "line" : "bar",
          data: weeks.map(function (week) { return funnel[week][metric]; }) };
      })
    };
  }

  function render(data) {
    applyLabels();
    var names = data.names || { fields: {}, regions: {} };
    fillSelect("field", data.codes.fields, names.fields);
    fillSelect("region", data.codes.regions, names.regions);
    renderSummary(data);
    chart("chart-fields").setOption(listingsOption(data.listings_by_field, data.kinds, names.fields), true);
    chart("chart-regions").setOption(listingsOption(data.listings_by_region, data.kinds, names.regions), true);
    chart("chart-funnel").setOption(funnelOption(data.funnel_by_week), true);
  }

  function download() {
    showError("");
    request("/stats.csv").then(function (response) {
      if (!response.ok) return refuse(response);
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = document.createElement("a");
        link.href = url;
        link.download = CSV_NAME;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    }).catch(function () {
      showError(label("failed"));
    });
  }

  function signIn(event) {
    event.preventDefault();
    var token = byId("token").value.trim();
    if (!token) return;
    writeStored(TOKEN_KEY, token);
    byId("token").value = "";
    load();
  }

  function signOut() {
    writeStored(TOKEN_KEY, "");
    state.data = null;
    document.body.dataset.loaded = "0";
    showError("");
    showLogin(true);
  }

  function switchLanguage(lang) {
    if (lang === state.lang) return;
    state.lang = lang;
    writeStored(LANG_KEY, lang);
    markLanguage();
    if (readStored(TOKEN_KEY)) load();
  }

  function start() {
    if (!window.echarts) {
      showError(FALLBACK[state.lang].failed + " (echarts)");
      return;
    }
    markLanguage();
    byId("login").addEventListener("submit", signIn);
    byId("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      load();
    });
    byId("download").addEventListener("click", download);
    byId("sign-out").addEventListener("click", signOut);
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang]"), function (button) {
      button.addEventListener("click", function () { switchLanguage(button.getAttribute("data-lang")); });
    });
    window.addEventListener("resize", function () {
      Object.keys(state.charts).forEach(function (id) { state.charts[id].resize(); });
    });
    if (readStored(TOKEN_KEY)) load();
    else showLogin(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
