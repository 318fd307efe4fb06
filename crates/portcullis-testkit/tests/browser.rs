//! The hosted pages in a real browser: headless Chromium driven through ChromeDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs), against a real
//! server with a loopback SMTP server. Sign up, verify by the mailed code, sign in, enrol an
//! authenticator (reading the key from the page), sign out, sign in with the second factor,
//! reset a forgotten password, and an admin deactivating the user; and "Continue with" an
//! upstream provider (another Portcullis, through its own sign-in page). Each page is saved
//! as a screenshot under `target/ui-screenshots/`.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use portcullis_testkit::{
    base32, code_in, token_in, totp, Backend, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD,
};
use serde_json::json;

const EMAIL: &str = "browser@example.com";
const PASSWORD: &str = "lantern over the quiet harbour";
const NEW_PASSWORD: &str = "a brand new passphrase here";

/// ChromeDriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
    )
    .arg(format!("--port={port}"))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("chromedriver is needed: install Debian's chromium and chromium-driver (.ci/run does)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1300"],
        }),
    );
    // ChromeDriver is on loopback: plain HTTP, no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The browser on the pages of one server.
struct Pages<'a> {
    app: &'a TestServer,
    b: Client,
}

impl Pages<'_> {
    async fn open(&self, path: &str) {
        self.b
            .goto(&format!("{}{path}", self.app.url()))
            .await
            .unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.b.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks `css` (a form's button) and waits for the next page to replace this one.
    async fn submit(&self, css: &str) {
        let page = self.b.find(Locator::Css("html")).await.unwrap();
        self.b
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for _ in 0..200 {
            if page.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page after clicking {css}");
    }

    async fn heading(&self) -> String {
        self.b
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn path(&self) -> String {
        self.b.current_url().await.unwrap().path().to_owned()
    }

    async fn shot(&self, name: &str) {
        let png = self.b.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, identifier: &str, password: &str) {
        self.open("/ui/signin").await;
        self.fill("#identifier", identifier).await;
        self.fill("#password", password).await;
        self.submit("form[action='/ui/signin'] button[type=submit]")
            .await;
    }

    async fn sign_out(&self) {
        self.submit("form[action='/ui/signout'] button").await;
        assert_eq!(self.path().await, "/ui/signin");
    }

    /// A code of the authenticator, for a time step no code was used in yet.
    async fn next_code(&self, secret: &[u8]) -> String {
        self.app.advance(30);
        totp(secret, self.app.now().timestamp(), 6)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_up_enrols_totp_recovers_and_an_admin_deactivates_them() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let driver = chromedriver();
    let p = Pages {
        app: &app,
        b: browser(&driver).await,
    };

    // Sign up; the code arrives by mail; verify.
    p.open("/ui/signup").await;
    p.shot("signup").await;
    p.fill("#email", EMAIL).await;
    p.fill("#password", PASSWORD).await;
    p.fill("#first_name", "Bea").await;
    p.submit("form[action='/ui/signup'] button").await;
    assert_eq!(p.path().await, "/ui/verify");
    let code = code_in(&app.nth_mail(EMAIL, 1).await.text);
    p.fill("#code", &code).await;
    p.submit("form[action='/ui/verify'] button").await;
    assert_eq!(p.heading().await, "Address verified");

    // Sign in; the account page.
    p.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(p.path().await, "/ui/account");
    p.shot("account").await;

    // Enrol an authenticator: the key is read off the page, the recovery codes shown once.
    p.fill("#mfa-password", PASSWORD).await;
    p.submit("form[action='/ui/account/mfa/start'] button")
        .await;
    assert_eq!(p.heading().await, "Set up an authenticator app");
    p.shot("totp").await;
    let secret = base32(
        &p.b.find(Locator::Css("#secret"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    p.fill("#code", &totp(&secret, app.now().timestamp(), 6))
        .await;
    p.submit("form[action='/ui/account/mfa/activate'] button")
        .await;
    assert_eq!(p.heading().await, "Your recovery codes");
    let codes = p.b.find_all(Locator::Css(".secrets code")).await.unwrap();
    assert_eq!(codes.len(), 10);
    p.shot("recovery-codes").await;
    p.open("/ui/account").await;
    p.sign_out().await;

    // Sign in again: the second step asks for the authenticator's code.
    p.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(p.heading().await, "Second step");
    p.shot("second-factor").await;
    p.fill("#code", "000000").await;
    p.submit("form[action='/ui/signin/mfa'] button").await;
    assert_eq!(p.heading().await, "Second step", "a wrong code is refused");
    let code = p.next_code(&secret).await;
    p.fill("#code", &code).await;
    p.submit("form[action='/ui/signin/mfa'] button").await;
    assert_eq!(p.path().await, "/ui/account");
    p.sign_out().await;

    // Forgot the password: the mailed link leads to the reset page.
    p.open("/ui/forgot").await;
    p.fill("#email", EMAIL).await;
    p.submit("form[action='/ui/forgot'] button").await;
    assert_eq!(p.heading().await, "Check your mail");
    let mail = app
        .mail
        .wait_for(1, |m| m.to == EMAIL && m.text.contains("token="))
        .await;
    p.open(&format!("/ui/reset?token={}", token_in(&mail[0].text)))
        .await;
    p.shot("reset").await;
    p.fill("#new_password", NEW_PASSWORD).await;
    p.submit("form[action='/ui/reset'] button").await;
    assert_eq!(p.heading().await, "Password changed");
    p.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(p.heading().await, "Sign in", "the old password is gone");
    p.sign_in(EMAIL, NEW_PASSWORD).await;
    let code = p.next_code(&secret).await;
    p.fill("#code", &code).await;
    p.submit("form[action='/ui/signin/mfa'] button").await;
    assert_eq!(p.path().await, "/ui/account");
    p.sign_out().await;

    // An admin finds the user in the console and deactivates them.
    p.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    p.open("/ui/admin").await;
    p.shot("console-users").await;
    p.fill("#query", "browser@").await;
    p.submit("form[action='/ui/admin'] button").await;
    p.submit("a[href^='/ui/admin/users/']").await;
    p.submit("#deactivate").await;
    let state = p.b.find(Locator::Css("#state")).await.unwrap();
    assert_eq!(state.text().await.unwrap(), "deactivated");
    p.shot("console-user").await;
    p.open("/ui/admin/audit").await;
    p.shot("console-audit").await;
    p.sign_out().await;

    // The deactivated user cannot sign in.
    p.sign_in(EMAIL, NEW_PASSWORD).await;
    assert_eq!(p.path().await, "/ui/signin");
    let error = p.b.find(Locator::Css(".error")).await.unwrap();
    assert!(error.text().await.unwrap().contains("deactivated"));

    // Readable on a phone-width screen: nothing wider than the screen.
    p.b.set_window_size(390, 844).await.unwrap();
    for page in ["/ui/signin", "/ui/signup"] {
        p.open(page).await;
        let fits =
            p.b.execute(
                "return document.documentElement.scrollWidth <= window.innerWidth",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "{page} is wider than a phone");
    }
    p.shot("signup-phone").await;

    p.b.close().await.unwrap();
}

/// `POST /session/{id}/webauthn/authenticator` (the W3C WebAuthn extension of WebDriver,
/// which ChromeDriver serves through the DevTools protocol's virtual authenticators).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_enrolled_and_signs_in_in_chromium() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    app.user(EMAIL).await;
    let driver = chromedriver();
    let b = browser(&driver).await;
    b.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    // WebAuthn wants a domain: the server is opened as localhost (its relying party).
    let base = app.url().replace("127.0.0.1", "localhost");
    let p = Pages { app: &app, b };
    let open = |path: &str| format!("{base}{path}");
    p.b.goto(&open("/ui/signin")).await.unwrap();
    p.fill("#identifier", EMAIL).await;
    p.fill("#password", portcullis_testkit::USER_PASSWORD).await;
    p.submit("form[action='/ui/signin'] button[type=submit]")
        .await;
    assert_eq!(p.path().await, "/ui/account");
    // Enrol: the script asks the (virtual) authenticator, then reloads the page.
    p.fill("#passkey-password", portcullis_testkit::USER_PASSWORD)
        .await;
    p.fill("#passkey-name", "Virtual key").await;
    p.submit("#passkey-add").await;
    let listed = p.b.find(Locator::XPath("//td[text()='Virtual key']")).await;
    assert!(listed.is_ok(), "the passkey is listed");
    p.shot("passkey-enrolled").await;
    p.sign_out().await;
    // Sign in with it: no name, no password.
    p.submit("#passkey-signin").await;
    assert_eq!(p.path().await, "/ui/account");
    p.sign_out().await;
    // With a password, the passkey is the second step.
    p.fill("#identifier", EMAIL).await;
    p.fill("#password", portcullis_testkit::USER_PASSWORD).await;
    p.submit("form[action='/ui/signin'] button[type=submit]")
        .await;
    assert_eq!(p.heading().await, "Second step");
    p.submit("#passkey-second").await;
    assert_eq!(p.path().await, "/ui/account");
    p.b.close().await.unwrap();
}

/// An application signs a user in through OpenID Connect in a real browser: the
/// application's library (the `openidconnect` crate) makes the request with PKCE, Chromium
/// signs in on the hosted pages and consents, and is sent back to the application's
/// callback (which the pages' Content-Security-Policy must let the forms redirect to); the
/// library then exchanges the code and checks the ID token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_signs_a_user_in_with_openid_connect_in_chromium() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
        RedirectUrl, Scope, TokenResponse as _,
    };

    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    app.user(EMAIL).await;
    // The application's callback, on loopback: it hands the query to the test.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/callback", listener.local_addr().unwrap());
    let route = axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
        let _ = tx.send(q.unwrap_or_default());
        async { axum::response::Html("<h1>Back in the application</h1>") }
    });
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/callback", route))
            .await
            .unwrap();
    });
    let created = app
        .admin()
        .await
        .create_oauth_client(
            "default",
            &portcullis_testkit::api::CreateOAuthClientRequest {
                name: "Acme web".into(),
                redirect_uris: vec![callback.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(app.url()).unwrap(), &http)
        .await
        .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(created.client.client_id.to_string()),
        created.client_secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(callback).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let driver = chromedriver();
    let p = Pages {
        app: &app,
        b: browser(&driver).await,
    };
    p.b.goto(url.as_str()).await.unwrap();
    assert_eq!(p.path().await, "/ui/signin");
    p.shot("oidc-signin").await;
    p.fill("#identifier", EMAIL).await;
    p.fill("#password", portcullis_testkit::USER_PASSWORD).await;
    p.submit("form[action='/ui/signin'] button[type=submit]")
        .await;
    assert_eq!(p.heading().await, "Allow access?");
    p.shot("oidc-consent").await;
    p.submit("button[value=allow]").await;
    assert_eq!(p.heading().await, "Back in the application");
    let query = rx.recv().await.unwrap();
    let params: std::collections::BTreeMap<String, String> =
        serde_urlencoded::from_str(&query).unwrap();
    assert_eq!(params["state"], *state.secret());
    let tokens = rp
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    p.b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_continues_with_an_upstream_provider_in_chromium() {
    use portcullis_testkit::api::{CreateOAuthClientRequest, IdentityProviderRequest};

    // Here, and another Portcullis as the upstream provider, each with its own pages.
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let upstream = TestServer::spawn(Backend::Sqlite).await.unwrap();
    upstream.user(EMAIL).await;
    let admin = app.admin().await;
    let provider = admin
        .create_identity_provider(
            "default",
            &IdentityProviderRequest {
                kind: Some("oidc".into()),
                name: Some("Far".into()),
                issuer: Some(upstream.url()),
                client_id: Some("pending".into()),
                client_secret: Some("pending".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let client = upstream
        .admin()
        .await
        .create_oauth_client(
            "default",
            &CreateOAuthClientRequest {
                name: "Near".into(),
                redirect_uris: vec![provider.redirect_uri.clone()],
                first_party: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    admin
        .update_identity_provider(
            "default",
            provider.id,
            &IdentityProviderRequest {
                client_id: Some(client.client.client_id.to_string()),
                client_secret: client.client_secret.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let driver = chromedriver();
    let p = Pages {
        app: &app,
        b: browser(&driver).await,
    };
    p.open("/ui/signin").await;
    p.shot("upstream-signin").await;
    p.submit("a.upstream-button").await;
    // At the provider's own sign-in page.
    let there = p.b.current_url().await.unwrap();
    assert_eq!(there.origin().ascii_serialization(), upstream.url());
    assert_eq!(there.path(), "/ui/signin");
    p.fill("#identifier", EMAIL).await;
    p.fill("#password", portcullis_testkit::USER_PASSWORD).await;
    p.submit("form[action='/ui/signin'] button[type=submit]")
        .await;
    // Back here, signed in to a new account with the provider's address, linked.
    let here = p.b.current_url().await.unwrap();
    assert_eq!(here.origin().ascii_serialization(), app.url());
    assert_eq!(here.path(), "/ui/account");
    let page = p.b.source().await.unwrap();
    assert!(page.contains(EMAIL) && page.contains("Far"), "{page}");
    p.shot("upstream-account").await;
    p.b.close().await.unwrap();
}
