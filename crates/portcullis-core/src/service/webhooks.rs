//! Webhooks and hooks, as an organization's admins manage them: endpoints (with a secret
//! shown once, at creation and at each rotation), their recent deliveries, redelivery and
//! test events; and the synchronous hooks. Delivery itself is the kernel's
//! ([`super::kernel::webhooks`]), the hook calls too ([`super::kernel::hooks`]).

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::kernel::services::stored_time;
use super::kernel::webhooks::SECRET_PURPOSE;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::ids::OrgId;
use crate::oauth::check_uri;
use crate::webhooks::{
    check_event_types, new_secret, Delivery, DeliveryState, EventBody, EventData, Hook, HookName,
    Webhook, HOOK_TIMEOUT_MAX_MS, HOOK_TIMEOUT_MS, PREVIOUS_SECRET_GRACE, TEST_EVENT,
};

/// Endpoints an organization may have.
const MAX_WEBHOOKS: usize = 20;
/// Deliveries an admin sees at most, per endpoint.
const MAX_LISTED: usize = 200;

/// An endpoint's settings as received: on creation, what is absent takes its default (every
/// event type, enabled); on a change, what is absent stays as it is.
#[derive(Debug, Default, Clone)]
pub struct WebhookSettings {
    /// Where events are posted (required on creation).
    pub url: Option<String>,
    /// The audit event types it wants; every type when empty.
    pub event_types: Option<Vec<String>>,
    /// Whether events are sent.
    pub enabled: Option<bool>,
}

/// A hook's settings as received: on creation, what is absent takes its default (2 s, fail
/// open, enabled); on a change, what is absent stays as it is.
#[derive(Debug, Default, Clone)]
pub struct HookSettings {
    /// Where it is called (required on creation).
    pub url: Option<String>,
    /// The time budget, milliseconds (100 to 10000).
    pub timeout_ms: Option<u32>,
    /// `closed` or `open`.
    pub on_failure: Option<String>,
    /// Whether it is called.
    pub enabled: Option<bool>,
}

fn settle(w: &mut Webhook, s: WebhookSettings) -> Result<(), AuthError> {
    if let Some(url) = s.url {
        w.url = check_uri("url", url.trim()).map_err(|e| AuthError::Validation(vec![e]))?;
    }
    if let Some(types) = s.event_types {
        w.event_types =
            check_event_types(&types).map_err(|why| AuthError::invalid("event_types", &why))?;
    }
    if let Some(enabled) = s.enabled {
        w.enabled = enabled;
    }
    Ok(())
}

impl Services {
    fn seal_secret(&self, secret: &str) -> String {
        self.seal(SECRET_PURPOSE, secret.as_bytes())
    }

    /// Adds an endpoint to an organization within the admin's reach; answers it and its
    /// secret (shown this once).
    #[instrument(skip_all)]
    pub async fn create_webhook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        settings: WebhookSettings,
        client: &ClientInfo,
    ) -> Result<(Webhook, String), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        if settings.url.is_none() {
            return Err(AuthError::invalid("url", "is required"));
        }
        if self.store.webhooks(org.id).await?.len() >= MAX_WEBHOOKS {
            return Err(AuthError::invalid(
                "url",
                "an organization may have at most 20 endpoints",
            ));
        }
        let now = stored_time(self.now());
        let secret = new_secret(self.rng.as_ref());
        let mut w = Webhook {
            id: uuid::Uuid::now_v7(),
            org_id: org.id,
            url: String::new(),
            event_types: Vec::new(),
            enabled: true,
            failing_since: None,
            secret_sealed: self.seal_secret(&secret),
            previous_secret: None,
            created_at: now,
            updated_at: now,
        };
        settle(&mut w, settings)?;
        self.changed(
            self.webhook_event(admin, AuditKind::WebhookCreated, org.id, w.id, client),
            self.store.insert_webhook(&w),
            |_| true,
        )
        .await?;
        Ok((w, secret))
    }

    /// An organization's endpoints.
    pub async fn webhooks(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<Webhook>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.webhooks(org.id).await?)
    }

    /// One endpoint of an organization within reach.
    pub async fn webhook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
    ) -> Result<Webhook, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        self.store
            .webhook(org.id, id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Changes an endpoint; answers it as it now is.
    #[instrument(skip_all)]
    pub async fn update_webhook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        settings: WebhookSettings,
        client: &ClientInfo,
    ) -> Result<Webhook, AuthError> {
        let mut w = self.webhook(admin, org_slug, id).await?;
        settle(&mut w, settings)?;
        w.updated_at = stored_time(self.now());
        let done = self
            .changed(
                self.webhook_event(admin, AuditKind::WebhookUpdated, w.org_id, w.id, client),
                self.store.update_webhook(&w),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(w)
    }

    /// Gives an endpoint a new secret (shown this once); deliveries are signed with it from
    /// now on, and with the one it replaces too until the answered time (a day), so that the
    /// receiver can switch without refusing any.
    #[instrument(skip_all)]
    pub async fn rotate_webhook_secret(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(String, DateTime<Utc>), AuthError> {
        let mut w = self.webhook(admin, org_slug, id).await?;
        let secret = new_secret(self.rng.as_ref());
        let until = stored_time(self.now() + PREVIOUS_SECRET_GRACE);
        let old = std::mem::replace(&mut w.secret_sealed, self.seal_secret(&secret));
        w.previous_secret = Some((old, until));
        w.updated_at = stored_time(self.now());
        let done = self
            .changed(
                self.webhook_event(
                    admin,
                    AuditKind::WebhookSecretRotated,
                    w.org_id,
                    w.id,
                    client,
                ),
                self.store.update_webhook(&w),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok((secret, until))
    }

    /// Deletes an endpoint and what it had still to receive.
    #[instrument(skip_all)]
    pub async fn delete_webhook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let done = self
            .changed(
                self.webhook_event(admin, AuditKind::WebhookDeleted, org.id, id, client),
                self.store.delete_webhook(org.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// Queues a `webhook.test` event to one endpoint (enabled or not: it is sent when the
    /// endpoint is); answers the delivery.
    #[instrument(skip_all)]
    pub async fn test_webhook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
    ) -> Result<Delivery, AuthError> {
        let w = self.webhook(admin, org_slug, id).await?;
        let now = stored_time(self.now());
        let event_id = uuid::Uuid::now_v7();
        let body = EventBody {
            kind: TEST_EVENT.to_owned(),
            timestamp: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            data: EventData {
                id: event_id.to_string(),
                org_id: w.org_id.to_string(),
                user_id: None,
                actor_id: Some(admin.actor().user.id.to_string()),
                details: serde_json::json!({ "webhook_id": w.id.to_string() }),
            },
        };
        let delivery = Delivery {
            webhook_id: w.id,
            event_id,
            event_type: TEST_EVENT.to_owned(),
            body: body.to_json(),
            state: DeliveryState::Pending,
            attempts: 0,
            last_status: None,
            last_latency_ms: None,
            last_error: None,
            next_at: Some(now),
            created_at: now,
            delivered_at: None,
        };
        self.store.queue_delivery(&delivery).await?;
        self.webhook_wake.notify_one();
        Ok(delivery)
    }

    /// An endpoint's recent deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, AuthError> {
        let w = self.webhook(admin, org_slug, id).await?;
        Ok(self
            .store
            .deliveries(w.id, limit.clamp(1, MAX_LISTED))
            .await?)
    }

    /// Sends a delivery again (same `webhook-id`), whatever became of it.
    #[instrument(skip_all)]
    pub async fn redeliver(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        event_id: uuid::Uuid,
    ) -> Result<(), AuthError> {
        let w = self.webhook(admin, org_slug, id).await?;
        if !self.store.redeliver(w.id, event_id, self.now()).await? {
            return Err(AuthError::NotFound);
        }
        self.webhook_wake.notify_one();
        Ok(())
    }

    fn webhook_event(
        &self,
        admin: &OrgAdmin,
        kind: AuditKind,
        org: OrgId,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.event(kind, org, client)
            .actor(admin.actor().user.id)
            .detail("webhook_id", id.to_string())
    }

    /// Sets an organization's hook `name`: adds it (answering its secret, shown this once)
    /// or changes it.
    #[instrument(skip_all)]
    pub async fn set_hook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        name: &str,
        settings: HookSettings,
        client: &ClientInfo,
    ) -> Result<(Hook, Option<String>), AuthError> {
        let name = HookName::parse(name).ok_or(AuthError::NotFound)?;
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let now = stored_time(self.now());
        let (mut hook, secret) = match self.store.hook(org.id, name).await? {
            Some(h) => (h, None),
            None => {
                if settings.url.is_none() {
                    return Err(AuthError::invalid("url", "is required"));
                }
                let secret = new_secret(self.rng.as_ref());
                (
                    Hook {
                        org_id: org.id,
                        name,
                        url: String::new(),
                        timeout_ms: HOOK_TIMEOUT_MS,
                        fail_closed: false,
                        enabled: true,
                        secret_sealed: self.seal_secret(&secret),
                        previous_secret: None,
                        created_at: now,
                        updated_at: now,
                    },
                    Some(secret),
                )
            }
        };
        let mut f = super::kernel::input::Fields::default();
        if let Some(url) = settings.url {
            if let Some(url) = f.take(check_uri("url", url.trim())) {
                hook.url = url;
            }
        }
        if let Some(ms) = settings.timeout_ms {
            if (100..=HOOK_TIMEOUT_MAX_MS).contains(&ms) {
                hook.timeout_ms = ms;
            } else {
                f.push("timeout_ms", "must be 100 to 10000 milliseconds");
            }
        }
        match settings.on_failure.as_deref().map(str::trim) {
            None => {}
            Some("closed") => hook.fail_closed = true,
            Some("open") => hook.fail_closed = false,
            Some(_) => f.push("on_failure", "must be closed or open"),
        }
        if let Some(enabled) = settings.enabled {
            hook.enabled = enabled;
        }
        f.finish()?;
        hook.updated_at = now;
        self.changed(
            self.hook_event(admin, AuditKind::HookSet, org.id, name, client),
            self.store.put_hook(&hook),
            |_| true,
        )
        .await?;
        Ok((hook, secret))
    }

    /// Gives a hook a new secret (shown this once); calls are signed with the one it
    /// replaces too until the answered time (a day).
    #[instrument(skip_all)]
    pub async fn rotate_hook_secret(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        name: &str,
        client: &ClientInfo,
    ) -> Result<(String, DateTime<Utc>), AuthError> {
        let name = HookName::parse(name).ok_or(AuthError::NotFound)?;
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let mut hook = self
            .store
            .hook(org.id, name)
            .await?
            .ok_or(AuthError::NotFound)?;
        let secret = new_secret(self.rng.as_ref());
        let until = stored_time(self.now() + PREVIOUS_SECRET_GRACE);
        let old = std::mem::replace(&mut hook.secret_sealed, self.seal_secret(&secret));
        hook.previous_secret = Some((old, until));
        hook.updated_at = stored_time(self.now());
        self.changed(
            self.hook_event(admin, AuditKind::HookSet, org.id, name, client),
            self.store.put_hook(&hook),
            |_| true,
        )
        .await?;
        Ok((secret, until))
    }

    /// An organization's hooks.
    pub async fn hooks(&self, admin: &OrgAdmin, org_slug: &str) -> Result<Vec<Hook>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.hooks(org.id).await?)
    }

    /// One hook of an organization.
    pub async fn hook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        name: &str,
    ) -> Result<Hook, AuthError> {
        let name = HookName::parse(name).ok_or(AuthError::NotFound)?;
        let org = self.admin_org(admin, Some(org_slug)).await?;
        self.store
            .hook(org.id, name)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Removes a hook.
    #[instrument(skip_all)]
    pub async fn delete_hook(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        name: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let name = HookName::parse(name).ok_or(AuthError::NotFound)?;
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let done = self
            .changed(
                self.hook_event(admin, AuditKind::HookDeleted, org.id, name, client),
                self.store.delete_hook(org.id, name),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    fn hook_event(
        &self,
        admin: &OrgAdmin,
        kind: AuditKind,
        org: OrgId,
        name: HookName,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.event(kind, org, client)
            .actor(admin.actor().user.id)
            .detail("hook", name.as_str())
    }
}
