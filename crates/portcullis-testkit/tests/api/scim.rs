//! SCIM 2.0 per organization: tokens, discovery, and users as Okta and Entra ID provision
//! them (lookups before create, PATCH without a path and with string booleans, value
//! filters), lists with filters, paging, sorting and projection, versions, tenant walls
//! and the errors SCIM names.

use portcullis_testkit::api::{
    CreateOrgRequest, CreateScimTokenRequest, ProblemCode, SetHookRequest,
};
use portcullis_testkit::client::{AuditQuery, Client};
use portcullis_testkit::receiver::{free_port, Receiver};
use portcullis_testkit::{both_backends, code_in, Backend, TestServer, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

use crate::code;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client of one organization.
struct Scim {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// An answer: status, `ETag`, `Content-Type` and body.
struct Answer {
    status: u16,
    etag: Option<String>,
    content_type: String,
    body: Value,
}

impl Scim {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let header = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header("etag");
        let content_type = header("content-type").unwrap_or_default();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
        };
        Answer {
            status,
            etag,
            content_type,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body), &[]).await
    }

    async fn patch(&self, id: &str, ops: Value) -> Answer {
        self.call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH], "Operations": ops})),
            &[],
        )
        .await
    }

    /// The users a filter finds (all pages).
    async fn find(&self, filter: &str) -> Vec<Value> {
        let a = self
            .get(&format!("/Users?filter={}&count=200", urlencode(filter)))
            .await;
        assert_eq!(a.status, 200, "{filter}: {}", a.body);
        a.body["Resources"].as_array().cloned().unwrap_or_default()
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A SCIM token of `org`, made by `admin`.
async fn scim(app: &TestServer, admin: &Client, org: &str) -> Scim {
    let made = admin
        .create_scim_token(
            org,
            &CreateScimTokenRequest {
                description: "Okta".into(),
            },
        )
        .await
        .unwrap();
    assert!(made.token.starts_with("pcscim_"), "{}", made.token);
    assert_eq!(made.scim_base_url, format!("{}/scim/v2/{org}", app.url()));
    Scim {
        base: made.scim_base_url,
        token: made.token,
        http: reqwest::Client::new(),
    }
}

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Alice Smith",
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "never kept",
        "active": true
    })
}

fn scim_error(a: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.content_type.starts_with("application/scim+json"),
        "{}",
        a.content_type
    );
    assert_eq!(
        a.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(a.body["status"], status.to_string());
    assert_eq!(a.body["scimType"].as_str(), scim_type, "{}", a.body);
}

async fn scim_tokens_are_shown_once_listed_and_revoked_at_once(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    let listed = admin.scim_tokens("default").await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert!(s.token.starts_with(&listed[0].prefix));
    assert!(!serde_json::to_string(&listed).unwrap().contains(&s.token));
    let spc = s.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert!(spc.content_type.starts_with("application/scim+json"));
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 200);
    let types = s.get("/ResourceTypes").await;
    assert_eq!(
        types.body["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    assert_eq!(
        s.get("/ResourceTypes/User").await.body["endpoint"],
        "/Users"
    );
    let schemas = s.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3);
    assert_eq!(types.body["totalResults"], 2);
    assert_eq!(
        s.get(&format!("/Schemas/{USER}")).await.body["name"],
        "User"
    );
    scim_error(&s.get("/Schemas/urn:nothing").await, 404, None);
    scim_error(&s.get("/Widgets").await, 404, None);
    scim_error(&s.get("/Users/a/b").await, 404, None);
    scim_error(
        &s.post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await,
        501,
        None,
    );
    let groups = s
        .post(
            "/Groups/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 1}),
        )
        .await;
    assert_eq!(
        (groups.status, &groups.body["totalResults"]),
        (200, &json!(0))
    );

    // Not an admin, a bad description, an unknown token.
    let (_, member) = app.signed_in("ann@example.com").await;
    assert_eq!(
        code(
            member
                .create_scim_token(
                    "default",
                    &CreateScimTokenRequest {
                        description: "x".into()
                    }
                )
                .await
        ),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(
            admin
                .create_scim_token(
                    "default",
                    &CreateScimTokenRequest {
                        description: " ".into()
                    }
                )
                .await
        ),
        ProblemCode::ValidationFailed
    );
    assert_eq!(
        code(
            admin
                .revoke_scim_token("default", uuid::Uuid::now_v7())
                .await
        ),
        ProblemCode::NotFound
    );

    admin
        .revoke_scim_token("default", listed[0].id)
        .await
        .unwrap();
    let refused = s.get("/Users").await;
    scim_error(&refused, 401, None);
    let no_token = Scim {
        token: "pcscim_nothing".into(),
        ..s
    };
    scim_error(&no_token.get("/ServiceProviderConfig").await, 401, None);
    let kinds: Vec<String> = admin
        .audit_events(&AuditQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"scim_token.created".into())
            && kinds.contains(&"scim_token.revoked".into())
    );
}

async fn okta_looks_a_user_up_creates_it_and_the_user_signs_in_by_code(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    let alice = "alice@example.com";
    assert!(s.find(&format!("userName eq \"{alice}\"")).await.is_empty());
    let made = s.post("/Users", okta_user(alice)).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["userName"], alice);
    assert_eq!(
        made.body["meta"]["location"],
        format!("{}/Users/{id}", s.base)
    );
    assert_eq!(made.etag.as_deref(), made.body["meta"]["version"].as_str());
    assert_eq!(made.body.get("password"), None);
    // Okta looks up by userName, ignoring case, before it creates.
    let found = s
        .find(&format!("userName eq \"{}\"", alice.to_uppercase()))
        .await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id.as_str());
    let read = s.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body, made.body);
    // The same userName, or the same address, again: 409 uniqueness.
    scim_error(
        &s.post("/Users", okta_user(alice)).await,
        409,
        Some("uniqueness"),
    );
    let mut other = okta_user("other@example.com");
    other["emails"][0]["value"] = json!(alice);
    scim_error(&s.post("/Users", other).await, 409, Some("uniqueness"));
    // Nor the address an account that registered itself answers to as its userName.
    app.user("taken@example.com").await;
    let mut other = okta_user("taken@example.com");
    other["emails"][0]["value"] = json!("someone-else@example.com");
    scim_error(&s.post("/Users", other).await, 409, Some("uniqueness"));
    let rename = s
        .patch(
            &id,
            json!([{"op": "replace", "path": "userName", "value": "TAKEN@example.com"}]),
        )
        .await;
    scim_error(&rename, 409, Some("uniqueness"));
    let same = s
        .patch(
            &id,
            json!([{"op": "replace", "path": "userName", "value": "Alice@Example.com"}]),
        )
        .await;
    assert_eq!(
        same.status, 200,
        "its own name, in another case: {}",
        same.body
    );

    // No password: it signs in with a code sent to its address.
    assert!(app.try_login(alice, USER_PASSWORD).await.is_err());
    app.client()
        .request_login_code(&portcullis_testkit::api::CodeRequest {
            email: Some(alice.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let sent = code_in(&app.nth_mail(alice, 1).await.subject);
    let pair = app
        .client()
        .login_with_code(&portcullis_testkit::api::CodeSubmission {
            code: Some(sent),
            email: Some(alice.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pair.user.id.to_string(), id);
    // Audited as an admin's creation, by SCIM.
    let events = admin
        .audit_events(&AuditQuery {
            kind: Some("admin.user_created".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert!(events.iter().any(
        |e| e.details["via"] == "scim" && e.user_id.map(|u| u.to_string()) == Some(id.clone())
    ));
}

async fn entra_id_patches_without_a_path_with_string_booleans_and_value_filters(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    // An account that registered itself: SCIM finds it by its address.
    let (pair, _) = app.signed_in("bob@example.com").await;
    let found = s.find("userName eq \"bob@example.com\"").await;
    let id = found[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, pair.user.id.to_string());
    let a = s
        .patch(
            &id,
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "robert@example.com"},
                {"op": "Add", "value": {"name.givenName": "Robert", "externalId": "e-42",
                                        ENTERPRISE: {"department": "Ops"}}},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701"}
            ]),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["emails"][0]["value"], "robert@example.com");
    assert_eq!(a.body["name"]["givenName"], "Robert");
    assert_eq!(a.body["externalId"], "e-42");
    assert_eq!(
        a.body[ENTERPRISE],
        json!({"department": "Ops", "employeeNumber": "701"})
    );
    assert_eq!(a.body["schemas"], json!([USER, ENTERPRISE]));
    let user = admin.get_user(pair.user.id).await.unwrap();
    assert_eq!(user.email.as_deref(), Some("robert@example.com"));
    assert!(!user.email_verified, "a new address is not proven");
    assert_eq!(s.find("externalId eq \"e-42\"").await.len(), 1);
    assert!(
        s.find("externalId eq \"E-42\"").await.is_empty(),
        "externalId is case-exact"
    );

    // Entra ID deactivates with a string boolean and no path: every session ends at once.
    let a = s
        .patch(
            &id,
            json!([{"op": "Replace", "value": {"active": "False"}}]),
        )
        .await;
    assert_eq!(
        (a.status, &a.body["active"]),
        (200, &json!(false)),
        "{}",
        a.body
    );
    let me = app.client().with_token(&pair.access_token);
    assert_eq!(code(me.me().await), ProblemCode::TokenInvalid);
    assert!(app
        .try_login("robert@example.com", USER_PASSWORD)
        .await
        .is_err());
    assert_eq!(s.find("active eq false").await.len(), 1);
    let a = s
        .patch(
            &id,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(a.body["active"], true);
    app.try_login("robert@example.com", USER_PASSWORD)
        .await
        .unwrap();

    // Errors PATCH names.
    scim_error(
        &s.patch(&id, json!([{"op": "remove"}])).await,
        400,
        Some("noTarget"),
    );
    scim_error(
        &s.patch(&id, json!([{"op": "replace", "path": "id", "value": "x"}]))
            .await,
        400,
        Some("mutability"),
    );
    scim_error(
        &s.patch(
            &id,
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        )
        .await,
        400,
        Some("invalidPath"),
    );
    scim_error(
        &s.patch(
            &id,
            json!([{"op": "replace", "path": "userName", "value": ""}]),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &s.patch(
            &id,
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    let no_schema = s
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": []})),
            &[],
        )
        .await;
    scim_error(&no_schema, 400, Some("invalidSyntax"));
}

async fn lists_filter_sort_page_and_project(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    for i in 0..23 {
        let mut u = okta_user(&format!(
            "u{i:02}@{}.example",
            if i % 2 == 0 { "even" } else { "odd" }
        ));
        u["title"] = json!(if i % 3 == 0 { "Guide" } else { "Clerk" });
        u["externalId"] = json!(format!("x{i:02}"));
        assert_eq!(s.post("/Users", u).await.status, 201);
    }
    let ids = |v: &[Value]| {
        v.iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(s.find("userName sw \"u1\"").await.len(), 10);
    assert_eq!(s.find("emails co \"@odd.\"").await.len(), 11);
    assert_eq!(s.find("emails[value ew \"even.example\"]").await.len(), 12);
    assert_eq!(
        s.find("userName sw \"u1\" and not (emails co \"odd\")")
            .await
            .len(),
        5
    );
    assert_eq!(
        s.find("externalId eq \"x03\" or externalId eq \"x04\"")
            .await
            .len(),
        2
    );
    // Attributes without a column are filtered exactly too.
    assert_eq!(s.find("title eq \"guide\"").await.len(), 8);
    assert_eq!(
        s.find("title eq \"Guide\" and userName sw \"u0\"")
            .await
            .len(),
        4
    );
    assert_eq!(
        s.find("emails[type eq \"work\" and value sw \"u22\"]")
            .await
            .len(),
        1
    );
    assert_eq!(
        s.find("meta.created gt \"2000-01-01T00:00:00Z\" and displayName pr")
            .await
            .len(),
        23
    );

    // Paging: every user once, in order, across pages of 5.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = s
            .get(&format!(
                "/Users?filter={}&startIndex={start}&count=5&sortBy=userName",
                urlencode("userName sw \"u\"")
            ))
            .await;
        assert_eq!(page.body["totalResults"], 23);
        assert_eq!(page.body["startIndex"], start);
        let got = page.body["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        assert_eq!(page.body["itemsPerPage"], got.len());
        seen.extend(ids(&got));
        start += 5;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!((seen.len(), &seen), (23, &sorted));
    let desc = s
        .get("/Users?sortBy=userName&sortOrder=descending&count=2&filter=userName%20sw%20%22u%22")
        .await;
    assert_eq!(
        ids(desc.body["Resources"].as_array().unwrap()),
        ["u22@even.example", "u21@odd.example"]
    );
    let counted = s.get("/Users?count=0").await;
    assert_eq!(counted.body["totalResults"], 24, "the admin and 23");
    assert_eq!(counted.body["Resources"], json!([]));

    // Projection.
    let only = s
        .get("/Users?filter=userName%20eq%20%22u01@odd.example%22&attributes=userName,emails.value")
        .await;
    let r = &only.body["Resources"][0];
    assert_eq!(r["emails"], json!([{"value": "u01@odd.example"}]));
    assert!(r.get("name").is_none() && r.get("meta").is_none() && r["id"].is_string());
    let without = s
        .get("/Users?filter=userName%20eq%20%22u01@odd.example%22&excludedAttributes=emails,title")
        .await;
    let r = &without.body["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("title").is_none() && r["userName"].is_string());

    // A search by POST takes the same parameters.
    let searched = s
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "title eq \"Guide\"", "startIndex": 1, "count": 3, "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(
        (searched.status, searched.body["totalResults"].as_u64()),
        (200, Some(8))
    );
    assert_eq!(searched.body["Resources"].as_array().unwrap().len(), 3);

    for bad in [
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "active gt true",
        "meta.created gt \"yesterday\"",
    ] {
        scim_error(
            &s.get(&format!("/Users?filter={}", urlencode(bad))).await,
            400,
            Some("invalidFilter"),
        );
    }
    scim_error(&s.get("/Users?count=many").await, 400, Some("invalidValue"));
}

async fn put_replaces_and_versions_guard_changes(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    let made = s.post("/Users", okta_user("carol@example.com")).await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    let v1 = made.etag.clone().unwrap();
    let unchanged = s
        .call(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &v1)],
        )
        .await;
    assert_eq!(unchanged.status, 304);
    let mut replaced = okta_user("carol@example.com");
    replaced["nickName"] = json!("Caz");
    replaced.as_object_mut().unwrap().remove("displayName");
    let a = s
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(replaced.clone()),
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["nickName"], "Caz");
    assert_eq!(a.body.get("displayName"), None, "PUT replaces");
    let v2 = a.etag.unwrap();
    assert_ne!(v1, v2);
    // The first version is stale now.
    let stale = s
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(replaced),
            &[("if-match", &v1)],
        )
        .await;
    scim_error(&stale, 412, None);
    let stale = s
        .call(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", &v1)],
        )
        .await;
    scim_error(&stale, 412, None);
    let gone = s
        .call(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", &v2)],
        )
        .await;
    assert_eq!(gone.status, 204);
    scim_error(&s.get(&format!("/Users/{id}")).await, 404, None);
    scim_error(
        &s.call(Method::DELETE, &format!("/Users/{id}"), None, &[])
            .await,
        404,
        None,
    );
    scim_error(&s.get("/Users/not-an-id").await, 404, None);

    // Bodies that are not a User.
    scim_error(
        &s.post("/Users", json!({"schemas": [USER]})).await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &s.post(
            "/Users",
            json!({"userName": "d@example.com", "emails": [{"value": "no"}]}),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    let not_json = s
        .http
        .post(format!("{}/Users", s.base))
        .bearer_auth(&s.token)
        .header("content-type", "application/scim+json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let text = s
        .http
        .post(format!("{}/Users", s.base))
        .bearer_auth(&s.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let mut huge = okta_user("huge@example.com");
    huge["title"] = json!("x".repeat(70 * 1024));
    scim_error(&s.post("/Users", huge).await, 413, None);
}

async fn a_token_reaches_only_its_organization(app: TestServer) {
    let admin = app.admin().await;
    admin
        .create_org(&CreateOrgRequest {
            slug: "acme".into(),
            name: "Acme".into(),
            policy: None,
        })
        .await
        .unwrap();
    let ours = scim(&app, &admin, "default").await;
    let theirs = scim(&app, &admin, "acme").await;
    let dana = theirs.post("/Users", okta_user("dana@acme.test")).await;
    assert_eq!(dana.status, 201);
    let id = dana.body["id"].as_str().unwrap();
    // Through our base: no such user. Our token at their base: refused.
    scim_error(&ours.get(&format!("/Users/{id}")).await, 404, None);
    scim_error(
        &ours
            .patch(
                id,
                json!([{"op": "replace", "path": "active", "value": false}]),
            )
            .await,
        404,
        None,
    );
    scim_error(
        &ours
            .call(Method::DELETE, &format!("/Users/{id}"), None, &[])
            .await,
        404,
        None,
    );
    assert!(ours.find("userName eq \"dana@acme.test\"").await.is_empty());
    let crossing = Scim {
        base: theirs.base.clone(),
        token: ours.token.clone(),
        http: reqwest::Client::new(),
    };
    scim_error(&crossing.get("/Users").await, 401, None);
    // The same userName may exist in each organization.
    assert_eq!(
        ours.post("/Users", okta_user("dana@acme.test"))
            .await
            .status,
        201
    );
}

async fn groups_are_roles_their_members_hold(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    let mut ids = Vec::new();
    for name in ["ga@example.com", "gb@example.com"] {
        ids.push(
            s.post("/Users", okta_user(name)).await.body["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A user who signs in with a password, to see its roles change at once.
    let (pair, me) = app.signed_in("gc@example.com").await;
    let gc = pair.user.id.to_string();
    let made = s
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Support Team",
                   "externalId": "okta-g1", "members": [{"value": ids[0]}, {"value": ids[1], "type": "User"}]}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let gid = made.body["id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        made.body["meta"]["location"],
        format!("{}/Groups/{gid}", s.base)
    );
    let user = admin.get_user(ids[0].parse().unwrap()).await.unwrap();
    assert!(
        user.roles.iter().any(|r| r.name == "support_team"),
        "{:?}",
        user.roles
    );
    let a = s.get(&format!("/Users/{}", ids[0])).await;
    assert_eq!(a.body["groups"][0]["value"], gid.as_str());
    assert_eq!(a.body["groups"][0]["display"], "Support Team");
    let found = s
        .get("/Groups?filter=displayName%20eq%20%22support%20team%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(
        s.get("/Groups?filter=externalId%20eq%20%22okta-g1%22")
            .await
            .body["totalResults"],
        1
    );
    let named = s
        .get(&format!(
            "/Groups/{gid}?attributes=displayName,members.value,members.display"
        ))
        .await;
    let names: Vec<&str> = named.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"ga@example.com") && names.contains(&"gb@example.com"),
        "{names:?}"
    );
    assert_eq!(
        named.etag, made.etag,
        "the version does not depend on what is shown"
    );
    assert!(
        made.body["members"][0].get("display").is_none(),
        "on request only"
    );
    let bare = s
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert!(bare.body.get("members").is_none() && bare.body["displayName"] == "Support Team");

    // Entra ID adds and removes members by value; the roles change at once.
    let path = format!("/Groups/{gid}");
    let patch = |ops: Value| {
        s.call(
            Method::PATCH,
            &path,
            Some(json!({"schemas": [PATCH], "Operations": ops})),
            &[],
        )
    };
    let a = patch(json!([{"op": "Add", "path": "members", "value": [{"value": gc}]}])).await;
    assert_eq!(a.body["members"].as_array().unwrap().len(), 3, "{}", a.body);
    assert!(me
        .me()
        .await
        .unwrap()
        .roles
        .iter()
        .any(|r| r.name == "support_team"));
    let a = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}])).await;
    assert_eq!(a.body["members"].as_array().unwrap().len(), 2);
    let a =
        patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}])).await;
    assert_eq!(
        a.body["members"],
        json!([{"value": gc, "$ref": format!("{}/Users/{gc}", s.base)}])
    );
    // A new name moves the role.
    let a = patch(json!([{"op": "replace", "value": {"displayName": "Support EMEA"}}])).await;
    assert_eq!(a.body["displayName"], "Support EMEA");
    let roles: Vec<String> = me
        .me()
        .await
        .unwrap()
        .roles
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(
        roles.contains(&"support_emea".into()) && !roles.contains(&"support_team".into()),
        "{roles:?}"
    );
    // PUT names exactly the members.
    let put = s
        .call(
            Method::PUT,
            &format!("/Groups/{gid}"),
            Some(json!({"displayName": "Support EMEA", "members": [{"value": ids[0]}]})),
            &[],
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["members"][0]["value"], ids[0].as_str());
    assert!(!me
        .me()
        .await
        .unwrap()
        .roles
        .iter()
        .any(|r| r.name == "support_emea"));

    // What a group cannot be.
    let group = |name: &str, members: Value| json!({"displayName": name, "members": members});
    scim_error(
        &s.post("/Groups", group("Org Admin", json!([]))).await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &s.post("/Groups", group("support emea", json!([]))).await,
        409,
        Some("uniqueness"),
    );
    scim_error(
        &s.post(
            "/Groups",
            group(
                "Sales",
                json!([{"value": uuid::Uuid::now_v7().to_string()}]),
            ),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &s.post("/Groups", group("Sales", json!([{"value": gid}])))
            .await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &s.post("/Groups", json!({"members": []})).await,
        400,
        Some("invalidValue"),
    );

    let gone = s
        .call(Method::DELETE, &format!("/Groups/{gid}"), None, &[])
        .await;
    assert_eq!(gone.status, 204);
    scim_error(&s.get(&format!("/Groups/{gid}")).await, 404, None);
    let user = admin.get_user(ids[0].parse().unwrap()).await.unwrap();
    assert!(!user.roles.iter().any(|r| r.name == "support_emea"));
    for kind in [
        "scim_group.created",
        "scim_group.updated",
        "scim_group.deleted",
    ] {
        let events = admin
            .audit_events(&AuditQuery {
                kind: Some(kind.into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .items;
        assert!(!events.is_empty(), "{kind}");
    }
}

async fn before_user_created_is_asked_for_scim_users(app: TestServer) {
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    let port = free_port();
    let secret = admin
        .set_hook(
            "default",
            "before_user_created",
            &SetHookRequest {
                url: Some(format!("http://127.0.0.1:{port}/")),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .secret
        .unwrap();
    let mut r = Receiver::start(
        port,
        &secret,
        json!({"answer": {"decision": "deny", "message": "Contractors are not provisioned."}}),
    )
    .await;
    let refused = s.post("/Users", okta_user("contractor@example.com")).await;
    scim_error(&refused, 403, None);
    assert_eq!(refused.body["detail"], "Contractors are not provisioned.");
    let asked = r.next_verified().await;
    assert_eq!(asked["payload"]["data"]["source"], "scim");
    assert_eq!(asked["payload"]["data"]["email"], "contractor@example.com");
    assert!(s
        .find("userName eq \"contractor@example.com\"")
        .await
        .is_empty());
    r.stop().await;
}

async fn racing_creates_of_one_user_make_one(app: TestServer) {
    let admin = app.admin().await;
    let s = std::sync::Arc::new(scim(&app, &admin, "default").await);
    let tries: Vec<_> = (0..8)
        .map(|i| {
            let s = std::sync::Arc::clone(&s);
            tokio::spawn(async move {
                // The same userName each time, in any case; a fresh address each time.
                let mut u = okta_user(if i % 2 == 0 {
                    "race@example.com"
                } else {
                    "RACE@example.com"
                });
                u["emails"][0]["value"] = json!(format!("race{i}@example.com"));
                s.post("/Users", u).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(s.find("userName eq \"race@example.com\"").await.len(), 1);
}

async fn paging_walks_through_many_users_once_each(app: TestServer) {
    let admin = app.admin().await;
    let s = std::sync::Arc::new(scim(&app, &admin, "default").await);
    let made: Vec<_> = (0..10)
        .map(|t| {
            let s = std::sync::Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..25 {
                    let a = s
                        .post(
                            "/Users",
                            okta_user(&format!("many{t:02}-{i:02}@example.com")),
                        )
                        .await;
                    assert_eq!(a.status, 201, "{}", a.body);
                }
            })
        })
        .collect();
    for m in made {
        m.await.unwrap();
    }
    // More than a page may hold: 200 at most, whatever is asked.
    let big = s
        .get("/Users?filter=userName%20sw%20%22many%22&count=500")
        .await;
    assert_eq!(big.body["totalResults"], 250);
    assert_eq!(big.body["itemsPerPage"], 200);
    let mut seen = std::collections::BTreeSet::new();
    let mut start = 1;
    while start <= 250 {
        let page = s
            .get(&format!(
                "/Users?filter=userName%20sw%20%22many%22&startIndex={start}&count=100"
            ))
            .await;
        assert_eq!(page.body["totalResults"], 250);
        for r in page.body["Resources"].as_array().unwrap() {
            assert!(
                seen.insert(r["id"].as_str().unwrap().to_owned()),
                "a user twice"
            );
        }
        start += 100;
    }
    assert_eq!(seen.len(), 250);
    let past = s
        .get("/Users?filter=userName%20sw%20%22many%22&startIndex=251")
        .await;
    assert_eq!(past.body["Resources"], json!([]));
    assert_eq!(past.body["totalResults"], 250);
}

/// A filter the database cannot answer alone is decided on at most `scim_max_candidates`
/// users; past that it is refused with `tooMany`, while a filter on a column still answers.
async fn a_filter_that_would_weigh_too_many_users_is_refused(backend: Backend) {
    let Some(app) = TestServer::spawn_with(backend, |c| c.scim_max_candidates = 5).await else {
        return;
    };
    let admin = app.admin().await;
    let s = scim(&app, &admin, "default").await;
    for i in 0..6 {
        assert_eq!(
            s.post("/Users", okta_user(&format!("w{i}@example.com")))
                .await
                .status,
            201
        );
    }
    let refused = s.get("/Users?filter=title%20pr").await;
    scim_error(&refused, 400, Some("tooMany"));
    // Narrowed by a column first, the same attribute is fine.
    assert!(
        s.find("userName eq \"w1@example.com\" and displayName pr")
            .await
            .len()
            == 1
    );
    assert_eq!(s.find("userName sw \"w\"").await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_filter_that_would_weigh_too_many_users_is_refused() {
    a_filter_that_would_weigh_too_many_users_is_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_filter_that_would_weigh_too_many_users_is_refused() {
    a_filter_that_would_weigh_too_many_users_is_refused(Backend::Postgres).await;
}

both_backends!(
    paging_walks_through_many_users_once_each,
    racing_creates_of_one_user_make_one,
    before_user_created_is_asked_for_scim_users,
    groups_are_roles_their_members_hold,
    scim_tokens_are_shown_once_listed_and_revoked_at_once,
    okta_looks_a_user_up_creates_it_and_the_user_signs_in_by_code,
    entra_id_patches_without_a_path_with_string_booleans_and_value_filters,
    lists_filter_sort_page_and_project,
    put_replaces_and_versions_guard_changes,
    a_token_reaches_only_its_organization,
);
