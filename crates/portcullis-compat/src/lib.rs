//! The reference systems' own dialects (`../shared/reference/`), so that applications
//! written against them can switch their base URL to Portcullis. Each dialect is a thin
//! translation onto the same use cases as `/v1`, in its own module, mounted under its own
//! prefix, and answers in its own envelope, errors included.

mod dfx;
mod dhiwise;
mod emnify;
mod envelope;
mod meshydb;

use portcullis_server::{AppState, Router};

/// A dialect that can be switched on (`PORTCULLIS_COMPAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DeepAffex, under `/dfx/`.
    DeepAffex,
    /// emnify, under `/api/v1/`.
    Emnify,
    /// DhiWise's generated Node.js back end, under `/dhiwise/admin/auth/`.
    DhiWise,
    /// MeshyDB, under `/meshydb/{accountName}/` (the organization's slug).
    MeshyDb,
}

impl Dialect {
    /// Every dialect, as named in `PORTCULLIS_COMPAT`.
    pub const ALL: [(&'static str, Dialect); 4] = [
        ("deepaffex", Dialect::DeepAffex),
        ("emnify", Dialect::Emnify),
        ("dhiwise", Dialect::DhiWise),
        ("meshydb", Dialect::MeshyDb),
    ];

    /// Parses a comma-separated list (`all` and `none` allowed); unknown names are errors.
    pub fn parse_list(list: &str) -> Result<Vec<Dialect>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "all" => out.extend(Self::ALL.iter().map(|(_, d)| *d)),
                "none" => {}
                other => match Self::ALL.iter().find(|(n, _)| *n == other) {
                    Some((_, d)) => out.push(*d),
                    None => {
                        let known: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                        return Err(format!(
                            "unknown dialect {other:?}; known: {}, or all / none",
                            known.join(", ")
                        ));
                    }
                },
            }
        }
        out.dedup();
        Ok(out)
    }
}

/// The routes of the given dialects, each under its prefix.
pub fn routes(dialects: &[Dialect]) -> Router<AppState> {
    let mut router = Router::new();
    for dialect in dialects {
        router = match dialect {
            Dialect::DeepAffex => router.nest("/dfx", dfx::routes()),
            Dialect::Emnify => router.nest("/api/v1", emnify::routes()),
            Dialect::DhiWise => router.nest("/dhiwise/admin/auth", dhiwise::routes()),
            Dialect::MeshyDb => router.nest("/meshydb/{account}", meshydb::routes()),
        };
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse() {
        assert_eq!(
            Dialect::parse_list("all").unwrap(),
            vec![
                Dialect::DeepAffex,
                Dialect::Emnify,
                Dialect::DhiWise,
                Dialect::MeshyDb
            ]
        );
        assert_eq!(
            Dialect::parse_list("meshydb,dhiwise").unwrap(),
            vec![Dialect::MeshyDb, Dialect::DhiWise]
        );
        assert_eq!(
            Dialect::parse_list(" DhiWise , ").unwrap(),
            vec![Dialect::DhiWise]
        );
        assert!(Dialect::parse_list("none").unwrap().is_empty());
        assert!(Dialect::parse_list("").unwrap().is_empty());
        assert!(Dialect::parse_list("dhiwise,cobol")
            .unwrap_err()
            .contains("cobol"));
    }
}
