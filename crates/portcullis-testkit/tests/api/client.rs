//! The client crate's own behaviour: a session client refreshes its access token before it
//! expires, rotating the refresh token as the server requires.

use portcullis_testkit::api::ProblemCode;
use portcullis_testkit::{Backend, TestServer, USER_PASSWORD};

use crate::code;

const ANN: &str = "ann@example.com";

async fn a_session_client_refreshes_before_expiry(backend: Backend) {
    // Tokens live 30 s: always within the client's one-minute margin, so every call refreshes.
    let Some(app) = TestServer::spawn_with(backend, |c| c.access_token_ttl_secs = 30).await else {
        return;
    };
    app.user(ANN).await;
    let pair = app.login(ANN, USER_PASSWORD).await;
    let client = app.client().with_session(&pair);
    assert_eq!(client.me().await.unwrap().id, pair.user.id);
    let current = client.access_token().await.unwrap().unwrap();
    assert_ne!(current, pair.access_token, "refreshed before use");
    assert_eq!(
        client.clone().me().await.unwrap().id,
        pair.user.id,
        "clones share it"
    );
    // The first refresh token was used up by the client: presenting it again is reuse.
    assert_eq!(
        code(app.client().refresh(&pair.refresh_token).await),
        ProblemCode::TokenReused
    );
    assert_eq!(
        code(client.me().await),
        ProblemCode::TokenInvalid,
        "the session is over"
    );
}

async fn a_session_client_keeps_a_fresh_token(backend: Backend) {
    let Some(app) = TestServer::spawn(backend).await else {
        return;
    };
    app.user(ANN).await;
    let pair = app.login(ANN, USER_PASSWORD).await;
    let client = app.client().with_session(&pair);
    client.me().await.unwrap();
    assert_eq!(
        client.access_token().await.unwrap().as_deref(),
        Some(pair.access_token.as_str()),
        "15 minutes left: no refresh"
    );
}

mod refresh {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_refreshes() {
        a_session_client_refreshes_before_expiry(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_refreshes() {
        a_session_client_refreshes_before_expiry(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_keeps() {
        a_session_client_keeps_a_fresh_token(Backend::Sqlite).await;
    }
}
