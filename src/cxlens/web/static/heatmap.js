/* cxlens heatmap over the page as recorded: rebuild the newest recorded load of the page from its rrweb
 * full snapshot (the vendored rrweb-player's replayer: a sandboxed iframe without scripts, built from
 * what this server stores — inputs and cx-mask text were masked, cx-block elements left out when
 * recorded; no third-party site is framed), lay it out at the chosen width, and put every click on the
 * element it hit at the position inside it (rel_x, rel_y), so the map follows the layout at each width.
 * No inline script. */
(function () {
  "use strict";
  var WIDTHS = {desktop: 1280, tablet: 800, mobile: 390};
  var DOT = 24;
  function start() {
    var box = document.getElementById("heatmap-page");
    if (!box) return;
    var stage = document.getElementById("heatmap-page-stage");
    var status = document.getElementById("heatmap-page-status");
    var say = function (state, msg) { box.setAttribute("data-state", state); status.textContent = msg || ""; };
    var Player = window.rrwebPlayer && (window.rrwebPlayer.default || window.rrwebPlayer.Player || window.rrwebPlayer);
    if (typeof Player !== "function") return say("error", "The page player did not load.");
    var replayer = null, current = null;
    function frame() { return replayer && replayer.iframe; }
    function place(width) {
      var f = frame(), doc = f && f.contentDocument;
      if (!doc || !doc.body) return say("error", "The recorded page could not be rebuilt.");
      current = width;
      f.style.width = WIDTHS[width] + "px";
      f.setAttribute("width", String(WIDTHS[width]));
      var h = Math.max(600, doc.documentElement.scrollHeight || 0);
      f.style.height = h + "px";
      f.setAttribute("height", String(h));
      var url = box.getAttribute("data-points") + "&width=" + encodeURIComponent(width);
      return fetch(url, {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (points) {
          if (current !== width) return;
          var old = doc.getElementById("cx-heat-layer");
          if (old) old.remove();
          var layer = doc.createElement("div");
          layer.id = "cx-heat-layer";
          layer.setAttribute("style", "position:absolute;left:0;top:0;width:0;height:0;pointer-events:none;z-index:2147483647");
          var drawn = 0, missing = 0, sx = doc.defaultView ? doc.defaultView.scrollX : 0, sy = doc.defaultView ? doc.defaultView.scrollY : 0;
          points.forEach(function (p) {
            var el = null;
            try { el = doc.querySelector(p.selector); } catch (e) { el = null; }
            if (!el) { missing++; return; }
            var r = el.getBoundingClientRect();
            if (!r.width && !r.height) { missing++; return; }
            var x = r.left + sx + p.rel_x * r.width, y = r.top + sy + p.rel_y * r.height;
            var d = doc.createElement("div");
            d.className = "cx-heat-dot";
            d.setAttribute("data-selector", p.selector);
            d.setAttribute("data-x", x.toFixed(1));
            d.setAttribute("data-y", y.toFixed(1));
            d.setAttribute("style", "position:absolute;left:" + (x - DOT / 2) + "px;top:" + (y - DOT / 2) + "px;width:" + DOT +
              "px;height:" + DOT + "px;border-radius:50%;background:radial-gradient(circle,rgba(255,0,0,.55) 0,rgba(255,160,0,.25) 45%,rgba(255,255,0,0) 70%)");
            layer.appendChild(d);
            drawn++;
          });
          doc.body.appendChild(layer);
          box.setAttribute("data-width", width);
          box.setAttribute("data-drawn", String(drawn));
          say("ready", drawn + (drawn === 1 ? " click" : " clicks") + " drawn at " + WIDTHS[width] + " px" +
              (missing ? "; " + missing + " on elements this recording does not have" : "") + ".");
        })
        .catch(function (e) { say("error", "Could not load the clicks: " + e.message); });
    }
    fetch(box.getAttribute("data-snapshot"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (snap) {
        if (!snap.events || snap.events.length < 2) return say("empty", "No recording of this page yet: turn on session replay to draw clicks over the page.");
        box.setAttribute("data-session", snap.session_id);
        var meta = snap.events[0].data || {};
        var player = new Player({target: stage, props: {events: snap.events, width: meta.width || 1280,
          height: meta.height || 800, autoPlay: false, showController: false, mouseTail: false}});
        replayer = player.getReplayer();
        var tries = 0;
        (function ready() {  // the replayer rebuilds the snapshot asynchronously
          var f = frame(), doc = f && f.contentDocument;
          if (doc && doc.body && doc.body.childElementCount) {
            Array.prototype.forEach.call(document.querySelectorAll("[data-heat-width]"), function (b) {
              b.addEventListener("click", function () { place(b.getAttribute("data-heat-width")); });
            });
            return place(box.getAttribute("data-initial") || "desktop");
          }
          if (++tries > 100) return say("error", "The recorded page could not be rebuilt.");
          setTimeout(ready, 50);
        })();
      })
      .catch(function (e) { say("error", "Could not load the recorded page: " + e.message); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
