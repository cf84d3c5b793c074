// One user's live connection to the gateway, kept up by itself: it reconnects after a network loss or a
// server restart (backing off up to 5 s, at once when the browser says it is online again), and after every
// (re)connect it asks GET_NEWEST_SEQ (1001) so the app can pull what it missed with PULL_MSG_BY_SEQ (1002).
// A 2002 kick, or a token the server refuses, ends it for good: the user must sign in again.
import { ApiError, WsClient, ws as W } from "../../tsclient/src/index.ts";
import type { Session } from "./login.ts";
import { wsURL } from "./api.ts";

export type ConnState = "connecting" | "online" | "offline" | "signedOut";

export interface ConnEvents {
  /** Every 2001 push. */
  push(m: W.MsgData): void;
  /** A (re)connect: the newest seq of each conversation, to fill gaps. */
  synced(maxSeqs: Record<string, number>): void;
  /** The state changed; detail says why (for signedOut, what the user should know). */
  state(s: ConnState, detail: string): void;
}

export class Connection {
  client: WsClient | undefined;
  state: ConnState = "connecting";
  private stopped = false;
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onOnline = () => this.kick();
  private readonly onOffline = () => {
    // The browser knows the network is gone: drop the socket now rather than wait for the idle timeout.
    this.set("offline", "no network");
    void this.client?.close(1000, "offline");
  };

  constructor(
    private readonly session: Session,
    private readonly ev: ConnEvents,
  ) {
    addEventListener("online", this.onOnline);
    addEventListener("offline", this.onOffline);
    void this.run();
  }

  private set(s: ConnState, detail = ""): void {
    if (this.state === "signedOut") return;
    this.state = s;
    this.ev.state(s, detail);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!navigator.onLine) {
        this.set("offline", "no network");
        await this.wait(60000);
        continue;
      }
      this.set("connecting");
      let c: WsClient;
      try {
        c = await WsClient.connect({ url: wsURL(), token: this.session.token, userID: this.session.userID, platformID: this.session.platformID });
      } catch (e) {
        if (e instanceof ApiError && e.errCode !== 0) {
          // 1002: the token was revoked (a newer login, a forbid) or expired.
          this.stop(`the server refused this sign-in: ${e.errMsg}`);
          return;
        }
        this.set("offline", "server unreachable, retrying");
        await this.wait(this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 5000);
        continue;
      }
      if (this.stopped) {
        void c.close();
        return;
      }
      this.client = c;
      let kicked: string | undefined;
      c.onKick((reason) => (kicked = reason));
      c.onPush((p) => this.ev.push(p.data as W.MsgData));
      try {
        const seqs = await c.newestSeq();
        this.retryMs = 500;
        this.set("online");
        this.ev.synced(seqs.maxSeqs ?? {});
      } catch {
        // closed during the sync: handled below
      }
      const info = await c.closed;
      this.client = undefined;
      const final: number[] = [W.CloseCode.CloseKicked, W.CloseCode.CloseForbidden, W.CloseCode.CloseAuthFailed];
      if (kicked !== undefined || final.includes(info.code)) {
        this.stop(kicked || info.reason || "signed in elsewhere");
        return;
      }
      if (!this.stopped) this.set("offline", "connection lost, reconnecting");
      await this.wait(this.retryMs);
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((r) => {
      this.timer = setTimeout(r, ms);
      this.wake = r;
    });
  }
  private wake: (() => void) | undefined;

  /** Try again now (the network came back). */
  kick(): void {
    this.retryMs = 500;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  /** Ends the connection for good, with a reason for the user. */
  stop(reason: string): void {
    this.set("signedOut", reason);
    this.stopped = true;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    this.kick();
    void this.client?.close();
  }
}
