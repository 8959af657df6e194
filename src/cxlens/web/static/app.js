/* cxlens dashboard: draw every [data-chart] with vega-embed, on load and after each htmx swap. Vega
   expressions run in the CSP-safe interpreter (the Content-Security-Policy allows no eval). */
(function () {
  "use strict";
  function embedCharts(root) {
    if (!root || !root.querySelectorAll || typeof vegaEmbed === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var specEl = document.getElementById(el.getAttribute("data-spec-id"));
      if (!specEl) return;
      el.setAttribute("data-rendered", "pending");
      var spec;
      try {
        spec = JSON.parse(specEl.textContent);
      } catch (err) {
        el.setAttribute("data-rendered", "error");
        el.textContent = "This chart could not be read.";
        return;
      }
      var opts = { actions: false, renderer: "svg" };
      if (typeof vegaInterpreter !== "undefined") {
        opts.ast = true;
        opts.expr = vegaInterpreter.expressionInterpreter;
      }
      vegaEmbed(el, spec, opts)
        .then(function () { el.setAttribute("data-rendered", "true"); })
        .catch(function (err) {
          el.setAttribute("data-rendered", "error");
          el.textContent = "This chart could not be drawn: " + err.message;
        });
    });
  }
  window.cxlensEmbedCharts = embedCharts;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { embedCharts(document); });
  } else {
    embedCharts(document);
  }
  document.addEventListener("htmx:afterSettle", function (evt) { embedCharts(evt.detail.elt); });
})();
/* Journey map: a click anywhere on a [data-row-link] row acts on the row's button (htmx drill-down). */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest && evt.target.closest("tr[data-row-link]");
    if (!row) return;
    var table = row.closest("table");
    if (table) table.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
    if (evt.target.closest("button, a")) return;  // the button itself already fired
    var button = row.querySelector("button[hx-get]");
    if (button) button.click();
  });
})();
/* Forms with data-confirm ask first (no inline handlers: the CSP allows scripts from this server only). */
(function () {
  "use strict";
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  }, true);
})();
