-- friendsOf(user) (who has this user in their friend list) runs on every profile update and on every first
-- connection / last disconnection of a user (1303, 1304); without this index it scans all friendships.
CREATE INDEX friends_by_friend ON friends (friend_user_id);
