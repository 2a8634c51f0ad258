// A student: mastery history per skill (SVG), current mastery, recommendations and alerts.

import { get, mapLimit, seg } from "./api.js";
import { historyChart, seriesLegend } from "./charts.js";
import { el, levelClass, link, percent, show, svg } from "./dom.js";

const RANGES = [30, 90, 180];
const ACTIONS = {
  start: "Start",
  practice: "Practise",
  quiz: "Take a quiz",
  "improve-quality": "Improve code quality",
  review: "Review",
};
const ALERTS = {
  repeated_error: "Repeated error",
  low_quiz_scores: "Low quiz scores",
  inactive: "Inactive",
  falling_mastery: "Falling mastery",
};

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The last `days` UTC days, today included. */
function lastDays(days) {
  const to = new Date();
  const from = new Date(to.getTime() - (days - 1) * 86_400_000);
  return { from: isoDay(from), to: isoDay(to) };
}

/** A bar as long as the mastery, in its level's colour. */
function masteryBar(skill) {
  return svg("svg", { class: "mastery-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" },
    svg("rect", { class: "track", width: 100, height: 10 }),
    svg("rect", { class: levelClass(skill.level), width: skill.mastery * 100, height: 10 }),
  );
}

function currentTable(body) {
  const rows = body.skills.map((s) => {
    const c = s.components;
    const title = `completion ${percent(c.completion)} · quiz ${percent(c.quiz)} · quality ${percent(c.quality)} · consistency ${percent(c.consistency)}`;
    return el("tr", { "data-skill": s.skill_id, title },
      el("th", { scope: "row" }, link("skill", s.skill_id)),
      el("td", { class: "bar" }, masteryBar(s)),
      el("td", { class: "num", text: percent(s.mastery) }),
      el("td", {}, el("span", { class: `badge ${levelClass(s.level)}`, text: s.level })),
    );
  });
  return el("table", { id: "current-mastery", class: "plain" },
    el("thead", {}, el("tr", {}, ["Skill", "", "Mastery", "Level"].map((t) => el("th", { scope: "col", class: t === "Mastery" ? "num" : null, text: t })))),
    el("tbody", {}, rows),
  );
}

function recommendationList(body) {
  const items = body.recommendations.map((r) =>
    el("li", { "data-skill": r.skill_id },
      el("strong", { text: ACTIONS[r.action] ?? r.action }), " ", link("skill", r.skill_id), ": ", r.reason,
      el("span", { class: "gain", title: "Mastery this step should add", text: ` +${percent(r.expected_gain)}` }),
    ),
  );
  if (!items.length) items.push(el("li", { class: "empty", text: "Nothing to recommend right now." }));
  return el("ol", { id: "recommendations", class: "steps" }, items);
}

function alertList(body) {
  const items = body.alerts.map((a) =>
    el("li", { class: `alert alert-${a.kind}` },
      el("strong", { text: ALERTS[a.kind] ?? a.kind }),
      a.skill_id ? [" (", link("skill", a.skill_id), ")"] : null,
      `: ${a.message}`,
      el("span", { class: "since", text: ` since ${a.since.slice(0, 10)}` }),
    ),
  );
  if (!items.length) items.push(el("li", { class: "empty", text: "No alerts." }));
  return el("ul", { id: "alerts", class: "alerts" }, items);
}

async function drawHistory(card, base, skills, days, isCurrent) {
  const { from, to } = lastDays(days);
  const status = card.querySelector(".status");
  status.textContent = `Loading ${days} days…`;
  const bodies = await mapLimit(skills, 4, (skill) => get(`${base}/skills/${seg(skill)}/history`, { from, to }));
  if (!isCurrent()) return;
  const chart = historyChart(bodies.map((b) => ({ skill: b.skill_id, points: b.points })));
  card.querySelector(".chart-slot").replaceChildren(chart, seriesLegend(skills, chart));
  status.textContent = `From ${from} to ${to}, end of each UTC day. Hover a line or point for its value.`;
}

function historyCard(base, skills, isCurrent, onError) {
  const select = el("select", { id: "history-range" },
    RANGES.map((days) => el("option", { value: days, text: `Last ${days} days` })));
  const card = el("article", { class: "card wide" },
    el("div", { class: "card-head" }, el("h2", { text: "Mastery history" }), el("label", {}, "Range ", select)),
    el("p", { class: "status" }),
    el("div", { class: "chart-slot" }),
  );
  select.addEventListener("change", () =>
    drawHistory(card, base, skills, Number(select.value), isCurrent).catch(onError));
  return card;
}

/** The student page. */
export async function studentView(root, route, isCurrent, onError) {
  const id = route.id;
  const base = `/v1/students/${seg(id)}`;
  show(root,
    el("p", { class: "crumbs" }, el("a", { href: "#/", text: "← Class heatmap" })),
    el("h1", {}, "Student ", el("span", { class: "id", text: id })),
    el("p", { class: "status", text: "Loading…" }),
  );
  const [mastery, recommendations, alerts] = await Promise.all([
    get(`${base}/mastery`),
    get(`${base}/recommendations`),
    get(`${base}/alerts`),
  ]);
  if (!isCurrent()) return;
  const skills = mastery.skills.map((s) => s.skill_id);
  const history = historyCard(base, skills, isCurrent, onError);
  root.querySelector(".status").textContent = `Mastery as of ${mastery.as_of}.`;
  root.append(
    el("div", { class: "grid" },
      history,
      el("article", { class: "card" }, el("h2", { text: "Current mastery" }), currentTable(mastery)),
      el("article", { class: "card" },
        el("h2", { text: "Recommended next steps" }), recommendationList(recommendations),
        el("h2", { text: "Alerts" }), alertList(alerts),
      ),
    ),
  );
  await drawHistory(history, base, skills, RANGES[0], isCurrent);
}
