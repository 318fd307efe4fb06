//! Webhooks, their deliveries, and hooks. Written once, compiled for each backend (see
//! [`crate::sql`]). Deliveries are queued by the audit log's writer (`audit.rs`), in the
//! transaction that records the events they report.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::OrgId;
use portcullis_core::store::{StoreError, WebhookStore};
use portcullis_core::webhooks::{Attempt, Delivery, DueDelivery, Hook, HookName, Webhook};
use sqlx::Row as _;

use crate::rows::{
    db_err, event_types_column, ms, DeliveryRow, HookRow, WebhookRow, DELIVERY_COLUMNS,
    HOOK_COLUMNS, WEBHOOK_COLUMNS,
};

use super::{This, BEGIN, CLAIM_DELIVERIES};
use crate::sql::begin;

#[async_trait]
impl WebhookStore for This {
    async fn insert_webhook(&self, w: &Webhook) -> Result<(), StoreError> {
        self.write_one(
            sqlx::query(
                "INSERT INTO webhooks (id, org_id, url, event_types, enabled, failing_since, \
             secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(w.id.to_string())
            .bind(w.org_id.to_string())
            .bind(&w.url)
            .bind(event_types_column(&w.event_types))
            .bind(w.enabled)
            .bind(w.failing_since.map(ms))
            .bind(&w.secret_sealed)
            .bind(ms(w.created_at))
            .bind(ms(w.updated_at)),
        )
        .await?;
        Ok(())
    }

    async fn webhooks(&self, org_id: OrgId) -> Result<Vec<Webhook>, StoreError> {
        sqlx::query_as::<_, WebhookRow>(&format!(
            "SELECT {WEBHOOK_COLUMNS} WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Webhook::try_from)
        .collect()
    }

    async fn webhook(&self, org_id: OrgId, id: uuid::Uuid) -> Result<Option<Webhook>, StoreError> {
        sqlx::query_as::<_, WebhookRow>(&format!(
            "SELECT {WEBHOOK_COLUMNS} WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Webhook::try_from)
        .transpose()
    }

    async fn update_webhook(&self, w: &Webhook) -> Result<bool, StoreError> {
        let (previous, until) = w
            .previous_secret
            .as_ref()
            .map_or((None, None), |(sealed, until)| {
                (Some(sealed), Some(ms(*until)))
            });
        let update = sqlx::query(
            "UPDATE webhooks SET url = $1, event_types = $2, enabled = $3, secret_sealed = $4, \
             updated_at = $5, previous_secret_sealed = $6, previous_secret_until = $7 \
             WHERE org_id = $8 AND id = $9",
        )
        .bind(&w.url)
        .bind(event_types_column(&w.event_types))
        .bind(w.enabled)
        .bind(&w.secret_sealed)
        .bind(ms(w.updated_at))
        .bind(previous)
        .bind(until)
        .bind(w.org_id.to_string())
        .bind(w.id.to_string());
        let done = self.write_one(update).await?;
        Ok(done == 1)
    }

    async fn delete_webhook(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError> {
        // Deliveries first, then the endpoint: the order in which a recorded attempt takes
        // them, so that the two never wait for each other (a deadlock on PostgreSQL).
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE webhook_id = \
             (SELECT id FROM webhooks WHERE org_id = $1 AND id = $2)",
        )
        .bind(org_id.to_string())
        .bind(id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM webhooks WHERE org_id = $1 AND id = $2")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn queue_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, ordering_key, body, \
             attempts, next_at, created_at) VALUES ($1, $2, $3, $2, $4, 0, $5, $5)",
        )
        .bind(d.webhook_id.to_string())
        .bind(d.event_id.to_string())
        .bind(&d.event_type)
        .bind(&d.body)
        .bind(ms(d.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn deliveries(
        &self,
        webhook_id: uuid::Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} WHERE webhook_id = $1 ORDER BY event_id DESC LIMIT $2"
        ))
        .bind(webhook_id.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Delivery::try_from)
        .collect()
    }

    async fn redeliver(
        &self,
        webhook_id: uuid::Uuid,
        event_id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET delivered_at = NULL, failed_at = NULL, attempts = 0, \
             next_at = $1, leased_until = NULL WHERE webhook_id = $2 AND event_id = $3",
        )
        .bind(ms(now))
        .bind(webhook_id.to_string())
        .bind(event_id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let claimed = sqlx::query(CLAIM_DELIVERIES)
            .bind(ms(lease_until))
            .bind(ms(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.writer)
            .await
            .map_err(db_err)?;
        let mut due = Vec::with_capacity(claimed.len());
        // Each endpoint once: its URL, secret, and previous secret while that still signs.
        type Endpoint = (String, String, Option<String>);
        let mut endpoints: Vec<(String, Endpoint)> = Vec::new();
        for row in claimed {
            let webhook_id: String = row.try_get("webhook_id").map_err(db_err)?;
            let (url, secret_sealed, previous_secret_sealed) = match endpoints
                .iter()
                .find(|(id, _)| *id == webhook_id)
            {
                Some((_, endpoint)) => endpoint.clone(),
                None => {
                    let endpoint = sqlx::query(
                            "SELECT url, secret_sealed, CASE WHEN previous_secret_until > $2 \
                             THEN previous_secret_sealed END AS previous FROM webhooks WHERE id = $1",
                        )
                        .bind(&webhook_id)
                        .bind(ms(now))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?;
                    // Deleted since: its deliveries went with it.
                    let Some(endpoint) = endpoint else { continue };
                    let found: Endpoint = (
                        endpoint.try_get("url").map_err(db_err)?,
                        endpoint.try_get("secret_sealed").map_err(db_err)?,
                        endpoint.try_get("previous").map_err(db_err)?,
                    );
                    endpoints.push((webhook_id.clone(), found.clone()));
                    found
                }
            };
            let event_id: String = row.try_get("event_id").map_err(db_err)?;
            let attempts: i64 = row.try_get("attempts").map_err(db_err)?;
            due.push(DueDelivery {
                webhook_id: parse_id(&webhook_id)?,
                event_id: parse_id(&event_id)?,
                event_type: row.try_get("event_type").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                url,
                secret_sealed,
                previous_secret_sealed,
            });
        }
        due.sort_by_key(|d| d.event_id);
        Ok(due)
    }

    async fn record_attempt(
        &self,
        webhook_id: uuid::Uuid,
        event_id: uuid::Uuid,
        a: &Attempt,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        // Which column the attempt sets, and what becomes of the endpoint's failing mark.
        let (column, when, endpoint) = match (&a.error, retry_at) {
            (None, _) => (
                "delivered_at",
                a.at,
                // Only a failing endpoint's row is written (and locked): successes to one
                // endpoint do not queue behind each other.
                Some("UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL"),
            ),
            (Some(_), Some(retry)) => ("next_at", retry, None),
            (Some(_), None) => (
                "failed_at",
                a.at,
                Some("UPDATE webhooks SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL"),
            ),
        };
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET {column} = $1, leased_until = NULL, last_status = $2, \
             last_latency_ms = $3, last_error = $4 WHERE webhook_id = $5 AND event_id = $6"
        ))
        .bind(ms(when))
        .bind(a.status.map(i64::from))
        .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
        .bind(a.error.as_deref())
        .bind(webhook_id.to_string())
        .bind(event_id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if let Some(endpoint) = endpoint {
            let q = sqlx::query(endpoint).bind(webhook_id.to_string());
            let q = if a.error.is_some() {
                q.bind(ms(a.at))
            } else {
                q
            };
            q.execute(&mut tx).await.map_err(db_err)?;
        }
        super::audit::commit(tx).await
    }

    async fn purge_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE created_at < $1 \
             AND (delivered_at IS NOT NULL OR failed_at IS NOT NULL)",
        )
        .bind(ms(before))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn put_hook(&self, h: &Hook) -> Result<(), StoreError> {
        let (previous, until) = h
            .previous_secret
            .as_ref()
            .map_or((None, None), |(sealed, until)| {
                (Some(sealed), Some(ms(*until)))
            });
        let put = sqlx::query(
            "INSERT INTO hooks (org_id, name, url, timeout_ms, fail_closed, enabled, secret_sealed, \
             previous_secret_sealed, previous_secret_until, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (org_id, name) DO UPDATE SET url = excluded.url, \
             timeout_ms = excluded.timeout_ms, fail_closed = excluded.fail_closed, \
             enabled = excluded.enabled, secret_sealed = excluded.secret_sealed, \
             previous_secret_sealed = excluded.previous_secret_sealed, \
             previous_secret_until = excluded.previous_secret_until, \
             updated_at = excluded.updated_at",
        )
        .bind(h.org_id.to_string())
        .bind(h.name.as_str())
        .bind(&h.url)
        .bind(i64::from(h.timeout_ms))
        .bind(h.fail_closed)
        .bind(h.enabled)
        .bind(&h.secret_sealed)
        .bind(previous)
        .bind(until)
        .bind(ms(h.created_at))
        .bind(ms(h.updated_at));
        self.write_one(put).await?;
        Ok(())
    }

    async fn hooks(&self, org_id: OrgId) -> Result<Vec<Hook>, StoreError> {
        sqlx::query_as::<_, HookRow>(&format!(
            "SELECT {HOOK_COLUMNS} WHERE org_id = $1 ORDER BY name"
        ))
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Hook::try_from)
        .collect()
    }

    async fn hook(&self, org_id: OrgId, name: HookName) -> Result<Option<Hook>, StoreError> {
        sqlx::query_as::<_, HookRow>(&format!(
            "SELECT {HOOK_COLUMNS} WHERE org_id = $1 AND name = $2"
        ))
        .bind(org_id.to_string())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Hook::try_from)
        .transpose()
    }

    async fn delete_hook(&self, org_id: OrgId, name: HookName) -> Result<bool, StoreError> {
        let done = self
            .write_one(
                sqlx::query("DELETE FROM hooks WHERE org_id = $1 AND name = $2")
                    .bind(org_id.to_string())
                    .bind(name.as_str()),
            )
            .await?;
        Ok(done == 1)
    }
}

fn parse_id(s: &str) -> Result<uuid::Uuid, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s}")))
}
