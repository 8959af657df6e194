/* The survey builder's live preview: the form, validated by the server, drawn by the real widget. */
(function () {
  var form = document.getElementById("survey-builder");
  var box = document.getElementById("survey-preview");
  var err = document.getElementById("preview-error");
  var timer = null;
  function refresh() {
    var data = new URLSearchParams(new FormData(form));
    fetch("/surveys/preview", { method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": form.elements["csrf_token"].value } })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (res.error) { err.textContent = res.error; err.hidden = false; return; }
        err.hidden = true;
        window.cxlensSurvey.preview(res.survey, { container: box });
      });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 50); });
  refresh();
})();
