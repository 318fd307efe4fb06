//! Users and their sessions: the whole story of an account, bulk imports, guests, user numbers.

use std::sync::Arc;

use chrono::Duration;
use portcullis_core::audit::{AuditEvent, AuditKind, ClientInfo};
use portcullis_core::model::{OrgPolicy, Organization};
use portcullis_core::store::{
    AuditFilter, LookupKey, NewUser, Profile, RotateOutcome, Store, StoreError, UserFilter,
};
use portcullis_core::{OrgId, SessionId, UserId};

use crate::{default_org, live, new_user, session, t0};

pub(crate) async fn story(store: Arc<dyn Store>) {
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
        algorithm: portcullis_core::oauth::SigningAlg::Rs256,
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

/// Organizations: unique slugs, listing by creation, name and policy changes.
/// Bulk insert: all rows with their roles, or none when one conflicts.
pub(crate) async fn bulk_users(store: Arc<dyn Store>) {
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

/// Guests: upgraded in place only once; idle ones purged, others kept.
pub(crate) async fn guests(store: Arc<dyn Store>) {
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

/// User numbers are given on first ask, stay, and are never given again, even when their
/// user is gone.
pub(crate) async fn user_numbers(store: Arc<dyn Store>) {
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
