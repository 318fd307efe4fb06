//! Helpers for turning raw request fields into parsed values while collecting every
//! field error at once.

use crate::error::{AuthError, FieldError};

/// A field of a partial update: left alone, cleared (`null`), or set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Patch<T> {
    /// Absent: unchanged.
    #[default]
    Keep,
    /// `null`: removed.
    Clear,
    /// A new value.
    Set(T),
}

impl<T> From<Option<Option<T>>> for Patch<T> {
    fn from(v: Option<Option<T>>) -> Self {
        match v {
            None => Self::Keep,
            Some(None) => Self::Clear,
            Some(Some(t)) => Self::Set(t),
        }
    }
}

/// Collects field errors so that one answer lists them all.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<FieldError>);

impl Fields {
    /// Keeps the value, or records the error.
    pub(crate) fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    /// Parses an optional field.
    pub(crate) fn opt<T>(
        &mut self,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        raw.filter(|s| !s.trim().is_empty())
            .and_then(|s| self.take(parse(s)))
    }

    /// Parses a patched field; `Set("")` counts as `Clear`.
    pub(crate) fn patch<T>(
        &mut self,
        raw: Patch<String>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Patch<T> {
        match raw {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(s) if s.trim().is_empty() => Patch::Clear,
            Patch::Set(s) => self.take(parse(&s)).map_or(Patch::Keep, Patch::Set),
        }
    }

    /// Whether an error is recorded for `field` (so that a rule between fields does not
    /// report a field twice).
    pub(crate) fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// Drops the errors recorded for `field`.
    pub(crate) fn forget(&mut self, field: &str) {
        self.0.retain(|e| e.field != field);
    }

    /// Records an error.
    pub(crate) fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// Fails with every recorded error, if any.
    pub(crate) fn finish(self) -> Result<(), AuthError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AuthError::Validation(self.0))
        }
    }
}

/// Applies a patch to a current optional value.
pub(crate) fn apply<T>(
    current: Option<String>,
    patch: Patch<T>,
    to_string: impl FnOnce(T) -> String,
) -> Option<String> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(v) => Some(to_string(v)),
    }
}
