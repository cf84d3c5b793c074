// The admin console: who is online (per platform, from the server's registry), forbid/unforbid, live charts
// of /metrics, the configuration (secrets masked) and links to the API docs.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { RestClient, Schemas } from "../../../tsclient/src/index.ts";
import { errText, rest } from "../api.ts";
import { PlatformAdmin, devLogin, loadSession, saveSession, type Session } from "../login.ts";
import "../style.css";

const KEY = "imserver.admin.session";
const platformNames: Record<number, string> = { 1: "iOS", 2: "Android", 3: "Windows", 4: "macOS", 5: "Web", 6: "MiniWeb", 7: "Linux", 8: "Android Pad", 9: "iPad", 10: "Admin", 11: "HarmonyOS", 12: "Harmony Pad" };

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession(KEY));
  const set = (s: Session | undefined) => (saveSession(KEY, s), setSession(s));
  if (!session) return <SignIn onDone={set} />;
  return <Console api={rest(session.token)} me={session.userID} signOut={() => set(undefined)} />;
}

function SignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [userID, setUserID] = useState("imAdmin");
  const [token, setToken] = useState("");
  const [err, setErr] = useState("");
  const go = async () => {
    try {
      onDone(token ? { userID, token, platformID: PlatformAdmin } : await devLogin(userID, "", false, PlatformAdmin));
    } catch (e) {
      setErr(errText(e));
    }
  };
  return (
    <main class="signin">
      <h1>imserver admin</h1>
      <form onSubmit={(e) => (e.preventDefault(), void go())}>
        <label>
          Admin user ID
          <input name="userID" value={userID} onInput={(e) => setUserID(e.currentTarget.value)} required />
        </label>
        <details>
          <summary>Sign in with a token</summary>
          <label>
            Token
            <input name="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </label>
        </details>
        <div class="row">
          <button type="submit">Sign in</button>
        </div>
        {err && <p role="alert" class="error">{err}</p>}
      </form>
    </main>
  );
}

type Sample = Map<string, number>;
const POLL_MS = 2000;
const KEEP = 60;

/** Sums each metric over its label sets, from Prometheus' text format. */
function parseMetrics(text: string): Sample {
  const out: Sample = new Map();
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[3]));
  }
  return out;
}

const charts: { title: string; metric: string; rate: boolean; unit?: string }[] = [
  { title: "WebSocket connections", metric: "imserver_gateway_connections", rate: false },
  { title: "Frames sent /s (pushes, replies)", metric: "imserver_gateway_frames_sent_total", rate: true },
  { title: "Frames received /s (sends, pulls)", metric: "imserver_gateway_frames_received_total", rate: true },
  { title: "REST calls /s", metric: "imserver_http_requests_total", rate: true },
  { title: "Goroutines", metric: "go_goroutines", rate: false },
];

function Console({ api, me, signOut }: { api: RestClient; me: string; signOut: () => void }) {
  const [online, setOnline] = useState<Schemas["GetOnlineUsersData"] | undefined>();
  const [config, setConfig] = useState<Schemas["ConfigSetting"][]>([]);
  const [series, setSeries] = useState<number[][]>(charts.map(() => []));
  const [err, setErr] = useState("");
  const [msg, setMsg] = useState("");
  const [target, setTarget] = useState("");
  const [reason, setReason] = useState("");

  const load = async () => {
    try {
      setOnline(await api.call("/manager/get_online_users", { pagination: { pageNumber: 1, showNumber: 200 } }));
      setErr("");
    } catch (e) {
      setErr(errText(e));
    }
  };
  useEffect(() => {
    void load();
    api.call("/manager/get_server_config", {}).then((d) => setConfig(d.settings), (e) => setErr(errText(e)));
    let prev: { t: number; s: Sample } | undefined;
    const tick = async () => {
      try {
        const res = await fetch("/metrics");
        const s = parseMetrics(await res.text());
        const t = performance.now();
        setSeries((old) =>
          charts.map((c, i) => {
            let v = s.get(c.metric) ?? 0;
            if (c.rate) v = prev ? Math.max(0, (v - (prev.s.get(c.metric) ?? 0)) / ((t - prev.t) / 1000)) : 0;
            return [...old[i], v].slice(-KEEP);
          }),
        );
        prev = { t, s };
      } catch {
        // the server is restarting: the next tick tries again
      }
      void load();
    };
    void tick();
    const id = setInterval(tick, POLL_MS);
    return () => clearInterval(id);
  }, [api]);

  const act = async (what: "forbid" | "unforbid", userID: string) => {
    try {
      if (what === "forbid") await api.call("/manager/forbid_user", { userID, reason: reason || "forbidden from the admin console" });
      else await api.call("/manager/unforbid_user", { userID });
      setMsg(`${userID} ${what === "forbid" ? "forbidden: its connections were closed" : "may sign in again"}`);
      await load();
    } catch (e) {
      setMsg(`${what} ${userID}: ${errText(e)}`);
    }
  };

  return (
    <div class="admin">
      <header>
        <strong>imserver admin</strong> <span class="hint">signed in as {me}</span>
        <button class="link" onClick={signOut}>Sign out</button>
      </header>
      {err && <p role="alert" class="error">{err}</p>}
      <section class="card charts" aria-label="Metrics">
        {charts.map((c, i) => (
          <Chart key={c.title} title={c.title} data={series[i]} />
        ))}
      </section>
      <section class="card">
        <h2>
          Online: <span data-testid="online-total">{online?.total ?? "…"}</span> users, {online?.connections ?? "…"} connections
        </h2>
        <p class="hint">{(online?.platforms ?? []).map((p) => `${platformNames[p.platformID] ?? p.platformID}: ${p.connections}`).join(" · ") || "no connections"}</p>
        <table aria-label="Online users">
          <thead>
            <tr>
              <th>User</th>
              <th>Connections</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(online?.users ?? []).map((u) => (
              <tr key={u.userID} data-user={u.userID}>
                <td>{u.userID}</td>
                <td>{u.detailPlatformStatus.map((p) => platformNames[p.platformID ?? 0] ?? p.platformID).join(", ")}</td>
                <td>
                  {u.userID !== me && (
                    <button class="secondary" onClick={() => void act("forbid", u.userID)}>
                      Forbid
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>Forbid or unforbid a user</h2>
        <form onSubmit={(e) => e.preventDefault()}>
          <label>
            User ID
            <input name="target" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </label>
          <label>
            Reason
            <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button onClick={() => void act("forbid", target.trim())}>Forbid</button>
          <button class="secondary" onClick={() => void act("unforbid", target.trim())}>Unforbid</button>
        </form>
        {msg && <p role="status" data-testid="admin-msg">{msg}</p>}
      </section>
      <section class="card">
        <h2>Configuration</h2>
        <table aria-label="Configuration">
          <tbody>
            {config.map((s) => (
              <tr key={s.name}>
                <th>{s.name}</th>
                <td>
                  <code>{s.value}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>API documentation</h2>
        <ul>
          <li><a href="/docs/openapi.html">REST API (/api/v3)</a> · <a href="/api/v3/openapi.yaml">openapi.yaml</a></li>
          <li><a href="/docs/asyncapi.html">WebSocket gateway (/msg_gateway)</a> · <a href="/asyncapi.yaml">asyncapi.yaml</a></li>
          <li><a href="/metrics">/metrics</a> · <a href="/">the chat app</a></li>
        </ul>
      </section>
    </div>
  );
}

function Chart({ title, data }: { title: string; data: number[] }) {
  const max = Math.max(1, ...data);
  // The samples so far fill the width; it holds the last KEEP of them.
  const pts = data.map((v, i) => `${(i / Math.max(1, data.length - 1)) * 100},${58 - (v / max) * 54}`).join(" ");
  const last = data.length ? data[data.length - 1] : 0;
  return (
    <figure class="chart" style="margin:0">
      <figcaption>{title}</figcaption>
      <div class="value">{last >= 100 || Number.isInteger(last) ? Math.round(last) : last.toFixed(1)}</div>
      <svg viewBox="0 0 100 60" preserveAspectRatio="none" role="img" aria-label={`${title}: ${last}`}>
        <polyline points={pts} fill="none" stroke="#2f6fed" stroke-width="1.5" vector-effect="non-scaling-stroke" />
      </svg>
    </figure>
  );
}

render(<App />, document.getElementById("root")!);
