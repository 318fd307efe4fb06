//! The node-shared settings and the readiness probe.

use async_trait::async_trait;

use crate::error::StoreError;

/// The storage of the node-shared settings and the readiness probe.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Checks that the database answers and takes a write (committed).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Reads a value of the node-shared settings table.
    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a value unless one is there; answers the value now stored.
    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError>;
}
