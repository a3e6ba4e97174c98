// Browser peers for the conformance tests: LiveKit's browser SDK (livekit-client) in Debian's
// Chromium, driven through playwright-core, with fake camera and microphone.
//
//   node peer.mjs <ws url> <token>...
//   node peer.mjs --join <host:port> <meeting code> <name>
//
// The second form joins a meeting by its code as any guest would: it asks the meeting's
// conference API (`POST /api/conference/join`) for a ticket and opens one tab with it.
// CONFAB_VIDEO_CODEC picks the camera's codec (vp8 by default, or h264). For benchmarks,
// CONFAB_PEER_PUBLISH=0 only watches (publishes nothing) and CONFAB_PEER_VIEWPORT=WxH sizes
// the tabs.
// Opens one tab per token, each joining with that token and publishing camera and microphone;
// a token that may not publish (a meeting's waiting room) knocks on the meeting's conference
// API instead ({"event": "waiting"}, then "knocked" every 5 s) until a host lets it in
// ("admitted", then it publishes and says "joined").
// Prints one JSON object per line: {"tab": i, "event": ...} as things happen in the tabs, and
// answers commands read from stdin, one JSON object per line:
//   {"cmd": "stats", "tab": i}        -> {"tab": i, "event": "stats", "tracks": [...]}
//   {"cmd": "sent-stats", "tab": i}   -> {"tab": i, "event": "sent-stats", "tracks": [...]}
//   {"cmd": "chat", "tab": i, "text"} -> {"tab": i, "event": "sent"}
//   {"cmd": "state", "tab": i}        -> {"tab": i, "event": "state", "participants": [...], "canPublish": …}
//   {"cmd": "quality", "tab": i, "from": identity, "quality": "LOW"|"MEDIUM"|"HIGH"}
//                                     -> {"tab": i, "event": "quality-set"}
//   {"cmd": "simulate", "tab": i, "scenario": "signal-reconnect"} -> {"tab": i, "event": "simulated"}
//   {"cmd": "layout", "tab": i, "rectangles": {identity: [x, y, w, h]}} -> {"tab": i, "event": "laid-out"}
//   {"cmd": "presented", "tab": i}    -> {"tab": i, "event": "presented", "videos": [{from, presented}]}
//   {"cmd": "quit"}
// The page is served from 127.0.0.1 (a secure context, which WebRTC and crypto.subtle need).

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(process.env.CONFAB_NODE_MODULES + "/");
const { chromium } = require("playwright-core");

// A meeting's ticket for a guest named `name`: where its SFU is and the guest's token.
async function joinByCode(host, code, name) {
  const answer = await fetch(`http://${host}/api/conference/join`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, name }),
  });
  const ticket = await answer.json();
  if (!answer.ok) {
    say({ tab: 0, event: "join-failed", message: `join by code: ${answer.status} ${JSON.stringify(ticket)}` });
    process.exit(1);
  }
  return [ticket.server_url, ticket.token];
}

const args = process.argv.slice(2);
const [url, ...tokens] =
  args[0] === "--join" && args.length === 4 ? await joinByCode(args[1], args[2], args[3]) : args;
const videoCodec = process.env.CONFAB_VIDEO_CODEC || "vp8";
const dynacast = process.env.CONFAB_DYNACAST === "1";
const publish = process.env.CONFAB_PEER_PUBLISH !== "0";
const [viewportWidth, viewportHeight] = (process.env.CONFAB_PEER_VIEWPORT || "1280x720")
  .split("x")
  .map(Number);
if (!url || tokens.length === 0) {
  console.error("usage: node peer.mjs <ws url> <token>... | --join <host:port> <code> <name>");
  process.exit(64);
}

function say(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

const files = {
  "/": ["page.html", "text/html"],
  "/stamp.js": [join(here, "..", "..", "harness", "stamp.js"), "text/javascript"],
  "/livekit-client.umd.js": [
    join(process.env.CONFAB_NODE_MODULES, "livekit-client/dist/livekit-client.umd.js"),
    "text/javascript",
  ],
};
const server = createServer(async (request, response) => {
  const entry = files[request.url];
  if (!entry) {
    response.writeHead(404).end();
    return;
  }
  const [path, type] = entry;
  const body = await readFile(path.startsWith("/") ? path : join(here, path));
  response.writeHead(200, { "content-type": type }).end(body);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CONFAB_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
  ],
});

const pages = [];
for (const [tab, token] of tokens.entries()) {
  const page = await browser.newPage({ viewport: { width: viewportWidth, height: viewportHeight } });
  page.on("pageerror", (error) => say({ tab, event: "page-error", message: String(error) }));
  page.on("console", (message) => {
    if (message.type() === "error") say({ tab, event: "console-error", message: message.text() });
  });
  await page.goto(origin);
  pages.push(page);
  page
    .evaluate(([u, t, c, d, p]) => window.peer.join(u, t, c, d, p), [url, token, videoCodec, dynacast, publish])
    .catch((error) => say({ tab, event: "join-failed", message: String(error) }));
}

let running = true;
const forward = async () => {
  while (running) {
    for (const [tab, page] of pages.entries()) {
      const events = await page.evaluate(() => window.peer.drain()).catch(() => []);
      for (const event of events) say({ tab, ...event });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
const forwarding = forward();

async function handle(command) {
  const page = pages[command.tab ?? 0];
  switch (command.cmd) {
    case "stats":
      say({ tab: command.tab, event: "stats", tracks: await page.evaluate(() => window.peer.stats()) });
      break;
    case "sent-stats":
      say({
        tab: command.tab,
        event: "sent-stats",
        tracks: await page.evaluate(() => window.peer.publisherStats()),
      });
      break;
    case "stamp":
      say({ tab: command.tab, event: "stamp", ...(await page.evaluate((from) => window.peer.stamp(from), command.from)) });
      break;
    case "send-file":
      await page.evaluate(([name, data]) => window.peer.sendFile(name, data), [command.name, command.data]);
      say({ tab: command.tab, event: "file-sent" });
      break;
    case "chat":
      await page.evaluate((text) => window.peer.chat(text), command.text);
      say({ tab: command.tab, event: "sent" });
      break;
    case "state":
      say({ tab: command.tab, event: "state", ...(await page.evaluate(() => window.peer.state())) });
      break;
    case "quality":
      await page.evaluate(([from, quality]) => window.peer.setQuality(from, quality), [
        command.from,
        command.quality,
      ]);
      say({ tab: command.tab, event: "quality-set" });
      break;
    case "simulate":
      await page.evaluate((scenario) => window.peer.simulate(scenario), command.scenario);
      say({ tab: command.tab, event: "simulated" });
      break;
    case "layout":
      await page.evaluate((rectangles) => window.peer.layout(rectangles), command.rectangles);
      say({ tab: command.tab, event: "laid-out" });
      break;
    case "presented":
      say({ tab: command.tab, event: "presented", videos: await page.evaluate(() => window.peer.presented()) });
      break;
    case "quit":
      running = false;
      await forwarding;
      for (const p of pages) await p.evaluate(() => window.peer.leave()).catch(() => {});
      await browser.close();
      server.close();
      process.exit(0);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    await handle(JSON.parse(line));
  } catch (error) {
    say({ event: "command-failed", message: String(error) });
  }
}
// stdin closed: the test is gone.
await handle({ cmd: "quit" });
