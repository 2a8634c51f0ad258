// The dashboard's shell: hash routes, the token form, and what an error tells the teacher.

import { ApiError, forgetToken, getToken, setToken, tokenClaims } from "./api.js";
import { el, show } from "./dom.js";
import { heatmapView } from "./heatmap.js";
import { skillView } from "./skill.js";
import { studentView } from "./student.js";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const form = document.getElementById("token-form");
const who = document.getElementById("who");
const forget = document.getElementById("forget-token");
const VIEWS = { home: heatmapView, all: heatmapView, class: heatmapView, student: studentView, skill: skillView };
let generation = 0; // each render's number: an older render's late answers are dropped

/** `#/student/ada` → {kind: "student", id: "ada"}; anything unknown is the home page. */
function parseRoute() {
  const [kind, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  try {
    const id = decodeURIComponent(rest.join("/"));
    if (["class", "student", "skill"].includes(kind) && id) return { kind, id };
  } catch {
    return { kind: "home" };
  }
  return kind === "all" ? { kind } : { kind: "home" };
}

function showWho() {
  const claims = tokenClaims();
  forget.hidden = !getToken();
  if (claims) {
    const roles = Array.isArray(claims.roles) ? claims.roles.join(", ") : "no roles";
    who.textContent = `${claims.sub ?? "?"} (${roles}) · tenant ${claims.tenant ?? "?"}`;
  } else {
    who.textContent = getToken() ? "token set" : "";
  }
}

function say(text, action) {
  notice.hidden = false;
  show(notice, el("span", { text }), action ?? null);
}

function askForToken(detail) {
  const refused = Boolean(getToken());
  forgetToken();
  showWho();
  show(view);
  document.getElementById("token-reason").textContent = refused
    ? `The service refused the token (${detail}). Enter another one.`
    : `This service needs a token (${detail}).`;
  form.hidden = false;
  document.getElementById("token-input").focus();
}

function forbidden(detail) {
  const roles = /allowed roles: (.+)$/.exec(detail);
  const needed = roles ? ` This page needs one of the roles: ${roles[1]}.` : "";
  say(`Your token may not see this.${needed} The service says: ${detail}`);
}

function failed(err) {
  if (!(err instanceof ApiError)) {
    say(`The dashboard failed: ${err.message}`);
    return;
  }
  if (err.status === 401) askForToken(err.detail);
  else if (err.status === 403) forbidden(err.detail);
  else if (err.status === 404) say(`Not found: ${err.detail}`);
  else {
    const status = err.status ? `error ${err.status}` : "no answer";
    say(`Could not load this page (${status}): ${err.detail}`, el("button", { type: "button", text: "Retry", onclick: render }));
  }
}

async function render() {
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  const onError = (err) => isCurrent() && failed(err);
  notice.hidden = true;
  form.hidden = true;
  showWho();
  const route = parseRoute();
  try {
    await VIEWS[route.kind](view, route, isCurrent, onError);
    if (isCurrent() && !getToken()) who.textContent = "no token (authentication is off)";
  } catch (err) {
    onError(err);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token-input");
  setToken(input.value);
  input.value = "";
  render();
});
forget.addEventListener("click", () => {
  forgetToken();
  render();
});
window.addEventListener("hashchange", render);
render();
