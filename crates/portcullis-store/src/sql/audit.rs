//! The audit log. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::audit::AuditEvent;
use portcullis_core::store::{AuditFilter, AuditStore, StoreError};
use sqlx::QueryBuilder;

use crate::rows::{db_err, ms, AuditRow};

use super::{Db, This};

#[async_trait]
impl AuditStore for This {
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
        let mut qb = QueryBuilder::<Db>::new(
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
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
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
