//! The hashing threads: a fixed set of OS threads that run every password hash, each
//! keeping its argon2 working memory from one operation to the next.
//!
//! Hand-written around the argon2 crate's `hash_password_into_with_memory`, because its PHC
//! helpers (`hash_password`, `verify_password`) allocate and zero the whole working memory
//! (19 MiB at the default cost) on every call: the benchmark's profile of sign-in showed
//! that zeroing and the page faults behind it at about a tenth of the CPU of a sign-in.
//! argon2 overwrites every block it uses before reading it, so reusing the memory is sound.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The argon2 memory of one hashing thread.
pub(crate) struct Scratch {
    blocks: Vec<Block>,
    /// Blocks kept between operations (the configured cost); a stored hash with a larger
    /// cost gets a temporary allocation instead, so one imported hash cannot pin its memory.
    keep: usize,
}

impl Scratch {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            blocks: Vec::new(),
            keep,
        }
    }

    /// argon2 of `password` and `salt` with these settings, `out_len` bytes.
    fn argon2(
        &mut self,
        algorithm: Algorithm,
        version: Version,
        params: Params,
        password: &[u8],
        salt: &[u8],
    ) -> argon2::password_hash::Result<Output> {
        let needed = params.block_count();
        let out_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let argon2 = Argon2::new(algorithm, version, params);
        let mut temporary = Vec::new();
        let memory = if needed <= self.keep {
            if self.blocks.len() < needed {
                self.blocks.resize(needed, Block::default());
            }
            &mut self.blocks[..needed]
        } else {
            temporary.resize(needed, Block::default());
            &mut temporary[..]
        };
        Output::init_with(out_len, |out| {
            argon2.hash_password_into_with_memory(password, salt, out, &mut *memory)?;
            Ok(())
        })
    }

    /// A new argon2id (v19) PHC string for `password` with this salt and cost.
    pub(crate) fn hash(
        &mut self,
        params: &Params,
        salt: &[u8],
        password: &[u8],
    ) -> argon2::password_hash::Result<String> {
        let salt = SaltString::encode_b64(salt)?;
        let mut raw = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut raw)?;
        let output = self.argon2(
            Algorithm::Argon2id,
            Version::V0x13,
            params.clone(),
            password,
            salt_bytes,
        )?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string())
    }

    /// Whether `password` matches a parsed argon2 PHC hash (any variant and version); the
    /// outputs are compared in constant time (`Output`'s equality).
    pub(crate) fn matches(&mut self, hash: &PasswordHash<'_>, password: &[u8]) -> bool {
        let mut check = || -> argon2::password_hash::Result<bool> {
            let algorithm = Algorithm::try_from(hash.algorithm)?;
            let version = hash
                .version
                .map(Version::try_from)
                .transpose()?
                .unwrap_or_default();
            let params = Params::try_from(hash)?;
            let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
                return Ok(false);
            };
            let mut raw = [0u8; 64];
            let salt = salt.decode_b64(&mut raw)?;
            Ok(self.argon2(algorithm, version, params, password, salt)? == expected)
        };
        check().unwrap_or(false)
    }
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// The threads and the queue feeding them. Dropping it ends the threads once idle.
pub(crate) struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

impl HashThreads {
    /// Starts `threads` threads, each keeping `keep_blocks` argon2 blocks.
    pub(crate) fn start(threads: usize, keep_blocks: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("portcullis-hash-{i}"))
                .spawn(move || {
                    let mut scratch = Scratch::new(keep_blocks);
                    loop {
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        // A job that panics drops its answer channel, so its caller gets an
                        // error; the thread and its memory live on for the next job.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut scratch)));
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on a hashing thread; `None` if it panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Option<T> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |scratch| {
                let _ = done.send(job(scratch));
            }))
            .ok()?;
        answer.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    fn params(m: u32) -> Params {
        Params::new(m, 1, 1, None).unwrap()
    }

    #[test]
    fn same_hashes_as_the_crate_and_reuse_does_not_change_them() {
        let mut scratch = Scratch::new(params(256).block_count());
        let salt = *b"0123456789abcdef";
        let ours = scratch.hash(&params(256), &salt, b"pw one").unwrap();
        let crate_made = Argon2::new(Algorithm::Argon2id, Version::V0x13, params(256))
            .hash_password(b"pw one", &SaltString::encode_b64(&salt).unwrap())
            .unwrap()
            .to_string();
        assert_eq!(ours, crate_made);
        // Dirty memory from another password, then the same hash again.
        let _ = scratch
            .hash(&params(256), &salt, b"something else")
            .unwrap();
        assert_eq!(scratch.hash(&params(256), &salt, b"pw one").unwrap(), ours);
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"pw one", &parsed)
            .is_ok());
        assert!(scratch.matches(&parsed, b"pw one"));
        assert!(!scratch.matches(&parsed, b"pw two"));
    }

    #[test]
    fn other_variants_versions_and_larger_costs_verify() {
        let mut scratch = Scratch::new(params(64).block_count());
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        for (alg, version) in [
            (Algorithm::Argon2i, Version::V0x10),
            (Algorithm::Argon2d, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x13),
        ] {
            let made = Argon2::new(alg, version, Params::new(512, 2, 2, Some(16)).unwrap())
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            let parsed = PasswordHash::new(&made).unwrap();
            assert!(scratch.matches(&parsed, b"pw"), "{made}");
            assert!(!scratch.matches(&parsed, b"pW"), "{made}");
        }
        assert_eq!(scratch.blocks.len(), 0, "a larger cost is not kept");
    }

    #[tokio::test]
    async fn a_thread_answers_and_survives_a_panic() {
        let threads = HashThreads::start(1, 8).unwrap();
        assert_eq!(threads.run(|_| 7).await, Some(7));
        assert_eq!(threads.run(|_| -> u8 { panic!("boom") }).await, None);
        assert_eq!(threads.run(|_| 8).await, Some(8), "the one thread lives on");
    }
}
