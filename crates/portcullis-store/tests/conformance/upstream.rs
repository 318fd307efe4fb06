//! Identity providers and linked identities: settings kept whole, an identity's key taken
//! once (however many race for it), a user's identities only theirs, and a provider's
//! deletion taking its identities along.

use std::sync::Arc;

use chrono::Duration;
use portcullis_core::store::{Store, StoreError};
use portcullis_core::upstream::{
    default_claims, IdentityProvider, LinkedIdentity, ProviderConfig, ProviderKind,
};

use crate::{default_org, new_user, t0};

fn identity(user: portcullis_core::UserId, provider: uuid::Uuid, subject: &str) -> LinkedIdentity {
    LinkedIdentity {
        id: uuid::Uuid::now_v7(),
        user_id: user,
        provider_id: provider,
        issuer: "https://issuer.test".into(),
        subject: subject.into(),
        email: Some("up@example.com".into()),
        refresh_token_sealed: None,
        created_at: t0(),
        last_used_at: None,
    }
}

pub(crate) async fn upstream(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    let mut p = IdentityProvider {
        id: uuid::Uuid::now_v7(),
        org_id: org.id,
        kind: ProviderKind::Microsoft,
        name: "Contoso".into(),
        enabled: true,
        config: ProviderConfig {
            client_id: "cid".into(),
            tenant: Some("organizations".into()),
            claims: default_claims(ProviderKind::Microsoft),
            allow_signup: true,
            ..ProviderConfig::default()
        },
        secret_sealed: Some("sealed".into()),
        created_at: t0(),
        updated_at: t0(),
    };
    store.insert_provider(&p).await.unwrap();
    assert_eq!(
        store.provider(Some(org.id), p.id).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(store.provider(None, p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(store.providers(org.id).await.unwrap(), vec![p.clone()]);
    p.name = "Contoso staff".into();
    p.enabled = false;
    p.config.trust_mfa = true;
    p.updated_at = t0() + Duration::seconds(5);
    assert!(store.update_provider(&p).await.unwrap());
    assert_eq!(store.provider(None, p.id).await.unwrap(), Some(p.clone()));

    let ann = store
        .insert_user(&new_user(&org, "ann.up@example.com"))
        .await
        .unwrap();
    let bob = store
        .insert_user(&new_user(&org, "bob.up@example.com"))
        .await
        .unwrap();
    // One key, two users racing for it: one wins, the other hears a conflict.
    let (for_ann, for_bob) = (
        identity(ann.id, p.id, "same"),
        identity(bob.id, p.id, "same"),
    );
    let (a, b) = tokio::join!(store.link_identity(&for_ann), store.link_identity(&for_bob),);
    assert!(
        matches!(
            (&a, &b),
            (Ok(()), Err(StoreError::Conflict { .. })) | (Err(StoreError::Conflict { .. }), Ok(()))
        ),
        "{a:?} {b:?}"
    );
    let winner = store
        .identity_by_subject(p.id, "https://issuer.test", "same")
        .await
        .unwrap()
        .unwrap();
    let loser = if winner.user_id == ann.id {
        bob.id
    } else {
        ann.id
    };
    assert!(store.identities(loser).await.unwrap().is_empty());
    store
        .touch_identity(
            winner.id,
            t0() + Duration::hours(1),
            Some("new@example.com"),
            Some("rt"),
        )
        .await
        .unwrap();
    let touched = store.identities(winner.user_id).await.unwrap();
    assert_eq!(touched[0].email.as_deref(), Some("new@example.com"));
    assert_eq!(touched[0].refresh_token_sealed.as_deref(), Some("rt"));
    assert_eq!(touched[0].last_used_at, Some(t0() + Duration::hours(1)));
    // Another user cannot unlink it.
    assert!(!store.unlink_identity(loser, winner.id).await.unwrap());
    // Deleting the provider takes its identities along.
    store
        .link_identity(&identity(loser, p.id, "other"))
        .await
        .unwrap();
    assert!(store.delete_provider(org.id, p.id).await.unwrap());
    assert!(store.identities(ann.id).await.unwrap().is_empty());
    assert!(store.identities(bob.id).await.unwrap().is_empty());
    assert!(!store.delete_provider(org.id, p.id).await.unwrap());
    assert_eq!(store.provider(None, p.id).await.unwrap(), None);
}
