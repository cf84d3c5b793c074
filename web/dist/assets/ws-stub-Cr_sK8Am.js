const o=void 0,t=void 0;export{o as WebSocket,t as default};
