-- name: ListConversations :many
-- A user's conversations with their seq state, newest first, pinned on top; all when conversation_ids is empty.
SELECT c.*, COALESCE(s.max_seq, 0)::bigint AS max_seq, COALESCE(s.max_seq_time, 0)::bigint AS max_seq_time,
       u.unread_count::bigint AS unread_count
FROM conversations c
LEFT JOIN conversation_seqs s ON s.conversation_id = c.conversation_id
CROSS JOIN LATERAL (
    -- Others' chat messages after the read mark (notifications excluded), counted up to 999.
    SELECT count(*) AS unread_count FROM (
        SELECT 1 FROM messages m
        WHERE m.conversation_id = c.conversation_id AND m.seq > GREATEST(c.has_read_seq, c.min_seq - 1)
          AND m.send_id <> c.owner_user_id AND m.content_type < 1000 AND NOT m.revoked
        LIMIT 999
    ) x
) u
WHERE c.owner_user_id = @owner_user_id
  AND (cardinality(@conversation_ids::text[]) = 0 OR c.conversation_id = ANY(@conversation_ids::text[]))
ORDER BY c.is_pinned DESC, max_seq_time DESC, c.conversation_id;

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
