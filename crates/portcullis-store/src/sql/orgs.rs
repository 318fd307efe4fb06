//! Organizations and their policies. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use portcullis_core::model::Organization;
use portcullis_core::store::{OrgStore, StoreError};
use portcullis_core::OrgId;

use crate::rows::{db_err, ms, policy_json, OrgRow, ORG_COLUMNS};

use super::{This, BEGIN};
use crate::sql::{begin, count};

impl This {
    pub(super) async fn org_where(
        &self,
        clause: &str,
        bind: String,
    ) -> Result<Option<Organization>, StoreError> {
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
impl OrgStore for This {
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
        self.org_by_slug(&org.slug)
            .await?
            .ok_or_else(|| StoreError::Corrupt("organization vanished".into()))
    }

    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError> {
        self.org_where("slug = $1", slug.to_owned()).await
    }

    async fn org_by_id(&self, id: OrgId) -> Result<Option<Organization>, StoreError> {
        self.org_where("id = $1", id.to_string()).await
    }

    async fn insert_org(&self, org: &Organization) -> Result<Organization, StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO organizations (id, slug, name, policy, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(org.id.to_string())
        .bind(&org.slug)
        .bind(&org.name)
        .bind(policy_json(&org.policy))
        .bind(ms(org.created_at))
        .bind(ms(org.updated_at)),
        )
        .await?;
        self.org_by_slug(&org.slug)
            .await?
            .ok_or_else(|| StoreError::Corrupt("organization vanished".into()))
    }

    async fn list_orgs(
        &self,
        after: Option<OrgId>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql =
            format!("SELECT {ORG_COLUMNS} WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2");
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
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE organizations SET name = $1, policy = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&org.name)
        .bind(policy_json(&org.policy))
        .bind(ms(org.updated_at))
        .bind(org.id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        super::audit::commit(tx).await?;
        self.org_by_slug(&org.slug).await
    }
}
