// The JSON API, called with fetch() on this origin; the token lives in sessionStorage.

const TOKEN_KEY = "mastery-engine.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The claims of the stored token, for display only (the server verifies it), or null. */
export function tokenClaims() {
  const token = getToken();
  if (!token) return null;
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "=")));
  } catch {
    return null;
  }
}

/** Any answer other than 2xx: the status and the error body's `detail`. */
export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

async function detailOf(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

/** GET a path of the API; resolves to the JSON body, rejects with an ApiError. */
export async function get(path, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== null),
  ).toString();
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(query ? `${path}?${query}` : path, { headers, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, `the service did not answer (${err.message})`);
  }
  if (response.ok) return response.json();
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  throw new ApiError(
    response.status,
    await detailOf(response),
    Number.isFinite(retry) ? retry : null,
  );
}

/** A path segment for an id (ids may hold any printable character but '/'). */
export function seg(id) {
  return encodeURIComponent(id);
}

/** fn over every item with at most `limit` calls in flight; results keep the items' order. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  }
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker);
  await Promise.all(workers);
  return results;
}
