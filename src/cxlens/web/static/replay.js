/* cxlens replay page: fetch one session's rrweb events, play them with the vendored rrweb-player, and
 * list its frustration signals (the custom events cxlens-replay.js added: $rageclick, $deadclick,
 * $errorclick, $quickback, $excessive_scroll), each a button that moves the player to one second before it. No inline script. */
(function () {
  "use strict";
  var COLORS = {$rageclick: "#d62728", $deadclick: "#ff7f0e", $errorclick: "#9467bd", $quickback: "#8c564b",
                $excessive_scroll: "#17becf"};
  var NAMES = {$rageclick: "Rage click", $deadclick: "Dead click", $errorclick: "Error click",
               $quickback: "Quick back from", $excessive_scroll: "Excessive scrolling"};
  function fmt(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }
  function start() {
    var el = document.getElementById("replay-player");
    if (!el) return;
    var Player = window.rrwebPlayer && (window.rrwebPlayer.default || window.rrwebPlayer.Player || window.rrwebPlayer);
    var fail = function (msg) {
      el.setAttribute("data-state", "error");
      var e = document.getElementById("replay-error");
      e.textContent = msg; e.hidden = false;
    };
    if (typeof Player !== "function") return fail("The replay player did not load.");
    fetch(el.getAttribute("data-events"), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (events) {
        if (events.length < 2) return fail("This recording is too short to play.");
        var width = Math.min(1024, el.clientWidth || 1024), height = Math.round(width * 0.56);
        el.style.minHeight = (height + 100) + "px";  // the player floats: keep its room in the page
        var player = new Player({target: el, props: {events: events, width: width, height: height,
                                                   autoPlay: false, tags: COLORS, skipInactive: true}});
        window.cxReplayPlayer = player;
        var t0 = events[0].timestamp, list = document.getElementById("replay-signals"), n = 0;
        events.forEach(function (e) {
          if (e.type !== 5 || !e.data || !COLORS[e.data.tag]) return;
          var offset = e.timestamp - t0, li = document.createElement("li"), b = document.createElement("button");
          b.type = "button";
          b.className = "link";
          b.setAttribute("data-signal", e.data.tag);
          b.setAttribute("data-offset", String(offset));
          var p = e.data.payload || {};
          var sel = p.selector ? " on " + p.selector : e.data.tag === "$quickback" && p.url ? " " + p.url : "";
          b.textContent = fmt(offset) + " " + NAMES[e.data.tag] + sel;
          b.addEventListener("click", function () { player.goto(Math.max(0, offset - 1000), false); });
          li.appendChild(b); list.appendChild(li); n++;
        });
        if (!n) document.getElementById("replay-no-signals").hidden = false;
        el.setAttribute("data-state", "ready");
      })
      .catch(function (e) { fail("Could not load the replay: " + e.message); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
