-- name: FriendApplyCheck :one
-- Everything /friend/add_friend checks before storing an application, in one round trip.
SELECT
    COALESCE((SELECT u.nickname FROM users u WHERE u.user_id = @from_user_id), '')::text AS from_nickname,
    COALESCE((SELECT u.face_url FROM users u WHERE u.user_id = @from_user_id), '')::text AS from_face_url,
    COALESCE((SELECT u.nickname FROM users u WHERE u.user_id = @to_user_id), '')::text   AS to_nickname,
    COALESCE((SELECT u.face_url FROM users u WHERE u.user_id = @to_user_id), '')::text   AS to_face_url,
    EXISTS (SELECT 1 FROM users u WHERE u.user_id = @from_user_id)                      AS from_exists,
    EXISTS (SELECT 1 FROM users u WHERE u.user_id = @to_user_id)                        AS to_exists,
    (EXISTS (SELECT 1 FROM friends f WHERE f.owner_user_id = @from_user_id AND f.friend_user_id = @to_user_id)
     AND EXISTS (SELECT 1 FROM friends f WHERE f.owner_user_id = @to_user_id AND f.friend_user_id = @from_user_id))::bool AS already_friends,
    EXISTS (SELECT 1 FROM blacks b WHERE b.owner_user_id = @to_user_id AND b.block_user_id = @from_user_id) AS blocked;

-- name: UpsertFriendRequest :one
-- Stores a new application, or reopens an answered one as pending. No row comes back when an unanswered
-- application from the same applicant to the same user exists (the caller answers ApplicationPending).
INSERT INTO friend_requests (from_user_id, to_user_id, handle_result, req_msg, create_time, handler_user_id, handle_msg, handle_time, ex)
VALUES (@from_user_id, @to_user_id, 0, @req_msg, @create_time, '', '', 0, @ex)
ON CONFLICT (from_user_id, to_user_id) DO UPDATE SET
    handle_result   = 0,
    req_msg         = EXCLUDED.req_msg,
    create_time     = EXCLUDED.create_time,
    handler_user_id = '',
    handle_msg      = '',
    handle_time     = 0,
    ex              = EXCLUDED.ex
WHERE friend_requests.handle_result <> 0
RETURNING *;

-- name: AnswerFriendRequest :one
-- Answers a pending application; no row when there is none or it was already answered.
UPDATE friend_requests SET
    handle_result   = @handle_result,
    handler_user_id = @handler_user_id,
    handle_msg      = @handle_msg,
    handle_time     = @handle_time
WHERE from_user_id = @from_user_id AND to_user_id = @to_user_id AND handle_result = 0
RETURNING *;

-- name: GetFriendRequest :one
SELECT * FROM friend_requests WHERE from_user_id = $1 AND to_user_id = $2;

-- name: AcceptReverseFriendRequest :exec
-- When A accepts B's application, A's own pending application to B (if any) is settled as accepted too.
UPDATE friend_requests SET
    handle_result   = 1,
    handler_user_id = @handler_user_id,
    handle_time     = @handle_time
WHERE from_user_id = @from_user_id AND to_user_id = @to_user_id AND handle_result = 0;

-- name: InsertFriendPair :exec
-- Makes a and b friends of each other; a side that already has the other in its list keeps its row.
INSERT INTO friends (owner_user_id, friend_user_id, create_time, add_source, operator_user_id)
VALUES (@a::text, @b::text, @create_time, @add_source, @operator_user_id),
       (@b::text, @a::text, @create_time, @add_source, @operator_user_id)
ON CONFLICT (owner_user_id, friend_user_id) DO NOTHING;

-- name: GetFriendView :one
-- One friend row with the friend's profile.
SELECT sqlc.embed(f), u.nickname, u.face_url, u.ex AS user_ex
FROM friends f JOIN users u ON u.user_id = f.friend_user_id
WHERE f.owner_user_id = $1 AND f.friend_user_id = $2;

-- name: ListFriends :many
-- One page of a user's friends, oldest friendship first.
SELECT sqlc.embed(f), u.nickname, u.face_url, u.ex AS user_ex
FROM friends f JOIN users u ON u.user_id = f.friend_user_id
WHERE f.owner_user_id = @owner_user_id
ORDER BY f.create_time, f.friend_user_id
LIMIT @lim::bigint OFFSET @off::bigint;

-- name: CountFriends :one
SELECT count(*) FROM friends WHERE owner_user_id = $1;

-- name: DeleteFriend :execrows
DELETE FROM friends WHERE owner_user_id = $1 AND friend_user_id = $2;

-- name: SetFriendRemark :execrows
UPDATE friends SET remark = $3 WHERE owner_user_id = $1 AND friend_user_id = $2;

-- name: FriendOwnersOf :many
-- The users who have user_id in their friend list (friendsOf(user) of the trigger table).
SELECT owner_user_id FROM friends WHERE friend_user_id = $1 ORDER BY owner_user_id;

-- name: InsertBlack :execrows
-- No row is inserted when block_user_id is already on the owner's blacklist.
INSERT INTO blacks (owner_user_id, block_user_id, create_time, add_source, operator_user_id, ex)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (owner_user_id, block_user_id) DO NOTHING;

-- name: DeleteBlack :execrows
DELETE FROM blacks WHERE owner_user_id = $1 AND block_user_id = $2;

-- name: ListBlacks :many
-- One page of a user's blacklist, oldest first, with each blacklisted user's public profile.
SELECT sqlc.embed(b), u.nickname, u.face_url, u.ex AS user_ex
FROM blacks b JOIN users u ON u.user_id = b.block_user_id
WHERE b.owner_user_id = @owner_user_id
ORDER BY b.create_time, b.block_user_id
LIMIT @lim::bigint OFFSET @off::bigint;

-- name: CountBlacks :one
SELECT count(*) FROM blacks WHERE owner_user_id = $1;

-- name: ListFriendRequestsTo :many
-- One page of the applications received by user_id, newest first; an empty handle_results keeps all.
SELECT sqlc.embed(r),
       fu.nickname AS from_nickname, fu.face_url AS from_face_url,
       tu.nickname AS to_nickname, tu.face_url AS to_face_url
FROM friend_requests r
JOIN users fu ON fu.user_id = r.from_user_id
JOIN users tu ON tu.user_id = r.to_user_id
WHERE r.to_user_id = @user_id
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]))
ORDER BY r.create_time DESC, r.from_user_id
LIMIT @lim::bigint OFFSET @off::bigint;

-- name: CountFriendRequestsTo :one
SELECT count(*) FROM friend_requests r
WHERE r.to_user_id = @user_id
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]));

-- name: ListFriendRequestsFrom :many
-- One page of the applications sent by user_id, newest first; an empty handle_results keeps all.
SELECT sqlc.embed(r),
       fu.nickname AS from_nickname, fu.face_url AS from_face_url,
       tu.nickname AS to_nickname, tu.face_url AS to_face_url
FROM friend_requests r
JOIN users fu ON fu.user_id = r.from_user_id
JOIN users tu ON tu.user_id = r.to_user_id
WHERE r.from_user_id = @user_id
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]))
ORDER BY r.create_time DESC, r.to_user_id
LIMIT @lim::bigint OFFSET @off::bigint;

-- name: CountFriendRequestsFrom :one
SELECT count(*) FROM friend_requests r
WHERE r.from_user_id = @user_id
  AND (cardinality(@handle_results::int[]) = 0 OR r.handle_result = ANY(@handle_results::int[]));
