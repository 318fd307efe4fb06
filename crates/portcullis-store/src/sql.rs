//! One implementation of [`Store`] in portable SQL (numbered `$n` parameters, which SQLite
//! accepts too), expanded by a macro for the SQLite and PostgreSQL pools. sqlx has no
//! practical way to write this generically over databases, so the macro is how the two
//! stores stay identical by construction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::audit::AuditEvent;
use portcullis_core::ids::{SessionId, UserId};
use portcullis_core::model::{
    AppToken, Credentials, Device, License, MfaKey, Organization, PasskeyInfo, Role, Session,
    TrustedDevice, User,
};
use portcullis_core::store::{
    AuditFilter, Liveness, LockoutRule, LookupKey, NewCode, NewUser, OutboxStats, Profile,
    QueuedMessage, Registration, RotateOutcome, Store, StoreError, StoredCode, UiCode, UserFilter,
    WebauthnChallenge,
};
use portcullis_core::tokens::StoredSigningKey;
use portcullis_core::OrgId;
use sqlx::{PgPool, QueryBuilder, SqlitePool};

use crate::rows::{
    db_err, ms, policy_json, AppTokenRow, AuditRow, CodeRow, DeviceRow, KeyRow, LicenseRow,
    MfaKeyRow, OrgRow, OutboxRow, PasskeyRow, RoleRow, SessionRow, TrustedDeviceRow, UserRow,
    APP_TOKEN_COLUMNS, CODE_COLUMNS, DEVICE_COLUMNS, LICENSE_COLUMNS, MFA_KEY_COLUMNS, ORG_COLUMNS,
    PASSKEY_COLUMNS, SESSION_COLUMNS, TRUSTED_DEVICE_COLUMNS, USER_COLUMNS,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    writer: PgPool,
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn username_key(p: &Profile) -> Option<String> {
    p.username.as_ref().map(|u| u.to_lowercase())
}

/// Counts as `i64` for the databases.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Stores one signing key (shared by both backends' stores).
async fn insert_key<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    key: &StoredSigningKey,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO signing_keys (kid, algorithm, public_x, private_sealed, created_at) \
         VALUES ($1, 'EdDSA', $2, $3, $4)",
    )
    .bind(key.kid.clone())
    .bind(key.public_x.clone())
    .bind(key.private_sealed.clone())
    .bind(ms(key.created_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Starts a write transaction with `statement`, on a task of its own. sqlx's `begin` is not
/// cancel-safe (transact-rs/sqlx#2054, #4385): a future dropped between sending `BEGIN` and
/// reading its answer leaves the connection inside a transaction that no guard rolls back,
/// and the next `BEGIN` on it fails forever. On its own task the `BEGIN` always runs to
/// completion; when the caller is gone, the task's output, the transaction guard, is dropped
/// and rolls back as it should.
async fn begin<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: &'static str,
) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(statement).await })
        .await
        .map_err(|e| StoreError::Unavailable(format!("starting a transaction: {e}")))?
        .map_err(db_err)
}

macro_rules! sql_store {
    // `$claim_lock` ends the sub-select that picks outbox rows to lease: PostgreSQL needs
    // `FOR UPDATE SKIP LOCKED` so that nodes do not take the same rows; SQLite has one
    // writer at a time, which makes the statement atomic as it is.
    // `$begin` starts a write transaction: SQLite's must be IMMEDIATE (take the write lock
    // at once, waiting for it under the busy timeout), or a transaction that read first
    // fails with SQLITE_BUSY when another connection wrote since.
    ($store:ident, $pool:ty, $db:ty, $claim_lock:literal, $begin:literal) => {
        impl $store {
            /// Wraps connected pools: `pool` for reads, `writer` for every statement that
            /// writes. On SQLite the writer has one connection: SQLite lets one connection
            /// write at a time, and a second one waiting on the lock sleeps in growing steps
            /// (its busy handler), which the benchmark saw as registration latency tails;
            /// queueing in the pool instead hands the lock on at once, in order. On
            /// PostgreSQL both are the same pool.
            pub fn new(pool: $pool, writer: $pool) -> Self {
                Self { pool, writer }
            }

            /// The pool.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }

            async fn roles_of(&self, ids: &[&str]) -> Result<Vec<RoleRow>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = QueryBuilder::<$db>::new("SELECT user_id, role, added_at FROM user_roles WHERE user_id IN (");
                let mut sep = qb.separated(", ");
                for id in ids {
                    sep.push_bind(id.to_string());
                }
                qb.push(")");
                qb.build_query_as::<RoleRow>().fetch_all(&self.pool).await.map_err(db_err)
            }

            async fn users_from(&self, rows: Vec<UserRow>) -> Result<Vec<Credentials>, StoreError> {
                let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                let mut roles = self.roles_of(&ids).await?;
                rows.into_iter().map(|r| r.into_credentials(&mut roles)).collect()
            }

            async fn one_user(&self, row: Option<UserRow>) -> Result<Option<Credentials>, StoreError> {
                match row {
                    None => Ok(None),
                    Some(r) => Ok(self.users_from(vec![r]).await?.pop()),
                }
            }

            async fn user_where(&self, clause: &str, bind: String) -> Result<Option<User>, StoreError> {
                let sql = format!("SELECT {USER_COLUMNS} WHERE {clause}");
                let row = sqlx::query_as::<_, UserRow>(&sql).bind(bind).fetch_optional(&self.pool).await.map_err(db_err)?;
                Ok(self.one_user(row).await?.map(|c| c.user))
            }

            async fn insert_message<'e, E>(executor: E, m: &QueuedMessage) -> Result<(), StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                sqlx::query(
                    "INSERT INTO outbox (id, org_id, purpose, recipient, payload, created_at, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(m.id.to_string())
                .bind(m.org_id.map(|o| o.to_string()))
                .bind(&m.purpose)
                .bind(&m.recipient)
                .bind(&m.payload)
                .bind(ms(m.created_at))
                .execute(executor)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn write_recovery_codes(
                tx: &mut sqlx::Transaction<'_, $db>,
                user_id: &str,
                hashes: &[String],
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                for h in hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(h)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            }

            /// MFA off for a user: the flag, recovery codes and trusted devices.
            async fn mfa_off(tx: &mut sqlx::Transaction<'_, $db>, user_id: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET mfa_enabled = $1 WHERE id = $2")
                    .bind(false)
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                for table in ["recovery_codes", "trusted_devices"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                        .bind(user_id)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            }

            /// Rows of `columns` (a `... FROM table` list) owned by `owner`, newest first.
            async fn list_owned<R, T>(&self, columns: &str, owner_column: &str, owner: String) -> Result<Vec<T>, StoreError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
                T: TryFrom<R, Error = StoreError>,
            {
                let sql = format!("SELECT {columns} WHERE {owner_column} = $1 ORDER BY id DESC");
                sqlx::query_as::<_, R>(&sql)
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(T::try_from)
                    .collect()
            }

            /// Deletes the row `id` of `table` if `owner` owns it; false otherwise.
            async fn delete_owned(&self, table: &str, owner_column: &str, id: uuid::Uuid, owner: String) -> Result<bool, StoreError> {
                let sql = format!("DELETE FROM {table} WHERE id = $1 AND {owner_column} = $2");
                let done = sqlx::query(&sql)
                    .bind(id.to_string())
                    .bind(owner)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn org_where(&self, clause: &str, bind: String) -> Result<Option<Organization>, StoreError> {
                let sql = format!("SELECT {ORG_COLUMNS} WHERE {clause}");
                sqlx::query_as::<_, OrgRow>(&sql)
                    .bind(bind)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(Organization::try_from)
                    .transpose()
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                // A write through the writer, committed: a node whose writer is stuck, whose
                // disk is full or read-only, or whose database is gone is not ready.
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('readiness_probe', $1) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }

            async fn user_number(&self, user_id: UserId) -> Result<u32, StoreError> {
                let id = user_id.to_string();
                for _ in 0..5 {
                    let known = sqlx::query_scalar::<_, i64>("SELECT number FROM user_numbers WHERE user_id = $1")
                        .bind(&id)
                        .fetch_optional(&self.writer)
                        .await
                        .map_err(db_err)?;
                    if let Some(n) = known {
                        return u32::try_from(n).map_err(|_| StoreError::Corrupt("user number".into()));
                    }
                    // Two first asks at once may pick the same next number: one insert wins,
                    // the other conflicts and looks again.
                    match sqlx::query(
                        // `WHERE true`: SQLite reads `ON CONFLICT` after a bare
                        // `SELECT ... FROM` as part of a join.
                        "INSERT INTO user_numbers (number, user_id) \
                         SELECT COALESCE(MAX(number), 0) + 1, $1 FROM user_numbers WHERE true \
                         ON CONFLICT (user_id) DO NOTHING",
                    )
                    .bind(&id)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)
                    {
                        Ok(_) | Err(StoreError::Conflict { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::Unavailable("could not give the user a number".into()))
            }

            async fn user_by_number(&self, number: u32) -> Result<Option<UserId>, StoreError> {
                let id = sqlx::query_scalar::<_, Option<String>>("SELECT user_id FROM user_numbers WHERE number = $1")
                    .bind(i64::from(number))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .flatten();
                id.map(|s| s.parse().map_err(|_| StoreError::Corrupt("user id".into()))).transpose()
            }

            async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(value)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                self.meta_get(key).await?.ok_or_else(|| StoreError::Corrupt(format!("meta {key} vanished")))
            }

            async fn ensure_org(&self, org: &Organization) -> Result<Organization, StoreError> {
                sqlx::query(
                    "INSERT INTO organizations (id, slug, name, policy, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (slug) DO NOTHING",
                )
                .bind(org.id.to_string())
                .bind(&org.slug)
                .bind(&org.name)
                .bind(policy_json(&org.policy))
                .bind(ms(org.created_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                self.org_by_slug(&org.slug).await?.ok_or_else(|| StoreError::Corrupt("organization vanished".into()))
            }

            async fn org_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError> {
                self.org_where("slug = $1", slug.to_owned()).await
            }

            async fn org_by_id(&self, id: OrgId) -> Result<Option<Organization>, StoreError> {
                self.org_where("id = $1", id.to_string()).await
            }

            async fn insert_org(&self, org: &Organization) -> Result<Organization, StoreError> {
                sqlx::query(
                    "INSERT INTO organizations (id, slug, name, policy, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(org.id.to_string())
                .bind(&org.slug)
                .bind(&org.name)
                .bind(policy_json(&org.policy))
                .bind(ms(org.created_at))
                .bind(ms(org.updated_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                self.org_by_slug(&org.slug).await?.ok_or_else(|| StoreError::Corrupt("organization vanished".into()))
            }

            async fn list_orgs(&self, after: Option<OrgId>, limit: usize) -> Result<Vec<Organization>, StoreError> {
                let sql = format!("SELECT {ORG_COLUMNS} WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2");
                sqlx::query_as::<_, OrgRow>(&sql)
                    .bind(after.map(|a| a.to_string()))
                    .bind(count(limit as u64))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(Organization::try_from)
                    .collect()
            }

            async fn update_org(&self, org: &Organization) -> Result<Option<Organization>, StoreError> {
                let done = sqlx::query("UPDATE organizations SET name = $1, policy = $2, updated_at = $3 WHERE id = $4")
                    .bind(&org.name)
                    .bind(policy_json(&org.policy))
                    .bind(ms(org.updated_at))
                    .bind(org.id.to_string())
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.org_by_slug(&org.slug).await
            }

            async fn insert_user(&self, user: &NewUser) -> Result<User, StoreError> {
                self.insert_users(std::slice::from_ref(user)).await?;
                // Only the organization's slug is not in hand: one small read, not the user's two.
                let slug = sqlx::query_scalar::<_, String>("SELECT slug FROM organizations WHERE id = $1")
                    .bind(user.org_id.to_string())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                crate::rows::inserted_user(user, slug)
            }

            async fn insert_users(&self, users: &[NewUser]) -> Result<u64, StoreError> {
                // Multi-row statements in one transaction: all or nothing, and fast enough to
                // import millions (500 rows x 15 values stays under SQLite's variable limit).
                let mut tx = begin(&self.writer, $begin).await?;
                for chunk in users.chunks(500) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO users (id, org_id, email, email_verified, phone, phone_verified, username, \
                         username_key, first_name, last_name, password_hash, anonymous, active, attributes, \
                         created_at, updated_at) ",
                    );
                    qb.push_values(chunk, |mut row, user| {
                        let p = &user.profile;
                        row.push_bind(user.id.to_string())
                            .push_bind(user.org_id.to_string())
                            .push_bind(p.email.clone())
                            .push_bind(p.email_verified)
                            .push_bind(p.phone.clone())
                            .push_bind(p.phone_verified)
                            .push_bind(p.username.clone())
                            .push_bind(username_key(p))
                            .push_bind(p.first_name.clone())
                            .push_bind(p.last_name.clone())
                            .push_bind(user.password_hash.clone())
                            .push_bind(user.anonymous)
                            .push_bind(user.active)
                            .push_bind(p.attributes.to_json())
                            .push_bind(ms(user.created_at))
                            .push_bind(ms(user.created_at));
                    });
                    qb.build().execute(&mut *tx).await.map_err(db_err)?;
                    let roles: Vec<(&NewUser, &String)> =
                        chunk.iter().flat_map(|u| u.roles.iter().map(move |r| (u, r))).collect();
                    for roles in roles.chunks(2000) {
                        let mut qb = QueryBuilder::<$db>::new("INSERT INTO user_roles (user_id, role, added_at) ");
                        qb.push_values(roles, |mut row, (user, role)| {
                            row.push_bind(user.id.to_string())
                                .push_bind((*role).clone())
                                .push_bind(ms(user.created_at));
                        });
                        qb.build().execute(&mut *tx).await.map_err(db_err)?;
                    }
                }
                tx.commit().await.map_err(db_err)?;
                Ok(users.len() as u64)
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
                self.user_where("u.id = $1", id.to_string()).await
            }

            async fn credentials(&self, org_id: OrgId, key: &LookupKey) -> Result<Option<Credentials>, StoreError> {
                let (column, value) = match key {
                    LookupKey::Email(v) => ("u.email", v),
                    LookupKey::Phone(v) => ("u.phone", v),
                    LookupKey::Username(v) => ("u.username_key", v),
                };
                let sql = format!("SELECT {USER_COLUMNS} WHERE u.org_id = $1 AND {column} = $2");
                let row = sqlx::query_as::<_, UserRow>(&sql)
                    .bind(org_id.to_string())
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                self.one_user(row).await
            }

            async fn password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar::<_, Option<String>>("SELECT password_hash FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .flatten())
            }

            async fn update_profile(&self, id: UserId, p: &Profile, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET email = $1, email_verified = $2, phone = $3, phone_verified = $4, \
                     username = $5, username_key = $6, first_name = $7, last_name = $8, attributes = $9, \
                     updated_at = $10 WHERE id = $11",
                )
                .bind(&p.email)
                .bind(p.email_verified)
                .bind(&p.phone)
                .bind(p.phone_verified)
                .bind(&p.username)
                .bind(username_key(p))
                .bind(&p.first_name)
                .bind(&p.last_name)
                .bind(p.attributes.to_json())
                .bind(ms(now))
                .bind(id.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.user_by_id(id).await
            }

            async fn set_active(&self, id: UserId, active: bool, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                let done = sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
                    .bind(active)
                    .bind(ms(now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                if !active {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'deactivated' \
                         WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(ms(now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                self.user_by_id(id).await
            }

            async fn upgrade_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn change_password(
                &self,
                id: UserId,
                hash: &str,
                keep: Option<SessionId>,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(ms(now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = 'password_changed' \
                     WHERE user_id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)",
                )
                .bind(ms(now))
                .bind(id.to_string())
                .bind(keep.map(|k| k.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }

            async fn upgrade_anonymous(
                &self,
                id: UserId,
                p: &Profile,
                password_hash: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<Option<User>, StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET email = $1, email_verified = $2, phone = $3, phone_verified = $4, username = $5, \
                     username_key = $6, first_name = $7, last_name = $8, password_hash = $9, anonymous = $10, \
                     updated_at = $11 WHERE id = $12 AND anonymous = $13",
                )
                .bind(&p.email)
                .bind(p.email_verified)
                .bind(&p.phone)
                .bind(p.phone_verified)
                .bind(&p.username)
                .bind(username_key(p))
                .bind(&p.first_name)
                .bind(&p.last_name)
                .bind(password_hash)
                .bind(false)
                .bind(ms(now))
                .bind(id.to_string())
                .bind(true)
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.user_by_id(id).await
            }

            async fn delete_idle_anonymous(&self, idle_since: DateTime<Utc>) -> Result<Vec<(UserId, OrgId)>, StoreError> {
                let rows = sqlx::query_as::<_, (String, String)>(
                    "DELETE FROM users WHERE anonymous = $1 AND updated_at < $2 \
                     AND COALESCE(last_login_at, created_at) < $2 \
                     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id AND s.last_seen_at >= $2) \
                     RETURNING id, org_id",
                )
                .bind(true)
                .bind(ms(idle_since))
                .fetch_all(&self.writer)
                .await
                .map_err(db_err)?;
                rows.into_iter()
                    .map(|(u, o)| {
                        let bad = |_| StoreError::Corrupt("id".into());
                        Ok((u.parse().map_err(bad)?, o.parse().map_err(bad)?))
                    })
                    .collect()
            }

            async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_credentials(&self, f: &UserFilter) -> Result<Vec<Credentials>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {USER_COLUMNS} WHERE 1 = 1"));
                if let Some(org) = f.org_id {
                    qb.push(" AND u.org_id = ").push_bind(org.to_string());
                }
                if let Some(q) = f.query.as_deref().filter(|q| !q.is_empty()) {
                    let pat = like_pattern(q);
                    qb.push(" AND (");
                    for (i, col) in ["u.email", "u.phone", "u.username_key", "lower(u.first_name)", "lower(u.last_name)"]
                        .iter()
                        .enumerate()
                    {
                        if i > 0 {
                            qb.push(" OR ");
                        }
                        qb.push(format!("coalesce({col}, '') LIKE ")).push_bind(pat.clone()).push(" ESCAPE '\\'");
                    }
                    qb.push(")");
                }
                if let Some(role) = &f.role {
                    qb.push(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ")
                        .push_bind(role.clone())
                        .push(")");
                }
                if let Some(active) = f.active {
                    qb.push(" AND u.active = ").push_bind(active);
                }
                if let Some(after) = f.after {
                    qb.push(" AND u.id > ").push_bind(after.to_string());
                }
                qb.push(" ORDER BY u.id LIMIT ").push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
                let rows = qb.build_query_as::<UserRow>().fetch_all(&self.pool).await.map_err(db_err)?;
                self.users_from(rows).await
            }

            async fn set_roles(&self, id: UserId, roles: &[String], now: DateTime<Utc>) -> Result<Option<Vec<Role>>, StoreError> {
                let uid = id.to_string();
                let mut tx = begin(&self.writer, $begin).await?;
                let exists = sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE id = $1")
                    .bind(&uid)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if exists.is_none() {
                    return Ok(None);
                }
                let held: Vec<String> = sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1")
                    .bind(&uid)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for gone in held.iter().filter(|h| !roles.contains(h)) {
                    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                        .bind(&uid)
                        .bind(gone)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for new in roles.iter().filter(|r| !held.contains(r)) {
                    sqlx::query("INSERT INTO user_roles (user_id, role, added_at) VALUES ($1, $2, $3)")
                        .bind(&uid)
                        .bind(new)
                        .bind(ms(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ms(now))
                    .bind(&uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(self.user_by_id(id).await?.map(|u| u.roles))
            }

            async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<(), StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, amr, \
                     app_token_id, device_id) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(s.id.to_string())
                .bind(s.user_id.to_string())
                .bind(ms(s.created_at))
                .bind(ms(s.expires_at))
                .bind(&s.ip)
                .bind(&s.user_agent)
                .bind(serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into()))
                .bind(s.app_token_id.map(|a| a.to_string()))
                .bind(s.device_id.map(|d| d.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(refresh_hash)
                    .bind(s.id.to_string())
                    .bind(ms(s.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                    .bind(ms(s.created_at))
                    .bind(s.user_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                new_hash: &str,
                live: Liveness,
            ) -> Result<RotateOutcome, StoreError> {
                let now = ms(live.now);
                let mut tx = begin(&self.writer, $begin).await?;
                // The one statement that decides: only one caller can flip used_at from NULL.
                let consumed = sqlx::query_scalar::<_, String>(
                    "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL RETURNING session_id",
                )
                .bind(now)
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(sid) = consumed else {
                    let seen = sqlx::query_as::<_, (String, String)>(
                        "SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
                         WHERE t.token_hash = $1",
                    )
                    .bind(old_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let Some((sid, uid)) = seen else {
                        return Ok(RotateOutcome::Unknown);
                    };
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'token_reused' \
                         WHERE id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(&sid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    let bad = |_| StoreError::Corrupt("session id".into());
                    return Ok(RotateOutcome::Reused {
                        session_id: sid.parse().map_err(bad)?,
                        user_id: uid.parse().map_err(bad)?,
                    });
                };
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.revoked_at IS NULL \
                     AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
                );
                let row = sqlx::query_as::<_, SessionRow>(&sql)
                    .bind(&sid)
                    .bind(now)
                    .bind(ms(live.idle_cutoff))
                    .bind(true)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let Some(row) = row else {
                    tx.commit().await.map_err(db_err)?;
                    return Ok(RotateOutcome::SessionEnded);
                };
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(new_hash)
                    .bind(&sid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&sid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                let mut session = Session::try_from(row)?;
                session.last_seen_at = live.now;
                Ok(RotateOutcome::Rotated { session })
            }

            async fn session_user(&self, id: SessionId, live: Liveness) -> Result<Option<User>, StoreError> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} JOIN sessions s ON s.user_id = u.id WHERE s.id = $1 AND s.revoked_at IS NULL \
                     AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
                );
                let row = sqlx::query_as::<_, UserRow>(&sql)
                    .bind(id.to_string())
                    .bind(ms(live.now))
                    .bind(ms(live.idle_cutoff))
                    .bind(true)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(self.one_user(row).await?.map(|c| c.user))
            }

            async fn list_sessions(&self, user_id: UserId, live: Liveness) -> Result<Vec<Session>, StoreError> {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                     AND s.last_seen_at > $3 ORDER BY s.id DESC"
                );
                sqlx::query_as::<_, SessionRow>(&sql)
                    .bind(user_id.to_string())
                    .bind(ms(live.now))
                    .bind(ms(live.idle_cutoff))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(Session::try_from)
                    .collect()
            }

            async fn revoke_session(&self, user_id: UserId, id: SessionId, reason: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                     WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
                )
                .bind(ms(now))
                .bind(reason)
                .bind(id.to_string())
                .bind(user_id.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_sessions(
                &self,
                user_id: UserId,
                keep: Option<SessionId>,
                reason: &str,
                now: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                     WHERE user_id = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
                )
                .bind(ms(now))
                .bind(reason)
                .bind(user_id.to_string())
                .bind(keep.map(|k| k.to_string()))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected())
            }

            async fn insert_app_token(&self, t: &AppToken, token_hash: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO app_tokens (id, user_id, description, token_hash, prefix, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id.to_string())
                .bind(t.user_id.to_string())
                .bind(&t.description)
                .bind(token_hash)
                .bind(&t.prefix)
                .bind(ms(t.created_at))
                .bind(t.expires_at.map(ms))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn list_app_tokens(&self, user_id: UserId) -> Result<Vec<AppToken>, StoreError> {
                self.list_owned::<AppTokenRow, AppToken>(APP_TOKEN_COLUMNS, "user_id", user_id.to_string()).await
            }

            async fn delete_app_token(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
                self.delete_owned("app_tokens", "user_id", id, user_id.to_string()).await
            }

            async fn use_app_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<AppToken>, StoreError> {
                let sql = format!(
                    "UPDATE app_tokens SET last_used_at = $1 WHERE token_hash = $2 RETURNING {}",
                    APP_TOKEN_COLUMNS.trim_end_matches(" FROM app_tokens")
                );
                sqlx::query_as::<_, AppTokenRow>(&sql)
                    .bind(ms(now))
                    .bind(token_hash)
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(db_err)?
                    .map(AppToken::try_from)
                    .transpose()
            }

            async fn insert_license(&self, l: &License, key_hash: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO licenses (id, org_id, key_hash, prefix, max_devices, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(l.id.to_string())
                .bind(l.org_id.to_string())
                .bind(key_hash)
                .bind(&l.prefix)
                .bind(l.max_devices.map(i64::from))
                .bind(ms(l.created_at))
                .bind(l.expires_at.map(ms))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn list_licenses(&self, org_id: OrgId) -> Result<Vec<License>, StoreError> {
                self.list_owned::<LicenseRow, License>(LICENSE_COLUMNS, "org_id", org_id.to_string()).await
            }

            async fn delete_license(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
                self.delete_owned("licenses", "org_id", id, org_id.to_string()).await
            }

            async fn register_device(
                &self,
                key_hash: &str,
                device: &Device,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<Registration, StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                // Takes a slot in one statement: the row lock (or SQLite's single writer)
                // makes concurrent registrations queue, and each re-checks the limit.
                let taken = sqlx::query_as::<_, (String, String)>(
                    "UPDATE licenses SET device_count = device_count + 1 WHERE key_hash = $1 \
                     AND (expires_at IS NULL OR expires_at > $2) \
                     AND (max_devices IS NULL OR device_count < max_devices) RETURNING id, org_id",
                )
                .bind(key_hash)
                .bind(ms(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some((license_id, org_id)) = taken else {
                    let why = sqlx::query_as::<_, (Option<i64>,)>("SELECT expires_at FROM licenses WHERE key_hash = $1")
                        .bind(key_hash)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    return Ok(match why {
                        None => Registration::UnknownLicense,
                        Some((Some(at),)) if at <= ms(now) => Registration::Expired,
                        Some(_) => Registration::Full,
                    });
                };
                sqlx::query(
                    "INSERT INTO devices (id, org_id, license_id, name, device_type, identifier, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(device.id.to_string())
                .bind(&org_id)
                .bind(&license_id)
                .bind(&device.name)
                .bind(&device.device_type)
                .bind(&device.identifier)
                .bind(token_hash)
                .bind(ms(device.created_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                let bad = |_| StoreError::Corrupt("id".into());
                Ok(Registration::Registered(Device {
                    org_id: org_id.parse().map_err(bad)?,
                    license_id: license_id.parse().map_err(|_| StoreError::Corrupt("id".into()))?,
                    ..device.clone()
                }))
            }

            async fn use_device(
                &self,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<Option<(Device, Option<DateTime<Utc>>)>, StoreError> {
                let done = sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE token_hash = $2")
                    .bind(ms(now))
                    .bind(token_hash)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                let sql = format!("SELECT {DEVICE_COLUMNS} WHERE d.token_hash = $1");
                let Some(row) = sqlx::query_as::<_, DeviceRow>(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                else {
                    return Ok(None);
                };
                let device = Device::try_from(row)?;
                let expiry = sqlx::query_scalar::<_, Option<i64>>("SELECT expires_at FROM licenses WHERE id = $1")
                    .bind(device.license_id.to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .flatten()
                    .map(crate::rows::time)
                    .transpose()?;
                Ok(Some((device, expiry)))
            }

            async fn rotate_device_token(&self, old_hash: &str, new_hash: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE devices SET token_hash = $1 WHERE token_hash = $2")
                    .bind(new_hash)
                    .bind(old_hash)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_ui_code(&self, code: &UiCode, now: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM ui_codes WHERE expires_at < $1")
                    .bind(ms(now))
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO ui_codes (code_hash, user_id, challenge, amr, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&code.code_hash)
                .bind(code.user_id.to_string())
                .bind(&code.challenge)
                .bind(serde_json::to_string(&code.amr).unwrap_or_else(|_| "[]".to_owned()))
                .bind(ms(code.expires_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn take_ui_code(&self, code_hash: &str) -> Result<Option<UiCode>, StoreError> {
                let row = sqlx::query_as::<_, (String, String, String, i64)>(
                    "DELETE FROM ui_codes WHERE code_hash = $1 RETURNING user_id, challenge, amr, expires_at",
                )
                .bind(code_hash)
                .fetch_optional(&self.writer)
                .await
                .map_err(db_err)?;
                let Some((user_id, challenge, amr, expires_at)) = row else {
                    return Ok(None);
                };
                Ok(Some(UiCode {
                    code_hash: code_hash.to_owned(),
                    user_id: user_id.parse().map_err(|_| StoreError::Corrupt("ui_codes.user_id".into()))?,
                    challenge,
                    amr: serde_json::from_str(&amr).unwrap_or_default(),
                    expires_at: crate::rows::time(expires_at)?,
                }))
            }

            async fn second_factors(&self, user_id: UserId) -> Result<(bool, bool), StoreError> {
                let (totp, passkey) = sqlx::query_as::<_, (bool, bool)>(
                    "SELECT EXISTS (SELECT 1 FROM mfa_keys WHERE user_id = $1 AND status = 'active'), \
                            EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)",
                )
                .bind(user_id.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                Ok((totp, passkey))
            }

            async fn insert_passkey(&self, p: &PasskeyInfo, credential: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO passkeys (id, user_id, credential_id, name, credential, counter, backup_eligible, backup_state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(p.id.to_string())
                .bind(p.user_id.to_string())
                .bind(&p.credential_id)
                .bind(&p.name)
                .bind(credential)
                .bind(i64::from(p.counter))
                .bind(p.backup_eligible)
                .bind(p.backup_state)
                .bind(ms(p.created_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn passkeys(&self, user_id: UserId) -> Result<Vec<(PasskeyInfo, String)>, StoreError> {
                let sql = format!("SELECT {PASSKEY_COLUMNS}, credential FROM passkeys WHERE user_id = $1 ORDER BY id");
                sqlx::query_as::<_, PasskeyRow>(&sql)
                    .bind(user_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(PasskeyRow::split)
                    .collect()
            }

            async fn use_passkey(
                &self,
                id: uuid::Uuid,
                credential: &str,
                counter: u32,
                backup_state: bool,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE passkeys SET credential = $1, counter = $2, backup_state = $3, last_used_at = $4 WHERE id = $5",
                )
                .bind(credential)
                .bind(i64::from(counter))
                .bind(backup_state)
                .bind(ms(now))
                .bind(id.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn rename_passkey(&self, user_id: UserId, id: uuid::Uuid, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
                    .bind(name)
                    .bind(id.to_string())
                    .bind(user_id.to_string())
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_passkey(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
                self.delete_owned("passkeys", "user_id", id, user_id.to_string()).await
            }

            async fn insert_webauthn_challenge(&self, c: &WebauthnChallenge, now: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at < $1")
                    .bind(ms(now))
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO webauthn_challenges (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(c.id.to_string())
                .bind(c.user_id.map(|u| u.to_string()))
                .bind(&c.kind)
                .bind(&c.state)
                .bind(ms(c.expires_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn take_webauthn_challenge(&self, id: uuid::Uuid) -> Result<Option<WebauthnChallenge>, StoreError> {
                let row = sqlx::query_as::<_, (Option<String>, String, String, i64)>(
                    "DELETE FROM webauthn_challenges WHERE id = $1 RETURNING user_id, kind, state, expires_at",
                )
                .bind(id.to_string())
                .fetch_optional(&self.writer)
                .await
                .map_err(db_err)?;
                let Some((user_id, kind, state, expires_at)) = row else {
                    return Ok(None);
                };
                Ok(Some(WebauthnChallenge {
                    id,
                    user_id: user_id
                        .map(|u| u.parse().map_err(|_| StoreError::Corrupt("webauthn_challenges.user_id".into())))
                        .transpose()?,
                    kind,
                    state,
                    expires_at: crate::rows::time(expires_at)?,
                }))
            }

            async fn list_devices(&self, org_id: OrgId) -> Result<Vec<Device>, StoreError> {
                self.list_owned::<DeviceRow, Device>(DEVICE_COLUMNS, "d.org_id", org_id.to_string()).await
            }

            async fn delete_device(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                let license = sqlx::query_scalar::<_, String>(
                    "DELETE FROM devices WHERE id = $1 AND org_id = $2 RETURNING license_id",
                )
                .bind(id.to_string())
                .bind(org_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(license) = license else { return Ok(false) };
                sqlx::query("UPDATE licenses SET device_count = device_count - 1 WHERE id = $1 AND device_count > 0")
                    .bind(&license)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn insert_mfa_key(&self, key: &MfaKey, secret_sealed: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO mfa_keys (id, user_id, kind, secret_sealed, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(key.id.to_string())
                .bind(key.user_id.to_string())
                .bind(&key.kind)
                .bind(secret_sealed)
                .bind(&key.status)
                .bind(ms(key.created_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn mfa_keys(&self, user_id: UserId) -> Result<Vec<(MfaKey, String)>, StoreError> {
                let sql = format!("SELECT {MFA_KEY_COLUMNS} WHERE user_id = $1 ORDER BY id");
                sqlx::query_as::<_, MfaKeyRow>(&sql)
                    .bind(user_id.to_string())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(MfaKeyRow::into_key)
                    .collect()
            }

            async fn activate_mfa_key(
                &self,
                user_id: UserId,
                id: uuid::Uuid,
                step: i64,
                recovery_hashes: &[String],
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let uid = user_id.to_string();
                let mut tx = begin(&self.writer, $begin).await?;
                let done = sqlx::query(
                    "UPDATE mfa_keys SET status = 'active', activated_at = $1, last_step = $2 \
                     WHERE id = $3 AND user_id = $4 AND status = 'activation_pending'",
                )
                .bind(ms(now))
                .bind(step)
                .bind(id.to_string())
                .bind(&uid)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("UPDATE users SET mfa_enabled = $1, updated_at = $2 WHERE id = $3")
                    .bind(true)
                    .bind(ms(now))
                    .bind(&uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                Self::write_recovery_codes(&mut tx, &uid, recovery_hashes).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn use_totp_step(&self, id: uuid::Uuid, step: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE mfa_keys SET last_step = $1 WHERE id = $2 AND (last_step IS NULL OR last_step < $1)",
                )
                .bind(step)
                .bind(id.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_mfa_key(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
                let uid = user_id.to_string();
                let mut tx = begin(&self.writer, $begin).await?;
                let done = sqlx::query("DELETE FROM mfa_keys WHERE id = $1 AND user_id = $2")
                    .bind(id.to_string())
                    .bind(&uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mfa_keys WHERE user_id = $1 AND status = 'active'")
                    .bind(&uid)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if active == 0 {
                    Self::mfa_off(&mut tx, &uid).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn disable_mfa(&self, user_id: UserId) -> Result<(), StoreError> {
                let uid = user_id.to_string();
                let mut tx = begin(&self.writer, $begin).await?;
                sqlx::query("DELETE FROM mfa_keys WHERE user_id = $1")
                    .bind(&uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                Self::mfa_off(&mut tx, &uid).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn replace_recovery_codes(&self, user_id: UserId, hashes: &[String]) -> Result<(), StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                Self::write_recovery_codes(&mut tx, &user_id.to_string(), hashes).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn use_recovery_code(&self, user_id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(ms(now))
                .bind(user_id.to_string())
                .bind(hash)
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_trusted_device(&self, d: &TrustedDevice, token_hash: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO trusted_devices (id, user_id, token_hash, name, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(d.id.to_string())
                .bind(d.user_id.to_string())
                .bind(token_hash)
                .bind(&d.name)
                .bind(ms(d.created_at))
                .bind(ms(d.expires_at))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn use_trusted_device(&self, user_id: UserId, token_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE trusted_devices SET last_used_at = $1 WHERE user_id = $2 AND token_hash = $3 AND expires_at > $1",
                )
                .bind(ms(now))
                .bind(user_id.to_string())
                .bind(token_hash)
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_trusted_devices(&self, user_id: UserId, now: DateTime<Utc>) -> Result<Vec<TrustedDevice>, StoreError> {
                let sql = format!("SELECT {TRUSTED_DEVICE_COLUMNS} WHERE user_id = $1 AND expires_at > $2 ORDER BY id DESC");
                sqlx::query_as::<_, TrustedDeviceRow>(&sql)
                    .bind(user_id.to_string())
                    .bind(ms(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(TrustedDevice::try_from)
                    .collect()
            }

            async fn delete_trusted_device(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
                self.delete_owned("trusted_devices", "user_id", id, user_id.to_string()).await
            }

            async fn set_security_questions(
                &self,
                user_id: UserId,
                questions: &[(String, String)],
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let uid = user_id.to_string();
                let mut tx = begin(&self.writer, $begin).await?;
                sqlx::query("DELETE FROM security_questions WHERE user_id = $1")
                    .bind(&uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for (i, (question, hash)) in questions.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO security_questions (user_id, position, question, answer_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&uid)
                    .bind(count(i as u64))
                    .bind(question)
                    .bind(hash)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)
            }

            async fn security_questions(&self, user_id: UserId) -> Result<Vec<(String, String)>, StoreError> {
                sqlx::query_as::<_, (String, String)>(
                    "SELECT question, answer_hash FROM security_questions WHERE user_id = $1 ORDER BY position",
                )
                .bind(user_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)
            }

            async fn locked_until(&self, key: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
                let until = sqlx::query_scalar::<_, Option<i64>>("SELECT locked_until FROM lockouts WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .flatten()
                    .filter(|t| *t > ms(now));
                until.map(crate::rows::time).transpose()
            }

            async fn record_failure(
                &self,
                key: &str,
                rule: &LockoutRule,
                now: DateTime<Utc>,
            ) -> Result<Option<DateTime<Utc>>, StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                // One statement counts the failure, forgetting stale ones: nodes racing on the
                // same account each add theirs.
                let (failures, locks) = sqlx::query_as::<_, (i64, i64)>(
                    "INSERT INTO lockouts (key, failures, locks, updated_at) VALUES ($1, 1, 0, $2) \
                     ON CONFLICT (key) DO UPDATE SET \
                     failures = CASE WHEN lockouts.updated_at < $3 THEN 1 ELSE lockouts.failures + 1 END, \
                     locks = CASE WHEN lockouts.updated_at < $4 THEN 0 ELSE lockouts.locks END, \
                     updated_at = $2 \
                     RETURNING failures, locks",
                )
                .bind(key)
                .bind(ms(now))
                .bind(ms(now - rule.window))
                .bind(ms(now - chrono::Duration::days(1)))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if failures < i64::from(rule.threshold) {
                    tx.commit().await.map_err(db_err)?;
                    return Ok(None);
                }
                let factor = 2_i64.saturating_pow(u32::try_from(locks.clamp(0, 20)).unwrap_or(20));
                let length = rule.base.num_milliseconds().saturating_mul(factor).min(rule.max.num_milliseconds());
                let until = now + chrono::Duration::milliseconds(length);
                sqlx::query("UPDATE lockouts SET failures = 0, locks = locks + 1, locked_until = $1 WHERE key = $2")
                    .bind(ms(until))
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(until))
            }

            async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM lockouts WHERE key = $1")
                    .bind(key)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn hit(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64, StoreError> {
                let hits = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                     hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + 1 ELSE 1 END, \
                     window_start = $2 RETURNING hits",
                )
                .bind(key)
                .bind(ms(window_start))
                .fetch_one(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(u64::try_from(hits).unwrap_or(0))
            }

            async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                    .bind(ms(before))
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }

            async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
                sqlx::query_as::<_, KeyRow>(
                    "SELECT kid, public_x, private_sealed, created_at FROM signing_keys ORDER BY created_at DESC",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(StoredSigningKey::try_from)
                .collect()
            }

            async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
                let mut conn = self.writer.acquire().await.map_err(db_err)?;
                insert_key::<$db>(&mut conn, key).await
            }

            async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
                // The claim and the key commit together; a concurrent claimant's INSERT waits
                // for this transaction, so when it finds the claim taken the key is there.
                let mut tx = begin(&self.writer, $begin).await?;
                let claimed = sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('first_signing_key', $1) ON CONFLICT (key) DO NOTHING",
                )
                .bind(&key.kid)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected()
                    == 1;
                if claimed {
                    insert_key::<$db>(&mut tx, key).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(claimed)
            }

            async fn issue_code(&self, code: &NewCode, message: &QueuedMessage) -> Result<(), StoreError> {
                let mut tx = begin(&self.writer, $begin).await?;
                sqlx::query(
                    "UPDATE codes SET consumed_at = $1 WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
                )
                .bind(ms(code.created_at))
                .bind(code.user_id.to_string())
                .bind(&code.purpose)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO codes (id, user_id, purpose, destination, code_hash, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(code.id.to_string())
                .bind(code.user_id.to_string())
                .bind(&code.purpose)
                .bind(&code.destination)
                .bind(&code.code_hash)
                .bind(&code.token_hash)
                .bind(ms(code.created_at))
                .bind(ms(code.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                Self::insert_message(&mut *tx, message).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn live_code(&self, user_id: UserId, purpose: &str) -> Result<Option<StoredCode>, StoreError> {
                let sql = format!(
                    "SELECT {CODE_COLUMNS} WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL ORDER BY id DESC LIMIT 1"
                );
                sqlx::query_as::<_, CodeRow>(&sql)
                    .bind(user_id.to_string())
                    .bind(purpose)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(StoredCode::try_from)
                    .transpose()
            }

            async fn live_code_to(&self, purpose: &str, destination: &str) -> Result<Option<StoredCode>, StoreError> {
                let sql = format!(
                    "SELECT {CODE_COLUMNS} WHERE purpose = $1 AND destination = $2 AND consumed_at IS NULL ORDER BY id DESC LIMIT 1"
                );
                sqlx::query_as::<_, CodeRow>(&sql)
                    .bind(purpose)
                    .bind(destination)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(StoredCode::try_from)
                    .transpose()
            }

            async fn code_by_token(&self, token_hash: &str) -> Result<Option<StoredCode>, StoreError> {
                let sql = format!("SELECT {CODE_COLUMNS} WHERE token_hash = $1");
                sqlx::query_as::<_, CodeRow>(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(StoredCode::try_from)
                    .transpose()
            }

            async fn take_code_try(&self, id: uuid::Uuid, max_attempts: u32) -> Result<Option<u32>, StoreError> {
                let n = sqlx::query_scalar::<_, i64>(
                    "UPDATE codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 RETURNING attempts",
                )
                .bind(id.to_string())
                .bind(i64::from(max_attempts))
                .fetch_optional(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
            }

            async fn return_code_try(&self, id: uuid::Uuid) -> Result<(), StoreError> {
                sqlx::query("UPDATE codes SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0")
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn consume_code(&self, id: uuid::Uuid, max_attempts: u32, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE codes SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND attempts < $3 AND expires_at > $1",
                )
                .bind(ms(now))
                .bind(id.to_string())
                .bind(i64::from(max_attempts))
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_verified(&self, user_id: UserId, key: &LookupKey, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let (sql, value) = match key {
                    LookupKey::Email(v) => ("UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3 AND email = $4", v),
                    LookupKey::Phone(v) => ("UPDATE users SET phone_verified = $1, updated_at = $2 WHERE id = $3 AND phone = $4", v),
                    LookupKey::Username(_) => return Ok(false),
                };
                let done = sqlx::query(sql)
                    .bind(true)
                    .bind(ms(now))
                    .bind(user_id.to_string())
                    .bind(value)
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn enqueue(&self, message: &QueuedMessage) -> Result<(), StoreError> {
                Self::insert_message(&self.writer, message).await
            }

            async fn count_messages(&self, recipient: &str, purpose: &str, since: [DateTime<Utc>; 2]) -> Result<[u64; 2], StoreError> {
                let (a, b) = sqlx::query_as::<_, (i64, i64)>(
                    "SELECT COALESCE(SUM(CASE WHEN created_at >= $3 THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN created_at >= $4 THEN 1 ELSE 0 END), 0) \
                     FROM outbox WHERE recipient = $1 AND purpose = $2 AND created_at >= $5",
                )
                .bind(recipient)
                .bind(purpose)
                .bind(ms(since[0]))
                .bind(ms(since[1]))
                .bind(ms(since[0].min(since[1])))
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                Ok([n(a), n(b)])
            }

            async fn claim_messages(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: usize,
            ) -> Result<Vec<QueuedMessage>, StoreError> {
                let sql = concat!(
                    "UPDATE outbox SET locked_until = $1, attempts = attempts + 1 WHERE id IN (",
                    "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 ",
                    "AND (locked_until IS NULL OR locked_until <= $2) ORDER BY id LIMIT $3 ",
                    $claim_lock,
                    ") RETURNING id, org_id, purpose, recipient, payload, created_at, attempts"
                );
                let mut claimed = sqlx::query_as::<_, OutboxRow>(sql)
                    .bind(ms(lease_until))
                    .bind(ms(now))
                    .bind(count(limit as u64))
                    .fetch_all(&self.writer)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(QueuedMessage::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                claimed.sort_by_key(|m| m.id);
                Ok(claimed)
            }

            async fn message_sent(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET sent_at = $1, payload = '', locked_until = NULL, last_error = NULL WHERE id = $2",
                )
                .bind(ms(now))
                .bind(id.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn message_failed(
                &self,
                id: uuid::Uuid,
                retry_at: Option<DateTime<Utc>>,
                error: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let q = match retry_at {
                    Some(at) => sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3",
                    )
                    .bind(ms(at)),
                    None => sqlx::query(
                        "UPDATE outbox SET failed_at = $1, payload = '', locked_until = NULL, last_error = $2 WHERE id = $3",
                    )
                    .bind(ms(now)),
                };
                q.bind(error).bind(id.to_string()).execute(&self.writer).await.map_err(db_err)?;
                Ok(())
            }

            async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
                let (pending, retrying, failed) = sqlx::query_as::<_, (i64, i64, i64)>(
                    "SELECT \
                     COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL AND last_error IS NULL THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
                     FROM outbox WHERE sent_at IS NULL",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                Ok(OutboxStats { pending: n(pending), retrying: n(retrying), failed: n(failed) })
            }

            async fn record_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events (id, org_id, type, user_id, actor_id, ip, user_agent, at, details) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.id.to_string())
                .bind(e.org_id.map(|o| o.to_string()))
                .bind(&e.kind)
                .bind(e.user_id.map(|u| u.to_string()))
                .bind(e.actor_id.map(|u| u.to_string()))
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(ms(e.at))
                .bind(e.details.to_string())
                .execute(&self.writer)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT id, org_id, type, user_id, actor_id, ip, user_agent, at, details FROM audit_events WHERE 1 = 1",
                );
                if let Some(org) = f.org_id {
                    qb.push(" AND org_id = ").push_bind(org.to_string());
                }
                if let Some(user) = f.user_id {
                    qb.push(" AND user_id = ").push_bind(user.to_string());
                }
                if let Some(kind) = &f.kind {
                    qb.push(" AND type = ").push_bind(kind.clone());
                }
                if let Some(since) = f.since {
                    qb.push(" AND at >= ").push_bind(ms(since));
                }
                if let Some(until) = f.until {
                    qb.push(" AND at < ").push_bind(ms(until));
                }
                if let Some(before) = f.before {
                    qb.push(" AND id < ").push_bind(before.to_string());
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
                qb.build_query_as::<AuditRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(AuditEvent::try_from)
                    .collect()
            }

            async fn purge_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
                    .bind(ms(before))
                    .execute(&self.writer)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

sql_store!(SqliteStore, SqlitePool, sqlx::Sqlite, "", "BEGIN IMMEDIATE");
sql_store!(
    PgStore,
    PgPool,
    sqlx::Postgres,
    "FOR UPDATE SKIP LOCKED",
    "BEGIN"
);
