//! The OpenID provider's figures: `client_credentials` grants against the raw RS256 signing
//! rate (what a grant cannot be faster than), introspection against `GET /v1/users/me` (the
//! same token check and look-ups, plus client authentication), and whole authorization-code
//! flows of a signed-in browser (authorize, continue, redeem with PKCE).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use portcullis_core::oauth::{AuthMethod, ClientType, GrantType, OAuthClient, SigningAlg, SCOPES};
use portcullis_core::OrgId;

use crate::load;
use crate::stats::Sample;

/// A signed-in browser: its cookies, kept as the pages renew them.
pub(crate) type Browser = Arc<tokio::sync::Mutex<Vec<(String, String)>>>;

/// The bench client's secret (a client secret is 256 random bits; this one is known).
pub(crate) const SECRET: &str = "pcs_bench-client-secret-0123456789abcdefghijklmn";
/// Where its codes go: never called, the flow reads the code from the redirect.
const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// Registers a confidential, first-party client with every grant, straight in the store.
pub(crate) async fn register(
    store: &Arc<dyn portcullis_core::Store>,
    org: OrgId,
) -> anyhow::Result<String> {
    let now = portcullis_core::Clock::now(&portcullis_core::SystemClock);
    let client = OAuthClient {
        id: uuid::Uuid::now_v7(),
        org_id: org,
        name: "bench".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: GrantType::ALL.to_vec(),
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: SigningAlg::Rs256,
        first_party: true,
        backchannel_logout_uri: None,
        access_token_lifetime_secs: None,
        refresh_token_lifetime_secs: None,
        secret_prefix: Some(SECRET[..10].to_owned()),
        created_at: now,
        updated_at: now,
    };
    store
        .insert_oauth_client(&client, Some(&portcullis_core::crypto::hash_token(SECRET)))
        .await?;
    Ok(client.id.to_string())
}

/// Raw RS256 (RSASSA-PKCS1-v1_5, SHA-256, 2048-bit) signatures per second with ring on every
/// core, over a message the size of an access token's signing input.
pub(crate) fn rs256_rate(d: Duration) -> anyhow::Result<f64> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)?;
    let der = key.to_pkcs8_der()?;
    let pair = Arc::new(
        ring::rsa::KeyPair::from_pkcs8(der.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let msg = vec![b'x'; 400];
    let rng = ring::rand::SystemRandom::new();
    Ok(crate::raw::per_second(crate::raw::cores(), d, || {
        let mut sig = vec![0u8; pair.public().modulus_len()];
        let _ = pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &msg, &mut sig);
    }))
}

/// `client_credentials` grants from `clients` clients.
pub(crate) async fn grants(url: &str, id: &str, clients: usize, d: Duration) -> Sample {
    let (http, url, id) = (crate::http(), format!("{url}/oauth2/token"), id.to_owned());
    load::run(clients, d, move |_, _| {
        let (http, url, id) = (http.clone(), url.clone(), id.clone());
        async move {
            http.post(&url)
                .basic_auth(&id, Some(SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

/// A `client_credentials` access token, to introspect.
pub(crate) async fn access_token(url: &str, id: &str) -> anyhow::Result<String> {
    let res: serde_json::Value = crate::http()
        .post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    Ok(res["access_token"].as_str().unwrap_or_default().to_owned())
}

/// Introspections of `token` by its client, from `clients` clients.
pub(crate) async fn introspections(
    url: &str,
    id: &str,
    token: &str,
    clients: usize,
    d: Duration,
) -> Sample {
    let (http, url) = (crate::http(), format!("{url}/oauth2/introspect"));
    let (id, token) = (id.to_owned(), token.to_owned());
    load::run(clients, d, move |_, _| {
        let (http, url, id, token) = (http.clone(), url.clone(), id.clone(), token.clone());
        async move {
            match http
                .post(&url)
                .basic_auth(&id, Some(SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
            {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["active"] == true),
                Err(_) => false,
            }
        }
    })
    .await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default()
}

/// The cookies a response sets, merged into `jar` (`name=value; ...`).
fn keep_cookies(jar: &mut Vec<(String, String)>, res: &reqwest::Response) {
    for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
        let Ok(set) = set.to_str() else { continue };
        let pair = set.split(';').next().unwrap_or("");
        if let Some((name, value)) = pair.split_once('=') {
            jar.retain(|(n, _)| n != name);
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Browsers signed in on the hosted pages as `bench{i}@bench.test`: their cookies.
pub(crate) async fn browsers(url: &str, n: usize, password: &str) -> anyhow::Result<Vec<Browser>> {
    let http = no_redirects();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut jar = Vec::new();
        let page = http.get(format!("{url}/ui/signin")).send().await?;
        keep_cookies(&mut jar, &page);
        let body = page.text().await?;
        let at = body
            .find("name=\"csrf\" value=\"")
            .ok_or_else(|| anyhow::anyhow!("no sign-in form"))?
            + 19;
        let csrf = body[at..].split('"').next().unwrap_or("").to_owned();
        let email = format!("bench{i}@bench.test");
        let res = http
            .post(format!("{url}/ui/signin"))
            .header(reqwest::header::COOKIE, cookie_header(&jar))
            .form(&[
                ("csrf", csrf.as_str()),
                ("identifier", email.as_str()),
                ("password", password),
            ])
            .send()
            .await?;
        keep_cookies(&mut jar, &res);
        anyhow::ensure!(
            jar.iter().any(|(n, _)| n == "pc_session"),
            "the bench user could not sign in on the pages"
        );
        out.push(Arc::new(tokio::sync::Mutex::new(jar)));
    }
    Ok(out)
}

/// Whole authorization-code flows of signed-in browsers: the authorization request, its
/// continuation on the pages (straight back with a code: the client is first-party), and
/// the code redeemed with its PKCE verifier.
pub(crate) async fn flows(url: &str, id: &str, browsers: Arc<Vec<Browser>>, d: Duration) -> Sample {
    let (http, url, id) = (no_redirects(), url.to_owned(), id.to_owned());
    load::run(browsers.len(), d, move |c, n| {
        let (http, url, id) = (http.clone(), url.clone(), id.clone());
        let jar = Arc::clone(&browsers[c]);
        async move {
            let verifier = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let challenge =
                URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
            let state = format!("s{c}-{n}");
            let query = serde_urlencoded::to_string([
                ("response_type", "code"),
                ("client_id", id.as_str()),
                ("redirect_uri", CALLBACK),
                ("scope", "openid email"),
                ("state", state.as_str()),
                ("nonce", state.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .unwrap_or_default();
            let Ok(res) = http
                .get(format!("{url}/oauth2/authorize?{query}"))
                .send()
                .await
            else {
                return false;
            };
            let Some(next) = location(&res) else {
                return false;
            };
            let mut jar = jar.lock().await;
            let Ok(res) = http
                .get(format!("{url}{next}"))
                .header(reqwest::header::COOKIE, cookie_header(&jar))
                .send()
                .await
            else {
                return false;
            };
            keep_cookies(&mut jar, &res);
            drop(jar);
            let Some(back) = location(&res) else {
                return false;
            };
            let code = back
                .split_once('?')
                .and_then(|(_, q)| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
                .and_then(|q| q.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v));
            let Some(code) = code else { return false };
            http.post(format!("{url}/oauth2/token"))
                .basic_auth(&id, Some(SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}
