/* Headwater UI: keeps live parts of a page fresh, follows running logs, sizes card frames.
 *
 * [data-live]  a region re-fetched every data-every ms (same page with ?part=NAME); it is
 *              swapped only when the server's signature changed, and polling stops when the
 *              server says X-Headwater-Done: 1.
 * [data-log]   a log; new whole lines are fetched from data-offset and appended until done.
 * card frames  sandboxed cards post their height; the matching frame is resized.
 * No library, no build step: this file is served as is.
 */
(function () {
  "use strict";

  function later(fn, ms) { return window.setTimeout(fn, ms); }

  function followRegion(el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-every"), 10) || 1000;
    function tick() {
      if (document.hidden) { later(tick, every); return; }
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        var done = r.headers.get("X-Headwater-Done") === "1";
        var sig = r.headers.get("X-Headwater-Sig") || "";
        return r.text().then(function (text) {
          if (sig !== el.getAttribute("data-sig")) {
            el.innerHTML = text;
            el.setAttribute("data-sig", sig);
          }
          if (done) { el.removeAttribute("data-live"); } else { later(tick, every); }
        });
      }).catch(function () { later(tick, every * 3); });
    }
    later(tick, every);
  }

  function appendLines(pre, lines) {
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    var frag = document.createDocumentFragment();
    lines.forEach(function (line) {
      var ln = document.createElement("span");
      ln.className = "ln";
      var ts = document.createElement("span");
      ts.className = "ts";
      ts.textContent = line[0];
      ln.appendChild(ts);
      ln.appendChild(document.createTextNode(line[1] + "\n"));
      frag.appendChild(ln);
    });
    pre.appendChild(frag);
    if (stick) { pre.scrollTop = pre.scrollHeight; }
  }

  function followLog(pre) {
    pre.scrollTop = pre.scrollHeight;
    if (pre.getAttribute("data-done") === "1") { return; }
    var url = pre.getAttribute("data-log");
    function tick() {
      var offset = pre.getAttribute("data-offset") || "0";
      fetch(url + "?offset=" + encodeURIComponent(offset), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (data) {
          if (data.lines && data.lines.length) { appendLines(pre, data.lines); }
          pre.setAttribute("data-offset", String(data.offset));
          if (data.done) {
            pre.setAttribute("data-done", "1");
            pre.setAttribute("data-empty", "Nothing printed.");
          } else {
            later(tick, 1000);
          }
        })
        .catch(function () { later(tick, 3000); });
    }
    later(tick, 1000);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data.headwaterCard !== "number" || typeof data.height !== "number") { return; }
    var frames = document.querySelectorAll("iframe.cardframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.min(Math.max(Math.ceil(data.height) + 2, 60), 6000) + "px";
      }
    }
  });

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), followRegion);
    Array.prototype.forEach.call(document.querySelectorAll("pre[data-log]"), followLog);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
