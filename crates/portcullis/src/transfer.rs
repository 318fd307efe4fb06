//! `portcullis export` and `portcullis import`: users as JSON lines, on the database
//! directly, with a progress bar on standard error.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use portcullis_core::service::UserRecord;
use portcullis_core::UserId;

use crate::app::open_services;
use crate::Config;

fn bar(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {pos} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(what.to_owned());
    bar
}

/// Writes every user (guests excepted), with password hashes, as JSON lines to `out` (or
/// standard output). The file is created readable by its owner only: it holds hashes.
pub async fn export(config: &Config, out: Option<&Path>) -> anyhow::Result<u64> {
    let (db, services) = open_services(config).await?;
    let mut sink: Box<dyn std::io::Write> = match out {
        Some(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            Box::new(std::io::BufWriter::new(
                opts.open(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let progress = bar(None, "exported");
    let mut after: Option<UserId> = None;
    let mut n = 0u64;
    loop {
        let (page, next) = services.export_users(after, 1000).await?;
        for record in &page {
            serde_json::to_writer(&mut sink, record)?;
            sink.write_all(b"\n")?;
            n += 1;
        }
        progress.set_position(n);
        match next {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    sink.flush()?;
    progress.finish();
    db.close().await;
    Ok(n)
}

/// Reads JSON lines from `path` and imports them in batches of `batch` (each all or
/// nothing). Stops at the first bad line or batch, saying which; earlier batches stay.
pub async fn import(config: &Config, path: &Path, batch: usize) -> anyhow::Result<u64> {
    let open = || std::fs::File::open(path).with_context(|| format!("reading {}", path.display()));
    let total = BufReader::new(open()?).lines().count() as u64;
    let (db, services) = open_services(config).await?;
    let progress = bar(Some(total), "imported");
    let mut pending: Vec<(usize, UserRecord)> = Vec::with_capacity(batch);
    let mut done = 0u64;
    let flush = |pending: Vec<(usize, UserRecord)>| {
        let services = std::sync::Arc::clone(&services);
        async move {
            let first = pending.first().map_or(0, |(line, _)| *line);
            let lines: Vec<usize> = pending.iter().map(|(l, _)| *l).collect();
            let records = pending.into_iter().map(|(_, r)| r).collect();
            services.import_users(records).await.map_err(|e| {
                let why = describe(&e.error);
                match e.index {
                    Some(i) => anyhow::anyhow!("line {}: {why}", lines[i]),
                    None => {
                        anyhow::anyhow!("lines {first}..: {why} (none of these lines imported)")
                    }
                }
            })
        }
    };
    for (i, line) in BufReader::new(open()?).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: UserRecord = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not a user record", i + 1))?;
        pending.push((i + 1, record));
        if pending.len() >= batch.max(1) {
            done += flush(std::mem::take(&mut pending))
                .await
                .with_context(|| format!("{done} users imported before this"))?;
            progress.set_position(i as u64 + 1);
        }
    }
    if !pending.is_empty() {
        done += flush(pending)
            .await
            .with_context(|| format!("{done} users imported before this"))?;
    }
    progress.finish();
    db.close().await;
    Ok(done)
}

/// An error with the fields it names, for the operator.
fn describe(e: &portcullis_core::AuthError) -> String {
    match e {
        portcullis_core::AuthError::Validation(fields)
        | portcullis_core::AuthError::WeakPassword(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        e => e.to_string(),
    }
}

/// Creates an administrator on the database directly.
pub async fn create_admin(
    config: &Config,
    email: &str,
    password: &str,
    role: &str,
    org: Option<&str>,
) -> anyhow::Result<portcullis_core::User> {
    let (db, services) = open_services(config).await?;
    let user = services
        .create_admin(email, password, role, org)
        .await
        .map_err(|e| anyhow::anyhow!("refused: {}", describe(&e)))?;
    db.close().await;
    Ok(user)
}
