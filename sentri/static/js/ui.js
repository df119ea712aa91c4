// Small progressive enhancements: <dialog> openers, dialogs shown on load, copy buttons.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  ready(function () {
    // <button data-dialog-open="id"> opens <dialog id="id"> as a modal; Escape closes it natively.
    document.querySelectorAll("[data-dialog-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.dataset.dialogOpen);
        if (dialog && !dialog.open) { dialog.showModal(); }
      });
    });
    // <button data-dialog-close> closes its dialog.
    document.querySelectorAll("[data-dialog-close]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = button.closest("dialog");
        if (dialog) { dialog.close(); }
      });
    });
    // <dialog data-show-on-load> opens as soon as the page is ready (the token reveal).
    document.querySelectorAll("dialog[data-show-on-load]").forEach(function (dialog) {
      if (!dialog.open) { dialog.showModal(); }
    });
    // <button data-copy="id"> copies the text (or value) of element #id.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        if (!source) { return; }
        var text = source.value !== undefined ? source.value : source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { fallback(source, done); });
        } else {
          fallback(source, done);
        }
      });
    });
    // <input type="checkbox" data-check-all="name"> ticks every checkbox called `name`.
    document.querySelectorAll("[data-check-all]").forEach(function (box) {
      box.hidden = false;
      box.addEventListener("change", function () {
        document.querySelectorAll('input[type="checkbox"][name="' + box.dataset.checkAll + '"]').forEach(function (b) {
          b.checked = box.checked;
        });
      });
    });
    // [data-visual-slider]: the actual picture over the expected one, cut where the range input says.
    document.querySelectorAll("[data-visual-slider]").forEach(function (slider) {
      var range = slider.querySelector('input[type="range"]');
      var top = slider.querySelector(".visual-slider-top");
      function cut() { top.style.clipPath = "inset(0 0 0 " + range.value + "%)"; }
      range.addEventListener("input", cut);
      cut();
    });
  });

  function fallback(source, done) {
    if (source.select) { source.select(); } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    try { if (document.execCommand("copy")) { done(); } } catch (e) { /* leave the text selected */ }
  }
})();
