-- Schema of the IM server. Times are Unix milliseconds unless a column says otherwise.

CREATE TABLE users (
    user_id             text PRIMARY KEY,
    nickname            text   NOT NULL DEFAULT '',
    face_url            text   NOT NULL DEFAULT '',
    ex                  text   NOT NULL DEFAULT '',
    app_manger_level    int    NOT NULL DEFAULT 0,
    global_recv_msg_opt int    NOT NULL DEFAULT 0,
    create_time         bigint NOT NULL,
    -- forbidden_type 0 = not forbidden; see /manager/forbid_user.
    forbidden_type      int    NOT NULL DEFAULT 0,
    forbid_reason       text   NOT NULL DEFAULT '',
    forbid_time         bigint NOT NULL DEFAULT 0
);

-- The newest token issued per user and platform; older tokens of that platform are no longer valid.
CREATE TABLE user_tokens (
    user_id     text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    platform_id int    NOT NULL,
    token_id    text   NOT NULL,
    issued_at   bigint NOT NULL,
    PRIMARY KEY (user_id, platform_id)
);

-- One row per conversation: the seq counter. Locked once per batch of messages, never per message.
CREATE TABLE conversation_seqs (
    conversation_id text PRIMARY KEY,
    max_seq         bigint NOT NULL DEFAULT 0,
    min_seq         bigint NOT NULL DEFAULT 0,
    max_seq_time    bigint NOT NULL DEFAULT 0
);

CREATE TABLE messages (
    conversation_id    text    NOT NULL,
    seq                bigint  NOT NULL,
    server_msg_id      text    NOT NULL,
    client_msg_id      text    NOT NULL,
    send_id            text    NOT NULL,
    recv_id            text    NOT NULL DEFAULT '',
    group_id           text    NOT NULL DEFAULT '',
    sender_platform_id int     NOT NULL DEFAULT 0,
    sender_nickname    text    NOT NULL DEFAULT '',
    sender_face_url    text    NOT NULL DEFAULT '',
    session_type       int     NOT NULL,
    msg_from           int     NOT NULL DEFAULT 100,
    content_type       int     NOT NULL,
    content            text    NOT NULL DEFAULT '',
    send_time          bigint  NOT NULL,
    create_time        bigint  NOT NULL DEFAULT 0,
    status             int     NOT NULL DEFAULT 2,
    options            jsonb,
    offline_push_info  jsonb,
    at_user_id_list    text[],
    attached_info      text    NOT NULL DEFAULT '',
    ex                 text    NOT NULL DEFAULT '',
    revoked            boolean NOT NULL DEFAULT false,
    PRIMARY KEY (conversation_id, seq)
);
-- Idempotent sends: one message per sender and clientMsgID.
CREATE UNIQUE INDEX messages_sender_client_msg_id ON messages (send_id, client_msg_id);
CREATE INDEX messages_client_msg_id ON messages (conversation_id, client_msg_id);

-- A user's view of a conversation.
CREATE TABLE conversations (
    owner_user_id     text    NOT NULL,
    conversation_id   text    NOT NULL,
    conversation_type int     NOT NULL,
    user_id           text    NOT NULL DEFAULT '',
    group_id          text    NOT NULL DEFAULT '',
    recv_msg_opt      int     NOT NULL DEFAULT 0,
    is_pinned         boolean NOT NULL DEFAULT false,
    is_private_chat   boolean NOT NULL DEFAULT false,
    burn_duration     int     NOT NULL DEFAULT 0,
    group_at_type     int     NOT NULL DEFAULT 0,
    msg_destruct_time bigint  NOT NULL DEFAULT 0,
    is_msg_destruct   boolean NOT NULL DEFAULT false,
    attached_info     text    NOT NULL DEFAULT '',
    ex                text    NOT NULL DEFAULT '',
    has_read_seq      bigint  NOT NULL DEFAULT 0,
    -- The first seq this user may read (group members joining later start after the history).
    min_seq           bigint  NOT NULL DEFAULT 0,
    create_time       bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_user_id, conversation_id)
);
CREATE INDEX conversations_by_conversation ON conversations (conversation_id);

CREATE TABLE friends (
    owner_user_id    text    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    friend_user_id   text    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    remark           text    NOT NULL DEFAULT '',
    create_time      bigint  NOT NULL, -- seconds, as OpenIM's FriendInfo
    add_source       int     NOT NULL DEFAULT 2,
    operator_user_id text    NOT NULL DEFAULT '',
    ex               text    NOT NULL DEFAULT '',
    is_pinned        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (owner_user_id, friend_user_id)
);

CREATE TABLE friend_requests (
    from_user_id    text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    to_user_id      text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    handle_result   int    NOT NULL DEFAULT 0,
    req_msg         text   NOT NULL DEFAULT '',
    create_time     bigint NOT NULL,
    handler_user_id text   NOT NULL DEFAULT '',
    handle_msg      text   NOT NULL DEFAULT '',
    handle_time     bigint NOT NULL DEFAULT 0,
    ex              text   NOT NULL DEFAULT '',
    PRIMARY KEY (from_user_id, to_user_id)
);
CREATE INDEX friend_requests_to ON friend_requests (to_user_id);

CREATE TABLE blacks (
    owner_user_id    text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    block_user_id    text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    create_time      bigint NOT NULL, -- seconds, as OpenIM's BlackInfo
    add_source       int    NOT NULL DEFAULT 0,
    operator_user_id text   NOT NULL DEFAULT '',
    ex               text   NOT NULL DEFAULT '',
    PRIMARY KEY (owner_user_id, block_user_id)
);

CREATE TABLE groups (
    group_id                 text PRIMARY KEY,
    group_name               text   NOT NULL DEFAULT '',
    notification             text   NOT NULL DEFAULT '',
    introduction             text   NOT NULL DEFAULT '',
    face_url                 text   NOT NULL DEFAULT '',
    owner_user_id            text   NOT NULL,
    create_time              bigint NOT NULL,
    ex                       text   NOT NULL DEFAULT '',
    status                   int    NOT NULL DEFAULT 0, -- 0 ok, 2 dismissed, 3 muted
    creator_user_id          text   NOT NULL DEFAULT '',
    group_type               int    NOT NULL DEFAULT 2,
    need_verification        int    NOT NULL DEFAULT 0,
    look_member_info         int    NOT NULL DEFAULT 0,
    apply_member_friend      int    NOT NULL DEFAULT 0,
    notification_update_time bigint NOT NULL DEFAULT 0,
    notification_user_id     text   NOT NULL DEFAULT ''
);

CREATE TABLE group_members (
    group_id         text   NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    user_id          text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role_level       int    NOT NULL DEFAULT 20,
    join_time        bigint NOT NULL,
    nickname         text   NOT NULL DEFAULT '',
    face_url         text   NOT NULL DEFAULT '',
    join_source      int    NOT NULL DEFAULT 0,
    operator_user_id text   NOT NULL DEFAULT '',
    inviter_user_id  text   NOT NULL DEFAULT '',
    ex               text   NOT NULL DEFAULT '',
    mute_end_time    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE group_requests (
    group_id        text   NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    user_id         text   NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    handle_result   int    NOT NULL DEFAULT 0,
    req_msg         text   NOT NULL DEFAULT '',
    handle_msg      text   NOT NULL DEFAULT '',
    req_time        bigint NOT NULL,
    handle_user_id  text   NOT NULL DEFAULT '',
    handle_time     bigint NOT NULL DEFAULT 0,
    join_source     int    NOT NULL DEFAULT 0,
    inviter_user_id text   NOT NULL DEFAULT '',
    ex              text   NOT NULL DEFAULT '',
    PRIMARY KEY (group_id, user_id)
);
