// Redline report: filters, the statements panel, the terms of the side picked and the bargaining-space heatmap.
// Plain DOM, no libraries, nothing fetched.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("evidence-data").textContent);
  const panel = document.getElementById("evidence-body");
  const pick = { actor: document.getElementById("f-actor"), issue: document.getElementById("f-issue"),
                 period: document.getElementById("f-period") };
  const sides = { a: document.getElementById("space-a"), b: document.getElementById("space-b") };

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function statementNode(id) {
    const row = data.statements[id];
    const node = element("div", "statement");
    if (!row) { node.textContent = id + " (not embedded)"; return node; }
    const [date, actor, text, source, url] = row;
    node.appendChild(element("div", "who", (date || "no date") + " · " + actor));
    node.appendChild(element("div", "text", text));
    const where = element("div", "source", source);
    if (url) { const link = element("a", "", " link"); link.href = url; where.appendChild(link); }
    node.appendChild(where);
    return node;
  }

  function show(key) {
    const entry = data.evidence[key];
    if (entry) render(entry, key);
  }

  function render(entry, key) {
    panel.replaceChildren(element("h3", "", entry.title));
    for (const [heading, ids, total] of entry.sections) {
      const more = total > ids.length ? " (showing " + ids.length + ")" : "";
      panel.appendChild(element("h4", "", heading + more));
      ids.forEach((id) => panel.appendChild(statementNode(id)));
    }
    document.querySelectorAll(".pt.sel").forEach((n) => n.classList.remove("sel"));
    document.querySelectorAll('.pt[data-ev="' + key + '"]').forEach((n) => n.classList.add("sel"));
  }

  function apply() {
    const actor = pick.actor.value, issue = pick.issue.value, period = pick.period.value;
    document.querySelectorAll("[data-actor]").forEach((n) =>
      n.classList.toggle("off-a", actor !== "" && n.dataset.actor !== actor));
    document.querySelectorAll("[data-issue]").forEach((n) =>
      n.classList.toggle("off-i", issue !== "" && n.dataset.issue !== issue));
    document.querySelectorAll("tr[data-periods]").forEach((n) =>
      n.classList.toggle("off-p", period !== "" && !n.dataset.periods.split(" ").includes(period)));
    const shown = period || data.latest;
    document.querySelectorAll(".heat").forEach((n) => n.classList.toggle("cur", n.dataset.period === shown));
    document.querySelectorAll(".hl").forEach((n) => n.classList.toggle("on", n.dataset.period === period));
    document.getElementById("heat-period").textContent = shown || "-";
    const side = actor.slice(actor.indexOf(":") + 1);
    let first = true;  // with no actor picked, the first side's terms
    document.querySelectorAll(".terms").forEach((n) => {
      const on = side ? n.dataset.side === side : first;
      n.classList.toggle("cur", on);
      first = first && !on;
    });
  }

  // The gap of pipeline/space.py: opposition × √(maximalism a × maximalism b), opposition = max(0, −lean a × lean b).
  // A position is [maximalism, low, high, lean, n, evidence key].
  function gap(a, b, at) {
    return Math.max(0, -a[3] * b[3]) * Math.sqrt(Math.max(a[at], 0) * Math.max(b[at], 0));
  }

  function color(value) {
    const [low, high] = data.space.scale, t = Math.min(Math.max(value / 3, 0), 1);
    return "rgb(" + low.map((l, i) => Math.round(l + (high[i] - l) * t)).join(",") + ")";
  }

  // The trend of pipeline/space.py: closing or opening where the gap's intervals against the period before do
  // not overlap, it moved more than min_change and every position rests on min_statements statements.
  function trend(before, a, b) {
    if (!before) return "";
    const [a0, b0] = before, rule = data.space.trend;
    const n = Math.min(a[4], b[4], a0[4], b0[4]), now = gap(a, b, 0), then = gap(a0, b0, 0);
    const separated = gap(a, b, 2) < gap(a0, b0, 1) || gap(a0, b0, 2) < gap(a, b, 1);
    if (n < rule.min_statements || !separated || Math.abs(now - then) <= rule.min_change) return "stable";
    return now < then ? "closing" : "opening";
  }

  function spaceCell(name, a, b, before) {
    const td = element("td");
    if (!a || !b) return td;
    const value = gap(a, b, 0), room = a[3] * b[3] < 0 && Math.min(a[0], b[0]) < data.space.firm;
    const moved = trend(before, a, b), arrow = { closing: " ↘", opening: " ↗" }[moved] || "";
    td.textContent = value.toFixed(1) + (room ? " ◦" : "") + arrow;
    if (moved) td.dataset.trend = moved;
    td.style.background = color(value);
    td.style.color = value > 1.8 ? "#fff" : "#222";
    td.dataset.pair = a[5] + " " + b[5];
    td.title = name[0] + " " + a[0].toFixed(2) + " (" + a[4] + ") vs " + name[1] + " " + b[0].toFixed(2) + " (" +
      b[4] + "): gap " + value.toFixed(2) + " [" + gap(a, b, 1).toFixed(2) + "–" + gap(a, b, 2).toFixed(2) + "]" +
      (moved ? "; " + moved + " since the period before" : "");
    return td;
  }

  function drawSpace() {
    const space = data.space, names = [sides.a.value, sides.b.value];
    const [one, two] = names.map((n) => space.sides[n] || {});
    const both = (k, p) => one[k] && two[k] && one[k][p] && two[k][p];
    const keys = space.keys.filter((k) => space.periods.some((p) => both(k, p)));
    const periods = space.periods.filter((p) => keys.some((k) => both(k, p)));
    const body = document.getElementById("space-body");
    if (!keys.length) {
      body.replaceChildren(element("p", "hint", names[0] + " and " + names[1] + " never spoke on the same issue in " +
        "the same period."));
      return;
    }
    const head = element("tr");
    head.appendChild(element("th", "", names[0] + " vs " + names[1]));
    periods.forEach((p) => head.appendChild(element("th", "", p)));
    const table = element("table");
    table.appendChild(element("thead")).appendChild(head);
    const rows = table.appendChild(element("tbody"));
    for (const k of keys) {
      const tr = rows.appendChild(element("tr"));
      tr.dataset.key = k;
      tr.appendChild(element("th", "", k));
      let before = null;
      periods.forEach((p) => {
        const a = (one[k] || {})[p], b = (two[k] || {})[p];
        tr.appendChild(spaceCell(names, a, b, before));
        if (a && b) before = [a, b];
      });
    }
    body.replaceChildren(table);
  }

  function showPair(keys) {
    const entries = keys.split(" ").map((k) => data.evidence[k]).filter(Boolean);
    if (entries.length !== 2) return;
    render({ title: entries[0].title + " vs " + entries[1].title,
             sections: entries[0].sections.concat(entries[1].sections) }, "");
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-ev]");
    if (target && target.dataset.ev) show(target.dataset.ev);
    const pair = event.target.closest("[data-pair]");
    if (pair) showPair(pair.dataset.pair);
  });
  Object.values(pick).forEach((select) => select.addEventListener("change", apply));
  Object.values(sides).forEach((select) => select.addEventListener("change", drawSpace));
  // deep links: #actor=actor:NAME&issue=ISSUE&period=PERIOD&show=POINT&a=SIDE&b=SIDE set the filters and
  // the bargaining-space sides, and open a point
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [name, select] of Object.entries(pick)) {
    if (params.has(name)) select.value = params.get(name);
  }
  [sides.a.value, sides.b.value] = [params.get("a") || data.space.pair[0] || "",
                                     params.get("b") || data.space.pair[1] || ""];
  apply();
  drawSpace();
  if (params.has("show")) show(params.get("show"));
  document.body.dataset.ready = "1";
})();
