// The amlkg SPARQL query page: examples, run, results table, downloads. No dependencies, no CDN.
(function () {
  "use strict";
  var form = document.getElementById("query-form");
  var editor = document.getElementById("query");
  var examples = document.getElementById("examples");
  var statusEl = document.getElementById("status");
  var errorEl = document.getElementById("error");
  var warningEl = document.getElementById("warning");
  var resultsEl = document.getElementById("results");
  var downloads = document.getElementById("downloads");
  var runButton = document.getElementById("run");
  var endpoint = form.getAttribute("action");
  var exampleTexts = JSON.parse(document.getElementById("example-data").textContent || "{}");
  var prefixes = JSON.parse(document.getElementById("prefix-data").textContent || "{}");
  var script = document.getElementById("query-script");

  function show(el, text) { el.textContent = text; el.hidden = !text; }

  function abbreviate(iri) {
    var best = null;
    Object.keys(prefixes).forEach(function (p) {
      var ns = prefixes[p];
      if (iri.indexOf(ns) === 0 && (!best || ns.length > prefixes[best].length)) { best = p; }
    });
    if (best) {
      var local = iri.slice(prefixes[best].length);
      if (/^[A-Za-z0-9_\-]*$/.test(local)) { return best + ":" + local; }
    }
    return "<" + iri + ">";
  }

  function pageLink(query) { return endpoint + "?query=" + encodeURIComponent(query); }

  function termCell(term) {
    var td = document.createElement("td");
    if (!term) { td.className = "unbound"; return td; }
    if (term.type === "uri") {
      var a = document.createElement("a");
      a.href = pageLink("DESCRIBE <" + term.value + ">");
      a.title = term.value;
      a.textContent = abbreviate(term.value);
      td.className = "iri";
      td.appendChild(a);
    } else if (term.type === "bnode") {
      td.className = "bnode";
      td.textContent = "_:" + term.value;
    } else {
      td.className = "literal";
      td.appendChild(document.createTextNode(term.value));
      var note = term["xml:lang"] ? "@" + term["xml:lang"] : (term.datatype ? abbreviate(term.datatype) : "");
      if (note) {
        var small = document.createElement("small");
        small.textContent = " " + note;
        td.appendChild(small);
      }
    }
    return td;
  }

  function renderTable(vars, rows) {
    var table = document.createElement("table");
    table.className = "results";
    var thead = table.createTHead().insertRow();
    vars.forEach(function (v) {
      var th = document.createElement("th");
      th.textContent = "?" + v;
      thead.appendChild(th);
    });
    var tbody = table.createTBody();
    rows.forEach(function (row) {
      var tr = tbody.insertRow();
      vars.forEach(function (v) { tr.appendChild(termCell(row[v])); });
    });
    resultsEl.replaceChildren(table);
  }

  // N-Triples lines -> rows of s/p/o terms (SPARQL JSON shape), for CONSTRUCT and DESCRIBE
  var NT_TERM = /^(?:<([^>]*)>|_:(\S+)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9\-]+)|\^\^<([^>]*)>)?)\s*/;
  function unescapeLiteral(s) {
    return s.replace(/\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\(.)/g, function (m, u4, u8, c) {
      if (u4 || u8) { return String.fromCodePoint(parseInt(u4 || u8, 16)); }
      return { t: "\t", n: "\n", r: "\r", b: "\b", f: "\f" }[c] || c;
    });
  }
  function parseNTriples(text) {
    var rows = [];
    text.split("\n").forEach(function (line) {
      line = line.trim();
      if (!line || line.charAt(0) === "#") { return; }
      var row = {};
      ["s", "p", "o"].forEach(function (name) {
        var m = NT_TERM.exec(line);
        if (!m) { return; }
        line = line.slice(m[0].length);
        if (m[1] !== undefined) { row[name] = { type: "uri", value: m[1] }; }
        else if (m[2] !== undefined) { row[name] = { type: "bnode", value: m[2] }; }
        else {
          row[name] = { type: "literal", value: unescapeLiteral(m[3]) };
          if (m[4]) { row[name]["xml:lang"] = m[4]; }
          if (m[5]) { row[name].datatype = m[5]; }
        }
      });
      rows.push(row);
    });
    return rows;
  }

  function setDownloads(query, graph) {
    var formats = graph ? { "dl-ttl": "turtle", "dl-nt": "ntriples" }
                        : { "dl-csv": "csv", "dl-json": "json", "dl-tsv": "tsv" };
    ["dl-csv", "dl-json", "dl-tsv", "dl-ttl", "dl-nt"].forEach(function (id) {
      var a = document.getElementById(id);
      if (formats[id]) {
        a.href = endpoint + "?query=" + encodeURIComponent(query) + "&format=" + formats[id];
        a.hidden = false;
      } else {
        a.hidden = true;
        a.removeAttribute("href");
      }
    });
    downloads.hidden = false;
  }

  function selectPosition(line, column) {
    var lines = editor.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    offset += Math.max(0, column - 1);
    editor.focus();
    editor.setSelectionRange(offset, Math.min(offset + 1, editor.value.length));
  }

  function run() {
    var query = editor.value;
    show(errorEl, "");
    show(warningEl, "");
    downloads.hidden = true;
    statusEl.textContent = "Running…";
    runButton.disabled = true;
    var started = performance.now();
    var body = new URLSearchParams();
    body.set("query", query);
    fetch(endpoint, {
      method: "POST",
      headers: { "Accept": "application/sparql-results+json, application/n-triples;q=0.9",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (resp) {
      var ms = Math.round(performance.now() - started);
      var ctype = (resp.headers.get("Content-Type") || "").split(";")[0].trim();
      var cached = resp.headers.get("X-AMLKG-Cache") === "hit" ? ", cached" : "";
      if (!resp.ok) {
        return resp.text().then(function (text) {
          var problem = {};
          try { problem = JSON.parse(text); } catch (e) { problem = { title: "HTTP " + resp.status, detail: text }; }
          statusEl.textContent = "Failed (HTTP " + resp.status + ", " + ms + " ms)";
          show(errorEl, (problem.title || "Error") + ": " + (problem.detail || ""));
          resultsEl.replaceChildren();
          if (problem.line) { selectPosition(problem.line, problem.column || 1); }
        });
      }
      if (resp.headers.get("X-AMLKG-Truncated")) {
        show(warningEl, "Only the first " + resp.headers.get("X-AMLKG-Row-Cap") +
             " rows are shown (the endpoint's row cap). Add LIMIT/OFFSET to page through the rest.");
      }
      if (ctype === "application/sparql-results+json") {
        return resp.json().then(function (data) {
          if (typeof data.boolean === "boolean") {
            var p = document.createElement("p");
            p.className = "boolean";
            p.textContent = data.boolean ? "true" : "false";
            resultsEl.replaceChildren(p);
            statusEl.textContent = "ASK answered in " + ms + " ms" + cached;
          } else {
            renderTable(data.head.vars || [], data.results.bindings);
            var n = data.results.bindings.length;
            statusEl.textContent = n + (n === 1 ? " row" : " rows") + " in " + ms + " ms" + cached;
          }
          setDownloads(query, false);
        });
      }
      return resp.text().then(function (text) {
        var rows = parseNTriples(text);
        renderTable(["s", "p", "o"], rows);
        statusEl.textContent = rows.length + (rows.length === 1 ? " triple" : " triples") + " in " + ms + " ms" + cached;
        setDownloads(query, true);
      });
    }).catch(function (e) {
      statusEl.textContent = "";
      show(errorEl, "The request failed: " + e);
    }).finally(function () {
      runButton.disabled = false;
      if (query.length < 6000 && window.history && history.replaceState) {
        history.replaceState(null, "", pageLink(query));
      }
    });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
  editor.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
    else if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      var s = editor.selectionStart, t = editor.selectionEnd;
      editor.setRangeText("  ", s, t, "end");
    }
  });
  examples.addEventListener("change", function () {
    var text = exampleTexts[examples.value];
    if (text !== undefined) { editor.value = text; editor.focus(); }
  });
  document.getElementById("add-prefixes").addEventListener("click", function () {
    var missing = Object.keys(prefixes).filter(function (p) {
      return !new RegExp("PREFIX\\s+" + p + ":", "i").test(editor.value);
    }).map(function (p) { return "PREFIX " + p + ": <" + prefixes[p] + ">"; });
    if (missing.length) { editor.value = missing.join("\n") + "\n" + editor.value; }
    editor.focus();
  });
  if (script && script.getAttribute("data-autorun") === "true") { run(); }
})();
