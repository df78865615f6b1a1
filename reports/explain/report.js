(function () {
  "use strict";
  var body = document.body;
  var data = JSON.parse(document.getElementById("ppc-data").textContent);
  mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    maxEdges: 2000,
    maxTextSize: 1000000,
    flowchart: { useMaxWidth: true },
    theme: "default"
  });
  var seq = 0;
  function notes(el, d) {
    el.textContent = "";
    (d.notes || []).forEach(function (n) {
      var li = document.createElement("li");
      li.textContent = n;
      el.appendChild(li);
    });
  }
  function draw(el, d) {
    seq++;
    var t0 = performance.now();
    return mermaid.render("ppc-diagram-" + seq, d.text).then(function (r) {
      el.innerHTML = r.svg;
      el.dataset.ppcRenderMs = String(Math.round(performance.now() - t0));
    }, function (e) {
      el.textContent = "The diagram could not be drawn: " + e;
      body.dataset.ppcError = String(e);
    });
  }
  var main = document.getElementById("topology");
  notes(document.getElementById("topology-notes"), data.topology);
  // Draw after the page is shown: the text is readable while Mermaid
  // lays the diagram out.
  setTimeout(function () {
    draw(main, data.topology).then(function () {
      if (!body.dataset.ppcError) {
        body.dataset.ppcRendered = "ok";
      }
    });
  }, 0);
  var pick = document.getElementById("namespace-pick");
  if (pick) {
    pick.addEventListener("change", function () {
      var d = data.namespaces[pick.value];
      var el = document.getElementById("namespace-topology");
      if (!d) {
        el.textContent = "";
        return;
      }
      notes(document.getElementById("namespace-notes"), d);
      body.dataset.ppcNamespace = "";
      draw(el, d).then(function () {
        body.dataset.ppcNamespace = pick.value;
      });
    });
  }
})();
