//! The pages anyone may open: sign in (with the second-factor step), sign up, verify an
//! address, sign in with a mailed code, forgot and reset a password; and the way back to
//! the application a sign-in came from.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use portcullis_core::model::Organization;
use portcullis_core::service::{
    CodeRequest, CodeSubmission, LoginInput, RegisterInput, SecondFactor, Tokens,
};
use portcullis_core::{AuthError, Services};
use portcullis_server::{AppState, Client};
use serde::Deserialize;

use crate::pages::{
    Chrome, CodeSignIn, Forgot, Message, Reset, SecondFactorPage, SignIn, SignUp, Verify,
};
use crate::web::{
    self, answer, csrf_token, html, ok, open_pending, pending_cookie, removal, say, see_other,
    session_cookie, Flow, Pending, Posted, DEVICE, PENDING, SESSION, TRUSTED,
};

/// The organization of a flow and the chrome of its pages; or the page that says the flow
/// cannot go on (an unknown organization, or an application it does not send users to).
async fn start(
    services: &Services,
    jar: &CookieJar,
    flow: &Flow,
    title: &str,
) -> Result<(Organization, Chrome), Response> {
    let org = services.organization(Some(flow.org())).await.map_err(|_| {
        web::message_response(
            StatusCode::NOT_FOUND,
            "Unknown organization",
            "There is no organization by that name.",
        )
    })?;
    if let Some(problem) = flow.problem(services, &org) {
        return Err(web::message_response(
            StatusCode::BAD_REQUEST,
            "Cannot continue",
            &problem,
        ));
    }
    let chrome = Chrome::new(title, Some(&org), csrf_token(services, jar));
    Ok((org, chrome))
}

/// `/ui/`: the account page when signed in, else the sign-in page.
pub(crate) async fn home(jar: CookieJar) -> Response {
    if jar.get(SESSION).is_some() {
        see_other("/ui/account")
    } else {
        see_other("/ui/signin")
    }
}

pub(crate) fn signin_form(
    services: &Services,
    c: Chrome,
    flow: Flow,
    identifier: String,
    status: StatusCode,
    upstream: Vec<crate::upstream::UpstreamLink>,
) -> Response {
    let origin = flow.return_origin(services);
    let query = flow.query();
    html(
        status,
        &SignIn {
            c,
            flow,
            query,
            identifier,
            upstream,
        },
        origin.as_deref(),
    )
}

pub(crate) async fn signin_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<Flow>, QueryRejection>,
) -> Response {
    let flow = web::query(q);
    match start(app.services(), &jar, &flow, "Sign in").await {
        Ok((_, c)) => {
            // An application's `login_hint` fills in who signs in.
            let hint = flow
                .authorize
                .as_deref()
                .and_then(|a| crate::oidc::open_request(app.services(), a))
                .and_then(|r| r.login_hint)
                .unwrap_or_default();
            let upstream = crate::upstream::links(app.services(), &flow).await;
            signin_form(app.services(), c, flow, hint, StatusCode::OK, upstream)
        }
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    remember: Option<String>,
    #[serde(flatten)]
    flow: Flow,
}

/// A sign-in's outcome: into the account (or back to the application), on to the second
/// factor, or the form again with what went wrong.
async fn signed_in(
    services: &Arc<Services>,
    jar: CookieJar,
    flow: Flow,
    result: Result<Tokens, AuthError>,
    again: impl FnOnce(Chrome, String) -> Response,
    (csrf, client): (String, &portcullis_core::ClientInfo),
) -> Response {
    match result {
        Ok(tokens) => finish(services, jar, &flow, tokens, client).await,
        Err(e) => {
            let org = services.organization(Some(flow.org())).await.ok();
            let c = Chrome::new("Sign in", org.as_ref(), csrf).with_error(Some(say(&e)));
            answer(&e, again(c, String::new()))
        }
    }
}

pub(crate) async fn signin(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<SignInForm>,
) -> Response {
    let services = Arc::clone(app.services());
    if let Err(page) = start(&services, &jar, &form.flow, "Sign in").await {
        return page;
    }
    let result = services
        .login(LoginInput {
            identifier: form.identifier.clone(),
            password: form.password.clone(),
            organization: Some(form.flow.org().to_owned()),
            second_factor: SecondFactor {
                trusted_device_token: jar.get(TRUSTED).map(|c| c.value().to_owned()),
                remember_device: form.remember.is_some(),
                ..SecondFactor::default()
            },
            device_cookie: jar.get(DEVICE).map(|c| c.value().to_owned()),
            client: client.clone(),
            ..LoginInput::default()
        })
        .await;
    let csrf = csrf_token(&services, &jar);
    if let Err(AuthError::MfaRequired { methods }) = &result {
        let pending = Pending {
            identifier: form.identifier,
            password: form.password,
            flow: form.flow.clone(),
            methods: methods.clone(),
            upstream: None,
        };
        let org = services.organization(Some(form.flow.org())).await.ok();
        let page = SecondFactorPage {
            c: Chrome::new("Second step", org.as_ref(), csrf),
            methods: methods.join(", "),
            passkey: methods.iter().any(|m| m == "webauthn"),
            org: form.flow.org().to_owned(),
        };
        let jar = jar.add(pending_cookie(&services, &pending));
        let origin = form.flow.return_origin(&services);
        return (jar, html(StatusCode::OK, &page, origin.as_deref())).into_response();
    }
    let flow = form.flow.clone();
    let identifier = form.identifier;
    let services2 = Arc::clone(&services);
    let upstream = crate::upstream::links(&services, &flow).await;
    signed_in(
        &services,
        jar,
        form.flow,
        result,
        move |c, _| {
            signin_form(
                &services2,
                c,
                flow,
                identifier,
                StatusCode::UNAUTHORIZED,
                upstream,
            )
        },
        (csrf, &client),
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct SecondFactorForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    remember: Option<String>,
    /// A passkey assertion (JSON, filled in by the page's script).
    #[serde(default)]
    passkey: String,
}

/// The second step: the code of an authenticator (six digits) or a recovery code.
pub(crate) async fn signin_second_factor(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<SecondFactorForm>,
) -> Response {
    let services = Arc::clone(app.services());
    let Some(pending) = open_pending(&services, &jar) else {
        return see_other("/ui/signin");
    };
    let code = form.code.trim().to_owned();
    let passkey =
        serde_json::from_str::<portcullis_core::service::PasskeyAssertion>(&form.passkey).ok();
    let is_totp = code.chars().filter(char::is_ascii_digit).count() == 6
        && code
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    let second_factor = SecondFactor {
        mfa_code: (is_totp && passkey.is_none()).then(|| code.clone()),
        recovery_code: (!is_totp && passkey.is_none() && !code.is_empty()).then(|| code.clone()),
        trusted_device_token: None,
        remember_device: form.remember.is_some(),
        passkey,
    };
    let result = match &pending.upstream {
        // The first factor was passed at an upstream identity provider.
        Some(ticket) => {
            services
                .upstream_second_step(ticket, &second_factor, &client)
                .await
        }
        None => {
            services
                .login(LoginInput {
                    identifier: pending.identifier.clone(),
                    password: pending.password.clone(),
                    organization: Some(pending.flow.org().to_owned()),
                    second_factor,
                    device_cookie: jar.get(DEVICE).map(|c| c.value().to_owned()),
                    client: client.clone(),
                    ..LoginInput::default()
                })
                .await
        }
    };
    let csrf = csrf_token(&services, &jar);
    match result {
        Ok(tokens) => {
            let jar = jar.remove(removal(PENDING));
            finish(&services, jar, &pending.flow, tokens, &client).await
        }
        Err(
            e @ (AuthError::MfaRequired { .. }
            | AuthError::InvalidCredentials
            | AuthError::CodeInvalid),
        ) => {
            let org = services.organization(Some(pending.flow.org())).await.ok();
            let page = SecondFactorPage {
                c: Chrome::new("Second step", org.as_ref(), csrf).with_error(Some(match e {
                    AuthError::MfaRequired { .. } => "Enter the code.".to_owned(),
                    e => say(&e),
                })),
                methods: pending.methods.join(", "),
                passkey: pending.methods.iter().any(|m| m == "webauthn"),
                org: pending.flow.org().to_owned(),
            };
            let origin = pending.flow.return_origin(&services);
            html(StatusCode::UNAUTHORIZED, &page, origin.as_deref())
        }
        Err(e) => {
            let org = services.organization(Some(pending.flow.org())).await.ok();
            let c = Chrome::new("Sign in", org.as_ref(), csrf).with_error(Some(say(&e)));
            let jar = jar.remove(removal(PENDING));
            let upstream = crate::upstream::links(&services, &pending.flow).await;
            let page = signin_form(
                &services,
                c,
                pending.flow,
                pending.identifier,
                StatusCode::UNAUTHORIZED,
                upstream,
            );
            (jar, answer(&e, page)).into_response()
        }
    }
}

/// Signed in: the page session starts, and the browser goes back to the application with a
/// code (when the sign-in came from one), else to the account page.
async fn finish(
    services: &Arc<Services>,
    jar: CookieJar,
    flow: &Flow,
    tokens: Tokens,
    client: &portcullis_core::ClientInfo,
) -> Response {
    let (jar, to) = complete(services, jar, flow, &tokens, client).await;
    (jar, see_other(&to)).into_response()
}

/// The cookies of a new page session, and where the browser goes next: on with the
/// application's authorization, or to the account page.
pub(crate) async fn complete(
    services: &Arc<Services>,
    jar: CookieJar,
    flow: &Flow,
    tokens: &Tokens,
    client: &portcullis_core::ClientInfo,
) -> (CookieJar, String) {
    // A sign-in that proved the account an upstream identity waits to be linked to.
    let jar = crate::upstream::link_waiting(services, jar, &tokens.user, client).await;
    let mut jar = jar.add(session_cookie(services, tokens));
    if let Some(device) = &tokens.device_cookie {
        jar = jar.add(web::cookie(
            services,
            DEVICE,
            device.clone(),
            Some(365 * 86_400),
        ));
    }
    if let Some(trusted) = &tokens.trusted_device_token {
        jar = jar.add(web::cookie(
            services,
            TRUSTED,
            trusted.clone(),
            Some(30 * 86_400),
        ));
    }
    let to = match flow.authorize.as_deref() {
        Some(sealed) => crate::oidc::continue_url(sealed),
        None => "/ui/account".to_owned(),
    };
    (jar, to)
}

/// Ends the page session (and the session behind it).
pub(crate) async fn signout(
    State(app): State<AppState>,
    Client(client): Client,
    session: Option<axum::Extension<web::PageSession>>,
    jar: CookieJar,
    Posted(_): Posted<serde_json::Map<String, serde_json::Value>>,
) -> Response {
    if let Some(axum::Extension(web::PageSession(who))) = session {
        let _ = app
            .services()
            .end_browser_session(&who, None, &client)
            .await;
    }
    let jar = jar.remove(removal(SESSION));
    (jar, see_other("/ui/signin")).into_response()
}

pub(crate) async fn signup_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<Flow>, QueryRejection>,
) -> Response {
    let flow = web::query(q);
    match start(app.services(), &jar, &flow, "Create an account").await {
        Ok((_, c)) => {
            let upstream = crate::upstream::links(app.services(), &flow).await;
            signup_form(c, flow, SignUpForm::default(), StatusCode::OK, upstream)
        }
        Err(page) => page,
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct SignUpForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(flatten)]
    flow: Flow,
}

fn signup_form(
    c: Chrome,
    flow: Flow,
    form: SignUpForm,
    status: StatusCode,
    upstream: Vec<crate::upstream::UpstreamLink>,
) -> Response {
    let query = flow.query();
    ok_with(
        status,
        SignUp {
            c,
            flow,
            query,
            upstream,
            email: form.email,
            first_name: form.first_name,
            last_name: form.last_name,
        },
    )
}

fn ok_with<T: askama::Template>(status: StatusCode, page: T) -> Response {
    html(status, &page, None)
}

/// An address typed into one field: a phone number when it starts with `+`.
fn email_or_phone(raw: &str) -> (Option<String>, Option<String>) {
    match blank(raw) {
        Some(p) if p.starts_with('+') => (None, Some(p)),
        other => (other, None),
    }
}

fn blank(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) async fn signup(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<SignUpForm>,
) -> Response {
    let services = app.services();
    let (_, c) = match start(services, &jar, &form.flow, "Create an account").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let result = services
        .register(RegisterInput {
            email: blank(&form.email),
            password: Some(form.password.clone()),
            first_name: blank(&form.first_name),
            last_name: blank(&form.last_name),
            organization: Some(form.flow.org().to_owned()),
            client,
            ..RegisterInput::default()
        })
        .await;
    match result {
        Ok(_) => {
            let mut flow = form.flow.clone();
            flow.org = Some(form.flow.org().to_owned());
            let query =
                serde_urlencoded::to_string([("email", form.email.trim())]).unwrap_or_default();
            see_other(&format!("/ui/verify?{query}&{}&sent=1", flow.query()))
        }
        Err(e) => {
            let flow = form.flow.clone();
            let upstream = crate::upstream::links(services, &flow).await;
            let page = signup_form(
                c.with_error(Some(say(&e))),
                flow,
                form,
                StatusCode::BAD_REQUEST,
                upstream,
            );
            answer(&e, page)
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct VerifyQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    sent: Option<String>,
    #[serde(flatten)]
    flow: Flow,
}

pub(crate) async fn verify_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<VerifyQuery>, QueryRejection>,
) -> Response {
    let q = web::query(q);
    match start(app.services(), &jar, &q.flow, "Verify your address").await {
        Ok((_, c)) => {
            let c =
                c.with_notice(q.sent.map(|_| {
                    "We sent a code to your address. Enter it here to verify it.".to_owned()
                }));
            let query = q.flow.query();
            ok(&Verify {
                c,
                flow: q.flow,
                query,
                email: q.email,
            })
        }
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(flatten)]
    flow: Flow,
}

pub(crate) async fn verify(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<VerifyForm>,
) -> Response {
    let services = app.services();
    let (_, c) = match start(services, &jar, &form.flow, "Verify your address").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let result = services
        .verify_address(CodeSubmission {
            email: blank(&form.email),
            code: blank(&form.code),
            organization: Some(form.flow.org().to_owned()),
            client,
            ..CodeSubmission::default()
        })
        .await;
    match result {
        Ok(()) => ok(&Message {
            c: Chrome {
                title: "Address verified".to_owned(),
                ..c
            },
            text: "Your address is verified.".to_owned(),
            link: Some((
                format!("/ui/signin?{}", form.flow.query()),
                "Sign in".to_owned(),
            )),
        }),
        Err(e) => {
            let query = form.flow.query();
            let page = ok_with(
                StatusCode::BAD_REQUEST,
                Verify {
                    c: c.with_error(Some(say(&e))),
                    flow: form.flow,
                    query,
                    email: form.email,
                },
            );
            answer(&e, page)
        }
    }
}

pub(crate) async fn code_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<Flow>, QueryRejection>,
) -> Response {
    let flow = web::query(q);
    match start(app.services(), &jar, &flow, "Sign in with a code").await {
        Ok((_, c)) => {
            let query = flow.query();
            let origin = flow.return_origin(app.services());
            html(
                StatusCode::OK,
                &CodeSignIn {
                    c,
                    flow,
                    query,
                    email: String::new(),
                    sent: false,
                },
                origin.as_deref(),
            )
        }
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(flatten)]
    flow: Flow,
}

/// Sends a sign-in code (the same answer whether the address has an account).
pub(crate) async fn code_request(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<EmailForm>,
) -> Response {
    let services = app.services();
    let (_, c) = match start(services, &jar, &form.flow, "Sign in with a code").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let (email, phone) = email_or_phone(&form.email);
    let result = services
        .request_login_code(CodeRequest {
            email,
            phone,
            organization: Some(form.flow.org().to_owned()),
            client,
        })
        .await;
    let mut failure = None;
    let (c, sent, status) = match result {
        Ok(()) => (
            c.with_notice(Some(
                "If this address has an account, a code is on its way. Enter it here.".to_owned(),
            )),
            true,
            StatusCode::OK,
        ),
        Err(e) => {
            let c = c.with_error(Some(say(&e)));
            failure = Some(e);
            (c, false, StatusCode::BAD_REQUEST)
        }
    };
    let query = form.flow.query();
    let origin = form.flow.return_origin(services);
    let page = html(
        status,
        &CodeSignIn {
            c,
            flow: form.flow,
            query,
            email: form.email,
            sent,
        },
        origin.as_deref(),
    );
    match failure {
        Some(e) => answer(&e, page),
        None => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct CodeSignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(flatten)]
    flow: Flow,
}

pub(crate) async fn code_signin(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<CodeSignInForm>,
) -> Response {
    let services = Arc::clone(app.services());
    if let Err(page) = start(&services, &jar, &form.flow, "Sign in with a code").await {
        return page;
    }
    let (email, phone) = email_or_phone(&form.email);
    let result = services
        .login_with_code(CodeSubmission {
            email,
            phone,
            code: blank(&form.code),
            organization: Some(form.flow.org().to_owned()),
            client: client.clone(),
            ..CodeSubmission::default()
        })
        .await;
    let csrf = csrf_token(&services, &jar);
    let flow = form.flow.clone();
    let email = form.email;
    let origin = flow.return_origin(&services);
    signed_in(
        &services,
        jar,
        form.flow,
        result,
        move |c, _| {
            let query = flow.query();
            html(
                StatusCode::UNAUTHORIZED,
                &CodeSignIn {
                    c,
                    flow,
                    query,
                    email,
                    sent: true,
                },
                origin.as_deref(),
            )
        },
        (csrf, &client),
    )
    .await
}

pub(crate) async fn forgot_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<Flow>, QueryRejection>,
) -> Response {
    let flow = web::query(q);
    match start(app.services(), &jar, &flow, "Forgot your password?").await {
        Ok((_, c)) => {
            let query = flow.query();
            ok(&Forgot { c, flow, query })
        }
        Err(page) => page,
    }
}

/// Mails a reset link and code (the same answer whether the address has an account).
pub(crate) async fn forgot(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<EmailForm>,
) -> Response {
    let services = app.services();
    let (_, c) = match start(services, &jar, &form.flow, "Forgot your password?").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let result = services
        .forgot_password(CodeRequest {
            email: blank(&form.email),
            organization: Some(form.flow.org().to_owned()),
            client: client.clone(),
            ..CodeRequest::default()
        })
        .await;
    match result {
        Ok(()) => ok(&Message {
            c: Chrome { title: "Check your mail".to_owned(), ..c },
            text: "If this address has an account, a link to choose a new password is on its way. It works for an hour."
                .to_owned(),
            link: Some((format!("/ui/signin?{}", form.flow.query()), "Back to sign in".to_owned())),
        }),
        Err(e) => {
            let query = form.flow.query();
            let page = ok_with(
                StatusCode::BAD_REQUEST,
                Forgot {
                    c: c.with_error(Some(say(&e))),
                    flow: form.flow,
                    query,
                },
            );
            answer(&e, page)
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ResetQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(flatten)]
    flow: Flow,
}

pub(crate) async fn reset_page(
    State(app): State<AppState>,
    jar: CookieJar,
    q: Result<Query<ResetQuery>, QueryRejection>,
) -> Response {
    let q = web::query(q);
    match start(app.services(), &jar, &q.flow, "Choose a new password").await {
        Ok((_, c)) => {
            let query = q.flow.query();
            ok(&Reset {
                c,
                flow: q.flow,
                query,
                token: q.token,
                email: q.email,
            })
        }
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(flatten)]
    flow: Flow,
}

/// A new password, by the mailed link's token, or by the address and the mailed code.
pub(crate) async fn reset(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(form): Posted<ResetForm>,
) -> Response {
    let services = app.services();
    let (_, c) = match start(services, &jar, &form.flow, "Choose a new password").await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let submission = match blank(&form.token) {
        Some(token) => CodeSubmission {
            token: Some(token),
            client,
            ..CodeSubmission::default()
        },
        None => CodeSubmission {
            email: blank(&form.email),
            code: blank(&form.code),
            organization: Some(form.flow.org().to_owned()),
            client,
            ..CodeSubmission::default()
        },
    };
    match services
        .reset_password(submission, &form.new_password)
        .await
    {
        Ok(()) => ok(&Message {
            c: Chrome {
                title: "Password changed".to_owned(),
                ..c
            },
            text: "Your password is changed, and every session of your account has ended."
                .to_owned(),
            link: Some((
                format!("/ui/signin?{}", form.flow.query()),
                "Sign in".to_owned(),
            )),
        }),
        Err(e) => {
            let query = form.flow.query();
            let page = ok_with(
                StatusCode::BAD_REQUEST,
                Reset {
                    c: c.with_error(Some(say(&e))),
                    flow: form.flow,
                    query,
                    token: form.token,
                    email: form.email,
                },
            );
            answer(&e, page)
        }
    }
}
