// The chat app's state: conversations and their messages, friends, requests and groups, fed by REST (lists,
// history) and by the connection (pushes, gap-fill). Components re-render on every change.
import { RestClient, decodeTips, isNotification, newID, textOf, ws as W } from "../../../tsclient/src/index.ts";
import type { Schemas } from "../../../tsclient/src/index.ts";
import { Connection, type ConnState } from "../conn.ts";
import { errText, rest } from "../api.ts";
import type { Session } from "../login.ts";

const CT = W.ContentType;
export type Msg = W.MsgData & { pending?: boolean; failed?: string };

export interface Conv {
  id: string;
  kind: "single" | "group";
  /** The other user (single) or the group. */
  target: string;
  name: string;
  msgs: Msg[];
  unread: number;
  maxSeq: number;
  /** Everything up to this seq is read by me. */
  readSeq: number;
  /** Single chats: the other user has read up to this seq. */
  peerReadSeq: number;
  loaded: boolean;
  isEnd: boolean;
  last?: Msg;
  typingUntil: number;
  typingUser: string;
}

/** The conversation a message belongs to (the messaging model's conversation IDs). */
export function convID(me: string, m: W.MsgData): string {
  if (m.sessionType === W.SessionType.SessionSingleChat) return "single_" + [m.sendID, m.recvID].sort().join("_");
  if (m.sessionType === W.SessionType.SessionNotification) return "notification_" + me;
  return "group_" + (m.groupID || m.recvID);
}

export function singleID(a: string, b: string): string {
  return "single_" + [a, b].sort().join("_");
}

/** A line of text describing a notification message. */
export function describe(m: W.MsgData): string {
  try {
    const t = decodeTips(m) as unknown as Record<string, any>;
    const u = (x: any) => x?.nickname || x?.userID || "someone";
    const users = (xs: any[] | undefined) => (xs ?? []).map(u).join(", ");
    switch (m.contentType) {
      case CT.GroupCreated: return `${u(t.opUser)} created the group ${t.group?.groupName ?? ""}`;
      case CT.MemberInvited: return `${u(t.opUser)} invited ${users(t.invitedUserList)}`;
      case CT.MemberEnter: return `${u(t.entrantUser)} joined`;
      case CT.MemberQuit: return `${u(t.quitUser)} left the group`;
      case CT.MemberKicked: return `${u(t.opUser)} removed ${users(t.kickedUserList)}`;
      case CT.GroupMuted: return `${u(t.opUser)} muted the group`;
      case CT.GroupCancelMuted: return `${u(t.opUser)} unmuted the group`;
      case CT.GroupMemberMuted: return `${u(t.opUser)} muted ${u(t.mutedUser)}`;
      case CT.GroupMemberCancelMuted: return `${u(t.opUser)} unmuted ${u(t.mutedUser)}`;
      case CT.GroupInfoSet: return `${u(t.opUser)} changed the group's info`;
      case CT.GroupDismissed: return `${u(t.opUser)} dismissed the group`;
      case CT.GroupOwnerTransferred: return `${u(t.newGroupOwner)} is the new owner`;
      case CT.JoinGroupApplication: return `${u(t.applicant)} asks to join`;
      case CT.RevokeNotification: return "a message was revoked";
    }
  } catch {
    // not decodable: generic text below
  }
  return `notification ${m.contentType}`;
}

type Listener = () => void;

export class ChatStore {
  readonly me: string;
  readonly api: RestClient;
  readonly conn: Connection;
  convs = new Map<string, Conv>();
  openID: string | undefined;
  friends: Schemas["FriendInfo"][] = [];
  requests: Schemas["FriendRequest"][] = [];
  groups: Schemas["GroupInfo"][] = [];
  names = new Map<string, string>();
  state: ConnState = "connecting";
  stateDetail = "";
  notice = "";
  private listeners = new Set<Listener>();
  private lastTypingSent = 0;

  constructor(readonly session: Session) {
    this.me = session.userID;
    this.api = rest(session.token);
    this.conn = new Connection(session, {
      push: (m) => this.ingest(m, true),
      synced: (seqs) => void this.fill(seqs),
      state: (s, d) => {
        this.state = s;
        this.stateDetail = d;
        this.emit();
      },
    });
    void this.refreshAll();
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(): void {
    for (const l of this.listeners) l();
  }
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  say(text: string): void {
    this.notice = text;
    clearTimeout(this.noticeTimer);
    if (text) this.noticeTimer = setTimeout(() => this.say(""), 8000);
    this.emit();
  }

  /** Runs a REST call, showing its error to the user. */
  async run<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (e) {
      this.say(`${what}: ${errText(e)}`);
      return undefined;
    }
  }

  name(userID: string): string {
    return this.names.get(userID) || userID;
  }

  async refreshAll(): Promise<void> {
    await Promise.all([this.refreshConvs(), this.refreshFriends(), this.refreshGroups()]);
  }

  async refreshConvs(): Promise<void> {
    const d = await this.run("conversations", () => this.api.call("/conversation/get_all_conversations", { ownerUserID: this.me }));
    if (!d) return;
    for (const c of d.conversations) {
      if (!c.conversationID || c.conversationID.startsWith("notification_")) continue;
      const conv = this.conv(c.conversationID);
      conv.maxSeq = Math.max(conv.maxSeq, c.maxSeq ?? 0);
      conv.readSeq = Math.max(conv.readSeq, c.hasReadSeq ?? 0);
      if (this.openID !== conv.id) conv.unread = c.unreadCount ?? 0;
      if (c.latestMsg && (!conv.last || (c.latestMsg.seq ?? 0) >= (conv.last.seq ?? 0))) conv.last = c.latestMsg;
    }
    await this.resolveNames();
    this.emit();
  }

  async refreshFriends(): Promise<void> {
    const page = { pageNumber: 1, showNumber: 1000 };
    const [f, r] = await Promise.all([
      this.run("friends", () => this.api.call("/friend/get_friend_list", { userID: this.me, pagination: page })),
      this.run("friend requests", () => this.api.call("/friend/get_friend_apply_list", { userID: this.me, pagination: page })),
    ]);
    if (f) this.friends = f.friendsInfo;
    if (r) this.requests = r.FriendRequests;
    for (const x of this.friends) if (x.friendUser) this.names.set(x.friendUser.userID, x.friendUser.nickname || x.friendUser.userID);
    for (const x of this.requests) this.names.set(x.fromUserID ?? "", x.fromNickname || x.fromUserID || "");
    this.emit();
  }

  async refreshGroups(): Promise<void> {
    const d = await this.run("groups", () => this.api.call("/group/get_joined_group_list", { fromUserID: this.me, pagination: { pageNumber: 1, showNumber: 1000 } }));
    if (!d) return;
    this.groups = d.groups;
    for (const g of this.groups) {
      const c = this.conv("group_" + g.groupID);
      c.name = g.groupName || g.groupID || "";
    }
    this.emit();
  }

  group(groupID: string): Schemas["GroupInfo"] | undefined {
    return this.groups.find((g) => g.groupID === groupID);
  }

  private async resolveNames(): Promise<void> {
    const missing = [...this.convs.values()].filter((c) => c.kind === "single" && !this.names.has(c.target)).map((c) => c.target);
    if (missing.length) {
      const d = await this.run("users", () => this.api.call("/user/get_users_info", { userIDs: missing }));
      for (const u of d?.usersInfo ?? []) this.names.set(u.userID, u.nickname || u.userID);
    }
    for (const c of this.convs.values()) if (c.kind === "single") c.name = this.name(c.target);
  }

  conv(id: string): Conv {
    let c = this.convs.get(id);
    if (!c) {
      const single = id.startsWith("single_");
      let target = id.slice(id.indexOf("_") + 1);
      if (single) {
        // single_<a>_<b>: user IDs contain no "_", so the other user is the part that is not me.
        const [a, b] = target.split("_");
        target = a === this.me ? b : a;
      }
      c = { id, kind: single ? "single" : "group", target, name: single ? this.name(target) : target, msgs: [], unread: 0, maxSeq: 0, readSeq: 0, peerReadSeq: 0, loaded: false, isEnd: false, typingUntil: 0, typingUser: "" };
      this.convs.set(id, c);
    }
    return c;
  }

  /** Takes a pushed or pulled message into its conversation. */
  ingest(m: Msg, live: boolean): void {
    const id = convID(this.me, m);
    if (m.contentType === CT.ContentTyping) {
      if (m.sendID === this.me) return;
      const c = this.conv(id);
      c.typingUntil = Date.now() + 4000;
      c.typingUser = m.sendID ?? "";
      this.emit();
      setTimeout(() => this.emit(), 4100);
      return;
    }
    if (id.startsWith("notification_")) {
      // Friend and user notifications: refresh the lists they change.
      if (live) {
        if (m.contentType === CT.FriendApplication) this.say(`new friend request from ${this.tipUser(m, "fromToUserID", "fromUserID")}`);
        if (m.contentType === CT.FriendApplicationApproved) this.say("a friend request was accepted");
        if (m.contentType === CT.FriendApplicationRejected) this.say("a friend request was refused");
        void this.refreshFriends();
      }
      return;
    }
    const c = this.conv(id);
    if (m.seq) c.maxSeq = Math.max(c.maxSeq, m.seq);
    if (m.contentType === CT.HasReadReceipt) {
      const t = decodeTips(m, CT.HasReadReceipt);
      if (t.markAsReadUserID === this.me) {
        c.readSeq = Math.max(c.readSeq, t.hasReadSeq);
        c.unread = 0;
      } else if (c.kind === "single") {
        c.peerReadSeq = Math.max(c.peerReadSeq, t.hasReadSeq);
      }
      this.emit();
      return;
    }
    if (m.contentType === CT.RevokeNotification) {
      const t = decodeTips(m, CT.RevokeNotification);
      const target = c.msgs.find((x) => x.seq === t.seq);
      if (target) Object.assign(target, { contentType: m.contentType, content: m.content });
      if (c.last?.seq === t.seq) c.last = { ...c.last, contentType: m.contentType, content: m.content };
      if (t.seq !== m.seq) {
        this.emit();
        return; // the notice itself: the revoked message now shows it
      }
    }
    if (c.kind === "group" && isNotification(m.contentType) && live) void this.refreshGroups();
    if (!this.insert(c, m)) return;
    if (!c.last || (m.seq ?? 0) >= (c.last.seq ?? 0)) c.last = m;
    const fromOther = m.sendID !== this.me && !isNotification(m.contentType);
    if (fromOther && live && c.typingUser === m.sendID) c.typingUntil = 0;
    if (fromOther && (m.seq ?? 0) > c.readSeq) {
      if (this.openID === c.id && document.visibilityState === "visible") this.scheduleRead(c);
      else if (live) c.unread++;
    }
    if (c.kind === "single" && !this.names.has(c.target)) void this.resolveNames().then(() => this.emit());
    this.emit();
  }

  private tipUser(m: W.MsgData, key: string, field: string): string {
    try {
      const t = decodeTips(m) as unknown as Record<string, Record<string, string>>;
      const id = t[key]?.[field] ?? "";
      return this.name(id);
    } catch {
      return "someone";
    }
  }

  /** Adds m to c in seq order; false when it is there already. */
  private insert(c: Conv, m: Msg): boolean {
    const i = c.msgs.findIndex((x) => (m.seq && x.seq === m.seq) || (m.clientMsgID && x.clientMsgID === m.clientMsgID && x.sendID === m.sendID));
    if (i >= 0) {
      c.msgs[i] = { ...c.msgs[i], ...m, pending: false };
      return false;
    }
    if (!c.loaded && c.msgs.length === 0 && this.openID !== c.id) return true; // loaded from history when opened
    c.msgs.push(m);
    c.msgs.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
    return true;
  }

  /** Gap-fill after a (re)connect: pull every seq above what each loaded conversation holds. */
  async fill(maxSeqs: Record<string, number>): Promise<void> {
    const ranges: W.SeqRange[] = [];
    let unknown = false;
    for (const [id, max] of Object.entries(maxSeqs)) {
      if (id.startsWith("notification_")) continue;
      const c = this.convs.get(id);
      if (!c) {
        unknown = true;
        continue;
      }
      const have = c.loaded ? Math.max(0, ...c.msgs.map((m) => m.seq ?? 0)) : c.maxSeq;
      if (max > have) {
        if (c.loaded) ranges.push({ conversationID: id, begin: have + 1, end: max, num: Math.min(max - have, 100) });
        else unknown = true;
      }
    }
    await Promise.all([this.refreshFriends(), this.refreshGroups()]);
    if (unknown) await this.refreshConvs();
    if (!ranges.length || !this.conn.client) return;
    try {
      const r = await this.conn.client.pullBySeq(ranges);
      for (const p of Object.values(r.msgs ?? {})) for (const m of p.Msgs ?? []) this.ingest(m, true);
    } catch (e) {
      this.say(`catching up: ${errText(e)}`);
    }
  }

  async open(id: string | undefined): Promise<void> {
    this.openID = id;
    this.emit();
    if (!id) return;
    const c = this.conv(id);
    if (!c.loaded) await this.loadOlder(c);
    await this.markRead(c);
  }

  /** History scroll-back: the next page older than what is loaded. */
  async loadOlder(c: Conv): Promise<void> {
    const oldest = c.loaded ? c.msgs.find((m) => !m.pending) : undefined;
    const d = await this.run("history", () =>
      this.api.call("/msg/get_conversation_msg", { conversationID: c.id, count: 30, startClientMsgID: oldest?.clientMsgID ?? "" }),
    );
    if (!d) return;
    const fresh = !c.loaded;
    c.loaded = true;
    c.isEnd = d.isEnd;
    for (const m of d.messages) {
      if (m.seq) c.maxSeq = Math.max(c.maxSeq, m.seq);
      if (m.contentType === CT.HasReadReceipt) {
        const t = decodeTips(m, CT.HasReadReceipt);
        if (t.markAsReadUserID !== this.me && c.kind === "single") c.peerReadSeq = Math.max(c.peerReadSeq, t.hasReadSeq);
        continue;
      }
      if (m.contentType === CT.RevokeNotification) {
        const t = decodeTips(m, CT.RevokeNotification);
        if (t.seq !== m.seq) continue;
      }
      if (m.sendID === this.me && m.isRead) c.peerReadSeq = Math.max(c.peerReadSeq, m.seq ?? 0);
      if (!c.msgs.some((x) => x.seq === m.seq)) c.msgs.push(m);
    }
    c.msgs.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
    if (fresh && c.msgs.length) c.last = c.msgs[c.msgs.length - 1];
    this.emit();
  }

  // A burst of messages into the open conversation is marked read once (each mark is a stored 2200).
  private readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private scheduleRead(c: Conv): void {
    if (this.readTimers.has(c.id)) return;
    this.readTimers.set(
      c.id,
      setTimeout(() => {
        this.readTimers.delete(c.id);
        void this.markRead(c);
      }, 300),
    );
  }

  async markRead(c: Conv): Promise<void> {
    const seqs = c.msgs.filter((m) => (m.seq ?? 0) > c.readSeq && m.sendID !== this.me).map((m) => m.seq ?? 0);
    c.unread = 0;
    this.emit();
    if (!seqs.length) return;
    c.readSeq = Math.max(c.readSeq, ...seqs);
    await this.run("mark as read", () => this.api.call("/msg/mark_msgs_as_read", { conversationID: c.id, seqs: seqs.slice(-100), userID: this.me }));
  }

  private base(c: Conv): W.MsgData {
    const group = c.kind === "group";
    return {
      sendID: this.me,
      recvID: group ? "" : c.target,
      groupID: group ? c.target : "",
      clientMsgID: newID("c"),
      sessionType: group ? W.SessionType.SessionGroupChat : W.SessionType.SessionSingleChat,
      contentType: CT.ContentText,
      msgFrom: W.MsgFrom.MsgFromUser,
      content: "",
      createTime: Date.now(),
    };
  }

  async send(c: Conv, text: string): Promise<void> {
    const m: Msg = { ...this.base(c), content: JSON.stringify({ content: text } satisfies W.TextElem), pending: true, senderNickname: this.me };
    c.msgs.push(m);
    c.last = m;
    this.lastTypingSent = 0;
    this.emit();
    const client = this.conn.client;
    try {
      if (!client) throw new Error("not connected; the message was not sent");
      const r = await client.sendMsg(m);
      Object.assign(m, { seq: r.seq, serverMsgID: r.serverMsgID, sendTime: r.sendTime, pending: false });
      c.maxSeq = Math.max(c.maxSeq, r.seq);
      c.readSeq = Math.max(c.readSeq, r.seq);
      // A push of this message may have arrived first: keep one copy.
      c.msgs = c.msgs.filter((x) => x === m || x.seq !== r.seq);
    } catch (e) {
      m.pending = false;
      m.failed = errText(e);
    }
    c.msgs.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
    this.emit();
  }

  /** Tells the other side "typing" (113, online only), at most every 2 s. */
  typing(c: Conv): void {
    const client = this.conn.client;
    if (!client || Date.now() - this.lastTypingSent < 2000) return;
    this.lastTypingSent = Date.now();
    const m = { ...this.base(c), contentType: CT.ContentTyping, content: JSON.stringify({ msgTips: "yes" } satisfies W.TypingElem) };
    client.sendMsg(m).catch(() => undefined);
  }

  async revoke(c: Conv, m: Msg): Promise<void> {
    await this.run("revoke", () => this.api.call("/msg/revoke_msg", { conversationID: c.id, seq: m.seq ?? 0, userID: this.me }));
  }

  text(m: W.MsgData): string {
    if (m.contentType === CT.ContentText) return textOf(m);
    if (m.contentType === CT.RevokeNotification) return m.sendID === this.me ? "You revoked a message" : `${this.name(m.sendID ?? "")} revoked a message`;
    if (isNotification(m.contentType)) return describe(m);
    return `[contentType ${m.contentType}]`;
  }
}
