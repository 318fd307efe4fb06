//! SCIM PATCH (RFC 7644 §3.5.2): `add`, `remove` and `replace`, with or without a `path`,
//! applied to a resource's JSON. The result is then read as a whole resource, as a PUT is,
//! so one set of rules decides what a resource may hold.
//!
//! Lenient where the big providers are known to differ from the RFC: operation names in any
//! case (`Replace`), dotted attribute names in a path-less value (`{"name.givenName": ..}`),
//! a `replace` or `add` through a filter that matches nothing adds the element the filter
//! describes (Entra ID's `emails[type eq "work"].value`), and a `remove` of members by value.

use serde_json::{Map, Value};

use super::filter::{get_ci, AttrPath, CompareOp, Filter};
use super::{ScimError, PATCH_SCHEMA};

/// The most operations one request may carry.
const MAX_OPERATIONS: usize = 1000;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Add values.
    Add,
    /// Remove values.
    Remove,
    /// Replace values.
    Replace,
}

/// Where an operation applies: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (its `sub` is the sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// Which elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute of the elements the filter selects.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a path. A schema URN alone names that extension's attributes as a whole.
    pub fn parse(raw: &str, extensions: &[&str]) -> Result<Self, ScimError> {
        let raw = raw.trim();
        if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(raw)) {
            return Ok(Self {
                attr: AttrPath {
                    schema: None,
                    name: (*ext).to_owned(),
                    sub: None,
                },
                filter: None,
                sub: None,
            });
        }
        let Some(open) = raw.find('[') else {
            return Ok(Self {
                attr: AttrPath::parse(raw)?,
                filter: None,
                sub: None,
            });
        };
        let close = raw
            .rfind(']')
            .filter(|c| *c > open)
            .ok_or_else(|| ScimError::invalid_path("a '[' is not closed"))?;
        let attr = AttrPath::parse(&raw[..open])?;
        if attr.sub.is_some() {
            return Err(ScimError::invalid_path(
                "a filter follows an attribute, not a sub-attribute",
            ));
        }
        let filter =
            Filter::parse(&raw[open + 1..close]).map_err(|e| ScimError::invalid_path(&e.detail))?;
        let rest = &raw[close + 1..];
        let sub = match rest.strip_prefix('.') {
            Some(s)
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '$') =>
            {
                Some(s.to_owned())
            }
            None if rest.is_empty() => None,
            _ => {
                return Err(ScimError::invalid_path(
                    "only a sub-attribute may follow a filter",
                ))
            }
        };
        Ok(Self {
            attr,
            filter: Some(filter),
            sub,
        })
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What it does.
    pub op: OpKind,
    /// Where (none: the value is a set of attributes).
    pub path: Option<PatchPath>,
    /// The value (none for most removals).
    pub value: Option<Value>,
}

/// Reads a PATCH request body: the PatchOp schema and its `Operations`.
pub fn parse_request(body: &Value, extensions: &[&str]) -> Result<Vec<PatchOp>, ScimError> {
    let schemas_ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|v| {
                v.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(&format!(
            "schemas must hold {PATCH_SCHEMA}"
        )));
    }
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be a list of operations"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::status(413, "too many operations in one request"));
    }
    ops.iter()
        .map(|o| {
            let op = match get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("remove") => OpKind::Remove,
                Some("replace") => OpKind::Replace,
                _ => {
                    return Err(ScimError::invalid_syntax(
                        "op must be add, remove or replace",
                    ))
                }
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(PatchPath::parse(p, extensions)?),
                Some(_) => return Err(ScimError::invalid_path("path must be a string")),
            };
            let value = get_ci(o, "value").cloned().filter(|v| !v.is_null());
            if op != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value("add and replace need a value"));
            }
            if op == OpKind::Remove && path.is_none() {
                return Err(ScimError::no_target("remove needs a path"));
            }
            if path.is_none() && !value.as_ref().is_some_and(Value::is_object) {
                return Err(ScimError::invalid_value(
                    "without a path, the value must be an object of attributes",
                ));
            }
            Ok(PatchOp { op, path, value })
        })
        .collect()
}

/// What the resource's schema says of an attribute.
pub trait Shape {
    /// Whether the attribute (by path, without sub-attribute) holds a list.
    fn multi_valued(&self, attr: &AttrPath) -> bool;
    /// Whether the attribute can never be written (`id`, `meta`...).
    fn read_only(&self, attr: &AttrPath) -> bool;
}

/// Applies `ops` to `resource` (a JSON object), in order.
pub fn apply(resource: &mut Value, ops: &[PatchOp], shape: &dyn Shape) -> Result<(), ScimError> {
    for op in ops {
        match &op.path {
            Some(path) => apply_at(resource, op.op, path, op.value.as_ref(), shape)?,
            None => {
                let Some(Value::Object(attrs)) = &op.value else {
                    return Err(ScimError::invalid_value("the value must be an object"));
                };
                for (key, value) in attrs {
                    let path = PatchPath::parse(key, &[super::ENTERPRISE_SCHEMA])?;
                    if shape.read_only(&path.attr) {
                        // A resource sent back whole names its id and meta: not a change.
                        continue;
                    }
                    if path
                        .attr
                        .name
                        .eq_ignore_ascii_case(super::ENTERPRISE_SCHEMA)
                    {
                        // An extension's attributes, each added or replaced on its own.
                        let Value::Object(inner) = value else {
                            return Err(ScimError::invalid_value(
                                "an extension's value must be an object",
                            ));
                        };
                        for (k, v) in inner {
                            let p = PatchPath::parse(
                                &format!("{}:{k}", super::ENTERPRISE_SCHEMA),
                                &[],
                            )?;
                            apply_at(resource, op.op, &p, Some(v), shape)?;
                        }
                        continue;
                    }
                    apply_at(resource, op.op, &path, Some(value), shape)?;
                }
            }
        }
    }
    Ok(())
}

/// The object holding the path's attribute (the resource, or its extension's object),
/// made when `create`.
fn holder<'a>(
    resource: &'a mut Value,
    attr: &AttrPath,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let root = resource.as_object_mut()?;
    match &attr.schema {
        None => Some(root),
        Some(schema) => {
            let key = key_ci(root, schema).unwrap_or_else(|| schema.clone());
            if !root.contains_key(&key) {
                if !create {
                    return None;
                }
                root.insert(key.clone(), Value::Object(Map::new()));
            }
            root.get_mut(&key)?.as_object_mut()
        }
    }
}

/// The key of `map` that is `name` ignoring case.
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn apply_at(
    resource: &mut Value,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    shape: &dyn Shape,
) -> Result<(), ScimError> {
    if shape.read_only(&path.attr) {
        return Err(ScimError::mutability(&format!(
            "{} cannot be changed",
            path.attr.name
        )));
    }
    let multi = shape.multi_valued(&AttrPath {
        sub: None,
        ..path.attr.clone()
    });
    let create = op != OpKind::Remove;
    let Some(map) = holder(resource, &path.attr, create) else {
        return Ok(());
    };
    let key = key_ci(map, &path.attr.name).unwrap_or_else(|| path.attr.name.clone());
    match (&path.filter, &path.attr.sub) {
        (Some(filter), _) => apply_filtered(map, &key, op, filter, path.sub.as_deref(), value),
        (None, Some(sub)) => {
            if multi {
                // `emails.value` without a filter: every element.
                let Some(Value::Array(items)) = map.get_mut(&key) else {
                    return match op {
                        OpKind::Remove => Ok(()),
                        _ => Err(ScimError::no_target("no element to change")),
                    };
                };
                for item in items.iter_mut() {
                    set_sub(item, sub, op, value);
                }
                return Ok(());
            }
            let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            set_sub(entry, sub, op, value);
            Ok(())
        }
        (None, None) => {
            match op {
                OpKind::Remove => {
                    match (value, map.get_mut(&key)) {
                        // Remove the listed elements (by their `value`), as Entra ID asks
                        // for group members.
                        (Some(v), Some(Value::Array(items))) if multi => {
                            let listed = as_list(v);
                            let gone: Vec<&Value> =
                                listed.iter().filter_map(element_value).collect();
                            items
                                .retain(|i| !element_value(i).is_some_and(|iv| gone.contains(&iv)));
                            if items.is_empty() {
                                map.remove(&key);
                            }
                        }
                        _ => {
                            map.remove(&key);
                        }
                    }
                }
                OpKind::Add if multi => {
                    let list = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    if let (Value::Array(items), Some(v)) = (list, value) {
                        for new in as_list(v) {
                            if !items.contains(&new) {
                                items.push(new);
                            }
                        }
                    }
                }
                OpKind::Replace if multi => {
                    if let Some(v) = value {
                        map.insert(key, Value::Array(as_list(v)));
                    }
                }
                OpKind::Add | OpKind::Replace => {
                    let Some(v) = value else { return Ok(()) };
                    match (map.get_mut(&key), v) {
                        // A complex attribute: the sub-attributes given replace theirs, the
                        // others stay.
                        (Some(Value::Object(have)), Value::Object(new)) => {
                            for (k, nv) in new {
                                let k2 = key_ci(have, k).unwrap_or_else(|| k.clone());
                                have.insert(k2, nv.clone());
                            }
                        }
                        _ => {
                            map.insert(key, v.clone());
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    }
}

fn element_value(v: &Value) -> Option<&Value> {
    match v {
        Value::Object(_) => get_ci(v, "value"),
        one => Some(one),
    }
}

fn set_sub(item: &mut Value, sub: &str, op: OpKind, value: Option<&Value>) {
    let Value::Object(obj) = item else { return };
    let key = key_ci(obj, sub).unwrap_or_else(|| sub.to_owned());
    match (op, value) {
        (OpKind::Remove, _) => {
            obj.remove(&key);
        }
        (_, Some(v)) => {
            obj.insert(key, v.clone());
        }
        (_, None) => {}
    }
}

fn apply_filtered(
    map: &mut Map<String, Value>,
    key: &str,
    op: OpKind,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let exact = |_: &AttrPath| false;
    let list = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Value::Array(items) = list else {
        return Ok(());
    };
    let hits: Vec<usize> = (0..items.len())
        .filter(|i| filter.matches(&items[*i], &exact))
        .collect();
    match (op, sub) {
        (OpKind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !hits.contains(&i);
                i += 1;
                keep
            });
        }
        (OpKind::Remove, Some(sub)) => {
            for i in hits {
                set_sub(&mut items[i], sub, OpKind::Remove, None);
            }
        }
        (_, _) if hits.is_empty() => {
            // Nothing matches: add the element the filter describes, with the value.
            let mut element = described(filter)
                .ok_or_else(|| ScimError::no_target("the filter matches no element"))?;
            match (sub, value) {
                (Some(sub), Some(v)) => {
                    element.insert(sub.to_owned(), v.clone());
                }
                (None, Some(Value::Object(v))) => {
                    for (k, nv) in v {
                        element.insert(k.clone(), nv.clone());
                    }
                }
                _ => return Err(ScimError::invalid_value("the value must be an object")),
            }
            items.push(Value::Object(element));
        }
        (op, Some(sub)) => {
            for i in hits {
                set_sub(&mut items[i], sub, op, value);
            }
        }
        (op, None) => {
            let Some(Value::Object(new)) = value else {
                return Err(ScimError::invalid_value("the value must be an object"));
            };
            for i in hits {
                if op == OpKind::Replace {
                    items[i] = Value::Object(new.clone());
                } else if let Value::Object(have) = &mut items[i] {
                    for (k, nv) in new {
                        have.insert(k.clone(), nv.clone());
                    }
                }
            }
        }
    }
    if items.is_empty() {
        map.remove(key);
    }
    Ok(())
}

/// The element a filter of `eq` comparisons joined by `and` describes, if it is one.
fn described(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.schema.is_none() && path.sub.is_none() => {
            let mut m = Map::new();
            m.insert(path.name.clone(), value.clone());
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = described(a)?;
            m.extend(described(b)?);
            Some(m)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Users;
    impl Shape for Users {
        fn multi_valued(&self, attr: &AttrPath) -> bool {
            ["emails", "phoneNumbers", "members"]
                .iter()
                .any(|n| attr.is(n, None))
        }
        fn read_only(&self, attr: &AttrPath) -> bool {
            ["id", "meta", "groups"]
                .iter()
                .any(|n| attr.schema.is_none() && attr.name.eq_ignore_ascii_case(n))
        }
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "the cases read better built in place"
    )]
    fn patch(mut doc: Value, ops: Value) -> Result<Value, ScimError> {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": ops});
        let ops = parse_request(&body, &[super::super::ENTERPRISE_SCHEMA])?;
        apply(&mut doc, &ops, &Users)?;
        Ok(doc)
    }

    fn bjensen() -> Value {
        json!({"userName": "bjensen", "active": true, "name": {"givenName": "Barbara", "familyName": "Jensen"},
               "emails": [{"value": "b@example.com", "type": "work", "primary": true},
                          {"value": "babs@home.org", "type": "home"}]})
    }

    #[test]
    fn entra_id_replaces_without_a_path_with_string_booleans_and_dotted_names() {
        let out = patch(
            bjensen(),
            json!([{"op": "Replace", "value": {"active": "False", "name.givenName": "Babs",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours"}}]),
        )
        .unwrap();
        assert_eq!(out["active"], "False");
        assert_eq!(out["name"]["givenName"], "Babs");
        assert_eq!(out["name"]["familyName"], "Jensen");
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Tours"
        );
    }

    #[test]
    fn value_filters_select_elements_and_add_the_one_described_when_none_matches() {
        let out = patch(
            bjensen(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
                   {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+15555550100"}]),
        )
        .unwrap();
        assert_eq!(out["emails"][0]["value"], "new@example.com");
        assert_eq!(out["emails"][1]["value"], "babs@home.org");
        assert_eq!(
            out["phoneNumbers"],
            json!([{"type": "mobile", "value": "+15555550100"}])
        );
        let out = patch(
            out,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .unwrap();
        assert_eq!(out["emails"].as_array().unwrap().len(), 1);
        let out = patch(
            out,
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        )
        .unwrap();
        assert_eq!(out["emails"][0].get("primary"), None);
    }

    #[test]
    fn add_appends_to_lists_and_merges_complex_attributes() {
        let out = patch(
            bjensen(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@example.com", "type": "other"}]},
                   {"op": "add", "value": {"name": {"middleName": "Jane"}, "title": "Guide"}},
                   {"op": "add", "path": "nickName", "value": "Babs"}]),
        )
        .unwrap();
        assert_eq!(out["emails"].as_array().unwrap().len(), 3);
        assert_eq!(
            out["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"})
        );
        assert_eq!(
            (out["title"].as_str(), out["nickName"].as_str()),
            (Some("Guide"), Some("Babs"))
        );
        let out = patch(
            out,
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com"}]}]),
        )
        .unwrap();
        assert_eq!(out["emails"], json!([{"value": "only@example.com"}]));
        let out = patch(
            out,
            json!([{"op": "remove", "path": "name.middleName"}, {"op": "remove", "path": "title"}]),
        )
        .unwrap();
        assert_eq!(out["name"].get("middleName"), None);
        assert_eq!(out.get("title"), None);
    }

    #[test]
    fn members_are_removed_by_value_as_entra_id_asks() {
        let group = json!({"displayName": "Ops", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let out = patch(
            group,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}]));
        let out = patch(
            out,
            json!([{"op": "remove", "path": "members[value eq \"b\"]"}]),
        )
        .unwrap();
        assert_eq!(out.get("members"), None);
    }

    #[test]
    fn refuses_what_cannot_be_done() {
        let e = |ops: Value| patch(bjensen(), ops).unwrap_err().scim_type;
        assert_eq!(e(json!([{"op": "remove"}])), Some("noTarget"));
        assert_eq!(
            e(json!([{"op": "move", "path": "title"}])),
            Some("invalidSyntax")
        );
        assert_eq!(
            e(json!([{"op": "add", "path": "title"}])),
            Some("invalidValue")
        );
        assert_eq!(
            e(json!([{"op": "replace", "path": "id", "value": "x"}])),
            Some("mutability")
        );
        assert_eq!(
            e(json!([{"op": "replace", "path": "emails[type eq ", "value": "x"}])),
            Some("invalidPath")
        );
        assert_eq!(
            e(json!([{"op": "replace", "path": "emails[type co \"zzz\"].value", "value": "x"}])),
            Some("noTarget")
        );
        let no_schema = json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]});
        assert_eq!(
            parse_request(&no_schema, &[]).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
    }
}
