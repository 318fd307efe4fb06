//! The limits: what the same machine does with the same primitives and nothing else.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ed25519_dalek::Signer as _;
use portcullis_core::config::Argon2Params;

pub(crate) fn argon2(p: Argon2Params) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string for `password` with the server's parameters.
pub(crate) fn hash(p: Argon2Params, password: &str) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(b"portcullis-bench").map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2(p)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Operations per second of `op`, run on `threads` threads at once for `duration`.
pub(crate) fn per_second(threads: usize, duration: Duration, op: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    if threads <= 1 {
        // On the calling thread, as the figure it is compared with is measured.
        let mut n = 0u64;
        while start.elapsed() < duration {
            op();
            n += 1;
        }
        return n as f64 / start.elapsed().as_secs_f64();
    }
    let done: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        op();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    done as f64 / start.elapsed().as_secs_f64()
}

/// argon2id verifications per second on every core.
pub(crate) fn verify_rate(
    p: Argon2Params,
    phc: &str,
    password: &str,
    d: Duration,
) -> anyhow::Result<f64> {
    let a = argon2(p)?;
    let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(per_second(cores(), d, || {
        let _ = a.verify_password(password.as_bytes(), &parsed);
    }))
}

/// argon2id hashes (new salt each) per second on every core.
pub(crate) fn hash_rate(p: Argon2Params, password: &str, d: Duration) -> anyhow::Result<f64> {
    let a = argon2(p)?;
    let salt = SaltString::encode_b64(b"0123456789abcdef").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(per_second(cores(), d, || {
        let _ = a.hash_password(password.as_bytes(), &salt);
    }))
}

/// Raw Ed25519 signatures per second on one core, over a message the size of a token.
pub(crate) fn ed25519_rate(d: Duration) -> f64 {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let msg = vec![b'x'; 330];
    per_second(1, d, || {
        let _ = key.sign(&msg);
    })
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
