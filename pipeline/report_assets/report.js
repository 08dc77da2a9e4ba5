// Redline report: filters and the statements panel. Plain DOM, no libraries, nothing fetched.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("evidence-data").textContent);
  const panel = document.getElementById("evidence-body");
  const pick = { actor: document.getElementById("f-actor"), issue: document.getElementById("f-issue"),
                 period: document.getElementById("f-period") };

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
    if (!entry) return;
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
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-ev]");
    if (target && target.dataset.ev) show(target.dataset.ev);
  });
  Object.values(pick).forEach((select) => select.addEventListener("change", apply));
  // deep links: #actor=actor:NAME&issue=ISSUE&period=PERIOD&show=POINT set the filters and open a point
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [name, select] of Object.entries(pick)) {
    if (params.has(name)) select.value = params.get(name);
  }
  apply();
  if (params.has("show")) show(params.get("show"));
  document.body.dataset.ready = "1";
})();
