//! Signing in through an upstream identity provider, the browser's side: "Continue with"
//! (`/ui/upstream/{id}/start`), linking one more from the account page
//! (`/ui/upstream/{id}/link`), the API for applications without the hosted pages
//! (`/v1/auth/upstream/{id}/start`, which takes an OpenID Connect authorization request and
//! ends in its authorization response), and the callback (`/ui/upstream/{id}/callback`).
//!
//! The started sign-in (state, nonce, PKCE verifier, where to go after) is sealed into a
//! ten-minute cookie bound to the callback: a callback whose `state` is not this browser's
//! is refused, so nobody can sign another's browser in to their own account. Every failure
//! has a page of its own; none is a 500.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use portcullis_core::service::{
    LinkTicket, SecondFactor, UpstreamCallback, UpstreamOutcome, UpstreamStart,
};
use portcullis_core::upstream::UpstreamError;
use portcullis_core::Services;
use portcullis_server::{AppState, Client};
use serde::{Deserialize, Serialize};

use crate::pages::{Chrome, SecondFactorPage};
use crate::web::{
    self, answer, csrf_token, html, pending_cookie, removal, see_other, Flow, PageSession, Pending,
    TRUSTED,
};

/// The cookie of a started sign-in.
pub(crate) const UPSTREAM: &str = "pc_upstream";
/// The cookie of an identity waiting for the user to prove the account it would link to.
pub(crate) const LINK: &str = "pc_link";
const UPSTREAM_PURPOSE: &str = "ui upstream sign-in";
const LINK_PURPOSE: &str = "ui upstream link";

/// What the started sign-in's cookie holds.
#[derive(Serialize, Deserialize)]
struct Started {
    start: UpstreamStart,
    flow: Flow,
}

/// A link on a sign-in page.
pub(crate) struct UpstreamLink {
    pub(crate) href: String,
    pub(crate) name: String,
}

/// The "Continue with" links of a flow's organization.
pub(crate) async fn links(services: &Services, flow: &Flow) -> Vec<UpstreamLink> {
    let query = flow.query();
    services
        .upstream_buttons(Some(flow.org()))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|b| UpstreamLink {
            href: format!("/ui/upstream/{}/start?{query}", b.id),
            name: b.name,
        })
        .collect()
}

/// The started sign-in's cookie: `SameSite=None` over https, so that a provider answering
/// with a form post (Apple) brings it back; the `state` it must match is what protects the
/// callback, not the cookie's same-site rule.
fn started_cookie(services: &Services, started: &Started) -> Cookie<'static> {
    let plain = serde_json::to_vec(started).unwrap_or_default();
    let mut c = web::cookie(
        services,
        UPSTREAM,
        services.seal(UPSTREAM_PURPOSE, &plain),
        Some(600),
    );
    if c.secure() == Some(true) {
        c.set_same_site(SameSite::None);
    }
    c
}

fn provider_page(status: StatusCode, text: &str) -> Response {
    web::message_response(status, "Cannot sign in", text)
}

/// The page for a failure.
fn failure(e: &UpstreamError) -> Response {
    match e {
        UpstreamError::State => provider_page(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started here, or it took too long. Start again.",
        ),
        UpstreamError::Refused { error, description } => provider_page(
            StatusCode::BAD_REQUEST,
            &match (error.as_str(), description) {
                ("access_denied", _) => "The sign-in was cancelled at the provider.".to_owned(),
                (e, Some(d)) => format!("The provider refused the sign-in ({e}: {d})."),
                (e, None) => format!("The provider refused the sign-in ({e})."),
            },
        ),
        UpstreamError::Unavailable(_) => provider_page(
            StatusCode::BAD_GATEWAY,
            "The provider could not be reached or answered in a way we cannot use. Try again in a moment, or sign in another way.",
        ),
        UpstreamError::Token(why) => provider_page(
            StatusCode::BAD_GATEWAY,
            &format!("The provider's answer failed a security check ({why}). Sign in another way, or ask your administrator."),
        ),
        UpstreamError::SignUpClosed => provider_page(
            StatusCode::FORBIDDEN,
            "There is no account for you here, and accounts cannot be made through this provider.",
        ),
        UpstreamError::LinkRefused => provider_page(
            StatusCode::CONFLICT,
            "An account with your address exists. Sign in to it another way; you can link this provider from your account page.",
        ),
        UpstreamError::NoEmail => provider_page(
            StatusCode::BAD_REQUEST,
            "The provider did not share your email address, which an account here needs.",
        ),
        UpstreamError::LinkedElsewhere => provider_page(
            StatusCode::CONFLICT,
            "That account at the provider is already linked to another user here.",
        ),
        UpstreamError::Auth(e) => answer(
            e,
            provider_page(
                match e {
                    portcullis_core::AuthError::NotFound => StatusCode::NOT_FOUND,
                    portcullis_core::AuthError::HookDenied(_)
                    | portcullis_core::AuthError::Inactive
                    | portcullis_core::AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                },
                &web::say(e),
            ),
        ),
    }
}

async fn begin(
    services: &Services,
    jar: CookieJar,
    id: uuid::Uuid,
    flow: Flow,
    link: Option<&portcullis_core::Principal>,
) -> Response {
    match services.start_upstream(id, flow.org(), link).await {
        Ok((to, start)) => {
            let jar = jar.add(started_cookie(services, &Started { start, flow }));
            (jar, see_other(&to)).into_response()
        }
        Err(UpstreamError::Auth(portcullis_core::AuthError::NotFound)) => provider_page(
            StatusCode::NOT_FOUND,
            "There is no such way to sign in here.",
        ),
        Err(e) => {
            tell_operator(id, &e);
            failure(&e)
        }
    }
}

/// For the operator: a provider that cannot be reached or answers wrongly is logged, with
/// which provider and why (never who).
fn tell_operator(id: uuid::Uuid, e: &UpstreamError) {
    if matches!(
        e,
        UpstreamError::Unavailable(_) | UpstreamError::Token(_) | UpstreamError::Refused { .. }
    ) {
        tracing::warn!(provider = %id, reason = %e, "upstream sign-in failed");
    }
}

/// `GET /ui/upstream/{id}/start`: "Continue with ...".
pub(crate) async fn start(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<uuid::Uuid>,
    q: Result<Query<Flow>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let services = Arc::clone(app.services());
    let flow = web::query(q);
    if let Ok(org) = services.organization(Some(flow.org())).await {
        if let Some(problem) = flow.problem(&services, &org) {
            return provider_page(StatusCode::BAD_REQUEST, &problem);
        }
    }
    begin(&services, jar, id, flow, None).await
}

/// `GET /ui/upstream/{id}/link`: the signed-in user links one more identity.
pub(crate) async fn link(
    State(app): State<AppState>,
    session: Option<axum::Extension<PageSession>>,
    jar: CookieJar,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let Some(axum::Extension(PageSession(who))) = session else {
        return see_other("/ui/signin");
    };
    let services = Arc::clone(app.services());
    let flow = Flow {
        org: Some(who.user.org_slug.clone()),
        authorize: None,
    };
    begin(&services, jar, id, flow, Some(&who)).await
}

/// `GET /v1/auth/upstream/{id}/start`: an OpenID Connect authorization request (the same
/// parameters as `/oauth2/authorize`) that signs in through the provider at once; it ends
/// in the authorization response to the application's redirect URI.
pub(crate) async fn api_start(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(id): Path<uuid::Uuid>,
    RawQuery(query): RawQuery,
) -> Response {
    let services = Arc::clone(app.services());
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    match crate::oidc::check_request(&services, &pairs).await {
        Ok((req, sealed)) => {
            let flow = Flow {
                org: Some(req.org.clone()),
                authorize: Some(sealed),
            };
            begin(&services, jar, id, flow, None).await
        }
        Err(page) => page,
    }
}

/// `GET`/`POST /ui/upstream/{id}/callback`.
pub(crate) async fn callback(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Path(id): Path<uuid::Uuid>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let services = Arc::clone(app.services());
    let raw: &[u8] = if method == Method::POST {
        &body
    } else {
        query.as_deref().unwrap_or("").as_bytes()
    };
    let callback: UpstreamCallback = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    let started = jar
        .get(UPSTREAM)
        .and_then(|c| services.open(UPSTREAM_PURPOSE, c.value()))
        .and_then(|plain| serde_json::from_slice::<Started>(&plain).ok())
        .filter(|s| s.start.provider_id == id);
    let Some(Started { start, flow }) = started else {
        return failure(&UpstreamError::State);
    };
    // The cookie is spent whatever happens next.
    let jar = jar.remove(removal(UPSTREAM));
    let proof = SecondFactor {
        trusted_device_token: jar.get(TRUSTED).map(|c| c.value().to_owned()),
        ..SecondFactor::default()
    };
    // On a task of its own: a browser that gives up half-way (or a proxy's timeout) does not
    // cut the sign-in between making an account and linking it.
    let task = {
        let (services, client) = (Arc::clone(&services), client.clone());
        tokio::spawn(async move {
            services
                .finish_upstream(&start, callback, &proof, &client)
                .await
        })
    };
    let outcome = match task.await {
        Ok(outcome) => outcome,
        Err(e) => Err(UpstreamError::Auth(portcullis_core::AuthError::Internal(
            format!("upstream sign-in task: {e}"),
        ))),
    };
    match outcome {
        Ok(UpstreamOutcome::SignedIn(tokens)) => {
            let (jar, to) = crate::public::complete(&services, jar, &flow, &tokens, &client).await;
            (jar, see_other(&to)).into_response()
        }
        Ok(UpstreamOutcome::SecondStep { ticket, methods }) => {
            let org = services.organization(Some(flow.org())).await.ok();
            let page = SecondFactorPage {
                c: Chrome::new("Second step", org.as_ref(), csrf_token(&services, &jar)),
                methods: methods.join(", "),
                passkey: methods.iter().any(|m| m == "webauthn"),
                org: flow.org().to_owned(),
            };
            let origin = flow.return_origin(&services);
            let pending = Pending {
                identifier: String::new(),
                password: String::new(),
                flow,
                methods,
                upstream: Some(ticket),
            };
            let jar = jar.add(pending_cookie(&services, &pending));
            (jar, html(StatusCode::OK, &page, origin.as_deref())).into_response()
        }
        Ok(UpstreamOutcome::ProveAccount(ticket)) => {
            let email = ticket.user.email.clone().unwrap_or_default();
            let plain = serde_json::to_vec(&ticket).unwrap_or_default();
            let jar = jar.add(web::cookie(
                &services,
                LINK,
                services.seal(LINK_PURPOSE, &plain),
                Some(600),
            ));
            let org = services.organization(Some(flow.org())).await.ok();
            let c = Chrome::new("Sign in to link", org.as_ref(), csrf_token(&services, &jar))
                .with_error(Some(format!(
                    "The provider did not confirm {email}. If you have an account here with that address, sign in to it once to link your account at the provider; after that, either way signs you in."
                )));
            let page =
                crate::public::signin_form(&services, c, flow, email, StatusCode::OK, Vec::new());
            (jar, page).into_response()
        }
        Ok(UpstreamOutcome::Linked { .. }) => (jar, see_other("/ui/account")).into_response(),
        Err(e) => {
            tell_operator(id, &e);
            (jar, failure(&e)).into_response()
        }
    }
}

/// After a sign-in that proved an account: links the identity waiting in the browser, if
/// any. A failure to link does not undo the sign-in; it is logged.
pub(crate) async fn link_waiting(
    services: &Services,
    jar: CookieJar,
    user: &portcullis_core::model::User,
    client: &portcullis_core::ClientInfo,
) -> CookieJar {
    let Some(ticket) = jar
        .get(LINK)
        .and_then(|c| services.open(LINK_PURPOSE, c.value()))
        .and_then(|plain| serde_json::from_slice::<LinkTicket>(&plain).ok())
    else {
        return jar;
    };
    if let Err(e) = services.link_proven(&ticket, user, client).await {
        tracing::warn!(error = %e, "linking an upstream identity after sign-in failed");
    }
    jar.remove(removal(LINK))
}

#[derive(Deserialize)]
pub(crate) struct UnlinkForm {
    #[serde(default)]
    id: String,
}

/// `POST /ui/account/identities/unlink`.
pub(crate) async fn unlink(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<PageSession>>,
    web::Posted(form): web::Posted<UnlinkForm>,
) -> Response {
    let Some(axum::Extension(PageSession(who))) = session else {
        return see_other("/ui/signin");
    };
    let Ok(id) = form.id.parse::<uuid::Uuid>() else {
        return see_other("/ui/account");
    };
    match app.services().unlink_identity(&who, id, &client).await {
        Ok(()) => see_other("/ui/account"),
        Err(e) => answer(
            &e,
            web::message_response(
                match e {
                    portcullis_core::AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
                    portcullis_core::AuthError::NotFound => StatusCode::NOT_FOUND,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                },
                "Cannot unlink",
                &web::say(&e),
            ),
        ),
    }
}
