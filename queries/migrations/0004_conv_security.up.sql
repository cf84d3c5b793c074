-- Conversation security (docs/decisions.md#d32-who-may-read-a-conversation).

-- The seq of a group conversation at which its owner stopped being a member (kicked, quit, dismissed);
-- NULL while a member, and for other conversations. Every view of the conversation (lists, latest message,
-- unread count, max seq) stops there, as history does.
ALTER TABLE conversations ADD COLUMN leave_seq bigint;

-- Triggers rather than domain code: every path that removes or adds a member (kick, quit, dismiss, a
-- cascade from a deleted user or group, and any written later) records it in the same statement. The max seq
-- is read without a lock, so the mark may fall short of a batch committing at that very moment (the member was
-- still among its recipients), but never reaches a message stored after the leave. A lock here could deadlock
-- with the writer, which holds the seq row while it touches the leaving member's conversation row.
CREATE FUNCTION group_members_left() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c SET leave_seq = COALESCE(s.max_seq, 0)
    FROM gone g LEFT JOIN conversation_seqs s ON s.conversation_id = 'group_' || g.group_id
    WHERE c.owner_user_id = g.user_id AND c.conversation_id = 'group_' || g.group_id;
    RETURN NULL;
END $$;
CREATE TRIGGER group_members_left AFTER DELETE ON group_members
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION group_members_left();

CREATE FUNCTION group_members_joined() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c SET leave_seq = NULL
    FROM joined j
    WHERE c.owner_user_id = j.user_id AND c.conversation_id = 'group_' || j.group_id AND c.leave_seq IS NOT NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER group_members_joined AFTER INSERT ON group_members
    REFERENCING NEW TABLE AS joined FOR EACH STATEMENT EXECUTE FUNCTION group_members_joined();

-- Rows of former members written before this migration: frozen at the current max seq (the best known).
UPDATE conversations c
SET leave_seq = COALESCE((SELECT s.max_seq FROM conversation_seqs s WHERE s.conversation_id = c.conversation_id), 0)
WHERE c.conversation_type = 3
  AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = c.group_id AND m.user_id = c.owner_user_id);

-- single_<a>_<b> of two user IDs, sorted bytewise as the server's Go code sorts them.
CREATE FUNCTION single_conversation_id(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 'single_' || LEAST(a COLLATE "C", b COLLATE "C") || '_' || GREATEST(a COLLATE "C", b COLLATE "C")
$$;

-- Single-chat rows that do not belong to their owner: /conversation/set_conversations used to create a row
-- for single_<owner>_<anyone>, naming a peer that does not exist, and such a row exposed another pair's
-- chat. A real row names a registered peer and its ID is single_<a>_<b> of owner and peer, sorted bytewise.
DELETE FROM conversations c
WHERE c.conversation_type = 1
  AND (NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = c.user_id)
       OR c.conversation_id <> single_conversation_id(c.owner_user_id, c.user_id));
