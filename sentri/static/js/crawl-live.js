// Live progress of an active crawl: poll its JSON every 1.5 s, update the counters, reload the page
// (server-rendered site map, diff and drafts) when it ends.
(function () {
  "use strict";
  var live = document.getElementById("crawl-live");
  if (!live || live.dataset.active !== "true") { return; }
  var failures = 0;

  function setField(name, value) {
    var nodes = live.querySelectorAll('[data-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = String(value); }
  }

  function poll() {
    fetch(live.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (crawl) {
        failures = 0;
        setField("status", crawl.status);
        ["found", "visited", "queued"].forEach(function (k) { setField(k, crawl.progress[k]); });
        if (crawl.status === "queued" || crawl.status === "running") { setTimeout(poll, 1500); }
        else { window.location.reload(); }
      })
      .catch(function () {
        failures += 1;
        if (failures < 20) { setTimeout(poll, 3000); }
      });
  }
  setTimeout(poll, 1500);
}());
