/*! cxlens-replay.js — session replay with @rrweb/record (served after rrweb's MIT bundle). Apache-2.0.
 *
 * Loaded by cxlens.js only when replay is on: init({replay: {sampleRate, minimumDuration}}) or the
 * workspace's remote config (behaviour.replay). docs/behaviour.md, "Session replay".
 *
 *   privacy:  every input's value is masked (maskAllInputs; replay: {maskAllInputs: false} to
 *             relax it for non-password fields), elements with class cx-block are recorded as
 *             empty boxes, text under cx-mask (or the maskSelector option) as asterisks;
 *   sampling: a session is recorded when fnv1a(session id) falls under sampleRate (default 1), the
 *             same answer on every page of the session;
 *   minimum:  nothing is sent before the session has lasted minimumDuration ms (default 0); a page
 *             left earlier sends nothing;
 *   sending:  every flushInterval ms (default 5000) the new events go to POST /v1/replay as one
 *             chunk numbered per session (seq), gzip-compressed by CompressionStream where the
 *             browser has it, each request under 1 MB; failures are retried with the same seq (the
 *             server stores a chunk once). When the page is hidden what is left goes with
 *             navigator.sendBeacon (uncompressed, ≤ 60 KB a beacon; the key in ?writeKey=).
 *   consent:  cxlens.consent(false) stops the recorder and drops what was not sent.
 *   signals:  $rageclick, $deadclick, $errorclick, $quickback, $excessive_scroll tracked by cxlens-behaviour.js are added to the
 *             recording as custom events, so the player's timeline marks them; those tracked before this script
 *             loaded (a quick back is decided as the page loads) come from cx.signals and are marked when the
 *             recording starts (each once, by messageId).
 */
(function (window, document) {
  "use strict";
  var cx = window.cxlens, rr = window.rrwebRecord;
  if (!cx || !cx.behaviourConfig || !rr || !rr.record || cx.replayLoaded) return;
  cx.replayLoaded = true;
  var record = rr.record;
  var SIGNALS = {$rageclick: 1, $deadclick: 1, $errorclick: 1, $quickback: 1, $excessive_scroll: 1};
  var MAX_REQUEST = 1000000, BEACON_BYTES = 60000, MAX_BUFFER = 8000000, KEY = "cxlens_replay";
  var opts = {}, stopFn = null, sid = null, started = 0, buffer = [], bufBytes = 0, pending = [], timer = null;
  var sending = false, attempt = 0, reached = false;

  function num(v, d) { v = Number(v); return isFinite(v) && v >= 0 ? v : d; }
  function state() {
    var st = null;
    try { st = JSON.parse(window.localStorage.getItem(KEY) || "null"); } catch (e) { st = null; }
    return st && st.sid === sid ? st : {sid: sid, seq: 0, ok: false};
  }
  function save(st) { try { window.localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* private mode */ } }
  function nextSeq() { var st = state(), n = st.seq; st.seq = n + 1; save(st); return n; }
  function sampled(id) {
    var rate = num(opts.sampleRate, 1);
    if (rate >= 1) return true;
    if (rate <= 0) return false;
    return cx._assign("$replay", id, ["on", "off"], [rate, 1 - rate]) === "on";
  }
  function minimumReached(last) {
    if (!reached && (state().ok || last - started >= num(opts.minimumDuration, 0))) {
      reached = true;
      var st = state(); st.ok = true; save(st);
    }
    return reached;
  }

  function payload(events) {
    var u = cx.user(), body = {sessionId: sid, seq: nextSeq(), anonymousId: u.anonymousId, url: location.href,
                               events: events};
    if (u.userId) body.userId = u.userId;
    if (u.userId && u.userHash) body.userHash = u.userHash;
    return JSON.stringify(body);
  }
  function gzip(text) {
    if (!window.CompressionStream || !window.Response) return Promise.resolve(text);
    try {
      var stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
      return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); },
                                                      function () { return text; });
    } catch (e) { return Promise.resolve(text); }
  }
  function size(body) { return typeof body === "string" ? body.length * 3 : body.byteLength; }  // ≥ UTF-8 bytes
  // events → request bodies, each under MAX_REQUEST once compressed (split in halves until they are)
  function pack(events) {
    var text = payload(events);
    return gzip(text).then(function (body) {
      if (size(body) < MAX_REQUEST) return [body];
      if (events.length < 2) {
        if (window.console) console.warn("cxlens: a replay event of " + text.length + " bytes is too big to send");
        return [];
      }
      var half = Math.ceil(events.length / 2);
      return Promise.all([pack(events.slice(0, half)), pack(events.slice(half))]).then(function (p) {
        return p[0].concat(p[1]);
      });
    });
  }
  function url(beacon) {
    var c = cx.config();
    return c.host + "/v1/replay" + (beacon ? "?writeKey=" + encodeURIComponent(c.writeKey) : "");
  }
  function post() {
    if (sending || !pending.length) return;
    var c = cx.config();
    if (!c.writeKey || !cx.capturing()) return;
    var body = pending[0];
    sending = true;
    fetch(url(false), {
      method: "POST",
      headers: {"Content-Type": "text/plain", "Authorization": "Basic " + btoa(c.writeKey + ":")},
      body: body,
      keepalive: size(body) < BEACON_BYTES,
      credentials: "omit"
    }).then(function (r) { return r.ok ? 0 : (r.status === 429 || r.status >= 500 ? 1 : 2); }, function () { return 1; })
      .then(function (outcome) {
        sending = false;
        if (outcome === 1 && attempt < 8) {  // retry later, the same body (same seq)
          attempt++;
          setTimeout(post, Math.min(30000, 500 * Math.pow(2, attempt)));
          return;
        }
        if (outcome !== 0 && window.console) console.warn("cxlens: a replay chunk was refused or lost");
        pending.shift();
        attempt = 0;
        post();
      });
  }

  function flush() {
    if (!stopFn) return;
    if (!cx.capturing()) { stop(); return; }
    if (!buffer.length) return;  // idle: do not touch the session (it would never time out)
    var s = cx.session();
    if (s !== sid) {  // the session timed out while idle: a new recording, from a full snapshot
      buffer = []; bufBytes = 0;
      sid = s; reached = false; started = Date.now();
      if (!sampled(sid)) { stop(); return; }
      record.takeFullSnapshot(true);
    }
    send();
  }
  function send() {
    if (!buffer.length || !minimumReached(buffer[buffer.length - 1].timestamp)) return;
    var events = buffer;
    buffer = []; bufBytes = 0;
    pack(events).then(function (bodies) { pending = pending.concat(bodies); post(); });
  }
  // the page is being hidden: no time for compression, send plain beacons (≤ 60 KB each)
  function hide() {
    if (!stopFn || !cx.capturing() || !navigator.sendBeacon || !buffer.length) return;
    if (!minimumReached(buffer[buffer.length - 1].timestamp)) return;
    var c = cx.config();
    if (!c.writeKey) return;
    while (buffer.length) {
      var n = buffer.length, text = payload(buffer.slice(0, n));
      while (text.length > BEACON_BYTES && n > 1) { n = Math.ceil(n / 2); text = payload(buffer.slice(0, n)); }
      if (!navigator.sendBeacon(url(true), new Blob([text], {type: "text/plain"}))) return;  // keep the rest
      buffer = buffer.slice(n);
    }
    bufBytes = 0;
  }

  function stop() {
    if (stopFn) { try { stopFn(); } catch (e) { /* already stopped */ } }
    stopFn = null; buffer = []; bufBytes = 0; pending = [];
    clearInterval(timer); timer = null;
  }
  function start() {
    var b = cx.behaviourConfig();
    opts = b.replayOptions || {};
    if (stopFn || !b.replay || !cx.capturing()) return;
    sid = cx.session();
    if (!sampled(sid)) return;
    started = Date.now(); reached = false;
    stopFn = record({
      emit: function (e) {
        if (!cx.capturing()) { stop(); return; }
        buffer.push(e);
        if (late.length && e.type === 2) setTimeout(function () { var l = late; late = []; l.forEach(function (m) { mark(m[0], m[1]); }); }, 0);
        bufBytes += e.type === 2 ? 100000 : 200;  // a rough guard; the real split happens in pack()
        if (bufBytes > MAX_BUFFER && reached) flush();
      },
      maskAllInputs: opts.maskAllInputs !== false,
      maskInputOptions: {password: true},
      blockClass: "cx-block",
      maskTextClass: "cx-mask",
      maskTextSelector: b.maskSelector || null,
      ignoreClass: "cx-no-capture",
      inlineStylesheet: true,
      recordCanvas: false,
      collectFonts: false,
      sampling: {mousemove: 50, scroll: 150, input: "last"}
    }) || null;
    timer = setInterval(flush, num(opts.flushInterval, 5000));
    if (stopFn) backlog.forEach(signal);
  }

  // a signal tracked before rrweb's first snapshot (it waits for the page to load) is added once it is there
  var late = [];
  function mark(tag, payload) {
    try { record.addCustomEvent(tag, payload); } catch (e) { if (late.length < 20) late.push([tag, payload]); }
  }
  var marked = {}, backlog = (cx.signals || []).slice();  // tracked before this script: marked on start
  function signal(msg) {
    if (!stopFn || !SIGNALS[msg.event] || marked[msg.messageId]) return;
    marked[msg.messageId] = 1;
    var p = msg.properties || {};
    mark(msg.event, {selector: p.$selector || null, url: p.url || location.href});
  }
  cx.on("track", signal);
  cx.onHide(hide);
  cx.replayStart = start;
  cx.replayStop = stop;
  start();
})(window, document);
