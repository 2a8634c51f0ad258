// The class heatmap: students x skills, one cell per level, from a class or from every student.

import { get, mapLimit, seg } from "./api.js";
import { el, levelClass, levelLegend, link, percent, show } from "./dom.js";

const ALL_LIMIT = 200; // "all students" reads each one's mastery: past this, pick a class
const CONCURRENCY = 6;

/** The curriculum's skills (every student lists them, in its order), then the others sorted. */
function columnsOf(bodies) {
  const lists = bodies.map((body) => body.skills.map((s) => s.skill_id));
  if (!lists.length) return [];
  const everywhere = lists[0].filter((skill) => lists.every((list) => list.includes(skill)));
  const others = [...new Set(lists.flat())].filter((skill) => !everywhere.includes(skill));
  return [...everywhere, ...others.sort()];
}

function meanOf(values) {
  const known = values.filter((v) => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
}

async function allStudents() {
  const { students } = await get("/v1/students");
  const shown = students.slice(0, ALL_LIMIT);
  const bodies = await mapLimit(shown, CONCURRENCY, (id) => get(`/v1/students/${seg(id)}/mastery`));
  const skills = columnsOf(bodies);
  const rows = bodies.map((body) => {
    const bySkill = new Map(body.skills.map((s) => [s.skill_id, s]));
    return { student_id: body.student_id, cells: skills.map((skill) => bySkill.get(skill) ?? null) };
  });
  const means = skills.map((_, i) => meanOf(rows.map((row) => row.cells[i]?.mastery ?? null)));
  return { skills, rows, means, total: students.length, asOf: null };
}

async function classMatrix(classId) {
  const body = await get(`/v1/classes/${seg(classId)}/mastery`);
  return {
    skills: body.skills,
    rows: body.students,
    means: body.summary.map((column) => column.mean),
    total: body.students.length,
    asOf: body.as_of,
  };
}

function cellOf(student, skill, cell) {
  if (!cell) {
    return el("td", { class: "cell level-none", title: `${student} · ${skill}: no events`, text: "·" });
  }
  const title = `${student} · ${skill}: ${percent(cell.mastery)} (${cell.level})`;
  return el("td", {
    class: `cell ${levelClass(cell.level)}`,
    title,
    "aria-label": title,
    "data-mastery": cell.mastery,
    text: cell.level[0],
  });
}

function go(kind, id) {
  location.hash = `#/${kind}/${seg(id)}`;
}

function heatmapTable(matrix) {
  const heads = matrix.skills.map((skill) =>
    el("th", { scope: "col", class: "skill-head", "data-skill": skill, onclick: () => go("skill", skill) },
      link("skill", skill)),
  );
  const rows = matrix.rows.map((row) =>
    el("tr", { class: "student-row", "data-student": row.student_id, onclick: () => go("student", row.student_id) },
      el("th", { scope: "row" }, link("student", row.student_id)),
      row.cells.map((cell, i) => cellOf(row.student_id, matrix.skills[i], cell)),
    ),
  );
  const means = matrix.means.map((mean, i) =>
    el("td", { class: "mean", title: `Mean mastery of ${matrix.skills[i]}`, text: percent(mean) }),
  );
  return el("table", { id: "heatmap", class: "heatmap" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", class: "corner", text: "Student" }), heads)),
    el("tbody", {}, rows),
    el("tfoot", {}, el("tr", {}, el("th", { scope: "row", text: "Mean" }), means)),
  );
}

function classPicker(classes, chosen) {
  const select = el("select", { id: "class-select" },
    el("option", { value: "", text: "All students" }),
    classes.map((id) => el("option", { value: id, text: `Class ${id}` })),
  );
  if (chosen && !classes.includes(chosen)) select.append(el("option", { value: chosen, text: `Class ${chosen}` }));
  select.value = chosen ?? "";
  select.addEventListener("change", () => {
    location.hash = select.value ? `#/class/${seg(select.value)}` : "#/all";
  });
  return el("label", { class: "picker" }, "Show ", select);
}

function caption(matrix, classId) {
  const what = classId ? `Class ${classId}` : "All students";
  const when = matrix.asOf ? `as of ${matrix.asOf}` : "as of now";
  let text = `${what}: ${matrix.rows.length} students × ${matrix.skills.length} skills, ${when}.`;
  if (matrix.total > matrix.rows.length) {
    text += ` Showing the first ${matrix.rows.length} of ${matrix.total} students; pick a class for the others.`;
  }
  return text;
}

/** The heatmap page: a class (the first one by default), or every student when there is none. */
export async function heatmapView(root, route, isCurrent) {
  const { classes } = await get("/v1/classes");
  let classId = route.kind === "class" ? route.id : null;
  if (route.kind === "home" && classes.length) classId = classes[0];
  const status = el("p", { id: "heatmap-status", class: "status", text: "Loading mastery…" });
  show(root,
    el("h1", { text: "Class heatmap" }),
    el("div", { class: "toolbar" }, classPicker(classes, classId), levelLegend()),
    status,
  );
  const matrix = classId ? await classMatrix(classId) : await allStudents();
  if (!isCurrent()) return;
  if (!matrix.rows.length) {
    status.textContent = classId ? `Class ${classId} has no students.` : "No student has any events yet.";
    return;
  }
  status.textContent = caption(matrix, classId);
  root.append(
    el("div", { class: "table-scroll" }, heatmapTable(matrix)),
    el("p", { class: "hint", text: "Hover a cell for its mastery; click a student for their history, a skill for its distribution." }),
  );
}
