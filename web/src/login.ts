// Getting a token: the one step a real deployment replaces. The apps only need {userID, token, platformID};
// here they come from the server's development login (POST /dev/login, mounted only while the server runs
// with its development secret), which registers the user and asks /auth/user_token on the server side, so
// the shared secret never reaches the browser. An operator's own login service can hand the same three
// values to saveSession instead, or a user can paste a token (the "token" sign-in of the app).
import { ApiError } from "../../tsclient/src/index.ts";

/** A signed-in user of this tab. */
export interface Session {
  userID: string;
  token: string;
  platformID: number;
}

/** PlatformID 5 (Web) for the chat app, 10 (Admin) for the console. */
export const PlatformWeb = 5;
export const PlatformAdmin = 10;

/** Asks the development login for a token; signUp registers the user first. */
export async function devLogin(userID: string, nickname: string, signUp: boolean, platformID: number): Promise<Session> {
  const res = await fetch("/dev/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ userID, nickname, platformID, signUp }),
  });
  if (res.status === 404 || res.status === 405) {
    throw new Error("this server has no development login (it runs with its own secret): sign in with a token from your login service");
  }
  const text = await res.text();
  let env: { errCode?: number; errMsg?: string; data?: { token?: string } };
  try {
    env = JSON.parse(text);
  } catch {
    throw new Error(text.trim() || `HTTP ${res.status}`);
  }
  if (env.errCode !== 0 || !env.data?.token) throw new ApiError(env.errCode ?? 0, env.errMsg ?? "no token");
  return { userID, token: env.data.token, platformID };
}

// The session lives in sessionStorage: it survives a reload of the tab, and two tabs can be two users.
export function saveSession(key: string, s: Session | undefined): void {
  if (s) sessionStorage.setItem(key, JSON.stringify(s));
  else sessionStorage.removeItem(key);
}

export function loadSession(key: string): Session | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(key) ?? "null") as Session | null;
    return s && s.userID && s.token ? s : undefined;
  } catch {
    return undefined;
  }
}
