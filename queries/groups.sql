-- Groups, members and join applications (the /group/* operations). Mutating operations lock the group row
-- first (LockGroup), so changes to one group are serialized.

-- name: InsertGroup :one
-- A taken groupID inserts nothing (no row: the caller answers 1007).
INSERT INTO groups (
    group_id, group_name, notification, introduction, face_url, owner_user_id, create_time, ex, status,
    creator_user_id, group_type, need_verification, look_member_info, apply_member_friend,
    notification_update_time, notification_user_id
) VALUES (
    @group_id, @group_name, @notification, @introduction, @face_url, @owner_user_id, @create_time, @ex, 0,
    @creator_user_id, @group_type, @need_verification, @look_member_info, @apply_member_friend,
    @notification_update_time, @notification_user_id
)
ON CONFLICT (group_id) DO NOTHING
RETURNING *;

-- name: LockGroup :one
SELECT * FROM groups WHERE group_id = $1 FOR UPDATE;

-- name: GetGroupsWithCount :many
SELECT sqlc.embed(g), (SELECT count(*) FROM group_members m WHERE m.group_id = g.group_id)::int AS member_count
FROM groups g
WHERE g.group_id = ANY(@group_ids::text[]);

-- name: CountGroupMembers :one
SELECT count(*)::int FROM group_members WHERE group_id = $1;

-- name: InsertGroupMembers :exec
-- New members of one group; role_levels is parallel to user_ids.
INSERT INTO group_members (group_id, user_id, role_level, join_time, join_source, operator_user_id, inviter_user_id)
SELECT @group_id::text, unnest(@user_ids::text[]), unnest(@role_levels::int[]), @join_time::bigint,
       unnest(@join_sources::int[]), @operator_user_id::text, unnest(@inviter_user_ids::text[]);

-- name: GroupMembersFull :many
-- Members of a group with the user's profile; all of them when user_ids is empty. Owner first, then admins,
-- then members by join time.
SELECT sqlc.embed(m), u.nickname AS user_nickname, u.face_url AS user_face_url, u.app_manger_level
FROM group_members m
JOIN users u ON u.user_id = m.user_id
WHERE m.group_id = @group_id
  AND (cardinality(@user_ids::text[]) = 0 OR m.user_id = ANY(@user_ids::text[]))
ORDER BY m.role_level DESC, m.join_time, m.user_id;

-- name: ListGroupMembersPage :many
-- One page of a group's members; a non-empty keyword keeps userIDs or in-group nicknames containing it.
SELECT sqlc.embed(m), u.nickname AS user_nickname, u.face_url AS user_face_url, u.app_manger_level
FROM group_members m
JOIN users u ON u.user_id = m.user_id
WHERE m.group_id = @group_id
  AND (@keyword::text = '' OR strpos(m.user_id, @keyword::text) > 0
       OR strpos(CASE WHEN m.nickname = '' THEN u.nickname ELSE m.nickname END, @keyword::text) > 0)
ORDER BY m.role_level DESC, m.join_time, m.user_id
LIMIT @lim OFFSET @off;

-- name: CountGroupMembersMatching :one
SELECT count(*)::int
FROM group_members m
JOIN users u ON u.user_id = m.user_id
WHERE m.group_id = @group_id
  AND (@keyword::text = '' OR strpos(m.user_id, @keyword::text) > 0
       OR strpos(CASE WHEN m.nickname = '' THEN u.nickname ELSE m.nickname END, @keyword::text) > 0);

-- name: GroupMemberRow :one
SELECT * FROM group_members WHERE group_id = $1 AND user_id = $2;

-- name: GroupMembersAmong :many
-- Which of user_ids are members of the group.
SELECT user_id FROM group_members WHERE group_id = @group_id AND user_id = ANY(@user_ids::text[]);

-- name: GroupManagerIDs :many
-- The owner and the admins of a group.
SELECT user_id FROM group_members WHERE group_id = $1 AND role_level IN (100, 60) ORDER BY role_level DESC, user_id;

-- name: DeleteGroupMembers :execrows
DELETE FROM group_members WHERE group_id = @group_id AND user_id = ANY(@user_ids::text[]);

-- name: DeleteAllGroupMembers :exec
DELETE FROM group_members WHERE group_id = $1;

-- name: SetGroupMemberRole :exec
UPDATE group_members SET role_level = @role_level WHERE group_id = @group_id AND user_id = @user_id;

-- name: SetGroupMemberMuteEnd :exec
UPDATE group_members SET mute_end_time = @mute_end_time WHERE group_id = @group_id AND user_id = @user_id;

-- name: SetGroupStatus :exec
UPDATE groups SET status = @status WHERE group_id = @group_id;

-- name: SetGroupOwner :exec
UPDATE groups SET owner_user_id = @owner_user_id WHERE group_id = @group_id;

-- name: UpdateGroupInfo :exec
-- Empty names, announcement, introduction and face mean "unchanged"; null wrappers mean "unchanged".
UPDATE groups SET
    group_name          = CASE WHEN @group_name::text = '' THEN group_name ELSE @group_name::text END,
    notification        = CASE WHEN @notification::text = '' THEN notification ELSE @notification::text END,
    introduction        = CASE WHEN @introduction::text = '' THEN introduction ELSE @introduction::text END,
    face_url            = CASE WHEN @face_url::text = '' THEN face_url ELSE @face_url::text END,
    ex                  = COALESCE(sqlc.narg(ex)::text, ex),
    need_verification   = COALESCE(sqlc.narg(need_verification)::int, need_verification),
    look_member_info    = COALESCE(sqlc.narg(look_member_info)::int, look_member_info),
    apply_member_friend = COALESCE(sqlc.narg(apply_member_friend)::int, apply_member_friend),
    notification_update_time = CASE WHEN @notification::text = '' THEN notification_update_time ELSE @now::bigint END,
    notification_user_id     = CASE WHEN @notification::text = '' THEN notification_user_id ELSE @operator_user_id::text END
WHERE group_id = @group_id;

-- name: GroupConversationMaxSeq :one
-- The current max seq of a group conversation. FOR SHARE waits for a message transaction that is allocating
-- seqs of it right now, so the answer is exact at the moment the membership change commits.
SELECT max_seq FROM conversation_seqs WHERE conversation_id = $1 FOR SHARE;

-- name: UpsertGroupConversations :exec
-- The group conversation rows of new members: min_seq is the first seq each may read (0 = from the start).
-- A returning member's row gets the new min_seq.
INSERT INTO conversations (owner_user_id, conversation_id, conversation_type, group_id, min_seq, create_time)
SELECT unnest(@owner_user_ids::text[]), @conversation_id::text, 3, @group_id::text, @min_seq::bigint, @now::bigint
ON CONFLICT (owner_user_id, conversation_id) DO UPDATE
    SET min_seq = EXCLUDED.min_seq, conversation_type = 3, group_id = EXCLUDED.group_id;

-- name: JoinedGroupsPage :many
-- One page of the live groups a user is a member of, by join time.
SELECT sqlc.embed(g), (SELECT count(*) FROM group_members c WHERE c.group_id = g.group_id)::int AS member_count
FROM group_members m
JOIN groups g ON g.group_id = m.group_id
WHERE m.user_id = @user_id AND g.status <> 2
ORDER BY m.join_time, g.group_id
LIMIT @lim OFFSET @off;

-- name: CountJoinedGroups :one
SELECT count(*)::int
FROM group_members m
JOIN groups g ON g.group_id = m.group_id
WHERE m.user_id = $1 AND g.status <> 2;

-- name: ManagedGroupIDs :many
-- The groups a user owns or administers.
SELECT group_id FROM group_members WHERE user_id = $1 AND role_level IN (100, 60);

-- name: CreateGroupRequest :one
-- A new pending application, or a fresh one replacing an answered application. A pending application
-- already there is left alone (no row: 1105 for join_group).
INSERT INTO group_requests AS r (group_id, user_id, handle_result, req_msg, req_time, join_source, inviter_user_id, ex)
VALUES (@group_id, @user_id, 0, @req_msg, @req_time, @join_source, @inviter_user_id, @ex)
ON CONFLICT (group_id, user_id) DO UPDATE SET
    handle_result = 0, req_msg = EXCLUDED.req_msg, req_time = EXCLUDED.req_time, join_source = EXCLUDED.join_source,
    inviter_user_id = EXCLUDED.inviter_user_id, ex = EXCLUDED.ex, handle_msg = '', handle_user_id = '', handle_time = 0
WHERE r.handle_result <> 0
RETURNING *;

-- name: LockGroupRequest :one
SELECT * FROM group_requests WHERE group_id = $1 AND user_id = $2 FOR UPDATE;

-- name: AnswerGroupRequest :one
UPDATE group_requests SET handle_result = @handle_result, handle_msg = @handle_msg, handle_user_id = @handle_user_id,
    handle_time = @handle_time
WHERE group_id = @group_id AND user_id = @user_id
RETURNING *;

-- name: ResolvePendingGroupRequests :exec
-- Users who became members some other way: their pending applications count as accepted.
UPDATE group_requests SET handle_result = 1, handle_user_id = @handle_user_id, handle_time = @handle_time
WHERE group_id = @group_id AND user_id = ANY(@user_ids::text[]) AND handle_result = 0;

-- name: GroupRequestsPage :many
-- One page of applications, newest first: to every group when all_groups, else to group_ids; any state when
-- handle_results is empty.
SELECT sqlc.embed(r), u.nickname AS user_nickname, u.face_url AS user_face_url, u.ex AS user_ex, sqlc.embed(g),
       (SELECT count(*) FROM group_members c WHERE c.group_id = g.group_id)::int AS member_count
FROM group_requests r
JOIN users u ON u.user_id = r.user_id
JOIN groups g ON g.group_id = r.group_id
WHERE (@all_groups::bool OR r.group_id = ANY(@group_ids::text[]))
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]))
ORDER BY r.req_time DESC, r.group_id, r.user_id
LIMIT @lim OFFSET @off;

-- name: CountGroupRequests :one
SELECT count(*)::int
FROM group_requests r
WHERE (@all_groups::bool OR r.group_id = ANY(@group_ids::text[]))
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]));

-- name: UsersOverGroupLimit :many
-- The users among user_ids who are members of more than lim live (not dismissed) groups: run after adding
-- them to one more, it names those the addition took over the groups-per-user limit.
SELECT m.user_id FROM group_members m JOIN groups g ON g.group_id = m.group_id
WHERE m.user_id = ANY(@user_ids::text[]) AND g.status <> 2
GROUP BY m.user_id HAVING count(*) > @lim::bigint
ORDER BY m.user_id;
