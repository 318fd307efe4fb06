//! SCIM provisioning: tokens, the SCIM attributes kept beside an account, and the search
//! SCIM lists users by. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::model::User;
use portcullis_core::scim::user::ScimAttributes;
use portcullis_core::scim::CompareOp;
use portcullis_core::store::{Member, ScimGroup, UserStore};
use portcullis_core::store::{
    NewUser, Profile, ScimColumn, ScimCond, ScimSearch, ScimStore, ScimToken, ScimValue, StoreError,
};
use portcullis_core::OrgId;
use sqlx::{FromRow, QueryBuilder};

use crate::pooled::Tx;
use crate::rows::{db_err, ms, time, UserRow, USER_COLUMNS};

use super::{Db, This, BEGIN};
use crate::sql::begin;

/// A user row with its SCIM columns.
#[derive(Debug, FromRow)]
struct ScimUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    scim_user_name: Option<String>,
    external_id: Option<String>,
    scim_data: Option<String>,
}

#[derive(Debug, FromRow)]
struct ScimTokenRow {
    id: String,
    org_id: String,
    description: String,
    prefix: String,
    created_by: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
}

const TOKEN_COLUMNS: &str =
    "id, org_id, description, prefix, created_by, created_at, last_used_at FROM scim_tokens";

impl TryFrom<ScimTokenRow> for ScimToken {
    type Error = StoreError;
    fn try_from(r: ScimTokenRow) -> Result<Self, StoreError> {
        let bad = |_| StoreError::Corrupt("scim token".into());
        Ok(Self {
            id: r.id.parse().map_err(bad)?,
            org_id: r
                .org_id
                .parse()
                .map_err(|_| StoreError::Corrupt("org id".into()))?,
            description: r.description,
            prefix: r.prefix,
            created_by: r
                .created_by
                .map(|u| u.parse().map_err(|_| StoreError::Corrupt("user id".into())))
                .transpose()?,
            created_at: time(r.created_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}

/// The columns of a user with its SCIM columns.
fn scim_user_columns() -> String {
    USER_COLUMNS.replacen(
        " FROM users u",
        ", u.scim_user_name, u.external_id, u.scim_data FROM users u",
        1,
    )
}

/// The case-folded key `userName` uniqueness and look-ups use.
fn user_name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The SQL expression of a column.
fn expr(c: ScimColumn) -> &'static str {
    match c {
        ScimColumn::Id => "u.id",
        ScimColumn::UserName => "COALESCE(u.scim_user_name, u.username, u.email, u.phone, u.id)",
        ScimColumn::ExternalId => "u.external_id",
        ScimColumn::GivenName => "u.first_name",
        ScimColumn::FamilyName => "u.last_name",
        ScimColumn::Email => "u.email",
        ScimColumn::Phone => "u.phone",
        ScimColumn::Active => "u.active",
        ScimColumn::Created => "u.created_at",
        ScimColumn::LastModified => "u.updated_at",
    }
}

/// `%`, `_` and `\` escaped for LIKE.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn push_cond(qb: &mut QueryBuilder<'_, Db>, cond: &ScimCond) {
    match cond {
        ScimCond::True => {
            qb.push("1 = 1");
        }
        ScimCond::And(a, b) | ScimCond::Or(a, b) => {
            qb.push("(");
            push_cond(qb, a);
            qb.push(if matches!(cond, ScimCond::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            });
            push_cond(qb, b);
            qb.push(")");
        }
        ScimCond::Not(a) => {
            qb.push("NOT (");
            push_cond(qb, a);
            qb.push(")");
        }
        ScimCond::Present(c) => {
            let e = expr(*c);
            match c {
                ScimColumn::Active | ScimColumn::Created | ScimColumn::LastModified => {
                    qb.push(format!("{e} IS NOT NULL"));
                }
                _ => {
                    qb.push(format!("({e} IS NOT NULL AND {e} <> '')"));
                }
            }
        }
        ScimCond::Compare {
            column,
            op,
            value,
            case_exact,
        } => {
            let e = expr(*column);
            let sql_op = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "<>",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
            };
            match value {
                ScimValue::Bool(b) => {
                    qb.push(format!("{e} {sql_op} ")).push_bind(*b);
                }
                ScimValue::Time(t) => {
                    qb.push(format!("{e} {sql_op} ")).push_bind(ms(*t));
                }
                ScimValue::Text(s) => {
                    let (lhs, v) = if *case_exact {
                        (e.to_owned(), s.clone())
                    } else {
                        (format!("LOWER({e})"), s.to_lowercase())
                    };
                    // A missing value is not equal to anything: `ne` holds for it.
                    if *op == CompareOp::Ne {
                        qb.push(format!("({e} IS NULL OR {lhs} <> "))
                            .push_bind(v)
                            .push(")");
                        return;
                    }
                    let bound = match op {
                        CompareOp::Co => format!("%{}%", escaped(&v)),
                        CompareOp::Sw => format!("{}%", escaped(&v)),
                        CompareOp::Ew => format!("%{}", escaped(&v)),
                        _ => v,
                    };
                    qb.push(format!("{lhs} {sql_op} ")).push_bind(bound);
                    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                        qb.push(" ESCAPE '\\'");
                    }
                }
            }
        }
    }
}

impl This {
    async fn scim_rows(
        &self,
        rows: Vec<ScimUserRow>,
    ) -> Result<Vec<(User, ScimAttributes)>, StoreError> {
        let mut extras = Vec::with_capacity(rows.len());
        let mut users = Vec::with_capacity(rows.len());
        for r in rows {
            let data = match r.scim_data.as_deref() {
                Some(s) => {
                    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("scim_data".into()))?
                }
                None => serde_json::Map::new(),
            };
            extras.push(ScimAttributes {
                user_name: r.scim_user_name,
                external_id: r.external_id,
                data,
            });
            users.push(r.user);
        }
        let users = self.users_from(users).await?;
        Ok(users.into_iter().map(|c| c.user).zip(extras).collect())
    }

    async fn write_scim_columns(
        tx: &mut Tx<Db>,
        id: UserId,
        scim: &ScimAttributes,
    ) -> Result<(), StoreError> {
        let data = (!scim.data.is_empty())
            .then(|| serde_json::Value::Object(scim.data.clone()).to_string());
        sqlx::query(
            "UPDATE users SET scim_user_name = $1, scim_user_name_key = $2, external_id = $3, \
             scim_data = $4 WHERE id = $5",
        )
        .bind(&scim.user_name)
        .bind(scim.user_name.as_deref().map(user_name_key))
        .bind(&scim.external_id)
        .bind(data)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match db_err(e) {
            // The one unique key this statement can break.
            StoreError::Conflict { .. } => StoreError::Conflict { what: "userName" },
            e => e,
        })?;
        Ok(())
    }
}

#[derive(Debug, FromRow)]
struct GroupRow {
    id: String,
    org_id: String,
    display_name: String,
    role: String,
    external_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const GROUP_COLUMNS: &str =
    "id, org_id, display_name, role, external_id, created_at, updated_at FROM scim_groups";

impl TryFrom<GroupRow> for ScimGroup {
    type Error = StoreError;
    fn try_from(r: GroupRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r
                .id
                .parse()
                .map_err(|_| StoreError::Corrupt("group id".into()))?,
            org_id: r
                .org_id
                .parse()
                .map_err(|_| StoreError::Corrupt("org id".into()))?,
            display_name: r.display_name,
            role: r.role,
            external_id: r.external_id,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

/// Gives `role` to those of `ids` who are users of `org` (not guests), in `tx`.
async fn grant(
    tx: &mut Tx<Db>,
    org: OrgId,
    role: &str,
    ids: &[UserId],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO user_roles (user_id, role, added_at) SELECT u.id, ",
        );
        qb.push_bind(role.to_owned())
            .push(", ")
            .push_bind(ms(at))
            .push(" FROM users u WHERE u.org_id = ")
            .push_bind(org.to_string())
            .push(" AND u.anonymous = ")
            .push_bind(false)
            .push(" AND u.id IN (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(id.to_string());
        }
        qb.push(") ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    Ok(())
}

/// Takes `role` from those of `ids` (all of `org`'s users when `None`), in `tx`.
async fn revoke(
    tx: &mut Tx<Db>,
    org: OrgId,
    role: &str,
    ids: Option<&[UserId]>,
) -> Result<(), StoreError> {
    let statement = |chunk: Option<&[UserId]>| {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM user_roles WHERE role = ");
        qb.push_bind(role.to_owned())
            .push(" AND user_id IN (SELECT id FROM users WHERE org_id = ")
            .push_bind(org.to_string())
            .push(")");
        if let Some(chunk) = chunk {
            qb.push(" AND user_id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.to_string());
            }
            qb.push(")");
        }
        qb
    };
    match ids {
        None => {
            statement(None)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        Some(ids) => {
            for chunk in ids.chunks(500) {
                statement(Some(chunk))
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
    }
    Ok(())
}

fn group_conflict(e: sqlx::Error) -> StoreError {
    match db_err(e) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            what: "displayName",
        },
        e => e,
    }
}

#[async_trait]
impl ScimStore for This {
    async fn insert_scim_token(&self, t: &ScimToken, hash: &str) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO scim_tokens (id, org_id, description, token_hash, prefix, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(&t.description)
        .bind(hash)
        .bind(&t.prefix)
        .bind(t.created_by.map(|u| u.to_string()))
        .bind(ms(t.created_at));
        self.write_one(insert).await?;
        Ok(())
    }

    async fn scim_tokens(&self, org_id: OrgId) -> Result<Vec<ScimToken>, StoreError> {
        sqlx::query_as::<_, ScimTokenRow>(&format!(
            "SELECT {TOKEN_COLUMNS} WHERE org_id = $1 ORDER BY id DESC"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(ScimToken::try_from)
        .collect()
    }

    async fn delete_scim_token(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        self.delete_owned("scim_tokens", "org_id", id, org_id.to_string())
            .await
    }

    async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimToken>, StoreError> {
        sqlx::query_as::<_, ScimTokenRow>(&format!("SELECT {TOKEN_COLUMNS} WHERE token_hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(ScimToken::try_from)
            .transpose()
    }

    async fn touch_scim_token(&self, id: uuid::Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(ms(at))
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_scim_user(
        &self,
        user: &NewUser,
        scim: &ScimAttributes,
    ) -> Result<User, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        Self::insert_user_rows(&mut tx, std::slice::from_ref(user)).await?;
        Self::write_scim_columns(&mut tx, user.id, scim).await?;
        super::audit::commit(tx).await?;
        self.user_by_id(user.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("user vanished".into()))
    }

    async fn update_scim_user(
        &self,
        id: UserId,
        p: &Profile,
        active: bool,
        scim: &ScimAttributes,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE users SET email = $1, email_verified = $2, phone = $3, phone_verified = $4, \
             first_name = $5, last_name = $6, active = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&p.email)
        .bind(p.email_verified)
        .bind(&p.phone)
        .bind(p.phone_verified)
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(active)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        Self::write_scim_columns(&mut tx, id, scim).await?;
        if !active {
            Self::end_sessions_of_deactivated(&mut tx, id, now).await?;
        }
        super::audit::commit(tx).await?;
        self.user_by_id(id).await
    }

    async fn scim_user(
        &self,
        org_id: OrgId,
        id: UserId,
    ) -> Result<Option<(User, ScimAttributes)>, StoreError> {
        let row = sqlx::query_as::<_, ScimUserRow>(&format!(
            "SELECT {} WHERE u.id = $1 AND u.org_id = $2 AND u.anonymous = $3",
            scim_user_columns()
        ))
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(false)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(self.scim_rows(row.into_iter().collect()).await?.pop())
    }

    async fn scim_users(
        &self,
        s: &ScimSearch,
    ) -> Result<(u64, Vec<(User, ScimAttributes)>), StoreError> {
        let filtered = |qb: &mut QueryBuilder<'_, Db>| {
            qb.push(" WHERE u.org_id = ")
                .push_bind(s.org_id.to_string())
                .push(" AND u.anonymous = ")
                .push_bind(false)
                .push(" AND (");
            push_cond(qb, &s.cond);
            qb.push(")");
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM users u");
        filtered(&mut count);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        let columns = scim_user_columns();
        let (select, from) = columns
            .split_once(" FROM ")
            .ok_or_else(|| StoreError::Corrupt("columns".into()))?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {select} FROM {from}"));
        filtered(&mut qb);
        let dir = if s.descending { "DESC" } else { "ASC" };
        match s.sort {
            // Text sorts ignoring case, as SCIM compares it.
            Some(c @ (ScimColumn::Active | ScimColumn::Created | ScimColumn::LastModified)) => {
                qb.push(format!(" ORDER BY {} {dir}, u.id {dir}", expr(c)))
            }
            Some(c) => qb.push(format!(" ORDER BY LOWER({}) {dir}, u.id {dir}", expr(c))),
            None => qb.push(format!(" ORDER BY u.id {dir}")),
        };
        if let Some(limit) = s.limit {
            qb.push(" LIMIT ")
                .push_bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .push(" OFFSET ")
                .push_bind(i64::try_from(s.offset).unwrap_or(i64::MAX));
        }
        let rows = qb
            .build_query_as::<ScimUserRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok((
            u64::try_from(total).unwrap_or(0),
            self.scim_rows(rows).await?,
        ))
    }

    async fn insert_scim_group(&self, g: &ScimGroup, members: &[UserId]) -> Result<(), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "INSERT INTO scim_groups (id, org_id, display_name, display_key, role, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(g.id.to_string())
        .bind(g.org_id.to_string())
        .bind(&g.display_name)
        .bind(g.display_name.to_lowercase())
        .bind(&g.role)
        .bind(&g.external_id)
        .bind(ms(g.created_at))
        .bind(ms(g.updated_at))
        .execute(&mut tx)
        .await
        .map_err(group_conflict)?;
        grant(&mut tx, g.org_id, &g.role, members, g.created_at).await?;
        super::audit::commit(tx).await
    }

    async fn scim_groups(&self, org_id: OrgId) -> Result<Vec<ScimGroup>, StoreError> {
        sqlx::query_as::<_, GroupRow>(&format!(
            "SELECT {GROUP_COLUMNS} WHERE org_id = $1 ORDER BY display_key, id"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(ScimGroup::try_from)
        .collect()
    }

    async fn scim_group(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<ScimGroup>, StoreError> {
        sqlx::query_as::<_, GroupRow>(&format!(
            "SELECT {GROUP_COLUMNS} WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(ScimGroup::try_from)
        .transpose()
    }

    async fn role_members(&self, org_id: OrgId, role: &str) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query_as::<_, (String, String)>(&format!(
            "SELECT u.id, {} FROM user_roles r JOIN users u ON u.id = r.user_id \
             WHERE r.role = $1 AND u.org_id = $2 AND u.anonymous = $3 ORDER BY u.id",
            expr(ScimColumn::UserName)
        ))
        .bind(role)
        .bind(org_id.to_string())
        .bind(false)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, user_name)| Member { id, user_name })
            .collect())
    }

    async fn org_users_among(
        &self,
        org_id: OrgId,
        ids: &[UserId],
    ) -> Result<Vec<UserId>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Db>::new("SELECT id FROM users WHERE org_id = ");
            qb.push_bind(org_id.to_string())
                .push(" AND anonymous = ")
                .push_bind(false)
                .push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.to_string());
            }
            qb.push(")");
            let rows: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            for r in rows {
                found.push(
                    r.parse()
                        .map_err(|_| StoreError::Corrupt("user id".into()))?,
                );
            }
        }
        Ok(found)
    }

    async fn update_scim_group(
        &self,
        g: &ScimGroup,
        old_role: &str,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE scim_groups SET display_name = $1, display_key = $2, role = $3, external_id = $4, \
             updated_at = $5 WHERE org_id = $6 AND id = $7",
        )
        .bind(&g.display_name)
        .bind(g.display_name.to_lowercase())
        .bind(&g.role)
        .bind(&g.external_id)
        .bind(ms(g.updated_at))
        .bind(g.org_id.to_string())
        .bind(g.id.to_string())
        .execute(&mut tx)
        .await
        .map_err(group_conflict)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if old_role != g.role {
            // The members keep their membership under the new name: those who hold the new
            // role already keep it once.
            let members: Vec<String> = sqlx::query_scalar(
                "SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id \
                 WHERE r.role = $1 AND u.org_id = $2",
            )
            .bind(old_role)
            .bind(g.org_id.to_string())
            .fetch_all(&mut tx)
            .await
            .map_err(db_err)?;
            let members: Vec<UserId> = members.iter().filter_map(|m| m.parse().ok()).collect();
            revoke(&mut tx, g.org_id, old_role, None).await?;
            grant(&mut tx, g.org_id, &g.role, &members, g.updated_at).await?;
        }
        revoke(&mut tx, g.org_id, &g.role, Some(remove)).await?;
        grant(&mut tx, g.org_id, &g.role, add, g.updated_at).await?;
        super::audit::commit(tx).await?;
        Ok(true)
    }

    async fn delete_scim_group(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let role: Option<String> = sqlx::query_scalar(
            "DELETE FROM scim_groups WHERE org_id = $1 AND id = $2 RETURNING role",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut tx)
        .await
        .map_err(db_err)?;
        let Some(role) = role else {
            return Ok(false);
        };
        revoke(&mut tx, org_id, &role, None).await?;
        super::audit::commit(tx).await?;
        Ok(true)
    }
}
