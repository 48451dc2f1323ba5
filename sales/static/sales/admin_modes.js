// The sale form shows only the terms of the chosen mode (sales.models.MODE_TERMS, in the page
// as JSON). Hidden terms keep their values (they are hidden, not removed), and a term with an
// error always shows, so a refusal is never about a field nobody can see.
(function () {
  "use strict";

  function setup() {
    var data = document.getElementById("sale-mode-terms");
    var mode = document.getElementById("id_mode");
    if (!data || !mode) {
      return;
    }
    var terms = JSON.parse(data.textContent);
    var every = {};
    Object.keys(terms).forEach(function (name) {
      terms[name].forEach(function (field) { every[field] = true; });
    });

    function show() {
      var shown = terms[mode.value] || [];
      Object.keys(every).forEach(function (field) {
        var row = document.querySelector(".form-row.field-" + field);
        if (row) {
          var visible = shown.indexOf(field) >= 0 || row.classList.contains("errors");
          row.style.display = visible ? "" : "none";
        }
      });
    }

    mode.addEventListener("change", show);
    show();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
}());
