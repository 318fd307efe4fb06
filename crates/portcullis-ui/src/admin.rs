//! The admin console: users (search, pages, create, edit, deactivate, delete, roles, second
//! factors off, sessions ended, verification sent), organizations and their policies,
//! licenses and devices, applications (OAuth clients, in `admin_clients`), and the audit log
//! with filters. An `org_admin` sees only its own organization; a `system_admin`, all.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::response::Response;
use portcullis_core::audit::AuditEvent;
use portcullis_core::ids::AuditId;
use portcullis_core::service::{
    AdminCreateInput, AdminUpdateInput, OrgAdmin, OrgInput, RegisterInput, UpdateProfileInput,
};
use portcullis_core::store::{AuditFilter, UserFilter};
use portcullis_core::{AuthError, UserId};
use serde::Deserialize;

use crate::pages::{AdminAudit, AdminOrg, AdminOrgs, AdminUser, AdminUsers, Once, Row};
use crate::web::{self, answer, html, ok, say, see_other, Posted, ProfileForm, Signed};

const PAGE: usize = 50;

pub(crate) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

#[derive(Deserialize, Default)]
pub(crate) struct UsersQuery {
    #[serde(default)]
    query: String,
    #[serde(default)]
    after: String,
}

async fn users_page(
    s: &Signed,
    admin: &OrgAdmin,
    q: &UsersQuery,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let services = &s.services;
    let filter = UserFilter {
        query: text(&q.query),
        after: q.after.parse().ok(),
        limit: PAGE,
        ..UserFilter::default()
    };
    let users = services.list_users(admin, filter).await.unwrap_or_default();
    let next = (users.len() == PAGE)
        .then(|| users.last().map(|u| u.id.to_string()))
        .flatten();
    let rows = users
        .into_iter()
        .map(|u| Row {
            id: u.id.to_string(),
            cells: vec![
                u.email
                    .clone()
                    .or_else(|| u.phone.clone())
                    .or_else(|| u.username.clone())
                    .unwrap_or_else(|| "(guest)".to_owned()),
                [u.first_name.clone(), u.last_name.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                u.org_slug.clone(),
                u.roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if u.active { "active" } else { "deactivated" }.to_owned(),
            ],
            current: false,
        })
        .collect();
    let orgs = if admin.is_system() {
        services
            .list_orgs(admin, None, 200)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|o| o.slug)
            .collect()
    } else {
        vec![s.who.user.org_slug.clone()]
    };
    let status = web::status_of(&error);
    html(
        status,
        &AdminUsers {
            c: s.chrome("Users")
                .await
                .with_notice(notice)
                .with_error(error),
            query: q.query.clone(),
            users: rows,
            next,
            orgs,
        },
        None,
    )
}

pub(crate) async fn users(s: Signed, q: Result<Query<UsersQuery>, QueryRejection>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    users_page(&s, &admin, &web::query(q), None, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    verified: Option<String>,
}

fn role_list(raw: &str) -> Vec<String> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) async fn create_user(s: Signed, Posted(f): Posted<NewUserForm>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let result = s
        .services
        .admin_create_user(
            &admin,
            AdminCreateInput {
                account: RegisterInput {
                    email: text(&f.email),
                    password: text(&f.password),
                    first_name: text(&f.first_name),
                    last_name: text(&f.last_name),
                    organization: text(&f.organization),
                    client: s.client.clone(),
                    ..RegisterInput::default()
                },
                roles: role_list(&f.roles),
                verified: f.verified.is_some(),
            },
        )
        .await;
    match result {
        Ok(u) => see_other(&format!("/ui/admin/users/{}", u.id)),
        Err(e) => answer(
            &e,
            users_page(&s, &admin, &UsersQuery::default(), None, Some(say(&e))).await,
        ),
    }
}

async fn user_page(
    s: &Signed,
    admin: &OrgAdmin,
    id: UserId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let u = match s.services.get_user(admin, id).await {
        Ok(u) => u,
        Err(_) => return web::not_found().await,
    };
    let facts = vec![
        ("Id".to_owned(), u.id.to_string()),
        (
            "Email verified".to_owned(),
            if u.email_verified { "yes" } else { "no" }.to_owned(),
        ),
        ("Created".to_owned(), when(u.created_at)),
        (
            "Last sign-in".to_owned(),
            u.last_login_at.map_or_else(|| "never".to_owned(), when),
        ),
        (
            "Guest".to_owned(),
            if u.anonymous { "yes" } else { "no" }.to_owned(),
        ),
    ];
    let status = web::status_of(&error);
    html(
        status,
        &AdminUser {
            c: s.chrome("User").await.with_notice(notice).with_error(error),
            id: u.id.to_string(),
            email: u.email.clone().unwrap_or_default(),
            phone: u.phone.clone().unwrap_or_default(),
            username: u.username.clone().unwrap_or_default(),
            first_name: u.first_name.clone().unwrap_or_default(),
            last_name: u.last_name.clone().unwrap_or_default(),
            organization: u.org_slug.clone(),
            active: u.active,
            roles: u
                .roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            mfa_enabled: u.mfa_enabled,
            facts,
        },
        None,
    )
}

fn user_id(raw: &str) -> Option<UserId> {
    raw.parse().ok()
}

pub(crate) async fn user(s: Signed, Path(id): Path<String>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    match user_id(&id) {
        Some(id) => user_page(&s, &admin, id, None, None).await,
        None => web::not_found().await,
    }
}

pub(crate) async fn update_user(
    s: Signed,
    Path(id): Path<String>,
    Posted(f): Posted<ProfileForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Some(id) = user_id(&id) else {
        return web::not_found().await;
    };
    let Ok(before) = s.services.get_user(&admin, id).await else {
        return web::not_found().await;
    };
    let result = s
        .services
        .admin_update_user(
            &admin,
            id,
            AdminUpdateInput {
                profile: f.changes(&before, s.client.clone()),
                active: None,
            },
        )
        .await;
    match result {
        Ok(_) => user_page(&s, &admin, id, Some("Saved.".to_owned()), None).await,
        Err(e) => answer(&e, user_page(&s, &admin, id, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    roles: String,
}

/// One of the buttons of a user's page.
pub(crate) async fn user_action(
    s: Signed,
    Path(id): Path<String>,
    Posted(f): Posted<ActionForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Some(id) = user_id(&id) else {
        return web::not_found().await;
    };
    let services = &s.services;
    let client = &s.client;
    let active = |on: bool| AdminUpdateInput {
        profile: UpdateProfileInput {
            client: client.clone(),
            ..UpdateProfileInput::default()
        },
        active: Some(on),
    };
    let result: Result<&str, AuthError> = match f.action.as_str() {
        "deactivate" => services
            .admin_update_user(&admin, id, active(false))
            .await
            .map(|_| "Deactivated: every session of the user has ended."),
        "activate" => services
            .admin_update_user(&admin, id, active(true))
            .await
            .map(|_| "Activated."),
        "roles" => services
            .admin_set_roles(&admin, id, &role_list(&f.roles), client)
            .await
            .map(|_| "Roles saved."),
        "reset_mfa" => services
            .admin_disable_mfa(&admin, id, client)
            .await
            .map(|()| "Every second factor of the user is off."),
        "revoke_sessions" => services
            .admin_revoke_sessions(&admin, id, client)
            .await
            .map(|()| "Every session of the user has ended."),
        "send_verification" => services
            .admin_send_verification(&admin, id, None, client)
            .await
            .map(|()| "A verification code is on its way."),
        "delete" => {
            return match services.admin_delete_user(&admin, id, client).await {
                Ok(()) => {
                    users_page(
                        &s,
                        &admin,
                        &UsersQuery::default(),
                        Some("The user and all their data are deleted.".to_owned()),
                        None,
                    )
                    .await
                }
                Err(e) => answer(&e, user_page(&s, &admin, id, None, Some(say(&e))).await),
            }
        }
        _ => Err(AuthError::invalid("action", "is not one of the buttons")),
    };
    match result {
        Ok(done) => user_page(&s, &admin, id, Some(done.to_owned()), None).await,
        Err(e) => answer(&e, user_page(&s, &admin, id, None, Some(say(&e))).await),
    }
}

pub(crate) async fn orgs(s: Signed) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    if !admin.is_system() {
        return see_other(&format!("/ui/admin/orgs/{}", s.who.user.org_slug));
    }
    orgs_page(&s, &admin, None).await
}

async fn orgs_page(s: &Signed, admin: &OrgAdmin, error: Option<String>) -> Response {
    let orgs = s
        .services
        .list_orgs(admin, None, 200)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| Row {
            id: o.slug.clone(),
            cells: vec![o.slug, o.name, when(o.created_at)],
            current: false,
        })
        .collect();
    let status = web::status_of(&error);
    html(
        status,
        &AdminOrgs {
            c: s.chrome("Organizations").await.with_error(error),
            orgs,
        },
        None,
    )
}

#[derive(Deserialize)]
pub(crate) struct OrgForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    policy: String,
}

pub(crate) async fn create_org(s: Signed, Posted(f): Posted<OrgForm>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let result = s
        .services
        .create_org(
            &admin,
            OrgInput {
                slug: text(&f.slug),
                name: text(&f.name),
                policy: None,
                client: s.client.clone(),
            },
        )
        .await;
    match result {
        Ok(o) => see_other(&format!("/ui/admin/orgs/{}", o.slug)),
        Err(e) => answer(&e, orgs_page(&s, &admin, Some(say(&e))).await),
    }
}

pub(crate) async fn org_page(
    s: &Signed,
    admin: &OrgAdmin,
    slug: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let services = &s.services;
    let org = match services.get_org(admin, slug).await {
        Ok(o) => o,
        Err(_) => return web::not_found().await,
    };
    let licenses = services
        .list_licenses(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|l| Row {
            id: l.id.to_string(),
            cells: vec![
                format!("{}…", l.prefix),
                format!(
                    "{} of {} devices",
                    l.device_count,
                    l.max_devices
                        .map_or_else(|| "any".to_owned(), |m| m.to_string())
                ),
                l.expires_at
                    .map_or_else(|| "no expiry".to_owned(), |t| format!("until {}", when(t))),
            ],
            current: false,
        })
        .collect();
    let devices = services
        .list_devices(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| Row {
            id: d.id.to_string(),
            cells: vec![
                d.name,
                d.device_type.unwrap_or_default(),
                d.last_seen_at
                    .map_or_else(|| "never seen".to_owned(), |t| format!("seen {}", when(t))),
            ],
            current: false,
        })
        .collect();
    let clients = services
        .oauth_clients(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| Row {
            id: c.id.to_string(),
            cells: vec![
                c.name,
                c.id.to_string(),
                c.client_type.as_str().to_owned(),
                c.redirect_uris.join(" "),
            ],
            current: c.client_type == portcullis_core::oauth::ClientType::Confidential,
        })
        .collect();
    let webhooks = services
        .webhooks(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| Row {
            id: w.id.to_string(),
            cells: vec![
                w.url,
                if w.event_types.is_empty() {
                    "every event".to_owned()
                } else {
                    w.event_types.join(", ")
                },
                match (w.enabled, w.failing_since) {
                    (false, _) => "off".to_owned(),
                    (true, Some(t)) => format!("failing since {}", when(t)),
                    (true, None) => "on".to_owned(),
                },
            ],
            current: w.enabled,
        })
        .collect();
    let issuer = services.config().issuer.clone();
    let providers = services
        .identity_providers(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| Row {
            id: p.id.to_string(),
            cells: vec![
                p.name,
                p.kind.as_str().to_owned(),
                portcullis_core::upstream::redirect_uri(&issuer, p.id),
                if p.enabled { "on" } else { "off" }.to_owned(),
            ],
            current: p.enabled,
        })
        .collect();
    let scim_tokens = services
        .scim_tokens(admin, slug)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| Row {
            id: t.id.to_string(),
            cells: vec![
                t.description,
                format!("{}…", t.prefix),
                format!("made {}", when(t.created_at)),
                t.last_used_at.map_or_else(
                    || "never used".to_owned(),
                    |at| format!("used {}", when(at)),
                ),
            ],
            current: false,
        })
        .collect();
    let status = web::status_of(&error);
    html(
        status,
        &AdminOrg {
            c: s.chrome("Organization")
                .await
                .with_notice(notice)
                .with_error(error),
            slug: org.slug.clone(),
            name: org.name.clone(),
            policy: serde_json::to_string_pretty(&org.policy).unwrap_or_default(),
            system: admin.is_system(),
            licenses,
            devices,
            clients,
            webhooks,
            providers,
            scim_tokens,
            scim_base: format!("{}/scim/v2/{}", issuer.trim_end_matches('/'), org.slug),
        },
        None,
    )
}

pub(crate) async fn org(s: Signed, Path(slug): Path<String>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    org_page(&s, &admin, &slug, None, None).await
}

pub(crate) async fn update_org(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<OrgForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let policy = match text(&f.policy).map(|p| serde_json::from_str::<serde_json::Value>(&p)) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            return org_page(
                &s,
                &admin,
                &slug,
                None,
                Some(format!("The policy is not valid JSON: {e}.")),
            )
            .await
        }
    };
    let result = s
        .services
        .update_org(
            &admin,
            &slug,
            OrgInput {
                slug: None,
                name: text(&f.name),
                policy,
                client: s.client.clone(),
            },
        )
        .await;
    match result {
        Ok(_) => {
            org_page(
                &s,
                &admin,
                &slug,
                Some("Saved; it applies at once.".to_owned()),
                None,
            )
            .await
        }
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct LicenseForm {
    #[serde(default)]
    max_devices: String,
    #[serde(default)]
    days: String,
}

pub(crate) async fn create_license(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<LicenseForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let max = text(&f.max_devices).map(|m| m.parse::<u32>());
    let days = text(&f.days).map(|d| d.parse::<i64>());
    let (max, days) = match (max.transpose(), days.transpose()) {
        (Ok(m), Ok(d)) => (m, d),
        _ => {
            return org_page(
                &s,
                &admin,
                &slug,
                None,
                Some("Devices and days must be whole numbers.".to_owned()),
            )
            .await
        }
    };
    let expires = days.map(|d| s.services.now() + chrono::Duration::days(d.clamp(0, 36_500)));
    match s
        .services
        .create_license(&admin, &slug, max, expires, &s.client)
        .await
    {
        Ok((_, key)) => ok(&Once {
            c: s.chrome("New license").await,
            intro: "The license key, shown only now. Devices register with it (POST /v1/devices/register)."
                .to_owned(),
            items: vec![key],
            next: format!("/ui/admin/orgs/{slug}"),
        }),
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    id: String,
}

/// Revokes a license (and its devices) or a device.
pub(crate) async fn revoke_in_org(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<RevokeForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Ok(id) = f.id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    let result = match f.kind.as_str() {
        "license" => {
            s.services
                .revoke_license(&admin, &slug, id, &s.client)
                .await
        }
        "device" => s.services.revoke_device(&admin, &slug, id, &s.client).await,
        _ => Err(AuthError::NotFound),
    };
    match result {
        Ok(()) => org_page(&s, &admin, &slug, Some("Revoked.".to_owned()), None).await,
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    user_id: String,
    #[serde(default, rename = "type")]
    kind: String,
    /// A date (`2026-11-22`) or a time (RFC 3339).
    #[serde(default)]
    since: String,
    #[serde(default)]
    before: String,
}

fn since(raw: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&chrono::Utc)));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| "Since must be a date (2026-11-22) or an RFC 3339 time.".to_owned())
}

fn event_row(e: AuditEvent) -> Row {
    Row {
        id: e.id.to_string(),
        cells: vec![
            when(e.at),
            e.kind,
            e.user_id.map(|u| u.to_string()).unwrap_or_default(),
            e.actor_id.map(|u| u.to_string()).unwrap_or_default(),
            e.ip.unwrap_or_default(),
            e.details.to_string(),
        ],
        current: false,
    }
}

pub(crate) async fn audit(s: Signed, q: Result<Query<AuditQuery>, QueryRejection>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let q = web::query(q);
    let mut error = None;
    let user_id = match text(&q.user_id).map(|u| u.parse::<UserId>()) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            error = Some("User must be a user id.".to_owned());
            None
        }
        None => None,
    };
    let from = since(&q.since).unwrap_or_else(|e| {
        error = Some(e);
        None
    });
    let filter = AuditFilter {
        user_id,
        kind: text(&q.kind),
        since: from,
        before: q.before.parse::<AuditId>().ok(),
        limit: PAGE,
        ..AuditFilter::default()
    };
    let mut failure = None;
    let events = match s.services.list_audit(&admin, filter).await {
        Ok(events) => events,
        Err(e) => {
            error = Some(say(&e));
            failure = Some(e);
            Vec::new()
        }
    };
    let next = (events.len() == PAGE)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    let status = web::status_of(&error);
    let page = html(
        status,
        &AdminAudit {
            c: s.chrome("Audit log").await.with_error(error),
            user_id: q.user_id,
            kind: q.kind,
            since: q.since,
            events: events.into_iter().map(event_row).collect(),
            next,
        },
        None,
    );
    match failure {
        Some(e) => answer(&e, page),
        None => page,
    }
}
