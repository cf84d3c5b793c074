-- name: ListConversations :many
-- One page of a user's conversations with their seq state, pinned on top, then newest first; only those of
-- conversation_ids when it is not empty (unknown ones are skipped). A group the user has left shows what it
-- was at the leave (leave_seq): max seq, its time and the unread count stop there. The page is cut before
-- the unread counts are made, so a page costs its own rows only.
SELECT p.*, u.unread_count::bigint AS unread_count
FROM (
    SELECT c.*, v.max_seq, v.max_seq_time
    FROM conversations c
    LEFT JOIN conversation_seqs s ON s.conversation_id = c.conversation_id
    CROSS JOIN LATERAL (
        SELECT LEAST(COALESCE(s.max_seq, 0), COALESCE(c.leave_seq, s.max_seq, 0))::bigint AS max_seq,
               (CASE WHEN c.leave_seq IS NULL OR c.leave_seq >= COALESCE(s.max_seq, 0) THEN COALESCE(s.max_seq_time, 0)
                     ELSE COALESCE((SELECT m.send_time FROM messages m
                                    WHERE m.conversation_id = c.conversation_id AND m.seq = c.leave_seq), 0)
                END)::bigint AS max_seq_time
    ) v
    WHERE c.owner_user_id = @owner_user_id
      AND (cardinality(@conversation_ids::text[]) = 0 OR c.conversation_id = ANY(@conversation_ids::text[]))
      -- A single-chat row shows only when it is the owner's chat with a registered peer: the row itself
      -- proves nothing (rows written by older servers' set_conversations could name anyone's chat).
      AND (c.conversation_type <> 1 OR (c.conversation_id = single_conversation_id(c.owner_user_id, c.user_id)
                                         AND EXISTS (SELECT 1 FROM users pu WHERE pu.user_id = c.user_id)))
    ORDER BY c.is_pinned DESC, v.max_seq_time DESC, c.conversation_id
    LIMIT @lim::int OFFSET @off::int
) p
CROSS JOIN LATERAL (
    -- Others' chat messages after the read mark (notifications excluded), counted up to 999.
    SELECT count(*) AS unread_count FROM (
        SELECT 1 FROM messages m
        WHERE m.conversation_id = p.conversation_id AND m.seq > GREATEST(p.has_read_seq, p.min_seq - 1)
          AND m.seq <= p.max_seq
          AND m.send_id <> p.owner_user_id AND m.content_type < 1000 AND NOT m.revoked
        LIMIT 999
    ) x
) u
ORDER BY p.is_pinned DESC, p.max_seq_time DESC, p.conversation_id;

-- name: CountConversations :one
-- Every row of the owner, as ListConversations would list them over all pages.
SELECT count(*)::int FROM conversations c
WHERE c.owner_user_id = $1
  AND (c.conversation_type <> 1 OR (c.conversation_id = single_conversation_id(c.owner_user_id, c.user_id)
                                     AND EXISTS (SELECT 1 FROM users pu WHERE pu.user_id = c.user_id)));

-- name: MessagesAt :many
-- The messages at given (conversation, seq) pairs: the latest message of each listed conversation.
-- A primary-key probe per pair through LATERAL ... LIMIT 1 (see FindSent in messages.sql).
SELECT m.* FROM (SELECT unnest(@conversation_ids::text[]) AS conversation_id, unnest(@seqs::bigint[]) AS seq) k
CROSS JOIN LATERAL (
    SELECT * FROM messages x WHERE x.conversation_id = k.conversation_id AND x.seq = k.seq LIMIT 1
) m;

-- name: UpsertConversationSettings :exec
-- Present (non-null) settings are set; absent ones keep their value (or the default on a new row).
INSERT INTO conversations AS c (
    owner_user_id, conversation_id, conversation_type, user_id, group_id, create_time,
    recv_msg_opt, is_pinned, attached_info, is_private_chat, ex, burn_duration, group_at_type,
    msg_destruct_time, is_msg_destruct
) VALUES (
    @owner_user_id, @conversation_id, @conversation_type, @peer_user_id, @group_id, @now,
    COALESCE(sqlc.narg(recv_msg_opt)::int, 0), COALESCE(sqlc.narg(is_pinned)::boolean, false),
    COALESCE(sqlc.narg(attached_info)::text, ''), COALESCE(sqlc.narg(is_private_chat)::boolean, false),
    COALESCE(sqlc.narg(ex)::text, ''), COALESCE(sqlc.narg(burn_duration)::int, 0),
    COALESCE(sqlc.narg(group_at_type)::int, 0), COALESCE(sqlc.narg(msg_destruct_time)::bigint, 0),
    COALESCE(sqlc.narg(is_msg_destruct)::boolean, false)
)
ON CONFLICT (owner_user_id, conversation_id) DO UPDATE SET
    recv_msg_opt      = COALESCE(sqlc.narg(recv_msg_opt)::int, c.recv_msg_opt),
    is_pinned         = COALESCE(sqlc.narg(is_pinned)::boolean, c.is_pinned),
    attached_info     = COALESCE(sqlc.narg(attached_info)::text, c.attached_info),
    is_private_chat   = COALESCE(sqlc.narg(is_private_chat)::boolean, c.is_private_chat),
    ex                = COALESCE(sqlc.narg(ex)::text, c.ex),
    burn_duration     = COALESCE(sqlc.narg(burn_duration)::int, c.burn_duration),
    group_at_type     = COALESCE(sqlc.narg(group_at_type)::int, c.group_at_type),
    msg_destruct_time = COALESCE(sqlc.narg(msg_destruct_time)::bigint, c.msg_destruct_time),
    is_msg_destruct   = COALESCE(sqlc.narg(is_msg_destruct)::boolean, c.is_msg_destruct);
