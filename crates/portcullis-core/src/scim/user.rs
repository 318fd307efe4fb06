//! A Portcullis user as a SCIM `User` resource, and back. The account's own fields (email,
//! phone, given and family name, `active`) live in its columns; `userName`, `externalId`
//! and the other attributes the published schema names are kept beside it as sent
//! ([`ScimAttributes`]). Attributes the schema does not name are ignored, as are `id`,
//! `meta`, `groups` and `password` (SCIM users sign in by code, passkey or upstream
//! provider, or set a password by a reset).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::filter::{get_ci, AttrPath, CompareOp, Filter};
use super::group::ScimGroup;
use super::patch::Shape;
use super::query::{ScimColumn, ScimCond, ScimValue};
use super::{ScimError, ENTERPRISE_SCHEMA, USER_SCHEMA};
use crate::identity::{Email, PersonName, Phone};
use crate::model::User;

/// The simple string attributes of the core schema kept as sent.
pub const STRINGS: [&str; 8] = [
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
];
/// The sub-attributes of `name` kept as sent (given and family names are the account's).
pub const NAME_PARTS: [&str; 4] = [
    "formatted",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
/// The enterprise extension's string attributes.
pub const ENTERPRISE_STRINGS: [&str; 5] = [
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];
/// The longest string value kept.
const MAX_STRING: usize = 1024;
/// The most emails or phone numbers kept.
const MAX_LIST: usize = 20;

/// What is kept of a SCIM user beyond the account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScimAttributes {
    /// `userName`, when SCIM set it.
    pub user_name: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The other attributes, in their SCIM shape (`displayName`, `emails`, the enterprise
    /// extension...).
    pub data: Map<String, Value>,
}

/// A `User` resource as read from a request.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInput {
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The account's email: the primary one, else the work one, else the first.
    pub email: Option<Email>,
    /// The account's phone: the first (primary first) that is an E.164 number.
    pub phone: Option<Phone>,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// `active` (true when not given).
    pub active: bool,
    /// The rest, normalised.
    pub data: Map<String, Value>,
}

impl UserInput {
    /// What is kept beside the account.
    pub fn attributes(&self) -> ScimAttributes {
        ScimAttributes {
            user_name: Some(self.user_name.clone()),
            external_id: self.external_id.clone(),
            data: self.data.clone(),
        }
    }
}

fn text(v: &Value, field: &str) -> Result<String, ScimError> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_STRING => Ok(s.clone()),
        Value::String(_) => Err(ScimError::invalid_value(&format!("{field} is too long"))),
        _ => Err(ScimError::invalid_value(&format!(
            "{field} must be a string"
        ))),
    }
}

/// A boolean, or a string boolean as Entra ID sends (`"True"`, `"false"`).
pub fn boolean(v: &Value, field: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(&format!(
            "{field} must be true or false"
        ))),
    }
}

/// A list of `{value, type, primary, display}`, normalised; at most one primary.
fn multi(v: Option<&Value>, field: &str) -> Result<Vec<Map<String, Value>>, ScimError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_value(&format!("{field} must be a list"))),
    };
    if items.len() > MAX_LIST {
        return Err(ScimError::invalid_value(&format!(
            "{field} has too many values"
        )));
    }
    let mut out = Vec::new();
    for item in items {
        let mut m = Map::new();
        let value = get_ci(item, "value")
            .ok_or_else(|| ScimError::invalid_value(&format!("each of {field} needs a value")))?;
        m.insert("value".into(), Value::String(text(value, field)?));
        for k in ["type", "display"] {
            if let Some(v) = get_ci(item, k).filter(|v| !v.is_null()) {
                m.insert(k.into(), Value::String(text(v, field)?));
            }
        }
        if let Some(p) = get_ci(item, "primary").filter(|v| !v.is_null()) {
            m.insert(
                "primary".into(),
                Value::Bool(boolean(p, &format!("{field}.primary"))?),
            );
        }
        out.push(m);
    }
    if out
        .iter()
        .filter(|m| m.get("primary") == Some(&Value::Bool(true)))
        .count()
        > 1
    {
        return Err(ScimError::invalid_value(&format!(
            "only one of {field} may be primary"
        )));
    }
    Ok(out)
}

/// The element the account takes: primary, else of `type`, else the first, that `ok` takes.
fn chosen<'a>(items: &'a [Map<String, Value>], kind: &str) -> impl Iterator<Item = &'a str> {
    let rank = |m: &Map<String, Value>| {
        if m.get("primary") == Some(&Value::Bool(true)) {
            0
        } else if m.get("type").and_then(Value::as_str) == Some(kind) {
            1
        } else {
            2
        }
    };
    let mut sorted: Vec<&Map<String, Value>> = items.iter().collect();
    sorted.sort_by_key(|m| rank(m));
    sorted
        .into_iter()
        .filter_map(|m| m.get("value").and_then(Value::as_str))
}

/// Reads a `User` resource (a create, a replacement, or a PATCH's result).
pub fn read_user(doc: &Value) -> Result<UserInput, ScimError> {
    if !doc.is_object() {
        return Err(ScimError::invalid_syntax("a User must be a JSON object"));
    }
    let user_name = get_ci(doc, "userName")
        .map(|v| text(v, "userName"))
        .transpose()?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let external_id = get_ci(doc, "externalId")
        .filter(|v| !v.is_null())
        .map(|v| text(v, "externalId"))
        .transpose()?;
    let active = match get_ci(doc, "active") {
        None | Some(Value::Null) => true,
        Some(v) => boolean(v, "active")?,
    };
    let mut data = Map::new();
    for k in STRINGS {
        if let Some(v) = get_ci(doc, k).filter(|v| !v.is_null()) {
            data.insert(k.into(), Value::String(text(v, k)?));
        }
    }
    let (mut given_name, mut family_name) = (None, None);
    if let Some(name) = get_ci(doc, "name").filter(|v| !v.is_null()) {
        if !name.is_object() {
            return Err(ScimError::invalid_value("name must be an object"));
        }
        let person = |k: &str| -> Result<Option<String>, ScimError> {
            get_ci(name, k)
                .filter(|v| !v.is_null())
                .map(|v| {
                    let s = text(v, &format!("name.{k}"))?;
                    PersonName::parse(&s, k)
                        .map(|p| p.as_str().to_owned())
                        .map_err(|e| ScimError::invalid_value(&format!("name.{k} {}", e.message)))
                })
                .transpose()
        };
        given_name = person("givenName")?;
        family_name = person("familyName")?;
        let mut parts = Map::new();
        for k in NAME_PARTS {
            if let Some(v) = get_ci(name, k).filter(|v| !v.is_null()) {
                parts.insert(k.into(), Value::String(text(v, &format!("name.{k}"))?));
            }
        }
        if !parts.is_empty() {
            data.insert("name".into(), Value::Object(parts));
        }
    }
    let emails = multi(get_ci(doc, "emails"), "emails")?;
    let email = chosen(&emails, "work")
        .next()
        .map(|value| {
            Email::parse(value, "emails")
                .map_err(|e| ScimError::invalid_value(&format!("emails: '{value}' {}", e.message)))
        })
        .transpose()?;
    for m in &emails {
        if let Some(v) = m.get("value").and_then(Value::as_str) {
            Email::parse(v, "emails")
                .map_err(|e| ScimError::invalid_value(&format!("emails: '{v}' {}", e.message)))?;
        }
    }
    let phones = multi(get_ci(doc, "phoneNumbers"), "phoneNumbers")?;
    let phone = chosen(&phones, "mobile").find_map(|v| Phone::parse(v, "phoneNumbers").ok());
    if !emails.is_empty() {
        data.insert(
            "emails".into(),
            Value::Array(emails.into_iter().map(Value::Object).collect()),
        );
    }
    if !phones.is_empty() {
        data.insert(
            "phoneNumbers".into(),
            Value::Array(phones.into_iter().map(Value::Object).collect()),
        );
    }
    if let Some(ext) = get_ci(doc, ENTERPRISE_SCHEMA).filter(|v| !v.is_null()) {
        if !ext.is_object() {
            return Err(ScimError::invalid_value(
                "the enterprise extension must be an object",
            ));
        }
        let mut e = Map::new();
        for k in ENTERPRISE_STRINGS {
            if let Some(v) = get_ci(ext, k).filter(|v| !v.is_null()) {
                e.insert(k.into(), Value::String(text(v, k)?));
            }
        }
        if let Some(manager) = get_ci(ext, "manager").filter(|v| !v.is_null()) {
            let mut m = Map::new();
            for k in ["value", "$ref", "displayName"] {
                if let Some(v) = get_ci(manager, k).filter(|v| !v.is_null()) {
                    m.insert(k.into(), Value::String(text(v, &format!("manager.{k}"))?));
                }
            }
            if !m.is_empty() {
                e.insert("manager".into(), Value::Object(m));
            }
        }
        if !e.is_empty() {
            data.insert(ENTERPRISE_SCHEMA.into(), Value::Object(e));
        }
    }
    Ok(UserInput {
        user_name,
        external_id,
        email,
        phone,
        given_name,
        family_name,
        active,
        data,
    })
}

/// A SCIM time: RFC 3339, UTC, milliseconds.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `userName` of an account SCIM did not name: its username, email, phone or id.
pub fn user_name_of(user: &User, scim: &ScimAttributes) -> String {
    scim.user_name
        .clone()
        .or_else(|| user.username.clone())
        .or_else(|| user.email.clone())
        .or_else(|| user.phone.clone())
        .unwrap_or_else(|| user.id.to_string())
}

/// The kept list of `attr` with the account's own `value` first and primary when the list
/// lacks it (it was changed outside SCIM).
fn with_account_value(kept: Option<&Value>, account: Option<&str>, kind: &str) -> Option<Value> {
    let mut items: Vec<Value> = kept.and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(own) = account {
        let has = items.iter().any(|i| {
            i.get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(own))
        });
        if !has {
            for i in &mut items {
                if let Some(o) = i.as_object_mut() {
                    o.remove("primary");
                }
            }
            items.insert(0, json!({"value": own, "type": kind, "primary": true}));
        }
    }
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The `User` resource of an account. `base` is the organization's SCIM base URL; `groups`
/// are the organization's groups, of which the user's are those whose role it holds.
pub fn render_user(user: &User, scim: &ScimAttributes, base: &str, groups: &[ScimGroup]) -> Value {
    let location = format!("{base}/Users/{}", user.id);
    let mut r = Map::new();
    let mut schemas = vec![Value::String(USER_SCHEMA.into())];
    if scim.data.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(Value::String(ENTERPRISE_SCHEMA.into()));
    }
    r.insert("schemas".into(), Value::Array(schemas));
    r.insert("id".into(), Value::String(user.id.to_string()));
    if let Some(x) = &scim.external_id {
        r.insert("externalId".into(), Value::String(x.clone()));
    }
    r.insert("userName".into(), Value::String(user_name_of(user, scim)));
    let mut name = scim
        .data
        .get("name")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(g) = &user.first_name {
        name.insert("givenName".into(), Value::String(g.clone()));
    }
    if let Some(f) = &user.last_name {
        name.insert("familyName".into(), Value::String(f.clone()));
    }
    if !name.is_empty() {
        r.insert("name".into(), Value::Object(name));
    }
    for k in STRINGS {
        if let Some(v) = scim.data.get(k) {
            r.insert(k.into(), v.clone());
        }
    }
    r.insert("active".into(), Value::Bool(user.active));
    if let Some(e) = with_account_value(scim.data.get("emails"), user.email.as_deref(), "work") {
        r.insert("emails".into(), e);
    }
    if let Some(p) = with_account_value(
        scim.data.get("phoneNumbers"),
        user.phone.as_deref(),
        "mobile",
    ) {
        r.insert("phoneNumbers".into(), p);
    }
    let member_of: Vec<Value> = groups
        .iter()
        .filter(|g| user.has_role(&g.role))
        .map(|g| {
            json!({"value": g.id.to_string(), "display": g.display_name, "type": "direct",
                   "$ref": format!("{base}/Groups/{}", g.id)})
        })
        .collect();
    if !member_of.is_empty() {
        r.insert("groups".into(), Value::Array(member_of));
    }
    if let Some(ext) = scim.data.get(ENTERPRISE_SCHEMA) {
        r.insert(ENTERPRISE_SCHEMA.into(), ext.clone());
    }
    let mut resource = Value::Object(r);
    let version = version(&resource);
    if let Value::Object(r) = &mut resource {
        r.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": time(user.created_at),
                "lastModified": time(user.updated_at),
                "location": location,
                "version": version,
            }),
        );
    }
    resource
}

/// A resource's version (its ETag): a hash of what it holds, so it changes exactly when a
/// change shows.
pub fn version(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// What the `User` schema says of its attributes, for PATCH.
#[derive(Debug, Clone, Copy)]
pub struct UserShape;

impl Shape for UserShape {
    fn multi_valued(&self, attr: &AttrPath) -> bool {
        attr.schema.is_none()
            && ["emails", "phoneNumbers", "groups"]
                .iter()
                .any(|n| attr.name.eq_ignore_ascii_case(n))
    }

    fn read_only(&self, attr: &AttrPath) -> bool {
        attr.schema.is_none()
            && ["id", "meta", "groups", "schemas"]
                .iter()
                .any(|n| attr.name.eq_ignore_ascii_case(n))
    }
}

/// Which attributes compare strings exactly (RFC 7643's `caseExact`).
pub fn case_exact(path: &AttrPath) -> bool {
    path.schema.is_none()
        && (path.is("id", None) || path.is("externalId", None) || path.is("meta", Some("version")))
}

/// The account column a path names, when one does.
fn column(path: &AttrPath) -> Option<ScimColumn> {
    if path.schema.is_some() {
        return None;
    }
    Some(match () {
        () if path.is("id", None) => ScimColumn::Id,
        () if path.is("userName", None) => ScimColumn::UserName,
        () if path.is("externalId", None) => ScimColumn::ExternalId,
        () if path.is("name", Some("givenName")) => ScimColumn::GivenName,
        () if path.is("name", Some("familyName")) => ScimColumn::FamilyName,
        () if path.is("emails", Some("value")) || path.is("emails", None) => ScimColumn::Email,
        () if path.is("phoneNumbers", Some("value")) || path.is("phoneNumbers", None) => {
            ScimColumn::Phone
        }
        () if path.is("active", None) => ScimColumn::Active,
        () if path.is("meta", Some("created")) => ScimColumn::Created,
        () if path.is("meta", Some("lastModified")) => ScimColumn::LastModified,
        () => return None,
    })
}

/// The store's condition for a filter, and whether it is exact. What the account's columns
/// can answer is exact; anything else becomes a condition that holds for every user the
/// filter could match (at worst all), and the caller filters the candidates exactly.
pub fn condition(filter: &Filter) -> Result<(ScimCond, bool), ScimError> {
    Ok(match filter {
        Filter::And(a, b) => {
            let ((a, ea), (b, eb)) = (condition(a)?, condition(b)?);
            (ScimCond::And(Box::new(a), Box::new(b)), ea && eb)
        }
        Filter::Or(a, b) => {
            let ((a, ea), (b, eb)) = (condition(a)?, condition(b)?);
            (ScimCond::Or(Box::new(a), Box::new(b)), ea && eb)
        }
        Filter::Not(a) => match condition(a)? {
            (c, true) => (ScimCond::Not(Box::new(c)), true),
            (_, false) => (ScimCond::True, false),
        },
        Filter::Present(path) => match column(path) {
            Some(c) => (ScimCond::Present(c), true),
            None => (ScimCond::True, false),
        },
        Filter::Elements { path, filter } => {
            // `emails[value eq "x"]` is `emails.value eq "x"`; other element filters are
            // answered exactly by the caller.
            match &**filter {
                Filter::Compare {
                    path: inner,
                    op,
                    value,
                } if inner.is("value", None) => {
                    let as_sub = AttrPath {
                        sub: Some("value".into()),
                        ..path.clone()
                    };
                    condition(&Filter::Compare {
                        path: as_sub,
                        op: *op,
                        value: value.clone(),
                    })?
                }
                _ => (ScimCond::True, false),
            }
        }
        Filter::Compare { path, op, value } => {
            let Some(col) = column(path) else {
                return Ok((ScimCond::True, false));
            };
            let v = match (col, value) {
                (ScimColumn::Active, v) => ScimValue::Bool(boolean(v, "active").map_err(|_| {
                    ScimError::invalid_filter("active compares with true or false")
                })?),
                (ScimColumn::Created | ScimColumn::LastModified, Value::String(s)) => {
                    ScimValue::Time(
                        DateTime::parse_from_rfc3339(s)
                            .map_err(|_| ScimError::invalid_filter("a time must be RFC 3339"))?
                            .with_timezone(&Utc),
                    )
                }
                (ScimColumn::Created | ScimColumn::LastModified, _) => {
                    return Err(ScimError::invalid_filter("a time must be RFC 3339"))
                }
                (_, Value::String(s)) => ScimValue::Text(s.clone()),
                // `eq null` and numbers on text: exact evaluation decides.
                _ => return Ok((ScimCond::True, false)),
            };
            if matches!(v, ScimValue::Bool(_)) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ScimError::invalid_filter("active compares with eq or ne"));
            }
            (
                ScimCond::Compare {
                    column: col,
                    op: *op,
                    value: v,
                    case_exact: case_exact(path),
                },
                true,
            )
        }
    })
}

/// The column a `sortBy` names, if the store can sort by it.
pub fn sort_column(sort_by: &str) -> Result<Option<ScimColumn>, ScimError> {
    let path = AttrPath::parse(sort_by)
        .map_err(|_| ScimError::invalid_value("sortBy is not an attribute"))?;
    Ok(column(&path).filter(|c| !matches!(c, ScimColumn::Active)))
}

/// Keeps only the attributes asked for (`attributes`), or drops those asked against
/// (`excludedAttributes`); `id`, `schemas` and `meta.resourceType` always stay.
pub fn project(resource: Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(mut r) = resource else {
        return resource;
    };
    let always = |k: &str| ["id", "schemas"].iter().any(|a| a.eq_ignore_ascii_case(k));
    if !attributes.is_empty() {
        let mut out = Map::new();
        for (k, v) in r {
            if always(&k) {
                out.insert(k, v);
                continue;
            }
            let wanted: Vec<&AttrPath> = attributes
                .iter()
                .filter(|a| match &a.schema {
                    Some(s) => s.eq_ignore_ascii_case(&k),
                    None => a.name.eq_ignore_ascii_case(&k),
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            // An extension, or sub-attributes only: keep what was named of it.
            let whole = wanted.iter().any(|a| a.schema.is_none() && a.sub.is_none());
            let names: Vec<&str> = wanted
                .iter()
                .filter_map(|a| {
                    if a.schema.is_some() {
                        Some(a.name.as_str())
                    } else {
                        a.sub.as_deref()
                    }
                })
                .collect();
            out.insert(k, if whole { v } else { keep_subs(v, &names) });
        }
        return Value::Object(out);
    }
    for a in excluded {
        if always(&a.name) {
            continue;
        }
        match (&a.schema, &a.sub) {
            (Some(s), _) => {
                if let Some(key) = r.keys().find(|k| k.eq_ignore_ascii_case(s)).cloned() {
                    if let Some(Value::Object(ext)) = r.get_mut(&key) {
                        ext.retain(|k, _| !k.eq_ignore_ascii_case(&a.name));
                    }
                }
            }
            (None, None) => r.retain(|k, _| !k.eq_ignore_ascii_case(&a.name)),
            (None, Some(sub)) => {
                if let Some(key) = r.keys().find(|k| k.eq_ignore_ascii_case(&a.name)).cloned() {
                    if let Some(v) = r.get_mut(&key) {
                        drop_sub(v, sub);
                    }
                }
            }
        }
    }
    Value::Object(r)
}

fn keep_subs(v: Value, names: &[&str]) -> Value {
    let keep = |o: Map<String, Value>| -> Value {
        Value::Object(
            o.into_iter()
                .filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k)))
                .collect(),
        )
    };
    match v {
        Value::Object(o) => keep(o),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| match i {
                    Value::Object(o) => keep(o),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn drop_sub(v: &mut Value, sub: &str) {
    match v {
        Value::Object(o) => o.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
        Value::Array(items) => {
            for i in items {
                drop_sub(i, sub);
            }
        }
        _ => {}
    }
}

/// Parses a comma-separated `attributes` or `excludedAttributes` list.
pub fn attribute_list(raw: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                // An extension named alone keeps (or drops) it whole.
                if a.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
                    return Ok(AttrPath {
                        schema: None,
                        name: ENTERPRISE_SCHEMA.into(),
                        sub: None,
                    });
                }
                AttrPath::parse(a)
                    .map_err(|_| ScimError::invalid_value(&format!("'{a}' is not an attribute")))
            })
            .collect()
    })
    .unwrap_or_else(|| Ok(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_user_and_takes_the_primary_email_and_the_first_e164_phone() {
        let u = read_user(&json!({
            "schemas": [USER_SCHEMA], "userName": " bjensen@example.com ", "externalId": "00u1",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"},
            "emails": [{"value": "home@example.org", "type": "home"},
                       {"value": "Work@Example.com", "type": "work", "primary": "True"}],
            "phoneNumbers": [{"value": "555-1234", "type": "work"}, {"value": "+15555550100", "type": "mobile"}],
            "active": "False", "title": "Guide", "unknown": 1, "password": "never kept",
            ENTERPRISE_SCHEMA: {"department": "Tours", "manager": {"value": "m1"}}
        }))
        .unwrap();
        assert_eq!(u.user_name, "bjensen@example.com");
        assert_eq!(u.email.unwrap().as_str(), "work@example.com");
        assert_eq!(u.phone.unwrap().as_str(), "+15555550100");
        assert!(!u.active);
        assert_eq!(u.data["emails"][1]["primary"], true);
        assert_eq!(u.data["name"], json!({"formatted": "Ms. Barbara J Jensen"}));
        assert!(!u.data.contains_key("unknown") && !u.data.contains_key("password"));
        assert_eq!(u.data[ENTERPRISE_SCHEMA]["manager"]["value"], "m1");
    }

    #[test]
    fn refuses_bad_users_with_invalid_value() {
        for bad in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": 5}),
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", "emails": [{"value": "not an email"}]}),
            json!({"userName": "a", "emails": [{"value": "a@x.com", "primary": true}, {"value": "b@x.com", "primary": true}]}),
            json!({"userName": "a", "name": {"givenName": "\u{202e}x"}}),
        ] {
            assert_eq!(
                read_user(&bad).unwrap_err().scim_type,
                Some("invalidValue"),
                "{bad}"
            );
        }
        assert_eq!(
            read_user(&json!([1])).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
    }

    #[test]
    fn conditions_are_exact_on_columns_and_wide_elsewhere() {
        let c = |f: &str| condition(&Filter::parse(f).unwrap()).unwrap();
        assert!(c(r#"userName eq "a""#).1);
        assert!(c(r#"emails[value eq "a@x.com"]"#).1);
        assert!(c(r#"meta.lastModified gt "2026-01-01T00:00:00Z" and active eq true"#).1);
        assert!(!c(r#"title eq "a""#).1);
        assert!(matches!(
            c(r#"not (title eq "a")"#),
            (ScimCond::True, false)
        ));
        assert!(condition(&Filter::parse(r#"meta.created gt "yesterday""#).unwrap()).is_err());
        assert!(condition(&Filter::parse("active gt true").unwrap()).is_err());
    }

    #[test]
    fn projection_keeps_or_drops_what_is_named() {
        let r = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a", "title": "t",
                       "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@x.com", "type": "work"}]});
        let only = project(
            r.clone(),
            &attribute_list(Some("userName,name.givenName,emails.value")).unwrap(),
            &[],
        );
        assert_eq!(
            only,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "a",
                                "name": {"givenName": "A"}, "emails": [{"value": "a@x.com"}]})
        );
        let without = project(
            r,
            &[],
            &attribute_list(Some("title,emails.type,id")).unwrap(),
        );
        assert_eq!(without.get("title"), None);
        assert_eq!(without["emails"], json!([{"value": "a@x.com"}]));
        assert_eq!(without["id"], "1");
    }
}
