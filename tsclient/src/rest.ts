// A small typed fetch client for the REST API (/api/v3), typed by the openapi-typescript output gen/openapi.ts.
// Works in Node >= 20 and browsers (global fetch).

import type { components, paths } from "../gen/openapi.js";

/** Every REST path of the spec, e.g. "/auth/user_token" (without the /api/v3 prefix). */
export type Path = keyof paths;
type Post<P extends Path> = paths[P] extends { post: infer O } ? O : never;

/** The JSON request body of the operation at path P. */
export type RequestBody<P extends Path> =
  Post<P> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;

/** The whole reply envelope of the operation at path P: {errCode, errMsg, errDlt, data}. */
export type ResponseEnvelope<P extends Path> =
  Post<P> extends { responses: { 200: { content: { "application/json": infer R } } } } ? R : never;

/** The `data` of a successful reply of the operation at path P. */
export type ResponseData<P extends Path> = NonNullable<ResponseEnvelope<P> extends { data?: infer D } ? D : never>;

/** The schemas of the REST spec (components.schemas), e.g. `Schemas["MsgData"]`. */
export type Schemas = components["schemas"];

/** A reply whose errCode is not 0 (a business error, HTTP 200), or a reply that is not an envelope. */
export class ApiError extends Error {
  /** The envelope's errCode (0 when the reply was not an envelope; see httpStatus). */
  readonly errCode: number;
  readonly errMsg: string;
  readonly errDlt: string;
  /** The HTTP status (200 for business errors). */
  readonly httpStatus: number;
  /** The path called ("" for WebSocket errors). */
  readonly path: string;
  /** The operationID the call was made with. */
  readonly operationID: string;

  constructor(errCode: number, errMsg: string, opts: { errDlt?: string; httpStatus?: number; path?: string; operationID?: string } = {}) {
    super(`${opts.path ? opts.path + ": " : ""}errCode ${errCode}: ${errMsg}${opts.httpStatus && opts.httpStatus !== 200 ? ` [HTTP ${opts.httpStatus}]` : ""}`);
    this.name = "ApiError";
    this.errCode = errCode;
    this.errMsg = errMsg;
    this.errDlt = opts.errDlt ?? "";
    this.httpStatus = opts.httpStatus ?? 0;
    this.path = opts.path ?? "";
    this.operationID = opts.operationID ?? "";
  }
}

/** Options of a RestClient. */
export interface RestOptions {
  /** "http://host:port/api/v3" */
  baseURL: string;
  /** Sent as the `token` header when set. */
  token?: string;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof fetch;
}

/** Options of one call. */
export interface CallOptions {
  /** The operationID header (default: a fresh random one). */
  operationID?: string;
  signal?: AbortSignal;
  /** Extra headers; they override the defaults. */
  headers?: Record<string, string>;
}

/** A fresh random ID with the given prefix, e.g. for operationIDs and clientMsgIDs. */
export function newID(prefix = "op"): string {
  return prefix + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

/** The raw result of a call: HTTP status and the body, parsed when it is JSON. */
export interface RawResult {
  status: number;
  text: string;
  json: unknown;
}

/** A REST client of /api/v3: `call(path, body)` POSTs, unwraps the envelope and returns its typed `data`. */
export class RestClient {
  readonly baseURL: string;
  readonly token?: string;
  private readonly fetchFn: typeof fetch;

  constructor(opts: RestOptions) {
    this.baseURL = opts.baseURL.replace(/\/+$/, "");
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** A copy of this client that sends token. */
  withToken(token: string): RestClient {
    return new RestClient({ baseURL: this.baseURL, token, fetch: this.fetchFn });
  }

  /** POSTs body (a value to JSON-encode, or a string sent as is) to baseURL+path, without interpreting the reply. */
  async raw(path: string, body: unknown, opts: CallOptions = {}): Promise<RawResult> {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      operationID: opts.operationID ?? newID(),
    };
    if (this.token) headers["token"] = this.token;
    Object.assign(headers, opts.headers);
    const res = await this.fetchFn(this.baseURL + path, {
      method: "POST",
      headers,
      body: typeof body === "string" ? body : JSON.stringify(body ?? {}),
      signal: opts.signal,
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: json stays undefined
    }
    return { status: res.status, text, json };
  }

  /**
   * Calls the operation at path with body and returns the envelope's `data`; throws ApiError when errCode is not 0
   * or the reply is not an envelope.
   */
  async call<P extends Path>(path: P, body: RequestBody<P>, opts: CallOptions = {}): Promise<ResponseData<P>> {
    const operationID = opts.operationID ?? newID();
    const r = await this.raw(path, body, { ...opts, operationID });
    const env = r.json as { errCode?: unknown; errMsg?: unknown; errDlt?: unknown; data?: unknown } | undefined;
    if (!env || typeof env !== "object" || typeof env.errCode !== "number") {
      throw new ApiError(0, `not an envelope: ${r.text.slice(0, 200)}`, { httpStatus: r.status, path, operationID });
    }
    if (env.errCode !== 0 || r.status !== 200) {
      throw new ApiError(env.errCode, String(env.errMsg ?? ""), {
        errDlt: String(env.errDlt ?? ""),
        httpStatus: r.status,
        path,
        operationID,
      });
    }
    return (env.data ?? {}) as ResponseData<P>;
  }

  /** Registers users (nickname = userID) with the shared secret. */
  async register(secret: string, userIDs: string[]): Promise<void> {
    await this.call("/auth/user_register", { secret, users: userIDs.map((userID) => ({ userID, nickname: userID })) });
  }

  /** A token of userID on platformID (a new token kicks that platform's older connection). */
  async userToken(secret: string, userID: string, platformID: number): Promise<string> {
    const d = await this.call("/auth/user_token", { secret, userID, platformID: platformID as Schemas["PlatformID"] });
    return d.token;
  }
}

/** One call without keeping a client: `call({baseURL, token}, "/msg/send_msg", {...})`. */
export function call<P extends Path>(opts: RestOptions, path: P, body: RequestBody<P>, callOpts?: CallOptions): Promise<ResponseData<P>> {
  return new RestClient(opts).call(path, body, callOpts);
}
