//! The OpenID provider's storage: a client found by id with its secret's hash, codes spent
//! once (however many race for one), consents replaced, the sessions made for clients.

use std::sync::Arc;

use chrono::Duration;
use portcullis_core::model::Grant;
use portcullis_core::oauth::{AuthMethod, ClientType, GrantType, OAuthClient, SigningAlg};
use portcullis_core::store::{AuthCode, Consent, Redeemed, Store};
use portcullis_core::SessionId;

use crate::{default_org, live, new_user, session, t0};

pub(crate) async fn provider(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    let ann = store
        .insert_user(&new_user(&org, "oidc@example.com"))
        .await
        .unwrap();
    let client = OAuthClient {
        id: uuid::Uuid::now_v7(),
        org_id: org.id,
        name: "Acme".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec!["https://acme.test/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: vec!["openid".into()],
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: SigningAlg::Rs256,
        first_party: false,
        backchannel_logout_uri: None,
        access_token_lifetime_secs: None,
        refresh_token_lifetime_secs: None,
        secret_prefix: Some("pcs_abcdef".into()),
        created_at: t0(),
        updated_at: t0(),
    };
    store
        .insert_oauth_client(&client, Some("secret-hash"))
        .await
        .unwrap();
    let (found, hash) = store.oauth_client_by_id(client.id).await.unwrap().unwrap();
    assert_eq!(
        (found, hash.as_deref()),
        (client.clone(), Some("secret-hash"))
    );
    assert!(store
        .oauth_client_by_id(uuid::Uuid::now_v7())
        .await
        .unwrap()
        .is_none());

    // A browser session, and a code issued in it.
    let browser = session(ann.id, t0());
    store.create_session(&browser, "browser-r").await.unwrap();
    let code = AuthCode {
        code_hash: "code-1".into(),
        client_id: client.id,
        user_id: ann.id,
        browser_sid: browser.id,
        redirect_uri: "https://acme.test/cb".into(),
        scope: "openid".into(),
        nonce: Some("n".into()),
        code_challenge: Some("c".repeat(43)),
        auth_time: t0(),
        amr: vec!["pwd".into()],
        expires_at: t0() + Duration::seconds(60),
    };
    store.insert_auth_code(&code, t0()).await.unwrap();

    // Fifty racing uses: one gets the code, the rest learn it was used and by which session.
    let grants: Vec<SessionId> = (0..50).map(|_| SessionId::new()).collect();
    let tasks: Vec<_> = grants
        .iter()
        .map(|&sid| {
            let st = Arc::clone(&store);
            tokio::spawn(async move { (sid, st.redeem_auth_code("code-1", sid).await.unwrap()) })
        })
        .collect();
    let mut winner = None;
    let mut reused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (sid, Redeemed::Fresh(c)) => {
                assert_eq!(c, code);
                assert!(winner.replace(sid).is_none(), "two winners");
            }
            (
                _,
                Redeemed::Reused {
                    grant_sid,
                    user_id,
                    client_id,
                },
            ) => {
                assert_eq!((user_id, client_id), (ann.id, client.id));
                reused.push(grant_sid);
            }
            (_, Redeemed::Unknown) => panic!("the code is known"),
        }
    }
    let winner = winner.expect("one winner");
    assert_eq!(reused.len(), 49);
    assert!(reused.iter().all(|g| *g == Some(winner)));
    assert_eq!(
        store
            .redeem_auth_code("nope", SessionId::new())
            .await
            .unwrap(),
        Redeemed::Unknown
    );

    // The session the code made: found by id, by its refresh token, from its browser
    // session; ended by withdrawing the client's authorization.
    let mut grant = session(ann.id, t0());
    grant.id = winner;
    grant.grant = Some(Grant {
        client_id: client.id,
        scope: "openid".into(),
        browser_sid: browser.id,
        auth_time: t0(),
    });
    store.create_session(&grant, "grant-r").await.unwrap();
    assert_eq!(
        store.session_by_id(winner).await.unwrap().unwrap().grant,
        grant.grant
    );
    assert_eq!(
        store
            .session_by_refresh("grant-r", live(t0()))
            .await
            .unwrap()
            .map(|s| s.id),
        Some(winner)
    );
    assert!(store
        .session_by_refresh("browser-r-nope", live(t0()))
        .await
        .unwrap()
        .is_none());
    let from_browser = store.sessions_from_browser(browser.id, t0()).await.unwrap();
    assert_eq!(
        from_browser.iter().map(|s| s.id).collect::<Vec<_>>(),
        [winner]
    );
    assert_eq!(
        store
            .revoke_client_sessions(ann.id, client.id, "authorization_revoked", t0())
            .await
            .unwrap(),
        1
    );
    assert!(store
        .session_by_refresh("grant-r", live(t0()))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .sessions_from_browser(browser.id, t0())
        .await
        .unwrap()
        .is_empty());

    // Consents: one per user and client, replaced when given again.
    assert!(store.consent(ann.id, client.id).await.unwrap().is_none());
    let first = Consent {
        client_id: client.id,
        scope: "openid".into(),
        granted_at: t0(),
    };
    store.save_consent(ann.id, &first).await.unwrap();
    let wider = Consent {
        scope: "openid email".into(),
        granted_at: t0() + Duration::seconds(5),
        ..first.clone()
    };
    store.save_consent(ann.id, &wider).await.unwrap();
    assert_eq!(
        store.consent(ann.id, client.id).await.unwrap(),
        Some(wider.clone())
    );
    assert_eq!(store.consents(ann.id).await.unwrap(), vec![wider]);
    assert!(store.delete_consent(ann.id, client.id).await.unwrap());
    assert!(!store.delete_consent(ann.id, client.id).await.unwrap());

    // Spent codes are kept a while after they expire (to recognise reuse), then dropped.
    let later = t0() + Duration::minutes(20);
    store
        .insert_auth_code(
            &AuthCode {
                code_hash: "code-2".into(),
                expires_at: later + Duration::seconds(60),
                ..code
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_auth_code("code-1", SessionId::new())
            .await
            .unwrap(),
        Redeemed::Unknown,
        "long expired, dropped"
    );
}
