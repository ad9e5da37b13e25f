// The page's Colab and notebook-download entries follow the framework tab.
//
// _ext/colab_notebooks.py puts one entry per framework into the theme's launch and
// download dropdowns (classes btn-colab-<framework>, btn-notebook-<framework>).
// Without JavaScript all of them show; with it, only the reader's framework: the one
// of the page's checked framework tab, which sphinx-design has set from the stored
// choice or ?framework= by the time this runs, and which every tab change updates.
(function () {
  const PREFIXES = ["btn-colab-", "btn-notebook-"];

  function frameworks() {
    const ids = new Set();
    document.querySelectorAll('.sd-tab-label[data-sync-group="framework"]')
      .forEach((label) => ids.add(label.dataset.syncId));
    return ids;
  }

  function current() {
    for (const input of document.querySelectorAll(".framework-tabs > input:checked")) {
      const label = input.nextElementSibling;
      if (label && label.dataset.syncGroup === "framework") return label.dataset.syncId;
    }
    return null;
  }

  function update() {
    const chosen = current();
    if (!chosen) return;
    for (const fw of frameworks()) {
      for (const prefix of PREFIXES) {
        document.querySelectorAll("." + prefix + fw).forEach((link) => {
          const item = link.closest("li") || link;
          item.hidden = fw !== chosen;
        });
      }
    }
  }

  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.closest(".framework-tabs")) {
      update();
    }
  });
  // After sphinx-design's own DOMContentLoaded handler has restored the stored tab.
  document.addEventListener("DOMContentLoaded", () => setTimeout(update, 0));
})();
