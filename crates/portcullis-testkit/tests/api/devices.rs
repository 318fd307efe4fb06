//! Licenses, device registration, device-token sign-in, and revocation.

use portcullis_testkit::api::{
    CreateLicenseRequest, CreateOrgRequest, CreateUserRequest, LoginRequest, ProblemCode,
    RegisterDeviceRequest, RegisterRequest, RegisteredDevice, UpdateOrgRequest,
};
use portcullis_testkit::client::{Client, Error};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};

use crate::{assert_audited, code, fields};

/// An organization `acme` with one member, `ann@acme.test`; answers the system admin.
async fn acme(app: &TestServer) -> Client {
    let admin = app.admin().await;
    admin
        .create_org(&CreateOrgRequest {
            slug: "acme".into(),
            name: "Acme".into(),
            policy: None,
        })
        .await
        .unwrap();
    let member = CreateUserRequest {
        account: RegisterRequest {
            email: Some("ann@acme.test".into()),
            password: Some(USER_PASSWORD.into()),
            organization: Some("acme".into()),
            ..Default::default()
        },
        verified: true,
        ..Default::default()
    };
    admin.create_user(&member).await.unwrap();
    admin
}

fn device(key: &str, name: &str) -> RegisterDeviceRequest {
    RegisterDeviceRequest {
        license_key: key.into(),
        name: name.into(),
        device_type: Some("kiosk".into()),
        identifier: None,
    }
}

async fn register(app: &TestServer, key: &str, name: &str) -> Result<RegisteredDevice, Error> {
    app.client().register_device(&device(key, name)).await
}

/// Signs Ann in through a device (no `organization`: the device names it).
async fn through(
    app: &TestServer,
    device_token: &str,
) -> Result<portcullis_testkit::api::TokenPair, Error> {
    let body = LoginRequest {
        identifier: "ann@acme.test".into(),
        password: USER_PASSWORD.into(),
        organization: None,
        ..Default::default()
    };
    app.client().with_token(device_token).login(&body).await
}

fn limited(max: u32) -> CreateLicenseRequest {
    CreateLicenseRequest {
        max_devices: Some(max),
        expires_at: None,
    }
}

async fn a_device_registers_with_a_license_and_signs_users_in(app: TestServer) {
    let admin = acme(&app).await;
    let license = admin.create_license("acme", &limited(2)).await.unwrap();
    assert!(license.license_key.starts_with("pcl_"));
    assert_eq!(
        (license.details.max_devices, license.details.device_count),
        (Some(2), 0)
    );
    let dev = register(&app, &license.license_key, "front desk")
        .await
        .unwrap();
    assert!(dev.device_token.starts_with("pcd_"));
    assert_eq!(dev.organization, "acme");
    let pair = through(&app, &dev.device_token).await.unwrap();
    assert_eq!(
        pair.user.organization, "acme",
        "the device named the organization"
    );
    app.client()
        .with_token(&pair.access_token)
        .me()
        .await
        .unwrap();
    let listed = admin.devices("acme").await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(
        listed.items[0].last_seen_at.is_some()
            && listed.items[0].device_type.as_deref() == Some("kiosk")
    );
    assert_eq!(
        admin.licenses("acme").await.unwrap().items[0].device_count,
        1
    );
    let listed_keys = serde_json::to_string(&admin.licenses("acme").await.unwrap()).unwrap();
    assert!(
        !listed_keys.contains(&license.license_key),
        "keys are never listed"
    );
    let elsewhere = LoginRequest {
        identifier: "ann@acme.test".into(),
        password: USER_PASSWORD.into(),
        organization: Some("default".into()),
        ..Default::default()
    };
    assert_eq!(
        fields(
            app.client()
                .with_token(&dev.device_token)
                .login(&elsewhere)
                .await
        ),
        ["organization"]
    );
    assert_eq!(
        code(through(&app, "pcd_forged").await),
        ProblemCode::TokenInvalid
    );
    // A user's own access token in the header is not a device token, and changes nothing.
    let user = app
        .login("admin@portcullis.test", portcullis_testkit::ADMIN_PASSWORD)
        .await;
    let body = LoginRequest {
        identifier: "ann@acme.test".into(),
        password: USER_PASSWORD.into(),
        organization: Some("acme".into()),
        ..Default::default()
    };
    app.client()
        .with_token(&user.access_token)
        .login(&body)
        .await
        .unwrap();
}

async fn licenses_limit_devices_and_expire(app: TestServer) {
    let admin = acme(&app).await;
    let one = admin.create_license("acme", &limited(1)).await.unwrap();
    let first = register(&app, &one.license_key, "a").await.unwrap();
    assert_eq!(
        code(register(&app, &one.license_key, "b").await),
        ProblemCode::Forbidden,
        "full"
    );
    let first_id = admin.devices("acme").await.unwrap().items[0].id;
    assert_eq!(first_id, first.device_id);
    admin.delete_device("acme", first_id).await.unwrap();
    register(&app, &one.license_key, "b")
        .await
        .expect("a revoked device frees its slot");

    let at = app.now() + chrono::Duration::minutes(10);
    let short = admin
        .create_license(
            "acme",
            &CreateLicenseRequest {
                max_devices: None,
                expires_at: Some(at),
            },
        )
        .await
        .unwrap();
    let dev = register(&app, &short.license_key, "c").await.unwrap();
    through(&app, &dev.device_token).await.unwrap();
    app.advance(601);
    assert_eq!(
        code(register(&app, &short.license_key, "d").await),
        ProblemCode::Forbidden,
        "expired"
    );
    assert_eq!(
        code(through(&app, &dev.device_token).await),
        ProblemCode::TokenInvalid,
        "its devices stop too"
    );

    assert_eq!(
        fields(register(&app, "pcl_nope", "x").await),
        ["license_key"]
    );
    assert_eq!(
        fields(register(&app, "not a key", "x").await),
        ["license_key"]
    );
    assert_eq!(
        fields(register(&app, &one.license_key, " ").await),
        ["name"]
    );
    assert_eq!(
        fields(admin.create_license("acme", &limited(0)).await),
        ["max_devices"]
    );
    let past = CreateLicenseRequest {
        max_devices: None,
        expires_at: Some(app.now() - chrono::Duration::hours(1)),
    };
    assert_eq!(
        fields(admin.create_license("acme", &past).await),
        ["expires_at"]
    );
}

async fn concurrent_registrations_never_pass_the_limit(app: TestServer) {
    let admin = acme(&app).await;
    let license = admin.create_license("acme", &limited(3)).await.unwrap();
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = app.client();
        let body = device(&license.license_key, &format!("d{i}"));
        burst.spawn(async move { client.register_device(&body).await.is_ok() });
    }
    let ok = burst.join_all().await.into_iter().filter(|ok| *ok).count();
    assert_eq!(ok, 3);
    assert_eq!(admin.devices("acme").await.unwrap().items.len(), 3);
    assert_eq!(
        admin.licenses("acme").await.unwrap().items[0].device_count,
        3
    );
}

async fn revoking_a_device_or_license_ends_its_sessions_at_once(app: TestServer) {
    let admin = acme(&app).await;
    let license = admin.create_license("acme", &limited(5)).await.unwrap();
    let a = register(&app, &license.license_key, "a").await.unwrap();
    let b = register(&app, &license.license_key, "b").await.unwrap();
    let via_a = through(&app, &a.device_token).await.unwrap();
    let via_b = through(&app, &b.device_token).await.unwrap();
    let direct = app
        .client()
        .login(&LoginRequest {
            identifier: "ann@acme.test".into(),
            password: USER_PASSWORD.into(),
            organization: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    admin.delete_device("acme", a.device_id).await.unwrap();
    assert_eq!(
        code(app.client().with_token(&via_a.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(app.client().refresh(&via_a.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(through(&app, &a.device_token).await),
        ProblemCode::TokenInvalid
    );
    app.client()
        .with_token(&via_b.access_token)
        .me()
        .await
        .expect("the other device's session lives");
    assert_eq!(
        code(admin.delete_device("acme", a.device_id).await),
        ProblemCode::NotFound
    );
    admin
        .delete_license("acme", license.details.id)
        .await
        .unwrap();
    assert_eq!(
        code(app.client().with_token(&via_b.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(through(&app, &b.device_token).await),
        ProblemCode::TokenInvalid
    );
    assert!(admin.devices("acme").await.unwrap().items.is_empty());
    app.client()
        .with_token(&direct.access_token)
        .me()
        .await
        .expect("sessions not bound to a device stay");
    assert_eq!(
        code(admin.delete_license("acme", license.details.id).await),
        ProblemCode::NotFound
    );
    assert_audited(
        &admin,
        None,
        &[
            "license.created",
            "device.registered",
            "device.revoked",
            "license.revoked",
        ],
    )
    .await;
}

async fn an_organization_can_require_device_tokens(app: TestServer) {
    let admin = acme(&app).await;
    let policy = UpdateOrgRequest {
        policy: Some(serde_json::json!({"require_device_token": true})),
        ..Default::default()
    };
    admin.update_org("acme", &policy).await.unwrap();
    let plain = LoginRequest {
        identifier: "ann@acme.test".into(),
        password: USER_PASSWORD.into(),
        organization: Some("acme".into()),
        ..Default::default()
    };
    let refused = app.client().login(&plain).await.unwrap_err();
    assert_eq!(refused.code(), Some(ProblemCode::Forbidden));
    assert!(
        refused.problem().unwrap().detail.contains("device"),
        "says why"
    );
    let code_login = app
        .client()
        .request(reqwest::Method::POST, "/v1/auth/code/login")
        .json(&serde_json::json!({"email": "ann@acme.test", "code": "123456", "organization": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code_login.status(), 403, "passwordless too");
    let license = admin.create_license("acme", &limited(1)).await.unwrap();
    let dev = register(&app, &license.license_key, "kiosk").await.unwrap();
    through(&app, &dev.device_token)
        .await
        .expect("with a device it works");
    app.login("admin@portcullis.test", portcullis_testkit::ADMIN_PASSWORD)
        .await;
}

async fn licenses_and_devices_stay_inside_their_organization(app: TestServer) {
    let admin = acme(&app).await;
    let boss = app
        .member_of("acme", "boss@acme.test", &["org_admin"])
        .await;
    let theirs = admin.create_license("default", &limited(1)).await.unwrap();
    let their_dev = register(&app, &theirs.license_key, "x").await.unwrap();
    boss.create_license("acme", &limited(1))
        .await
        .expect("its own organization");
    assert_eq!(
        code(boss.create_license("default", &limited(1)).await),
        ProblemCode::NotFound
    );
    assert_eq!(code(boss.licenses("default").await), ProblemCode::NotFound);
    assert_eq!(
        code(boss.delete_license("default", theirs.details.id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.delete_license("acme", theirs.details.id).await),
        ProblemCode::NotFound,
        "not by the wrong path either"
    );
    assert_eq!(code(boss.devices("default").await), ProblemCode::NotFound);
    assert_eq!(
        code(boss.delete_device("acme", their_dev.device_id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        admin.devices("default").await.unwrap().items.len(),
        1,
        "untouched"
    );
    let (_, user) = app.signed_in("ann@example.com").await;
    assert_eq!(code(user.licenses("default").await), ProblemCode::Forbidden);
}

both_backends!(
    a_device_registers_with_a_license_and_signs_users_in,
    licenses_limit_devices_and_expire,
    concurrent_registrations_never_pass_the_limit,
    revoking_a_device_or_license_ends_its_sessions_at_once,
    an_organization_can_require_device_tokens,
    licenses_and_devices_stay_inside_their_organization,
);
