//! The audit log. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::audit::AuditEvent;
use portcullis_core::ids::OrgId;
use portcullis_core::store::{attached_events, AuditFilter, AuditStore, StoreError};
use portcullis_core::webhooks::EventBody;
use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use crate::pooled::Tx;
use crate::rows::{db_err, ms, AuditRow};

use super::{Db, Pool, This, BEGIN, WRITES_IN_WITH};
use crate::sql::begin;

#[async_trait]
impl AuditStore for This {
    async fn record_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        self.audit.record(e).await
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

/// An audit event waiting to be written, and who waits for it.
type Waiting = (AuditEvent, oneshot::Sender<Result<(), StoreError>>);

/// Events taken into one statement at most.
const GROUP: usize = 128;

/// Writes audit events in groups (group commit): one task takes every event waiting and
/// inserts them in one statement, and each caller returns once its group is committed. On
/// SQLite every commit is an fsync on the one writer connection, which capped every audited
/// request at the disk's fsync rate; a group costs one. Nothing is acknowledged before it
/// is written, and a caller that goes away does not cancel the write (the task does it).
#[derive(Debug, Clone)]
pub(super) struct AuditWriter(mpsc::Sender<Waiting>);

impl AuditWriter {
    /// Starts the writing task on `writer` (inside the Tokio runtime).
    pub(super) fn start(writer: Pool) -> Self {
        let (tx, rx) = mpsc::channel(4 * GROUP);
        tokio::spawn(write_groups(writer, rx));
        Self(tx)
    }

    async fn record(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let stopped = || StoreError::Unavailable("the audit writer has stopped".into());
        let (done, written) = oneshot::channel();
        self.0
            .send((e.clone(), done))
            .await
            .map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }
}

async fn write_groups(writer: Pool, mut waiting: mpsc::Receiver<Waiting>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let result = insert_group(&writer, &group).await;
        for (_, done) in group {
            let _ = done.send(result.clone());
        }
    }
}

async fn insert_group(writer: &Pool, group: &[Waiting]) -> Result<(), StoreError> {
    let events: Vec<&AuditEvent> = group.iter().map(|(e, _)| e).collect();
    let mut tx = begin(writer, BEGIN).await?;
    insert_events(&mut tx, &events).await?;
    tx.commit().await.map_err(db_err)
}

/// Commits a write's transaction with the audit events its use case attached to it
/// (`portcullis_core::store::with_events`): the change and the events that report it (with
/// their webhook deliveries) are committed together or not at all.
pub(super) async fn commit(tx: Tx<Db>) -> Result<(), StoreError> {
    commit_events(tx, attached_events()).await
}

/// Commits a write's transaction with `attached`, the events taken from it and completed by
/// the write (see [`commit`]).
pub(super) async fn commit_events(
    mut tx: Tx<Db>,
    attached: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    if !attached.is_empty() {
        let events: Vec<&AuditEvent> = attached.iter().collect();
        insert_events(&mut tx, &events).await?;
    }
    tx.commit().await.map_err(db_err)
}

/// Inserts `events`, and the webhook deliveries that report them, in `tx`: in one statement
/// on PostgreSQL (one round trip).
async fn insert_events(tx: &mut Tx<Db>, events: &[&AuditEvent]) -> Result<(), StoreError> {
    if WRITES_IN_WITH {
        let mut qb = QueryBuilder::<Db>::new("WITH ");
        push_event_clauses(&mut qb, events);
        qb.push(" SELECT 1");
        qb.build().execute(&mut *tx).await.map_err(db_err)?;
        return Ok(());
    }
    let mut qb = QueryBuilder::<Db>::new("");
    push_audit_insert(&mut qb, events);
    qb.build().execute(&mut *tx).await.map_err(db_err)?;
    let reported = reported(events);
    if !reported.is_empty() {
        let mut qb = QueryBuilder::<Db>::new("WITH ");
        push_reported(&mut qb, &reported);
        qb.push(" ").push(DELIVERIES_OF_EV);
        qb.build().execute(&mut *tx).await.map_err(db_err)?;
    }
    Ok(())
}

/// On PostgreSQL: runs `qb`, `WITH` clauses that write (`WITH s AS (INSERT ...), ...`), with
/// the clauses that record the events attached to the write (and queue their deliveries),
/// as one statement: the writes and their events are atomic without a transaction, in one
/// round trip.
pub(super) async fn write_in_one(
    pool: &Pool,
    mut qb: QueryBuilder<'_, Db>,
) -> Result<(), StoreError> {
    let events = attached_events();
    if !events.is_empty() {
        let events: Vec<&AuditEvent> = events.iter().collect();
        qb.push(", ");
        push_event_clauses(&mut qb, &events);
    }
    qb.push(" SELECT 1");
    qb.build().execute(pool).await.map_err(db_err)?;
    Ok(())
}

/// The events of an organization, which its webhooks may want.
fn reported<'e>(events: &[&'e AuditEvent]) -> Vec<(&'e AuditEvent, OrgId)> {
    events
        .iter()
        .filter_map(|e| e.org_id.map(|org| (*e, org)))
        .collect()
}

/// The clauses of a `WITH` (PostgreSQL) that insert `events` and queue a delivery of each
/// event of an organization to each of its endpoints that wants it.
fn push_event_clauses(qb: &mut QueryBuilder<'_, Db>, events: &[&AuditEvent]) {
    qb.push("audit AS (");
    push_audit_insert(qb, events);
    qb.push(")");
    let reported = reported(events);
    if !reported.is_empty() {
        qb.push(", ");
        push_reported(qb, &reported);
        qb.push(", deliveries AS (")
            .push(DELIVERIES_OF_EV)
            .push(")");
    }
}

/// `INSERT INTO audit_events ... VALUES` of `events`.
fn push_audit_insert(qb: &mut QueryBuilder<'_, Db>, events: &[&AuditEvent]) {
    qb.push(
        "INSERT INTO audit_events (id, org_id, type, user_id, actor_id, ip, user_agent, at, details) ",
    );
    qb.push_values(events, |mut row, e| {
        row.push_bind(e.id.to_string())
            .push_bind(e.org_id.map(|o| o.to_string()))
            .push_bind(e.kind.clone())
            .push_bind(e.user_id.map(|u| u.to_string()))
            .push_bind(e.actor_id.map(|u| u.to_string()))
            .push_bind(e.ip.clone())
            .push_bind(e.user_agent.clone())
            .push_bind(ms(e.at))
            .push_bind(e.details.to_string());
    });
}

/// The clause `ev (...) AS (VALUES ...)`: the events of organizations, as deliveries carry
/// them.
fn push_reported(qb: &mut QueryBuilder<'_, Db>, events: &[(&AuditEvent, OrgId)]) {
    qb.push("ev (event_id, org_id, event_type, ordering_key, body, at) AS (");
    qb.push_values(events, |mut row, (e, org)| {
        row.push_bind(e.id.to_string())
            .push_bind(org.to_string())
            .push_bind(e.kind.clone())
            .push_bind(
                e.user_id
                    .map_or_else(|| e.id.to_string(), |u| u.to_string()),
            )
            .push_bind(EventBody::of(e, *org).to_json())
            .push_bind(ms(e.at));
    });
    qb.push(")");
}

/// Queues a delivery of each event of `ev` to each enabled endpoint of its organization that
/// wants its type (`event_types` is `,a,b,` or empty; `_` is escaped for LIKE).
const DELIVERIES_OF_EV: &str = "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, \
    ordering_key, body, attempts, next_at, created_at) \
    SELECT w.id, ev.event_id, ev.event_type, ev.ordering_key, ev.body, 0, ev.at, ev.at \
    FROM ev JOIN webhooks w ON w.org_id = ev.org_id \
    WHERE w.enabled AND (w.event_types = '' OR w.event_types LIKE \
    '%,' || REPLACE(ev.event_type, '_', '\\_') || ',%' ESCAPE '\\')";
