//! The OpenID provider's browser side: the authorization endpoint (`/oauth2/authorize`), its
//! continuation through the hosted sign-in and the consent page (`/ui/authorize`), and
//! RP-initiated logout (`/oauth2/logout`, `/ui/logout`).
//!
//! The endpoints at `/oauth2/` check the request and send the browser on to `/ui/`, where the
//! page session's cookie is, with the checked request sealed (AES-GCM under a key derived
//! from the master key, so any node can continue what another started) in the URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use portcullis_core::oidc::{AuthRequest, LogoutRequest, REQUEST_SECS};
use portcullis_core::service::{AuthorizeNext, AuthorizeRefusal};
use portcullis_core::Services;
use portcullis_server::{AppState, Client};
use serde::Deserialize;

use crate::pages::{Chrome, ConsentPage, SignedOut};
use crate::web::{
    self, answer, csrf_token, html, origin_of, removal, see_other, Flow, PageSession, Posted,
    SESSION,
};

const REQUEST_PURPOSE: &str = "oidc authorization request";
const LOGOUT_PURPOSE: &str = "oidc logout request";

/// The name-value pairs of a request: the query of a GET, the form of a POST.
fn pairs(method: &Method, query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let raw: &[u8] = if method == Method::POST {
        body
    } else {
        query.unwrap_or("").as_bytes()
    };
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn seal<T: serde::Serialize>(services: &Services, purpose: &str, value: &T) -> String {
    let plain = serde_json::to_vec(value).unwrap_or_default();
    services.seal(purpose, &plain)
}

fn open<T: serde::de::DeserializeOwned>(
    services: &Services,
    purpose: &str,
    sealed: &str,
    started_at: impl Fn(&T) -> i64,
) -> Option<T> {
    let plain = services.open(purpose, sealed)?;
    let value: T = serde_json::from_slice(&plain).ok()?;
    (services.now().timestamp() - started_at(&value) <= REQUEST_SECS).then_some(value)
}

/// The checked authorization request sealed in `sealed`, unless it is not one or too old.
pub(crate) fn open_request(services: &Services, sealed: &str) -> Option<AuthRequest> {
    open(services, REQUEST_PURPOSE, sealed, |r: &AuthRequest| {
        r.started_at
    })
}

/// Where a sign-in made for an authorization goes on to.
pub(crate) fn continue_url(sealed: &str) -> String {
    let query = serde_urlencoded::to_string([("request", sealed)]).unwrap_or_default();
    format!("/ui/authorize?{query}")
}

fn cannot_continue(text: &str) -> Response {
    web::message_response(StatusCode::BAD_REQUEST, "Cannot sign in", text)
}

/// `GET`/`POST /oauth2/authorize`.
pub(crate) async fn authorize(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let services = app.services();
    let pairs = pairs(&method, query.as_deref(), &body);
    match check_request(services, &pairs).await {
        Ok((_, sealed)) => see_other(&continue_url(&sealed)),
        Err(page) => page,
    }
}

/// An authorization request checked and sealed; or the page (or redirect back to the
/// application) that refuses it.
pub(crate) async fn check_request(
    services: &Services,
    pairs: &[(String, String)],
) -> Result<(AuthRequest, String), Response> {
    match services.start_authorization(pairs).await {
        Ok(req) => {
            let sealed = seal(services, REQUEST_PURPOSE, &req);
            Ok((req, sealed))
        }
        Err(AuthorizeRefusal::Page(text)) => Err(cannot_continue(&text)),
        Err(AuthorizeRefusal::Redirect(to)) => Err(see_other(&to)),
        Err(AuthorizeRefusal::Failed(e)) => Err(answer(
            &e,
            web::message_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The sign-in could not start just now; try again in a moment.",
            ),
        )),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Continue {
    #[serde(default)]
    request: String,
}

/// `GET /ui/authorize`: on to the sign-in, the consent page, or back to the client.
pub(crate) async fn continue_authorization(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<PageSession>>,
    jar: CookieJar,
    q: Result<Query<Continue>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let services = Arc::clone(app.services());
    let sealed = web::query(q).request;
    let Some(req) = open_request(&services, &sealed) else {
        return cannot_continue(
            "This sign-in request has expired. Go back to the application and start again.",
        );
    };
    let who = session.map(|axum::Extension(PageSession(who))| who);
    // Signed in, but the organization requires a second factor this user has yet to set
    // up: the account page says so and offers it (the application is asked again after).
    let enrolling = who
        .as_ref()
        .is_some_and(portcullis_core::Principal::enrolment_only);
    if enrolling && !req.prompt.contains(&portcullis_core::oidc::Prompt::None) {
        return see_other("/ui/account");
    }
    match services
        .continue_authorization(&req, who.as_ref(), &client)
        .await
    {
        Ok(AuthorizeNext::Redirect(to)) => see_other(&to),
        Ok(AuthorizeNext::SignIn) => {
            let flow = Flow {
                org: Some(req.org.clone()),
                authorize: Some(sealed),
            };
            see_other(&format!("/ui/signin?{}", flow.query()))
        }
        Ok(AuthorizeNext::Consent) => match who {
            Some(who) => consent_page(&services, &jar, &req, sealed, &who).await,
            None => cannot_continue("Sign in first."),
        },
        Err(e) => answer(
            &e,
            cannot_continue("The application can no longer sign you in here."),
        ),
    }
}

/// What a scope lets an application see, in words.
fn scope_words(scope: &str) -> Option<&'static str> {
    match scope {
        "profile" => Some("your name and username"),
        "email" => Some("your email address"),
        "phone" => Some("your phone number"),
        "offline_access" => Some("your account while you are away (it stays signed in)"),
        _ => None,
    }
}

async fn consent_page(
    services: &Services,
    jar: &CookieJar,
    req: &AuthRequest,
    sealed: String,
    who: &portcullis_core::Principal,
) -> Response {
    let org = services.organization(Some(&req.org)).await.ok();
    let mut c = Chrome::new("Allow access?", org.as_ref(), csrf_token(services, jar));
    let account = who
        .user
        .email
        .clone()
        .or_else(|| who.user.username.clone())
        .or_else(|| who.user.phone.clone())
        .unwrap_or_else(|| who.user.id.to_string());
    c.user = Some(account.clone());
    let page = ConsentPage {
        c,
        request: sealed,
        client: req.client_name.clone(),
        scopes: req.scope.iter().filter_map(|s| scope_words(s)).collect(),
        account,
    };
    let origin = origin_of(&req.redirect_uri);
    html(StatusCode::OK, &page, origin.as_deref())
}

#[derive(Deserialize)]
pub(crate) struct ConsentForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// `POST /ui/authorize`: the consent page's answer.
pub(crate) async fn consent(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<PageSession>>,
    Posted(form): Posted<ConsentForm>,
) -> Response {
    let services = Arc::clone(app.services());
    let Some(req) = open_request(&services, &form.request) else {
        return cannot_continue(
            "This sign-in request has expired. Go back to the application and start again.",
        );
    };
    let Some(axum::Extension(PageSession(who))) = session else {
        return see_other(&continue_url(&form.request));
    };
    match services
        .answer_consent(&req, &who, form.decision == "allow", &client)
        .await
    {
        Ok(to) => see_other(&to),
        Err(e) => answer(
            &e,
            cannot_continue("The application can no longer sign you in here."),
        ),
    }
}

/// `GET`/`POST /oauth2/logout` (RP-initiated logout).
pub(crate) async fn logout(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let services = app.services();
    let pairs = pairs(&method, query.as_deref(), &body);
    match services.start_logout(&pairs).await {
        Ok(req) => {
            let sealed = seal(services, LOGOUT_PURPOSE, &req);
            let query = serde_urlencoded::to_string([("request", sealed)]).unwrap_or_default();
            see_other(&format!("/ui/logout?{query}"))
        }
        Err(portcullis_core::oidc::OidcError::Failed(e)) => answer(
            &e,
            web::message_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "Signing out did not work just now; try again in a moment.",
            ),
        ),
        Err(e) => web::message_response(
            StatusCode::BAD_REQUEST,
            "Cannot sign out",
            &format!("The application's sign-out request was refused: {e}."),
        ),
    }
}

fn open_logout(services: &Services, sealed: &str) -> Option<LogoutRequest> {
    open(services, LOGOUT_PURPOSE, sealed, |r: &LogoutRequest| {
        r.started_at
    })
}

/// `GET /ui/logout`: signs out at once when the application proved which session it ends
/// (its `id_token_hint` names this browser's), else asks.
pub(crate) async fn logout_page(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<PageSession>>,
    jar: CookieJar,
    q: Result<Query<Continue>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let services = Arc::clone(app.services());
    let sealed = web::query(q).request;
    let Some(req) = open_logout(&services, &sealed) else {
        return web::message_response(
            StatusCode::BAD_REQUEST,
            "Cannot sign out",
            "This sign-out request has expired. Go back to the application and try again.",
        );
    };
    let who = session.map(|axum::Extension(PageSession(who))| who);
    let proven = match (&who, &req.sid) {
        (Some(who), Some(sid)) => *sid == who.session_id.to_string(),
        (None, _) => true,
        (Some(_), None) => false,
    };
    if proven {
        return sign_out(&services, jar, who.as_ref(), &req, &client).await;
    }
    let org = services.organization(req.org.as_deref()).await.ok();
    let page = SignedOut {
        c: Chrome::new("Sign out", org.as_ref(), csrf_token(&services, &jar)),
        confirm: true,
        request: sealed,
        client: req.client_name.clone(),
    };
    let origin = req.redirect.as_deref().and_then(origin_of);
    html(StatusCode::OK, &page, origin.as_deref())
}

/// `POST /ui/logout`: the user confirmed.
pub(crate) async fn logout_confirmed(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<PageSession>>,
    jar: CookieJar,
    Posted(form): Posted<Continue>,
) -> Response {
    let services = Arc::clone(app.services());
    let Some(req) = open_logout(&services, &form.request) else {
        return web::message_response(
            StatusCode::BAD_REQUEST,
            "Cannot sign out",
            "This sign-out request has expired. Go back to the application and try again.",
        );
    };
    let who = session.map(|axum::Extension(PageSession(who))| who);
    sign_out(&services, jar, who.as_ref(), &req, &client).await
}

async fn sign_out(
    services: &Services,
    jar: CookieJar,
    who: Option<&portcullis_core::Principal>,
    req: &LogoutRequest,
    client: &portcullis_core::ClientInfo,
) -> Response {
    if let Some(who) = who {
        if let Err(e) = services
            .end_browser_session(who, req.client_id, client)
            .await
        {
            return answer(
                &e,
                web::message_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    "Signing out did not work just now; try again in a moment.",
                ),
            );
        }
    }
    let jar = jar.remove(removal(SESSION));
    if let Some(to) = &req.redirect {
        return (jar, see_other(to)).into_response();
    }
    let org = services.organization(req.org.as_deref()).await.ok();
    let page = SignedOut {
        c: Chrome::new("Signed out", org.as_ref(), String::new()),
        confirm: false,
        request: String::new(),
        client: None,
    };
    (jar, html(StatusCode::OK, &page, None)).into_response()
}
