// The review queue from the keyboard: j/k move to the next/previous item, a approves it, r rejects it,
// x ticks it for a bulk decision, t toggles its picture (in the Toggle view). The current item is the one
// the address names (#BSL-3, where a decision left the reviewer) or the first.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll("article.review-item[id]"));
  if (!items.length) { return; }
  var keys = document.querySelector(".review-keys");
  if (keys) { keys.hidden = false; }
  var current = Math.max(0, items.findIndex(function (item) { return "#" + item.id === location.hash; }));

  function show(index, scroll) {
    items[current].classList.remove("is-current");
    current = Math.min(Math.max(index, 0), items.length - 1);
    var item = items[current];
    item.classList.add("is-current");
    if (scroll) {
      item.scrollIntoView({ block: "start" });
      history.replaceState(null, "", "#" + item.id);
    }
  }

  function decide(word) {
    var button = items[current].querySelector('button[name="decision"][value^="' + word + ':"]');
    if (button) { button.click(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable], dialog")) { return; }
    var action = {
      j: function () { show(current + 1, true); },
      k: function () { show(current - 1, true); },
      a: function () { decide("approve"); },
      r: function () { decide("reject"); },
      x: function () {
        var box = items[current].querySelector('input[type="checkbox"][name="items"]');
        if (box) { box.checked = !box.checked; }
      },
      t: function () {
        var frame = items[current].querySelector("[data-toggle]");
        if (frame && window.sentriToggle) { window.sentriToggle(frame); }
      },
    }[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () { show(index, false); });
  });
  show(current, false);
})();
