//! The OpenID provider, driven by a real relying-party library (the `openidconnect` crate,
//! with its default, strict checks: discovery, the key set, the ID token's signature, `iss`,
//! `aud`, `azp`, `exp`, `nonce` and `at_hash`) and by a browser without JavaScript through
//! the hosted sign-in and consent; then every refusal the specifications call for.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse as _, UserInfoClaims,
};
use portcullis_testkit::api::{CreateOAuthClientRequest, UpdateUserRequest};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};
use serde_json::Value;

use crate::assert_audited;
use crate::browser::{Browser, Page};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const LOGGED_OUT: &str = "http://127.0.0.1:9/bye";

type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A registered client and the library's view of it.
struct App {
    id: String,
    secret: Option<String>,
    rp: Rp,
    http: reqwest::Client,
}

fn settings(name: &str) -> CreateOAuthClientRequest {
    CreateOAuthClientRequest {
        name: name.into(),
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: vec![LOGGED_OUT.into()],
        ..Default::default()
    }
}

/// Registers a client with `settings` and discovers the provider as the library does.
async fn register(app: &TestServer, settings: CreateOAuthClientRequest) -> App {
    let created = app
        .admin()
        .await
        .create_oauth_client("default", &settings)
        .await
        .unwrap();
    // The library's own advice: an HTTP client that follows no redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(app.url()).unwrap(), &http)
        .await
        .unwrap();
    let id = created.client.client_id.to_string();
    let secret = created.client_secret.clone();
    let mut rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(id.clone()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    if created.client.token_endpoint_auth_method == "client_secret_post" {
        rp = rp.set_auth_type(AuthType::RequestBody);
    }
    App {
        id,
        secret,
        rp,
        http,
    }
}

/// An authorization request as the library makes it: PKCE, state and nonce.
struct Started {
    url: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(client: &App, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new((*s).into()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = req.url();
    Started {
        url: url.to_string(),
        state,
        nonce,
        verifier,
    }
}

/// Undoes the HTML escaping of a form value.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden field `name` in a page.
fn hidden(page: &Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.body.find(&marker).expect("the field") + marker.len();
    unescape(page.body[at..].split('"').next().unwrap())
}

/// How the browser's trip through the provider ended.
enum Trip {
    /// At the client's redirect URI (or another outside address), with this URL.
    Back(String),
    /// On a page that is not a sign-in or a consent.
    Page(Page),
}

/// Follows the browser from `url` through the provider: signs in as `email` when asked,
/// answers the consent page with `allow`, and stops outside the provider.
async fn travel(b: &mut Browser<'_>, url: &str, email: &str, allow: bool) -> (Trip, Vec<String>) {
    let mut seen = Vec::new();
    let mut page = b.send(b.http.get(url)).await;
    for _ in 0..12 {
        if page.status == 303 {
            let to = page.location();
            seen.push(to.clone());
            let local = to.starts_with('/') || to.starts_with(&b.app.url());
            if !local {
                return (Trip::Back(to), seen);
            }
            let path = to.trim_start_matches(&b.app.url()).to_owned();
            page = b.get(&path).await;
        } else if page.status == 200 && page.body.contains("action=\"/ui/signin\"") {
            let query = seen
                .last()
                .and_then(|l| l.split_once('?'))
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default();
            seen.push("sign-in".into());
            page = b.sign_in(&query, email, USER_PASSWORD).await;
        } else if page.status == 200 && page.body.contains("action=\"/ui/authorize\"") {
            seen.push("consent".into());
            let csrf = page.csrf();
            let request = hidden(&page, "request");
            let decision = if allow { "allow" } else { "deny" };
            page = b
                .post(
                    "/ui/authorize",
                    &[
                        ("csrf", &csrf),
                        ("request", &request),
                        ("decision", decision),
                    ],
                )
                .await;
        } else {
            return (Trip::Page(page), seen);
        }
    }
    panic!("the browser went round in circles: {seen:?}");
}

fn query_of(url: &str) -> BTreeMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| serde_urlencoded::from_str(q).unwrap())
        .unwrap_or_default()
}

/// The browser's trip must end back at the client: its answer's parameters.
async fn back(
    b: &mut Browser<'_>,
    url: &str,
    email: &str,
) -> (BTreeMap<String, String>, Vec<String>) {
    match travel(b, url, email, true).await {
        (Trip::Back(to), seen) => {
            assert!(to.starts_with(CALLBACK), "{to}");
            (query_of(&to), seen)
        }
        (Trip::Page(p), seen) => panic!("stopped at {} {}: {seen:?}", p.status, p.body),
    }
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// The URL of `path` on `app` with `pairs` as its query.
fn at(app: &TestServer, path: &str, pairs: &[(&str, &str)]) -> String {
    format!(
        "{}{path}?{}",
        app.url(),
        serde_urlencoded::to_string(pairs).unwrap()
    )
}

/// The library redeems the code of `answer` with its PKCE verifier.
async fn redeem(
    client: &App,
    answer: &BTreeMap<String, String>,
    verifier: PkceCodeVerifier,
) -> CoreTokenResponse {
    client
        .rp
        .exchange_code(AuthorizationCode::new(answer["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&client.http)
        .await
        .unwrap()
}

/// A token request by hand, for what a library will not send.
async fn token_request(
    app: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap());
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap(), headers)
}

/// A fresh code for `client` and its verifier.
async fn code_for(client: &App, b: &mut Browser<'_>) -> (String, String) {
    let s = start(client, &["email"], &[]);
    let (answer, _) = back(b, &s.url, "ann@example.com").await;
    (answer["code"].clone(), s.verifier.secret().clone())
}

async fn userinfo_status(app: &TestServer, access_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", app.url()))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_relying_party_signs_a_user_in_with_the_code_flow(app: TestServer) {
    let user = app.user("ann@example.com").await;
    let pair = app.login("ann@example.com", USER_PASSWORD).await;
    app.client()
        .with_token(&pair.access_token)
        .update_me(&UpdateUserRequest {
            phone: Some(Some("+15555550123".into())),
            username: Some(Some("ann".into())),
            first_name: Some(Some("Ann".into())),
            last_name: Some(Some("Lee".into())),
            ..Default::default()
        })
        .await
        .unwrap();
    let client = register(&app, settings("Acme")).await;
    let mut b = Browser::new(&app);

    // Sign in and consent, then back to the client with a code, the state and the issuer.
    let s = start(&client, &["email", "profile", "phone"], &[]);
    let (answer, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"sign-in".to_owned()) && seen.contains(&"consent".to_owned()));
    assert_eq!(answer["state"], *s.state.secret());
    assert_eq!(answer["iss"], app.url(), "RFC 9207");
    let token = redeem(&client, &answer, s.verifier).await;

    // The library checks the ID token (signature by the published key, iss, aud, azp,
    // exp, nonce); then its at_hash, as the specification asks of a client.
    let id_token = token.id_token().expect("an ID token for openid");
    let verifier = client.rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &s.nonce).unwrap();
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(*expected, actual);
    assert_eq!(claims.subject().as_str(), user.id.to_string());
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ann@example.com"));
    let raw = claims_of(&id_token.to_string());
    assert_eq!(header_of(&id_token.to_string())["alg"], "RS256");
    for claim in [
        "auth_time",
        "acr",
        "amr",
        "azp",
        "sid",
        "at_hash",
        "iat",
        "exp",
    ] {
        assert!(raw.get(claim).is_some(), "{claim} in {raw}");
    }
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]));
    assert_eq!(raw["email_verified"], false);
    assert!(raw["updated_at"].is_i64());
    // Each scope's claims (OpenID Connect Core section 5.4).
    assert_eq!(raw["name"], "Ann Lee");
    assert_eq!(raw["given_name"], "Ann");
    assert_eq!(raw["family_name"], "Lee");
    assert_eq!(raw["preferred_username"], "ann");
    assert_eq!(raw["phone_number"], "+15555550123");
    assert_eq!(raw["phone_number_verified"], false);

    // The access token is an RFC 9068 JWT.
    let access = token.access_token().secret().clone();
    let header = header_of(&access);
    assert_eq!(
        (header["typ"].as_str(), header["alg"].as_str()),
        (Some("at+jwt"), Some("RS256"))
    );
    let at = claims_of(&access);
    assert_eq!(at["client_id"], client.id);
    assert_eq!(at["aud"], client.id);
    assert_eq!(at["scope"], "openid profile email phone");
    assert_eq!(at["iss"], app.url());

    // Userinfo, through the library (which checks `sub` against the ID token's).
    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .rp
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&client.http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("ann@example.com"));
    assert_eq!(
        info.phone_number().map(|p| p.as_str()),
        Some("+15555550123")
    );
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ann"));

    // A refresh: new tokens, a new ID token for the same user; the old refresh token is
    // spent, and its reuse ends the session.
    let refresh = token.refresh_token().expect("a refresh token").clone();
    let renewed = client
        .rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&client.http)
        .await
        .unwrap();
    let again = renewed
        .id_token()
        .unwrap()
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(again.subject(), claims.subject());
    assert_ne!(renewed.refresh_token().unwrap().secret(), refresh.secret());
    let reuse = client
        .rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&client.http)
        .await;
    assert!(reuse.is_err(), "a spent refresh token");
    assert_eq!(
        userinfo_status(&app, renewed.access_token().secret()).await,
        401,
        "reuse ended the session"
    );

    // The consent is remembered: a second authorization goes straight back; another scope
    // order, unknown parameters and no nonce change nothing.
    let s = start(
        &client,
        &["profile", "email"],
        &[("unknown_thing", "x"), ("display", "page")],
    );
    let url = s.url.replace("&nonce=", "&ignored_nonce=");
    let (answer, seen) = back(&mut b, &url, "ann@example.com").await;
    assert!(!seen.contains(&"consent".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"sign-in".to_owned()), "{seen:?}");
    let token = redeem(&client, &answer, s.verifier).await;
    let raw = claims_of(&token.id_token().unwrap().to_string());
    assert!(raw.get("nonce").is_none(), "no nonce asked, none given");
    assert!(raw.get("phone_number").is_none(), "phone was not asked for");
    assert_eq!(token.scopes().unwrap().len(), 3);

    // prompt=consent asks again.
    let s = start(&client, &["email"], &[("prompt", "consent")]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"consent".to_owned()), "{seen:?}");

    // Declining answers access_denied.
    let s = start(&client, &["email"], &[("prompt", "consent")]);
    match travel(&mut b, &s.url, "ann@example.com", false).await.0 {
        Trip::Back(to) => {
            let q = query_of(&to);
            assert_eq!(q["error"], "access_denied");
            assert_eq!(q["state"], *s.state.secret());
        }
        Trip::Page(p) => panic!("{}", p.body),
    }

    assert_audited(
        &app.admin().await,
        Some(user.id),
        &[
            "oauth.granted",
            "oauth.token_issued",
            "oauth.token_refreshed",
            "token.reused",
        ],
    )
    .await;
}

async fn client_secret_post_and_each_id_token_algorithm(app: TestServer) {
    app.user("ann@example.com").await;
    for (method, alg) in [
        ("client_secret_post", "ES256"),
        ("client_secret_basic", "EdDSA"),
        ("client_secret_post", "RS256"),
    ] {
        let client = register(
            &app,
            CreateOAuthClientRequest {
                token_endpoint_auth_method: Some(method.into()),
                id_token_signed_response_alg: Some(alg.into()),
                first_party: true,
                ..settings(alg)
            },
        )
        .await;
        let mut b = Browser::new(&app);
        let s = start(&client, &["email"], &[]);
        let (answer, seen) = back(&mut b, &s.url, "ann@example.com").await;
        assert!(
            !seen.contains(&"consent".to_owned()),
            "first party: {seen:?}"
        );
        let token = client
            .rp
            .exchange_code(AuthorizationCode::new(answer["code"].clone()))
            .unwrap()
            .set_pkce_verifier(s.verifier)
            .request_async(&client.http)
            .await
            .unwrap_or_else(|e| panic!("{method} {alg}: {e:?}"));
        let id_token = token.id_token().unwrap();
        let verifier = client.rp.id_token_verifier();
        let claims = id_token.claims(&verifier, &s.nonce).unwrap();
        let actual = AccessTokenHash::from_token(
            token.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&actual), "{alg}");
        assert_eq!(header_of(&id_token.to_string())["alg"], alg);
    }
}

async fn codes_are_single_use_bound_to_their_client_redirect_and_verifier(app: TestServer) {
    app.user("ann@example.com").await;
    let client = register(&app, settings("Acme")).await;
    let other = register(&app, settings("Other")).await;
    let secret = client.secret.clone().unwrap();
    let basic = Some((client.id.as_str(), secret.as_str()));
    let mut b = Browser::new(&app);

    // The first use works; the second is invalid_grant and ends what the first issued.
    let (code, verifier) = code_for(&client, &mut b).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, first, headers) = token_request(&app, basic, &form).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo_status(&app, &access).await, 200);
    let (status, body, _) = token_request(&app, basic, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo_status(&app, &access).await,
        401,
        "revoked by the reuse"
    );

    // Another redirect URI, a wrong verifier, none, or another client: invalid_grant.
    for (field, value) in [
        ("redirect_uri", "http://127.0.0.1:9/other"),
        ("code_verifier", "x".repeat(43).as_str()),
    ] {
        let (code, verifier) = code_for(&client, &mut b).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.as_str()),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let (status, body, _) = token_request(&app, basic, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{field}"
        );
    }
    let (code, _) = code_for(&client, &mut b).await;
    let (status, body, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (code, verifier) = code_for(&client, &mut b).await;
    let other_secret = other.secret.clone().unwrap();
    let (status, body, _) = token_request(
        &app,
        Some((&other.id, &other_secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // An expired code (60 seconds).
    let (code, verifier) = code_for(&client, &mut b).await;
    app.advance(61);
    let (status, body, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Client authentication: a wrong secret, the wrong method, two methods at once.
    let grant = [("grant_type", "client_credentials")];
    let (status, body, headers) =
        token_request(&app, Some((&client.id, "pcs_wrong")), &grant).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let (status, body, _) = token_request(
        &app,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "registered for basic"
    );
    let (status, body, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // Grants: unknown, not allowed; parameters sent twice.
    let (status, body, _) = token_request(&app, basic, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body, _) = token_request(&app, basic, &grant).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (status, body, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A refresh token is its client's: in another client's hands it is refused, and the
    // session it belonged to ends.
    let (code, verifier) = code_for(&client, &mut b).await;
    let (_, tokens, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body, _) = token_request(
        &app,
        Some((&other.id, &other_secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _, _) = token_request(
        &app,
        basic,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 400, "the session ended");
}

async fn authorization_requests_are_checked_before_anything_is_shown(app: TestServer) {
    app.user("ann@example.com").await;
    let client = register(&app, settings("Acme")).await;
    let public = register(
        &app,
        CreateOAuthClientRequest {
            client_type: Some("public".into()),
            token_endpoint_auth_method: Some("none".into()),
            ..settings("Phone app")
        },
    )
    .await;
    let mut b = Browser::new(&app);
    let authorize = |pairs: &[(&str, &str)]| at(&app, "/oauth2/authorize", pairs);

    // An unknown client or an unregistered redirect URI: a page, never a redirect.
    for pairs in [
        vec![
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ],
        vec![("response_type", "code"), ("client_id", client.id.as_str())],
    ] {
        let page = b.send(b.http.get(authorize(&pairs))).await;
        assert_eq!(page.status, 400, "{pairs:?}");
        assert!(page.headers.get("location").is_none());
        assert!(page.body.contains("Cannot sign in"), "{}", page.body);
    }

    // Everything else goes back with the error, the state and the issuer.
    let base = [
        ("client_id", client.id.as_str()),
        ("redirect_uri", CALLBACK),
        ("state", "s1"),
        ("scope", "openid"),
    ];
    for (extra, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![], "invalid_request"),
        (
            vec![("response_type", "code"), ("request", "eyJ.x.y")],
            "request_not_supported",
        ),
        (
            vec![
                ("response_type", "code"),
                ("request_uri", "https://x.test/r"),
            ],
            "request_uri_not_supported",
        ),
        (
            vec![("response_type", "code"), ("prompt", "none login")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("max_age", "soon")],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("id_token_hint", "not.a.token")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("state", "again")],
            "invalid_request",
        ),
    ] {
        let mut pairs = base.to_vec();
        pairs.extend(extra.iter().copied());
        let page = b.send(b.http.get(authorize(&pairs))).await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        let to = page.location();
        assert!(to.starts_with(CALLBACK), "{to}");
        let q = query_of(&to);
        assert_eq!(q["error"], error, "{extra:?}");
        assert_eq!(q["state"], "s1");
        assert_eq!(q["iss"], app.url());
        assert!(!q["error_description"].is_empty());
    }

    // A login_hint fills in the sign-in form.
    let s = start(&client, &["email"], &[("login_hint", "hinted@example.com")]);
    let mut fresh = Browser::new(&app);
    let page = fresh.send(fresh.http.get(&s.url)).await;
    let page = fresh.get(&page.location()).await;
    let page = fresh.get(&page.location()).await;
    assert!(
        page.body.contains("value=\"hinted@example.com\""),
        "{}",
        page.body
    );

    // prompt=none without a session: login_required, from the pages that know.
    let s = start(&client, &["email"], &[("prompt", "none"), ("state", "s2")]);
    match travel(
        &mut b,
        &s.url.replace(&format!("state={}", s.state.secret()), "x=y"),
        "",
        true,
    )
    .await
    .0
    {
        Trip::Back(to) => {
            let q = query_of(&to);
            assert_eq!(q["error"], "login_required");
            assert_eq!(q["state"], "s2");
            assert_eq!(q["iss"], app.url());
        }
        Trip::Page(p) => panic!("{}", p.body),
    }

    // A public client must use PKCE.
    let page = b
        .send(b.http.get(authorize(&[
            ("response_type", "code"),
            ("client_id", public.id.as_str()),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
        ])))
        .await;
    assert_eq!(query_of(&page.location())["error"], "invalid_request");

    // POST works as GET does.
    let s = start(&client, &["email"], &[]);
    let query = s.url.split_once('?').unwrap().1.to_owned();
    let page = b
        .send(
            b.http
                .post(format!("{}/oauth2/authorize", app.url()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(query),
        )
        .await;
    assert_eq!(page.status, 303);
    assert!(page.location().starts_with("/ui/authorize?request="));
    let (answer, _) = back(
        &mut b,
        &page.location().replace("/ui", &format!("{}/ui", app.url())),
        "ann@example.com",
    )
    .await;
    assert!(answer.contains_key("code"));

    // Signed in now, but no consent yet: prompt=none answers consent_required.
    let s = start(&client, &["phone"], &[("prompt", "none")]);
    match travel(&mut b, &s.url, "ann@example.com", true).await.0 {
        Trip::Back(to) => assert_eq!(query_of(&to)["error"], "consent_required"),
        Trip::Page(p) => panic!("{}", p.body),
    }
    // With consent given, prompt=none answers with a code at once.
    let s = start(&client, &["email"], &[("prompt", "none")]);
    let (answer, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(answer.contains_key("code"), "{seen:?}");

    // A public client with PKCE gets tokens without a secret.
    let s = start(&public, &["email"], &[]);
    let (answer, _) = back(&mut b, &s.url, "ann@example.com").await;
    let token = redeem(&public, &answer, s.verifier).await;
    assert!(token.id_token().is_some());
}

async fn prompt_login_max_age_and_id_token_hint_ask_for_a_new_sign_in(app: TestServer) {
    app.user("ann@example.com").await;
    app.user("bob@example.com").await;
    let client = register(
        &app,
        CreateOAuthClientRequest {
            first_party: true,
            ..settings("Acme")
        },
    )
    .await;
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    let (answer, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"sign-in".to_owned()));
    let token = redeem(&client, &answer, s.verifier).await;
    let ann_id_token = token.id_token().unwrap().to_string();
    let first_auth_time = claims_of(&ann_id_token)["auth_time"].as_i64().unwrap();

    // Signed in: no sign-in page; prompt=login asks again.
    let s = start(&client, &["email"], &[]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(!seen.contains(&"sign-in".to_owned()), "{seen:?}");
    app.advance(2);
    let s = start(&client, &["email"], &[("prompt", "login")]);
    let (answer, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"sign-in".to_owned()), "{seen:?}");
    let token = redeem(&client, &answer, s.verifier).await;
    let auth_time = claims_of(&token.id_token().unwrap().to_string())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(auth_time > first_auth_time, "a new sign-in");

    // max_age=1, two seconds later: sign in again; max_age=600: no.
    app.advance(2);
    let s = start(&client, &["email"], &[("max_age", "600")]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(!seen.contains(&"sign-in".to_owned()), "{seen:?}");
    let s = start(&client, &["email"], &[("max_age", "1")]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"sign-in".to_owned()), "{seen:?}");
    app.advance(2);
    let s = start(&client, &["email"], &[("max_age", "1"), ("prompt", "none")]);
    match travel(&mut b, &s.url, "ann@example.com", true).await.0 {
        Trip::Back(to) => assert_eq!(query_of(&to)["error"], "login_required"),
        Trip::Page(p) => panic!("{}", p.body),
    }

    // An id_token_hint naming Ann, while Bob is signed in: Ann must sign in.
    let mut bob = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    back(&mut bob, &s.url, "bob@example.com").await;
    let s = start(
        &client,
        &["email"],
        &[("id_token_hint", &ann_id_token), ("prompt", "none")],
    );
    match travel(&mut bob, &s.url, "bob@example.com", true).await.0 {
        Trip::Back(to) => assert_eq!(query_of(&to)["error"], "login_required"),
        Trip::Page(p) => panic!("{}", p.body),
    }
    let s = start(&client, &["email"], &[("id_token_hint", &ann_id_token)]);
    let (_, seen) = back(&mut bob, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"sign-in".to_owned()), "{seen:?}");
}

async fn client_credentials_introspection_and_revocation(app: TestServer) {
    app.user("ann@example.com").await;
    let client = register(
        &app,
        CreateOAuthClientRequest {
            grant_types: Some(vec![
                "authorization_code".into(),
                "refresh_token".into(),
                "client_credentials".into(),
            ]),
            ..settings("Backend")
        },
    )
    .await;
    let other = register(&app, settings("Other")).await;
    let secret = client.secret.clone().unwrap();
    let basic = Some((client.id.as_str(), secret.as_str()));
    let post = |path: &str, who: (&str, &str), form: &[(&str, &str)]| {
        reqwest::Client::new()
            .post(format!("{}{path}", app.url()))
            .basic_auth(who.0, Some(who.1))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
    };
    let me = (client.id.as_str(), secret.as_str());
    let other_secret = other.secret.clone().unwrap();
    let them = (other.id.as_str(), other_secret.as_str());

    // A token for the client itself, with its own scopes (not the user's).
    let (status, cc, _) = token_request(&app, basic, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{cc}");
    assert!(cc.get("refresh_token").is_none() && cc.get("id_token").is_none());
    assert_eq!(cc["scope"], "profile email phone");
    let cc_token = cc["access_token"].as_str().unwrap();
    assert_eq!(claims_of(cc_token)["sub"], client.id);
    let (status, body, _) = token_request(
        &app,
        basic,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // It is no user's: userinfo refuses it.
    let res = reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", app.url()))
        .bearer_auth(cc_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Introspection: the caller's own tokens only.
    let seen: Value = post("/oauth2/introspect", me, &[("token", cc_token)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], client.id);
    let hidden: Value = post("/oauth2/introspect", them, &[("token", cc_token)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hidden, serde_json::json!({"active": false}));
    let res = post(
        "/oauth2/introspect",
        (&client.id, "pcs_wrong"),
        &[("token", cc_token)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);

    // A user's tokens: introspected, then revoked by the refresh token.
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    let (answer, _) = back(&mut b, &s.url, "ann@example.com").await;
    let (_, tokens, _) = token_request(
        &app,
        basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &answer["code"]),
            ("redirect_uri", CALLBACK),
            ("code_verifier", s.verifier.secret()),
        ],
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let seen: Value = post(
        "/oauth2/introspect",
        me,
        &[("token", refresh), ("token_type_hint", "refresh_token")],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "openid email");
    // Another client cannot revoke it (the answer is the same, nothing changes).
    let res = post("/oauth2/revoke", them, &[("token", refresh)])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(userinfo_status(&app, access).await, 200);
    let res = post("/oauth2/revoke", me, &[("token", refresh)])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(userinfo_status(&app, access).await, 401);
    let seen: Value = post("/oauth2/introspect", me, &[("token", access)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], false);
    // A rotated secret stops working at once, though the client was just read (and cached).
    let rotated = app
        .admin()
        .await
        .rotate_oauth_client_secret("default", client.id.parse().unwrap())
        .await
        .unwrap();
    let (status, body, _) =
        token_request(&app, basic, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, _) = token_request(
        &app,
        Some((&client.id, &rotated.client_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200);
    // Unknown tokens are answered alike.
    let me = (client.id.as_str(), rotated.client_secret.as_str());
    let res = post("/oauth2/revoke", me, &[("token", "nothing-like-a-token")])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_audited(&app.admin().await, None, &["oauth.revoked"]).await;
}

async fn relying_parties_sign_users_out(app: TestServer) {
    app.user("ann@example.com").await;
    let client = register(
        &app,
        CreateOAuthClientRequest {
            first_party: true,
            ..settings("Acme")
        },
    )
    .await;
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    let (answer, _) = back(&mut b, &s.url, "ann@example.com").await;
    let token = redeem(&client, &answer, s.verifier).await;
    let id_token = token.id_token().unwrap().to_string();
    let logout = |pairs: &[(&str, &str)]| at(&app, "/oauth2/logout", pairs);

    // A bad hint, or a URI the client did not register: refused on a page.
    for pairs in [
        vec![
            ("id_token_hint", "e30.e30.sig"),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ],
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/evil"),
        ],
        vec![("post_logout_redirect_uri", LOGGED_OUT)],
    ] {
        let page = b.send(b.http.get(logout(&pairs))).await;
        assert_eq!(page.status, 400, "{pairs:?}");
        assert!(page.headers.get("location").is_none());
    }
    assert_eq!(
        userinfo_status(&app, token.access_token().secret()).await,
        200
    );

    // Without a hint the user is asked first.
    let page = b.send(b.http.get(logout(&[]))).await;
    let page = b.get(page.location().as_str()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/ui/logout\""), "{}", page.body);

    // With the hint of this browser's session: signed out at once, sent back with the state;
    // the session's grants end with it.
    let page = b
        .send(b.http.get(logout(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "bye1"),
        ])))
        .await;
    let page = b.get(page.location().as_str()).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("{LOGGED_OUT}?state=bye1"));
    assert!(!b.cookies.contains_key("pc_session"));
    assert_eq!(
        userinfo_status(&app, token.access_token().secret()).await,
        401
    );
    let s = start(&client, &["email"], &[("prompt", "none")]);
    match travel(&mut b, &s.url, "ann@example.com", true).await.0 {
        Trip::Back(to) => assert_eq!(query_of(&to)["error"], "login_required"),
        Trip::Page(p) => panic!("{}", p.body),
    }
    assert_audited(&app.admin().await, None, &["oauth.logout"]).await;
}

async fn users_see_and_withdraw_their_authorizations(app: TestServer) {
    app.user("ann@example.com").await;
    let client = register(&app, settings("Acme")).await;
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    let (answer, _) = back(&mut b, &s.url, "ann@example.com").await;
    let token = redeem(&client, &answer, s.verifier).await;
    let pair = app.login("ann@example.com", USER_PASSWORD).await;
    let ann = app.client().with_token(&pair.access_token);
    let path = "/v1/users/me/authorizations";
    let listed: Value = ann
        .execute(ann.request(reqwest::Method::GET, path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["client_id"], client.id);
    assert_eq!(listed["items"][0]["client_name"], "Acme");
    assert_eq!(listed["items"][0]["scope"], "openid email");
    let one = format!("{path}/{}", client.id);
    let res = ann
        .execute(ann.request(reqwest::Method::DELETE, &one))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        userinfo_status(&app, token.access_token().secret()).await,
        401
    );
    let res = ann
        .execute(ann.request(reqwest::Method::DELETE, &one))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // Asked again next time.
    let s = start(&client, &["email"], &[]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"consent".to_owned()), "{seen:?}");

    // The account page lists it, and removes it.
    let page = b.get("/ui/account").await;
    assert!(
        page.body.contains("Applications you let in"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>Acme</td>"), "{}", page.body);
    let csrf = page.csrf();
    let done = b
        .post(
            "/ui/account/apps/revoke",
            &[("csrf", &csrf), ("id", &client.id)],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(
        done.body.contains("That application is removed"),
        "{}",
        done.body
    );
    assert!(!done.body.contains("<td>Acme</td>"));
    let s = start(&client, &["email"], &[]);
    let (_, seen) = back(&mut b, &s.url, "ann@example.com").await;
    assert!(seen.contains(&"consent".to_owned()), "{seen:?}");
}

async fn a_user_who_must_enrol_a_second_factor_is_sent_to_do_so_first(app: TestServer) {
    let client = register(&app, settings("Acme")).await;
    crate::set_policy(&app, "default", serde_json::json!({"mfa_required": true})).await;
    app.user("eve@example.com").await;
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    match travel(&mut b, &s.url, "eve@example.com", true).await {
        (Trip::Page(page), seen) => {
            assert!(seen.contains(&"sign-in".to_owned()), "{seen:?}");
            assert!(
                page.body.contains("set up an authenticator app below"),
                "{}",
                page.body
            );
        }
        (Trip::Back(to), _) => panic!("no code before the second factor: {to}"),
    }
    // Without a page allowed, the application hears that the user must sign in.
    let s = start(&client, &["email"], &[("prompt", "none")]);
    match travel(&mut b, &s.url, "eve@example.com", true).await.0 {
        Trip::Back(to) => assert_eq!(query_of(&to)["error"], "login_required"),
        Trip::Page(p) => panic!("{}", p.body),
    }
}

both_backends!(
    a_user_who_must_enrol_a_second_factor_is_sent_to_do_so_first,
    a_relying_party_signs_a_user_in_with_the_code_flow,
    client_secret_post_and_each_id_token_algorithm,
    codes_are_single_use_bound_to_their_client_redirect_and_verifier,
    authorization_requests_are_checked_before_anything_is_shown,
    prompt_login_max_age_and_id_token_hint_ask_for_a_new_sign_in,
    client_credentials_introspection_and_revocation,
    relying_parties_sign_users_out,
    users_see_and_withdraw_their_authorizations,
    signing_out_sends_each_client_a_logout_token_until_it_is_taken,
    bad_input_gets_the_specifications_errors_never_a_server_error,
);

/// A relying party's back-channel logout endpoint on loopback: answers the first `fail`
/// calls with 503, then takes each logout token.
async fn logout_receiver(fail: usize) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let route = axum::routing::post(
        move |axum::Form(form): axum::Form<BTreeMap<String, String>>| {
            let tx = tx.clone();
            let calls = std::sync::Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) < fail {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                axum::http::StatusCode::OK
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/backchannel", route))
            .await
            .unwrap();
    });
    (url, rx)
}

async fn signing_out_sends_each_client_a_logout_token_until_it_is_taken(app: TestServer) {
    app.user("ann@example.com").await;
    let (uri, mut tokens) = logout_receiver(1).await;
    let client = register(
        &app,
        CreateOAuthClientRequest {
            first_party: true,
            backchannel_logout_uri: Some(uri),
            id_token_signed_response_alg: Some("ES256".into()),
            ..settings("Acme")
        },
    )
    .await;
    let mut b = Browser::new(&app);
    let s = start(&client, &["email"], &[]);
    let (answer, _) = back(&mut b, &s.url, "ann@example.com").await;
    let token = redeem(&client, &answer, s.verifier).await;
    let id_claims = claims_of(&token.id_token().unwrap().to_string());

    // The user signs out on the hosted pages.
    let page = b.get("/ui/account").await;
    let csrf = page.csrf();
    let out = b.post("/ui/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);

    // The first call fails; the queue tries again and the token arrives.
    let logout = tokio::time::timeout(std::time::Duration::from_secs(20), tokens.recv())
        .await
        .expect("a logout token within 20 s")
        .unwrap();
    let header = header_of(&logout);
    assert_eq!(
        (header["typ"].as_str(), header["alg"].as_str()),
        (Some("logout+jwt"), Some("ES256"))
    );
    // Verified with the published key, as the relying party would.
    let jwks = app.client().jwks().await.unwrap();
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kid == header["kid"].as_str().unwrap())
        .unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key.x.as_deref().unwrap(),
        key.y.as_deref().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[app.url()]);
    validation.set_audience(&[client.id.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(&logout, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    // The client's session ended with the browser's.
    assert_eq!(
        userinfo_status(&app, token.access_token().secret()).await,
        401
    );
    // Exactly one token for one client.
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(3), tokens.recv())
            .await
            .is_err(),
        "one logout token"
    );
}

async fn bad_input_gets_the_specifications_errors_never_a_server_error(app: TestServer) {
    let client = register(&app, settings("Acme")).await;
    let secret = client.secret.clone().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.url());

    // The token endpoint: JSON instead of a form, bytes that are not UTF-8, an empty body,
    // a huge code: invalid_request or invalid_grant, as JSON.
    for (content_type, body) in [
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'=', 0x80],
        ),
        ("application/x-www-form-urlencoded", Vec::new()),
        (
            "application/x-www-form-urlencoded",
            format!(
                "grant_type=authorization_code&code={}&redirect_uri=x",
                "A".repeat(5000)
            )
            .into_bytes(),
        ),
    ] {
        let res = http
            .post(url("/oauth2/token"))
            .basic_auth(&client.id, Some(&secret))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{content_type}");
        let body: Value = res.json().await.unwrap();
        assert!(
            matches!(
                body["error"].as_str(),
                Some("invalid_request" | "invalid_grant")
            ),
            "{body}"
        );
    }
    // No credentials at all; a malformed Basic header.
    for auth in [None, Some("Basic !!!"), Some("Bearer x")] {
        let mut req = http
            .post(url("/oauth2/introspect"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token=x");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // Userinfo: no token, a token that is not one, a first-party access token.
    let (pair, _) = app.signed_in("ann@example.com").await;
    for token in [None, Some("nonsense"), Some(pair.access_token.as_str())] {
        let mut req = http.get(url("/oauth2/userinfo"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
    // The pages: a forged or stale sealed request, a consent without its CSRF token.
    for path in [
        "/ui/authorize?request=forged",
        "/ui/authorize",
        "/ui/logout?request=%00%01",
    ] {
        let res = http.get(url(path)).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(res.headers().get("location").is_none());
    }
    let res = http
        .post(url("/ui/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("request=x&decision=allow")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Huge and odd authorization parameters.
    let odd = format!(
        "/oauth2/authorize?client_id={}&redirect_uri={}&response_type=code&state={}&nonce=%00",
        client.id,
        CALLBACK,
        "s".repeat(4000)
    );
    let res = http.get(url(&odd)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_of(&to)["error"], "invalid_request");
}
