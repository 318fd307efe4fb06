//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths: parsed into a tree, and evaluated
//! against a resource's JSON. Hand-written: no maintained Rust crate parses SCIM filters
//! (the `scim-filter` crate is unmaintained and has no value-path support), and the grammar
//! is small.

use serde_json::Value;

use super::ScimError;

/// The longest filter or path accepted, in bytes, and the deepest nesting: a bound on the
/// work one request can ask for.
const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// An attribute path: `[schema:]name[.sub]`. Names are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path names one (`urn:...:User:employeeNumber`).
    pub schema: Option<String>,
    /// The attribute.
    pub name: String,
    /// The sub-attribute.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[schema:]name[.sub]`.
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        let bad = || ScimError::invalid_path(&format!("'{raw}' is not an attribute path"));
        let (schema, rest) = match raw.rfind(':') {
            Some(i) => (Some(raw[..i].to_owned()), &raw[i + 1..]),
            None => (None, raw),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
        };
        if !word(name) || sub.is_some_and(|s| !word(s)) {
            return Err(bad());
        }
        if schema
            .as_deref()
            .is_some_and(|s| !s.to_ascii_lowercase().starts_with("urn:"))
        {
            return Err(bad());
        }
        Ok(Self {
            schema: schema.filter(|s| {
                !s.eq_ignore_ascii_case(super::USER_SCHEMA)
                    && !s.eq_ignore_ascii_case(super::GROUP_SCHEMA)
            }),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Whether this is `name` (and `sub`), ignoring case, with no schema.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.schema.is_none()
            && self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

/// A filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// A string, number, boolean or null.
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `path[filter]`: some element of a multi-valued attribute matches.
    Elements {
        /// The multi-valued attribute.
        path: AttrPath,
        /// What an element must match.
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    if input.len() > MAX_LEN {
        return Err(ScimError::invalid_filter("the filter is too long"));
    }
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '[' => out.push(Token::OpenBracket),
            ']' => out.push(Token::CloseBracket),
            '"' => {
                // A JSON string: find its end (a quote not escaped), then let serde read it.
                let mut escaped = false;
                let mut end = None;
                for (j, d) in chars.by_ref() {
                    match d {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(j);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("a string is not closed"))?;
                let s: String = serde_json::from_str(&input[i..=end])
                    .map_err(|_| ScimError::invalid_filter("a string is not valid"))?;
                out.push(Token::Str(s));
            }
            _ => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                out.push(Token::Word(input[i..end].to_owned()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn deeper(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter("the filter nests too deeply"));
        }
        Ok(())
    }

    /// `or` binds loosest, then `and`, then `not`.
    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.next();
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.next();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        self.deeper()?;
        let out = self.unary_inner();
        self.depth -= 1;
        out
    }

    fn unary_inner(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.next();
            if self.next() != Some(Token::Open) {
                return Err(ScimError::invalid_filter("'not' must be followed by '('"));
            }
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(ScimError::invalid_filter("a '(' is not closed"));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.next() != Some(Token::Close) {
                    return Err(ScimError::invalid_filter("a '(' is not closed"));
                }
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                let path = AttrPath::parse(&word).map_err(|_| {
                    ScimError::invalid_filter(&format!("'{word}' is not an attribute"))
                })?;
                if self.peek() == Some(&Token::OpenBracket) {
                    self.next();
                    let inner = self.or()?;
                    if self.next() != Some(Token::CloseBracket) {
                        return Err(ScimError::invalid_filter("a '[' is not closed"));
                    }
                    return Ok(Filter::Elements {
                        path,
                        filter: Box::new(inner),
                    });
                }
                self.comparison(path)
            }
            _ => Err(ScimError::invalid_filter("an attribute was expected")),
        }
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let Some(Token::Word(op)) = self.next() else {
            return Err(ScimError::invalid_filter("an operator was expected"));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op)
            .ok_or_else(|| ScimError::invalid_filter(&format!("'{op}' is not an operator")))?;
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| ScimError::invalid_filter(&format!("'{w}' is not a value")))?,
            },
            _ => return Err(ScimError::invalid_filter("a value was expected")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

impl Filter {
    /// Parses a filter.
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        let mut p = Parser {
            tokens: tokenize(input)?,
            at: 0,
            depth: 0,
        };
        let f = p.or()?;
        if p.at != p.tokens.len() {
            return Err(ScimError::invalid_filter(
                "the filter does not end where expected",
            ));
        }
        Ok(f)
    }

    /// Whether `resource` (a resource's JSON) matches. `case_exact` says which attributes
    /// compare strings exactly (the others ignore case).
    pub fn matches(&self, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
        match self {
            Self::And(a, b) => a.matches(resource, case_exact) && b.matches(resource, case_exact),
            Self::Or(a, b) => a.matches(resource, case_exact) || b.matches(resource, case_exact),
            Self::Not(a) => !a.matches(resource, case_exact),
            Self::Present(path) => values(resource, path).iter().any(|v| present(v)),
            Self::Compare { path, op, value } => {
                let exact = case_exact(path);
                let found = values(resource, path);
                if *op == CompareOp::Ne {
                    return !found
                        .iter()
                        .any(|v| compare(v, CompareOp::Eq, value, exact));
                }
                found.iter().any(|v| compare(v, *op, value, exact))
            }
            Self::Elements { path, filter } => attribute(resource, path)
                .map(|v| match v {
                    Value::Array(items) => items.iter().any(|i| filter.matches(i, case_exact)),
                    one => filter.matches(one, case_exact),
                })
                .unwrap_or(false),
        }
    }

    /// Checks that comparisons make sense: `gt`, `ge`, `lt`, `le` on a boolean or null, or
    /// `co`, `sw`, `ew` on anything but a string, are refused (`invalidFilter`).
    pub fn check(&self) -> Result<(), ScimError> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                a.check()?;
                b.check()
            }
            Self::Not(a) | Self::Elements { filter: a, .. } => a.check(),
            Self::Present(_) => Ok(()),
            Self::Compare { op, value, .. } => {
                let ordered = matches!(
                    op,
                    CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
                );
                let textual = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                if (ordered && matches!(value, Value::Bool(_) | Value::Null))
                    || (textual && !value.is_string())
                {
                    return Err(ScimError::invalid_filter(
                        "this operator does not apply to this value",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Looks a key up ignoring case.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The attribute (without its sub-attribute) of a resource.
fn attribute<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let holder = match &path.schema {
        Some(schema) => get_ci(resource, schema)?,
        None => resource,
    };
    get_ci(holder, &path.name)
}

/// The values a path names: a multi-valued attribute gives each element's (sub-attribute,
/// or `value` when a complex element is compared whole).
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(attr) = attribute(resource, path) else {
        return Vec::new();
    };
    let pick = |v: &'a Value| -> Option<&'a Value> {
        match (&path.sub, v) {
            (Some(sub), v) => get_ci(v, sub),
            (None, Value::Object(_)) => get_ci(v, "value"),
            (None, v) => Some(v),
        }
    };
    match attr {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        one => pick(one).into_iter().collect(),
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(have: &Value, op: CompareOp, want: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (have, want) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            match a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b))
            {
                Some(o) => o,
                None => return false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        // An attribute given as a string boolean ("True", as Entra ID sends) compares as one.
        (Value::String(a), Value::Bool(b)) => match a.to_ascii_lowercase().as_str() {
            "true" => true.cmp(b),
            "false" => false.cmp(b),
            _ => return false,
        },
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => return false,
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ci(_: &AttrPath) -> bool {
        false
    }

    fn m(filter: &str, r: &Value) -> bool {
        let f = Filter::parse(filter).unwrap();
        f.check().unwrap();
        f.matches(r, &ci)
    }

    #[test]
    fn parses_the_rfc_examples_and_matches_them() {
        let r = json!({
            "userName": "bjensen", "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "Tour Guide", "active": true, "userType": "Employee",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        });
        assert!(m(r#"userName Eq "BJensen""#, &r));
        assert!(m(r#"name.familyName co "ens""#, &r));
        assert!(m(r#"userName sw "J" or userName sw "b""#, &r));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#,
            &r
        ));
        assert!(m("title pr", &r));
        assert!(!m("nickName pr", &r));
        assert!(m(
            r#"meta.lastModified gt "2011-05-13T04:42:34Z" or title pr"#,
            &r
        ));
        assert!(m(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, &r));
        assert!(!m(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, &r));
        assert!(m(r#"title pr and userType eq "Employee""#, &r));
        assert!(m(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            &r
        ));
        assert!(!m(
            r#"userType ne "Employee" and not (emails co "example.com")"#,
            &r
        ));
        assert!(m(
            r#"emails[type eq "work" and value co "@example.com"]"#,
            &r
        ));
        assert!(!m(
            r#"emails[type eq "home" and value co "@example.com"]"#,
            &r
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            &r
        ));
        assert!(m("active eq true", &r));
        assert!(!m(r#"emails.value eq "nobody@example.com""#, &r));
        assert!(m(r#"emails.value ne "nobody@example.com""#, &r));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = Filter::parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert!(matches!(f, Filter::Or(_, ref right) if matches!(**right, Filter::And(_, _))));
    }

    #[test]
    fn refuses_what_is_not_a_filter() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"(userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"userName eq "a" and"#,
            r#"userName eq bareword"#,
            r#"not userName eq "a""#,
            r#"user$#Name eq "a""#,
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert!(Filter::parse("active gt true").unwrap().check().is_err());
        assert!(Filter::parse("x co 1").unwrap().check().is_err());
        let deep = format!("{}a pr{}", "(".repeat(100), ")".repeat(100));
        assert!(Filter::parse(&deep).is_err());
    }
}
