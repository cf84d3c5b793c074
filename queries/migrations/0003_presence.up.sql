-- The connection registry shared by every server process (server/internal/presence): who is connected, to
-- which process, on which platform. It decides 1304 UserStatusChange (a user's first connection anywhere /
-- last one anywhere) and answers /manager/get_users_online_status for all processes.

-- One row per running server process. A process refreshes seen_at every few seconds (heartbeat); one not
-- seen for the TTL (30 s by default) is dead, and its connections are removed by whichever process notices.
-- Times are the database's clock, so the processes' clocks do not matter.
CREATE TABLE presence_processes (
    process_id text        PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per live WebSocket connection: one INSERT when it opens, one DELETE when it closes. There is no
-- foreign key: rows count only while their process is alive (joined with presence_processes), and rows of
-- a dead or vanished process are deleted by the survivors.
CREATE TABLE presence_conns (
    conn_id       text        PRIMARY KEY, -- gateway ConnID, unique across processes
    process_id    text        NOT NULL,
    user_id       text        NOT NULL,
    platform_id   int         NOT NULL,
    is_background boolean     NOT NULL DEFAULT false,
    operation_id  text        NOT NULL DEFAULT '', -- the operationID the connection opened with (echoed by 1304)
    since         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX presence_conns_by_user ON presence_conns (user_id);
CREATE INDEX presence_conns_by_process ON presence_conns (process_id);
