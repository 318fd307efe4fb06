//! Organizations, licenses and devices.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_core::model::{Device, License, OrgPolicy, Organization};
use portcullis_core::store::{Registration, Store, StoreError};
use portcullis_core::OrgId;

use crate::{default_org, live, new_user, session, t0};

pub(crate) async fn organizations(store: Arc<dyn Store>) {
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

/// Licenses and devices: limits, expiry, slots freed, cascades to sessions.
pub(crate) async fn licenses_and_devices(store: Arc<dyn Store>) {
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
