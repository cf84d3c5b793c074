// A minimal client of the WebSocket gateway /msg_gateway, typed by gen/ws.ts (generated from the AsyncAPI
// document). It uses the global WebSocket when there is one (browsers, Node >= 22) and the `ws` package
// otherwise (Node 20).

import * as W from "../gen/ws.js";
import { ApiError, newID } from "./rest.js";

/** The part of the WebSocket API this client uses (the browser's WebSocket and `ws` both have it). */
export interface MinimalWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket constructor. */
export type WebSocketCtor = new (url: string) => MinimalWebSocket;

/** Options of WsClient.connect. */
export interface WsOptions {
  /** "ws://host:port/msg_gateway" */
  url: string;
  token: string;
  userID: string;
  platformID: number;
  /** operationID of the connect (default: random). */
  operationID?: string;
  /** Send the text heartbeat {"type":"ping"} this often (default 20000 ms; 0: never). The server closes a silent connection after 30 s. */
  heartbeatMs?: number;
  /** How long to wait for the connect result (default 10000 ms). */
  connectTimeoutMs?: number;
  /** How long request() waits for its reply (default 10000 ms). */
  requestTimeoutMs?: number;
  /** The WebSocket constructor (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketCtor;
}

/** WebSocket.OPEN (the same in browsers and `ws`). */
const OPEN = 1;

/** Why the connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A server frame: a reply, a push or the text heartbeat. */
type AnyFrame = Partial<W.ReplyFrame> & Partial<W.PushFrame> & { type?: string };

async function defaultWebSocket(): Promise<WebSocketCtor> {
  const g = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (g) return g;
  const mod = (await import("ws")) as unknown as { default?: WebSocketCtor; WebSocket?: WebSocketCtor };
  const ctor = mod.WebSocket ?? mod.default;
  if (!ctor) throw new Error("no WebSocket: install the ws package");
  return ctor;
}

function text(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data as Uint8Array);
  return String(data);
}

/** One gateway connection. Requests may overlap; replies are matched by msgIncr. */
export class WsClient {
  readonly userID: string;
  readonly platformID: number;
  /** Resolves when the connection has ended. */
  readonly closed: Promise<CloseInfo>;
  /** The errMsg of the 2002 KickOnlineMsg, once kicked. */
  kickReason: string | undefined;

  private readonly sock: MinimalWebSocket;
  private readonly requestTimeoutMs: number;
  private incr = 0;
  private readonly pending = new Map<string, { resolve: (f: W.ReplyFrame) => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly pushHandlers = new Set<(p: W.PushFrames) => void>();
  private readonly kickHandlers = new Set<(reason: string) => void>();
  private readonly buffered: W.PushFrames[] = [];
  private readonly waiters: { pred: (p: W.PushFrames) => boolean; resolve: (p: W.PushFrames) => void }[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closeInfo: CloseInfo | undefined;

  private constructor(sock: MinimalWebSocket, opts: WsOptions, closed: Promise<CloseInfo>) {
    this.sock = sock;
    this.userID = opts.userID;
    this.platformID = opts.platformID;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
    this.closed = closed;
  }

  /**
   * Connects with isMsgResp=true and resolves once the server's first frame says errCode 0; rejects with ApiError
   * carrying the server's errCode otherwise.
   */
  static async connect(opts: WsOptions): Promise<WsClient> {
    const Ctor = opts.WebSocket ?? (await defaultWebSocket());
    const u = new URL(opts.url);
    u.searchParams.set("token", opts.token);
    u.searchParams.set("userID", opts.userID);
    u.searchParams.set("platformID", String(opts.platformID));
    u.searchParams.set("operationID", opts.operationID ?? newID());
    u.searchParams.set("isMsgResp", "true");
    const sock = new Ctor(u.toString());
    let onClosed!: (c: CloseInfo) => void;
    const closed = new Promise<CloseInfo>((r) => (onClosed = r));
    const client = new WsClient(sock, opts, closed);

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no connect result within ${opts.connectTimeoutMs ?? 10000} ms`));
        sock.close();
      }, opts.connectTimeoutMs ?? 10000);
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      sock.onerror = () => settle(new Error(`cannot connect to ${opts.url}`));
      sock.onclose = (ev) => {
        settle(new Error(`closed before the connect result: ${ev.code} ${ev.reason}`));
        client.onClose(ev, onClosed);
      };
      sock.onmessage = (ev) => {
        if (!settled) {
          let r: W.ConnectResult;
          try {
            r = JSON.parse(text(ev.data)) as W.ConnectResult;
          } catch {
            settle(new Error(`the first frame is not a connect result: ${text(ev.data).slice(0, 200)}`));
            return;
          }
          if (r.errCode !== 0) settle(new ApiError(r.errCode, r.errMsg));
          else settle();
          return;
        }
        client.onFrame(text(ev.data));
      };
    });
    const hb = opts.heartbeatMs ?? 20000;
    if (hb > 0) {
      client.heartbeat = setInterval(() => {
        // A browser logs a console error for a send on a closing socket, so do not try.
        if (client.sock.readyState !== OPEN) return;
        try {
          client.sock.send('{"type":"ping"}');
        } catch {
          // closing: the close handler stops the timer
        }
      }, hb);
      (client.heartbeat as { unref?: () => void }).unref?.();
    }
    return client;
  }

  private onClose(ev: { code: number; reason: string }, done: (c: CloseInfo) => void): void {
    if (this.closeInfo) return;
    this.closeInfo = { code: ev.code, reason: ev.reason };
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection closed (${ev.code} ${ev.reason})`));
    }
    this.pending.clear();
    done(this.closeInfo);
  }

  private onFrame(raw: string): void {
    let f: AnyFrame;
    try {
      f = JSON.parse(raw) as AnyFrame;
    } catch {
      return;
    }
    if (f.type) return; // {"type":"pong"}
    if (f.reqIdentifier === W.ReqIdentifier.ReqPushMsg) {
      const p = f as W.PushFrames;
      for (const h of this.pushHandlers) h(p);
      const i = this.waiters.findIndex((w) => w.pred(p));
      if (i >= 0) {
        this.waiters.splice(i, 1)[0].resolve(p);
      } else {
        this.buffered.push(p);
        if (this.buffered.length > 10000) this.buffered.shift();
      }
      return;
    }
    if (f.reqIdentifier === W.ReqIdentifier.ReqKickOnline) {
      this.kickReason = f.errMsg ?? "";
      for (const h of this.kickHandlers) h(this.kickReason);
      return;
    }
    const p = f.msgIncr !== undefined ? this.pending.get(f.msgIncr) : undefined;
    if (p && f.msgIncr !== undefined) {
      this.pending.delete(f.msgIncr);
      clearTimeout(p.timer);
      p.resolve(f as W.ReplyFrame);
    }
  }

  /** Calls handler for every 2001 push; returns a function that removes it. */
  onPush(handler: (p: W.PushFrames) => void): () => void {
    this.pushHandlers.add(handler);
    return () => this.pushHandlers.delete(handler);
  }

  /** Calls handler when a 2002 KickOnlineMsg arrives (the server closes the connection right after). */
  onKick(handler: (reason: string) => void): () => void {
    this.kickHandlers.add(handler);
    return () => this.kickHandlers.delete(handler);
  }

  /**
   * The next 2001 push matching pred (default: any) that no earlier nextPush took, waiting at most timeoutMs.
   * Pushes that arrive while nobody waits are kept (up to 10000).
   */
  nextPush(pred: (p: W.PushFrames) => boolean = () => true, timeoutMs = 10000): Promise<W.PushFrames> {
    const i = this.buffered.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.buffered.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (p: W.PushFrames) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      const timer = setTimeout(() => {
        const k = this.waiters.indexOf(w);
        if (k >= 0) this.waiters.splice(k, 1);
        reject(new Error(`no matching push within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /**
   * Sends a request frame and resolves with its reply (matched by msgIncr); rejects with ApiError when the reply's
   * errCode is not 0.
   */
  request<R extends W.RequestIdentifier>(reqIdentifier: R, data: W.RequestData<R>, opts: { operationID?: string; timeoutMs?: number } = {}): Promise<W.Requests[R]["reply"]> {
    if (this.closeInfo) return Promise.reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason})`));
    if (this.sock.readyState !== OPEN) return Promise.reject(new Error("connection closing"));
    const msgIncr = String(++this.incr);
    const operationID = opts.operationID ?? newID();
    const frame: W.RequestFrame = { reqIdentifier, sendID: this.userID, operationID, msgIncr, data };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(msgIncr);
        reject(new Error(`no reply to ${reqIdentifier} (msgIncr ${msgIncr}) within ${opts.timeoutMs ?? this.requestTimeoutMs} ms`));
      }, opts.timeoutMs ?? this.requestTimeoutMs);
      this.pending.set(msgIncr, {
        resolve: (f) => {
          if (f.errCode !== 0) reject(new ApiError(f.errCode, f.errMsg, { operationID }));
          else resolve(f as W.Requests[R]["reply"]);
        },
        reject,
        timer,
      });
      try {
        this.sock.send(JSON.stringify(frame));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(msgIncr);
        reject(e);
      }
    });
  }

  /** 1003 SEND_MSG: stores (or, for typing, relays) msg and resolves with where it was stored. */
  async sendMsg(msg: W.MsgData): Promise<W.SendMsgResp> {
    const r = await this.request(W.ReqIdentifier.ReqSendMsg, msg);
    return r.data as W.SendMsgResp;
  }

  /** 1001 GET_NEWEST_SEQ: the newest and oldest readable seq of every conversation. */
  async newestSeq(): Promise<W.GetMaxSeqResp> {
    const r = await this.request(W.ReqIdentifier.ReqGetNewestSeq, { userID: this.userID });
    return r.data as W.GetMaxSeqResp;
  }

  /** 1002 PULL_MSG_BY_SEQ: the stored messages of the given ranges. */
  async pullBySeq(seqRanges: W.SeqRange[], order: W.PullOrder = W.PullOrder.PullOrderAsc): Promise<W.PullMessageBySeqsResp> {
    const r = await this.request(W.ReqIdentifier.ReqPullMsgBySeq, { userID: this.userID, seqRanges, order });
    return r.data as W.PullMessageBySeqsResp;
  }

  /** 2003 LOGOUT_MSG: the server replies, then closes with 1000. */
  async logout(): Promise<void> {
    await this.request(W.ReqIdentifier.ReqLogout, { userID: this.userID, platformID: this.platformID });
  }

  /** Closes the connection (1000) and resolves when it has ended. */
  close(code = 1000, reason = ""): Promise<CloseInfo> {
    if (!this.closeInfo) {
      try {
        this.sock.close(code, reason);
      } catch {
        // already closing
      }
    }
    return this.closed;
  }
}

/** A text message (contentType 101, content {"content": text}) from sendID to the user recvID. */
export function textMsg(sendID: string, recvID: string, text: string): W.MsgData {
  return {
    sendID,
    recvID,
    clientMsgID: newID("c"),
    sessionType: W.SessionType.SessionSingleChat,
    contentType: W.ContentType.ContentText,
    msgFrom: W.MsgFrom.MsgFromUser,
    content: JSON.stringify({ content: text } satisfies W.TextElem),
    createTime: Date.now(),
  };
}

/** The text of a text message ({"content"} or {"text"}; the content itself when it is not JSON). */
export function textOf(msg: W.MsgData): string {
  try {
    const e = JSON.parse(msg.content ?? "") as W.TextElem;
    return e.content || e.text || "";
  } catch {
    return msg.content ?? "";
  }
}

/** Whether contentType is a notification with Tips. */
export function isNotification(contentType: number | undefined): contentType is W.NotificationContentType {
  return (W.notificationContentTypes as readonly number[]).includes(contentType ?? -1);
}

/**
 * The Tips of a notification message, decoded from its content ({"detail": "<Tips JSON>"}). With contentType, the
 * result is typed (`decodeTips(m, ContentType.RevokeNotification)` is a RevokeMsgTips) and a message of another
 * contentType throws.
 */
export function decodeTips<C extends W.NotificationContentType>(msg: W.MsgData, contentType: C): W.TipsByContentType[C];
export function decodeTips(msg: W.MsgData): W.TipsByContentType[W.NotificationContentType];
export function decodeTips(msg: W.MsgData, contentType?: W.NotificationContentType): unknown {
  if (!isNotification(msg.contentType)) throw new Error(`contentType ${msg.contentType} is not a notification`);
  if (contentType !== undefined && msg.contentType !== contentType) throw new Error(`contentType ${msg.contentType}, not ${contentType}`);
  const elem = JSON.parse(msg.content ?? "") as W.NotificationElem;
  return JSON.parse(elem.detail);
}
