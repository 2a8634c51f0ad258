// Building DOM nodes without HTML strings: text goes in as text nodes, never parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function assign(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function children(items) {
  return items.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

/** An HTML element; string children become text nodes. */
export function el(tag, props = {}, ...kids) {
  const node = document.createElement(tag);
  assign(node, props);
  node.append(...children(kids));
  return node;
}

/** An SVG element; string children become text nodes. */
export function svg(tag, props = {}, ...kids) {
  const node = document.createElementNS(SVG_NS, tag);
  assign(node, props);
  node.append(...children(kids));
  return node;
}

/** Replace everything inside `node`. */
export function show(node, ...kids) {
  node.replaceChildren(...children(kids));
}

/** A mastery in [0, 1] as a percentage with one decimal. */
export function percent(mastery) {
  return mastery === null || mastery === undefined ? "–" : `${(mastery * 100).toFixed(1)} %`;
}

/** The CSS class of a level name ("Proficient" → "level-proficient"). */
export function levelClass(level) {
  return level ? `level-${String(level).toLowerCase()}` : "level-none";
}

export const LEVELS = ["Beginner", "Learning", "Proficient", "Mastered"];
// Upper bounds of each level but the last, as the formula has them (p <= 40, 70, 90).
export const THRESHOLDS = [
  [0.4, "Learning"],
  [0.7, "Proficient"],
  [0.9, "Mastered"],
];

/** The legend of level colours, each with its initial as in the cells. */
export function levelLegend() {
  return el(
    "ul",
    { class: "legend", "aria-label": "Levels" },
    LEVELS.map((level) =>
      el("li", {}, el("span", { class: `swatch ${levelClass(level)}`, text: level[0] }), level),
    ),
    el("li", {}, el("span", { class: "swatch level-none", text: "·" }), "no data"),
  );
}

/** Hash link to a page of the dashboard. */
export function link(kind, id, text) {
  return el("a", { href: `#/${kind}/${encodeURIComponent(id)}`, text: text ?? id });
}
