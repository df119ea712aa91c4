// Live progress of an active run: poll the run's JSON every 1.5 s, update the counters and the
// progress bar, swap in the server-rendered parts ([data-live-part], each by its id: the headline, the
// crawl, the results) when more tests are done, stop when it ends.
(function () {
  "use strict";
  var live = document.getElementById("run-live");
  if (!live || live.dataset.active !== "true") { return; }
  var statusUrl = live.dataset.statusUrl;
  var reportUrl = live.dataset.reportUrl;
  var progress = document.getElementById("run-progress");
  var shownDone = -1;
  var failures = 0;

  function setField(name, value) {
    var nodes = live.querySelectorAll('[data-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = String(value); }
  }

  function refreshReport() {
    return fetch(reportUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        // Server-rendered and escaped by Jinja: the same markup a page load would show.
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-live-part]").forEach(function (fresh) {
          var shown = document.getElementById(fresh.id);
          if (shown) { shown.replaceWith(document.importNode(fresh, true)); }
        });
      });
  }

  function finish() {
    live.dataset.active = "false";
    var hide = document.querySelectorAll("[data-hide-when-done]");
    for (var i = 0; i < hide.length; i++) { hide[i].hidden = true; }
  }

  function poll() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (run) {
        failures = 0;
        var done = run.passed + run.failed + run.skipped + (run.quarantined || 0);
        var terminal = run.status !== "running";
        // Once it ended, say how many tests ran: an aborted run is "done" with tests that never ran.
        var count = terminal ? run.passed + run.failed + (run.quarantined || 0) : done;
        setField("status", run.status);
        setField("phase", run.phase || "done");
        setField("done", count);
        setField("done-verb", terminal ? "ran" : "done");
        setField("total", run.total);
        ["passed", "failed", "skipped", "flaky", "quarantined"].forEach(function (k) { setField(k, run[k]); });
        progress.max = Math.max(run.total, 1);
        progress.value = count;
        progress.textContent = count + " of " + run.total;
        var next = terminal ? null : setTimeout(poll, 1500);
        if (done !== shownDone || terminal) {
          shownDone = done;
          refreshReport().catch(function () { /* the next poll tries again */ });
        }
        if (terminal) { finish(); } else { return next; }
      })
      .catch(function () {
        failures += 1;
        if (failures < 20) { setTimeout(poll, 3000); }
      });
  }

  poll();
})();
