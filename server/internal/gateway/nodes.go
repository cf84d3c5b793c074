package gateway

// ReasonReplaced is the reason a connection on another node is closed with when a newer login on the same
// platform registered here (the server publishes the kick on its bus).
const ReasonReplaced = reasonReplaced
