//! A per-node cache of live sessions, so that a request with an access token does not read
//! the database when nothing about its session or user has changed; of OAuth clients, so
//! that the token and introspection endpoints do not read a client at every call; and of
//! organizations and their hooks, which every sign-in and registration reads.
//!
//! It stays correct by forgetting: every change this node makes to an account forgets that
//! user's entries at once (the use case records an audit event; see
//! [`AuditKind::changes_accounts`]), and changes made anywhere else arrive from the
//! database (PostgreSQL `NOTIFY` from triggers, see `portcullis-store`) and forget the same
//! way. While that feed is down the cache is off. A generation counter keeps a read that
//! raced with a change from being cached, and entries live only `ttl` in any case.
//! Hand-written: the caches on crates.io (moka, quick_cache) do not offer the
//! forget-while-reading guarantee this needs, and the whole is a map under a lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::audit::AuditKind;
use crate::ids::OrgId;
use crate::ids::{SessionId, UserId};
use crate::model::{Organization, User};
use crate::oauth::OAuthClient;
use crate::webhooks::{Hook, HookName};

/// Entries held at most; past that the cache starts again empty.
pub(crate) const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub(crate) struct Entry {
    user: User,
    cached_at: DateTime<Utc>,
}

/// The entries, and each user's sessions among them (so forgetting a user, which every
/// audited change does, costs that user's entries, not a scan of all).
#[derive(Debug, Default)]
pub(crate) struct Entries {
    by_session: HashMap<SessionId, Entry>,
    by_user: HashMap<UserId, Vec<SessionId>>,
    /// OAuth clients, with the hash of their secret, and when they were read.
    clients: HashMap<uuid::Uuid, (ClientEntry, DateTime<Utc>)>,
    /// Organizations by slug, and when they were read.
    orgs: HashMap<String, (Organization, DateTime<Utc>)>,
    /// Each organization's hooks, set or not, and when they were read.
    hooks: HashMap<(OrgId, HookName), (Option<Hook>, DateTime<Utc>)>,
}

/// An OAuth client with the hash of its secret.
type ClientEntry = (OAuthClient, Option<String>);

/// A copy of what `map` holds for `key`, if it was read less than `ttl` before `now`.
fn fresh<K, Q, V>(
    map: &HashMap<K, (V, DateTime<Utc>)>,
    key: &Q,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Option<V>
where
    K: std::hash::Hash + Eq + std::borrow::Borrow<Q>,
    Q: std::hash::Hash + Eq + ?Sized,
    V: Clone,
{
    let (value, at) = map.get(key)?;
    (now >= *at && now - *at < ttl).then(|| value.clone())
}

/// Live sessions this node has checked lately.
#[derive(Debug)]
pub struct SessionCache {
    entries: Mutex<Entries>,
    generation: AtomicU64,
    enabled: AtomicBool,
    ttl: Duration,
}

impl SessionCache {
    /// A cache keeping entries for `ttl` (zero turns it off), on from the start or not.
    pub fn new(ttl: Duration, enabled: bool) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(enabled && ttl > Duration::zero()),
            ttl,
        }
    }

    pub(crate) fn map(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user of a session checked less than `ttl` ago, if no change has been seen since.
    pub fn get(&self, sid: SessionId, now: DateTime<Utc>) -> Option<User> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let map = self.map();
        let entry = map.by_session.get(&sid)?;
        (now >= entry.cached_at && now - entry.cached_at < self.ttl).then(|| entry.user.clone())
    }

    /// The generation to pass to [`SessionCache::put`], read before the database is.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a session read from the database, unless anything was forgotten since
    /// `generation` was read (the read may predate that change).
    pub fn put(&self, sid: SessionId, user: User, generation: u64, now: DateTime<Utc>) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut map = self.map();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.by_session.len() >= MAX_ENTRIES {
            *map = Entries::default();
        }
        let owner = user.id;
        let fresh = map
            .by_session
            .insert(
                sid,
                Entry {
                    user,
                    cached_at: now,
                },
            )
            .is_none();
        if fresh {
            map.by_user.entry(owner).or_default().push(sid);
        }
    }

    /// A client read less than `ttl` ago, with its secret's hash, if no change has been seen
    /// since.
    pub fn client(
        &self,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Option<(OAuthClient, Option<String>)> {
        self.read(|m| fresh(&m.clients, &id, now, self.ttl))
    }

    /// Remembers a client read from the database, as [`SessionCache::put`] does a session.
    pub fn put_client(
        &self,
        client: OAuthClient,
        hash: Option<String>,
        generation: u64,
        now: DateTime<Utc>,
    ) {
        self.remember(generation, |m| {
            if m.clients.len() >= MAX_ENTRIES {
                m.clients.clear();
            }
            m.clients.insert(client.id, ((client, hash), now));
        });
    }

    /// An organization read less than `ttl` ago, if no change has been seen since.
    pub fn org(&self, slug: &str, now: DateTime<Utc>) -> Option<Organization> {
        self.read(|m| fresh(&m.orgs, slug, now, self.ttl))
    }

    /// Remembers an organization read from the database by `slug`.
    pub fn put_org(&self, slug: &str, org: Organization, generation: u64, now: DateTime<Utc>) {
        self.remember(generation, |m| {
            if m.orgs.len() >= MAX_ENTRIES {
                m.orgs.clear();
            }
            m.orgs.insert(slug.to_owned(), (org, now));
        });
    }

    /// An organization's hook `name` as read less than `ttl` ago (`Some(None)`: it has
    /// none), if no change has been seen since.
    pub fn hook(&self, org: OrgId, name: HookName, now: DateTime<Utc>) -> Option<Option<Hook>> {
        self.read(|m| fresh(&m.hooks, &(org, name), now, self.ttl))
    }

    /// Remembers an organization's hook `name` (or that it has none) read from the database.
    pub fn put_hook(
        &self,
        org: OrgId,
        name: HookName,
        hook: Option<Hook>,
        generation: u64,
        now: DateTime<Utc>,
    ) {
        self.remember(generation, |m| {
            if m.hooks.len() >= MAX_ENTRIES {
                m.hooks.clear();
            }
            m.hooks.insert((org, name), (hook, now));
        });
    }

    /// What `get` finds in the entries, while the cache is on.
    fn read<T>(&self, get: impl FnOnce(&Entries) -> Option<T>) -> Option<T> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        get(&self.map())
    }

    /// Stores with `put`, while the cache is on and nothing was forgotten since `generation`.
    fn remember(&self, generation: u64, put: impl FnOnce(&mut Entries)) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let mut map = self.map();
        if self.generation.load(Ordering::Acquire) == generation {
            put(&mut map);
        }
    }

    /// Forgets every session of `user`.
    pub fn forget_user(&self, user: UserId) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for sid in map.by_user.remove(&user).unwrap_or_default() {
            map.by_session.remove(&sid);
        }
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::AcqRel);
        *map = Entries::default();
    }

    /// Turns the cache on (after the change feed connected) or off (when it is lost); both
    /// forget everything.
    pub fn set_enabled(&self, on: bool) {
        self.forget_all();
        self.enabled
            .store(on && self.ttl > Duration::zero(), Ordering::Release);
    }

    /// Forgets what an audited change may have made stale.
    pub fn forget_for(&self, kind: AuditKind, user: Option<UserId>) {
        if matches!(
            kind,
            AuditKind::OAuthClientUpdated
                | AuditKind::OAuthClientSecretRotated
                | AuditKind::OAuthClientDeleted
        ) {
            let mut map = self.map();
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clients.clear();
            return;
        }
        if matches!(kind, AuditKind::HookSet | AuditKind::HookDeleted) {
            let mut map = self.map();
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.hooks.clear();
            return;
        }
        if !kind.changes_accounts() {
            return;
        }
        match user {
            Some(u) => self.forget_user(u),
            None => self.forget_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrgId;

    pub(crate) fn user() -> User {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        User {
            id: UserId::new(),
            org_id: OrgId::new(),
            org_slug: "default".into(),
            email: None,
            email_verified: false,
            phone: None,
            phone_verified: false,
            username: None,
            first_name: None,
            last_name: None,
            anonymous: false,
            active: true,
            roles: Vec::new(),
            mfa_enabled: false,
            attributes: crate::identity::Attributes::default(),
            created_at: t,
            updated_at: t,
            last_login_at: None,
        }
    }

    #[test]
    pub(crate) fn entries_expire_and_are_forgotten_by_user_or_all() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let cache = SessionCache::new(Duration::seconds(5), true);
        let (ann, bob) = (user(), user());
        let (s1, s2) = (SessionId::new(), SessionId::new());
        cache.put(s1, ann.clone(), cache.generation(), t);
        cache.put(s2, bob.clone(), cache.generation(), t);
        assert_eq!(cache.get(s1, t + Duration::seconds(4)), Some(ann.clone()));
        assert_eq!(cache.get(s1, t + Duration::seconds(5)), None, "expired");
        cache.forget_for(AuditKind::Logout, Some(ann.id));
        assert_eq!(cache.get(s1, t), None);
        assert_eq!(cache.get(s2, t), Some(bob.clone()));
        cache.forget_for(AuditKind::LoginFailed, None);
        assert_eq!(cache.get(s2, t), Some(bob), "observations forget nothing");
        cache.forget_for(AuditKind::OrgUpdated, None);
        assert_eq!(cache.get(s2, t), None);
    }

    #[test]
    pub(crate) fn a_read_older_than_a_change_is_not_cached_and_off_means_off() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let cache = SessionCache::new(Duration::seconds(5), true);
        let ann = user();
        let sid = SessionId::new();
        let before = cache.generation();
        cache.forget_user(ann.id);
        cache.put(sid, ann.clone(), before, t);
        assert_eq!(cache.get(sid, t), None, "raced with a change");
        cache.put(sid, ann.clone(), cache.generation(), t);
        assert!(cache.get(sid, t).is_some());
        cache.set_enabled(false);
        assert_eq!(cache.get(sid, t), None);
        cache.put(sid, ann, cache.generation(), t);
        assert_eq!(cache.get(sid, t), None);
    }

    #[test]
    pub(crate) fn organizations_and_hooks_are_kept_until_a_change_to_them() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let cache = SessionCache::new(Duration::seconds(5), true);
        let org = Organization {
            id: OrgId::new(),
            slug: "acme".into(),
            name: "Acme".into(),
            policy: crate::model::OrgPolicy::default(),
            created_at: t,
            updated_at: t,
        };
        let hook = HookName::BeforeUserCreated;
        cache.put_org("acme", org.clone(), cache.generation(), t);
        cache.put_hook(org.id, hook, None, cache.generation(), t);
        assert_eq!(
            cache.org("acme", t + Duration::seconds(4)),
            Some(org.clone())
        );
        assert_eq!(cache.org("acme", t + Duration::seconds(5)), None, "expired");
        assert_eq!(
            cache.hook(org.id, hook, t),
            Some(None),
            "known to have none"
        );
        assert_eq!(
            cache.hook(org.id, HookName::CustomAccessTokenClaims, t),
            None,
            "never read"
        );
        cache.forget_for(AuditKind::LoginFailed, None);
        cache.forget_for(AuditKind::LoginSucceeded, Some(UserId::new()));
        assert!(cache.org("acme", t).is_some(), "a user's change keeps them");
        assert!(cache.hook(org.id, hook, t).is_some());
        cache.forget_for(AuditKind::HookSet, None);
        assert_eq!(
            cache.hook(org.id, hook, t),
            None,
            "a hook set forgets hooks"
        );
        assert!(cache.org("acme", t).is_some());
        cache.forget_for(AuditKind::OrgUpdated, None);
        assert_eq!(cache.org("acme", t), None, "a policy change forgets it");
        // A read that raced with a change is not kept.
        let before = cache.generation();
        cache.forget_all();
        cache.put_org("acme", org.clone(), before, t);
        cache.put_hook(org.id, hook, None, before, t);
        assert_eq!(cache.org("acme", t), None);
        assert_eq!(cache.hook(org.id, hook, t), None);
        cache.set_enabled(false);
        cache.put_org("acme", org, cache.generation(), t);
        assert_eq!(cache.org("acme", t), None, "off means off");
    }
}
