// A demo CRM: a page listing contacts with the dialer's phone embedded, and
// the one backend call an integration needs (POST /token), which asks the
// gateway for a short-lived embed token with the CRM's API token. The API
// token stays on this server; the page only ever sees the embed token.
//
//   DIALER_GATEWAY=http://127.0.0.1:8080 DIALER_API_TOKEN=dlr_… \
//   DIALER_AGENT=demo PORT=8090 node e2e/crm/server.mjs
//
// Built-in modules only.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createHmac, timingSafeEqual } from "node:crypto";

const gateway = (process.env.DIALER_GATEWAY || "http://127.0.0.1:8080").replace(/\/$/, "");
const apiToken = process.env.DIALER_API_TOKEN || "";
const agent = process.env.DIALER_AGENT || "demo";
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 8090);
const page = new URL("./index.html", import.meta.url);
// Call events from the gateway's webhook, checked against this secret.
const webhookSecret = process.env.DIALER_WEBHOOK_SECRET || "";
const webhookEvents = [];

// X-Dialer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
// A t more than 5 minutes from our clock is refused, so a captured delivery
// cannot be replayed later.
const TOLERANCE_S = 300;

function signatureOk(body, header) {
  let t = null;
  const v1 = [];
  for (const part of String(header || "").split(",")) {
    const at = part.indexOf("=");
    if (at < 0) return false;
    const [key, value] = [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    if (key === "t") t = value;
    else if (key === "v1") v1.push(value);
  }
  if (t === null || !/^[0-9]+$/.test(t) || v1.length === 0) return false;
  if (Math.abs(Date.now() / 1000 - Number(t)) > TOLERANCE_S) return false;
  const want = Buffer.from(createHmac("sha256", webhookSecret).update(t + "." + body).digest("hex"));
  return v1.some((got) => got.length === want.length && timingSafeEqual(Buffer.from(got), want));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function mintToken(ttl) {
  const body = { agent };
  if (ttl) body.ttl_s = ttl;
  const answer = await fetch(gateway + "/api/v1/embed/tokens", {
    method: "POST",
    headers: { authorization: "Bearer " + apiToken, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: answer.status, body: await answer.text() };
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://crm.invalid");
    if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/index.html")) {
      const html = (await readFile(page, "utf8")).replaceAll("{{GATEWAY}}", gateway);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(html);
    } else if (req.method === "POST" && url.pathname === "/token") {
      // A real CRM checks here which of its users is asking, and for which agent.
      const ttl = Number(url.searchParams.get("ttl")) || undefined;
      const minted = await mintToken(ttl);
      res.writeHead(minted.status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(minted.body);
    } else if (req.method === "POST" && url.pathname === "/webhook") {
      const body = await readBody(req);
      if (!webhookSecret || !signatureOk(body, req.headers["x-dialer-signature"])) {
        res.writeHead(401);
        res.end();
        return;
      }
      const event = JSON.parse(body);
      webhookEvents.push({
        event: event.event,
        at_ms: event.at_ms,
        call: event.call.id,
        caller_id: event.call.caller_id,
        record_id: event.record_id,
        record: event.record && event.record.id,
        signature: req.headers["x-dialer-signature"],
        body,
      });
      res.writeHead(204);
      res.end();
    } else if (req.method === "GET" && url.pathname === "/webhook-events") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(webhookEvents));
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  } catch (e) {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end("the gateway could not be reached");
    console.error("crm:", e.message);
  }
});

server.listen(port, host, () => {
  console.log(`crm ready http://${host}:${port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
