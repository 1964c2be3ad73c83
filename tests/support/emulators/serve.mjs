// Starts one in-memory SQS emulator on 127.0.0.1:<port> for a test or the load harness, prints
// `ready <endpoint>` on stdout once it accepts requests, and runs until SIGTERM/SIGINT or, when its stdin
// is a pipe, until that pipe closes (so an emulator never outlives the test that started it, even one
// that was killed).
//
//   node serve.mjs local-aws-sqs <port>   # SQS incl. StartMessageMoveTask; ~12 ms receive latency like SQS
//   node serve.mjs fauxqs <port>          # the fastest SQS (JSON protocol); Node.js >= 22.5
//
// fauxqs 2.4.1's own `startFauxqs` always listens on 0.0.0.0; its exported `buildApp` lets us choose the
// address, so both emulators listen on loopback only.
import { fstatSync } from "node:fs";

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node serve.mjs <local-aws-sqs|fauxqs> <port>");
  process.exit(2);
}
const host = "127.0.0.1";

let close;
if (kind === "local-aws-sqs") {
  const { createSqsServer } = await import("local-aws-sqs");
  const server = await createSqsServer({ port, hostname: host });
  if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
  close = () => new Promise((resolve) => server.close(resolve));
} else if (kind === "fauxqs") {
  const { buildApp } = await import("fauxqs");
  const app = buildApp({ logger: false });
  await app.listen({ port, host });
  close = () => app.close();
} else {
  console.error(`unknown emulator ${kind}`);
  process.exit(2);
}
console.log(`ready http://${host}:${port}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  // An emulator holds nothing worth a graceful drain; do not let a lingering keep-alive hold us up.
  setTimeout(() => process.exit(0), 1000).unref();
  await close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (fstatSync(0).isFIFO()) {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
