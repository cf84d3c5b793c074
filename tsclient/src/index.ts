// The TypeScript client of imserver: REST (typed by gen/openapi.ts) and the WebSocket gateway (typed by gen/ws.ts).
export * from "./rest.js";
export * from "./ws.js";
export * as ws from "../gen/ws.js";
export { ErrCode } from "../gen/errcode.js";
export type { paths, components, operations } from "../gen/openapi.js";
