//! What a SCIM client reads first: `ServiceProviderConfig`, `ResourceTypes` and `Schemas`
//! (RFC 7643 §5-7). The schemas name exactly the attributes Portcullis keeps, so that a
//! client (or a checker filling every attribute) finds each one it writes read back.

use serde_json::{json, Value};

use super::user::{ENTERPRISE_STRINGS, NAME_PARTS, STRINGS};
use super::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `ServiceProviderConfig`. `base` is the organization's SCIM base URL.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/portcullis/portcullis/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A token an organization admin makes at /v1/orgs/{slug}/scim-tokens, sent as a bearer token",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

/// The resource types: `User` (with the enterprise extension) and `Group`.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A user account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A role of the organization; its members hold it",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    mutability: &str,
    uniqueness: &str,
    required: bool,
) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "description": name,
        "required": required, "caseExact": matches!(name, "id" | "externalId"),
        "mutability": mutability, "returned": "default", "uniqueness": uniqueness
    })
}

fn string(name: &str) -> Value {
    attr(name, "string", false, "readWrite", "none", false)
}

fn complex(name: &str, multi: bool, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, "readWrite", "none", false);
    a["subAttributes"] = Value::Array(subs);
    a
}

fn multi_valued(name: &str) -> Value {
    complex(
        name,
        true,
        vec![
            string("value"),
            string("type"),
            string("display"),
            attr("primary", "boolean", false, "readWrite", "none", false),
        ],
    )
}

fn reference(name: &str, to: &str) -> Value {
    let mut r = attr(name, "reference", false, "readWrite", "none", false);
    r["referenceTypes"] = json!([to]);
    r
}

/// Marks an attribute and its sub-attributes read-only.
fn read_only(a: &mut Value) {
    a["mutability"] = json!("readOnly");
    if let Some(subs) = a["subAttributes"].as_array_mut() {
        for s in subs {
            s["mutability"] = json!("readOnly");
        }
    }
}

/// Marks an attribute and its sub-attributes immutable (set once, never changed).
fn immutable_subs(a: &mut Value) {
    if let Some(subs) = a["subAttributes"].as_array_mut() {
        for s in subs {
            s["mutability"] = json!("immutable");
        }
    }
}

/// The schemas: the core `User` and `Group`, and the enterprise extension, as far as
/// Portcullis keeps them.
pub fn schemas(base: &str) -> Vec<Value> {
    let mut user_attrs = vec![
        attr("userName", "string", false, "readWrite", "server", true),
        complex(
            "name",
            false,
            ["givenName", "familyName"]
                .into_iter()
                .chain(NAME_PARTS)
                .map(string)
                .collect(),
        ),
    ];
    user_attrs.extend(STRINGS.into_iter().map(|s| {
        if s == "profileUrl" {
            let mut a = attr(s, "reference", false, "readWrite", "none", false);
            a["referenceTypes"] = json!(["external"]);
            a
        } else {
            string(s)
        }
    }));
    // Required here (RFC 7643 makes it optional): an account is active or not, so a
    // request cannot take the attribute away; one that leaves it out makes an active user.
    user_attrs.push(attr("active", "boolean", false, "readWrite", "none", true));
    user_attrs.push(multi_valued("emails"));
    user_attrs.push(multi_valued("phoneNumbers"));
    let mut groups = complex(
        "groups",
        true,
        vec![
            string("value"),
            string("display"),
            string("type"),
            reference("$ref", "Group"),
        ],
    );
    read_only(&mut groups);
    user_attrs.push(groups);
    let mut manager = complex(
        "manager",
        false,
        vec![string("value"), string("displayName")],
    );
    if let Some(subs) = manager["subAttributes"].as_array_mut() {
        let mut r = attr("$ref", "reference", false, "readWrite", "none", false);
        r["referenceTypes"] = json!(["User"]);
        subs.push(r);
    }
    let mut members = complex(
        "members",
        true,
        vec![string("value"), reference("$ref", "User")],
    );
    immutable_subs(&mut members);
    // The member's userName, on request (`attributes=members.value,members.display`): a
    // group then reads back exactly as a client wrote it.
    if let Some(subs) = members["subAttributes"].as_array_mut() {
        let mut display = string("display");
        display["mutability"] = json!("readOnly");
        display["returned"] = json!("request");
        subs.push(display);
    }
    let mut enterprise: Vec<Value> = ENTERPRISE_STRINGS.into_iter().map(string).collect();
    enterprise.push(manager);
    vec![
        json!({
            "schemas": [SCHEMA_SCHEMA], "id": USER_SCHEMA, "name": "User", "description": "User Account",
            "attributes": user_attrs,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")}
        }),
        json!({
            "schemas": [SCHEMA_SCHEMA], "id": GROUP_SCHEMA, "name": "Group", "description": "Group",
            "attributes": [attr("displayName", "string", false, "readWrite", "server", true), members],
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")}
        }),
        json!({
            "schemas": [SCHEMA_SCHEMA], "id": ENTERPRISE_SCHEMA, "name": "EnterpriseUser",
            "description": "Enterprise User", "attributes": enterprise,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE_SCHEMA}")}
        }),
    ]
}

/// A list answer of `items`, all on one page.
pub fn list(items: &[Value]) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}
