-- Queries of the admin console's operations (/manager/get_online_users) over the connection registry of
-- migration 0003. A connection counts while its process is alive (seen within the TTL), as in presence.sql.

-- name: OnlineUserIDs :many
-- One page of the users with a live connection in any process, by userID.
SELECT DISTINCT c.user_id
FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
WHERE p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
ORDER BY c.user_id
LIMIT sqlc.arg(lim)::int OFFSET sqlc.arg(off)::int;

-- name: OnlineConnsByPlatform :many
-- Live connections per platform, and the number of distinct users online over all platforms (the same in
-- every row).
SELECT c.platform_id, count(*)::int AS conns,
       (SELECT count(DISTINCT c2.user_id) FROM presence_conns c2 JOIN presence_processes p2 ON p2.process_id = c2.process_id
        WHERE p2.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')::int AS users
FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
WHERE p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
GROUP BY c.platform_id
ORDER BY c.platform_id;
