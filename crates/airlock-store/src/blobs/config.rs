//! Where blobs live ([`BlobsConfig`]) and the `object_store` client built
//! for it, with bounded timeouts and retries.
//!
//! Secrets arrive as plain strings the caller already resolved (the
//! binary's `env:` / `file:` references); `Debug` shows none of them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::signer::Signer;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::BlobError;

/// How long connecting to a storage endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request may go without the server answering or sending a
/// byte (the wait for an answer includes sending the body).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of a failed request: an endpoint refusing connections fails in
/// well under a second, one dropping them within about three connect
/// timeouts.
const MAX_RETRIES: usize = 2;
const RETRY_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where blobs are kept.
#[derive(Debug, Clone)]
pub enum BlobsConfig {
    /// A folder on this machine, created if missing. With `sync`, each
    /// object is on disk (`fsync`) before `put` returns; without, it is
    /// still never half-written while the machine runs (staging file and
    /// rename), but a power loss may lose the last seconds' objects.
    Local { root: PathBuf, sync: bool },
    /// Amazon S3 or an S3-compatible server (MinIO, SeaweedFS, R2, ...).
    S3(S3Config),
    /// Google Cloud Storage.
    Gcs(GcsConfig),
    /// Azure Blob Storage.
    Azure(AzureConfig),
}

/// An S3 bucket.
#[derive(Clone)]
pub struct S3Config {
    /// The server's URL, e.g. `http://127.0.0.1:8333`; `None` for AWS
    /// (the region's endpoint).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Bucket in the path (`endpoint/bucket/key`), as MinIO and SeaweedFS
    /// want, instead of in the host name (`bucket.endpoint/key`).
    pub path_style: bool,
    /// Whether a plain `http://` endpoint is allowed.
    pub allow_http: bool,
}

/// A Google Cloud Storage bucket.
#[derive(Clone)]
pub struct GcsConfig {
    pub bucket: String,
    pub credentials: GcsCredentials,
}

/// A service account's credentials, which also sign URLs.
#[derive(Clone)]
pub enum GcsCredentials {
    /// The path of its JSON key file.
    ServiceAccountPath(PathBuf),
    /// The JSON key itself.
    ServiceAccountKey(String),
}

/// An Azure Blob Storage container.
#[derive(Clone)]
pub struct AzureConfig {
    pub account: String,
    pub container: String,
    /// The storage account's access key (base64, as the portal shows it).
    pub access_key: String,
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &REDACTED)
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl fmt::Debug for GcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsConfig")
            .field("bucket", &self.bucket)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl fmt::Debug for GcsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcsCredentials::ServiceAccountPath(path) => {
                f.debug_tuple("ServiceAccountPath").field(path).finish()
            }
            GcsCredentials::ServiceAccountKey(_) => {
                f.debug_tuple("ServiceAccountKey").field(&REDACTED).finish()
            }
        }
    }
}

impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureConfig")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("access_key", &REDACTED)
            .finish()
    }
}

/// What [`BlobsConfig`] opens to.
pub(crate) struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn ObjectStore>,
    /// For backends that can pre-sign URLs.
    pub signer: Option<Arc<dyn Signer>>,
    /// Whether the backend keeps an object's content type (a local folder
    /// does not).
    pub keeps_content_type: bool,
}

impl BlobsConfig {
    /// The backend's name in errors and logs.
    pub fn backend_name(&self) -> &'static str {
        match self {
            BlobsConfig::Local { .. } => "local",
            BlobsConfig::S3(_) => "s3",
            BlobsConfig::Gcs(_) => "gcs",
            BlobsConfig::Azure(_) => "azure",
        }
    }

    pub(crate) fn open(&self) -> Result<Backend, BlobError> {
        let name = self.backend_name();
        let config_error = |error: object_store::Error| BlobError::Config {
            backend: name,
            message: error.to_string(),
        };
        match self {
            BlobsConfig::Local { root, sync } => {
                std::fs::create_dir_all(root).map_err(|error| BlobError::Config {
                    backend: name,
                    message: format!("cannot create {}: {error}", root.display()),
                })?;
                // Each object is written to a staging file (synced when
                // asked) and renamed into place: never half there.
                let store = LocalFileSystem::new_with_prefix(root)
                    .map_err(config_error)?
                    .with_fsync(*sync)
                    .with_automatic_cleanup(true);
                Ok(Backend {
                    name,
                    store: Arc::new(store),
                    signer: None,
                    keeps_content_type: false,
                })
            }
            BlobsConfig::S3(s3) => {
                install_crypto_provider();
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(&s3.secret_access_key)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_client_options(client_options(s3.allow_http))
                    .with_retry(retry_config());
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                let store = Arc::new(builder.build().map_err(config_error)?);
                Ok(signing(name, store))
            }
            BlobsConfig::Gcs(gcs) => {
                install_crypto_provider();
                let builder = GoogleCloudStorageBuilder::new()
                    .with_bucket_name(&gcs.bucket)
                    .with_client_options(client_options(false))
                    .with_retry(retry_config());
                let builder = match &gcs.credentials {
                    GcsCredentials::ServiceAccountPath(path) => {
                        builder.with_service_account_path(path.to_string_lossy())
                    }
                    GcsCredentials::ServiceAccountKey(key) => builder.with_service_account_key(key),
                };
                let store = Arc::new(builder.build().map_err(config_error)?);
                Ok(signing(name, store))
            }
            BlobsConfig::Azure(azure) => {
                install_crypto_provider();
                let store = MicrosoftAzureBuilder::new()
                    .with_account(&azure.account)
                    .with_container_name(&azure.container)
                    .with_access_key(&azure.access_key)
                    .with_client_options(client_options(false))
                    .with_retry(retry_config())
                    .build()
                    .map_err(config_error)?;
                Ok(signing(name, Arc::new(store)))
            }
        }
    }
}

fn signing<S: ObjectStore + Signer>(name: &'static str, store: Arc<S>) -> Backend {
    Backend {
        name,
        store: store.clone(),
        signer: Some(store),
        keeps_content_type: true,
    }
}

/// object_store's HTTP client is the workspace's reqwest, whose rustls has
/// no built-in crypto provider: building a client without one installed
/// panics. Installs ring's, as the binary does; repeated calls do nothing.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_read_timeout(READ_TIMEOUT)
        // No deadline for a whole request: a large object streamed to a
        // slow client takes what it takes; a stalled one ends at READ_TIMEOUT.
        .with_timeout_disabled()
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: FIRST_BACKOFF,
            max_backoff: MAX_BACKOFF,
            base: 2.0,
        },
        max_retries: MAX_RETRIES,
        retry_timeout: RETRY_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let configs = [
            BlobsConfig::S3(S3Config {
                endpoint: Some("http://127.0.0.1:9000".into()),
                bucket: "media".into(),
                region: "us-east-1".into(),
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "s3-secret-value".into(),
                path_style: true,
                allow_http: true,
            }),
            BlobsConfig::Gcs(GcsConfig {
                bucket: "media".into(),
                credentials: GcsCredentials::ServiceAccountKey("gcs-secret-value".into()),
            }),
            BlobsConfig::Azure(AzureConfig {
                account: "acct".into(),
                container: "media".into(),
                access_key: "azure-secret-value".into(),
            }),
        ];
        for config in configs {
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains("secret-value"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("media"), "{shown}");
        }
    }
}
