// The chat app: sign-in, conversation list, chat pane, friends and groups.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ws as W } from "../../../tsclient/src/index.ts";
import { errText } from "../api.ts";
import { PlatformWeb, devLogin, loadSession, saveSession, type Session } from "../login.ts";
import { ChatStore, singleID, type Conv, type Msg } from "./store.ts";
import "../style.css";

const KEY = "imserver.chat.session";

function useStore(s: ChatStore): void {
  const [, set] = useState(0);
  useEffect(() => s.subscribe(() => set((n) => n + 1)), [s]);
}

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession(KEY));
  const [store, setStore] = useState<ChatStore | undefined>();
  useEffect(() => {
    if (!session) return;
    const s = new ChatStore(session);
    setStore(s);
    return () => s.conn.stop("signed out");
  }, [session]);
  const signIn = (s: Session | undefined) => {
    saveSession(KEY, s);
    setStore(undefined);
    setSession(s);
  };
  if (!session) return <SignIn onDone={signIn} />;
  if (!store) return null;
  return <Chat store={store} signOut={() => signIn(undefined)} />;
}

function SignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [userID, setUserID] = useState("");
  const [nickname, setNickname] = useState("");
  const [token, setToken] = useState("");
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  const go = async (signUp: boolean) => {
    setBusy(true);
    setErr("");
    try {
      onDone(token ? { userID, token, platformID: PlatformWeb } : await devLogin(userID.trim(), nickname.trim(), signUp, PlatformWeb));
    } catch (e) {
      setErr(errText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>imserver chat</h1>
      <form onSubmit={(e) => (e.preventDefault(), void go(false))}>
        <label>
          User ID
          <input name="userID" value={userID} onInput={(e) => setUserID(e.currentTarget.value)} autoComplete="username" required pattern="[A-Za-z0-9][A-Za-z0-9.@+\-]{0,63}" />
        </label>
        <label>
          Nickname (sign-up)
          <input name="nickname" value={nickname} onInput={(e) => setNickname(e.currentTarget.value)} />
        </label>
        <details>
          <summary>Sign in with a token from your login service</summary>
          <label>
            Token
            <input name="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </label>
        </details>
        <div class="row">
          <button type="submit" disabled={busy}>Sign in</button>
          <button type="button" disabled={busy || !!token} onClick={() => void go(true)}>Sign up</button>
        </div>
        {err && <p role="alert" class="error">{err}</p>}
        <p class="hint">Development sign-in: the server adds its secret; nothing secret reaches this page.</p>
      </form>
    </main>
  );
}

const stateText: Record<string, string> = { connecting: "Connecting…", online: "Connected", offline: "Offline — reconnecting", signedOut: "Signed out" };

function Chat({ store, signOut }: { store: ChatStore; signOut: () => void }) {
  useStore(store);
  const [tab, setTab] = useState<"chats" | "friends" | "groups">("chats");
  const open = store.openID ? store.conv(store.openID) : undefined;
  return (
    <div class={"app" + (open ? " has-open" : "")}>
      <header>
        <strong>{store.name(store.me)}</strong>
        <span class={"conn " + store.state} role="status" aria-live="polite" data-testid="conn-state" title={store.stateDetail}>
          {stateText[store.state]}
        </span>
        <button class="link" onClick={() => (store.conn.stop("signed out"), signOut())}>Sign out</button>
      </header>
      {store.notice && (
        <p class="notice" role="status" onClick={() => store.say("")}>
          {store.notice}
        </p>
      )}
      {store.state === "signedOut" && (
        <div class="overlay" role="alertdialog" aria-labelledby="so-title">
          <div>
            <h2 id="so-title">You are signed out</h2>
            <p data-testid="signed-out-reason">{store.stateDetail}</p>
            <button onClick={signOut}>Sign in again</button>
          </div>
        </div>
      )}
      <nav class="side">
        <div class="tabs" role="tablist">
          {(["chats", "friends", "groups"] as const).map((t) => (
            <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
              {t[0].toUpperCase() + t.slice(1)}
              {t === "friends" && pendingRequests(store).length > 0 && <span class="badge">{pendingRequests(store).length}</span>}
            </button>
          ))}
        </div>
        {tab === "chats" && <ConvList store={store} />}
        {tab === "friends" && <Friends store={store} openChat={(id) => (setTab("chats"), void store.open(id))} />}
        {tab === "groups" && <Groups store={store} openChat={(id) => (setTab("chats"), void store.open(id))} />}
      </nav>
      <section class="pane">{open ? <ChatPane store={store} c={open} /> : <p class="empty">Pick a conversation, or add a friend.</p>}</section>
    </div>
  );
}

function pendingRequests(s: ChatStore) {
  return s.requests.filter((r) => r.handleResult === 0 && r.toUserID === s.me);
}

function ConvList({ store }: { store: ChatStore }) {
  const convs = [...store.convs.values()].sort((a, b) => (b.last?.sendTime ?? b.last?.createTime ?? 0) - (a.last?.sendTime ?? a.last?.createTime ?? 0));
  if (!convs.length) return <p class="empty">No conversations yet.</p>;
  return (
    <ul class="convs" aria-label="Conversations">
      {convs.map((c) => (
        <li key={c.id}>
          <button class={"conv" + (store.openID === c.id ? " active" : "")} onClick={() => void store.open(c.id)} data-conv={c.id}>
            <span class="name">{c.kind === "group" ? "# " : ""}{c.name}</span>
            {c.unread > 0 && <span class="badge" aria-label={`${c.unread} unread`}>{c.unread}</span>}
            <span class="last">{c.last ? (c.kind === "group" && c.last.msgFrom === W.MsgFrom.MsgFromUser ? store.name(c.last.sendID ?? "") + ": " : "") + store.text(c.last) : ""}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function ChatPane({ store, c }: { store: ChatStore; c: Conv }) {
  const [text, setText] = useState("");
  const list = useRef<HTMLOListElement>(null);
  const atBottom = useRef(true);
  const count = c.msgs.length;
  useEffect(() => {
    const el = list.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [count, c.id]);
  const g = c.kind === "group" ? store.group(c.target) : undefined;
  const muted = g?.status === 3;
  const send = () => {
    const t = text;
    if (!t.trim()) return;
    setText("");
    atBottom.current = true;
    void store.send(c, t);
  };
  const onKey = (e: KeyboardEvent) => {
    // Enter sends, Shift+Enter is a newline; never while an IME is composing (Chinese input).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };
  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop === 0 && !c.isEnd) {
      const h = el.scrollHeight;
      void store.loadOlder(c).then(() => (el.scrollTop = el.scrollHeight - h));
    }
  };
  const lastMine = [...c.msgs].reverse().find((m) => m.sendID === store.me && m.seq && m.contentType === W.ContentType.ContentText);
  return (
    <div class="chat" data-conv={c.id}>
      <div class="chat-head">
        <button class="link back" onClick={() => void store.open(undefined)} aria-label="Back to conversations">←</button>
        <h2>{c.kind === "group" ? "# " : ""}{c.name}</h2>
        {g && <GroupTools store={store} g={g} />}
      </div>
      {muted && <p class="muted-banner" role="status">🔇 This group is muted: only its owner and admins can send.</p>}
      <ol class="msgs" ref={list} onScroll={onScroll} aria-label="Messages" aria-live="polite">
        {!c.isEnd && c.loaded && (
          <li class="older">
            <button class="link" onClick={() => ((atBottom.current = false), void store.loadOlder(c))}>Load older messages</button>
          </li>
        )}
        {c.msgs.map((m) => (
          <Bubble key={m.clientMsgID || m.seq} store={store} c={c} m={m} receipt={m === lastMine} />
        ))}
      </ol>
      <p class="typing" aria-live="polite">{c.typingUntil > Date.now() ? `${store.name(c.typingUser)} is typing…` : " "}</p>
      <form class="composer" onSubmit={(e) => (e.preventDefault(), send())}>
        <textarea
          aria-label="Message"
          placeholder="Message (Enter to send, Shift+Enter for a new line)"
          value={text}
          rows={2}
          onKeyDown={onKey}
          onInput={(e) => {
            setText(e.currentTarget.value);
            store.typing(c);
          }}
        />
        <button type="submit" disabled={!text.trim()}>Send</button>
      </form>
    </div>
  );
}

function Bubble({ store, c, m, receipt }: { store: ChatStore; c: Conv; m: Msg; receipt: boolean }) {
  const mine = m.sendID === store.me;
  if (m.msgFrom === W.MsgFrom.MsgFromSystem || (m.contentType ?? 0) >= 1000) {
    return <li class="system">{store.text(m)}</li>;
  }
  const read = c.kind === "single" && mine && (m.seq ?? 0) > 0 && (m.seq ?? 0) <= c.peerReadSeq;
  return (
    <li class={"msg" + (mine ? " mine" : "")} data-seq={m.seq}>
      {c.kind === "group" && !mine && <span class="from">{store.name(m.sendID ?? "")}</span>}
      <span class="text">{store.text(m)}</span>
      <span class="meta">
        {m.pending ? "Sending…" : m.failed ? <span class="error">Not sent: {m.failed}</span> : ""}
        {receipt && c.kind === "single" && !m.pending && <span class="receipt" data-testid="receipt">{read ? "Read" : "Sent"}</span>}
        {mine && m.seq && m.contentType === W.ContentType.ContentText ? (
          <button class="link" onClick={() => void store.revoke(c, m)} aria-label="Revoke message">
            Revoke
          </button>
        ) : null}
      </span>
    </li>
  );
}

function Friends({ store, openChat }: { store: ChatStore; openChat: (id: string) => void }) {
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const add = async () => {
    const ok = await store.run("add friend", () => store.api.call("/friend/add_friend", { fromUserID: store.me, toUserID: to.trim(), reqMsg: note }));
    if (ok) {
      store.say(`friend request sent to ${to.trim()}`);
      setTo("");
      setNote("");
    }
  };
  const answer = async (from: string, handleResult: 1 | -1) => {
    await store.run("answer", () => store.api.call("/friend/add_friend_response", { fromUserID: from, toUserID: store.me, handleResult }));
    await store.refreshFriends();
  };
  const pending = pendingRequests(store);
  return (
    <div class="panel">
      <form onSubmit={(e) => (e.preventDefault(), void add())} class="stack">
        <label>
          Add a friend (user ID)
          <input name="friendID" value={to} onInput={(e) => setTo(e.currentTarget.value)} required />
        </label>
        <input aria-label="Request note" placeholder="Note (optional)" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        <button type="submit">Send request</button>
      </form>
      {pending.length > 0 && <h3>Requests</h3>}
      <ul class="requests" aria-label="Friend requests">
        {pending.map((r) => (
          <li key={r.fromUserID} data-from={r.fromUserID}>
            <span>
              <strong>{r.fromNickname || r.fromUserID}</strong> {r.reqMsg}
            </span>
            <button onClick={() => void answer(r.fromUserID ?? "", 1)}>Accept</button>
            <button class="secondary" onClick={() => void answer(r.fromUserID ?? "", -1)}>Refuse</button>
          </li>
        ))}
      </ul>
      <h3>Friends</h3>
      <ul class="friends" aria-label="Friends">
        {store.friends.map((f) => (
          <li key={f.friendUser?.userID}>
            <button class="conv" onClick={() => openChat(singleID(store.me, f.friendUser?.userID ?? ""))}>
              {f.friendUser?.nickname || f.friendUser?.userID}
            </button>
          </li>
        ))}
        {!store.friends.length && <li class="empty">No friends yet.</li>}
      </ul>
    </div>
  );
}

function Groups({ store, openChat }: { store: ChatStore; openChat: (id: string) => void }) {
  const [name, setName] = useState("");
  const [members, setMembers] = useState("");
  const [join, setJoin] = useState("");
  const ids = (s: string) => s.split(/[\s,]+/).filter(Boolean);
  const create = async () => {
    const d = await store.run("create group", () =>
      store.api.call("/group/create_group", { groupInfo: { groupName: name.trim(), groupType: 2 }, memberUserIDs: ids(members) }),
    );
    if (d) {
      setName("");
      setMembers("");
      await store.refreshGroups();
      openChat("group_" + d.groupInfo.groupID);
    }
  };
  const doJoin = async () => {
    const ok = await store.run("join group", () => store.api.call("/group/join_group", { groupID: join.trim(), reqMessage: "hello" }));
    if (ok) {
      store.say(`asked to join ${join.trim()}`);
      setJoin("");
      await store.refreshGroups();
    }
  };
  return (
    <div class="panel">
      <form onSubmit={(e) => (e.preventDefault(), void create())} class="stack">
        <label>
          New group name
          <input name="groupName" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          Members (user IDs)
          <input name="members" value={members} onInput={(e) => setMembers(e.currentTarget.value)} />
        </label>
        <button type="submit">Create group</button>
      </form>
      <form onSubmit={(e) => (e.preventDefault(), void doJoin())} class="stack">
        <label>
          Join a group (group ID)
          <input name="joinID" value={join} onInput={(e) => setJoin(e.currentTarget.value)} required />
        </label>
        <button type="submit">Join</button>
      </form>
      <h3>My groups</h3>
      <ul class="friends" aria-label="Groups">
        {store.groups.map((g) => (
          <li key={g.groupID}>
            <button class="conv" onClick={() => openChat("group_" + g.groupID)}>
              # {g.groupName || g.groupID} <small>{g.memberCount} members{g.status === 3 ? " · muted" : ""}</small>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function GroupTools({ store, g }: { store: ChatStore; g: NonNullable<ReturnType<ChatStore["group"]>> }) {
  const [invite, setInvite] = useState("");
  const owner = g.ownerUserID === store.me;
  const gid = g.groupID ?? "";
  return (
    <div class="group-tools">
      <small title={gid}>ID {gid} · {g.memberCount} members</small>
      <form onSubmit={(e) => (e.preventDefault(), void store.run("invite", () => store.api.call("/group/invite_user_to_group", { groupID: gid, invitedUserIDs: invite.split(/[\s,]+/).filter(Boolean) })).then((ok) => ok && (setInvite(""), store.refreshGroups())))}>
        <input aria-label="Invite user IDs" placeholder="Invite user ID" value={invite} onInput={(e) => setInvite(e.currentTarget.value)} required />
        <button type="submit">Invite</button>
      </form>
      {owner && (
        <button class="secondary" onClick={() => void store.run("mute", () => store.api.call(g.status === 3 ? "/group/cancel_mute_group" : "/group/mute_group", { groupID: gid })).then(() => store.refreshGroups())}>
          {g.status === 3 ? "Unmute group" : "Mute group"}
        </button>
      )}
      {!owner && (
        <button class="secondary" onClick={() => void store.run("quit", () => store.api.call("/group/quit_group", { groupID: gid })).then(() => (store.convs.delete("group_" + gid), store.open(undefined), store.refreshGroups()))}>
          Quit group
        </button>
      )}
    </div>
  );
}

render(<App />, document.getElementById("root")!);
