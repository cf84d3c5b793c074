// End-to-end test of imserver with the unmodified OpenIM JavaScript SDK (@openim/client-sdk 0.0.14, installed
// from npm by `make test-sdk`; never vendored: it is GPL-3.0). It starts no server: run.sh starts a fresh
// imserver and passes its addresses, exactly what an application would give the SDK's login():
//
//   IMSERVER_API_ADDR=http://127.0.0.1:10002/api/v3 IMSERVER_WS_ADDR=ws://127.0.0.1:10002/msg_gateway \
//   IMSERVER_SECRET=openIM123 node --experimental-websocket --test sdk.test.mjs
//
// Node 20 has no global WebSocket without --experimental-websocket; the SDK picks its "web" platform (fetch +
// WebSocket) only when one exists. Every scenario uses fresh users and logs its SDK instances out at the end.
// Waits are on SDK events, with a generous bound that only turns a hang into a failure.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import * as defaultBuild from "@openim/client-sdk";
// The default builds (index.js, index.es.js) crash in pullMsgBySeqRange on reconnect gap-fill (an SDK bug);
// the modern build does not. The reconnect scenario uses it.
import * as modernBuild from "@openim/client-sdk/lib/index.modern.mjs";

const apiAddr = process.env.IMSERVER_API_ADDR;
const wsAddr = process.env.IMSERVER_WS_ADDR;
const secret = process.env.IMSERVER_SECRET ?? "openIM123";
if (!apiAddr || !wsAddr) throw new Error("IMSERVER_API_ADDR and IMSERVER_WS_ADDR must be set (sdktest/run.sh does)");
if (typeof WebSocket === "undefined") throw new Error("no global WebSocket: run node with --experimental-websocket");

const { CbEvents } = defaultBuild;

// What the SDK asked the server and was refused: REST calls that failed (HTTP status or errCode), quoted in
// failure messages so a failure names the route. SDKTEST_TRACE=1 also prints every call and WebSocket frame.
const trace = process.env.SDKTEST_TRACE === "1";
const refused = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const res = await realFetch(url, init);
  const path = String(url).replace(apiAddr, "");
  const body = await res.clone().text();
  let errCode;
  try {
    errCode = JSON.parse(body).errCode;
  } catch {
    // not JSON
  }
  if (!res.ok || errCode) refused.push(`${path} -> HTTP ${res.status} ${body.slice(0, 300)}`);
  if (trace) console.log(`[http] ${path} ${res.status} ${body.slice(0, 500).replace(/"token":"[^"]*"/g, '"token":"***"')}`);
  return res;
};
if (!trace) {
  // The SDK prints its sync results with console.warn/info; keep the report readable.
  console.warn = () => {};
  console.info = () => {};
} else {
  const RealWebSocket = globalThis.WebSocket;
  globalThis.WebSocket = class extends RealWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener("message", async (e) => {
        const text = typeof e.data === "string" ? e.data : Buffer.from(await e.data.arrayBuffer()).toString();
        console.log(`[ws <-] ${typeof e.data === "string" ? "text" : "binary"} ${text.slice(0, 500)}`);
      });
    }
    send(data) {
      console.log(`[ws ->] ${typeof data === "string" ? data : Buffer.from(data).toString().slice(0, 500)}`);
      super.send(data);
    }
  };
}
// The SDK leaves promises unhandled when it is logged out with work in flight (e.g. "network error, ws not
// connected" from a conversation refresh it started on a push): printed, not fatal. node:test would fail the
// whole file for such activity after a test ended, so its handler is replaced once the harness exists.
// Scenarios assert on events and results, so a server fault still fails the scenario that depends on it.
let rejectionsTolerated = false;
function tolerateSDKRejections() {
  if (rejectionsTolerated) return;
  rejectionsTolerated = true;
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", (err) => {
    console.log(`[sdk] unhandled rejection inside the SDK (ignored): ${err?.message ?? JSON.stringify(err)}`);
  });
}
const refusedSince = (n) => (refused.length > n ? `; refused calls: ${refused.slice(n).join(" | ")}` : "");
const WAIT = 20000; // bound on anything the SDK must report; a failure, never a pass condition
const PLATFORM_WEB = 5;
const PLATFORM_ANDROID = 2;
const PLATFORM_IOS = 1;
const SINGLE = 1;
const MSG_SUCCEEDED = 2; // MessageStatus.Succeed
const GROUP_TYPE_WORKING = 2;
const run = Date.now().toString(36).slice(-5);
let seq = 0;
const newUserID = (name) => `${name}-${run}-${++seq}`;
const singleConv = (a, b) => {
  const [x, y] = [a, b].sort();
  return `si_${x}_${y}`;
};

// ------------------------------------------------------------------------------------------ server helpers

async function post(path, body, token) {
  const headers = { "Content-Type": "application/json", operationID: `sdktest-${Date.now()}` };
  if (token) headers.token = token;
  const res = await fetch(apiAddr + path, { method: "POST", headers, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
  const env = await res.json();
  assert.equal(env.errCode, 0, `${path}: errCode ${env.errCode} ${env.errMsg} ${env.errDlt ?? ""}`);
  return env.data;
}

async function register(...names) {
  const ids = names.map(newUserID);
  await post("/auth/user_register", { secret, users: ids.map((userID) => ({ userID, nickname: userID })) });
  return ids;
}

async function userToken(userID, platformID = PLATFORM_WEB) {
  return (await post("/auth/user_token", { secret, userID, platformID })).token;
}

// -------------------------------------------------------------------------------------------- SDK helpers

const open = new Set(); // every SDK instance not logged out yet

// An SDK instance that records every event it fires, so a scenario can wait for an event that may already
// have happened.
function newClient(label, build = defaultBuild) {
  const sdk = build.getSDK();
  const events = [];
  const waiters = new Set();
  for (const name of Object.values(build.CbEvents)) {
    sdk.on(name, (ev) => {
      events.push({ name, ev });
      for (const w of waiters) w.check();
    });
  }
  const client = {
    label,
    sdk,
    events,
    // Resolves with the first event named `name` (or one of the names), among events[from:], past or future,
    // whose payload satisfies `pred`.
    waitFor(name, pred = () => true, what = name, from = 0) {
      const names = [name].flat();
      return new Promise((resolve, reject) => {
        const w = {
          check() {
            const hit = events.slice(from).find((e) => names.includes(e.name) && pred(e.ev));
            if (hit) {
              waiters.delete(w);
              clearTimeout(w.timer);
              resolve(hit.ev);
            }
          },
        };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          const seen = [...new Set(events.map((e) => e.name))].join(", ");
          reject(new Error(`${label}: no ${what} within ${WAIT / 1000} s (events seen: ${seen || "none"})`));
        }, WAIT);
        waiters.add(w);
        w.check();
      });
    },
    // A message delivered to the application as new (an online push, or pulled after a reconnect).
    waitForMessage(pred, what) {
      const match = (ev) => (ev.data ?? []).some(pred);
      return client.waitFor([CbEvents.OnRecvNewMessages, CbEvents.OnRecvOfflineNewMessages], match, what);
    },
    async logout() {
      open.delete(client);
      try {
        await sdk.logout();
      } catch {
        // already logged out (kicked)
      }
    },
  };
  open.add(client);
  return client;
}

// Logs in and waits for the end of the initial sync; a failed connect or sync fails with the SDK's reason.
async function login(label, userID, { build, ws = wsAddr, platformID = PLATFORM_WEB } = {}) {
  const c = newClient(label, build);
  const token = await userToken(userID, platformID);
  const n = refused.length;
  const failed = new Promise((_, reject) => {
    c.sdk.on(CbEvents.OnConnectFailed, (ev) => reject(new Error(`${label}: OnConnectFailed ${ev.errCode} ${ev.errMsg}${refusedSince(n)}`)));
    c.sdk.on(CbEvents.OnSyncServerFailed, (ev) => reject(new Error(`${label}: OnSyncServerFailed ${ev.errCode} ${ev.errMsg}${refusedSince(n)}`)));
  });
  failed.catch(() => {}); // raced below; an unobserved rejection would fail the run by itself
  await c.sdk.login({ userID, token, wsAddr: ws, apiAddr, platformID, logLevel: 5 });
  await Promise.race([c.waitFor(CbEvents.OnSyncServerFinish), failed]);
  return c;
}

async function sendText(from, { recvID = "", groupID = "" }, text) {
  const message = (await from.sdk.createTextMessage(text)).data;
  const sent = (await from.sdk.sendMessage({ recvID, groupID, message })).data;
  return sent;
}

const isText = (text) => (m) => m.textElem?.content === text;

// A scenario: a node:test test whose failure also lists the REST calls the server refused during it.
function scenario(name, fn) {
  test(name, async () => {
    const n = refused.length;
    try {
      await fn();
    } catch (err) {
      // The SDK rejects with plain objects ({event, errCode, errMsg}): make them Errors that say so.
      const e = err instanceof Error ? err : new Error(`SDK call failed: ${JSON.stringify(err)}`);
      const more = refusedSince(n);
      if (more && !e.message.includes("refused calls")) e.message += more;
      throw e;
    }
  });
  tolerateSDKRejections(); // after test(): node:test installs its handlers with the first test
}

// OpenIM's send ack (UserSendMsgResp) has no seq: the sender's SDK learns it from the push of its own message,
// which the server writes after the ack on the same connection. A later send's ack therefore arrives after
// that push: once it is back, the SDK knows the earlier message with its seq (needed e.g. to revoke it).
const ownPushSeen = (from, to) => sendText(from, to, `marker ${run}`);

after(async () => {
  await Promise.all([...open].map((c) => c.logout()));
});

// -------------------------------------------------------------------------------------------- scenarios

scenario("login and sync: two users connect and the SDK reports OnSyncServerFinish", async () => {
  const [alice, bob] = await register("alice", "bob");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  assert.ok(a.events.some((e) => e.name === CbEvents.OnConnectSuccess), "alice: OnConnectSuccess");
  assert.ok(b.events.some((e) => e.name === CbEvents.OnConnectSuccess), "bob: OnConnectSuccess");
  const self = (await a.sdk.getSelfUserInfo()).data;
  assert.equal(self.userID, alice);
  await a.logout();
  await b.logout();
});

scenario("1:1 text: the send is acknowledged, the peer gets OnRecvNewMessages, the sender learns the seq", async () => {
  const [alice, bob] = await register("alice", "bob");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  const text = `hello bob ${run}`;
  const sent = await sendText(a, { recvID: bob }, text);
  assert.equal(sent.status, MSG_SUCCEEDED, `ack status: ${sent.status}`);
  assert.ok(sent.serverMsgID, "ack serverMsgID");
  assert.ok(sent.sendTime > 0, "ack sendTime");
  const ev = await b.waitForMessage(isText(text), `OnRecvNewMessages with "${text}"`);
  const got = ev.data.find(isText(text));
  assert.equal(got.sendID, alice);
  assert.equal(got.recvID, bob);
  assert.equal(got.clientMsgID, sent.clientMsgID);
  assert.equal(got.serverMsgID, sent.serverMsgID);
  assert.ok(got.seq > 0, `received seq: ${got.seq}`);
  await ownPushSeen(a, { recvID: bob });
  const mine = (await a.sdk.getAdvancedHistoryMessageList({ conversationID: singleConv(alice, bob), count: 20, startClientMsgID: "" })).data;
  const own = mine.messageList.find((m) => m.clientMsgID === sent.clientMsgID);
  assert.ok(own, `the sender's history has its message: ${JSON.stringify(mine.messageList.map((m) => [m.seq, m.textElem?.content]))}`);
  assert.equal(own.seq, got.seq, "the sender's copy carries the seq the peer got");
  await a.logout();
  await b.logout();
});

scenario("group: a created group reaches its members (OnJoinedGroupAdded), a group message every online member, an invite OnGroupMemberAdded", async () => {
  const [alice, bob, carol] = await register("alice", "bob", "carol");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  const c = await login("carol", carol);
  const group = (
    await a.sdk.createGroup({ memberUserIDs: [bob, carol], groupInfo: { groupName: `g ${run}`, groupType: GROUP_TYPE_WORKING } })
  ).data;
  assert.ok(group.groupID, "createGroup returns a groupID");
  await b.waitFor(CbEvents.OnJoinedGroupAdded, (ev) => ev.data?.groupID === group.groupID, "OnJoinedGroupAdded");
  const text = `hello group ${run}`;
  const sent = await sendText(a, { groupID: group.groupID }, text);
  assert.equal(sent.status, MSG_SUCCEEDED, `ack status: ${sent.status}`);
  for (const member of [b, c]) {
    const ev = await member.waitForMessage(isText(text), `group message "${text}"`);
    const got = ev.data.find(isText(text));
    assert.equal(got.groupID, group.groupID, `${member.label}: groupID`);
    assert.equal(got.sendID, alice, `${member.label}: sendID`);
  }
  // A member invited later: the members online see OnGroupMemberAdded, the invitee OnJoinedGroupAdded.
  const [dave] = await register("dave");
  const d = await login("dave", dave);
  await a.sdk.inviteUserToGroup({ groupID: group.groupID, reason: "", userIDList: [dave] });
  await d.waitFor(CbEvents.OnJoinedGroupAdded, (ev) => ev.data?.groupID === group.groupID, "OnJoinedGroupAdded (invited)");
  await b.waitFor(
    CbEvents.OnGroupMemberAdded,
    (ev) => ev.data?.groupID === group.groupID && ev.data?.userID === dave,
    "OnGroupMemberAdded for the invitee",
  );
  await Promise.all([a, b, c, d].map((x) => x.logout()));
});

scenario("history: a fresh device reads from the server the messages sent while it was offline", async () => {
  const [alice, dave] = await register("alice", "dave");
  const a = await login("alice", alice);
  const texts = [1, 2, 3].map((i) => `offline ${i} ${run}`);
  for (const t of texts) await sendText(a, { recvID: dave }, t);
  const d = await login("dave", dave); // never logged in before: nothing local
  const conversationID = singleConv(alice, dave);
  const res = (await d.sdk.getAdvancedHistoryMessageList({ conversationID, count: 20, startClientMsgID: "" })).data;
  const got = res.messageList.map((m) => m.textElem?.content).filter((t) => texts.includes(t));
  assert.deepEqual(got, texts, `history of ${conversationID}: ${JSON.stringify(res.messageList.map((m) => [m.seq, m.textElem?.content]))}`);
  await a.logout();
  await d.logout();
});

// A loopback TCP relay in front of the WebSocket gateway that the test can cut: cut() drops every relayed
// connection and holds new ones (accepted, not relayed) until restore(). The SDK sees a dropped socket and
// reconnects through the relay; while held, its reconnect waits in the handshake.
async function relay(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const held = [];
  let up = true;
  const pipe = async (client) => {
    const { connect } = await import("node:net");
    const server = connect(Number(port), hostname);
    for (const [x, y] of [
      [client, server],
      [server, client],
    ]) {
      x.pipe(y);
      x.on("error", () => y.destroy());
      x.on("close", () => y.destroy());
    }
    sockets.add(client).add(server);
    client.on("close", () => sockets.delete(client));
    server.on("close", () => sockets.delete(server));
  };
  const srv = createServer((client) => {
    client.on("error", () => {});
    if (up) pipe(client);
    else held.push(client);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const u = new URL(target);
  u.port = String(srv.address().port);
  let accepted = 0;
  srv.on("connection", () => accepted++);
  return {
    url: u.toString(),
    accepted: () => accepted,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
      for (const c of held.splice(0)) if (!c.destroyed) pipe(c);
    },
    close() {
      for (const s of sockets) s.destroy();
      for (const c of held) c.destroy();
      srv.close();
    },
  };
}

scenario("reconnect gap-fill (modern build): messages sent while the socket was down arrive after the reconnect", async () => {
  const [alice, erin] = await register("alice", "erin");
  const r = await relay(wsAddr);
  try {
    const a = await login("alice", alice);
    const e = await login("erin", erin, { build: modernBuild, ws: r.url });
    const before = `before the cut ${run}`;
    await sendText(a, { recvID: erin }, before);
    await e.waitForMessage(isText(before), "the message before the cut");

    const connects = r.accepted();
    const mark = e.events.length;
    r.cut();
    await e.waitFor(CbEvents.OnConnecting, () => true, "OnConnecting (reconnect attempt)", mark);
    // Sent and acknowledged while erin has no connection: only a pull after the reconnect can bring them.
    const texts = [1, 2, 3].map((i) => `gap ${i} ${run}`);
    for (const t of texts) await sendText(a, { recvID: erin }, t);
    r.restore();
    await e.waitFor(CbEvents.OnSyncServerFinish, () => true, "OnSyncServerFinish after the reconnect", mark);
    for (const t of texts) await e.waitForMessage(isText(t), `gap message "${t}" after the reconnect`);
    assert.ok(r.accepted() > connects, "erin reconnected through the relay");
    await a.logout();
    await e.logout();
  } finally {
    r.close();
  }
});

scenario("kick: a second login on the same platform fires OnKickedOffline on the first", async () => {
  const [frank] = await register("frank");
  const first = await login("frank#1", frank);
  const second = await login("frank#2", frank);
  await first.waitFor(CbEvents.OnKickedOffline);
  assert.ok(!second.events.some((e) => e.name === CbEvents.OnKickedOffline), "the new login stays");
  await first.logout();
  await second.logout();
});

scenario("friend application: the recipient gets OnFriendApplicationAdded, the applicant OnFriendApplicationAccepted", async () => {
  const [alice, bob] = await register("alice", "bob");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  await a.sdk.addFriend({ toUserID: bob, reqMsg: `hi from alice ${run}` });
  const added = await b.waitFor(
    CbEvents.OnFriendApplicationAdded,
    (ev) => ev.data?.fromUserID === alice && ev.data?.toUserID === bob,
    "OnFriendApplicationAdded from alice",
  );
  assert.equal(added.data.reqMsg, `hi from alice ${run}`);
  await b.sdk.acceptFriendApplication({ toUserID: alice, handleMsg: "ok" });
  await a.waitFor(CbEvents.OnFriendApplicationAccepted, (ev) => ev.data?.toUserID === bob, "OnFriendApplicationAccepted");
  await a.logout();
  await b.logout();
});

scenario("revoke: the peer gets OnNewRecvMessageRevoked for the revoked message", async () => {
  const [alice, bob] = await register("alice", "bob");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  const text = `to be revoked ${run}`;
  const sent = await sendText(a, { recvID: bob }, text);
  await b.waitForMessage(isText(text), "the message to revoke");
  await ownPushSeen(a, { recvID: bob }); // the SDK revokes only a message it holds with its seq
  await a.sdk.revokeMessage({ conversationID: singleConv(alice, bob), clientMsgID: sent.clientMsgID });
  const ev = await b.waitFor(
    CbEvents.OnNewRecvMessageRevoked,
    (ev) => ev.data?.clientMsgID === sent.clientMsgID,
    "OnNewRecvMessageRevoked",
  );
  assert.equal(ev.data.revokerID, alice);
  await a.logout();
  await b.logout();
});

scenario("mark as read: the unread count the SDK shows drops to zero, on this device and a fresh one", async () => {
  const [alice, bob] = await register("alice", "bob");
  const a = await login("alice", alice);
  const b = await login("bob", bob);
  const texts = [1, 2].map((i) => `unread ${i} ${run}`);
  for (const t of texts) await sendText(a, { recvID: bob }, t);
  for (const t of texts) await b.waitForMessage(isText(t), `"${t}"`);
  const conversationID = singleConv(alice, bob);
  const unread = async (c) => (await c.sdk.getOneConversation({ sourceID: alice, sessionType: SINGLE })).data;
  const total = async (c) => (await c.sdk.getTotalUnreadMsgCount()).data;
  assert.equal((await unread(b)).conversationID, conversationID);
  assert.equal((await unread(b)).unreadCount, 2, "unread before");
  // The SDK's own running total skips the first message of a conversation it did not know (its bookkeeping,
  // whatever the server), so only "some" is asserted here; a fresh device takes the server's count.
  assert.ok((await total(b)) > 0, "total unread before");
  const b2 = await login("bob#ios", bob, { platformID: PLATFORM_IOS });
  assert.equal((await unread(b2)).unreadCount, 2, "unread before, on a fresh device");
  assert.equal(await total(b2), 2, "total unread before, on a fresh device");

  await b.sdk.markConversationMessageAsRead(conversationID);
  assert.equal((await unread(b)).unreadCount, 0, "unread after");
  assert.equal(await total(b), 0, "total unread after");
  // The read mark is the server's, not only the SDK's memory: a fresh device of bob sees no unread either.
  const b3 = await login("bob#android", bob, { platformID: PLATFORM_ANDROID });
  assert.equal((await unread(b3)).unreadCount, 0, "unread after, on a fresh device");
  assert.equal(await total(b3), 0, "total unread after, on a fresh device");
  await Promise.all([a, b, b2, b3].map((x) => x.logout()));
});
