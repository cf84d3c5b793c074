-- Incremental sync of the OpenIM SDK profile (docs/decisions.md#d45-sdk-incremental-sync).

-- What a client was told at one version of one list: the list's kind (friends, joined groups, a group's
-- members, conversations), whose list it is (a userID, or a groupID for members), and the items as
-- "<digest> <id>" lines sorted by id. A client sending its version back gets the difference to today's list; a
-- version no longer here gets full = true. A row is written when a client asks and the list is in a state not
-- seen before; only the few most recently served states of each list are kept (syncver.Keep).
CREATE TABLE sdk_sync_snapshots (
    version    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text   NOT NULL,
    owner_key  text   NOT NULL,
    state_hash text   NOT NULL,
    items      text   NOT NULL,
    served_at  bigint NOT NULL,
    UNIQUE (kind, owner_key, state_hash)
);
