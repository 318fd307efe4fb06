//! Identity providers and linked identities. Written once, compiled for each backend (see
//! [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::{OrgId, UserId};
use portcullis_core::store::{StoreError, UpstreamStore};
use portcullis_core::upstream::{IdentityProvider, LinkedIdentity};

use crate::rows::{db_err, ms, IdentityRow, ProviderRow, IDENTITY_COLUMNS, PROVIDER_COLUMNS};

use super::{This, BEGIN};
use crate::sql::begin;

fn settings(p: &IdentityProvider) -> Result<String, StoreError> {
    serde_json::to_string(&p.config).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl UpstreamStore for This {
    async fn insert_provider(&self, p: &IdentityProvider) -> Result<(), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "INSERT INTO identity_providers (id, org_id, kind, name, enabled, settings, \
             secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(p.id.to_string())
        .bind(p.org_id.to_string())
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(p.enabled)
        .bind(settings(p)?)
        .bind(&p.secret_sealed)
        .bind(ms(p.created_at))
        .bind(ms(p.updated_at))
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        super::audit::commit(tx).await
    }

    async fn providers(&self, org_id: OrgId) -> Result<Vec<IdentityProvider>, StoreError> {
        sqlx::query_as::<_, ProviderRow>(&format!(
            "SELECT {PROVIDER_COLUMNS} WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(IdentityProvider::try_from)
        .collect()
    }

    async fn provider(
        &self,
        org_id: Option<OrgId>,
        id: uuid::Uuid,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        sqlx::query_as::<_, ProviderRow>(&format!(
            "SELECT {PROVIDER_COLUMNS} WHERE id = $1 AND ($2 = '' OR org_id = $2)"
        ))
        .bind(id.to_string())
        .bind(org_id.map(|o| o.to_string()).unwrap_or_default())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(IdentityProvider::try_from)
        .transpose()
    }

    async fn update_provider(&self, p: &IdentityProvider) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE identity_providers SET name = $1, enabled = $2, settings = $3, \
             secret_sealed = $4, updated_at = $5 WHERE org_id = $6 AND id = $7",
        )
        .bind(&p.name)
        .bind(p.enabled)
        .bind(settings(p)?)
        .bind(&p.secret_sealed)
        .bind(ms(p.updated_at))
        .bind(p.org_id.to_string())
        .bind(p.id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_provider(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "DELETE FROM user_identities WHERE provider_id = \
             (SELECT id FROM identity_providers WHERE org_id = $1 AND id = $2)",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM identity_providers WHERE org_id = $1 AND id = $2")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn identity_by_subject(
        &self,
        provider_id: uuid::Uuid,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError> {
        sqlx::query_as::<_, IdentityRow>(&format!(
            "SELECT {IDENTITY_COLUMNS} WHERE provider_id = $1 AND issuer = $2 AND subject = $3"
        ))
        .bind(provider_id.to_string())
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(LinkedIdentity::try_from)
        .transpose()
    }

    async fn identities(&self, user_id: UserId) -> Result<Vec<LinkedIdentity>, StoreError> {
        sqlx::query_as::<_, IdentityRow>(&format!(
            "SELECT {IDENTITY_COLUMNS} WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(LinkedIdentity::try_from)
        .collect()
    }

    async fn link_identity(&self, i: &LinkedIdentity) -> Result<(), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "INSERT INTO user_identities (id, user_id, provider_id, issuer, subject, email, \
             refresh_token_sealed, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(i.id.to_string())
        .bind(i.user_id.to_string())
        .bind(i.provider_id.to_string())
        .bind(&i.issuer)
        .bind(&i.subject)
        .bind(&i.email)
        .bind(&i.refresh_token_sealed)
        .bind(ms(i.created_at))
        .bind(i.last_used_at.map(ms))
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        super::audit::commit(tx).await
    }

    async fn touch_identity(
        &self,
        id: uuid::Uuid,
        at: DateTime<Utc>,
        email: Option<&str>,
        refresh_token_sealed: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE user_identities SET last_used_at = $1, email = COALESCE($2, email), \
             refresh_token_sealed = COALESCE($3, refresh_token_sealed) WHERE id = $4",
        )
        .bind(ms(at))
        .bind(email)
        .bind(refresh_token_sealed)
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn unlink_identity(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query("DELETE FROM user_identities WHERE user_id = $1 AND id = $2")
            .bind(user_id.to_string())
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }
}
