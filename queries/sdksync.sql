-- name: SyncSnapshot :one
-- One snapshot of a list by its version; a version of another list is not found.
SELECT state_hash, items FROM sdk_sync_snapshots
WHERE version = @version AND kind = @kind AND owner_key = @owner_key;

-- name: ServeSyncSnapshot :one
-- A list's state, stored once: the same state served again (or at once) keeps its version and is marked served.
INSERT INTO sdk_sync_snapshots AS s (kind, owner_key, state_hash, items, served_at)
VALUES (@kind, @owner_key, @state_hash, @items, @served_at)
ON CONFLICT (kind, owner_key, state_hash) DO UPDATE SET served_at = GREATEST(s.served_at, EXCLUDED.served_at)
RETURNING version;

-- name: PruneSyncSnapshots :exec
-- Keeps the @keep most recently served states of one list.
DELETE FROM sdk_sync_snapshots s
WHERE s.kind = @kind AND s.owner_key = @owner_key AND s.version NOT IN (
    SELECT k.version FROM sdk_sync_snapshots k
    WHERE k.kind = @kind AND k.owner_key = @owner_key
    ORDER BY k.served_at DESC, k.version DESC LIMIT @keep::int);

-- name: ConversationSettingsOf :many
-- Every conversation row of the owner that ListConversations would show, settings and seq marks only, at most
-- @lim rows (the caller asks for one more than it accepts, to tell a cut list).
SELECT c.conversation_id, c.conversation_type, c.user_id, c.group_id, c.recv_msg_opt, c.is_pinned,
       c.is_private_chat, c.burn_duration, c.group_at_type, c.msg_destruct_time, c.is_msg_destruct,
       c.attached_info, c.ex, c.min_seq
FROM conversations c
WHERE c.owner_user_id = @owner_user_id
  AND (c.conversation_type <> 1 OR (c.conversation_id = single_conversation_id(c.owner_user_id, c.user_id)
                                     AND EXISTS (SELECT 1 FROM users pu WHERE pu.user_id = c.user_id)))
ORDER BY c.conversation_id
LIMIT @lim::int;

-- name: FriendsAmong :many
-- The friends of the owner among friend_ids, with their profiles.
SELECT sqlc.embed(f), u.nickname, u.face_url, u.ex AS user_ex
FROM friends f JOIN users u ON u.user_id = f.friend_user_id
WHERE f.owner_user_id = @owner_user_id AND f.friend_user_id = ANY(@friend_ids::text[]);

-- name: DesignatedFriendRequest :many
-- The application from one user to another, with both profiles (none or one row).
SELECT sqlc.embed(r),
       fu.nickname AS from_nickname, fu.face_url AS from_face_url,
       tu.nickname AS to_nickname, tu.face_url AS to_face_url
FROM friend_requests r
JOIN users fu ON fu.user_id = r.from_user_id
JOIN users tu ON tu.user_id = r.to_user_id
WHERE r.from_user_id = @from_user_id AND r.to_user_id = @to_user_id;

-- name: UnreadTotal :one
-- The unread messages of all of the owner's chats and groups, counted as ListConversations counts them (others'
-- chat messages after the read mark, notifications and revoked ones aside, up to 999 per conversation), over
-- the rows it shows, notification conversations aside; a group the owner left counts up to the leave.
SELECT COALESCE(sum(u.n), 0)::bigint
FROM conversations c
LEFT JOIN conversation_seqs s ON s.conversation_id = c.conversation_id
CROSS JOIN LATERAL (
    SELECT LEAST(COALESCE(s.max_seq, 0), COALESCE(c.leave_seq, s.max_seq, 0))::bigint AS max_seq
) v
CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM (
        SELECT 1 FROM messages m
        WHERE m.conversation_id = c.conversation_id AND m.seq > GREATEST(c.has_read_seq, c.min_seq - 1)
          AND m.seq <= v.max_seq
          AND m.send_id <> c.owner_user_id AND m.content_type < 1000 AND NOT m.revoked
        LIMIT 999
    ) x
) u
WHERE c.owner_user_id = @owner_user_id AND c.conversation_type <> 4
  AND (c.conversation_type <> 1 OR (c.conversation_id = single_conversation_id(c.owner_user_id, c.user_id)
                                     AND EXISTS (SELECT 1 FROM users pu WHERE pu.user_id = c.user_id)));

-- name: BlacksAmong :many
-- The owner's blacklist entries among user_ids, oldest first, with each blacklisted user's public profile.
SELECT sqlc.embed(b), u.nickname, u.face_url, u.ex AS user_ex
FROM blacks b JOIN users u ON u.user_id = b.block_user_id
WHERE b.owner_user_id = @owner_user_id AND b.block_user_id = ANY(@user_ids::text[])
ORDER BY b.create_time, b.block_user_id;

-- name: UserGroupRequest :many
-- The application of one user to one group (none or one row), with the applicant's profile and the group.
SELECT sqlc.embed(r), u.nickname AS user_nickname, u.face_url AS user_face_url, u.ex AS user_ex, sqlc.embed(g),
       (SELECT count(*) FROM group_members c WHERE c.group_id = g.group_id)::int AS member_count
FROM group_requests r
JOIN users u ON u.user_id = r.user_id
JOIN groups g ON g.group_id = r.group_id
WHERE r.group_id = @group_id AND r.user_id = @user_id;

-- name: FriendEdges :one
-- Whether b is in a's friend list, and a in b's.
SELECT EXISTS (SELECT 1 FROM friends f1 WHERE f1.owner_user_id = @a::text AND f1.friend_user_id = @b::text) AS a_has_b,
       EXISTS (SELECT 1 FROM friends f2 WHERE f2.owner_user_id = @b::text AND f2.friend_user_id = @a::text) AS b_has_a;
