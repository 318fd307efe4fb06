//! `users.*`: the account the clients see (their profile fields in `attributes`), creating,
//! reading, changing and removing it, its role, its password, and an admin's removal of its data.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use portcullis_core::service::{
    AdminCreateInput, AdminUpdateInput, ChangePasswordInput, Patch, Proof, RegisterInput,
    UpdateProfileInput, DEVICE_PREFIX,
};
use portcullis_core::{ClientInfo, User};
use portcullis_server::{AppState, Client};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::envelope::{self, bearer};

use super::{common, dfx_role, ok, path_user, same_org, success, Failure, Flex, Signed};

/// The application's profile fields, as kept in `attributes`.
pub(super) const PROFILE: [(&str, &str); 4] = [
    ("Gender", "gender"),
    ("DateOfBirth", "date_of_birth"),
    ("HeightCm", "height_cm"),
    ("WeightKg", "weight_kg"),
];

pub(super) fn account_view(app: &AppState, u: &User) -> Value {
    let attribute = |key: &str| {
        u.attributes
            .as_map()
            .get(key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut view = json!({
        "ID": u.id.to_string(),
        "OrganizationID": u.org_id.to_string(),
        "RoleID": dfx_role(u).0,
        "StatusID": if u.active { "ACTIVE" } else { "INACTIVE" },
        "Email": u.email,
        "FirstName": u.first_name,
        "LastName": u.last_name,
        "PhoneNumber": u.phone,
        "IsVerified": u.email_verified || u.phone_verified,
        "MFAEnabled": u.mfa_enabled,
        "LoginMethod": if u.email.is_some() { "EMAIL" } else { "PHONE" },
        "Created": u.created_at.timestamp(),
        "Updated": u.updated_at.timestamp(),
        "Region": app.services().config().issuer,
        // Fields of the DeepAffex record that Portcullis does not keep (or never shows).
        "ResetToken": null,
        "ResetTokenDate": null,
        "AvatarURI": null,
        "VerificationCode": null,
        "DeviceID": null,
        "SSOID": null,
    });
    for (name, key) in PROFILE {
        view[name] = attribute(key);
    }
    view
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserBody {
    first_name: Flex,
    last_name: Flex,
    email: Flex,
    password: Flex,
    phone_number: Flex,
    gender: Flex,
    date_of_birth: Flex,
    height_cm: Flex,
    weight_kg: Flex,
}

impl UserBody {
    /// The profile fields given, for `attributes`; `None` when none is.
    fn attributes(&self) -> Option<Value> {
        let given: Map<String, Value> = [
            (&self.gender, "gender"),
            (&self.date_of_birth, "date_of_birth"),
            (&self.height_cm, "height_cm"),
            (&self.weight_kg, "weight_kg"),
        ]
        .into_iter()
        .filter_map(|(v, key)| Some((key.to_owned(), Value::String(v.text()?))))
        .collect();
        (!given.is_empty()).then_some(Value::Object(given))
    }

    fn account(&self, organization: String, client: ClientInfo) -> RegisterInput {
        RegisterInput {
            email: self.email.text(),
            password: self.password.text(),
            phone: self.phone_number.text(),
            first_name: self.first_name.text(),
            last_name: self.last_name.text(),
            attributes: self.attributes(),
            organization: Some(organization),
            client,
            ..RegisterInput::default()
        }
    }
}

/// `users.create`: with a device token, the user registers in the device's organization;
/// with a user token, an admin of the organization creates the user.
pub(super) async fn create(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<UserBody>(body)?;
    let token = bearer(&headers).ok_or_else(Failure::unauthorized)?;
    let services = app.services();
    let user = if token.starts_with(DEVICE_PREFIX) {
        let org = services
            .device_org(token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        services.register(body.account(org.slug, client)).await
    } else {
        let who = services
            .authenticate(token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        let admin = services.admin(who).map_err(common)?;
        let org = admin.actor().user.org_slug.clone();
        services
            .admin_create_user(
                &admin,
                AdminCreateInput {
                    account: body.account(org, client),
                    roles: Vec::new(),
                    verified: false,
                },
            )
            .await
    }
    .map_err(common)?;
    Ok(ok(json!({ "ID": user.id.to_string() })))
}

pub(super) async fn retrieve(Signed { app, who, .. }: Signed) -> Response {
    ok(account_view(&app, &who.user))
}

/// `users.update`: only the fields given change (`Password` is not changed here: that takes
/// the current one, through `users/changepassword`).
pub(super) async fn update(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<UserBody>(body)?;
    let set = |v: &Flex| v.text().map_or(Patch::Keep, Patch::Set);
    app.services()
        .update_me(
            &who,
            UpdateProfileInput {
                email: set(&body.email),
                phone: set(&body.phone_number),
                username: Patch::Keep,
                first_name: set(&body.first_name),
                last_name: set(&body.last_name),
                attributes: body.attributes(),
                client,
            },
        )
        .await
        .map_err(common)?;
    Ok(ok(json!({})))
}

pub(super) async fn remove(Signed { app, who, client }: Signed) -> Result<Response, Failure> {
    app.services()
        .delete_me(&who, Proof::RecentSignIn, &client)
        .await
        .map_err(common)?;
    Ok(ok(json!({})))
}

pub(super) async fn role(Signed { who, .. }: Signed) -> Response {
    let (name, description) = dfx_role(&who.user);
    ok(json!({
        "ID": name,
        "Name": name,
        "Description": description,
        "Organization": who.user.org_id.to_string(),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ChangePasswordBody {
    identifier: Flex,
    email: Flex,
    password: Flex,
    new_password: Flex,
}

pub(super) async fn change_password(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<ChangePasswordBody>(body)?;
    same_org(&body.identifier, &who.user.org_slug)?;
    if let Some(email) = body.email.text() {
        if !who
            .user
            .email
            .as_deref()
            .is_some_and(|own| own.eq_ignore_ascii_case(&email))
        {
            return Err(Failure::bad("Email is not the email of this user."));
        }
    }
    app.services()
        .change_password(
            &who,
            ChangePasswordInput {
                current_password: body.password.text().unwrap_or_default(),
                new_password: body.new_password.text().unwrap_or_default(),
                client,
            },
        )
        .await
        .map_err(common)?;
    Ok(success())
}

/// `users.delete`: an admin removes the application data kept for a user (the DeepAffex
/// profile fields, and any other `attributes`); the account stays.
pub(super) async fn delete_user_data(
    Signed { app, who, client }: Signed,
    Path(user): Path<String>,
) -> Result<Response, Failure> {
    let id = path_user(&user)?;
    let services = app.services();
    let admin = services.admin(who).map_err(common)?;
    let target = services.managed_user(&admin, id).await.map_err(common)?;
    let cleared: Map<String, Value> = target
        .attributes
        .as_map()
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    if !cleared.is_empty() {
        services
            .admin_update_user(
                &admin,
                id,
                AdminUpdateInput {
                    profile: UpdateProfileInput {
                        attributes: Some(Value::Object(cleared)),
                        client,
                        ..UpdateProfileInput::default()
                    },
                    active: None,
                },
            )
            .await
            .map_err(common)?;
    }
    Ok(ok(json!({})))
}
