/*! cxlens.js — the cxlens browser tracker (Segment-spec messages to /v1/batch). Apache-2.0.
 *
 * Load it with the snippet of docs/collect.md: it defines a stub `window.cxlens` queueing calls
 * made before this file arrives; here the queue is replayed in order.
 *
 *   cxlens.init({writeKey: "cxw_…", host: "https://collect.example.com", surveys: true})
 *   cxlens.page()                       // automatic on init unless {autoPage: false}; with {spa: true}
 *                                       // also on every history.pushState / popstate to another path or query
 *   cxlens.track("Signed Up", {plan: "pro"})
 *   cxlens.identify("user-42", {email: "ann@example.com"}, {userHash: "<HMAC from your server>"})
 *   cxlens.on("track", function (msg) { … })   // "track" | "page" | "identify" | "*"
 *   cxlens.user()                       // {anonymousId, userId}
 *   cxlens.reset()                      // sign-out: forget the user, new anonymous id
 *   cxlens.variant("checkout-v2", ["control", "one-page"])   // sticky A/B variant + one $exposure per page
 *                                       // (call it once the tracker has loaded: `cxlens.loaded === true`)
 *   cxlens.consent(false)               // stop everything and send nothing (true: resume)
 *   cxlens.session()                    // the current session id (what replays and events are keyed by)
 *
 * Behaviour capture is opt-in: init({heatmaps: true, frustration: true}) loads
 * /sdk/cxlens-behaviour.js (clicks, scroll depth, errors, rage/dead/error clicks, zones);
 * init({replay: {sampleRate: 0.1, minimumDuration: 2000}}) loads /sdk/cxlens-replay.js (rrweb
 * session replay, inputs masked). The workspace's remote config (GET /v1/behaviour/config) can
 * turn each part on or off without a redeploy. init({requireConsent: true}) sends nothing before consent(true); init({respectDNT:
 * true}) sends nothing when the browser says Do-Not-Track. Every message carries
 * context.sessionId (a new one after 30 minutes without activity).
 *
 * Messages are batched (every `flushInterval` ms or `flushAt` messages) and POSTed with the write
 * key as HTTP Basic user name; failures are retried with exponential backoff (each message
 * carries a messageId, so a retry is never counted twice). On pagehide whatever is still queued
 * goes with navigator.sendBeacon (the key then travels in the body as `writeKey`).
 */
(function (window, document) {
  "use strict";
  var VERSION = "1.0.0";
  var AID = "cxlens_aid";
  var UID = "cxlens_uid";
  var UHASH = "cxlens_uhash";
  var SID = "cxlens_sid";
  var CONSENT = "cxlens_consent";
  var stub = window.cxlens;
  if (stub && stub.loaded) return;

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = [];
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // -- storage: localStorage, else a first-party cookie ------------------------------------------
  function cookieGet(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function cookieSet(name, value) {
    var age = value === null ? 0 : 31536000;
    document.cookie = name + "=" + encodeURIComponent(value || "") + "; max-age=" + age + "; path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function load(name) {
    var v = null;
    try { v = window.localStorage.getItem(name); } catch (e) { /* blocked storage */ }
    return v || cookieGet(name);
  }
  function save(name, value) {
    try {
      if (value === null) window.localStorage.removeItem(name); else window.localStorage.setItem(name, value);
    } catch (e) { /* blocked storage: the cookie below still works */ }
    cookieSet(name, value);
  }

  // -- state ---------------------------------------------------------------------------------------
  var cfg = {writeKey: null, host: "", flushAt: 20, flushInterval: 1000, maxRetries: 10, autoPage: true,
             requireConsent: false, respectDNT: false, remoteConfig: true};
  var queue = [];
  var listeners = {};
  var timer = null;
  var sending = false;
  var attempt = 0;
  var anonymousId = load(AID);
  if (!anonymousId) { anonymousId = uuid(); save(AID, anonymousId); }
  var userId = load(UID);
  // identity verification: HMAC-SHA256(identity secret, userId), made by the site's server
  var userHash = load(UHASH);
  var consent = load(CONSENT);  // "1", "0" or null (not asked)
  var hideHooks = [];
  var remote = null;  // the workspace's remote config, once fetched
  var pageview = uuid();  // the current page view (behaviour events carry it as $pageview_id)
  var lastPath = null;  // path + query of the last page view (a single-page app's history changes)

  // a session ends after 30 minutes without a message (stored as "<id>.<last ms>")
  function sessionId() {
    var now = Date.now(), s = load(SID), parts = s ? s.split(".") : [];
    var id = parts.length === 2 && now - Number(parts[1]) < 1800000 ? parts[0] : uuid();
    save(SID, id + "." + now);
    return id;
  }
  function capturing() {
    if (consent === "0") return false;
    if (cfg.requireConsent && consent !== "1") return false;
    if (cfg.respectDNT && (navigator.doNotTrack === "1" || window.doNotTrack === "1")) return false;
    return true;
  }

  function scriptHost() {
    var s = document.currentScript;
    if (s && s.src) { var a = document.createElement("a"); a.href = s.src; return a.protocol + "//" + a.host; }
    return "";
  }
  var defaultHost = scriptHost();

  function context() {
    return {
      library: {name: "cxlens.js", version: VERSION},
      page: {path: location.pathname, url: location.href, title: document.title, referrer: document.referrer,
             search: location.search},
      userAgent: navigator.userAgent,
      locale: navigator.language,
      screen: {width: window.screen && window.screen.width, height: window.screen && window.screen.height},
      channel: "web",
      sessionId: sessionId()
    };
  }

  function emit(type, msg) {
    var fns = (listeners[type] || []).concat(listeners["*"] || []);
    for (var i = 0; i < fns.length; i++) {
      try { fns[i](msg); } catch (e) { if (window.console) console.error("cxlens listener failed", e); }
    }
  }

  function enqueue(msg) {
    if (!capturing()) return null;
    msg.messageId = uuid();
    msg.anonymousId = anonymousId;
    if (userId) msg.userId = userId;
    if (userId && userHash) msg.userHash = userHash;
    msg.timestamp = new Date().toISOString();
    msg.context = context();
    queue.push(msg);
    emit(msg.type, msg);
    if (queue.length >= cfg.flushAt) flush();
    else schedule(cfg.flushInterval);
    return msg;
  }

  function schedule(ms) {
    if (timer === null) timer = setTimeout(function () { timer = null; flush(); }, ms);
  }

  // -- sending -------------------------------------------------------------------------------------
  function flush() {
    if (sending || !queue.length || !cfg.writeKey || !capturing()) return;
    var batch = queue.splice(0, 100);
    var body = JSON.stringify({batch: batch, sentAt: new Date().toISOString()});
    sending = true;
    var done = function (ok, retry) {
      sending = false;
      if (ok) {
        attempt = 0;
      } else if (retry && attempt < cfg.maxRetries) {
        queue = batch.concat(queue);  // same messageIds: the server drops what it already has
        attempt++;
        clearTimeout(timer); timer = null;
        schedule(Math.min(30000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() / 2));
        return;
      } else if (window.console) {
        console.warn("cxlens: dropped " + batch.length + " messages after " + attempt + " attempts");
        attempt = 0;
      }
      if (queue.length) schedule(queue.length >= cfg.flushAt ? 0 : cfg.flushInterval);
    };
    try {
      fetch(cfg.host + "/v1/batch", {
        method: "POST",
        headers: {"Content-Type": "application/json", "Authorization": "Basic " + btoa(cfg.writeKey + ":")},
        body: body,
        keepalive: body.length < 60000,
        credentials: "omit"
      }).then(function (r) {
        done(r.ok, r.status === 429 || r.status >= 500);
      }, function () { done(false, true); });
    } catch (e) {
      done(false, true);
    }
  }

  function beacon() {
    for (var h = 0; h < hideHooks.length; h++) { try { hideHooks[h](); } catch (e) { /* keep unloading */ } }
    if (!capturing()) return;
    if (!queue.length || !cfg.writeKey || !navigator.sendBeacon) return;
    while (queue.length) {
      var batch = queue.splice(0, 50);
      var body = JSON.stringify({batch: batch, sentAt: new Date().toISOString(), writeKey: cfg.writeKey});
      // text/plain keeps it a "simple" request: no preflight, which a closing page cannot wait for
      if (!navigator.sendBeacon(cfg.host + "/v1/batch", new Blob([body], {type: "text/plain"}))) {
        queue = batch.concat(queue);
        return;
      }
    }
  }

  window.addEventListener("pagehide", beacon);
  // a page restored from the back-forward cache runs no script again: it is a new page view all the same
  window.addEventListener("pageshow", function (e) { if (e.persisted && cfg.autoPage && cfg.writeKey) api.page(); });
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") beacon(); });

  // -- experiments: the variant is fnv1a32(String(fnv1a32(experiment + visitor))) % 10000 / 10000 (GrowthBook's
  // hash v2) cut into the split, exactly as
  // cxlens.experiments.assign in Python; the first answer is remembered, so it stays after sign-in
  var EXP = "cxlens_exp";
  var exposedNow = {};
  function fnv1a(str) {
    var s = unescape(encodeURIComponent(str)), h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h >>> 0;
  }
  function assignVariant(name, visitor, variants, weights) {
    var u = (fnv1a(String(fnv1a(name + visitor))) % 10000) / 10000, total = 0, acc = 0, i;
    for (i = 0; i < variants.length; i++) total += weights ? Number(weights[i]) : 1;
    for (i = 0; i < variants.length; i++) {
      acc += (weights ? Number(weights[i]) : 1) / total;
      if (u < acc) return variants[i];
    }
    return variants[variants.length - 1];
  }

  // -- the public API ------------------------------------------------------------------------------
  function obj(x) { return x && typeof x === "object" ? x : {}; }

  // behaviour capture: the init options, overridden part by part by the workspace's remote config
  function behaviourConfig() {
    var out = {heatmaps: !!cfg.heatmaps, frustration: !!cfg.frustration, replay: !!cfg.replay, zones: [],
               maskSelector: cfg.maskSelector};
    var r = obj(remote);
    for (var k in out) if (k in r && r[k] !== null && r[k] !== undefined) out[k] = r[k];
    out.replayOptions = obj(cfg.replay);
    return out;
  }
  function loadScript(id, path) {
    if (document.getElementById(id)) return;
    var s = document.createElement("script");
    s.id = id;
    s.async = true;
    s.src = cfg.host + path;
    (document.head || document.documentElement).appendChild(s);
  }
  function startBehaviour() {
    var b = behaviourConfig();
    if (!capturing()) return;
    if (b.heatmaps || b.frustration) loadScript("cxlens-behaviour", "/sdk/cxlens-behaviour.js");
    if (b.replay) { if (api.replayStart) api.replayStart(); else loadScript("cxlens-replay", "/sdk/cxlens-replay.js"); }
  }
  function fetchRemote() {
    if (!cfg.remoteConfig || !cfg.writeKey || !window.fetch) return startBehaviour();
    fetch(cfg.host + "/v1/behaviour/config?writeKey=" + encodeURIComponent(cfg.writeKey), {credentials: "omit"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { remote = j; startBehaviour(); }, function () { startBehaviour(); });
  }

  // {spa: true}: a single-page app's navigations (pushState, Back/Forward) are page views of their own
  function watchHistory() {
    var check = function () { if (cfg.autoPage && location.pathname + location.search !== lastPath) api.page(); };
    var push = history.pushState;
    history.pushState = function () { var r = push.apply(this, arguments); check(); return r; };
    window.addEventListener("popstate", check);
  }

  var api = {
    loaded: true,
    VERSION: VERSION,
    init: function (options) {
      options = obj(options);
      for (var k in options) if (Object.prototype.hasOwnProperty.call(options, k)) cfg[k] = options[k];
      cfg.host = String(cfg.host || defaultHost).replace(/\/+$/, "");
      if (cfg.surveys) {
        var s = document.createElement("script");
        s.async = true;
        s.src = cfg.host + "/sdk/cxlens-survey.js";
        (document.head || document.documentElement).appendChild(s);
      }
      if (cfg.spa && !api.spa) { api.spa = true; watchHistory(); }
      if (cfg.autoPage) api.page();
      flush();
      fetchRemote();
      return api;
    },
    track: function (event, properties) {
      return enqueue({type: "track", event: String(event), properties: obj(properties)});
    },
    page: function (name, properties) {
      if (typeof name === "object" && name !== null) { properties = name; name = undefined; }
      var props = obj(properties);
      var base = {path: location.pathname, url: location.href, title: document.title, referrer: document.referrer,
                  search: location.search};
      for (var k in base) if (!(k in props)) props[k] = base[k];
      pageview = uuid();
      lastPath = location.pathname + location.search;
      props.$pageview_id = pageview;
      var msg = {type: "page", properties: props};
      if (name) msg.name = String(name);
      return enqueue(msg);
    },
    identify: function (id, traits, options) {
      if (typeof id === "object" && id !== null) { options = traits; traits = id; id = undefined; }
      if (id !== undefined && id !== null && id !== "") {
        if (String(id) !== userId) { userHash = null; save(UHASH, null); }
        userId = String(id); save(UID, userId);
      }
      if (options && options.userHash) { userHash = String(options.userHash); save(UHASH, userHash); }
      return enqueue({type: "identify", traits: obj(traits)});
    },
    on: function (type, callback) {
      (listeners[type] = listeners[type] || []).push(callback);
      return api;
    },
    user: function () { return {anonymousId: anonymousId, userId: userId || null, userHash: userHash || null}; },
    // what the survey widget (/sdk/cxlens-survey.js, loaded by init({surveys: true})) starts with
    config: function () { return {writeKey: cfg.writeKey || null, host: cfg.host || defaultHost}; },
    reset: function () {
      userId = null; save(UID, null);
      userHash = null; save(UHASH, null);
      anonymousId = uuid(); save(AID, anonymousId);
    },
    variant: function (name, variants, options) {
      options = obj(options);
      name = String(name);
      if (!variants || !variants.length) return null;
      variants = Array.prototype.map.call(variants, String);
      var remembered = {};
      try { remembered = JSON.parse(load(EXP) || "{}") || {}; } catch (e) { remembered = {}; }
      var v = remembered[name];
      if (!v || variants.indexOf(v) < 0) {
        v = assignVariant(name, userId || anonymousId, variants, options.weights);
        remembered[name] = v; save(EXP, JSON.stringify(remembered));
      }
      if (options.track !== false && !exposedNow[name]) {
        exposedNow[name] = true;
        enqueue({type: "track", event: "$exposure", properties: {experiment: name, variant: v}});
      }
      return v;
    },
    // the pure hash, for checks: cxlens._assign("exp", "visitor", ["a", "b"]) === the server's assignment
    _assign: assignVariant,
    flush: flush,
    consent: function (granted) {
      consent = granted ? "1" : "0"; save(CONSENT, consent);
      if (!granted) { queue = []; clearTimeout(timer); timer = null; } else { flush(); startBehaviour(); }
      return api;
    },
    capturing: capturing,
    pageview: function () { return pageview; },
    session: function () { return sessionId(); },
    behaviourConfig: behaviourConfig,
    onHide: function (fn) { hideHooks.push(fn); return api; }
  };

  window.cxlens = api;
  // replay what the snippet's stub queued before this file loaded, in order (init first)
  var pending = stub && stub.length ? Array.prototype.slice.call(stub) : [];
  pending.sort(function (a, b) { return (a[0] === "init" ? 0 : 1) - (b[0] === "init" ? 0 : 1); });
  for (var i = 0; i < pending.length; i++) {
    var call = pending[i];
    if (call && typeof api[call[0]] === "function") api[call[0]].apply(api, call.slice(1));
  }
})(window, document);
