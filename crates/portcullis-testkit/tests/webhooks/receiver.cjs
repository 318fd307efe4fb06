// A receiver of webhooks and hooks for the tests: every request is checked with the official
// Standard Webhooks library (`standardwebhooks` from npm, pinned in .ci/run) and reported as
// one JSON line on stdout: {"verified", "id", "timestamp", "payload"} or {"verified": false,
// "error"}. It answers as `behaviour` (a JSON argument) says: `status` (default 204),
// `answer` (a JSON body: a hook's answer), `location` (a redirect's), `delay_ms` (wait
// before answering).
//
// Usage: node receiver.cjs PORT SECRET [BEHAVIOUR]; prints {"listening": PORT} first.
"use strict";
const http = require("http");
const { Webhook } = require("standardwebhooks");

const [port, secret, behaviourJson] = process.argv.slice(2);
const behaviour = JSON.parse(behaviourJson || "{}");
const webhook = new Webhook(secret);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    let line;
    try {
      const payload = webhook.verify(body, req.headers);
      line = {
        verified: true,
        id: req.headers["webhook-id"],
        timestamp: req.headers["webhook-timestamp"],
        path: req.url,
        payload,
      };
    } catch (e) {
      line = { verified: false, error: String(e && e.message), path: req.url };
    }
    process.stdout.write(JSON.stringify(line) + "\n");
    const reply = () => {
      if (!line.verified) {
        res.writeHead(400).end();
      } else if (behaviour.answer !== undefined) {
        res.writeHead(behaviour.status || 200, { "content-type": "application/json" });
        res.end(JSON.stringify(behaviour.answer));
      } else {
        const headers = behaviour.location ? { location: behaviour.location } : {};
        res.writeHead(behaviour.status || 204, headers).end();
      }
    };
    setTimeout(reply, behaviour.delay_ms || 0);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + "\n");
});
