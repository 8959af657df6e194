/*! cxlens-behaviour.js — clicks, scroll depth, errors, zones and frustration signals. Apache-2.0.
 *
 * Loaded by cxlens.js when init({heatmaps: true} | {frustration: true}) or the workspace's
 * remote config turns a part on; every signal is a track() message, so it goes through the same
 * authenticated, batched collection path as any event (docs/behaviour.md).
 *
 *   heatmaps:    $click (page x/y, viewport, $selector, position relative to the target, text ≤ 25
 *                characters unless masked, hesitation), $scroll_depth per page view, $zone_exposed
 *   frustration: $rageclick, $deadclick, $errorclick, $exception, $quickback, $excessive_scroll
 *
 * Rage click: PostHog's rule — 3 clicks, each within 30 px (Manhattan) and 1 s of the previous;
 * carousel/stepper controls ("next", "prev", "+", "-"…) and text inputs excluded. Dead click:
 * PostHog's — no DOM mutation within 2.5 s, no scroll or selection change within 0.1 s, no
 * focus/visibility change within 1 s; links and modifier clicks excluded. Error click: an
 * uncaught error or rejection within 1 s after a click (then not also dead). Opt-out classes on
 * the element or an ancestor: cx-no-capture (nothing), cx-no-rageclick, cx-no-deadclick; cx-mask
 * (or the maskSelector option) hides an element's text; input values are never read.
 * Quick back: back on the page before within the left page's threshold; excessive scrolling: more
 * scroll direction changes (each a turn of >= 50 px) than the page's fence. Both thresholds are the
 * page's own, from the remote config (?page=, cxlens.behaviour.baselines); 5 s and 10 until it answers.
 */
(function (window, document) {
  "use strict";
  var cx = window.cxlens;
  if (!cx || !cx.behaviourConfig || cx.behaviourLoaded) return;
  cx.behaviourLoaded = true;
  var B = cx.behaviourConfig();
  var RAGE_PX = 30, RAGE_MS = 1000, RAGE_N = 3;
  var DEAD_MUTATION = 2500, DEAD_SCROLL = 100, DEAD_SELECTION = 100, LIVENESS = 1000, ERROR_MS = 1000;
  var STEPPERS = ["next", "previous", "prev", ">", "<", "+", "-", "\u2212", "\u2013"];
  var now = function () { return Date.now(); };
  var on = function (t, ev, fn, opt) { t.addEventListener(ev, fn, opt === undefined ? true : opt); };

  // signals so far, for a replay recorder that starts later (it marks them)
  var SIG = {$rageclick: 1, $deadclick: 1, $errorclick: 1, $quickback: 1, $excessive_scroll: 1};
  cx.signals = cx.signals || [];
  function track(name, props) {
    if (!cx.capturing()) return;
    if (!props.$pageview_id) props.$pageview_id = cx.pageview();
    var m = cx.track(name, props);
    if (m && SIG[name]) { cx.signals.push(m); if (cx.signals.length > 20) cx.signals.shift(); }
  }
  function within(el, cls) {
    for (; el && el.nodeType === 1; el = el.parentElement) if (el.classList.contains(cls)) return true;
    return false;
  }
  function esc(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/[^\w-]/g, "\\$&"); }
  function unique(sel) { try { return document.querySelectorAll(sel).length === 1; } catch (e) { return false; } }

  // a CSS selector that finds this element alone: an id or data-cx/data-testid where there is
  // one, else the tag with its stable classes, then :nth-of-type, walking up to such an anchor
  function selector(el) {
    var path = [];
    for (; el && el.nodeType === 1 && el !== document.documentElement; el = el.parentElement) {
      var tag = el.tagName.toLowerCase(), part = tag, attr = el.getAttribute("data-cx") ? "data-cx" :
        el.getAttribute("data-testid") ? "data-testid" : null;
      if (el.id && !/\d{3,}/.test(el.id)) part = "#" + esc(el.id);
      else if (attr) part = tag + "[" + attr + '="' + el.getAttribute(attr).replace(/"/g, '\\"') + '"]';
      else {
        var cls = [].filter.call(el.classList, function (c) { return !/^cx-|\d{3,}|:/.test(c); }).slice(0, 2);
        if (cls.length) part += "." + cls.map(esc).join(".");
        var p = el.parentElement, n = 0, same = 0;
        if (p) for (var c = p.firstElementChild; c; c = c.nextElementSibling) {
          if (c.tagName === el.tagName) { same++; if (c === el) n = same; }
        }
        if (same > 1) part += ":nth-of-type(" + n + ")";
      }
      path.unshift(part);
      var sel = path.join(" > ");
      if (part.charAt(0) === "#" || part.indexOf("[data-") > 0 || tag === "body") { if (unique(sel)) return sel; }
    }
    return path.join(" > ");
  }
  function masked(el) {
    if (within(el, "cx-mask")) return true;
    try { return !!(B.maskSelector && el.closest(B.maskSelector)); } catch (e) { return false; }
  }
  function text(el) {
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable) return null;  // values: never
    var t = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
    return t ? t.slice(0, 25) : null;
  }

  // -- what the page does, for dead clicks ------------------------------------------------------
  var lastMutation = 0, lastScroll = 0, lastSelection = 0, lastLiveness = 0;
  if (window.MutationObserver) {
    new MutationObserver(function () { lastMutation = now(); })
      .observe(document, {attributes: true, characterData: true, childList: true, subtree: true});
  }
  on(window, "scroll", function () { lastScroll = now(); });
  on(document, "selectionchange", function () { lastSelection = now(); });
  on(document, "visibilitychange", function () { lastLiveness = now(); });
  var windowFocus = function (e) { if (e.target === window) lastLiveness = now(); };  // a new tab or popup
  on(window, "focus", windowFocus);
  on(window, "blur", windowFocus);

  // -- hesitation: when the pointer entered each element -----------------------------------------
  var entered = window.WeakMap ? new WeakMap() : null;
  on(document, "pointerover", function (e) {
    if (!entered) return;
    for (var el = e.target; el && el.nodeType === 1; el = el.parentElement) {
      if (e.relatedTarget && el.contains(e.relatedTarget)) break;
      entered.set(el, now());
    }
  });

  // -- clicks ----------------------------------------------------------------------------------
  var rage = [], lastClick = null, lastDeadNode = null, lastDeadAt = 0;
  function zonesOf(el) {
    var out = [];
    for (var i = 0; i < B.zones.length; i++) {
      try { if (el.closest(B.zones[i].selector)) out.push(B.zones[i].name); } catch (e) { /* bad selector */ }
    }
    return out;
  }
  on(document, "click", function (e) {
    var el = e.target && e.target.nodeType === 1 ? e.target : e.target && e.target.parentElement;
    if (!el || el === document.documentElement || within(el, "cx-no-capture")) return;
    var t = now(), r = el.getBoundingClientRect(), sel = selector(el);
    var props = {
      $selector: sel, $tag: el.tagName.toLowerCase(),
      $x: Math.round(e.pageX), $y: Math.round(e.pageY),
      $viewport_width: window.innerWidth, $viewport_height: window.innerHeight,
      $page_width: document.documentElement.scrollWidth, $page_height: document.documentElement.scrollHeight,
      $rel_x: r.width ? Math.round((e.clientX - r.left) / r.width * 1000) / 1000 : null,
      $rel_y: r.height ? Math.round((e.clientY - r.top) / r.height * 1000) / 1000 : null,
      $since_load_ms: window.performance ? Math.round(performance.now()) : null
    };
    if (masked(el)) props.$masked = true; else props.$text = text(el);
    var since = entered && entered.get(el);
    if (since) props.$hesitation_ms = t - since;
    if (B.zones.length) props.$zones = zonesOf(el);
    if (B.heatmaps) track("$click", props);
    if (!B.frustration) return;
    var click = {t: t, props: props, el: el, error: false};
    lastClick = click;
    checkRage(e, el, t, props);
    checkDead(e, el, click);
  });

  function checkRage(e, el, t, props) {
    var label = ((el.innerText || "") + " " + (el.getAttribute("aria-label") || "")).trim().toLowerCase();
    var stepper = STEPPERS.some(function (k) { return /\w/.test(k) ? label.indexOf(k) >= 0 : label === k; });
    var input = el.isContentEditable || el.tagName === "TEXTAREA" ||
      (el.tagName === "INPUT" && /^(|text|search|email|password|url|tel|number)$/.test(el.type || ""));
    if (within(el, "cx-no-rageclick") || stepper || input) { rage = []; return; }
    var last = rage[rage.length - 1];
    if (last && Math.abs(e.clientX - last.x) + Math.abs(e.clientY - last.y) < RAGE_PX && t - last.t < RAGE_MS) {
      rage.push({x: e.clientX, y: e.clientY, t: t});
    } else rage = [{x: e.clientX, y: e.clientY, t: t}];
    if (rage.length === RAGE_N) track("$rageclick", merge(props, {$click_count: RAGE_N}));
  }

  function checkDead(e, el, click) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey || within(el, "cx-no-deadclick") || el.closest("a")) return;
    if (lastDeadNode === el && click.t - lastDeadAt < LIVENESS) return;  // the same node again: one candidate
    lastDeadNode = el; lastDeadAt = click.t;
    setTimeout(function () {
      var t = click.t;
      if (click.error) return;  // reported as an error click
      if (lastMutation >= t && lastMutation - t <= DEAD_MUTATION) return;
      if (lastScroll >= t && lastScroll - t <= DEAD_SCROLL) return;
      if (lastSelection >= t && lastSelection - t <= DEAD_SELECTION) return;
      if (Math.abs(lastLiveness - t) <= LIVENESS) return;
      track("$deadclick", merge(click.props, {$dead_click_delay_ms: DEAD_MUTATION}));
    }, DEAD_MUTATION + 50);
  }

  function merge(a, b) {
    var o = {}, k;
    for (k in a) o[k] = a[k];
    for (k in b) o[k] = b[k];
    return o;
  }

  // -- errors ----------------------------------------------------------------------------------
  var errors = 0;
  function onError(message, stack) {
    if (!B.frustration || errors++ >= 20) return;  // at most 20 a page view
    var props = {$message: String(message || "Error").slice(0, 500), $stack: stack ? String(stack).slice(0, 2000) : null};
    track("$exception", props);
    var c = lastClick;
    if (c && now() - c.t <= ERROR_MS && !c.error) {
      c.error = true;
      track("$errorclick", merge(c.props, {$message: props.$message}));
    }
  }
  on(window, "error", function (e) { if (!e.target || e.target === window) onError(e.message, e.error && e.error.stack); });
  on(window, "unhandledrejection", function (e) {
    var r = e.reason;
    onError(r && r.message ? r.message : r, r && r.stack);
  });

  // -- scroll depth per page view and zone exposure ----------------------------------------------
  var maxBottom = 0, sent = false, view = null;  // view: the page view the depth belongs to (SPA: the one left)
  function depth() {
    maxBottom = Math.max(maxBottom, (window.scrollY || window.pageYOffset || 0) + window.innerHeight);
  }
  depth();
  on(window, "scroll", depth, {passive: true});
  function sendDepth() {
    if (!(B.heatmaps || B.frustration) || sent) return;
    sent = true;
    var h = document.documentElement.scrollHeight, p = {$max_y: Math.round(maxBottom), $page_height: h,
      $viewport_width: window.innerWidth, $viewport_height: window.innerHeight,
      $percent: h ? Math.min(100, Math.round(maxBottom / h * 100)) : null, $direction_changes: turns};
    if (view) { p.url = view.href; p.$pageview_id = view.id; }
    track("$scroll_depth", p);
  }
  cx.onHide(sendDepth);

  // -- the page's baseline, quick backs and excessive scrolling ------------------------------------
  var base = {quickBackMs: 5000, scrollFence: 10}, QB = "cxlens_qb", TURN_PX = 50;
  var dir = 0, ext = 0, turns = 0, excessive = false;
  function key(u) { return String(u).replace(/[?#].*$/, ""); }
  function nav(h) {
    try {
      if (h) sessionStorage.setItem(QB, JSON.stringify(h)); else return JSON.parse(sessionStorage.getItem(QB)) || {};
    } catch (e) { return {}; }
  }
  // a page view starts at the page's navigation (not when this script loads), later at cxlens.page()
  var loadedAt = window.performance && performance.timeOrigin ? Math.round(performance.timeOrigin) : now();
  function pageView() {
    var h = nav(), sid = cx.session(), href = location.href, t = loadedAt || now(), id = cx.pageview();
    loadedAt = 0;
    var v = h.s === sid && h.v ? h.v : [], b = v[v.length - 1], a = v[v.length - 2];
    if (b && b.id === id) return;
    if (B.frustration && a && b && a.u === key(href) && b.u !== a.u && t - b.t < b.th) {
      track("$quickback", {url: b.h, $from_url: b.h, $to_url: href, $dwell_ms: t - b.t, $threshold_ms: b.th,
                           $pageview_id: b.id});
    }
    if (view && view.id !== id) { sent = false; maxBottom = 0; depth(); }  // a new (SPA) page view: its own depth
    view = {id: id, href: href};
    v.push({u: key(href), h: href, t: t, id: id, th: 5000});
    nav({s: sid, v: v.slice(-2)});
    base = {quickBackMs: 5000, scrollFence: 10}; dir = 0; ext = window.scrollY || window.pageYOffset || 0; turns = 0; excessive = false;
    var c = cx.config();
    if (!c.writeKey || !window.fetch) return;
    fetch(c.host + "/v1/behaviour/config?writeKey=" + encodeURIComponent(c.writeKey) + "&page=" +
          encodeURIComponent(key(href)), {credentials: "omit"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || !j.page || id !== cx.pageview()) return;
        base = j.page;
        var k = nav();
        if (k.v && k.v.length && k.v[k.v.length - 1].id === id) { var e = k.v[k.v.length - 1]; e.th = base.quickBackMs; e.f = base.scrollFence; nav(k); }
      }, function () { /* keep the defaults */ });
  }
  // at once: a page left before the recorder loaded is still one to come back to
  pageView();
  cx.on("page", function () { sendDepth(); setTimeout(pageView, 0); });  // the depth of the page view left
  on(window, "scroll", function () {
    var y = window.scrollY || window.pageYOffset || 0, d = y - ext;
    if (!dir) { if (Math.abs(d) >= TURN_PX) { dir = d > 0 ? 1 : -1; ext = y; } return; }
    if (d * dir > 0) { ext = y; return; }  // further the same way: the turning point moves with it
    if (Math.abs(d) < TURN_PX) return;  // a small bounce is not a turn
    dir = -dir; ext = y; turns++;
    if (B.frustration && !excessive && turns > base.scrollFence) {
      excessive = true;
      track("$excessive_scroll", {$direction_changes: turns, $fence: base.scrollFence, $scroll_y: Math.round(y)});
    }
  }, {passive: true});

  // a zone is exposed once its mid-height line stayed in the viewport for 150 ms (Contentsquare), once
  // per page view: a single-page app's next page view (cxlens.page()) counts its zones again
  if (B.heatmaps && B.zones.length) {
    var seenSince = {}, exposed = {}, zoneView = cx.pageview();
    setInterval(function () {
      if (document.visibilityState === "hidden") return;
      if (zoneView !== cx.pageview()) { zoneView = cx.pageview(); seenSince = {}; exposed = {}; }
      for (var i = 0; i < B.zones.length; i++) {
        var z = B.zones[i], el = null;
        if (exposed[z.name]) continue;
        try { el = document.querySelector(z.selector); } catch (e) { continue; }
        var r = el && el.getBoundingClientRect(), mid = r && r.top + r.height / 2;
        if (r && r.height && mid >= 0 && mid <= window.innerHeight) {
          seenSince[z.name] = seenSince[z.name] || now();
          if (now() - seenSince[z.name] >= 150) { exposed[z.name] = true; track("$zone_exposed", {$zone: z.name}); }
        } else seenSince[z.name] = 0;
      }
    }, 50);
  }
})(window, document);
