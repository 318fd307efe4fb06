//! Registered OAuth clients. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::oauth::{GrantType, OAuthClient};
use portcullis_core::store::{OAuthClientStore, StoreError};
use portcullis_core::OrgId;

use crate::rows::{db_err, json_list, ms, OAuthClientRow, OAUTH_CLIENT_COLUMNS};

use super::This;

fn grant_names(grants: &[GrantType]) -> Vec<&'static str> {
    grants.iter().map(|g| g.as_str()).collect()
}

#[async_trait]
impl OAuthClientStore for This {
    async fn insert_oauth_client(
        &self,
        c: &OAuthClient,
        secret_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO oauth_clients (id, org_id, name, client_type, redirect_uris, \
             post_logout_redirect_uris, grant_types, scopes, token_endpoint_auth_method, \
             id_token_signed_response_alg, first_party, backchannel_logout_uri, \
             access_token_lifetime_secs, refresh_token_lifetime_secs, secret_hash, secret_prefix, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(c.id.to_string())
        .bind(c.org_id.to_string())
        .bind(&c.name)
        .bind(c.client_type.as_str())
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(json_list(&grant_names(&c.grant_types)))
        .bind(json_list(&c.scopes))
        .bind(c.token_endpoint_auth_method.as_str())
        .bind(c.id_token_signed_response_alg.as_str())
        .bind(c.first_party)
        .bind(c.backchannel_logout_uri.as_deref())
        .bind(c.access_token_lifetime_secs.map(i64::from))
        .bind(c.refresh_token_lifetime_secs.map(i64::from))
        .bind(secret_hash)
        .bind(c.secret_prefix.as_deref())
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at)),
        )
        .await?;
        Ok(())
    }

    async fn oauth_clients(&self, org_id: OrgId) -> Result<Vec<OAuthClient>, StoreError> {
        self.list_owned::<OAuthClientRow, OAuthClient>(
            OAUTH_CLIENT_COLUMNS,
            "org_id",
            org_id.to_string(),
        )
        .await
    }

    async fn oauth_client(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<OAuthClient>, StoreError> {
        sqlx::query_as::<_, OAuthClientRow>(&format!(
            "SELECT {OAUTH_CLIENT_COLUMNS} WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.to_string())
        .bind(org_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(OAuthClient::try_from)
        .transpose()
    }

    async fn update_oauth_client(&self, c: &OAuthClient) -> Result<bool, StoreError> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE oauth_clients SET name = $3, redirect_uris = $4, \
             post_logout_redirect_uris = $5, grant_types = $6, scopes = $7, \
             token_endpoint_auth_method = $8, id_token_signed_response_alg = $9, \
             first_party = $10, backchannel_logout_uri = $11, access_token_lifetime_secs = $12, \
             refresh_token_lifetime_secs = $13, updated_at = $14 \
             WHERE id = $1 AND org_id = $2",
                )
                .bind(c.id.to_string())
                .bind(c.org_id.to_string())
                .bind(&c.name)
                .bind(json_list(&c.redirect_uris))
                .bind(json_list(&c.post_logout_redirect_uris))
                .bind(json_list(&grant_names(&c.grant_types)))
                .bind(json_list(&c.scopes))
                .bind(c.token_endpoint_auth_method.as_str())
                .bind(c.id_token_signed_response_alg.as_str())
                .bind(c.first_party)
                .bind(c.backchannel_logout_uri.as_deref())
                .bind(c.access_token_lifetime_secs.map(i64::from))
                .bind(c.refresh_token_lifetime_secs.map(i64::from))
                .bind(ms(c.updated_at)),
            )
            .await?;
        Ok(done == 1)
    }

    async fn set_oauth_client_secret(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
        secret_hash: &str,
        secret_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = self.write_one(
sqlx::query(
            "UPDATE oauth_clients SET secret_hash = $3, secret_prefix = $4, updated_at = $5 \
             WHERE id = $1 AND org_id = $2 AND client_type = 'confidential'",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(secret_hash)
        .bind(secret_prefix)
        .bind(ms(now)),
        )
        .await?;
        Ok(done == 1)
    }

    async fn delete_oauth_client(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        self.delete_owned("oauth_clients", "org_id", id, org_id.to_string())
            .await
    }
}
