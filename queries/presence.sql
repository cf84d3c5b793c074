-- name: TouchPresenceProcess :one
-- The heartbeat (and the registration at start): creates or refreshes the process's row. was_dead is true
-- when the row was missing or older than the TTL, that is when other processes may have removed the
-- process's connections in the meantime.
WITH old AS (
    SELECT pp.seen_at FROM presence_processes pp WHERE pp.process_id = @process_id::text
), up AS (
    INSERT INTO presence_processes (process_id) VALUES (@process_id::text)
    ON CONFLICT (process_id) DO UPDATE SET seen_at = now()
    RETURNING process_id
)
SELECT coalesce((SELECT o.seen_at < now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond' FROM old o), true)::boolean AS was_dead
FROM up;

-- name: ExpirePresenceProcess :exec
-- A process stopping gracefully marks itself dead: its connections stop counting at once; it deletes them
-- next, and should it not get to the end, the other processes finish the job.
UPDATE presence_processes SET seen_at = '-infinity' WHERE process_id = @process_id;

-- name: LockPresenceUser :exec
-- Serializes the registry changes of one user until the end of the transaction (the two-int key space of
-- advisory locks, class 1304, is not used by anything else). Every change of a user's rows takes it first,
-- so the count of the user's other live connections that the change returns (read by a later statement,
-- after the lock) is exact: of two processes changing the same user at once only one sees "first" or
-- "last". A process is alive while its seen_at is younger than the TTL (ttl_ms); a connection counts only
-- while its process is alive.
SELECT pg_advisory_xact_lock(1304, hashtext(@user_id::text));

-- name: InsertPresenceConn :one
-- A connection opened. inserted is 0 when the row was already there; others counts the user's other live
-- connections, in every process. Take LockPresenceUser first.
WITH ins AS (
    INSERT INTO presence_conns (conn_id, process_id, user_id, platform_id, operation_id)
    VALUES (@conn_id, @process_id, @user_id, @platform_id, @operation_id)
    ON CONFLICT (conn_id) DO NOTHING
    RETURNING conn_id
)
SELECT (SELECT count(*) FROM ins)::int AS inserted,
       (SELECT count(*) FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
        WHERE c.user_id = @user_id AND c.conn_id <> @conn_id
          AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')::int AS others;

-- name: DeletePresenceConn :one
-- A connection closed. deleted is 0 when the row was not there; others counts the user's other live
-- connections, in every process. Take LockPresenceUser first.
WITH del AS (
    DELETE FROM presence_conns WHERE conn_id = @conn_id
    RETURNING conn_id
)
SELECT (SELECT count(*) FROM del)::int AS deleted,
       (SELECT count(*) FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
        WHERE c.user_id = @user_id AND c.conn_id <> @conn_id
          AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')::int AS others;

-- name: DeleteDeadPresenceConns :one
-- Removes a user's connections whose process is dead or gone. platform_id and operation_id are those of
-- the newest removed one; others counts the user's live connections. Take LockPresenceUser first.
WITH del AS (
    DELETE FROM presence_conns c
    WHERE c.user_id = @user_id
      AND NOT EXISTS (SELECT 1 FROM presence_processes p
                      WHERE p.process_id = c.process_id
                        AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')
    RETURNING c.platform_id, c.operation_id, c.since
)
SELECT (SELECT count(*) FROM del)::int AS deleted,
       coalesce((SELECT d.platform_id FROM del d ORDER BY d.since DESC LIMIT 1), 0)::int AS platform_id,
       coalesce((SELECT d.operation_id FROM del d ORDER BY d.since DESC LIMIT 1), '')::text AS operation_id,
       (SELECT count(*) FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
        WHERE c.user_id = @user_id
          AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')::int AS others;

-- name: DeadPresenceProcesses :many
-- The processes not seen for the TTL.
SELECT process_id FROM presence_processes
WHERE seen_at < now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
ORDER BY process_id;

-- name: PresenceUsersOfProcesses :many
-- The users with connections in any of the given processes.
SELECT DISTINCT user_id FROM presence_conns WHERE process_id = ANY(@process_ids::text[]) ORDER BY user_id;

-- name: PresenceUsersOfDeadConns :many
-- The users with connections whose process is dead or has no row at all (a whole-table scan: run at start).
SELECT DISTINCT c.user_id FROM presence_conns c
WHERE NOT EXISTS (SELECT 1 FROM presence_processes p
                  WHERE p.process_id = c.process_id
                    AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond')
ORDER BY c.user_id;

-- name: DeleteEmptyDeadPresenceProcesses :execrows
-- Forgets the dead processes none of whose connections are left.
DELETE FROM presence_processes p
WHERE p.seen_at < now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
  AND NOT EXISTS (SELECT 1 FROM presence_conns c WHERE c.process_id = p.process_id);

-- name: TryLockPresenceUser :one
-- LockPresenceUser without waiting: false when another transaction holds the user's lock.
SELECT pg_try_advisory_xact_lock(1304, hashtext(@user_id::text));

-- name: LivePresenceConns :many
-- The live connections of the given users in every process but @except_process_id, per user by platform.
SELECT c.user_id, c.platform_id, c.conn_id, c.is_background, c.process_id
FROM presence_conns c JOIN presence_processes p ON p.process_id = c.process_id
WHERE c.user_id = ANY(@user_ids::text[]) AND c.process_id <> @except_process_id
  AND p.seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond'
ORDER BY c.user_id, c.platform_id, c.since, c.conn_id;

-- name: LivePresenceProcesses :many
-- The live processes but @except_process_id: the nodes that should answer a question over the bus.
SELECT process_id FROM presence_processes
WHERE process_id <> @except_process_id AND seen_at >= now() - sqlc.arg(ttl_ms)::bigint * interval '1 millisecond';
