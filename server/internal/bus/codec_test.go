package bus

import (
	"fmt"
	"testing"
)

// A big group's event round-trips through the wire format; a recipient that could not be routed (a newline
// in it) is left out.
func TestCodec(t *testing.T) {
	e := &Event{Kind: KindPush, Conv: "group_g", Seq: 9, Except: "c1", Frame: []byte("{\"a\":\"x\\ny\"}\n\n"), Recipients: []string{"a", "b\nc", "d.e@f"}}
	got, err := decode(encode(e))
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != e.Kind || got.Conv != e.Conv || got.Seq != 9 || got.Except != "c1" || string(got.Frame) != string(e.Frame) ||
		fmt.Sprint(got.Recipients) != "[a d.e@f]" {
		t.Fatalf("decoded %+v", got)
	}
}

// BenchmarkDecodeFanout is what a node pays to read one event of a 999-member group.
func BenchmarkDecodeFanout(b *testing.B) {
	var rs []string
	for i := range 999 {
		rs = append(rs, fmt.Sprintf("user-%08d-abcdef", i))
	}
	data := encode(&Event{Kind: KindPush, Conv: "group_x", Seq: 42, Recipients: rs, Frame: make([]byte, 600)})
	for b.Loop() {
		if _, err := decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
