// Stands in for the `ws` package in the browser build: browsers have a global WebSocket, so it is never used.
export const WebSocket = undefined;
export default undefined;
