// The load and chaos harnesses' chat receiver on 127.0.0.1, over keep-alive HTTP/1.1 (as the chat
// services do). Counts posts and the TCP connections they came on, and reports both on `GET /stats`. In
// Node rather than Python so that it is never the bottleneck (one Python thread per connection under the
// GIL tops out near the rates being measured). Prints its port, then serves until stdin closes or
// SIGTERM.
//
//   node receiver.mjs                 # load: answers 200 to every POST
//   node receiver.mjs '<chaos JSON>'  # chaos: answers a random mix and records every post
//   node receiver.mjs '{"strict_ms": 1000}'  # storm: one post per room per second, 429 above that
//
// The chaos JSON gives the shares of each answer (the rest is a prompt 200) and their parameters:
//   {"seed": 1, "error": 0.25, "rate_limited": 0.10, "slow": 0.05, "reset": 0.05,
//    "retry_after": [1, 4], "slow_ms": 3000}
// - error: 500; rate_limited: 429 with `Retry-After` a whole number of seconds drawn from retry_after;
// - slow: the post is accepted (it "appears in the chat") but answered 200 only after slow_ms, beyond
//   the worker's request timeout, so the worker never reads the answer;
// - reset: the connection is destroyed without an answer; the post is not accepted.
// Each post is recorded once its fate is known: {t (ms since start), key (the alert's dedup_key),
// event (its event_id), answer, accepted, answered}. `answered` is true when the whole answer was handed
// to the operating system before the connection closed: the worker had an answer to read. A post whose
// connection closed first (the worker timed out or was killed) has `answered: false`. `GET /posts`
// returns every record.
//
// Strict mode (the storm harness) treats each URL path as a room that takes at most one post per
// strict_ms, measured between the arrivals of the posts it accepted (the request's head, with a
// monotonic clock): a post that follows the last accepted one sooner is answered 429 with
// `Retry-After: 1` and not accepted. Every post is recorded as {t (epoch ms, fractional), room, status,
// schema, keys (the alert's dedup_key, or a digest's dedup_keys), group_key, crash_loop (the alert's or
// digest's crash_loop is not null)}; `GET /posts` returns them.
import http from "node:http";

const options = process.argv[2] ? JSON.parse(process.argv[2]) : null;
const strict = options?.strict_ms ?? null;
const chaos = strict === null ? options : null;
// Strict mode: the monotonic arrival (ms) of the last accepted post, per room.
const lastAccepted = new Map();
const started = Date.now();
const records = [];
let posts = 0;
let connections = 0;

// mulberry32: a small seeded generator, so that a chaos run's answers can be repeated.
let seed = (chaos?.seed ?? 1) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function pick() {
  let draw = random();
  for (const answer of ["error", "rate_limited", "slow", "reset"]) {
    draw -= chaos[answer] ?? 0;
    if (draw < 0) return answer;
  }
  return "ok";
}

function record(body, answer, accepted, answered) {
  let key = null;
  let event = null;
  try {
    const alert = JSON.parse(body);
    key = alert.dedup_key ?? null;
    event = alert.event_id ?? null;
  } catch {
    // Not an alert document: recorded without a key.
  }
  records.push({ t: Date.now() - started, key, event, answer, accepted, answered });
}

// Answers a chaos post and records it once the answer was written out or the connection closed.
function answerChaos(request, response, body) {
  const answer = pick();
  const accepted = answer === "ok" || answer === "slow";
  if (answer === "reset") {
    record(body, answer, false, false);
    request.socket.destroy();
    return;
  }
  let done = false;
  const settle = (answered) => {
    if (done) return;
    done = true;
    record(body, answer, accepted, answered);
  };
  response.on("finish", () => settle(true));
  response.on("close", () => settle(false));
  const send = () => {
    if (response.destroyed || request.socket.destroyed) {
      settle(false);
      return;
    }
    if (answer === "error") response.statusCode = 500;
    if (answer === "rate_limited") {
      const [low, high] = chaos.retry_after ?? [1, 4];
      response.statusCode = 429;
      response.setHeader("retry-after", String(low + Math.floor(random() * (high - low + 1))));
    }
    response.setHeader("content-type", "application/json");
    response.end("{}");
  };
  if (answer === "slow") setTimeout(send, chaos.slow_ms ?? 3000);
  else send();
}

// Strict mode: the room's verdict is taken when the request's head arrives, the record once the body is in.
function strictPost(request, response) {
  const arrived = performance.now();
  const room = request.url;
  const last = lastAccepted.get(room);
  const status = last !== undefined && arrived - last < strict ? 429 : 200;
  if (status === 200) lastAccepted.set(room, arrived);
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    posts += 1;
    let document = {};
    try {
      document = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      // Not a JSON document: recorded without its fields.
    }
    records.push({
      t: performance.timeOrigin + arrived,
      room,
      status,
      schema: document.schema ?? null,
      keys: document.dedup_keys ?? (document.dedup_key ? [document.dedup_key] : []),
      group_key: document.group_key ?? null,
      crash_loop: document.crash_loop != null,
    });
    response.statusCode = status;
    if (status === 429) response.setHeader("retry-after", "1");
    response.setHeader("content-type", "application/json");
    response.end("{}");
  });
}

const server = http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ posts, connections }));
    return;
  }
  if (request.method === "GET" && request.url === "/posts") {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify(records));
    return;
  }
  // Only connections that carry posts count (the harness's own GET /stats opens one per call).
  if (!request.socket.carriedPost) {
    request.socket.carriedPost = true;
    connections += 1;
  }
  if (strict !== null) {
    strictPost(request, response);
    return;
  }
  const chunks = [];
  request.on("data", (chunk) => {
    if (chaos) chunks.push(chunk);
  });
  request.on("end", () => {
    posts += 1;
    if (chaos) {
      answerChaos(request, response, Buffer.concat(chunks).toString());
      return;
    }
    response.setHeader("content-type", "application/json");
    response.end("{}");
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
