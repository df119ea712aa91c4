// Small progressive enhancements: <dialog> openers, dialogs shown on load, copy buttons, sliders, zoom.
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
    // Delegated, so parts the live run page swaps in later work too.
    function cut(slider) {
      var range = slider.querySelector('input[type="range"]');
      var top = slider.querySelector(".visual-slider-top");
      var handle = slider.querySelector(".visual-slider-handle");
      if (range && top) { top.style.clipPath = "inset(0 0 0 " + range.value + "%)"; }
      if (range && handle) { handle.style.left = range.value + "%"; }
    }
    document.querySelectorAll("[data-visual-slider]").forEach(cut);
    document.addEventListener("input", function (event) {
      var slider = event.target.closest && event.target.closest("[data-visual-slider]");
      if (slider) { cut(slider); }
    });
    // [data-compare]: one view at a time (side by side, slider, toggle), chosen by its mode buttons.
    document.querySelectorAll("[data-compare]").forEach(function (figure) {
      figure.dataset.mode = "side";
      var modes = figure.querySelector(".compare-modes");
      if (modes) { modes.hidden = false; }
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest(".compare-modes [data-mode]");
      if (button) {
        var figure = button.closest("[data-compare]");
        figure.dataset.mode = button.dataset.mode;
        figure.querySelectorAll(".compare-modes [data-mode]").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b === button));
        });
        return;
      }
      var frame = event.target.closest && event.target.closest("[data-toggle]");
      if (frame) { toggle(frame); }
    });
    // <a data-zoom href="picture"> opens the picture large in <dialog id="zoom">; without script the
    // link opens it in a new tab.
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-zoom]");
      var dialog = document.getElementById("zoom");
      if (!link || !dialog || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      event.preventDefault();
      var image = document.getElementById("zoom-image");
      var inner = link.querySelector("img");
      image.src = link.href;
      image.alt = inner ? inner.alt : "";
      document.getElementById("zoom-open").href = link.href;
      if (!dialog.open) { dialog.showModal(); }
    });
  });

  // Show the other picture of a toggle view (expected <-> actual); review.js calls it for the t key.
  function toggle(frame) {
    var expected = frame.classList.toggle("show-expected");
    var said = frame.parentNode.querySelector("[data-showing]");
    if (said) { said.textContent = expected ? "expected" : "actual"; }
  }
  window.sentriToggle = toggle;

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
