-- Numbers for users, for the dialects whose clients type user ids as numbers (emnify's
-- generated client keeps them as f32, exact below 2^24). A number is given on first ask;
-- a deleted user's number stays taken (its row keeps no user), so a number never names a
-- second person.
CREATE TABLE user_numbers (
    number  INTEGER PRIMARY KEY,
    user_id TEXT UNIQUE REFERENCES users (id) ON DELETE SET NULL
);
