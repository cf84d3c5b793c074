// Browser tests of the chat app and the admin console: Debian's chromium driven by playwright-core (no
// browser download), against an imserver process started here on a loopback port with its own embedded
// PostgreSQL. One server, scenarios in order (they share users). Screenshots of every step go to
// $SCREENSHOTS (default build/screenshots). Any console error or page error fails the test, except
// network errors while the server is deliberately down (the restart scenario), which a browser logs by itself.
//
//   IMSERVER_BIN=.bin/imserver node --test web/test/browser.test.mjs      (make test-web does this)
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = resolve(root, process.env.IMSERVER_BIN ?? ".bin/imserver");
const shots = resolve(root, process.env.SCREENSHOTS ?? "build/screenshots");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const WAIT = 20000; // generous bound for anything the UI must show
const run = Date.now().toString(36).slice(-5);
const id = (name) => `${name}${run}`;

let port, base, dataDir, server, browser;
const errors = []; // console errors and page errors of every page
let outage = false; // the server is down on purpose: network errors are expected
let step = 0;

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
    s.on("error", fail);
  });
}

async function startServer() {
  const p = spawn(bin, ["--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, "--log-level", "warn"], { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((r) => {
    p.once("exit", (code, sig) => r({ code, sig }));
    p.once("error", (err) => r({ err })); // e.g. no binary at IMSERVER_BIN
  });
  p.exited = exited;
  // Ready when /readyz answers (the embedded PostgreSQL takes a few seconds to start).
  const deadline = Date.now() + 120000;
  for (;;) {
    const done = await Promise.race([exited.then(() => "exited"), new Promise((r) => setTimeout(r, 200, "tick"))]);
    if (done === "exited") throw new Error(`imserver (${bin}) exited during start-up: ${JSON.stringify(await exited)}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) return p;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("imserver not ready within 120 s");
  }
}

async function stopServer(p) {
  p.kill("SIGTERM");
  await p.exited;
}

async function shot(page, name) {
  step++;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, "0")}-${name}.png`) });
}

async function newPage(label, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  pages.add(page);
  page.setDefaultTimeout(WAIT);
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text().replace(/token=[^&\s']+/g, "token=***");
    const network = /Failed to load resource: net::|WebSocket connection to .* failed/.test(text);
    if (outage && network) {
      console.log(`[${label}] expected during the outage: ${text}`);
      return;
    }
    errors.push(`[${label}] console error: ${text}`);
  });
  page.on("pageerror", (e) => errors.push(`[${label}] page error: ${e.message}`));
  return { ctx, page };
}

async function signUp(page, userID, nickname) {
  await page.goto(base + "/");
  await page.getByLabel("User ID").fill(userID);
  await page.getByLabel("Nickname (sign-up)").fill(nickname);
  await page.getByRole("button", { name: "Sign up" }).click();
  await connected(page);
}

const connected = (page) => page.getByTestId("conn-state").filter({ hasText: "Connected" }).waitFor();
const see = (page, text) => page.locator(".msgs").getByText(text, { exact: false }).first().waitFor();
async function tab(page, name) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
  await page.getByRole("tab", { name }).click();
}

async function openChat(page, convID) {
  // On a phone-sized viewport the list is hidden while a conversation is open.
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
  await tab(page, "Chats");
  await page.locator(`button.conv[data-conv="${convID}"]`).click();
  await page.locator(`.chat[data-conv="${convID}"]`).waitFor();
}

async function type(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.click();
  await page.keyboard.type(text);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "imserver-web-"));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// Scenarios build on each other: after a failure the rest are skipped, and every open page is
// photographed (failed-*.png) to show where it stopped.
let failed = false;
const pages = new Set();
function scenario(name, fn) {
  test(name, { skip: false }, async (t) => {
    if (failed) return t.skip("an earlier scenario failed");
    try {
      await fn();
    } catch (e) {
      failed = true;
      let i = 0;
      for (const p of pages) if (!p.isClosed()) await p.screenshot({ path: join(shots, `failed-${++i}.png`) }).catch(() => {});
      throw e;
    }
  });
}

const alice = id("alice"), bob = id("bob"), carol = id("carol");
let A, B, C; // {ctx, page}

scenario("two users befriend each other, chat both ways, see typing, read receipts and revokes", async () => {
  A = await newPage("alice");
  B = await newPage("bob", { width: 390, height: 844 }); // a phone-sized viewport
  await signUp(A.page, alice, "Alice");
  await signUp(B.page, bob, "Bob 🐻");

  await tab(A.page, "Friends");
  await A.page.getByLabel("Add a friend (user ID)").fill(bob);
  await A.page.getByLabel("Request note").fill("我是 Alice，加个好友吧 🙂");
  await A.page.getByRole("button", { name: "Send request" }).click();

  // Bob sees the request live (1203), accepts; Alice sees him among her friends live (1201/1204).
  await tab(B.page, "Friends");
  const req = B.page.locator(`.requests li[data-from="${alice}"]`);
  await req.getByText("加个好友吧 🙂").waitFor();
  await shot(B.page, "bob-friend-request");
  await req.getByRole("button", { name: "Accept" }).click();
  await A.page.locator(".friends").getByText("Bob 🐻").waitFor();
  await B.page.locator(".friends").getByText("Alice").waitFor();

  // Alice writes first, with Chinese and emoji, sent with Enter.
  await A.page.locator(".friends").getByText("Bob 🐻").click();
  await type(A.page, "你好 Bob！今天一起吃饭吗？🍜");
  await A.page.keyboard.press("Enter");
  await see(A.page, "今天一起吃饭吗？🍜");

  // Bob's list shows the conversation with its unread count and last message.
  const conv = "single_" + [alice, bob].sort().join("_");
  await tab(B.page, "Chats");
  const entry = B.page.locator(`button.conv[data-conv="${conv}"]`);
  await entry.getByText("今天一起吃饭吗？🍜").waitFor();
  await entry.getByLabel("1 unread").waitFor();
  await shot(B.page, "bob-conversation-list");
  await entry.click();
  await see(B.page, "你好 Bob！今天一起吃饭吗？🍜");

  // Opening it marked it read: Alice's message shows "Read" (2200).
  await A.page.getByTestId("receipt").filter({ hasText: "Read" }).waitFor();

  // Bob types: Alice sees the typing indicator (113). Shift+Enter is a newline, Enter sends.
  await type(B.page, "好的 👍");
  await A.page.getByText("Bob 🐻 is typing…").waitFor();
  await shot(A.page, "alice-sees-typing");
  await B.page.keyboard.press("Shift+Enter");
  await B.page.keyboard.type("七点见");
  await B.page.keyboard.press("Enter");
  await see(A.page, "七点见");
  const two = await A.page.locator(".msg .text").filter({ hasText: "七点见" }).innerText();
  assert.equal(two, "好的 👍\n七点见", "Shift+Enter keeps a newline inside one message");
  await B.page.getByTestId("receipt").filter({ hasText: "Read" }).waitFor();

  // Alice revokes her first message; Bob sees it replaced (2101).
  await A.page.locator(".msg.mine").filter({ hasText: "今天一起吃饭吗" }).getByRole("button", { name: "Revoke message" }).click();
  await see(B.page, "revoked a message");
  assert.equal(await B.page.locator(".msgs").getByText("今天一起吃饭吗").count(), 0);
  await shot(A.page, "alice-chat");
});

scenario("a user who was offline gets the messages sent meanwhile when back online", async () => {
  await B.ctx.setOffline(true);
  await B.page.getByTestId("conn-state").filter({ hasText: "Offline" }).waitFor();
  await shot(B.page, "bob-offline");
  for (const t of ["你在吗？", "网络断了吗 📶", "third message while away"]) {
    await type(A.page, t);
    await A.page.keyboard.press("Enter");
    await A.page.locator(".msg.mine").filter({ hasText: t }).locator(".meta").filter({ hasNotText: "Sending" }).waitFor();
  }
  await B.ctx.setOffline(false);
  await connected(B.page);
  await see(B.page, "third message while away");
  for (const t of ["你在吗？", "网络断了吗 📶"]) await see(B.page, t);
  await shot(B.page, "bob-back-online-gap-filled");
  // Bob has the conversation open, so the messages he caught up on are read (2200).
  await A.page.getByTestId("receipt").filter({ hasText: "Read" }).waitFor();
  await A.page.getByText("a friend request was accepted").waitFor({ state: "detached" });
  await A.page.screenshot({ path: join(shots, "chat.png") }); // the README's picture
});

// REST calls of the test itself (not the app's): a token of another platform, so the tab stays signed in.
async function apiToken(userID, platformID) {
  const r = await (await fetch(`${base}/dev/login`, { method: "POST", body: JSON.stringify({ userID, platformID }) })).json();
  assert.equal(r.errCode, 0, JSON.stringify(r));
  return r.data.token;
}
async function api(path, token, body) {
  const r = await (await fetch(`${base}/api/v3${path}`, { method: "POST", headers: { token, "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
  assert.equal(r.errCode, 0, `${path}: ${JSON.stringify(r)}`);
  return r.data;
}

scenario("history scrolls back after a reload", async () => {
  const tok = await apiToken(alice, 3);
  for (let i = 1; i <= 40; i++) {
    await api("/msg/send_msg", tok, { sendID: alice, recvID: bob, sessionType: 1, contentType: 101, content: { content: `history ${i}` } });
  }
  await see(B.page, "history 40");
  await B.page.reload(); // the session survives a reload; the app loads the newest page only
  await connected(B.page);
  await openChat(B.page, "single_" + [alice, bob].sort().join("_"));
  await see(B.page, "history 40");
  const first = B.page.locator(".msgs .text", { hasText: /^history 1$/ });
  assert.equal(await first.count(), 0, "the first page holds only the newest messages");
  // Scrolling to the top loads the next page; so does this button (the first page may not fill the view).
  // (Read receipts are messages of the conversation too, so it takes a few pages of 30 to reach the first.)
  for (let i = 0; i < 10 && (await first.count()) === 0; i++) {
    const n = await B.page.locator(".msgs li").count();
    await B.page.getByRole("button", { name: "Load older messages" }).click();
    await B.page.waitForFunction((n) => document.querySelectorAll(".msgs li").length > n, n);
  }
  await first.waitFor({ state: "attached" });
  await first.scrollIntoViewIfNeeded();
  await shot(B.page, "bob-history-scrolled-back");
});

scenario("a group of three: create, invite, chat, mute shown", async () => {
  C = await newPage("carol");
  await signUp(C.page, carol, "Carol");
  await tab(A.page, "Groups");
  await A.page.getByLabel("New group name").fill("周末小组 🎉");
  await A.page.getByLabel("Members (user IDs)").fill(bob);
  await A.page.getByRole("button", { name: "Create group" }).click();
  await A.page.locator(".chat h2").getByText("周末小组 🎉").waitFor();
  const convID = await A.page.locator(".chat").getAttribute("data-conv");
  await A.page.getByLabel("Invite user IDs").fill(carol);
  await A.page.getByRole("button", { name: "Invite" }).click();
  await see(A.page, "invited");

  await tab(C.page, "Chats");
  await C.page.locator(`button.conv[data-conv="${convID}"]`).click();
  await type(C.page, "大家好，我是 Carol 👋");
  await C.page.keyboard.press("Enter");
  await see(A.page, "我是 Carol 👋");
  await openChat(B.page, convID);
  await see(B.page, "我是 Carol 👋");
  await type(B.page, "欢迎 Carol");
  await B.page.keyboard.press("Enter");
  await see(C.page, "欢迎 Carol");
  await see(A.page, "欢迎 Carol");

  await A.page.getByRole("button", { name: "Mute group" }).click();
  await C.page.getByText("This group is muted").waitFor();
  await shot(C.page, "carol-group-muted");
  await A.page.getByRole("button", { name: "Unmute group" }).click();
  await C.page.getByText("This group is muted").waitFor({ state: "detached" });
  await C.page.getByRole("button", { name: "Quit group" }).click();
  await see(A.page, "Carol left the group");
  await shot(A.page, "alice-group");
});

scenario("a new sign-in on the same platform signs the older tab out (2002)", async () => {
  const B2 = await newPage("bob-2");
  await B2.page.goto(base + "/");
  await B2.page.getByLabel("User ID").fill(bob);
  await B2.page.getByRole("button", { name: "Sign in", exact: true }).click();
  await connected(B2.page);
  await B.page.getByTestId("signed-out-reason").waitFor();
  assert.match(await B.page.getByTestId("signed-out-reason").innerText(), /newer login/);
  await shot(B.page, "bob-signed-in-elsewhere");
  await B.ctx.close();
  B = B2;
});

scenario("the admin console lists who is online and forbids a user, whose tab shows it is signed out", async () => {
  const D = await newPage("admin");
  await D.page.goto(base + "/admin/");
  await D.page.getByRole("button", { name: "Sign in" }).click();
  const row = D.page.locator(`tr[data-user="${carol}"]`);
  await row.waitFor();
  const secretRow = D.page.getByRole("table", { name: "Configuration" }).locator("tr", { has: D.page.locator("th", { hasText: /^secret$/ }) });
  await secretRow.getByText("***").waitFor(); // the secret, masked
  assert.equal(await D.page.getByText("openIM123").count(), 0, "the secret is never shown");
  // The charts have drawn a few samples of /metrics.
  await D.page.waitForFunction(() => (document.querySelector(".chart polyline")?.getAttribute("points") ?? "").split(" ").length >= 5);
  await D.page.screenshot({ path: join(shots, "admin.png") });
  await shot(D.page, "admin-console");
  await row.getByRole("button", { name: "Forbid" }).click();
  await D.page.getByTestId("admin-msg").getByText("forbidden").waitFor();
  await C.page.getByTestId("signed-out-reason").waitFor();
  assert.match(await C.page.getByTestId("signed-out-reason").innerText(), /forbidden/);
  await shot(C.page, "carol-forbidden");
  await row.waitFor({ state: "detached" });

  // The docs the console links to are served.
  const docs = await D.ctx.newPage();
  for (const [path, title] of [["/docs/openapi.html", "imserver REST API"], ["/docs/asyncapi.html", "imserver WebSocket gateway"]]) {
    const res = await docs.goto(base + path);
    assert.equal(res.status(), 200, path);
    assert.equal(await docs.title(), title);
    await docs.locator("h1").first().waitFor(); // Redoc rendered the document
  }
  await docs.close();
  await D.ctx.close();
  await C.ctx.close();
});

scenario("the server restarts mid-session and the apps reconnect by themselves", async () => {
  outage = true;
  await stopServer(server);
  await A.page.getByTestId("conn-state").filter({ hasText: "Offline" }).waitFor();
  await B.page.getByTestId("conn-state").filter({ hasText: "Offline" }).waitFor();
  await shot(A.page, "alice-server-down");
  server = await startServer();
  await connected(A.page);
  await connected(B.page);
  outage = false;
  const conv = "single_" + [alice, bob].sort().join("_");
  await openChat(A.page, conv);
  await type(A.page, "服务器重启了，还能收到吗？");
  await A.page.keyboard.press("Enter");
  await openChat(B.page, conv);
  await see(B.page, "服务器重启了，还能收到吗？");
  await shot(B.page, "bob-after-restart");
});

test("no console errors on any page", () => {
  assert.deepEqual(errors, []);
});
