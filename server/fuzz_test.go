package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imspec/imserver/server/internal/testenv"
)

var fuzzPaths = []string{
	"/auth/user_register", "/auth/user_token", "/user/get_users_info", "/user/update_user_info",
	"/friend/add_friend", "/friend/get_friend_list", "/group/create_group", "/group/kick_group",
	"/msg/send_msg", "/msg/get_conversation_msg", "/msg/revoke_msg", "/msg/mark_msgs_as_read",
	"/conversation/set_conversations", "/manager/forbid_user",
}

// FuzzREST sends arbitrary bodies to the API: every answer must be an envelope, never a server fault.
func FuzzREST(f *testing.F) {
	e := testenv.Start(f, testenv.NoRateLimits)
	u, tok := e.User("fz")
	for i, seed := range []string{
		`{}`, `[]`, `null`, `{"userIDs":[""]}`, `{"sendID":"` + u + `","recvID":"` + u + `","content":{},"contentType":101,"sessionType":1}`,
		`{"users":[{"userID":"` + strings.Repeat("x", 300) + `"}],"secret":"` + testenv.Secret + `"}`, `{"count":-1,"conversationID":"single_` + u + `"}`,
		`{"pagination":{"pageNumber":0,"showNumber":100000}}`, "\x00\xff", `{"seqs":[9223372036854775807],"conversationID":"x","userID":"` + u + `"}`,
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		req, _ := http.NewRequest("POST", e.URL+"/api/v3"+path, strings.NewReader(body))
		req.Header.Set("token", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var env struct {
			ErrCode *int   `json:"errCode"`
			ErrMsg  string `json:"errMsg"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.ErrCode == nil {
			t.Fatalf("%s %q: not an envelope: %d %s", path, body, res.StatusCode, raw)
		}
		if *env.ErrCode == 500 || res.StatusCode >= 500 {
			t.Fatalf("%s %q: server fault: %s", path, body, raw)
		}
	})
}

// FuzzGatewayFrame writes arbitrary frames on a live connection: the server answers or closes, never faults,
// and the connection's user keeps being served.
func FuzzGatewayFrame(f *testing.F) {
	e := testenv.Start(f, testenv.NoRateLimits)
	u, tok := e.User("fz")
	for _, seed := range []string{
		`{"type":"ping"}`, `{"reqIdentifier":1001,"sendID":"` + u + `","msgIncr":"1","operationID":"o","data":{}}`,
		`{"reqIdentifier":1002,"sendID":"` + u + `","msgIncr":"1","operationID":"o","data":{"seqRanges":[{"conversationID":"notification_` + u + `","begin":-5,"end":9223372036854775807,"num":-1}]}}`,
		`{"reqIdentifier":1003,"sendID":"` + u + `","msgIncr":"1","operationID":"o","data":{"sessionType":3,"groupID":"g","contentType":101,"content":{}}}`,
		`{"reqIdentifier":9999}`, `not json`, `{"reqIdentifier":"1001"}`, `{"reqIdentifier":1003,"data":"x"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frame string) {
		ws := e.With(t).Dial(u, tok, 1)
		defer ws.Conn.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ws.Conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			return // closed already: allowed
		}
		// Whatever it did with that frame, the connection is closed or still answers a valid request, and
		// nothing it sent was a server fault.
		b, _ := json.Marshal(map[string]any{"reqIdentifier": 1001, "sendID": u, "operationID": "probe", "msgIncr": "probe", "data": map[string]any{}})
		if err := ws.Conn.Write(ctx, websocket.MessageText, b); err != nil {
			return
		}
		for {
			f, ok := ws.Next(30*time.Second, func(testenv.Frame) bool { return true })
			if !ok {
				select {
				case <-ws.Closed:
					return
				default:
					t.Fatalf("frame %q: connection neither answered nor closed", frame)
				}
			}
			if f.ErrCode == 500 {
				t.Fatalf("frame %q: server fault %+v", frame, f)
			}
			if f.MsgIncr == "probe" {
				return
			}
		}
	})
}
