//! Users: accounts, credentials, profiles, roles, numbers and security questions. Written once,
//! compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::{SessionId, UserId};
use portcullis_core::model::{Credentials, Role, User};
use portcullis_core::store::{
    attached_events, CodeIssue, CodeOutcome, LookupKey, NewUser, Profile, StoreError, UserFilter,
    UserStore,
};
use portcullis_core::OrgId;
use sqlx::QueryBuilder;

use crate::pooled::Tx;
use crate::rows::{
    db_err, ms, user_with_roles, RoleRow, UserRoleRow, UserRow, USER_COLUMNS, USER_ROLE_COLUMNS,
};

use super::{Db, This, BEGIN, WRITES_IN_WITH};
use crate::sql::{begin, count, like_pattern};

/// `INSERT INTO users ... VALUES` of `users`.
fn push_users(qb: &mut QueryBuilder<'_, Db>, users: &[NewUser]) {
    qb.push(
        "INSERT INTO users (id, org_id, email, email_verified, phone, phone_verified, username, \
         username_key, first_name, last_name, password_hash, anonymous, active, attributes, \
         created_at, updated_at) ",
    );
    qb.push_values(users, |mut row, user| {
        let p = &user.profile;
        row.push_bind(user.id.to_string())
            .push_bind(user.org_id.to_string())
            .push_bind(p.email.clone())
            .push_bind(p.email_verified)
            .push_bind(p.phone.clone())
            .push_bind(p.phone_verified)
            .push_bind(p.username.clone())
            .push_bind(p.username_key())
            .push_bind(p.first_name.clone())
            .push_bind(p.last_name.clone())
            .push_bind(user.password_hash.clone())
            .push_bind(user.anonymous)
            .push_bind(user.active)
            .push_bind(p.attributes.to_json())
            .push_bind(ms(user.created_at))
            .push_bind(ms(user.created_at));
    });
}

/// `INSERT INTO user_roles ... VALUES` of each user's roles.
fn push_roles(qb: &mut QueryBuilder<'_, Db>, roles: &[(&NewUser, &String)]) {
    qb.push("INSERT INTO user_roles (user_id, role, added_at) ");
    qb.push_values(roles, |mut row, (user, role)| {
        row.push_bind(user.id.to_string())
            .push_bind((*role).clone())
            .push_bind(ms(user.created_at));
    });
}

impl This {
    pub(super) async fn roles_of(&self, ids: &[&str]) -> Result<Vec<RoleRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT user_id, role, added_at FROM user_roles WHERE user_id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.to_string());
        }
        qb.push(")");
        qb.build_query_as::<RoleRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    pub(super) async fn users_from(
        &self,
        rows: Vec<UserRow>,
    ) -> Result<Vec<Credentials>, StoreError> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut roles = self.roles_of(&ids).await?;
        rows.into_iter()
            .map(|r| r.into_credentials(&mut roles))
            .collect()
    }

    /// Inserts users and their roles in `tx`, in multi-row statements (on PostgreSQL, one
    /// statement a chunk of users, with their roles); answers the slug of the first user's
    /// organization, which the created user is answered with.
    pub(super) async fn insert_user_rows(
        tx: &mut Tx<Db>,
        users: &[NewUser],
    ) -> Result<Option<String>, StoreError> {
        let Some(first) = users.first() else {
            return Ok(None);
        };
        let mut slug = None;
        for chunk in users.chunks(500) {
            let roles: Vec<(&NewUser, &String)> = chunk
                .iter()
                .flat_map(|u| u.roles.iter().map(move |r| (u, r)))
                .collect();
            let together = WRITES_IN_WITH && !roles.is_empty() && roles.len() <= 2000;
            let mut qb = QueryBuilder::<Db>::new(if together { "WITH u AS (" } else { "" });
            push_users(&mut qb, chunk);
            if together {
                qb.push("), r AS (");
                push_roles(&mut qb, &roles);
                qb.push(") SELECT slug FROM organizations WHERE id = ")
                    .push_bind(first.org_id.to_string());
                let found: Option<String> = qb
                    .build_query_scalar()
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                slug = slug.or(found);
                continue;
            }
            qb.build().execute(&mut *tx).await.map_err(db_err)?;
            for roles in roles.chunks(2000) {
                let mut qb = QueryBuilder::<Db>::new("");
                push_roles(&mut qb, roles);
                qb.build().execute(&mut *tx).await.map_err(db_err)?;
            }
        }
        if slug.is_none() {
            slug = sqlx::query_scalar::<_, String>("SELECT slug FROM organizations WHERE id = $1")
                .bind(first.org_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        Ok(slug)
    }

    /// Ends every open session of a user just deactivated, in `tx`.
    pub(super) async fn end_sessions_of_deactivated(
        tx: &mut Tx<Db>,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'deactivated' \
             WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(super) async fn user_where(
        &self,
        clause: &str,
        bind: String,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_ROLE_COLUMNS} WHERE {clause}");
        let rows = sqlx::query_as::<_, UserRoleRow>(&sql)
            .bind(bind)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(user_with_roles(rows)?.map(|c| c.user))
    }
}

#[async_trait]
impl UserStore for This {
    async fn user_number(&self, user_id: UserId) -> Result<u32, StoreError> {
        let id = user_id.to_string();
        for _ in 0..5 {
            let known =
                sqlx::query_scalar::<_, i64>("SELECT number FROM user_numbers WHERE user_id = $1")
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
        Err(StoreError::Unavailable(
            "could not give the user a number".into(),
        ))
    }

    async fn user_by_number(&self, number: u32) -> Result<Option<UserId>, StoreError> {
        let id = sqlx::query_scalar::<_, Option<String>>(
            "SELECT user_id FROM user_numbers WHERE number = $1",
        )
        .bind(i64::from(number))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .flatten();
        id.map(|s| s.parse().map_err(|_| StoreError::Corrupt("user id".into())))
            .transpose()
    }

    async fn create_user(
        &self,
        user: &NewUser,
        codes: &[CodeIssue],
    ) -> Result<(User, Vec<CodeOutcome>), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let slug = Self::insert_user_rows(&mut tx, std::slice::from_ref(user))
            .await?
            .ok_or_else(|| StoreError::Corrupt("a user of no organization".into()))?;
        let mut events = attached_events();
        let mut outcomes = Vec::with_capacity(codes.len());
        for issue in codes {
            let outcome = Self::issue_code_in(&mut tx, issue).await?;
            events.extend(issue.event(outcome).cloned());
            outcomes.push(outcome);
        }
        super::audit::commit_events(tx, events).await?;
        Ok((crate::rows::inserted_user(user, slug)?, outcomes))
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<u64, StoreError> {
        // Multi-row statements in one transaction: all or nothing, and fast enough to
        // import millions (500 rows x 15 values stays under SQLite's variable limit).
        let mut tx = begin(&self.writer, BEGIN).await?;
        Self::insert_user_rows(&mut tx, users).await?;
        super::audit::commit(tx).await?;
        Ok(users.len() as u64)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.user_where("u.id = $1", id.to_string()).await
    }

    async fn credentials(
        &self,
        org_id: OrgId,
        key: &LookupKey,
    ) -> Result<Option<Credentials>, StoreError> {
        let (column, value) = match key {
            LookupKey::Email(v) => ("u.email", v),
            LookupKey::Phone(v) => ("u.phone", v),
            LookupKey::Username(v) => ("u.username_key", v),
        };
        let sql = format!("SELECT {USER_ROLE_COLUMNS} WHERE u.org_id = $1 AND {column} = $2");
        let rows = sqlx::query_as::<_, UserRoleRow>(&sql)
            .bind(org_id.to_string())
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        user_with_roles(rows)
    }

    async fn password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT password_hash FROM users WHERE id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .flatten(),
        )
    }

    async fn update_profile(
        &self,
        id: UserId,
        p: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
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
        .bind(p.username_key())
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(p.attributes.to_json())
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        super::audit::commit(tx).await?;
        self.user_by_id(id).await
    }

    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query("UPDATE users SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(active)
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if !active {
            Self::end_sessions_of_deactivated(&mut tx, id, now).await?;
        }
        super::audit::commit(tx).await?;
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
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'password_changed' \
             WHERE user_id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .bind(keep.map(|k| k.to_string()))
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await
    }

    async fn upgrade_anonymous(
        &self,
        id: UserId,
        p: &Profile,
        password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let done = self.write_one(
sqlx::query(
            "UPDATE users SET email = $1, email_verified = $2, phone = $3, phone_verified = $4, username = $5, \
             username_key = $6, first_name = $7, last_name = $8, password_hash = $9, anonymous = $10, \
             updated_at = $11 WHERE id = $12 AND anonymous = $13",
        )
        .bind(&p.email)
        .bind(p.email_verified)
        .bind(&p.phone)
        .bind(p.phone_verified)
        .bind(&p.username)
        .bind(p.username_key())
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(password_hash)
        .bind(false)
        .bind(ms(now))
        .bind(id.to_string())
        .bind(true),
        )
        .await?;
        if done == 0 {
            return Ok(None);
        }
        self.user_by_id(id).await
    }

    async fn delete_idle_anonymous(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<Vec<(UserId, OrgId)>, StoreError> {
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
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::audit::commit(tx).await?;
        Ok(true)
    }

    async fn list_credentials(&self, f: &UserFilter) -> Result<Vec<Credentials>, StoreError> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {USER_COLUMNS} WHERE 1 = 1"));
        if let Some(org) = f.org_id {
            qb.push(" AND u.org_id = ").push_bind(org.to_string());
        }
        if let Some(q) = f.query.as_deref().filter(|q| !q.is_empty()) {
            let pat = like_pattern(q);
            qb.push(" AND (");
            for (i, col) in [
                "u.email",
                "u.phone",
                "u.username_key",
                "lower(u.first_name)",
                "lower(u.last_name)",
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push(format!("coalesce({col}, '') LIKE "))
                    .push_bind(pat.clone())
                    .push(" ESCAPE '\\'");
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
        qb.push(" ORDER BY u.id LIMIT ")
            .push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
        let rows = qb
            .build_query_as::<UserRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        self.users_from(rows).await
    }

    async fn set_roles(
        &self,
        id: UserId,
        roles: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Role>>, StoreError> {
        let uid = id.to_string();
        let mut tx = begin(&self.writer, BEGIN).await?;
        let exists = sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE id = $1")
            .bind(&uid)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_err)?;
        if exists.is_none() {
            return Ok(None);
        }
        let held: Vec<String> =
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1")
                .bind(&uid)
                .fetch_all(&mut tx)
                .await
                .map_err(db_err)?;
        for gone in held.iter().filter(|h| !roles.contains(h)) {
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                .bind(&uid)
                .bind(gone)
                .execute(&mut tx)
                .await
                .map_err(db_err)?;
        }
        for new in roles.iter().filter(|r| !held.contains(r)) {
            sqlx::query("INSERT INTO user_roles (user_id, role, added_at) VALUES ($1, $2, $3)")
                .bind(&uid)
                .bind(new)
                .bind(ms(now))
                .execute(&mut tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(&uid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(self.user_by_id(id).await?.map(|u| u.roles))
    }

    async fn set_security_questions(
        &self,
        user_id: UserId,
        questions: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let uid = user_id.to_string();
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query("DELETE FROM security_questions WHERE user_id = $1")
            .bind(&uid)
            .execute(&mut tx)
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
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        }
        super::audit::commit(tx).await
    }

    async fn security_questions(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as::<_, (String, String)>(
            "SELECT question, answer_hash FROM security_questions WHERE user_id = $1 ORDER BY position",
        )
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }
}
