// Charts drawn as inline SVG: a mastery history, a box plot, a trend line, level counts.

import { LEVELS, THRESHOLDS, el, levelClass, percent, svg } from "./dom.js";

// Okabe–Ito colours (distinguishable with every common colour-vision deficiency); past
// eight series the colours repeat with a dash pattern.
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"];
const DASHES = [null, "7 4", "2 3"];
const BOUNDS = [0, 0.4, 0.7, 0.9, 1];

/** Stroke colour and dash pattern of the series at `index`. */
export function seriesStyle(index) {
  const dash = DASHES[Math.floor(index / COLOURS.length) % DASHES.length];
  return { stroke: COLOURS[index % COLOURS.length], dash };
}

function frame(width, height, margin) {
  const inner = { w: width - margin.left - margin.right, h: height - margin.top - margin.bottom };
  const y = (v) => margin.top + (1 - v) * inner.h;
  return { inner, y };
}

function levelBands(root, margin, inner, y) {
  LEVELS.forEach((level, i) => {
    const top = y(BOUNDS[i + 1]);
    const height = y(BOUNDS[i]) - top;
    root.append(
      svg("rect", { class: `band ${levelClass(level)}`, x: margin.left, y: top, width: inner.w, height }),
      svg("text", {
        class: "band-label",
        x: margin.left + inner.w + 6,
        y: top + height / 2 + 4,
        text: level,
      }),
    );
  });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(
      svg("line", { class: "grid", x1: margin.left, x2: margin.left + inner.w, y1: y(v), y2: y(v) }),
      svg("text", { class: "tick", x: margin.left - 6, y: y(v) + 4, "text-anchor": "end", text: `${v * 100} %` }),
    );
  }
}

function dateTicks(root, dates, x, baseline, count = 6) {
  if (!dates.length) return;
  const step = Math.max(1, Math.ceil((dates.length - 1) / (count - 1)));
  for (let i = 0; i < dates.length; i += step) {
    root.append(
      svg("line", { class: "grid", x1: x(i), x2: x(i), y1: baseline, y2: baseline + 4 }),
      svg("text", { class: "tick", x: x(i), y: baseline + 18, "text-anchor": "middle", text: dates[i].slice(5) }),
    );
  }
}

/** Mastery per day of several skills: one <path class="series"> per skill, over level bands. */
export function historyChart(series) {
  const [width, height] = [1000, 340];
  const margin = { top: 12, right: 88, bottom: 34, left: 48 };
  const { inner, y } = frame(width, height, margin);
  const dates = [...new Set(series.flatMap((s) => s.points.map((p) => p.date)))].sort();
  const position = new Map(dates.map((d, i) => [d, i]));
  const x = (i) => margin.left + (dates.length <= 1 ? inner.w / 2 : (i * inner.w) / (dates.length - 1));
  const root = svg("svg", {
    id: "history-chart",
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Daily mastery of ${series.length} skills from ${dates[0] ?? "–"} to ${dates.at(-1) ?? "–"}`,
  });
  levelBands(root, margin, inner, y);
  dateTicks(root, dates, x, margin.top + inner.h);
  series.forEach((s, index) => {
    const { stroke, dash } = seriesStyle(index);
    const coords = s.points.map((p) => [x(position.get(p.date)), y(p.mastery), p]);
    const d = coords.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
    const last = s.points.at(-1);
    const summary = last ? `${s.skill}: ${percent(last.mastery)} (${last.level}) on ${last.date}` : s.skill;
    const group = svg("g", { class: "series-group", "data-skill": s.skill });
    group.append(
      svg("path", { class: "series", "data-skill": s.skill, d, stroke, "stroke-dasharray": dash }, svg("title", { text: summary })),
    );
    if (dates.length <= 62) {
      for (const [px, py, p] of coords) {
        const title = `${s.skill}, ${p.date}: ${percent(p.mastery)} (${p.level})`;
        group.append(svg("circle", { class: "point", cx: px, cy: py, r: 2.6, fill: stroke }, svg("title", { text: title })));
      }
    }
    root.append(group);
  });
  return root;
}

/** The legend of a history chart; clicking an entry hides or shows its series. */
export function seriesLegend(skills, chart) {
  return el(
    "ul",
    { class: "series-legend" },
    skills.map((skill, index) => {
      const { stroke, dash } = seriesStyle(index);
      const swatch = svg("svg", { width: 26, height: 10, "aria-hidden": "true" },
        svg("line", { x1: 1, x2: 25, y1: 5, y2: 5, stroke, "stroke-width": 3, "stroke-dasharray": dash }));
      const button = el("button", { type: "button", "aria-pressed": "true", title: `Hide or show ${skill}` }, swatch, skill);
      button.addEventListener("click", () => {
        const shown = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(shown));
        for (const group of chart.querySelectorAll(".series-group")) {
          if (group.getAttribute("data-skill") === skill) group.classList.toggle("hidden", !shown);
        }
      });
      return el("li", {}, button);
    }),
  );
}

/** Min, quartiles, max and mean of one skill on a 0–100 % axis. */
export function boxPlot(stats) {
  const [width, height] = [560, 84];
  const margin = { left: 16, right: 16 };
  const x = (v) => margin.left + v * (width - margin.left - margin.right);
  const root = svg("svg", { id: "box-plot", class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Median ${percent(stats.median)}, quartiles ${percent(stats.q1)} to ${percent(stats.q3)}` });
  BOUNDS.slice(1, -1).forEach((b, i) =>
    root.append(svg("line", { class: "threshold", x1: x(b), x2: x(b), y1: 6, y2: 56 },
      svg("title", { text: `${THRESHOLDS[i][1]} above ${b * 100} %` }))));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg("text", { class: "tick", x: x(v), y: 76, "text-anchor": "middle", text: `${v * 100} %` }));
  }
  if (stats.students === 0 || stats.median === null) return root;
  const mid = 31;
  root.append(
    svg("line", { class: "whisker", x1: x(stats.min), x2: x(stats.max), y1: mid, y2: mid }),
    svg("line", { class: "whisker", x1: x(stats.min), x2: x(stats.min), y1: mid - 9, y2: mid + 9 }),
    svg("line", { class: "whisker", x1: x(stats.max), x2: x(stats.max), y1: mid - 9, y2: mid + 9 }),
    svg("rect", { class: "box", x: x(stats.q1), y: mid - 15, width: Math.max(1, x(stats.q3) - x(stats.q1)), height: 30 },
      svg("title", { text: `Q1 ${percent(stats.q1)} · Q3 ${percent(stats.q3)}` })),
    svg("line", { class: "median", x1: x(stats.median), x2: x(stats.median), y1: mid - 15, y2: mid + 15 },
      svg("title", { text: `Median ${percent(stats.median)}` })),
    svg("circle", { class: "mean", cx: x(stats.mean), cy: mid, r: 4 }, svg("title", { text: `Mean ${percent(stats.mean)}` })),
  );
  return root;
}

/** The weekly trend of a skill's mean mastery. */
export function trendChart(trend) {
  const [width, height] = [1100, 240];
  const margin = { top: 10, right: 88, bottom: 30, left: 48 };
  const { inner, y } = frame(width, height, margin);
  const x = (i) => margin.left + (trend.length <= 1 ? inner.w / 2 : (i * inner.w) / (trend.length - 1));
  const root = svg("svg", { id: "trend-chart", class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Weekly trend of the mean mastery" });
  levelBands(root, margin, inner, y);
  dateTicks(root, trend.map((p) => p.at.slice(0, 10)), x, margin.top + inner.h, trend.length);
  let d = "";
  let pen = "M"; // a week without students breaks the line
  const points = [];
  trend.forEach((p, i) => {
    if (p.mean === null) {
      pen = "M";
      return;
    }
    d += `${pen}${x(i).toFixed(1)},${y(p.mean).toFixed(1)} `;
    pen = "L";
    points.push(svg("circle", { class: "point", cx: x(i), cy: y(p.mean), r: 3.5, fill: COLOURS[0] },
      svg("title", { text: `${p.at.slice(0, 10)}: mean ${percent(p.mean)} over ${p.students} students` })));
  });
  root.append(svg("path", { class: "series trend", d: d.trim(), stroke: COLOURS[0] }), ...points);
  return root;
}

/** Students per level as one stacked bar, each part labelled. */
export function levelBar(levels) {
  const total = LEVELS.reduce((sum, level) => sum + (levels[level] ?? 0), 0);
  const root = svg("svg", { id: "level-bar", class: "chart", viewBox: "0 0 560 34", role: "img",
    "aria-label": LEVELS.map((l) => `${l}: ${levels[l] ?? 0}`).join(", ") });
  let start = 0;
  for (const level of LEVELS) {
    const count = levels[level] ?? 0;
    if (!total || !count) continue;
    const width = (count / total) * 560;
    root.append(
      svg("rect", { class: levelClass(level), x: start, y: 0, width, height: 34 },
        svg("title", { text: `${level}: ${count} of ${total}` })),
      svg("text", { class: `bar-label ${levelClass(level)}`, x: start + width / 2, y: 22, "text-anchor": "middle",
        text: width > 28 ? `${level[0]} ${count}` : level[0] }),
    );
    start += width;
  }
  return root;
}
