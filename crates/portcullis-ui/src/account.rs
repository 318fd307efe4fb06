//! The account page: profile, password, an authenticator app (its QR code, then the
//! recovery codes, shown once), trusted devices, sessions ("sign out everywhere"), and
//! application tokens.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::service::{ChangePasswordInput, Proof};
use portcullis_core::{AuthError, SessionId};
use serde::Deserialize;

use crate::pages::{Account, Once, Row, Totp};
use crate::web::{
    self, answer, html, ok, removal, say, see_other, Posted, ProfileForm, Signed, SESSION,
};

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The account page, with a notice or an error from what was just done.
async fn render(s: &Signed, notice: Option<String>, error: Option<String>) -> Response {
    let services = &s.services;
    let who = &s.who;
    // The user as stored now (a change just made shows).
    let user = match services.current_user(who).await {
        Ok(u) => u,
        Err(_) => return see_other("/ui/signin"),
    };
    let devices = services
        .trusted_devices_of(user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| Row {
            id: d.id.to_string(),
            cells: vec![
                d.name.unwrap_or_else(|| "a browser".to_owned()),
                format!("trusted until {}", when(d.expires_at)),
            ],
            current: false,
        })
        .collect();
    let passkeys = services
        .passkeys_of(user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| Row {
            id: p.id.to_string(),
            cells: vec![
                p.name,
                format!("added {}", when(p.created_at)),
                p.last_used_at
                    .map_or_else(|| "never used".to_owned(), |u| format!("used {}", when(u))),
            ],
            current: false,
        })
        .collect();
    let sessions = services
        .my_sessions(who)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|x| Row {
            id: x.id.to_string(),
            cells: vec![
                x.user_agent.unwrap_or_else(|| "unknown client".to_owned()),
                x.ip.unwrap_or_default(),
                format!("since {}", when(x.created_at)),
            ],
            current: x.id == who.session_id,
        })
        .collect();
    let tokens = services
        .my_app_tokens(who)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| Row {
            id: t.id.to_string(),
            cells: vec![
                t.description,
                format!("{}…", t.prefix),
                t.last_used_at
                    .map_or_else(|| "never used".to_owned(), |u| format!("used {}", when(u))),
            ],
            current: false,
        })
        .collect();
    let apps = services
        .authorizations(who)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| Row {
            id: a.client_id.to_string(),
            cells: vec![a.client_name, a.scope, when(a.granted_at)],
            current: false,
        })
        .collect();
    let identities = services
        .my_identities(who)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|v| Row {
            id: v.identity.id.to_string(),
            cells: vec![
                v.provider_name,
                v.identity.email.unwrap_or_default(),
                when(v.identity.created_at),
            ],
            current: false,
        })
        .collect();
    let flow = crate::web::Flow {
        org: Some(user.org_slug.clone()),
        authorize: None,
    };
    let link = crate::upstream::links(services, &flow)
        .await
        .into_iter()
        .map(|mut l| {
            l.href = l.href.replace("/start?", "/link?");
            l
        })
        .collect();
    let c = s
        .chrome("Your account")
        .await
        .with_notice(notice)
        .with_error(error.clone());
    let page = Account {
        c,
        email: user.email.clone().unwrap_or_default(),
        phone: user.phone.clone().unwrap_or_default(),
        username: user.username.clone().unwrap_or_default(),
        first_name: user.first_name.clone().unwrap_or_default(),
        last_name: user.last_name.clone().unwrap_or_default(),
        email_verified: user.email_verified,
        mfa_enabled: user.mfa_enabled,
        enrolment_only: who.enrolment_only(),
        devices,
        passkeys,
        sessions,
        tokens,
        apps,
        identities,
        link,
    };
    let status = web::status_of(&error);
    html(status, &page, None)
}

async fn outcome(s: &Signed, result: Result<(), AuthError>, done: &str) -> Response {
    match result {
        Ok(()) => render(s, Some(done.to_owned()), None).await,
        Err(e) => answer(&e, render(s, None, Some(say(&e))).await),
    }
}

pub(crate) async fn page(s: Signed) -> Response {
    render(&s, None, None).await
}

pub(crate) async fn profile(s: Signed, Posted(f): Posted<ProfileForm>) -> Response {
    let input = f.changes(&s.who.user, s.client.clone());
    let result = s.services.update_me(&s.who, input).await.map(|_| ());
    outcome(&s, result, "Your profile is saved.").await
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub(crate) async fn password(s: Signed, Posted(f): Posted<PasswordForm>) -> Response {
    let result = s
        .services
        .change_password(
            &s.who,
            ChangePasswordInput {
                current_password: f.current_password,
                new_password: f.new_password,
                client: s.client.clone(),
            },
        )
        .await;
    outcome(
        &s,
        result,
        "Your password is changed; your other sessions have ended.",
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct ReauthForm {
    #[serde(default)]
    password: String,
}

/// Starts an authenticator: a new key, shown as a QR code and as text.
pub(crate) async fn mfa_start(s: Signed, Posted(f): Posted<ReauthForm>) -> Response {
    let result = s
        .services
        .create_mfa_key(
            &s.who,
            "totp",
            Proof::password(Some(&f.password)),
            &s.client,
        )
        .await;
    match result {
        Ok(key) => ok(&Totp {
            c: s.chrome("Set up an authenticator app").await,
            key_id: key.key.id.to_string(),
            secret: key.secret_base32,
            qr_png: key.qr_code_png,
            uri: key.otpauth_uri,
        }),
        Err(e) => answer(&e, render(&s, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct ActivateForm {
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    code: String,
}

/// Proves the new key with a code; the recovery codes are shown this once.
pub(crate) async fn mfa_activate(s: Signed, Posted(f): Posted<ActivateForm>) -> Response {
    let Ok(id) = f.key_id.parse::<uuid::Uuid>() else {
        return render(&s, None, Some("That key is not known.".to_owned())).await;
    };
    match s
        .services
        .activate_mfa_key(&s.who, id, &f.code, &s.client)
        .await
    {
        Ok((_, codes)) if s.who.enrolment_only() => {
            // This session could only enrol: it ends, and the next sign-in uses the factor.
            let _ = s.services.logout(&s.who, &s.client).await;
            let page = ok(&Once {
                c: s.chrome("Your recovery codes").await,
                intro: "Two-step sign-in is on. Each of these codes signs you in once if you lose your authenticator; keep them somewhere safe: they are shown only now. Now sign in again, with your authenticator."
                    .to_owned(),
                items: codes,
                next: "/ui/signin".to_owned(),
            });
            (s.jar.clone().remove(removal(SESSION)), page).into_response()
        }
        Ok((_, codes)) => ok(&Once {
            c: s.chrome("Your recovery codes").await,
            intro: "Two-step sign-in is on. If you lose your authenticator, each of these codes signs you in once. Keep them somewhere safe: they are shown only now."
                .to_owned(),
            items: codes,
            next: "/ui/account".to_owned(),
        }),
        Err(e) => {
            let c = s.chrome("Set up an authenticator app").await.with_error(Some(say(&e)));
            let page = match s.services.pending_mfa_key(&s.who, id).await {
                Ok(key) => html(
                    StatusCode::BAD_REQUEST,
                    &Totp {
                        c,
                        key_id: id.to_string(),
                        secret: key.secret_base32,
                        qr_png: key.qr_code_png,
                        uri: key.otpauth_uri,
                    },
                    None,
                ),
                Err(_) => render(&s, None, Some(say(&e))).await,
            };
            answer(&e, page)
        }
    }
}

pub(crate) async fn mfa_disable(s: Signed, Posted(f): Posted<ReauthForm>) -> Response {
    let result = s
        .services
        .disable_my_mfa(&s.who, Proof::password(Some(&f.password)), &s.client)
        .await;
    outcome(&s, result, "Two-step sign-in is off.").await
}

#[derive(Deserialize)]
pub(crate) struct IdForm {
    #[serde(default)]
    id: String,
}

pub(crate) async fn remove_device(s: Signed, Posted(f): Posted<IdForm>) -> Response {
    let result = match f.id.parse::<uuid::Uuid>() {
        Ok(id) => {
            s.services
                .remove_trusted_device(&s.who.user, id, s.who.user.id, &s.client)
                .await
        }
        Err(_) => Err(AuthError::NotFound),
    };
    outcome(
        &s,
        result,
        "That device will be asked for a second factor again.",
    )
    .await
}

pub(crate) async fn revoke_session(s: Signed, Posted(f): Posted<IdForm>) -> Response {
    let result = match f.id.parse::<SessionId>() {
        Ok(id) => s.services.revoke_my_session(&s.who, id, &s.client).await,
        Err(_) => Err(AuthError::NotFound),
    };
    outcome(&s, result, "That session has ended.").await
}

/// Signs out everywhere, this browser included.
pub(crate) async fn revoke_all(s: Signed, Posted(_): Posted<IdForm>) -> Response {
    let _ = s.services.logout_all(&s.who, &s.client).await;
    let jar = s.jar.clone().remove(removal(SESSION));
    (jar, see_other("/ui/signin")).into_response()
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    description: String,
}

pub(crate) async fn create_token(s: Signed, Posted(f): Posted<TokenForm>) -> Response {
    match s
        .services
        .create_app_token(&s.who, &f.description, None, &s.client)
        .await
    {
        Ok(t) => ok(&Once {
            c: s.chrome("Your new application token").await,
            intro: "Copy this token now: it is shown only once. Exchange it at POST /v1/auth/app-token for access tokens.".to_owned(),
            items: vec![t.secret],
            next: "/ui/account".to_owned(),
        }),
        Err(e) => answer(&e, render(&s, None, Some(say(&e))).await),
    }
}

pub(crate) async fn revoke_token(s: Signed, Posted(f): Posted<IdForm>) -> Response {
    let result = match f.id.parse::<uuid::Uuid>() {
        Ok(id) => s.services.revoke_my_app_token(&s.who, id, &s.client).await,
        Err(_) => Err(AuthError::NotFound),
    };
    outcome(&s, result, "That token is revoked.").await
}

/// Withdraws an application's authorization: its sessions end, and it must ask again.
pub(crate) async fn revoke_app(s: Signed, Posted(f): Posted<IdForm>) -> Response {
    let result = match f.id.parse::<uuid::Uuid>() {
        Ok(id) => s.services.revoke_authorization(&s.who, id, &s.client).await,
        Err(_) => Err(AuthError::NotFound),
    };
    outcome(
        &s,
        result,
        "That application is removed; it must ask you again.",
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct DeletePasskeyForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn delete_passkey(s: Signed, Posted(f): Posted<DeletePasskeyForm>) -> Response {
    let result = match f.id.parse::<uuid::Uuid>() {
        Ok(id) => {
            s.services
                .delete_my_passkey(&s.who, id, Proof::password(Some(&f.password)), &s.client)
                .await
        }
        Err(_) => Err(AuthError::NotFound),
    };
    outcome(&s, result, "That passkey is removed.").await
}
