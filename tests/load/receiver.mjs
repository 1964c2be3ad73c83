// The load harness's chat receiver: answers 200 to every POST over keep-alive HTTP/1.1 (as the chat
// services do) on 127.0.0.1, counts posts and the TCP connections they came on, and reports both on
// `GET /stats`. In Node rather than Python so that it is never the bottleneck (one Python thread per
// connection under the GIL tops out near the rates being measured). Prints its port, then serves until
// stdin closes or SIGTERM.
import http from "node:http";

let posts = 0;
let connections = 0;
const server = http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ posts, connections }));
    return;
  }
  // Only connections that carry posts count (the harness's own GET /stats opens one per call).
  if (!request.socket.carriedPost) {
    request.socket.carriedPost = true;
    connections += 1;
  }
  request.on("data", () => {});
  request.on("end", () => {
    posts += 1;
    response.setHeader("content-type", "application/json");
    response.end("{}");
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
