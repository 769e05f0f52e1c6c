//! The `[media]` section: where generated images and audio are stored (a
//! local folder, S3, GCS or Azure, with the store's table), how answers
//! carry them (inline or as URLs), and how media URLs are signed, checked.
//!
//! Secrets are resolved here; the signing key's default (a key generated
//! once into the data directory) and opening the store are `serve`'s.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use airlock_store::{AzureConfig, BlobsConfig, GcsConfig, GcsCredentials, S3Config};
use toml::Spanned;
use url::Url;

use super::Resolver;
use super::file::{MediaAzureSection, MediaGcsSection, MediaS3Section, MediaSection};

/// The local store's folder, under the data directory.
pub const DEFAULT_MEDIA_DIR: &str = "media";
pub const DEFAULT_URL_TTL: Duration = Duration::from_secs(3600);
/// The longest a media URL may stay valid (a pre-signed URL's limit too).
pub const MAX_URL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_VARIANT_WIDTHS: [u32; 5] = [64, 128, 256, 512, 1024];
/// The widths an image variant may have.
pub const VARIANT_WIDTHS: std::ops::RangeInclusive<u32> = 16..=4096;
pub const DEFAULT_S3_REGION: &str = "us-east-1";

/// The object stores `media.store` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Local,
    S3,
    Gcs,
    Azure,
}

impl Store {
    const ALL: [Store; 4] = [Store::Local, Store::S3, Store::Gcs, Store::Azure];

    /// As the file writes it, and its table's name (`[media.s3]`).
    fn name(self) -> &'static str {
        match self {
            Store::Local => "local",
            Store::S3 => "s3",
            Store::Gcs => "gcs",
            Store::Azure => "azure",
        }
    }
}

/// Media storage and URLs, validated.
#[derive(Clone)]
pub struct MediaConfig {
    /// Where the bytes are kept.
    pub blobs: BlobsConfig,
    /// The key media URLs are signed with; `None`: the key `serve`
    /// generates once into the data directory.
    pub signing_key: Option<String>,
    /// Whether answers carry URLs unless a request asks otherwise.
    pub urls_by_default: bool,
    pub url_ttl: Duration,
    /// The origin URLs start with; else the request's host.
    pub public_url: Option<String>,
    pub variant_widths: Vec<u32>,
    /// Hand out the store's own pre-signed URLs.
    pub presigned: bool,
}

impl MediaConfig {
    /// The shortest signing key accepted: as many characters as
    /// HMAC-SHA256 has bytes of output.
    pub const MIN_SIGNING_KEY_LEN: usize = 32;
}

impl fmt::Debug for MediaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaConfig")
            .field("blobs", &self.blobs)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("urls_by_default", &self.urls_by_default)
            .field("url_ttl", &self.url_ttl)
            .field("public_url", &self.public_url)
            .field("variant_widths", &self.variant_widths)
            .field("presigned", &self.presigned)
            .finish()
    }
}

impl Resolver<'_> {
    /// The `[media]` section, every problem reported; `None` when it has any.
    /// `[media]`, resolved; a local store syncs each object to disk when
    /// `sync_local` (a durable request log).
    pub(super) fn media(
        &mut self,
        section: &MediaSection,
        data_dir: &Path,
        sync_local: bool,
    ) -> Option<MediaConfig> {
        let before = self.problems.len();
        // `None`: an unknown store, reported.
        let store = match &section.store {
            None => Some(Store::Local),
            Some(field) => {
                let known = Store::ALL
                    .into_iter()
                    .find(|store| store.name() == field.get_ref());
                if known.is_none() {
                    let names: Vec<&str> = Store::ALL.iter().map(|store| store.name()).collect();
                    self.problem_at(
                        field,
                        format!(
                            "media.store `{}` is not one of {}",
                            field.get_ref(),
                            names.join(", ")
                        ),
                    );
                }
                known
            }
        };
        if let Some(store) = store {
            self.stray_store_table(&section.s3, Store::S3, store);
            self.stray_store_table(&section.gcs, Store::Gcs, store);
            self.stray_store_table(&section.azure, Store::Azure, store);
            if let Some(dir) = &section.dir
                && store != Store::Local
            {
                self.problem_at(dir, "media.dir is for the local store only");
            }
        }
        let blobs = match store {
            None => None,
            Some(Store::Local) => Some(BlobsConfig::Local {
                root: data_dir.join(
                    section
                        .dir
                        .as_ref()
                        .map_or(DEFAULT_MEDIA_DIR, |dir| dir.get_ref()),
                ),
                sync: sync_local,
            }),
            Some(Store::S3) => self
                .store_table(section, &section.s3, Store::S3)
                .and_then(|table| self.s3(table))
                .map(BlobsConfig::S3),
            Some(Store::Gcs) => self
                .store_table(section, &section.gcs, Store::Gcs)
                .and_then(|table| self.gcs(table))
                .map(BlobsConfig::Gcs),
            Some(Store::Azure) => self
                .store_table(section, &section.azure, Store::Azure)
                .and_then(|table| self.azure(table))
                .map(BlobsConfig::Azure),
        };
        if let Some(presigned) = &section.presigned
            && *presigned.get_ref()
            && store == Some(Store::Local)
        {
            self.problem_at(
                presigned,
                "media.presigned needs a store that signs URLs (s3, gcs or azure), not local",
            );
        }
        let urls_by_default = match &section.answer {
            None => false,
            Some(field) => match field.get_ref().as_str() {
                "inline" => false,
                "url" => true,
                other => {
                    self.problem_at(
                        field,
                        format!("media.answer `{other}` is not inline or url"),
                    );
                    false
                }
            },
        };
        let url_ttl = match &section.url_ttl_secs {
            None => DEFAULT_URL_TTL,
            Some(field) => {
                let secs = *field.get_ref();
                if !(1..=MAX_URL_TTL.as_secs()).contains(&secs) {
                    self.problem_at(
                        field,
                        format!(
                            "media.url_ttl_secs must be between 1 and {} (7 days)",
                            MAX_URL_TTL.as_secs()
                        ),
                    );
                }
                Duration::from_secs(secs)
            }
        };
        let public_url = section
            .public_url
            .as_ref()
            .and_then(|field| self.public_url(field));
        let signing_key = section
            .signing_key
            .as_ref()
            .and_then(|field| self.signing_key(field));
        let variant_widths = match &section.variant_widths {
            None => DEFAULT_VARIANT_WIDTHS.to_vec(),
            Some(field) => {
                self.variant_widths(field);
                field.get_ref().clone()
            }
        };
        let blobs = blobs?;
        (self.problems.len() == before).then(|| MediaConfig {
            blobs,
            signing_key,
            urls_by_default,
            url_ttl,
            public_url,
            variant_widths,
            presigned: section
                .presigned
                .as_ref()
                .is_some_and(|presigned| *presigned.get_ref()),
        })
    }

    /// A table for a store other than the chosen one is a mistake: the
    /// operator meant one of them.
    fn stray_store_table<T>(&mut self, table: &Option<Spanned<T>>, of: Store, store: Store) {
        if let Some(table) = table
            && of != store
        {
            let (name, store) = (of.name(), store.name());
            self.problem_at(
                table,
                format!("[media.{name}] is for store = \"{name}\", but media.store is {store}"),
            );
        }
    }

    /// The chosen store's table, a problem when it is missing.
    fn store_table<'t, T>(
        &mut self,
        section: &MediaSection,
        table: &'t Option<Spanned<T>>,
        store: Store,
    ) -> Option<&'t Spanned<T>> {
        if table.is_none() {
            let name = store.name();
            let message = format!("media.store `{name}` needs a [media.{name}] table");
            match &section.store {
                Some(field) => self.problem_at(field, message),
                None => self.problem(message),
            }
        }
        table.as_ref()
    }

    /// A required text field of a store's table, not empty.
    fn required<T>(
        &mut self,
        table: &Spanned<T>,
        field: &Option<Spanned<String>>,
        name: &str,
    ) -> Option<String> {
        match field {
            None => {
                self.problem_at(table, format!("media.{name} is required"));
                None
            }
            Some(value) if value.get_ref().trim().is_empty() => {
                self.problem_at(value, format!("media.{name} is empty"));
                None
            }
            Some(value) => Some(value.get_ref().clone()),
        }
    }

    /// A required secret reference of a store's table, resolved.
    fn required_secret<T>(
        &mut self,
        table: &Spanned<T>,
        field: &Option<Spanned<String>>,
        name: &str,
    ) -> Option<String> {
        match field {
            None => {
                self.problem_at(table, format!("media.{name} is required"));
                None
            }
            Some(value) => self.secret(value, &format!("media.{name}")),
        }
    }

    fn s3(&mut self, table: &Spanned<MediaS3Section>) -> Option<S3Config> {
        let s3 = table.get_ref();
        let bucket = self.required(table, &s3.bucket, "s3.bucket");
        let region = match &s3.region {
            Some(region) if region.get_ref().trim().is_empty() => {
                self.problem_at(region, "media.s3.region is empty");
                None
            }
            Some(region) => Some(region.get_ref().clone()),
            None => Some(DEFAULT_S3_REGION.to_string()),
        };
        let allow_http = s3.allow_http.unwrap_or(false);
        let endpoint = match &s3.endpoint {
            None => Some(None),
            Some(field) => match Url::parse(field.get_ref()) {
                Ok(url) if url.scheme() == "http" && !allow_http => {
                    self.problem_at(
                        field,
                        "media.s3.endpoint is plain http://: set media.s3.allow_http = true \
                         to send objects and credentials unencrypted",
                    );
                    None
                }
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    Some(Some(field.get_ref().clone()))
                }
                _ => {
                    self.problem_at(
                        field,
                        format!(
                            "media.s3.endpoint `{}` is not an http(s) URL",
                            field.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let access_key_id = self.required_secret(table, &s3.access_key_id, "s3.access_key_id");
        let secret_access_key =
            self.required_secret(table, &s3.secret_access_key, "s3.secret_access_key");
        let endpoint = endpoint?;
        Some(S3Config {
            path_style: s3.path_style.unwrap_or(endpoint.is_some()),
            endpoint,
            bucket: bucket?,
            region: region?,
            access_key_id: access_key_id?,
            secret_access_key: secret_access_key?,
            allow_http,
        })
    }

    fn gcs(&mut self, table: &Spanned<MediaGcsSection>) -> Option<GcsConfig> {
        let gcs = table.get_ref();
        let bucket = self.required(table, &gcs.bucket, "gcs.bucket");
        let key = self.required_secret(table, &gcs.service_account, "gcs.service_account");
        Some(GcsConfig {
            bucket: bucket?,
            credentials: GcsCredentials::ServiceAccountKey(key?),
        })
    }

    fn azure(&mut self, table: &Spanned<MediaAzureSection>) -> Option<AzureConfig> {
        let azure = table.get_ref();
        let account = self.required(table, &azure.account, "azure.account");
        let container = self.required(table, &azure.container, "azure.container");
        let access_key = self.required_secret(table, &azure.access_key, "azure.access_key");
        Some(AzureConfig {
            account: account?,
            container: container?,
            access_key: access_key?,
        })
    }

    /// An http(s) origin, perhaps with a path, without query or fragment:
    /// `/media/{id}?…` is appended to it.
    fn public_url(&mut self, field: &Spanned<String>) -> Option<String> {
        let text = field.get_ref();
        match Url::parse(text) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none() =>
            {
                Some(text.trim_end_matches('/').to_string())
            }
            _ => {
                self.problem_at(
                    field,
                    format!(
                        "media.public_url `{text}` is not an http(s) URL without a query or fragment"
                    ),
                );
                None
            }
        }
    }

    fn signing_key(&mut self, field: &Spanned<String>) -> Option<String> {
        let key = self.secret(field, "media.signing_key")?;
        if key.len() < MediaConfig::MIN_SIGNING_KEY_LEN {
            self.problem_at(
                field,
                format!(
                    "media.signing_key must be at least {} characters",
                    MediaConfig::MIN_SIGNING_KEY_LEN
                ),
            );
            return None;
        }
        Some(key)
    }

    fn variant_widths(&mut self, field: &Spanned<Vec<u32>>) {
        let widths = field.get_ref();
        if let Some(width) = widths.iter().find(|w| !VARIANT_WIDTHS.contains(w)) {
            self.problem_at(
                field,
                format!(
                    "media.variant_widths: {width} is not between {} and {}",
                    VARIANT_WIDTHS.start(),
                    VARIANT_WIDTHS.end()
                ),
            );
        }
        if let Some((_, width)) = widths
            .iter()
            .enumerate()
            .find(|(at, width)| widths[..*at].contains(width))
        {
            self.problem_at(
                field,
                format!("media.variant_widths: {width} is listed twice"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{Overrides, Settings, load_source};
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn env(name: &str) -> Option<String> {
        match name {
            "SIGNING_KEY" => Some(KEY.to_string()),
            "SHORT_KEY" => Some("short".to_string()),
            "S3_ID" => Some("AKIDEXAMPLE".to_string()),
            "S3_SECRET" => Some("s3-secret".to_string()),
            "GCS_KEY" => Some("{\"type\": \"service_account\"}".to_string()),
            "AZURE_KEY" => Some("YXp1cmU=".to_string()),
            _ => None,
        }
    }

    fn load(text: &str) -> Settings {
        let overrides = Overrides {
            data_dir: Some(PathBuf::from("/var/lib/airlock")),
            ..Overrides::default()
        };
        load_source(Some(text), &overrides, &env).unwrap_or_else(|problems| {
            panic!("{problems:#?}");
        })
    }

    /// Every problem, rendered with its line.
    fn problems(text: &str) -> Vec<String> {
        load_source(Some(text), &Overrides::default(), &env)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn without_a_section_media_is_inline_in_the_data_dirs_folder() {
        let media = load("").media;
        let BlobsConfig::Local { root, sync } = &media.blobs else {
            panic!("{media:?}")
        };
        assert_eq!(root, Path::new("/var/lib/airlock/media"));
        assert!(
            !sync,
            "a fast request log: objects are not synced one by one"
        );
        assert_eq!(media.signing_key, None);
        assert!(!media.urls_by_default);
        assert_eq!(media.url_ttl, Duration::from_secs(3600));
        assert_eq!(media.public_url, None);
        assert_eq!(media.variant_widths, [64, 128, 256, 512, 1024]);
        assert!(!media.presigned);
    }

    #[test]
    fn a_local_store_reads_every_key() {
        let media = load(
            "[media]\nstore = \"local\"\ndir = \"pictures\"\nanswer = \"url\"\n\
             url_ttl_secs = 604800\npublic_url = \"https://cdn.example.com/airlock/\"\n\
             signing_key = \"env:SIGNING_KEY\"\nvariant_widths = [16, 4096]\npresigned = false\n",
        )
        .media;
        let BlobsConfig::Local { root, .. } = &media.blobs else {
            panic!("{media:?}")
        };
        assert_eq!(root, Path::new("/var/lib/airlock/pictures"));
        assert!(media.urls_by_default);
        assert_eq!(media.url_ttl, MAX_URL_TTL);
        assert_eq!(
            media.public_url.as_deref(),
            Some("https://cdn.example.com/airlock")
        );
        assert_eq!(media.signing_key.as_deref(), Some(KEY));
        assert_eq!(media.variant_widths, [16, 4096]);
        // An absolute folder is taken as it is.
        let media = load("[media]\ndir = \"/srv/media\"\n").media;
        assert!(
            matches!(&media.blobs, BlobsConfig::Local { root, .. } if root == Path::new("/srv/media"))
        );
    }

    #[test]
    fn an_s3_store_defaults_path_style_to_whether_an_endpoint_is_given() {
        let minio = load(
            "[media]\nstore = \"s3\"\npresigned = true\n\n[media.s3]\nbucket = \"media\"\n\
             endpoint = \"http://127.0.0.1:8333\"\nallow_http = true\n\
             access_key_id = \"env:S3_ID\"\nsecret_access_key = \"env:S3_SECRET\"\n",
        )
        .media;
        assert!(minio.presigned);
        let BlobsConfig::S3(s3) = &minio.blobs else {
            panic!("{minio:?}")
        };
        assert_eq!(s3.bucket, "media");
        assert_eq!(s3.region, DEFAULT_S3_REGION);
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(s3.access_key_id, "AKIDEXAMPLE");
        assert_eq!(s3.secret_access_key, "s3-secret");
        assert!(s3.path_style);
        assert!(s3.allow_http);
        let aws = load(
            "[media]\nstore = \"s3\"\n[media.s3]\nbucket = \"media\"\nregion = \"eu-west-3\"\n\
             access_key_id = \"env:S3_ID\"\nsecret_access_key = \"env:S3_SECRET\"\n",
        )
        .media;
        let BlobsConfig::S3(s3) = &aws.blobs else {
            panic!("{aws:?}")
        };
        assert_eq!(s3.region, "eu-west-3");
        assert_eq!(s3.endpoint, None);
        assert!(!s3.path_style);
        assert!(!s3.allow_http);
        let virtual_hosted = load(
            "[media]\nstore = \"s3\"\n[media.s3]\nbucket = \"b\"\n\
             endpoint = \"https://acct.r2.cloudflarestorage.com\"\npath_style = false\n\
             access_key_id = \"env:S3_ID\"\nsecret_access_key = \"env:S3_SECRET\"\n",
        )
        .media;
        assert!(matches!(&virtual_hosted.blobs, BlobsConfig::S3(s3) if !s3.path_style));
    }

    #[test]
    fn gcs_and_azure_stores_read_their_tables() {
        let gcs = load(
            "[media]\nstore = \"gcs\"\n[media.gcs]\nbucket = \"media\"\n\
             service_account = \"env:GCS_KEY\"\n",
        )
        .media;
        let BlobsConfig::Gcs(gcs) = &gcs.blobs else {
            panic!("{gcs:?}")
        };
        assert_eq!(gcs.bucket, "media");
        assert!(matches!(
            &gcs.credentials,
            GcsCredentials::ServiceAccountKey(key) if key.contains("service_account")
        ));
        let azure = load(
            "[media]\nstore = \"azure\"\n[media.azure]\naccount = \"acct\"\n\
             container = \"media\"\naccess_key = \"env:AZURE_KEY\"\n",
        )
        .media;
        let BlobsConfig::Azure(azure) = &azure.blobs else {
            panic!("{azure:?}")
        };
        assert_eq!(
            (azure.account.as_str(), azure.container.as_str()),
            ("acct", "media")
        );
        assert_eq!(azure.access_key, "YXp1cmU=");
    }

    #[test]
    fn the_signing_key_never_shows_in_debug() {
        let media = load("[media]\nsigning_key = \"env:SIGNING_KEY\"\n").media;
        let shown = format!("{media:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn every_media_problem_is_reported_at_its_line() {
        let text = r#"[media]
store = "ftp"
answer = "base64"
url_ttl_secs = 0
public_url = "https://cdn.example.com/?token=1"
signing_key = "an-inline-signing-key-that-is-long-enough"
variant_widths = [64, 8, 64]
"#;
        assert_eq!(
            problems(text),
            [
                "line 2: media.store `ftp` is not one of local, s3, gcs, azure",
                "line 3: media.answer `base64` is not inline or url",
                "line 4: media.url_ttl_secs must be between 1 and 604800 (7 days)",
                "line 5: media.public_url `https://cdn.example.com/?token=1` is not an http(s) \
                 URL without a query or fragment",
                "line 6: media.signing_key: secrets must be given as `env:NAME` or `file:PATH` \
                 references, not inline",
                "line 7: media.variant_widths: 8 is not between 16 and 4096",
                "line 7: media.variant_widths: 64 is listed twice",
            ]
        );
        let text = r#"[media]
presigned = true
url_ttl_secs = 604801
public_url = "ftp://cdn.example.com"
signing_key = "env:SHORT_KEY"
variant_widths = [4097]
"#;
        assert_eq!(
            problems(text),
            [
                "line 2: media.presigned needs a store that signs URLs (s3, gcs or azure), not local",
                "line 3: media.url_ttl_secs must be between 1 and 604800 (7 days)",
                "line 4: media.public_url `ftp://cdn.example.com` is not an http(s) URL without \
                 a query or fragment",
                "line 5: media.signing_key must be at least 32 characters",
                "line 6: media.variant_widths: 4097 is not between 16 and 4096",
            ]
        );
    }

    #[test]
    fn store_tables_that_are_missing_stray_or_incomplete_are_problems() {
        let text = r#"[media]
store = "s3"
dir = "media"

[media.s3]
endpoint = "http://127.0.0.1:8333"
access_key_id = "AKIAINLINE"

[media.gcs]
bucket = "other"
"#;
        let found = problems(text);
        assert_eq!(
            found,
            [
                "line 3: media.dir is for the local store only",
                "line 5: media.s3.bucket is required",
                "line 5: media.s3.secret_access_key is required",
                "line 6: media.s3.endpoint is plain http://: set media.s3.allow_http = true to \
                 send objects and credentials unencrypted",
                "line 7: media.s3.access_key_id: secrets must be given as `env:NAME` or \
                 `file:PATH` references, not inline",
                "line 9: [media.gcs] is for store = \"gcs\", but media.store is s3",
            ]
        );
        assert!(!found.iter().any(|p| p.contains("AKIAINLINE")), "{found:?}");
        assert_eq!(
            problems("[media]\nstore = \"azure\"\n"),
            ["line 2: media.store `azure` needs a [media.azure] table"]
        );
        assert_eq!(
            problems("[media.s3]\nbucket = \"b\"\n"),
            ["line 1: [media.s3] is for store = \"s3\", but media.store is local"]
        );
        assert_eq!(
            problems(
                "[media]\nstore = \"gcs\"\n[media.gcs]\nbucket = \"\"\n\
                 service_account = \"env:UNSET\"\nproject = \"p\"\n"
            ),
            [
                "line 4: media.gcs.bucket is empty",
                "line 5: media.gcs.service_account: environment variable UNSET is not set",
                "line 6: unknown field `project`, expected `bucket` or `service_account`",
            ]
        );
        assert_eq!(
            problems("[media]\nstore = \"azure\"\n[media.azure]\naccount = \"a\"\n"),
            [
                "line 3: media.azure.container is required",
                "line 3: media.azure.access_key is required",
            ]
        );
        assert_eq!(
            problems(
                "[media]\nstore = \"s3\"\n[media.s3]\nbucket = \"b\"\nendpoint = \"not a url\"\n\
                 access_key_id = \"env:S3_ID\"\nsecret_access_key = \"env:S3_SECRET\"\n"
            ),
            ["line 5: media.s3.endpoint `not a url` is not an http(s) URL"]
        );
    }
}
