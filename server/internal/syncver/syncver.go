// Package syncver answers the OpenIM SDK's incremental-sync questions ("what changed in this list since my
// version?") without version logs: each answer's state is remembered as a snapshot of (ID, digest) pairs, and
// a client that sends a remembered version back gets the difference between that snapshot and today's list.
// Nothing hooks the writes, so no change can be missed; the cost is one snapshot row per state a client was
// told of, and only the Keep most recently served states of a list are remembered (an older version gets
// Full, never a wrong difference). docs/decisions.md#d45-sdk-incremental-sync.
package syncver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imspec/imserver/gen/db"
)

// Kinds of synced list; the owner key of GroupMembers is the groupID, of the others the userID.
const (
	Friends       = "friends"
	JoinedGroups  = "joined_groups"
	GroupMembers  = "group_members"
	Conversations = "conversations"
)

// Keep is how many of a list's most recently served states are remembered.
const Keep = 8

// Item is one element of a list: its ID and a digest of everything a client is shown of it.
type Item struct {
	ID     string
	Digest string
}

// Of returns the Item of v: id and the FNV-64a of v's JSON, so any field a client sees changes the digest.
func Of(id string, v any) Item {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the generated API types always marshal
	}
	h := fnv.New64a()
	h.Write(b)
	return Item{ID: id, Digest: strconv.FormatUint(h.Sum64(), 36)}
}

// Diff is the answer to a sync request.
type Diff struct {
	Version   int64
	VersionID string
	// Full: the client's version is unknown; Insert, Update and Delete are empty and the client rebuilds.
	Full                   bool
	Insert, Update, Delete []string
}

// Sync records today's items of list (kind, key) as a state (once per distinct state) and returns its version,
// with the difference from the client's (version, versionID) when that state is remembered.
func Sync(ctx context.Context, q *db.Queries, kind, key string, version int64, versionID string, items []Item) (Diff, error) {
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.ID, b.ID) })
	items = slices.CompactFunc(items, func(a, b Item) bool { return a.ID == b.ID })
	var text strings.Builder
	for _, it := range items {
		text.WriteString(it.Digest) // first: a digest holds no space, an ID might
		text.WriteByte(' ')
		text.WriteString(it.ID)
		text.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(text.String()))
	hash := hex.EncodeToString(sum[:12])
	cur, err := q.ServeSyncSnapshot(ctx, db.ServeSyncSnapshotParams{
		Kind: kind, OwnerKey: key, StateHash: hash, Items: text.String(), ServedAt: time.Now().UnixMilli(),
	})
	if err != nil {
		return Diff{}, err
	}
	if err := q.PruneSyncSnapshots(ctx, db.PruneSyncSnapshotsParams{Kind: kind, OwnerKey: key, Keep: Keep}); err != nil {
		return Diff{}, err
	}
	d := Diff{Version: cur, VersionID: hash, Insert: []string{}, Update: []string{}, Delete: []string{}}
	if version <= 0 || versionID == "" {
		d.Full = true
		return d, nil
	}
	old, err := q.SyncSnapshot(ctx, db.SyncSnapshotParams{Version: version, Kind: kind, OwnerKey: key})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && old.StateHash != versionID) {
		d.Full = true
		return d, nil
	} else if err != nil {
		return Diff{}, err
	}
	if old.StateHash == hash {
		return d, nil
	}
	had := parse(old.Items)
	for _, it := range items {
		dg, ok := had[it.ID]
		switch {
		case !ok:
			d.Insert = append(d.Insert, it.ID)
		case dg != it.Digest:
			d.Update = append(d.Update, it.ID)
		}
		delete(had, it.ID)
	}
	for id := range had {
		d.Delete = append(d.Delete, id)
	}
	slices.Sort(d.Delete)
	return d, nil
}

func parse(text string) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if dg, id, ok := strings.Cut(line, " "); ok {
			out[id] = dg
		}
	}
	return out
}

// IDHash is OpenIM's hash of an ID list (hashutil.IdHash): the first 8 bytes, big-endian, of the MD5 of the
// JSON array; 0 for no IDs.
func IDHash(ids []string) uint64 {
	if len(ids) == 0 {
		return 0
	}
	b, _ := json.Marshal(ids)
	return md5Uint64(b)
}
