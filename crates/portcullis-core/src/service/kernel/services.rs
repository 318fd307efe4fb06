//! The use cases' one object: [`Services`] holds the ports (store, clock, randomness,
//! password hasher, signing keys) and settings, starts them, and takes the steps every area
//! takes: the time, the audit log, the organization and its policy, access tokens.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tracing::{info, instrument};

use super::courier::Courier;
use super::session_cache::SessionCache;
use super::webauthn::relying_party;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::clock::Clock;
use crate::config::CoreConfig;
use crate::crypto::{MasterKey, Rng};
use crate::error::AuthError;
use crate::ids::{OrgId, SessionId};
use crate::model::{OrgPolicy, Organization, User};
use crate::oauth::SigningAlg;
use crate::password::PasswordHasher;
use crate::store::{Liveness, Store, StoreError};
use crate::tokens::{generate_signing_key, AccessClaims, KeyRing, PublicKey};

/// `t` as the store keeps it (milliseconds), so that an answer equals what is read back.
pub(crate) fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// What [`Services::seal`] sealed with `master` for `purpose`, or `None` (for the workers,
/// which hold the key but not the services).
pub(crate) fn open_sealed(
    master: &MasterKey,
    purpose: &str,
    sealed: &str,
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let labelled = master.open(sealed).ok()?;
    let rest = labelled
        .strip_prefix(purpose.as_bytes())?
        .strip_prefix(&[0u8])?;
    Some(zeroize::Zeroizing::new(rest.to_vec()))
}

/// The `amr` value of a session that may only enrol a second factor.
pub const ENROLMENT_ONLY: &str = "mfa_enrolment";

impl Principal {
    /// Whether this session may only enrol a second factor (its organization requires one).
    pub fn enrolment_only(&self) -> bool {
        self.claims.amr.iter().any(|a| a == ENROLMENT_ONLY)
    }
}

/// The signed-in caller of a request: a live session of an active user.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user, as stored now (roles included).
    pub user: User,
    /// The session the access token belongs to.
    pub session_id: SessionId,
    /// The access token's claims.
    pub claims: AccessClaims,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The master key cannot open what the database holds.
    #[error(
        "the master key does not match the one this database was set up with; \
         set PORTCULLIS_MASTER_KEY to that key (or use the data directory that holds it)"
    )]
    WrongMasterKey,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

const MASTER_KEY_CHECK: &str = "master_key_check";
const MASTER_KEY_CHECK_PLAIN: &[u8] = b"portcullis master key check v1";

/// The use cases and what they need.
pub struct Services {
    pub(in crate::service) store: Arc<dyn Store>,
    pub(in crate::service) clock: Arc<dyn Clock>,
    pub(in crate::service) rng: Arc<dyn Rng>,
    pub(in crate::service) hasher: PasswordHasher,
    pub(in crate::service) keys: RwLock<Arc<KeyRing>>,
    pub(in crate::service) master: MasterKey,
    pub(in crate::service) config: CoreConfig,
    pub(in crate::service) default_org: Organization,
    /// Wakes this node's courier when a message is queued.
    pub(in crate::service) wake: Arc<tokio::sync::Notify>,
    /// Wakes this node's dispatcher when a call is queued.
    pub(in crate::service) outbound_wake: Arc<tokio::sync::Notify>,
    /// Wakes this node's webhook deliverer when an event is recorded.
    pub(in crate::service) webhook_wake: Arc<tokio::sync::Notify>,
    /// Calls hooks (none: a hook that is set fails, as its policy says).
    pub(in crate::service) caller: Option<Arc<dyn crate::notify::Caller>>,
    /// Sessions checked lately, forgotten on every change.
    pub(in crate::service) sessions: SessionCache,
    /// Upstream identity providers' discovery documents and keys.
    pub(in crate::service) upstream_meta: super::upstream_meta::UpstreamMeta,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Prepares the store for use: checks the master key against the database, makes the
    /// default organization and a first signing key when absent, and loads the keys.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        master: MasterKey,
        config: CoreConfig,
    ) -> Result<Self, StartError> {
        let now = clock.now();
        let check = store
            .meta_init(
                MASTER_KEY_CHECK,
                &master.seal(rng.as_ref(), MASTER_KEY_CHECK_PLAIN),
            )
            .await?;
        if master
            .open(&check)
            .map_or(true, |p| p.as_slice() != MASTER_KEY_CHECK_PLAIN)
        {
            return Err(StartError::WrongMasterKey);
        }
        let default_org = store
            .ensure_org(&Organization {
                id: OrgId::new(),
                slug: Organization::DEFAULT_SLUG.to_owned(),
                name: "Default".to_owned(),
                policy: OrgPolicy::default(),
                created_at: now,
                updated_at: now,
            })
            .await?;
        let stored = store.signing_keys().await?;
        for &alg in SigningAlg::ALL {
            if !stored.iter().any(|k| k.algorithm == alg)
                && store
                    .insert_first_signing_key(&generate_signing_key(
                        alg,
                        rng.as_ref(),
                        &master,
                        now,
                    )?)
                    .await?
            {
                info!(alg = alg.as_str(), "generated the first signing key");
            }
        }
        // A WebAuthn setting that cannot work is a start-up error, not a 500 later.
        relying_party(
            &config.webauthn_rp_id,
            &config.webauthn_origins,
            &default_org.name,
        )?;
        let hasher = PasswordHasher::new(
            config.argon2,
            config.hash_concurrency,
            config.hash_queue,
            Arc::clone(&rng),
        )?;
        let keys = KeyRing::open(
            &config.issuer,
            &master,
            &store.signing_keys().await?,
            config.key_activation,
        )
        .map_err(|_| StartError::WrongMasterKey)?;
        let sessions = SessionCache::new(config.session_cache_ttl, true);
        Ok(Self {
            store,
            clock,
            rng,
            hasher,
            keys: RwLock::new(Arc::new(keys)),
            master,
            config,
            default_org,
            wake: Arc::new(tokio::sync::Notify::new()),
            outbound_wake: Arc::new(tokio::sync::Notify::new()),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            caller: None,
            upstream_meta: super::upstream_meta::UpstreamMeta::default(),
            sessions,
        })
    }

    /// These services, calling hooks (and webhooks) through `caller`.
    #[must_use]
    pub fn with_caller(mut self, caller: Arc<dyn crate::notify::Caller>) -> Self {
        self.caller = Some(caller);
        self
    }

    /// Re-reads the signing keys (after a rotation by another process).
    pub async fn reload_keys(&self) -> Result<(), StartError> {
        let ring = KeyRing::open(
            &self.config.issuer,
            &self.master,
            &self.store.signing_keys().await?,
            self.config.key_activation,
        )
        .map_err(|_| StartError::WrongMasterKey)?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        Ok(())
    }

    pub(in crate::service) fn key_ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The outbox worker of this node, delivering through `mailer` and `sms`.
    pub fn courier(
        &self,
        mailer: Arc<dyn crate::notify::Mailer>,
        sms: Arc<dyn crate::notify::SmsSender>,
    ) -> Courier {
        Courier::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            self.master.clone(),
            mailer,
            sms,
            Arc::clone(&self.wake),
        )
    }

    /// A MAC of `data` under a key derived from the master key for `purpose` (hex), for
    /// values the server hands out and must recognise later without storing them.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        use hmac::{Mac as _, SimpleHmac};
        let key = self.master.derive(purpose);
        // HMAC takes keys of any length; `new_from_slice` cannot fail here.
        let mut mac = match SimpleHmac::<sha2::Sha256>::new_from_slice(key.as_ref()) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// `plain`, encrypted and authenticated for `purpose` (base64), for state the server
    /// keeps in the client (the hosted pages' cookies).
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> String {
        let mut labelled =
            zeroize::Zeroizing::new(Vec::with_capacity(purpose.len() + 1 + plain.len()));
        labelled.extend_from_slice(purpose.as_bytes());
        labelled.push(0);
        labelled.extend_from_slice(plain);
        self.master.seal(self.rng.as_ref(), &labelled)
    }

    /// What [`Services::seal`] sealed for the same `purpose`, or `None`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        open_sealed(&self.master, purpose, sealed)
    }

    /// The settings in force.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// The public signing keys, for the JWKS.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.key_ring().public_keys()
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The current time, by the server's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(in crate::service) fn liveness(&self) -> Liveness {
        let now = self.now();
        Liveness {
            now,
            idle_cutoff: now - self.config.session_idle_timeout,
        }
    }

    /// The session cache, for the change feed that keeps it true across nodes.
    pub fn session_cache(&self) -> &SessionCache {
        &self.sessions
    }

    pub(in crate::service) async fn audit(&self, event: AuditEvent) {
        self.note_event(&event);
        // An audit write failing must not undo what already happened; it is logged loudly.
        match self.store.record_audit(&event).await {
            // The event may have queued webhook deliveries with it.
            Ok(()) => self.webhook_wake.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, kind = %event.kind, "could not record audit event");
            }
        }
    }

    /// What every recorded event sets off: cached sessions it may change are forgotten, it
    /// is counted.
    pub(in crate::service) fn note_event(&self, event: &AuditEvent) {
        if let Some(kind) = AuditKind::parse(&event.kind) {
            self.sessions.forget_for(kind, event.user_id);
        }
        if let Some(label) = AuditKind::parse(&event.kind).and_then(AuditKind::metric_label) {
            metrics::counter!("portcullis_audit_events_total", "type" => label).increment(1);
        }
    }

    /// Makes `change` (one store write) with `event` recorded in the write's own transaction,
    /// so that the event, and the webhook deliveries that report it, exist exactly when the
    /// change does. A write without a transaction leaves the event to be recorded right
    /// after it, if `happened` says the change was made.
    pub(in crate::service) async fn changed<T>(
        &self,
        event: AuditEvent,
        change: impl std::future::Future<Output = Result<T, StoreError>>,
        happened: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        self.changed_with(vec![event], change, happened).await
    }

    /// [`Self::changed`] for a change that several events report (an import, one a
    /// organization).
    pub(in crate::service) async fn changed_with<T>(
        &self,
        events: Vec<AuditEvent>,
        change: impl std::future::Future<Output = Result<T, StoreError>>,
        happened: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        let (out, left) = crate::store::with_events(events.clone(), change).await;
        let out = out?;
        if left.is_empty() {
            for event in &events {
                self.note_event(event);
            }
            self.webhook_wake.notify_one();
        } else if happened(&out) {
            for event in left {
                self.audit(event).await;
            }
        }
        Ok(out)
    }

    pub(in crate::service) fn event(
        &self,
        kind: AuditKind,
        org_id: OrgId,
        client: &ClientInfo,
    ) -> AuditEvent {
        AuditEvent::new(kind, Some(org_id), self.now(), client)
    }

    /// The organization named by `slug`, or the default one: from this node's cache, which
    /// forgets it at any change to it on any node (see [`SessionCache`]), so that a policy
    /// change takes effect at once; else from the store.
    pub(in crate::service) async fn org(
        &self,
        slug: Option<&str>,
    ) -> Result<Organization, AuthError> {
        let slug = slug
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(Organization::DEFAULT_SLUG);
        let now = self.now();
        if let Some(org) = self.sessions.org(slug, now) {
            return Ok(org);
        }
        let generation = self.sessions.generation();
        let org = self
            .store
            .org_by_slug(slug)
            .await?
            .ok_or_else(|| AuthError::invalid("organization", "no such organization"))?;
        self.sessions.put_org(slug, org.clone(), generation, now);
        Ok(org)
    }

    /// The organization named by `slug` (the default one when `None`), for what the hosted
    /// pages show of it (name, branding) and where they may send users back to.
    pub async fn organization(&self, slug: Option<&str>) -> Result<Organization, AuthError> {
        self.org(slug).await
    }

    /// Checks an access token and that its session and user are still live.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let claims = self.key_ring().verify(access_token, self.now())?;
        let sid: SessionId = claims.sid.parse().map_err(|_| AuthError::TokenInvalid)?;
        let user = self
            .live_session_user(sid)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if user.id.to_string() != claims.sub {
            return Err(AuthError::TokenInvalid);
        }
        Ok(Principal {
            user,
            session_id: sid,
            claims,
        })
    }

    /// The user of a live session, from this node's session cache when it was checked lately.
    pub(in crate::service) async fn live_session_user(
        &self,
        sid: SessionId,
    ) -> Result<Option<User>, AuthError> {
        let now = self.now();
        if let Some(user) = self.sessions.get(sid, now) {
            metrics::counter!("portcullis_session_cache_total", "result" => "hit").increment(1);
            return Ok(Some(user));
        }
        metrics::counter!("portcullis_session_cache_total", "result" => "miss").increment(1);
        let generation = self.sessions.generation();
        let user = self.store.session_user(sid, self.liveness()).await?;
        if let Some(user) = &user {
            self.sessions.put(sid, user.clone(), generation, now);
        }
        Ok(user)
    }

    /// A first-party access token for `user`'s session, with the claims the organization's
    /// `custom_access_token_claims` hook adds (if it has one; reserved claims are dropped).
    pub(in crate::service) async fn access_token(
        &self,
        user: &User,
        session_id: SessionId,
        amr: &[String],
    ) -> Result<String, AuthError> {
        let now = self.now();
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti);
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: user.id.to_string(),
            sid: session_id.to_string(),
            org: user.org_slug.clone(),
            roles: user.roles.iter().map(|r| r.name.clone()).collect(),
            iat: now.timestamp(),
            exp: (now + self.config.access_token_ttl).timestamp(),
            amr: amr.to_vec(),
            jti: hex::encode(jti),
        };
        let extra = self.hook_claims(user, &claims).await?;
        self.key_ring().sign_with(&claims, &extra)
    }
}
