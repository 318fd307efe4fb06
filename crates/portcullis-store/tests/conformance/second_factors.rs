//! Second factors: TOTP keys, recovery codes, trusted devices.

use std::sync::Arc;

use chrono::Duration;
use portcullis_core::model::{MfaKey, TrustedDevice};
use portcullis_core::store::{Enrolled, Store};
use portcullis_core::UserId;

use crate::{default_org, new_user, t0};

/// Second factors: activation turns MFA on with recovery codes; steps are never reused;
/// recovery codes and trusted devices are single-use or revocable; MFA off clears all.
pub(crate) async fn second_factors(store: Arc<dyn Store>) {
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
