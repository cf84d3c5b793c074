-- name: AllocSeqsBatch :many
-- Reserves n consecutive seqs of each conversation of a writer batch: one row lock per conversation per
-- batch, not per message, and one statement for the whole batch. The rows are locked in the order of
-- conversation_id, as every writer (of any process) takes them, so concurrent batches cannot deadlock.
INSERT INTO conversation_seqs AS s (conversation_id, max_seq, max_seq_time)
SELECT k.conversation_id, k.n, @now::bigint
FROM (SELECT unnest(@conversation_ids::text[]) AS conversation_id, unnest(@ns::bigint[]) AS n) k
ORDER BY k.conversation_id
ON CONFLICT (conversation_id) DO UPDATE
    SET max_seq = s.max_seq + EXCLUDED.max_seq, max_seq_time = EXCLUDED.max_seq_time
RETURNING s.conversation_id, s.max_seq;

-- name: InsertMessages :copyfrom
INSERT INTO messages (
    conversation_id, seq, server_msg_id, client_msg_id, send_id, recv_id, group_id, sender_platform_id,
    sender_nickname, sender_face_url, session_type, msg_from, content_type, content, send_time, create_time,
    status, options, offline_push_info, at_user_id_list, attached_info, ex
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22
);

-- name: FindSent :many
-- The messages already stored for these (sender, clientMsgID) pairs: what makes a resend idempotent.
-- One unique-index probe per pair, whatever the statistics say: as a plain join, a plan made while the
-- table was young (a hash join over a sequential scan) stayed cached in the prepared statement and cost
-- 11 ms per batch at 75,000 messages (0.6 ms probed). LIMIT 1 keeps the planner from flattening the
-- subquery into such a join; the pair is unique anyway.
SELECT m.* FROM (SELECT unnest(@send_ids::text[]) AS send_id, unnest(@client_msg_ids::text[]) AS client_msg_id) k
CROSS JOIN LATERAL (
    SELECT * FROM messages x WHERE x.send_id = k.send_id AND x.client_msg_id = k.client_msg_id LIMIT 1
) m;

-- name: EnsureConversations :exec
INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, user_id, group_id, create_time)
SELECT unnest(@owners::text[]), unnest(@conversation_ids::text[]), unnest(@types::int[]),
       unnest(@peer_user_ids::text[]), unnest(@group_ids::text[]), @now::bigint
ON CONFLICT DO NOTHING;

-- name: MessagesBySeqRange :many
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq BETWEEN @begin_seq::bigint AND @end_seq::bigint
ORDER BY seq;

-- name: MessageBySeq :one
SELECT * FROM messages WHERE conversation_id = $1 AND seq = $2;

-- name: MessageByClientMsgID :one
SELECT * FROM messages WHERE conversation_id = $1 AND client_msg_id = $2;

-- name: MessagesBefore :many
-- History newest first, strictly below a seq.
SELECT * FROM messages
WHERE conversation_id = @conversation_id AND seq < @before_seq::bigint AND seq >= @min_seq::bigint
ORDER BY seq DESC
LIMIT @lim;

-- name: MarkRevoked :execrows
-- The revoked message keeps its seq; its content is replaced by the revoke Tips (contentType 2101 on read).
UPDATE messages SET revoked = true, content = @content WHERE conversation_id = @conversation_id AND seq = @seq AND NOT revoked;

-- name: ConversationSeq :one
SELECT max_seq, min_seq, max_seq_time FROM conversation_seqs WHERE conversation_id = $1;

-- name: UserConversationSeqs :many
-- Every conversation of a user with its max seq: the answer to WS 1001 GET_NEWEST_SEQ.
SELECT c.conversation_id, c.min_seq, COALESCE(s.max_seq, 0)::bigint AS max_seq
FROM conversations c
LEFT JOIN conversation_seqs s ON s.conversation_id = c.conversation_id
WHERE c.owner_user_id = $1
  -- a group conversation only while the user is a member
  AND (c.conversation_type <> 3 OR EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = c.group_id AND m.user_id = c.owner_user_id))
  -- a single chat only when the row is the owner's chat with a registered peer (a row proves nothing)
  AND (c.conversation_type <> 1 OR (c.conversation_id = single_conversation_id(c.owner_user_id, c.user_id)
                                     AND EXISTS (SELECT 1 FROM users pu WHERE pu.user_id = c.user_id)));

-- name: GetConversation :one
SELECT * FROM conversations WHERE owner_user_id = $1 AND conversation_id = $2;

-- name: RaiseHasReadSeq :one
UPDATE conversations SET has_read_seq = GREATEST(has_read_seq, @seq::bigint)
WHERE owner_user_id = @owner_user_id AND conversation_id = @conversation_id
RETURNING has_read_seq;

-- name: SingleSendChecks :many
-- Everything a single-chat send needs to know, for every (sender, recipient) pair of a writer batch; the
-- sender's forbid is read here, in the transaction that stores, so no path or process can miss it.
SELECT k.send_id::text AS send_id, k.recv_id::text AS recv_id,
    COALESCE(s.nickname, '')::text AS sender_nickname,
    COALESCE(s.face_url, '')::text AS sender_face_url,
    (s.user_id IS NOT NULL)::bool AS sender_exists,
    (COALESCE(s.forbidden_type, 0) <> 0)::bool AS sender_forbidden,
    EXISTS (SELECT 1 FROM users r WHERE r.user_id = k.recv_id) AS recv_exists,
    EXISTS (SELECT 1 FROM blacks b WHERE b.owner_user_id = k.recv_id AND b.block_user_id = k.send_id) AS blocked
FROM (SELECT unnest(@send_ids::text[]) AS send_id, unnest(@recv_ids::text[]) AS recv_id) k
-- LATERAL ... LIMIT 1: an index probe per pair whatever plan the prepared statement cached (see FindSent).
LEFT JOIN LATERAL (SELECT u.user_id, u.nickname, u.face_url, u.forbidden_type FROM users u WHERE u.user_id = k.send_id LIMIT 1) s ON true;

-- name: GroupSendChecks :many
-- Everything a group send needs to know, for every (sender, group) pair of a writer batch.
SELECT k.send_id::text AS send_id, k.group_id::text AS group_id,
    COALESCE(s.nickname, '')::text AS sender_nickname,
    COALESCE(s.face_url, '')::text AS sender_face_url,
    (s.user_id IS NOT NULL)::bool AS sender_exists,
    (COALESCE(s.forbidden_type, 0) <> 0)::bool AS sender_forbidden,
    COALESCE(g.status, -1)::int AS group_status,
    COALESCE(m.role_level, 0)::int AS role_level,
    COALESCE(m.mute_end_time, 0)::bigint AS mute_end_time
FROM (SELECT unnest(@send_ids::text[]) AS send_id, unnest(@group_ids::text[]) AS group_id) k
LEFT JOIN LATERAL (SELECT u.user_id, u.nickname, u.face_url, u.forbidden_type FROM users u WHERE u.user_id = k.send_id LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT gr.status FROM groups gr WHERE gr.group_id = k.group_id LIMIT 1) g ON true
LEFT JOIN LATERAL (SELECT gm.role_level, gm.mute_end_time FROM group_members gm
                   WHERE gm.group_id = k.group_id AND gm.user_id = k.send_id LIMIT 1) m ON true;

-- name: GroupsMemberIDs :many
SELECT group_id, user_id FROM group_members WHERE group_id = ANY(@group_ids::text[]);

-- name: GroupMemberIDs :many
SELECT user_id FROM group_members WHERE group_id = $1;

-- name: IsGroupMember :one
SELECT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2);

-- name: GroupMemberRole :one
SELECT role_level FROM group_members WHERE group_id = $1 AND user_id = $2;

-- name: SendersOfSeqs :many
SELECT DISTINCT send_id FROM messages WHERE conversation_id = @conversation_id AND seq = ANY(@seqs::bigint[]);

-- name: RaiseSendersHasReadSeq :exec
-- A sender has read its own messages: its unread count never includes them.
UPDATE conversations c SET has_read_seq = GREATEST(c.has_read_seq, k.seq)
-- One row per (owner, conversation) with its highest seq: an UPDATE ... FROM that joins a target row to
-- several source rows applies an arbitrary one of them, and a batch often holds several messages of one sender.
FROM (SELECT u.owner, u.conversation_id, max(u.seq)::bigint AS seq
      FROM (SELECT unnest(@owners::text[]) AS owner, unnest(@conversation_ids::text[]) AS conversation_id, unnest(@seqs::bigint[]) AS seq) u
      GROUP BY u.owner, u.conversation_id) k
WHERE c.owner_user_id = k.owner AND c.conversation_id = k.conversation_id;

-- name: GroupExists :one
SELECT EXISTS (SELECT 1 FROM groups WHERE group_id = $1);

-- name: ReadMarks :one
-- The caller's and (in a single chat) the peer's read marks, for MsgData.isRead.
SELECT COALESCE((SELECT c.has_read_seq FROM conversations c WHERE c.owner_user_id = @user_id AND c.conversation_id = @conversation_id), 0)::bigint AS mine,
       COALESCE((SELECT max(c.has_read_seq) FROM conversations c WHERE c.owner_user_id <> @user_id AND c.conversation_id = @conversation_id AND c.conversation_type = 1), 0)::bigint AS peer;

-- name: RecentMessages :many
-- Messages stored since a time (ms), at most the last @per_conv of each conversation written since then:
-- what a node whose bus (NATS) connection was lost pushes to its own connections when it is back.
SELECT m.* FROM conversation_seqs s
CROSS JOIN LATERAL (
    SELECT * FROM messages x
    WHERE x.conversation_id = s.conversation_id AND x.seq > s.max_seq - @per_conv::bigint AND x.send_time >= @since::bigint
) m
WHERE s.max_seq_time >= @since::bigint
ORDER BY m.conversation_id, m.seq
LIMIT @max_rows::int;

-- name: StoreMessages :many
-- The writer's one statement for a batch's accepted messages: reserves each conversation's seqs (one row
-- lock per conversation, taken in conversation_id order as every writer takes them) and inserts the
-- messages with them. Message i of a conversation's n gets max_seq - back with back = n-1-i, so the writer
-- knows every seq from the returned max_seq. jsonb NULL is a NULL column; @at_user_id_lists carries each
-- list as a JSON array (NULL: no list), as a text[] cannot hold a list per row.
WITH s AS (
    INSERT INTO conversation_seqs AS cs (conversation_id, max_seq, max_seq_time)
    SELECT k.conversation_id, k.n, @now::bigint
    FROM (SELECT unnest(@conversation_ids::text[]) AS conversation_id, unnest(@ns::bigint[]) AS n) k
    ORDER BY k.conversation_id
    ON CONFLICT (conversation_id) DO UPDATE
        SET max_seq = cs.max_seq + EXCLUDED.max_seq, max_seq_time = EXCLUDED.max_seq_time
    RETURNING cs.conversation_id, cs.max_seq
), m AS (
    INSERT INTO messages (
        conversation_id, seq, server_msg_id, client_msg_id, send_id, recv_id, group_id, sender_platform_id,
        sender_nickname, sender_face_url, session_type, msg_from, content_type, content, send_time, create_time,
        status, options, offline_push_info, at_user_id_list, attached_info, ex
    )
    SELECT r.conversation_id, s.max_seq - r.back, r.server_msg_id, r.client_msg_id, r.send_id, r.recv_id,
        r.group_id, r.sender_platform_id, r.sender_nickname, r.sender_face_url, r.session_type, r.msg_from,
        r.content_type, r.content, r.send_time, r.create_time, r.status, r.options, r.offline_push_info,
        CASE WHEN r.at_user_id_list IS NULL THEN NULL
             ELSE ARRAY(SELECT e.v FROM jsonb_array_elements_text(r.at_user_id_list) WITH ORDINALITY AS e(v, i) ORDER BY e.i) END,
        r.attached_info, r.ex
    FROM (SELECT
                unnest(@msg_conversation_ids::text[]) AS conversation_id,
                unnest(@backs::bigint[]) AS back,
                unnest(@server_msg_ids::text[]) AS server_msg_id,
                unnest(@client_msg_ids::text[]) AS client_msg_id,
                unnest(@send_ids::text[]) AS send_id,
                unnest(@recv_ids::text[]) AS recv_id,
                unnest(@group_ids::text[]) AS group_id,
                unnest(@sender_platform_ids::int[]) AS sender_platform_id,
                unnest(@sender_nicknames::text[]) AS sender_nickname,
                unnest(@sender_face_urls::text[]) AS sender_face_url,
                unnest(@session_types::int[]) AS session_type,
                unnest(@msg_froms::int[]) AS msg_from,
                unnest(@content_types::int[]) AS content_type,
                unnest(@contents::text[]) AS content,
                unnest(@send_times::bigint[]) AS send_time,
                unnest(@create_times::bigint[]) AS create_time,
                unnest(@statuses::int[]) AS status,
                unnest(@options::jsonb[]) AS options,
                unnest(@offline_push_infos::jsonb[]) AS offline_push_info,
                unnest(@at_user_id_lists::jsonb[]) AS at_user_id_list,
                unnest(@attached_infos::text[]) AS attached_info,
                unnest(@exes::text[]) AS ex) r
    JOIN s ON s.conversation_id = r.conversation_id
    RETURNING 1
)
SELECT s.conversation_id, s.max_seq, (SELECT count(*) FROM m)::bigint AS inserted FROM s;

-- name: RaiseSendersReadMarks :exec
-- RaiseSendersHasReadSeq for StoreMessages' batch, whose seqs the statement does not know: each (owner,
-- conversation) once (the caller aggregates), its highest message max_seq - back of the conversation.
UPDATE conversations c SET has_read_seq = GREATEST(c.has_read_seq, k.seq)
FROM (SELECT u.owner, u.conversation_id, s.max_seq - u.back AS seq
      FROM (SELECT unnest(@owners::text[]) AS owner, unnest(@conversation_ids::text[]) AS conversation_id, unnest(@backs::bigint[]) AS back) u
      CROSS JOIN LATERAL (SELECT x.max_seq FROM conversation_seqs x WHERE x.conversation_id = u.conversation_id LIMIT 1) s) k
WHERE c.owner_user_id = k.owner AND c.conversation_id = k.conversation_id AND c.has_read_seq < k.seq;

-- name: StoreCheckedSingles :many
-- The writer's transaction in one statement, for a batch of single-chat sends it believes fresh and allowed
-- (the common case): the duplicate check and the send checks of SingleSendChecks are the statement's guard.
-- When any message is a resend or would be refused, nothing is stored (no seq reserved, no read mark moved)
-- and no row comes back; the writer then runs the two-round-trip transaction, which says which and why. When
-- the guard holds, it does what StoreMessages and RaiseSendersReadMarks do, with the sender's profile read
-- here (@keep_profiles: an admin's send keeps a nickname or face URL it gave), and returns every message.
-- Every probe is LATERAL ... LIMIT 1 or EXISTS on a key, so any cached plan is index probes (see FindSent).
WITH r AS (
    SELECT
        unnest(@msg_conversation_ids::text[]) AS conversation_id,
        unnest(@backs::bigint[]) AS back,
        unnest(@server_msg_ids::text[]) AS server_msg_id,
        unnest(@client_msg_ids::text[]) AS client_msg_id,
        unnest(@send_ids::text[]) AS send_id,
        unnest(@recv_ids::text[]) AS recv_id,
        unnest(@group_ids::text[]) AS group_id,
        unnest(@sender_platform_ids::int[]) AS sender_platform_id,
        unnest(@sender_nicknames::text[]) AS sender_nickname,
        unnest(@sender_face_urls::text[]) AS sender_face_url,
        unnest(@keep_profiles::bool[]) AS keep_profile,
        unnest(@session_types::int[]) AS session_type,
        unnest(@msg_froms::int[]) AS msg_from,
        unnest(@content_types::int[]) AS content_type,
        unnest(@contents::text[]) AS content,
        unnest(@send_times::bigint[]) AS send_time,
        unnest(@create_times::bigint[]) AS create_time,
        unnest(@statuses::int[]) AS status,
        unnest(@options::jsonb[]) AS options,
        unnest(@offline_push_infos::jsonb[]) AS offline_push_info,
        unnest(@at_user_id_lists::jsonb[]) AS at_user_id_list,
        unnest(@attached_infos::text[]) AS attached_info,
        unnest(@exes::text[]) AS ex
), ok AS (
    SELECT NOT EXISTS (
        SELECT 1 FROM r CROSS JOIN LATERAL (
            SELECT 1 FROM messages x WHERE x.send_id = r.send_id AND x.client_msg_id = r.client_msg_id LIMIT 1) d
    ) AND NOT EXISTS (
        SELECT 1 FROM r
        LEFT JOIN LATERAL (SELECT u.forbidden_type FROM users u WHERE u.user_id = r.send_id LIMIT 1) s ON true
        WHERE s.forbidden_type IS NULL OR s.forbidden_type <> 0
           OR NOT EXISTS (SELECT 1 FROM users v WHERE v.user_id = r.recv_id)
           OR EXISTS (SELECT 1 FROM blacks b WHERE b.owner_user_id = r.recv_id AND b.block_user_id = r.send_id)
    ) AS ok
), s AS (
    INSERT INTO conversation_seqs AS cs (conversation_id, max_seq, max_seq_time)
    SELECT k.conversation_id, k.n, @now::bigint
    FROM (SELECT unnest(@conversation_ids::text[]) AS conversation_id, unnest(@ns::bigint[]) AS n) k
    WHERE (SELECT ok.ok FROM ok)
    ORDER BY k.conversation_id
    ON CONFLICT (conversation_id) DO UPDATE
        SET max_seq = cs.max_seq + EXCLUDED.max_seq, max_seq_time = EXCLUDED.max_seq_time
    RETURNING cs.conversation_id, cs.max_seq
), m AS (
    INSERT INTO messages (
        conversation_id, seq, server_msg_id, client_msg_id, send_id, recv_id, group_id, sender_platform_id,
        sender_nickname, sender_face_url, session_type, msg_from, content_type, content, send_time, create_time,
        status, options, offline_push_info, at_user_id_list, attached_info, ex
    )
    SELECT r.conversation_id, s.max_seq - r.back, r.server_msg_id, r.client_msg_id, r.send_id, r.recv_id,
        r.group_id, r.sender_platform_id,
        CASE WHEN r.keep_profile AND r.sender_nickname <> '' THEN r.sender_nickname ELSE p.nickname END,
        CASE WHEN r.keep_profile AND r.sender_face_url <> '' THEN r.sender_face_url ELSE p.face_url END,
        r.session_type, r.msg_from, r.content_type, r.content, r.send_time, r.create_time, r.status, r.options,
        r.offline_push_info,
        CASE WHEN r.at_user_id_list IS NULL THEN NULL
             ELSE ARRAY(SELECT e.v FROM jsonb_array_elements_text(r.at_user_id_list) WITH ORDINALITY AS e(v, i) ORDER BY e.i) END,
        r.attached_info, r.ex
    FROM r
    JOIN s ON s.conversation_id = r.conversation_id
    CROSS JOIN LATERAL (SELECT u.nickname, u.face_url FROM users u WHERE u.user_id = r.send_id LIMIT 1) p
    RETURNING send_id, client_msg_id, seq, sender_nickname, sender_face_url
), marks AS (
    UPDATE conversations c SET has_read_seq = GREATEST(c.has_read_seq, k.seq)
    FROM (SELECT u.owner, u.conversation_id, s.max_seq - u.back AS seq
          FROM (SELECT unnest(@mark_owners::text[]) AS owner, unnest(@mark_conversation_ids::text[]) AS conversation_id,
                       unnest(@mark_backs::bigint[]) AS back) u
          JOIN s ON s.conversation_id = u.conversation_id) k
    WHERE c.owner_user_id = k.owner AND c.conversation_id = k.conversation_id AND c.has_read_seq < k.seq
)
SELECT m.send_id::text AS send_id, m.client_msg_id::text AS client_msg_id, m.seq::bigint AS seq,
    m.sender_nickname::text AS sender_nickname, m.sender_face_url::text AS sender_face_url
FROM m;
