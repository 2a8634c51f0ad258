// A skill across the tenant: level counts, quartiles and the weekly trend of the mean.

import { get } from "./api.js";
import { boxPlot, levelBar, trendChart } from "./charts.js";
import { LEVELS, el, levelClass, link, percent, show } from "./dom.js";

const DEFAULT_RETRY_S = 5;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The tenant's analytics; while the service answers 503 (a first summary being computed),
 * say so and ask again after its Retry-After. Null once the page is left.
 */
async function analytics(status, isCurrent) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await get("/v1/analytics/skills");
    } catch (err) {
      if (err.status !== 503 || !isCurrent()) throw err;
      const wait = err.retryAfter ?? DEFAULT_RETRY_S;
      status.textContent = `Computing the analytics, retrying in ${wait} s… (attempt ${attempt}: ${err.detail})`;
      status.classList.add("computing");
      await sleep(wait * 1000);
      if (!isCurrent()) return null;
    }
  }
}

function countsTable(skill) {
  const total = LEVELS.reduce((sum, level) => sum + skill.levels[level], 0);
  return el("table", { id: "level-counts", class: "plain" },
    el("thead", {}, el("tr", {}, ["Level", "Students", "Share"].map((t, i) => el("th", { scope: "col", class: i ? "num" : null, text: t })))),
    el("tbody", {},
      LEVELS.map((level) =>
        el("tr", { class: "level-row", "data-level": level },
          el("th", { scope: "row" }, el("span", { class: `swatch ${levelClass(level)}`, text: level[0] }), level),
          el("td", { class: "num count", text: skill.levels[level] }),
          el("td", { class: "num", text: total ? percent(skill.levels[level] / total) : "–" }),
        ),
      ),
    ),
  );
}

function statsList(skill) {
  const rows = [
    ["Students counted", skill.students],
    ["Started the skill", skill.started],
    ["Mean", percent(skill.mean)],
    ["Minimum", percent(skill.min)],
    ["First quartile", percent(skill.q1)],
    ["Median", percent(skill.median)],
    ["Third quartile", percent(skill.q3)],
    ["Maximum", percent(skill.max)],
  ];
  return el("dl", { id: "skill-stats", class: "stats" }, rows.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

function freshness(body) {
  const age = Math.round(body.age_seconds);
  return `Whole tenant (${body.students} students), as of ${body.as_of}; computed ${age} s ago in ` +
    `${body.computed_in_seconds.toFixed(2)} s, refreshed when older than ${body.max_age_seconds} s.`;
}

/** The skill page. */
export async function skillView(root, route, isCurrent) {
  const id = route.id;
  const status = el("p", { class: "status", text: "Loading analytics…" });
  show(root,
    el("p", { class: "crumbs" }, el("a", { href: "#/", text: "← Class heatmap" })),
    el("h1", {}, "Skill ", el("span", { class: "id", text: id })),
    status,
  );
  const body = await analytics(status, isCurrent);
  if (body === null || !isCurrent()) return;
  status.classList.remove("computing");
  const skill = body.skills.find((s) => s.skill_id === id);
  const others = el("nav", { class: "chips", "aria-label": "Other skills" },
    body.skills.map((s) => (s.skill_id === id ? el("span", { class: "chip current", text: s.skill_id }) : link("skill", s.skill_id))));
  if (!skill) {
    status.textContent = `No student of this tenant has a figure for the skill ${id}.`;
    root.append(others);
    return;
  }
  status.textContent = freshness(body);
  root.append(
    others,
    el("div", { class: "grid" },
      el("article", { class: "card" }, el("h2", { text: "Students per level" }), levelBar(skill.levels), countsTable(skill)),
      el("article", { class: "card" }, el("h2", { text: "Distribution" }), boxPlot(skill), statsList(skill)),
      el("article", { class: "card wide" }, el("h2", { text: "Weekly trend of the mean" }), trendChart(skill.trend)),
    ),
  );
}
