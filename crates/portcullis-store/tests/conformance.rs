//! One suite, two backends: every behaviour of the Store trait is checked on a SQLite file
//! and on a fresh PostgreSQL schema (`PORTCULLIS_TEST_POSTGRES_URL`; skipped, loudly, when unset).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

use std::io::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use portcullis_core::audit::{AuditEvent, AuditKind, ClientInfo};
use portcullis_core::identity::Attributes;
use portcullis_core::model::{
    Device, License, MfaKey, OrgPolicy, Organization, Session, TrustedDevice,
};
use portcullis_core::store::{
    AuditFilter, Enrolled, Liveness, LockKey, LockoutRule, LookupKey, NewCode, NewUser,
    OutboxStats, Profile, Purpose, QueuedMessage, RateKey, Registration, RotateOutcome, Store,
    StoreError, UserFilter,
};
use portcullis_core::{OrgId, SessionId, UserId};
use portcullis_store::{pg_schema, Database, PoolSettings};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn live(now: DateTime<Utc>) -> Liveness {
    Liveness {
        now,
        idle_cutoff: now - Duration::days(14),
    }
}

fn profile(email: &str) -> Profile {
    Profile {
        email: Some(email.to_owned()),
        email_verified: false,
        phone: None,
        phone_verified: false,
        username: None,
        first_name: Some("Ann".into()),
        last_name: None,
        attributes: Attributes::default(),
    }
}

fn new_user(org: &Organization, email: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        org_id: org.id,
        profile: profile(email),
        password_hash: Some("$argon2id$hash".into()),
        anonymous: false,
        active: true,
        roles: vec!["user".into()],
        created_at: t0(),
    }
}

fn session(user: UserId, now: DateTime<Utc>) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(30),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        amr: vec!["pwd".into()],
        app_token_id: None,
        device_id: None,
    }
}

async fn default_org(store: &dyn Store) -> Organization {
    store
        .ensure_org(&Organization {
            id: OrgId::new(),
            slug: "default".into(),
            name: "Default".into(),
            policy: OrgPolicy::default(),
            created_at: t0(),
            updated_at: t0(),
        })
        .await
        .unwrap()
}

async fn story(store: Arc<dyn Store>) {
    let s = store.as_ref();
    s.ping().await.unwrap();

    // meta_init keeps the first value.
    assert_eq!(s.meta_init("k", "one").await.unwrap(), "one");
    assert_eq!(s.meta_init("k", "two").await.unwrap(), "one");

    // ensure_org is idempotent by slug.
    let org = default_org(s).await;
    assert_eq!(default_org(s).await.id, org.id);
    assert!(s.org_by_slug("nope").await.unwrap().is_none());
    let other = s
        .ensure_org(&Organization {
            id: OrgId::new(),
            slug: "acme".into(),
            name: "Acme".into(),
            policy: OrgPolicy::default(),
            created_at: t0(),
            updated_at: t0(),
        })
        .await
        .unwrap();

    // Users: unique per (org, email), found by every identifier.
    let mut nu = new_user(&org, "ann@example.com");
    nu.profile.username = Some("AnnLee".into());
    nu.profile.phone = Some("+14155550100".into());
    nu.roles = vec!["user".into(), "editor".into()];
    let ann = s.insert_user(&nu).await.unwrap();
    assert_eq!(ann.org_slug, "default");
    assert_eq!(ann.roles.len(), 2);
    assert_eq!(
        Some(&ann),
        s.user_by_id(ann.id).await.unwrap().as_ref(),
        "what insert answers is what a read gives back"
    );
    let dup = s
        .insert_user(&new_user(&org, "ann@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { what: "email" }),
        "{dup:?}"
    );
    let mut dup_name = new_user(&org, "other@example.com");
    dup_name.profile.username = Some("annlee".into());
    assert!(matches!(
        s.insert_user(&dup_name).await.unwrap_err(),
        StoreError::Conflict { what: "username" }
    ));
    s.insert_user(&new_user(&other, "ann@example.com"))
        .await
        .expect("same email in another org is fine");
    for key in [
        LookupKey::Email("ann@example.com".into()),
        LookupKey::Phone("+14155550100".into()),
        LookupKey::Username("annlee".into()),
    ] {
        let c = s.credentials(org.id, &key).await.unwrap().expect("found");
        assert_eq!(c.user.id, ann.id);
        assert_eq!(c.password_hash.as_deref(), Some("$argon2id$hash"));
    }
    assert!(s
        .credentials(org.id, &LookupKey::Email("x@example.com".into()))
        .await
        .unwrap()
        .is_none());

    // Profile update, roles keep their added_at.
    let mut p = Profile::of(&ann);
    p.last_name = Some("Lee".into());
    let later = t0() + Duration::hours(1);
    let updated = s.update_profile(ann.id, &p, later).await.unwrap().unwrap();
    assert_eq!(updated.last_name.as_deref(), Some("Lee"));
    assert_eq!(updated.updated_at, later);
    let roles = s
        .set_roles(ann.id, &["org_admin".into(), "user".into()], later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["org_admin", "user"]
    );
    assert_eq!(roles[1].added_at, t0(), "kept role keeps its date");
    assert_eq!(roles[0].added_at, later);
    assert!(s
        .set_roles(UserId::new(), &[], later)
        .await
        .unwrap()
        .is_none());

    // Listing: scope, search, role, pagination.
    for i in 0..3 {
        s.insert_user(&new_user(&org, &format!("bob{i}@example.com")))
            .await
            .unwrap();
    }
    let all = s
        .list_users(&UserFilter {
            org_id: Some(org.id),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let page1 = s
        .list_users(&UserFilter {
            org_id: Some(org.id),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let page2 = s
        .list_users(&UserFilter {
            org_id: Some(org.id),
            limit: 2,
            after: Some(page1[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.len() + page2.len(), 4);
    assert!(page1.iter().all(|u| page2.iter().all(|v| v.id != u.id)));
    let bobs = s
        .list_users(&UserFilter {
            query: Some("BOB".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bobs.len(), 3);
    let pct = s
        .list_users(&UserFilter {
            query: Some("%".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(pct.is_empty(), "LIKE wildcards in the query are literal");
    let admins = s
        .list_users(&UserFilter {
            role: Some("org_admin".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(admins.iter().map(|u| u.id).collect::<Vec<_>>(), [ann.id]);

    // Sessions and refresh rotation with reuse detection.
    let sess = session(ann.id, t0());
    s.create_session(&sess, "h1").await.unwrap();
    assert!(s
        .user_by_id(ann.id)
        .await
        .unwrap()
        .unwrap()
        .last_login_at
        .is_some());
    assert_eq!(
        s.session_user(sess.id, live(t0()))
            .await
            .unwrap()
            .unwrap()
            .id,
        ann.id
    );
    let r = s
        .rotate_refresh_token("h1", "h2", live(later))
        .await
        .unwrap();
    assert!(
        matches!(r, RotateOutcome::Rotated { ref session } if session.id == sess.id && session.last_seen_at == later)
    );
    assert_eq!(
        s.rotate_refresh_token("nope", "hx", live(later))
            .await
            .unwrap(),
        RotateOutcome::Unknown
    );
    let reused = s
        .rotate_refresh_token("h1", "h3", live(later))
        .await
        .unwrap();
    assert_eq!(
        reused,
        RotateOutcome::Reused {
            session_id: sess.id,
            user_id: ann.id
        }
    );
    assert!(
        s.session_user(sess.id, live(later))
            .await
            .unwrap()
            .is_none(),
        "reuse revoked the session"
    );
    assert_eq!(
        s.rotate_refresh_token("h2", "h4", live(later))
            .await
            .unwrap(),
        RotateOutcome::SessionEnded
    );

    // Idle and absolute expiry.
    let sess2 = session(ann.id, t0());
    s.create_session(&sess2, "i1").await.unwrap();
    assert!(
        s.session_user(sess2.id, live(t0() + Duration::days(15)))
            .await
            .unwrap()
            .is_none(),
        "idle"
    );
    assert!(
        s.session_user(sess2.id, live(t0() + Duration::days(31)))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert_eq!(s.list_sessions(ann.id, live(t0())).await.unwrap().len(), 1);

    // Revocation: one, all but one, by password change, by deactivation.
    let (a, b, c) = (
        session(ann.id, t0()),
        session(ann.id, t0()),
        session(ann.id, t0()),
    );
    for (x, h) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        s.create_session(x, h).await.unwrap();
    }
    assert!(s
        .revoke_session(ann.id, a.id, "logout", t0())
        .await
        .unwrap());
    assert!(!s
        .revoke_session(ann.id, a.id, "logout", t0())
        .await
        .unwrap());
    assert!(
        !s.revoke_session(UserId::new(), b.id, "logout", t0())
            .await
            .unwrap(),
        "not someone else's"
    );
    s.change_password(ann.id, "$argon2id$new", Some(b.id), t0())
        .await
        .unwrap();
    assert_eq!(
        s.password_hash(ann.id).await.unwrap().as_deref(),
        Some("$argon2id$new")
    );
    let left: Vec<SessionId> = s
        .list_sessions(ann.id, live(t0()))
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(left, [b.id]);
    s.upgrade_password_hash(ann.id, "$argon2id$upgraded")
        .await
        .unwrap();
    assert_eq!(
        s.password_hash(ann.id).await.unwrap().as_deref(),
        Some("$argon2id$upgraded")
    );
    let off = s.set_active(ann.id, false, t0()).await.unwrap().unwrap();
    assert!(!off.active);
    assert!(
        s.list_sessions(ann.id, live(t0()))
            .await
            .unwrap()
            .is_empty(),
        "deactivation ends sessions"
    );
    s.set_active(ann.id, true, t0()).await.unwrap();
    let d = session(ann.id, t0());
    s.create_session(&d, "d").await.unwrap();
    assert_eq!(
        s.revoke_sessions(ann.id, None, "logout_all", t0())
            .await
            .unwrap(),
        1
    );

    // Signing keys.
    let key = portcullis_core::tokens::StoredSigningKey {
        kid: "k1".into(),
        public_x: "x".into(),
        private_sealed: "s".into(),
        created_at: t0(),
    };
    s.insert_signing_key(&key).await.unwrap();
    assert_eq!(s.signing_keys().await.unwrap(), vec![key]);

    // Audit: filters and newest-first paging.
    for kind in [
        AuditKind::LoginFailed,
        AuditKind::LoginSucceeded,
        AuditKind::Logout,
    ] {
        s.record_audit(
            &AuditEvent::new(kind, Some(org.id), t0(), &ClientInfo::default())
                .user(ann.id)
                .detail("n", 1),
        )
        .await
        .unwrap();
    }
    let events = s
        .list_audit(&AuditFilter {
            org_id: Some(org.id),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["session.logout", "login.succeeded"]
    );
    let rest = s
        .list_audit(&AuditFilter {
            org_id: Some(org.id),
            limit: 5,
            before: Some(events[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].details, serde_json::json!({"n": 1}));
    let failed = s
        .list_audit(&AuditFilter {
            kind: Some("login.failed".into()),
            user_id: Some(ann.id),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(s
        .list_audit(&AuditFilter {
            since: Some(later),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let before_t0 = |until| AuditFilter {
        org_id: Some(org.id),
        until: Some(until),
        limit: 5,
        ..Default::default()
    };
    assert!(s.list_audit(&before_t0(t0())).await.unwrap().is_empty());
    assert_eq!(s.list_audit(&before_t0(later)).await.unwrap().len(), 3);
    // Retention: events before a time go, later ones stay.
    assert_eq!(s.purge_audit(t0()).await.unwrap(), 0);
    assert!(s.purge_audit(later).await.unwrap() >= 3);
    assert!(s.list_audit(&before_t0(later)).await.unwrap().is_empty());

    // Deleting a user removes their sessions and roles by cascade.
    assert!(s.delete_user(ann.id).await.unwrap());
    assert!(!s.delete_user(ann.id).await.unwrap());
    assert!(s.user_by_id(ann.id).await.unwrap().is_none());
    assert!(s
        .list_sessions(ann.id, live(t0()))
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .list_users(&UserFilter {
            role: Some("org_admin".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
}

fn message(org: &Organization, to: &str, purpose: &str, at: DateTime<Utc>) -> QueuedMessage {
    QueuedMessage {
        id: uuid::Uuid::now_v7(),
        org_id: Some(org.id),
        purpose: purpose.into(),
        recipient: to.into(),
        payload: "sealed".into(),
        created_at: at,
        attempts: 0,
    }
}

/// Codes: one live per purpose, tries counted, single use; the outbox: leases, retries, wipes.
async fn codes_and_outbox(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let ann = s
        .insert_user(&new_user(&org, "codes@example.com"))
        .await
        .unwrap();
    let code = |purpose: &str, token: Option<&str>| NewCode {
        id: uuid::Uuid::now_v7(),
        user_id: ann.id,
        purpose: purpose.into(),
        destination: "codes@example.com".into(),
        code_hash: "h".into(),
        token_hash: token.map(str::to_owned),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(10),
    };
    let first = code("reset", Some("tok1"));
    s.issue_code(&first, &message(&org, "codes@example.com", "reset", t0()))
        .await
        .unwrap();
    let second = code("reset", Some("tok2"));
    s.issue_code(&second, &message(&org, "codes@example.com", "reset", t0()))
        .await
        .unwrap();
    let login = code("login", None);
    s.issue_code(&login, &message(&org, "codes@example.com", "login", t0()))
        .await
        .unwrap();
    assert_eq!(
        s.live_code(ann.id, Purpose::Reset)
            .await
            .unwrap()
            .unwrap()
            .id,
        second.id,
        "a new code retires the old"
    );
    assert!(s.code_by_token("tok1").await.unwrap().unwrap().consumed);
    assert!(!s.code_by_token("tok2").await.unwrap().unwrap().consumed);
    assert!(s.code_by_token("nope").await.unwrap().is_none());
    assert_eq!(
        s.live_code(ann.id, Purpose::Login)
            .await
            .unwrap()
            .unwrap()
            .id,
        login.id,
        "purposes are apart"
    );
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(1));
    s.return_code_try(second.id).await.unwrap();
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(1));
    assert_eq!(s.take_code_try(second.id, 2).await.unwrap(), Some(2));
    assert_eq!(
        s.take_code_try(second.id, 2).await.unwrap(),
        None,
        "no try left"
    );
    assert!(
        !s.consume_code(second.id, 2, t0()).await.unwrap(),
        "out of tries"
    );
    assert!(
        !s.consume_code(login.id, 5, t0() + Duration::minutes(11))
            .await
            .unwrap(),
        "expired"
    );
    assert!(s.consume_code(login.id, 5, t0()).await.unwrap());
    assert!(!s.consume_code(login.id, 5, t0()).await.unwrap(), "once");
    assert!(s.live_code(ann.id, Purpose::Login).await.unwrap().is_none());
    assert!(s
        .mark_verified(ann.id, &LookupKey::Email("codes@example.com".into()), t0())
        .await
        .unwrap());
    assert!(!s
        .mark_verified(ann.id, &LookupKey::Email("other@example.com".into()), t0())
        .await
        .unwrap());
    assert!(s.user_by_id(ann.id).await.unwrap().unwrap().email_verified);

    // Rate-limit counts.
    assert_eq!(
        s.messages_since(
            "codes@example.com",
            Purpose::Reset,
            t0() + Duration::seconds(1)
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        s.messages_since("codes@example.com", Purpose::Reset, t0())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.messages_since("codes@example.com", Purpose::ChangeAddress, t0())
            .await
            .unwrap(),
        0
    );
    s.enqueue(&message(&org, "codes@example.com", "notice", t0()))
        .await
        .unwrap();
    assert_eq!(
        s.outbox_stats().await.unwrap(),
        OutboxStats {
            pending: 4,
            retrying: 0,
            failed: 0
        }
    );

    // Leases: taken once; a lapsed lease makes the message due again.
    let now = t0();
    let batch = s
        .claim_messages(now, now + Duration::seconds(60), 3)
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    assert!(batch.windows(2).all(|w| w[0].id < w[1].id) && batch[0].attempts == 1);
    let rest = s
        .claim_messages(now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "leased ones are not taken again");
    assert!(s
        .claim_messages(now, now + Duration::seconds(60), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s
        .claim_messages(
            now + Duration::seconds(61),
            now + Duration::seconds(120),
            10,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 4, "lapsed leases come back");
    s.message_sent(again[0].id, now).await.unwrap();
    s.message_failed(
        again[1].id,
        Some(now + Duration::hours(1)),
        "smtp down",
        now,
    )
    .await
    .unwrap();
    s.message_failed(again[2].id, None, "gave up", now)
        .await
        .unwrap();
    assert_eq!(
        s.outbox_stats().await.unwrap(),
        OutboxStats {
            pending: 1,
            retrying: 1,
            failed: 1
        }
    );
    let later = now + Duration::minutes(30);
    let due = s
        .claim_messages(later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|m| m.id).collect::<Vec<_>>(),
        [again[3].id],
        "the failed one waits for its retry time"
    );
    let retry = s
        .claim_messages(now + Duration::hours(2), now + Duration::hours(3), 10)
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|m| m.id).collect::<Vec<_>>(),
        [again[1].id, again[3].id]
    );
    assert_eq!(retry[0].attempts, 3);
    // Deleting the user removes their codes.
    s.delete_user(ann.id).await.unwrap();
    assert!(s.code_by_token("tok2").await.unwrap().is_none());
}

/// Organizations: unique slugs, listing by creation, name and policy changes.
/// Bulk insert: all rows with their roles, or none when one conflicts.
async fn bulk_users(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let many: Vec<NewUser> = (0..1203)
        .map(|i| new_user(&org, &format!("bulk{i}@example.com")))
        .collect();
    assert_eq!(s.insert_users(&many).await.unwrap(), 1203);
    let last = s.user_by_id(many[1202].id).await.unwrap().unwrap();
    assert_eq!(last.email.as_deref(), Some("bulk1202@example.com"));
    assert_eq!(last.roles.len(), many[1202].roles.len());
    let clash = vec![
        new_user(&org, "fresh@example.com"),
        new_user(&org, "bulk7@example.com"),
    ];
    assert!(matches!(
        s.insert_users(&clash).await.unwrap_err(),
        StoreError::Conflict { what: "email" }
    ));
    assert!(
        s.user_by_id(clash[0].id).await.unwrap().is_none(),
        "all or none"
    );
}

async fn organizations(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let default = default_org(s).await;
    let org = |slug: &str| Organization {
        id: OrgId::new(),
        slug: slug.into(),
        name: slug.to_uppercase(),
        policy: OrgPolicy::default(),
        created_at: t0(),
        updated_at: t0(),
    };
    let acme = s.insert_org(&org("acme")).await.unwrap();
    assert!(matches!(
        s.insert_org(&org("acme")).await.unwrap_err(),
        StoreError::Conflict { what: "slug" }
    ));
    s.insert_org(&org("zeta")).await.unwrap();
    let all = s.list_orgs(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|o| o.slug.as_str()).collect::<Vec<_>>(),
        ["default", "acme", "zeta"]
    );
    let after = s.list_orgs(Some(default.id), 1).await.unwrap();
    assert_eq!(after[0].slug, "acme");
    let mut changed = acme.clone();
    changed.name = "Acme Corp".into();
    changed.policy.mfa_required = true;
    changed.policy.session_ttl_secs = Some(600);
    changed.updated_at = t0() + Duration::hours(1);
    let stored = s.update_org(&changed).await.unwrap().unwrap();
    assert_eq!(stored, changed);
    assert_eq!(s.org_by_slug("acme").await.unwrap().unwrap(), changed);
    assert!(s.update_org(&org("ghost")).await.unwrap().is_none());
}

/// Guests: upgraded in place only once; idle ones purged, others kept.
async fn guests(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let guest = |name: &str| {
        let mut u = new_user(&org, "unused@example.com");
        u.anonymous = true;
        u.password_hash = None;
        u.profile.email = None;
        u.profile.username = Some(name.into());
        u
    };
    let a = s.insert_user(&guest("guest-a")).await.unwrap();
    let b = s.insert_user(&guest("guest-b")).await.unwrap();
    let c = s.insert_user(&guest("guest-c")).await.unwrap();
    let full = s
        .insert_user(&new_user(&org, "full@example.com"))
        .await
        .unwrap();
    let mut p = Profile::of(&a);
    p.email = Some("a@example.com".into());
    let up = s
        .upgrade_anonymous(a.id, &p, Some("$argon2id$x"), t0())
        .await
        .unwrap()
        .unwrap();
    assert!(!up.anonymous && up.email.as_deref() == Some("a@example.com"));
    assert_eq!(
        s.password_hash(a.id).await.unwrap().as_deref(),
        Some("$argon2id$x")
    );
    assert!(
        s.upgrade_anonymous(a.id, &p, None, t0())
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    assert!(
        s.upgrade_anonymous(full.id, &p, None, t0())
            .await
            .unwrap()
            .is_none(),
        "only guests"
    );
    // b signs in later; c never does.
    s.create_session(&session(b.id, t0() + Duration::days(20)), "gb")
        .await
        .unwrap();
    let gone = s
        .delete_idle_anonymous(t0() + Duration::days(10))
        .await
        .unwrap();
    assert_eq!(gone, vec![(c.id, org.id)]);
    assert!(s.user_by_id(c.id).await.unwrap().is_none());
    assert!(
        s.user_by_id(b.id).await.unwrap().is_some()
            && s.user_by_id(full.id).await.unwrap().is_some()
    );
}

/// Licenses and devices: limits, expiry, slots freed, cascades to sessions.
async fn licenses_and_devices(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let license = |max: Option<u32>, expires: Option<DateTime<Utc>>| License {
        id: uuid::Uuid::now_v7(),
        org_id: org.id,
        prefix: "pcl_abc".into(),
        max_devices: max,
        device_count: 0,
        created_at: t0(),
        expires_at: expires,
    };
    let device = |name: &str| Device {
        id: uuid::Uuid::now_v7(),
        org_id: OrgId(uuid::Uuid::nil()),
        license_id: uuid::Uuid::nil(),
        name: name.into(),
        device_type: None,
        identifier: Some("serial-1".into()),
        created_at: t0(),
        last_seen_at: None,
    };
    let one = license(Some(1), None);
    s.insert_license(&one, "k1").await.unwrap();
    let Registration::Registered(d1) = s
        .register_device("k1", &device("a"), "t1", t0())
        .await
        .unwrap()
    else {
        panic!("registered")
    };
    assert_eq!((d1.org_id, d1.license_id), (org.id, one.id));
    assert_eq!(
        s.register_device("k1", &device("b"), "t2", t0())
            .await
            .unwrap(),
        Registration::Full
    );
    assert_eq!(
        s.register_device("nope", &device("b"), "t2", t0())
            .await
            .unwrap(),
        Registration::UnknownLicense
    );
    let (seen, expiry) = s
        .use_device("t1", t0() + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (seen.id, expiry, seen.last_seen_at),
        (d1.id, None, Some(t0() + Duration::hours(1)))
    );
    assert!(s.use_device("t9", t0()).await.unwrap().is_none());
    // A session through the device goes with it; the slot comes back.
    let ann = s
        .insert_user(&new_user(&org, "dev@example.com"))
        .await
        .unwrap();
    let mut sess = session(ann.id, t0());
    sess.device_id = Some(d1.id);
    s.create_session(&sess, "dh").await.unwrap();
    assert!(s.delete_device(org.id, d1.id).await.unwrap());
    assert!(!s.delete_device(org.id, d1.id).await.unwrap());
    assert!(s.session_user(sess.id, live(t0())).await.unwrap().is_none());
    assert_eq!(s.list_licenses(org.id).await.unwrap()[0].device_count, 0);
    assert!(matches!(
        s.register_device("k1", &device("b"), "t2", t0())
            .await
            .unwrap(),
        Registration::Registered(_)
    ));
    // Expiry, and a license's deletion taking its devices.
    let old = license(None, Some(t0() + Duration::minutes(5)));
    s.insert_license(&old, "k2").await.unwrap();
    assert_eq!(
        s.register_device("k2", &device("c"), "t3", t0() + Duration::minutes(6))
            .await
            .unwrap(),
        Registration::Expired
    );
    assert!(matches!(
        s.register_device("k2", &device("c"), "t3", t0())
            .await
            .unwrap(),
        Registration::Registered(_)
    ));
    assert_eq!(
        s.use_device("t3", t0()).await.unwrap().unwrap().1,
        Some(t0() + Duration::minutes(5))
    );
    assert_eq!(s.list_devices(org.id).await.unwrap().len(), 2);
    assert!(s.delete_license(org.id, old.id).await.unwrap());
    assert!(s.use_device("t3", t0()).await.unwrap().is_none());
    assert_eq!(s.list_devices(org.id).await.unwrap().len(), 1);
    assert!(
        !s.delete_license(OrgId::new(), one.id).await.unwrap(),
        "only within its organization"
    );
}

/// Second factors: activation turns MFA on with recovery codes; steps are never reused;
/// recovery codes and trusted devices are single-use or revocable; MFA off clears all.
async fn second_factors(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = default_org(s).await;
    let ann = s
        .insert_user(&new_user(&org, "mfa@example.com"))
        .await
        .unwrap();
    let key = MfaKey {
        id: uuid::Uuid::now_v7(),
        user_id: ann.id,
        kind: "totp".into(),
        status: "activation_pending".into(),
        created_at: t0(),
        activated_at: None,
    };
    s.insert_mfa_key(&key, "sealed").await.unwrap();
    assert_eq!(
        s.second_factors(ann.id).await.unwrap(),
        Enrolled::default(),
        "a pending key is not a factor yet"
    );
    assert_eq!(
        s.mfa_keys(ann.id).await.unwrap(),
        vec![(key.clone(), "sealed".to_owned())]
    );
    assert!(
        !s.activate_mfa_key(UserId::new(), key.id, 10, &[], t0())
            .await
            .unwrap(),
        "only the owner"
    );
    assert!(s
        .activate_mfa_key(ann.id, key.id, 10, &["r1".into(), "r2".into()], t0())
        .await
        .unwrap());
    assert!(
        !s.activate_mfa_key(ann.id, key.id, 11, &[], t0())
            .await
            .unwrap(),
        "once"
    );
    assert!(s.user_by_id(ann.id).await.unwrap().unwrap().mfa_enabled);
    assert_eq!(
        s.second_factors(ann.id).await.unwrap(),
        Enrolled {
            totp: true,
            passkey: false
        }
    );
    assert!(
        !s.use_totp_step(key.id, 10).await.unwrap(),
        "the activation step is used"
    );
    assert!(s.use_totp_step(key.id, 11).await.unwrap());
    assert!(!s.use_totp_step(key.id, 11).await.unwrap(), "replay");
    assert!(!s.use_totp_step(key.id, 9).await.unwrap(), "older");
    assert!(s.use_recovery_code(ann.id, "r1", t0()).await.unwrap());
    assert!(!s.use_recovery_code(ann.id, "r1", t0()).await.unwrap());
    s.replace_recovery_codes(ann.id, &["r3".into()])
        .await
        .unwrap();
    assert!(
        !s.use_recovery_code(ann.id, "r2", t0()).await.unwrap(),
        "replaced"
    );
    let device = TrustedDevice {
        id: uuid::Uuid::now_v7(),
        user_id: ann.id,
        name: Some("agent".into()),
        created_at: t0(),
        expires_at: t0() + Duration::days(30),
        last_used_at: None,
    };
    s.insert_trusted_device(&device, "td").await.unwrap();
    assert!(s.use_trusted_device(ann.id, "td", t0()).await.unwrap());
    assert!(
        !s.use_trusted_device(ann.id, "td", t0() + Duration::days(31))
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !s.use_trusted_device(UserId::new(), "td", t0())
            .await
            .unwrap(),
        "bound to the user"
    );
    assert_eq!(s.list_trusted_devices(ann.id, t0()).await.unwrap().len(), 1);
    s.change_password(ann.id, "$argon2id$y", None, t0())
        .await
        .unwrap();
    assert!(
        s.list_trusted_devices(ann.id, t0())
            .await
            .unwrap()
            .is_empty(),
        "a new password drops them"
    );
    s.insert_trusted_device(
        &TrustedDevice {
            id: uuid::Uuid::now_v7(),
            ..device
        },
        "td2",
    )
    .await
    .unwrap();
    s.disable_mfa(ann.id).await.unwrap();
    assert!(!s.user_by_id(ann.id).await.unwrap().unwrap().mfa_enabled);
    assert!(s.mfa_keys(ann.id).await.unwrap().is_empty());
    assert!(
        !s.use_recovery_code(ann.id, "r3", t0()).await.unwrap(),
        "recovery codes go with it"
    );
    assert!(
        !s.use_trusted_device(ann.id, "td2", t0()).await.unwrap(),
        "and trusted devices"
    );
}

/// Lockouts: counted atomically, locking at the threshold for growing times, stale failures
/// forgotten, cleared on demand.
async fn lockouts(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let rule = LockoutRule {
        threshold: 3,
        window: Duration::minutes(15),
        base: Duration::seconds(60),
        max: Duration::seconds(100),
    };
    let k = &LockKey::user(UserId::new());
    assert!(s.locked_until(k, t0()).await.unwrap().is_none());
    assert!(s.record_failure(k, &rule, t0()).await.unwrap().is_none());
    assert!(s.record_failure(k, &rule, t0()).await.unwrap().is_none());
    assert_eq!(
        s.record_failure(k, &rule, t0()).await.unwrap(),
        Some(t0() + Duration::seconds(60))
    );
    assert_eq!(
        s.locked_until(k, t0()).await.unwrap(),
        Some(t0() + Duration::seconds(60))
    );
    assert!(
        s.locked_until(k, t0() + Duration::seconds(61))
            .await
            .unwrap()
            .is_none(),
        "it ends by itself"
    );
    let later = t0() + Duration::seconds(61);
    for _ in 0..2 {
        s.record_failure(k, &rule, later).await.unwrap();
    }
    assert_eq!(
        s.record_failure(k, &rule, later).await.unwrap(),
        Some(later + Duration::seconds(100)),
        "doubled, capped"
    );
    // Failures older than the window are forgotten.
    let other = &LockKey::unknown_identifier("y");
    s.record_failure(other, &rule, t0()).await.unwrap();
    s.record_failure(other, &rule, t0()).await.unwrap();
    assert!(s
        .record_failure(other, &rule, t0() + Duration::minutes(16))
        .await
        .unwrap()
        .is_none());
    s.clear_failures(k).await.unwrap();
    assert!(s.locked_until(k, later).await.unwrap().is_none());
    // Concurrent failures all count.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                st.record_failure(&LockKey::device("race"), &rule, t0())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut locks = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            locks += 1;
        }
    }
    assert_eq!(locks, 2, "six failures, threshold three: two locks");

    // Rate-limit counters: per window, starting over in a new one, purged when old.
    let w1 = t0();
    let w2 = t0() + Duration::seconds(60);
    assert_eq!(s.hit(&RateKey::Client("1"), w1).await.unwrap(), 1);
    assert_eq!(s.hit(&RateKey::Client("1"), w1).await.unwrap(), 2);
    assert_eq!(s.hit(&RateKey::Client("2"), w1).await.unwrap(), 1);
    assert_eq!(
        s.hit(&RateKey::Client("1"), w2).await.unwrap(),
        1,
        "a new window"
    );
    assert_eq!(
        s.purge_rate_limits(w2).await.unwrap(),
        1,
        "ip:2 was last counted before w2"
    );
}

/// Workers racing for the outbox never take the same message.
async fn outbox_race(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    for i in 0..40 {
        store
            .enqueue(&message(&org, &format!("r{i}@example.com"), "notice", t0()))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = st
                        .claim_messages(t0(), t0() + Duration::seconds(60), 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "each message leased exactly once");
}

/// Two callers racing on one refresh token: exactly one wins.
async fn race(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    let ann = store
        .insert_user(&new_user(&org, "race@example.com"))
        .await
        .unwrap();
    let sess = session(ann.id, t0());
    store.create_session(&sess, "r0").await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                st.rotate_refresh_token("r0", &format!("r1-{i}"), live(t0()))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), RotateOutcome::Rotated { .. }) {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

/// Write futures dropped at every point of their life (after 0, 1, 2, ... polls, with the
/// database given time to answer in between), as a request cancelled by its client or a
/// timeout drops them, leave no connection inside a transaction: every later write commits.
async fn cancellation(db: &Database) {
    let store = db.store();
    let org = default_org(store.as_ref()).await;
    let owner = store
        .insert_user(&new_user(&org, "owner@example.com"))
        .await
        .unwrap();
    store
        .create_session(&session(owner.id, t0()), "cancel-0")
        .await
        .unwrap();
    let mut n = 0;
    // Early cancellations last in some rounds, late ones last in others: a leaked
    // PostgreSQL transaction is ended by the next commit on its connection, so it is looked
    // for after each round, before anything else writes.
    for round in 0..4 {
        let mut points: Vec<u32> = (0..24).collect();
        if round % 2 == 1 {
            points.reverse();
        }
        for polls in points {
            for pause in [0, 20, 100, 400, 1500] {
                n += 1;
                cancel_after(store.as_ref(), &org, n, polls, pause).await;
            }
        }
        // Connections go back to the pool on tasks of their own.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        no_open_transaction(db).await;
        for i in 0..5 {
            store
                .insert_user(&new_user(&org, &format!("after{round}-{i}@example.com")))
                .await
                .expect("a write after the cancellations");
            store
                .ping()
                .await
                .expect("readiness after the cancellations");
        }
    }
}

/// A registration and a refresh-token rotation, polled `polls` times `pause` µs apart, then
/// dropped.
async fn cancel_after(store: &dyn Store, org: &Organization, n: u32, polls: u32, pause: u64) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let user = new_user(org, &format!("cancel{n}@example.com"));
    let (old, new) = (format!("cancel-{}", n - 1), format!("cancel-{n}"));
    let mut insert = store.insert_user(&user);
    let mut rotate = store.rotate_refresh_token(&old, &new, live(t0()));
    let (mut inserted, mut rotated) = (false, false);
    for _ in 0..polls {
        inserted = inserted || insert.as_mut().poll(&mut cx).is_ready();
        rotated = rotated || rotate.as_mut().poll(&mut cx).is_ready();
        if inserted && rotated {
            break;
        }
        // The database answers meanwhile (SQLite on its worker thread, PostgreSQL into the
        // socket), so the next poll finds the next step ready.
        std::thread::sleep(std::time::Duration::from_micros(pause));
    }
}

/// No pooled PostgreSQL connection sits in an open transaction (where `now()` stays the
/// transaction's start from one statement to the next), which would hold locks and keep
/// later single statements uncommitted.
async fn no_open_transaction(db: &Database) {
    let Database::Postgres(pg) = db else {
        return;
    };
    let mut held = Vec::new();
    for _ in 0..PoolSettings::default().max_connections {
        let mut conn = pg.pool().acquire().await.unwrap();
        let mut now = Vec::new();
        for _ in 0..2 {
            let t: f64 = sqlx::query_scalar("SELECT extract(epoch FROM now())::float8")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            now.push(t);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_ne!(
            now[0], now[1],
            "a pooled connection is inside a transaction"
        );
        held.push(conn);
    }
}

/// User numbers are given on first ask, stay, and are never given again, even when their
/// user is gone.
async fn user_numbers(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    let a = store
        .insert_user(&new_user(&org, "num-a@example.com"))
        .await
        .unwrap();
    let b = store
        .insert_user(&new_user(&org, "num-b@example.com"))
        .await
        .unwrap();
    let na = store.user_number(a.id).await.unwrap();
    assert_eq!(store.user_number(a.id).await.unwrap(), na, "stays");
    let nb = store.user_number(b.id).await.unwrap();
    assert_ne!(na, nb);
    assert_eq!(store.user_by_number(nb).await.unwrap(), Some(b.id));
    assert!(store.delete_user(b.id).await.unwrap());
    assert_eq!(store.user_by_number(nb).await.unwrap(), None);
    let c = store
        .insert_user(&new_user(&org, "num-c@example.com"))
        .await
        .unwrap();
    let nc = store.user_number(c.id).await.unwrap();
    assert!(nc > nb, "a number is never given twice: {nc} after {nb}");
    // Concurrent first asks agree.
    let d = store
        .insert_user(&new_user(&org, "num-d@example.com"))
        .await
        .unwrap();
    let asks: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&store);
            tokio::spawn(async move { s.user_number(d.id).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in asks {
        seen.push(t.await.unwrap());
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "{seen:?}");
}

async fn sqlite() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let db = Database::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is harmless");
    (dir, db)
}

async fn postgres() -> Option<(String, String, Database)> {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        // Written straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL store test (set PORTCULLIS_TEST_POSTGRES_URL to run it)"
        );
        return None;
    };
    let schema = format!("pt_store_{}", uuid::Uuid::new_v4().simple());
    let url = pg_schema::create(&base, &schema).await.unwrap();
    let db = Database::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    Some((base, schema, db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_story() {
    let (_dir, db) = sqlite().await;
    story(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refresh_race_has_one_winner() {
    let (_dir, db) = sqlite().await;
    race(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_story() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    story(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refresh_race_has_one_winner() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    race(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_codes_and_outbox() {
    let (_dir, db) = sqlite().await;
    bulk_users(db.store()).await;
    codes_and_outbox(db.store()).await;
    outbox_race(db.store()).await;
    organizations(db.store()).await;
    guests(db.store()).await;
    licenses_and_devices(db.store()).await;
    second_factors(db.store()).await;
    lockouts(db.store()).await;
    user_numbers(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_codes_and_outbox() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    bulk_users(db.store()).await;
    codes_and_outbox(db.store()).await;
    outbox_race(db.store()).await;
    organizations(db.store()).await;
    guests(db.store()).await;
    licenses_and_devices(db.store()).await;
    second_factors(db.store()).await;
    lockouts(db.store()).await;
    user_numbers(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancelled_writes_leave_no_open_transaction() {
    let (_dir, db) = sqlite().await;
    cancellation(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancelled_writes_leave_no_open_transaction() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    cancellation(&db).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}
