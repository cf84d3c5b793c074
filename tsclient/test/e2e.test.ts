// End-to-end test of the TypeScript client against a running server: IMSERVER_URL=http://127.0.0.1:PORT
// (and IMSERVER_SECRET, default openIM123). Without IMSERVER_URL it is skipped.
// Run: npm test (compiles with tsc into a scratch directory, then node --test).

import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, ErrCode, RestClient, WsClient, decodeTips, newID, textMsg, textOf, ws } from "../src/index.js";

const baseURL = process.env.IMSERVER_URL;
const secret = process.env.IMSERVER_SECRET ?? "openIM123";

test("register, send over REST and WebSocket, receive the pushes", { skip: baseURL ? false : "IMSERVER_URL is not set", timeout: 60000 }, async () => {
  const rest = new RestClient({ baseURL: `${baseURL}/api/v3` });
  const wsURL = `${baseURL!.replace(/^http/, "ws")}/msg_gateway`;
  const alice = newID("alice");
  const bob = newID("bob");
  await rest.register(secret, [alice, bob]);
  const aliceTok = await rest.userToken(secret, alice, 1);
  const bobTok = await rest.userToken(secret, bob, 2);
  assert.ok(aliceTok.length > 20);

  // A wrong secret is a business error: HTTP 200, errCode 1003.
  await assert.rejects(rest.userToken("not-the-secret", alice, 1), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.errCode, ErrCode.NoPermission);
    assert.equal(e.httpStatus, 200);
    return true;
  });

  // A bad token on connect: the connect result's errCode.
  await assert.rejects(WsClient.connect({ url: wsURL, token: "garbage", userID: bob, platformID: 2 }), (e: unknown) => e instanceof ApiError && e.errCode === ErrCode.TokenInvalid);

  const bobWS = await WsClient.connect({ url: wsURL, token: bobTok, userID: bob, platformID: 2 });
  const aliceWS = await WsClient.connect({ url: wsURL, token: aliceTok, userID: alice, platformID: 1, heartbeatMs: 200 });
  try {
    // REST send: the typed body and reply of /msg/send_msg.
    const sent = await rest.withToken(aliceTok).call("/msg/send_msg", {
      sendID: alice,
      recvID: bob,
      sessionType: 1,
      contentType: ws.ContentType.ContentText,
      content: { content: "hello from node" },
    });
    assert.equal(sent.seq, 1);
    const p1 = await bobWS.nextPush((p) => p.data.contentType === ws.ContentType.ContentText);
    assert.equal(p1.reqIdentifier, ws.ReqIdentifier.ReqPushMsg);
    assert.equal(p1.data.sendID, alice);
    assert.equal(p1.data.seq, 1);
    assert.equal(p1.data.clientMsgID, sent.clientMsgID);
    assert.equal(textOf(p1.data), "hello from node");

    // WebSocket send (1003), concurrently.
    const acks = await Promise.all([1, 2, 3].map((i) => aliceWS.sendMsg(textMsg(alice, bob, `ws ${i}`))));
    assert.deepEqual(acks.map((a) => a.seq).sort(), [2, 3, 4]);
    for (const seq of [2, 3, 4]) {
      const p = await bobWS.nextPush((x) => x.data.seq === seq);
      assert.equal(p.data.sendID, alice);
    }

    // Sync: newest seq and a pull.
    const conv = `single_${[alice, bob].sort().join("_")}`;
    const seqs = await bobWS.newestSeq();
    assert.equal(seqs.maxSeqs[conv], 4);
    const pulled = await bobWS.pullBySeq([{ conversationID: conv, begin: 1, end: 4, num: 10 }]);
    const msgs = pulled.msgs[conv].Msgs;
    assert.deepEqual(msgs.map((m) => m.seq), [1, 2, 3, 4]);
    assert.equal(textOf(msgs[0]), "hello from node");
    assert.deepEqual(msgs.slice(1).map(textOf).sort(), ["ws 1", "ws 2", "ws 3"]);

    // A WebSocket error reply is an ApiError: sending as someone else.
    await assert.rejects(aliceWS.sendMsg(textMsg(bob, alice, "spoof")), (e: unknown) => e instanceof ApiError && e.errCode === ErrCode.NoPermission);

    // A notification: revoke seq 1; the 2101 push's Tips decode to RevokeMsgTips.
    await rest.withToken(aliceTok).call("/msg/revoke_msg", { conversationID: conv, seq: 1, userID: alice });
    const rv = await bobWS.nextPush((p) => p.data.contentType === ws.ContentType.RevokeNotification);
    const tips = decodeTips(rv.data, ws.ContentType.RevokeNotification);
    assert.equal(tips.seq, 1);
    assert.equal(tips.revokerUserID, alice);
    assert.equal(tips.conversationID, conv);
  } finally {
    await aliceWS.close();
    await bobWS.close();
  }
});
