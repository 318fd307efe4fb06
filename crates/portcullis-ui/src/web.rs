//! What every page shares: the cookies (page session, CSRF, pending sign-in, trusted
//! device), the middleware that keeps the page session fresh, the CSRF-checked form
//! extractor, rendering with the security headers, and the words for errors.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use portcullis_core::model::Organization;
use portcullis_core::service::{OrgAdmin, Tokens};
use portcullis_core::{AuthError, ClientInfo, Principal, Services};
use portcullis_server::{AppState, Client, Unexpected};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::pages::{Chrome, Message};

pub(crate) const SESSION: &str = "pc_session";
pub(crate) const CSRF: &str = "pc_csrf";
pub(crate) const PENDING: &str = "pc_pending";
pub(crate) const TRUSTED: &str = "pc_trusted";
/// The device cookie of the last account signed into from this browser: it keeps signing
/// in while others' failures lock that account.
pub(crate) const DEVICE: &str = "pc_device";

const SESSION_PURPOSE: &str = "ui session";
const PENDING_PURPOSE: &str = "ui pending sign-in";
const CSRF_PURPOSE: &str = "ui csrf";

/// A fresh random value (two v4 UUIDs from the OS RNG: 244 random bits).
fn random_value() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether cookies must be `Secure`: the server's public address is `https://`.
fn secure(services: &Services) -> bool {
    services.config().issuer.starts_with("https://")
}

/// A cookie of the pages: `HttpOnly`, `SameSite=Lax`, path `/ui`, `Secure` over HTTPS;
/// `max_age` in seconds, or a browser-session cookie.
pub(crate) fn cookie(
    services: &Services,
    name: &'static str,
    value: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/ui")
        .secure(secure(services))
        .build();
    if let Some(secs) = max_age {
        c.set_max_age(time::Duration::seconds(secs));
    }
    c
}

/// A cookie that removes `name`.
pub(crate) fn removal(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build((name, "")).path("/ui").build();
    c.make_removal();
    c
}

#[derive(Serialize, Deserialize)]
struct SealedPair {
    a: String,
    r: String,
}

/// The page-session cookie for a token pair.
pub(crate) fn session_cookie(services: &Services, tokens: &Tokens) -> Cookie<'static> {
    let pair = SealedPair {
        a: tokens.access_token.clone(),
        r: tokens.refresh_token.clone(),
    };
    let plain = serde_json::to_vec(&pair).unwrap_or_default();
    cookie(
        services,
        SESSION,
        services.seal(SESSION_PURPOSE, &plain),
        None,
    )
}

fn open_pair(services: &Services, sealed: &str) -> Option<SealedPair> {
    let plain = services.open(SESSION_PURPOSE, sealed)?;
    serde_json::from_slice(&plain).ok()
}

/// A sign-in waiting for its second factor, kept sealed in a short-lived cookie (the
/// password included: the second step repeats the sign-in with the code).
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) identifier: String,
    pub(crate) password: String,
    pub(crate) flow: Flow,
    pub(crate) methods: Vec<String>,
    /// Set when the first factor was passed at an upstream identity provider.
    #[serde(default)]
    pub(crate) upstream: Option<portcullis_core::service::UpstreamTicket>,
}

pub(crate) fn pending_cookie(services: &Services, pending: &Pending) -> Cookie<'static> {
    let plain = zeroizing_json(pending);
    cookie(
        services,
        PENDING,
        services.seal(PENDING_PURPOSE, &plain),
        Some(300),
    )
}

fn zeroizing_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

pub(crate) fn open_pending(services: &Services, jar: &CookieJar) -> Option<Pending> {
    let plain = services.open(PENDING_PURPOSE, jar.get(PENDING)?.value())?;
    serde_json::from_slice(&plain).ok()
}

/// Where a sign-in goes afterwards, carried through every form of the flow: the
/// organization, and the OpenID Connect authorization waiting for it, if any.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Flow {
    #[serde(default)]
    pub(crate) org: Option<String>,
    /// The checked authorization request, sealed (see `oidc`).
    #[serde(default)]
    pub(crate) authorize: Option<String>,
}

impl Flow {
    /// The organization's slug (the default one when none is named).
    pub(crate) fn org(&self) -> &str {
        self.org
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(Organization::DEFAULT_SLUG)
    }

    /// `None` when the flow may go on; else why not: an authorization must still be one
    /// (sealed here, not too old) of this organization.
    pub(crate) fn problem(&self, services: &Services, org: &Organization) -> Option<String> {
        let sealed = self.authorize.as_deref()?;
        match crate::oidc::open_request(services, sealed) {
            Some(req) if req.org == org.slug => None,
            _ => Some(
                "This sign-in request has expired. Go back to the application and start again."
                    .to_owned(),
            ),
        }
    }

    /// The query string that carries this flow to another page of it.
    pub(crate) fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    /// The origin a form of this flow may finally redirect to (for the CSP's form-action).
    pub(crate) fn return_origin(&self, services: &Services) -> Option<String> {
        let req = crate::oidc::open_request(services, self.authorize.as_deref()?)?;
        origin_of(&req.redirect_uri)
    }
}

/// The origin (`scheme://authority`) of an absolute URL.
pub(crate) fn origin_of(to: &str) -> Option<String> {
    {
        let (scheme, rest) = to.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        Some(format!("{scheme}://{authority}"))
    }
}

/// Keeps the page session fresh and the CSRF cookie present, before any page runs: an
/// expired access token is renewed with the refresh token (both cookies rewritten), a dead
/// session's cookie is removed.
pub(crate) async fn guard(mut req: Request, next: Next) -> Response {
    let Some(app) = req.extensions().get::<AppState>().cloned() else {
        return next.run(req).await;
    };
    let services = Arc::clone(app.services());
    let mut jar = CookieJar::from_headers(req.headers());
    let mut set = Vec::new();
    if jar.get(CSRF).is_none() {
        let c = cookie(&services, CSRF, random_value(), None);
        jar = jar.add(c.clone());
        set.push(c);
    }
    if let Some(sealed) = jar.get(SESSION).map(|c| c.value().to_owned()) {
        let client = client_of(&mut req, &app).await;
        let who = match open_pair(&services, &sealed) {
            Some(pair) => match services.authenticate(&pair.a).await {
                Ok(who) => Some(who),
                Err(AuthError::TokenInvalid) => {
                    match services.refresh_pair(&pair.a, &pair.r, &client).await {
                        Ok(tokens) => {
                            let c = session_cookie(&services, &tokens);
                            jar = jar.add(c.clone());
                            set.push(c);
                            services.authenticate(&tokens.access_token).await.ok()
                        }
                        Err(_) => None,
                    }
                }
                // The store failed: the page says so, the cookie stays.
                Err(_) => {
                    req.extensions_mut().insert(SessionUnavailable);
                    None
                }
            },
            None => None,
        };
        match who {
            Some(who) => {
                req.extensions_mut().insert(PageSession(who));
            }
            None if req.extensions().get::<SessionUnavailable>().is_none() => {
                jar = jar.remove(removal(SESSION));
                set.push(removal(SESSION));
            }
            None => {}
        }
    }
    let header: Vec<String> = jar
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    req.headers_mut().remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&header.join("; ")) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut res = next.run(req).await;
    // What the page itself set wins: a sign-in that replaces a dead session's cookie must
    // not be undone by the guard's removal of it.
    let page_set: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next().map(str::to_owned))
        .collect();
    for c in set {
        if page_set.iter().any(|name| name == c.name()) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&c.encoded().to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The caller of a page, as the guard found them (once per request).
#[derive(Clone)]
pub(crate) struct PageSession(pub(crate) Principal);

/// The guard could not check the page session (the database did not answer).
#[derive(Clone, Copy)]
struct SessionUnavailable;

async fn client_of(req: &mut Request, app: &AppState) -> ClientInfo {
    let (mut parts, body) = std::mem::take(req).into_parts();
    let Ok(Client(client)) = Client::from_request_parts(&mut parts, app).await;
    *req = Request::from_parts(parts, body);
    client
}

/// The CSRF token of this browser: a MAC of its CSRF cookie.
pub(crate) fn csrf_token(services: &Services, jar: &CookieJar) -> String {
    jar.get(CSRF)
        .map(|c| services.mac(CSRF_PURPOSE, c.value().as_bytes()))
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form posted from one of the pages: its CSRF token checked, then read as `T`.
pub(crate) struct Posted<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(req.headers());
        // The passkey script posts JSON; forms post URL-encoded.
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let expected = csrf_token(app.services(), &jar);
        let given = if json {
            serde_json::from_slice::<CsrfField>(&bytes)
                .map(|f| f.csrf)
                .unwrap_or_default()
        } else {
            serde_urlencoded::from_bytes::<CsrfField>(&bytes)
                .map(|f| f.csrf)
                .unwrap_or_default()
        };
        if expected.is_empty()
            || !portcullis_core::crypto::ct_eq(expected.as_bytes(), given.as_bytes())
        {
            return Err(forbidden_page(
                "This form has expired. Go back, reload the page, and try again.",
            ));
        }
        let parsed = if json {
            serde_json::from_slice::<T>(&bytes).map_err(|e| e.to_string())
        } else {
            serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| e.to_string())
        };
        parsed.map(Posted).map_err(|e| {
            message_response(
                StatusCode::BAD_REQUEST,
                "That did not work",
                &format!("The form could not be read: {e}."),
            )
        })
    }
}

/// The signed-in user of a page, with the services and where the request came from.
pub(crate) struct Signed {
    pub(crate) services: Arc<Services>,
    pub(crate) who: Principal,
    pub(crate) client: ClientInfo,
    pub(crate) jar: CookieJar,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let services = Arc::clone(app.services());
        if parts.extensions.get::<SessionUnavailable>().is_some() {
            return Err(message_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "Your session could not be checked just now; try again in a moment.",
            ));
        }
        let who = parts
            .extensions
            .get::<PageSession>()
            .map(|PageSession(who)| who.clone())
            .ok_or_else(|| Redirect::to("/ui/signin").into_response())?;
        // A session that may only enrol a second factor (the organization requires one)
        // reaches the account page's enrolment and sign-out, nothing else.
        const ENROLMENT: [&str; 6] = [
            "/ui/account",
            "/ui/account/mfa/start",
            "/ui/account/mfa/activate",
            "/ui/account/passkeys/start",
            "/ui/account/passkeys/finish",
            "/ui/signout",
        ];
        // The path as requested (inside `/ui` the router sees it without the prefix).
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |o| o.path().to_owned());
        if who.enrolment_only() && !ENROLMENT.contains(&path.as_str()) {
            return Err(Redirect::to("/ui/account").into_response());
        }
        let Ok(Client(client)) = Client::from_request_parts(parts, app).await;
        Ok(Self {
            services,
            who,
            client,
            jar,
        })
    }
}

impl Signed {
    /// The page chrome for this user.
    pub(crate) async fn chrome(&self, title: &str) -> Chrome {
        let org = self
            .services
            .organization(Some(&self.who.user.org_slug))
            .await
            .ok();
        let mut c = Chrome::new(title, org.as_ref(), csrf_token(&self.services, &self.jar));
        c.user = Some(
            self.who
                .user
                .email
                .clone()
                .or_else(|| self.who.user.username.clone())
                .or_else(|| self.who.user.phone.clone())
                .unwrap_or_default(),
        );
        c.admin = self.services.admin(self.who.clone()).is_ok();
        c
    }

    /// The caller as an admin, if they are one.
    pub(crate) fn admin(&self) -> Option<OrgAdmin> {
        self.services.admin(self.who.clone()).ok()
    }
}

/// The page for someone who is not an admin.
pub(crate) fn not_admin() -> Response {
    message_response(
        StatusCode::FORBIDDEN,
        "Administrators only",
        "This console is for organization and system administrators.",
    )
}

/// A page's query string, lenient: what cannot be read is absent.
pub(crate) fn query<T: DeserializeOwned + Default>(raw: Result<Query<T>, QueryRejection>) -> T {
    raw.map(|Query(q)| q).unwrap_or_default()
}

/// The Content-Security-Policy of the pages: nothing but this server's own stylesheet, its
/// one script (passkeys) and images (and `data:` QR codes, and an organization's `https:`
/// logo); no inline script or style;
/// forms post here (and, in a sign-in going back to an application, may be redirected to
/// its origin).
fn csp(return_origin: Option<&str>) -> String {
    let form_action = match return_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data: https:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A rendered page with the pages' security headers.
pub(crate) fn html<T: Template>(
    status: StatusCode,
    page: &T,
    return_origin: Option<&str>,
) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                (header::CONTENT_SECURITY_POLICY, csp(return_origin)),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response()
        }
    }
}

/// A page's status: 400 when it shows an error.
pub(crate) fn status_of(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

pub(crate) fn ok<T: Template>(page: &T) -> Response {
    html(StatusCode::OK, page, None)
}

/// A page that only says something.
pub(crate) fn message_response(status: StatusCode, title: &str, text: &str) -> Response {
    let mut c = Chrome::new(title, None, String::new());
    c.notice = None;
    html(
        status,
        &Message {
            c,
            text: text.to_owned(),
            link: None,
        },
        None,
    )
}

pub(crate) fn forbidden_page(text: &str) -> Response {
    message_response(StatusCode::FORBIDDEN, "Not allowed", text)
}

pub(crate) async fn not_found() -> Response {
    message_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

/// 303 to `to` (after a form).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The page answering `e`, with the one error policy applied: when `e` is a failure the
/// pages have no words of their own for (the store, a bug, overload), the page keeps its
/// text but takes the status and `Retry-After` `/v1` would answer, and carries the cause to
/// the request log.
pub(crate) fn answer(e: &AuthError, page: Response) -> Response {
    match Unexpected::classify(e) {
        Some(u) => u.apply(page),
        None => page,
    }
}

/// What went wrong, in words for the person at the page.
pub(crate) fn say(e: &AuthError) -> String {
    match e {
        AuthError::Validation(f) | AuthError::WeakPassword(f) => f
            .iter()
            .map(|f| format!("{}: {}.", label(&f.field), f.message))
            .collect::<Vec<_>>()
            .join(" "),
        AuthError::InvalidCredentials => "That is not the right password or code.".to_owned(),
        AuthError::Unauthorized | AuthError::TokenInvalid | AuthError::TokenReused => {
            "Your session has ended; sign in again.".to_owned()
        }
        AuthError::MfaRequired { .. } => "A second factor is needed.".to_owned(),
        AuthError::RateLimited { retry_after_secs } => {
            format!("Too many attempts; try again in {retry_after_secs} seconds.")
        }
        AuthError::Locked { retry_after_secs } => format!(
            "Too many failed attempts: this account is locked for {} more minutes.",
            retry_after_secs.div_ceil(60)
        ),
        AuthError::Inactive => "This account is deactivated.".to_owned(),
        AuthError::Forbidden(why) => format!("Not allowed: {why}."),
        AuthError::NotFound => "Not found.".to_owned(),
        AuthError::Duplicate(what) => format!("That {what} is already in use."),
        AuthError::CodeInvalid => "That code is not correct.".to_owned(),
        AuthError::CodeExpired => "That code has expired; ask for a new one.".to_owned(),
        AuthError::Overloaded { .. } => "The server is busy; try again in a moment.".to_owned(),
        AuthError::HookDenied(message) => message.clone(),
        AuthError::HookUnavailable => {
            "A service this depends on did not answer; try again in a moment.".to_owned()
        }
        AuthError::Store(_) | AuthError::Internal(_) => {
            "Something went wrong on our side; try again.".to_owned()
        }
    }
}

fn label(field: &str) -> String {
    let mut s = field.replace(['_', '.'], " ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// The passkey script (the pages' only one).
pub(crate) async fn passkey_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/passkey.js"),
    )
        .into_response()
}

/// The shared stylesheet.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/style.css"),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct OrgQuery {
    #[serde(default)]
    org: Option<String>,
}

/// An organization's colour, as a stylesheet (a `style` attribute would need the CSP to
/// allow inline styles).
pub(crate) async fn brand_stylesheet(
    axum::extract::State(app): axum::extract::State<AppState>,
    q: Result<Query<OrgQuery>, QueryRejection>,
) -> Response {
    let q = query(q);
    let color = app
        .services()
        .organization(q.org.as_deref())
        .await
        .ok()
        .and_then(|o| o.policy.brand_color)
        .unwrap_or_else(|| "#1f4fbf".to_owned());
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        format!(":root {{ --brand: {color}; }}\n"),
    )
        .into_response()
}

/// The profile fields of a form (the account page's and the console's).
#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

impl ProfileForm {
    /// The change from `before`: only fields that differ are sent (an unchanged address
    /// stays proven); a field emptied is cleared.
    pub(crate) fn changes(
        &self,
        before: &portcullis_core::User,
        client: ClientInfo,
    ) -> portcullis_core::service::UpdateProfileInput {
        use portcullis_core::service::Patch;
        let changed = |new: &str, old: &Option<String>| match new.trim() {
            v if v == old.as_deref().unwrap_or("") => Patch::Keep,
            "" => Patch::Clear,
            v => Patch::Set(v.to_owned()),
        };
        portcullis_core::service::UpdateProfileInput {
            email: changed(&self.email, &before.email),
            phone: changed(&self.phone, &before.phone),
            username: changed(&self.username, &before.username),
            first_name: changed(&self.first_name, &before.first_name),
            last_name: changed(&self.last_name, &before.last_name),
            attributes: None,
            client,
        }
    }
}
