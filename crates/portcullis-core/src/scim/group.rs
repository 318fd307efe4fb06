//! A SCIM `Group` is a Portcullis role of the organization: its members are the users who
//! hold the role. The group keeps its `displayName` and `externalId`; the role's name is made
//! from the display name (`Support Team` → `support_team`). The three roles Portcullis itself
//! gives meaning to (`user`, `org_admin`, `system_admin`) cannot be groups: an identity
//! provider cannot make anyone an administrator.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::filter::{get_ci, AttrPath};
use super::patch::Shape;
use super::user::{time, version};
use super::{ScimError, GROUP_SCHEMA};
use crate::identity::RoleName;

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// Identifier.
    pub id: uuid::Uuid,
    /// The organization.
    pub org_id: crate::ids::OrgId,
    /// `displayName` (unique in the organization, ignoring case).
    pub display_name: String,
    /// The role it stands for.
    pub role: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A member: the user's id and `userName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user's id.
    pub id: String,
    /// The user's `userName`.
    pub user_name: String,
}

/// A `Group` as read from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The members' ids, as given.
    pub members: Vec<String>,
}

/// The role a display name stands for: lower case, every run of other characters one `_`.
pub fn role_for(display_name: &str) -> Result<String, ScimError> {
    let mut role = String::new();
    for c in display_name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.') {
            role.push(c);
        } else if !role.ends_with('_') {
            role.push('_');
        }
    }
    let role = role.trim_matches('_').to_owned();
    if RoleName::parse(&role, "displayName").is_err() {
        return Err(ScimError::invalid_value(
            "displayName must name a role: 1 to 64 letters a-z, digits, '-', '.' or '_' once made lower case",
        ));
    }
    if [RoleName::USER, RoleName::ORG_ADMIN, RoleName::SYSTEM_ADMIN].contains(&role.as_str()) {
        return Err(ScimError::invalid_value(&format!(
            "'{role}' is a role Portcullis reserves; a group cannot stand for it"
        )));
    }
    Ok(role)
}

/// Reads a `Group` resource (a create, a replacement, or a PATCH's result).
pub fn read_group(doc: &Value) -> Result<GroupInput, ScimError> {
    if !doc.is_object() {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    }
    let display_name = match get_ci(doc, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 256 => {
            s.trim().to_owned()
        }
        _ => {
            return Err(ScimError::invalid_value(
                "displayName is required (1 to 256 characters)",
            ))
        }
    };
    let external_id = match get_ci(doc, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 1024 => Some(s.clone()),
        _ => return Err(ScimError::invalid_value("externalId must be a string")),
    };
    let members = match get_ci(doc, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| {
                if get_ci(m, "type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.eq_ignore_ascii_case("User"))
                {
                    return Err(ScimError::invalid_value("a group's members are users"));
                }
                match get_ci(m, "value") {
                    Some(Value::String(v)) => Ok(v.clone()),
                    _ => Err(ScimError::invalid_value(
                        "each member needs a value, the user's id",
                    )),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimError::invalid_value("members must be a list")),
    };
    Ok(GroupInput {
        display_name,
        external_id,
        members,
    })
}

/// The `Group` resource. `base` is the organization's SCIM base URL; members are given
/// (none when the caller left them out), each as its user's id and URL, and with its
/// `display` (the user's `userName`) when `names`: the schema returns it on request only, so
/// that a resource reads back exactly as a client wrote it. The version does not depend on
/// `names`.
pub fn render_group(g: &ScimGroup, members: Option<&[Member]>, base: &str, names: bool) -> Value {
    let mut r = Map::new();
    r.insert("schemas".into(), json!([GROUP_SCHEMA]));
    r.insert("id".into(), Value::String(g.id.to_string()));
    if let Some(x) = &g.external_id {
        r.insert("externalId".into(), Value::String(x.clone()));
    }
    r.insert("displayName".into(), Value::String(g.display_name.clone()));
    if let Some(members) = members {
        r.insert(
            "members".into(),
            Value::Array(
                members
                    .iter()
                    // Only what a client sent (a member's name is the user's to read):
                    // a PATCH's result then reads back as it was written.
                    .map(|m| json!({"value": m.id, "$ref": format!("{base}/Users/{}", m.id)}))
                    .collect(),
            ),
        );
    }
    let mut resource = Value::Object(r);
    let version = version(&resource);
    if let (true, Some(members), Some(Value::Array(shown))) =
        (names, members, resource.get_mut("members"))
    {
        for (m, shown) in members.iter().zip(shown.iter_mut()) {
            shown["display"] = Value::String(m.user_name.clone());
        }
    }
    resource["meta"] = json!({
        "resourceType": "Group",
        "created": time(g.created_at),
        "lastModified": time(g.updated_at),
        "location": format!("{base}/Groups/{}", g.id),
        "version": version,
    });
    resource
}

/// What the `Group` schema says of its attributes, for PATCH.
#[derive(Debug, Clone, Copy)]
pub struct GroupShape;

impl Shape for GroupShape {
    fn multi_valued(&self, attr: &AttrPath) -> bool {
        attr.schema.is_none() && attr.name.eq_ignore_ascii_case("members")
    }

    fn read_only(&self, attr: &AttrPath) -> bool {
        attr.schema.is_none()
            && ["id", "meta", "schemas"]
                .iter()
                .any(|n| attr.name.eq_ignore_ascii_case(n))
    }
}

/// Which group attributes compare strings exactly.
pub fn case_exact(path: &AttrPath) -> bool {
    path.schema.is_none()
        && (path.is("id", None)
            || path.is("externalId", None)
            || path.is("members", Some("value"))
            || path.is("members", None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_made_from_display_names_and_reserved_ones_refused() {
        assert_eq!(role_for("Support Team").unwrap(), "support_team");
        assert_eq!(role_for("  R&D / EMEA ").unwrap(), "r_d_emea");
        assert_eq!(role_for("ops.eu-1").unwrap(), "ops.eu-1");
        for bad in ["Org Admin", "system_admin", "USER", "!!!", &"x".repeat(65)] {
            assert_eq!(
                role_for(bad).unwrap_err().scim_type,
                Some("invalidValue"),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_groups_and_refuses_what_is_not_one() {
        let g = read_group(&json!({"displayName": "Ops", "members": [{"value": "a", "type": "User"}, {"value": "b"}]})).unwrap();
        assert_eq!(g.members, ["a", "b"]);
        for bad in [
            json!({}),
            json!({"displayName": ""}),
            json!({"displayName": "Ops", "members": [{"value": "g", "type": "group"}]}),
            json!({"displayName": "Ops", "members": [{"display": "no value"}]}),
            json!({"displayName": "Ops", "members": "a"}),
        ] {
            assert_eq!(
                read_group(&bad).unwrap_err().scim_type,
                Some("invalidValue"),
                "{bad}"
            );
        }
    }
}
