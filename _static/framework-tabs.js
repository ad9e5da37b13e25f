// One page-wide PyTorch/TensorFlow switch, remembered across pages.
// Each notebook cell is tagged "pytorch" or "tensorflow" (MyST-NB turns tags into
// classes tag_pytorch / tag_tensorflow). A tab bar goes above every run of tagged
// cells; choosing a framework in any bar shows that framework's cells everywhere.
(function () {
  "use strict";
  var KEY = "d2l-resnet-framework";
  var FRAMEWORKS = [["pytorch", "PyTorch"], ["tensorflow", "TensorFlow"]];

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  function apply(fw) {
    if (fw !== "pytorch" && fw !== "tensorflow") { fw = "pytorch"; }
    document.documentElement.setAttribute("data-framework", fw);
    document.querySelectorAll(".fw-tabs button").forEach(function (b) {
      var on = b.getAttribute("data-fw") === fw;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    });
  }

  function choose(fw) {
    try { localStorage.setItem(KEY, fw); } catch (e) { /* private mode: page only */ }
    apply(fw);
  }

  function isTagged(el) {
    return el && el.classList && el.classList.contains("cell") &&
      (el.classList.contains("tag_pytorch") || el.classList.contains("tag_tensorflow"));
  }

  function addTabBars() {
    document.querySelectorAll(".cell.tag_pytorch, .cell.tag_tensorflow").forEach(function (cell) {
      if (isTagged(cell.previousElementSibling)) { return; }  // not the first of its run
      var bar = document.createElement("div");
      bar.className = "fw-tabs";
      bar.setAttribute("role", "tablist");
      FRAMEWORKS.forEach(function (f) {
        var b = document.createElement("button");
        b.type = "button";
        b.setAttribute("role", "tab");
        b.setAttribute("data-fw", f[0]);
        b.textContent = f[1];
        b.addEventListener("click", function () { choose(f[0]); });
        bar.appendChild(b);
      });
      cell.parentNode.insertBefore(bar, cell);
    });
  }

  apply(stored());  // before the body renders: no flash of the other framework
  document.addEventListener("DOMContentLoaded", function () {
    addTabBars();
    apply(stored());
  });
  window.addEventListener("storage", function (e) {
    if (e.key === KEY) { apply(e.newValue); }
  });
})();
