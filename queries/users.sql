-- name: InsertUser :exec
INSERT INTO users (user_id, nickname, face_url, ex, create_time)
VALUES ($1, $2, $3, $4, $5);

-- name: InsertAdminUsers :exec
-- Nodes starting at once on one database each register the configured admins: the first one wins, the
-- others find the rows there.
INSERT INTO users (user_id, nickname, create_time)
SELECT u, u, @create_time::bigint FROM unnest(@user_ids::text[]) AS u
ON CONFLICT (user_id) DO NOTHING;

-- name: ExistingUserIDs :many
SELECT user_id FROM users WHERE user_id = ANY(@user_ids::text[]);

-- name: GetUsers :many
SELECT * FROM users WHERE user_id = ANY(@user_ids::text[]) ORDER BY user_id;

-- name: GetUser :one
SELECT * FROM users WHERE user_id = $1;

-- name: UpdateUserInfo :one
-- Empty strings leave a field unchanged, as OpenIM's update_user_info does.
UPDATE users SET
    nickname = CASE WHEN @nickname::text = '' THEN nickname ELSE @nickname::text END,
    face_url = CASE WHEN @face_url::text = '' THEN face_url ELSE @face_url::text END,
    ex       = CASE WHEN @ex::text = '' THEN ex ELSE @ex::text END
WHERE user_id = @user_id
RETURNING *;

-- name: SetForbidden :execrows
-- A forbid (forbidden_type <> 0) also retires every token issued until then, so that none of them works
-- again after an unforbid: the user must ask for new ones.
WITH retired AS (
    DELETE FROM user_tokens t WHERE t.user_id = @user_id AND @forbidden_type::int <> 0
)
UPDATE users u SET forbidden_type = @forbidden_type::int, forbid_reason = @forbid_reason, forbid_time = @forbid_time
WHERE u.user_id = @user_id;

-- name: UserExists :one
SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1);

-- name: PutToken :exec
INSERT INTO user_tokens (user_id, platform_id, token_id, issued_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, platform_id) DO UPDATE SET token_id = EXCLUDED.token_id, issued_at = EXCLUDED.issued_at;

-- name: TokenState :one
-- What decides whether a signed token is still good: the user exists, is not forbidden,
-- and the token is the newest one issued for its platform.
SELECT u.forbidden_type, COALESCE(t.token_id, '')::text AS current_token_id
FROM users u
LEFT JOIN user_tokens t ON t.user_id = u.user_id AND t.platform_id = @platform_id
WHERE u.user_id = @user_id;

-- name: ForbiddenAmong :many
-- The forbidden users among these: a node whose bus (NATS) connection was lost closes their connections.
SELECT user_id FROM users WHERE user_id = ANY(@user_ids::text[]) AND forbidden_type <> 0;
