// The generated client, pointed at the server that served this page.
import { RestClient } from "../../tsclient/src/index.ts";

export const rest = (token?: string) => new RestClient({ baseURL: location.origin + "/api/v3", token });
export const wsURL = () => location.origin.replace(/^http/, "ws") + "/msg_gateway";

/** A message for a person: the errMsg of an API error, else the error's text. */
export function errText(e: unknown): string {
  if (e && typeof e === "object" && "errMsg" in e && (e as { errMsg: string }).errMsg) {
    const a = e as { errCode: number; errMsg: string };
    return `${a.errMsg} (errCode ${a.errCode})`;
  }
  return e instanceof Error ? e.message : String(e);
}
