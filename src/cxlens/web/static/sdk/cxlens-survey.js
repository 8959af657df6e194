/*! cxlens survey widget — dependency-free, MIT. https://github.com/cxlens (docs/surveys.md)
 *
 *   <script src="https://YOUR-CXLENS/sdk/cxlens-survey.js" data-write-key="cxw_..." async></script>
 * or
 *   cxlensSurvey.init({writeKey: "cxw_...", host: "https://YOUR-CXLENS"});
 *   cxlensSurvey.track("order_completed");
 *
 * The server decides who sees what (targeting, sampling, fatigue); the widget asks
 * GET /v1/surveys/eligible on page load and again when a watched event is tracked, waits the
 * survey's delay, shows it in a fixed overlay (nothing enters the page flow), and posts the
 * score at once and the comment later under one response id. With the cxlens tracker on the
 * page (window.cxlens) it uses its ids (cxlens.user()) and its 'track' events (cxlens.on), and
 * starts by itself when the tracker exposes {writeKey, host} through cxlens.config().
 */
(function () {
  "use strict";
  if (window.cxlensSurvey && window.cxlensSurvey.version) return;

  var cfg = { writeKey: null, host: "", lang: null, userId: null, userHash: null };
  var watch = {};
  var shown = {};
  var open = null; // the widget on screen
  var tabSurvey = null;
  var STORE = "cxlens_survey_aid";
  var FACES = ["\u{1F61E}", "\u{1F615}", "\u{1F610}", "\u{1F642}", "\u{1F604}"];

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  function ids() {
    if (window.cxlens && typeof window.cxlens.user === "function") {
      try {
        var u = window.cxlens.user() || {};
        if (u.anonymousId || u.userId) {
          return { anonymousId: u.anonymousId || null, userId: u.userId || cfg.userId,
                   userHash: u.userId ? (u.userHash || null) : cfg.userHash };
        }
      } catch (e) { /* fall back to our own id */ }
    }
    var aid = null;
    try { aid = localStorage.getItem(STORE); } catch (e) { /* private mode */ }
    if (!aid) {
      aid = uuid();
      try { localStorage.setItem(STORE, aid); } catch (e) { /* keep it for this page */ }
    }
    return { anonymousId: aid, userId: cfg.userId, userHash: cfg.userHash };
  }

  function post(path, body) {
    if (!cfg.writeKey) return Promise.resolve(null);
    var who = ids();
    var payload = { writeKey: cfg.writeKey, anonymousId: who.anonymousId, userId: who.userId };
    if (who.userId && who.userHash) payload.userHash = who.userHash;  // identity verification
    for (var k in body) if (Object.prototype.hasOwnProperty.call(body, k)) payload[k] = body[k];
    // text/plain keeps this a CORS "simple request" (no preflight); the server parses JSON anyway
    return fetch(cfg.host + path, {
      method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(payload),
      credentials: "omit", keepalive: true,
    }).then(function (r) { return r.ok ? r.json() : null; }, function () { return null; });
  }

  function check(event) {
    if (!cfg.writeKey) return Promise.resolve();
    var who = ids();
    var q = ["writeKey=" + encodeURIComponent(cfg.writeKey), "url=" + encodeURIComponent(location.href),
      "lang=" + encodeURIComponent(cfg.lang || (navigator.languages || [navigator.language]).join(","))];
    if (who.anonymousId) q.push("anonymousId=" + encodeURIComponent(who.anonymousId));
    if (who.userId) q.push("userId=" + encodeURIComponent(who.userId));
    if (who.userId && who.userHash) q.push("userHash=" + encodeURIComponent(who.userHash));
    if (event) q.push("event=" + encodeURIComponent(event));
    return fetch(cfg.host + "/v1/surveys/eligible?" + q.join("&"), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (!event) {
          watch = {};
          (data.watch_events || []).forEach(function (e) { watch[e] = true; });
          if (data.feedback_tab) showTab(data.feedback_tab);
        }
        var s = (data.surveys || []).filter(function (x) { return !shown[x.id]; })[0];
        if (!s) return;
        shown[s.id] = true;
        var delay = (s.trigger && s.trigger.delay_seconds) || 0;
        setTimeout(function () { if (!open) show(s, {}); }, delay * 1000);
      }, function () { /* offline: no survey */ });
  }

  // -- styles (one <style>, CSS variables for theming) --------------------------------------
  var CSS = [
    ".cxs-root{--cxs-primary:#4f46e5;--cxs-bg:#fff;--cxs-text:#1f2937;position:fixed;z-index:2147483000;",
    "bottom:20px;right:20px;width:380px;max-width:calc(100vw - 24px);box-sizing:border-box;background:var(--cxs-bg);",
    "color:var(--cxs-text);border-radius:12px;box-shadow:0 10px 30px rgba(0,0,0,.2);padding:16px 16px 14px;",
    "font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:left}",
    ".cxs-root *{box-sizing:border-box}",
    ".cxs-root.cxs-bottom-left{right:auto;left:20px}.cxs-root.cxs-top-right{bottom:auto;top:20px}",
    ".cxs-root.cxs-top-left{bottom:auto;top:20px;right:auto;left:20px}",
    ".cxs-root.cxs-center{bottom:auto;top:50%;right:auto;left:50%;transform:translate(-50%,-50%)}",
    ".cxs-root.cxs-inline{position:relative;bottom:auto;right:auto;left:auto;top:auto;transform:none;z-index:auto}",
    ".cxs-q{font-weight:600;margin:0 28px 10px 0;font-size:15px}",
    ".cxs-close{position:absolute;top:8px;right:8px;border:0;background:transparent;color:inherit;font-size:20px;",
    "line-height:1;width:32px;height:32px;border-radius:6px;cursor:pointer}",
    ".cxs-scale{display:flex;gap:4px;flex-wrap:nowrap}",
    ".cxs-scale button,.cxs-opt{flex:1 1 0;min-width:0;min-height:36px;border:1px solid #d1d5db;border-radius:6px;",
    "background:transparent;color:inherit;font:inherit;cursor:pointer;padding:4px 0}",
    ".cxs-opt{display:block;width:100%;margin:0 0 6px;padding:8px}",
    ".cxs-scale.cxs-stars button,.cxs-scale.cxs-faces button{font-size:24px;border-color:transparent}",
    ".cxs-stars button[data-on]{color:#f59e0b}",
    ".cxs-scale button:hover,.cxs-scale button[aria-pressed=true],.cxs-opt:hover{border-color:var(--cxs-primary);",
    "background:var(--cxs-primary);color:#fff}",
    ".cxs-root button:focus-visible,.cxs-root textarea:focus-visible,.cxs-root select:focus-visible,",
    ".cxs-root input:focus-visible{outline:3px solid var(--cxs-primary);outline-offset:2px}",
    ".cxs-labels{display:flex;justify-content:space-between;font-size:12px;opacity:.75;margin-top:4px}",
    ".cxs-root textarea{width:100%;min-height:72px;border:1px solid #d1d5db;border-radius:6px;padding:8px;",
    "font:inherit;color:inherit;background:transparent;resize:vertical}",
    ".cxs-root label{display:block;margin:8px 0 4px;font-weight:600}",
    ".cxs-actions{display:flex;justify-content:flex-end;gap:8px;margin-top:10px}",
    ".cxs-send{background:var(--cxs-primary);color:#fff;border:0;border-radius:6px;padding:8px 16px;font:inherit;",
    "cursor:pointer}.cxs-skip{background:transparent;border:0;color:inherit;font:inherit;cursor:pointer;opacity:.75}",
    ".cxs-thanks{margin:8px 28px 4px 0}",
    ".cxs-tab{position:fixed;z-index:2147482999;right:0;top:50%;transform:translateY(-50%) rotate(-90deg);",
    "transform-origin:bottom right;background:var(--cxs-primary,#4f46e5);color:#fff;border:0;border-radius:6px 6px 0 0;",
    "padding:6px 12px;font:14px system-ui,sans-serif;cursor:pointer}",
    "@media (max-width:600px){.cxs-root:not(.cxs-inline){left:0;right:0;bottom:0;top:auto;width:100%;max-width:100%;",
    "transform:none;border-radius:14px 14px 0 0;padding-bottom:calc(14px + env(safe-area-inset-bottom))}",
    ".cxs-scale button{min-height:44px}}",
    "@media (prefers-reduced-motion:no-preference){.cxs-root:not(.cxs-inline){animation:cxs-in .2s ease-out}}",
    "@keyframes cxs-in{from{opacity:0}to{opacity:1}}",
  ].join("");

  function style() {
    if (document.getElementById("cxs-style")) return;
    var el = document.createElement("style");
    el.id = "cxs-style";
    el.textContent = CSS;
    (document.head || document.documentElement).appendChild(el);
  }

  function h(tag, attrs, text) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) if (attrs[k] !== null && attrs[k] !== undefined) el.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) el.textContent = String(text); // never innerHTML: texts are data
    return el;
  }

  function followFor(s, score) {
    var f = s.follow_up || {};
    if (score === null || score === undefined) return f["default"] || null;
    if (s.metric === "nps" || s.metric === "enps") {
      var g = score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
      return f[g] || f["default"] || null;
    }
    if (s.scale) return f[score > (s.scale[0] + s.scale[1]) / 2 ? "high" : "low"] || f["default"] || null;
    return f["default"] || null;
  }

  function holds(cond, score) {
    if (!cond) return true;
    if (score === null || score === undefined) return false;
    var m = /^\s*score\s*(<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(cond);
    if (!m) return false;
    var v = parseFloat(m[2]);
    return { "<=": score <= v, ">=": score >= v, "<": score < v, ">": score > v, "==": score === v, "!=": score !== v }[m[1]];
  }

  // -- the widget ------------------------------------------------------------------------------
  function show(s, opts) {
    style();
    var preview = !!opts.preview;
    var rid = uuid();
    var score = null;
    var answered = false;
    var before = document.activeElement;
    var pos = (s.appearance && s.appearance.position) || "bottom-right";
    var qid = "cxs-q-" + s.id.replace(/[^a-z0-9_-]/gi, "");
    var root = h("div", { "class": "cxs-root cxs-" + pos + (opts.container ? " cxs-inline" : ""), role: "dialog",
      "aria-modal": "false", "aria-label": s.question, "data-survey": s.id, lang: s.language || null });
    var colors = (s.appearance && s.appearance.colors) || {};
    if (colors.primary) root.style.setProperty("--cxs-primary", colors.primary);
    if (colors.background) root.style.setProperty("--cxs-bg", colors.background);
    if (colors.text) root.style.setProperty("--cxs-text", colors.text);
    var close = h("button", { type: "button", "class": "cxs-close", "aria-label": "Close survey" }, "\u00D7");
    var body = h("div", { "class": "cxs-body" });
    root.appendChild(close);
    root.appendChild(body);

    function send(path, data) { return preview ? Promise.resolve({}) : post(path, data); }

    function finish(dismissed) {
      if (!root.parentNode) return;
      if (dismissed && !answered) send("/v1/surveys/" + encodeURIComponent(s.id) + "/dismiss", {});
      if (answered && !preview && tabSurvey && tabSurvey.id === s.id) {
        var tab = document.querySelector(".cxs-tab"); // one answer per person: no tab to a finished survey
        if (tab) tab.parentNode.removeChild(tab);
        tabSurvey = null;
      }
      root.parentNode.removeChild(root);
      if (open === root) open = null;
      if (before && before.focus && document.contains(before)) before.focus();
    }

    function respond(data) {
      data.responseId = rid;
      data.language = s.language;
      data.url = location.href;
      return send("/v1/surveys/" + encodeURIComponent(s.id) + "/responses", data);
    }

    function thanks() {
      body.textContent = "";
      var p = h("p", { "class": "cxs-thanks", role: "status", tabindex: "-1" }, s.thank_you);
      body.appendChild(p);
      p.focus();
      if (!preview) setTimeout(function () { finish(false); }, 4000);
    }

    function followUp() {
      body.textContent = "";
      var text = s.metric === "text" ? s.question : followFor(s, score);
      var extra = (s.questions || []).filter(function (q) { return holds(q.show_if, score) || (s.metric === "text" && !q.show_if); });
      if (!text && !extra.length) return thanks();
      var form = h("form", { "class": "cxs-form" });
      var fields = {};
      var first = null;
      if (text) {
        var cid = qid + "-comment";
        form.appendChild(h("label", { "for": cid, id: qid + "-fu" }, text));
        var ta = h("textarea", { id: cid, name: "comment", maxlength: "5000", rows: "3" });
        form.appendChild(ta);
        fields.comment = ta;
        first = ta;
      } else {
        form.appendChild(h("p", { "class": "cxs-q", id: qid + "-fu" }, s.question));
      }
      extra.forEach(function (q) {
        var id = qid + "-" + q.id;
        form.appendChild(h("label", { "for": id }, q.question));
        var el;
        if (q.type === "choice") {
          el = h("select", { id: id, name: q.id });
          el.appendChild(h("option", { value: "" }, "\u2014"));
          q.options.forEach(function (o) { el.appendChild(h("option", { value: o }, o)); });
        } else if (q.type === "rating") {
          el = h("select", { id: id, name: q.id });
          el.appendChild(h("option", { value: "" }, "\u2014"));
          [1, 2, 3, 4, 5].forEach(function (n) { el.appendChild(h("option", { value: String(n) }, String(n))); });
        } else {
          el = h("textarea", { id: id, name: q.id, maxlength: "5000", rows: "2" });
        }
        el._q = q;
        form.appendChild(el);
        if (!first) first = el;
      });
      var actions = h("div", { "class": "cxs-actions" });
      var skip = h("button", { type: "button", "class": "cxs-skip" }, "Skip");
      var submit = h("button", { type: "submit", "class": "cxs-send" }, s.submit_label || "Send");
      actions.appendChild(skip);
      actions.appendChild(submit);
      form.appendChild(actions);
      skip.addEventListener("click", function () { answered = score !== null; thanks(); });
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var data = {};
        if (fields.comment && fields.comment.value.trim()) data.comment = fields.comment.value;
        var answers = {};
        Array.prototype.forEach.call(form.querySelectorAll("select,textarea"), function (el) {
          if (!el._q || !el.value) return;
          answers[el._q.id] = el._q.type === "rating" ? parseInt(el.value, 10) : el.value;
        });
        if (Object.keys(answers).length) data.answers = answers;
        answered = true;
        submit.disabled = true;
        (Object.keys(data).length ? respond(data) : Promise.resolve()).then(thanks, thanks);
      });
      body.appendChild(form);
      if (first) first.focus();
    }

    function choose(v, btn) {
      score = v;
      answered = true;
      if (btn) btn.setAttribute("aria-pressed", "true");
      respond({ score: v }).then(followUp, followUp);
    }

    function scoreStep() {
      body.textContent = "";
      if (s.metric === "text") return followUp();
      body.appendChild(h("p", { "class": "cxs-q", id: qid }, s.question));
      if (s.metric === "choice") {
        (s.options || []).forEach(function (o, i) {
          var b = h("button", { type: "button", "class": "cxs-opt" }, o);
          b.addEventListener("click", function () { choose(i + 1, b); });
          body.appendChild(b);
        });
        return;
      }
      var lo = s.scale[0], hi = s.scale[1];
      var kind = s.display === "stars" ? "stars" : s.display === "faces" ? "faces" : "numbers";
      var group = h("div", { "class": "cxs-scale cxs-" + kind, role: "group", "aria-labelledby": qid });
      var buttons = [];
      for (var v = lo; v <= hi; v++) {
        var label = kind === "stars" ? v + (v === 1 ? " star" : " stars") + " out of " + hi
          : kind === "faces" ? v + " of " + hi + (v === lo ? ", " + s.low_label : v === hi ? ", " + s.high_label : "")
          : v + " out of " + hi + (v === lo ? ", " + s.low_label : v === hi ? ", " + s.high_label : "");
        var glyph = kind === "stars" ? "\u2605" : kind === "faces" ? FACES[Math.round((v - lo) * 4 / Math.max(1, hi - lo))] : String(v);
        var b = h("button", { type: "button", "aria-label": label, "data-score": String(v), "aria-pressed": "false" }, glyph);
        (function (val, btn) {
          btn.addEventListener("click", function () { choose(val, btn); });
          if (kind === "stars") {
            btn.addEventListener("mouseenter", function () {
              buttons.forEach(function (x, i) { if (i <= val - lo) x.setAttribute("data-on", ""); else x.removeAttribute("data-on"); });
            });
          }
        })(v, b);
        buttons.push(b);
        group.appendChild(b);
      }
      group.addEventListener("keydown", function (ev) {
        var i = buttons.indexOf(document.activeElement);
        if (i < 0) return;
        var j = ev.key === "ArrowRight" || ev.key === "ArrowDown" ? i + 1 : ev.key === "ArrowLeft" || ev.key === "ArrowUp" ? i - 1
          : ev.key === "Home" ? 0 : ev.key === "End" ? buttons.length - 1 : null;
        if (j === null) return;
        ev.preventDefault();
        buttons[Math.max(0, Math.min(buttons.length - 1, j))].focus();
      });
      body.appendChild(group);
      var labels = h("div", { "class": "cxs-labels", "aria-hidden": "true" });
      labels.appendChild(h("span", {}, s.low_label));
      labels.appendChild(h("span", {}, s.high_label));
      body.appendChild(labels);
    }

    close.addEventListener("click", function () { finish(true); });
    root.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { ev.stopPropagation(); finish(true); }
    });
    scoreStep();
    if (opts.container) {
      opts.container.textContent = "";
      opts.container.appendChild(root);
    } else {
      if (open && open.parentNode) open.parentNode.removeChild(open);
      open = root;
      document.body.appendChild(root);
      var firstControl = root.querySelector(".cxs-body button, .cxs-body textarea");
      if (firstControl) firstControl.focus();
    }
    if (!preview) send("/v1/surveys/" + encodeURIComponent(s.id) + "/impression", {});
    return root;
  }

  function showTab(s) {
    tabSurvey = s;
    if (document.querySelector(".cxs-tab")) return;
    style();
    var b = h("button", { type: "button", "class": "cxs-tab", "aria-haspopup": "dialog" }, s.tab_label || "Feedback");
    var c = s.appearance && s.appearance.colors && s.appearance.colors.primary;
    if (c) b.style.setProperty("--cxs-primary", c);
    b.addEventListener("click", function () { if (!open) show(tabSurvey, {}); });
    document.body.appendChild(b);
  }

  function onTrack(e) {
    var name = typeof e === "string" ? e : e && (e.event || e.name);
    if (name && watch[name]) check(name);
  }

  var api = {
    version: "1",
    /** Start: {writeKey, host?, userId?, userHash?, lang?}; asks the server which survey to show (a Promise).
        A userId counts only with its userHash (HMAC-SHA256 with the identity secret, made by your server). */
    init: function (o) {
      o = o || {};
      cfg.writeKey = o.writeKey || cfg.writeKey;
      cfg.host = (o.host || cfg.host || "").replace(/\/$/, "");
      if (o.userId) cfg.userId = o.userId;
      if (o.userHash) cfg.userHash = o.userHash;
      if (o.lang) cfg.lang = o.lang;
      if (window.cxlens && typeof window.cxlens.on === "function" && !api._hooked) {
        api._hooked = true;
        window.cxlens.on("track", onTrack);
      }
      if (document.readyState !== "loading") return check(null);
      return new Promise(function (resolve) {
        document.addEventListener("DOMContentLoaded", function () { check(null).then(resolve, resolve); });
      });
    },
    /** Tell the widget an event happened (standalone use; the tracker's events arrive by themselves). */
    track: function (name) { onTrack(name); },
    /** Set the signed-in customer id and its userHash (without the hash, answers count as anonymous). */
    identify: function (userId, userHash) { cfg.userId = userId || null; cfg.userHash = userHash || null; },
    /** Render a localised survey without sending anything (the dashboard's live preview). */
    preview: function (s, o) { return show(s, { preview: true, container: o && o.container }); },
    /** Close the widget on screen, if any. */
    close: function () { if (open && open.parentNode) open.parentNode.removeChild(open); open = null; },
  };
  window.cxlensSurvey = api;

  // Start by itself when the page says how: data-write-key on this <script>, or the cxlens tracker
  // (which loads this file when initialised with {surveys: true}) exposing its settings via config().
  var me = document.currentScript;
  var origin = me ? /^https?:\/\/[^/]+/.exec(me.getAttribute("src") || "") : null;
  var auto = { writeKey: me && me.getAttribute("data-write-key"), host: me && me.getAttribute("data-host") };
  if (!auto.writeKey && window.cxlens && typeof window.cxlens.config === "function") {
    try {
      var tc = window.cxlens.config() || {};
      auto = { writeKey: tc.writeKey, host: tc.host };
    } catch (e) { /* wait for an explicit cxlensSurvey.init */ }
  }
  // cxlensSurvey.ready: a Promise settled once the page-load eligibility answer is in
  api.ready = auto.writeKey ? api.init({ writeKey: auto.writeKey, host: auto.host || (origin ? origin[0] : "") })
    : Promise.resolve();
})();
