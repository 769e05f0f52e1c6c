//! The `[receipts]` section: whether requests get receipts, the key that
//! signs the log's checkpoints (a secret reference to a C2SP signed-note
//! signer key, checked here; made in the data directory by `serve` when
//! absent), the log's origin and how often it is checkpointed, a witness's
//! key that cosigns each checkpoint, whether the log is copied to the
//! media object store, and `[receipts.anchor]`, the webhook checkpoints
//! are published to.

use std::time::Duration;

use super::Resolver;
use super::file::{AnchorSection, ReceiptsSection};

/// The log's name when none is configured (nor implied by a key).
pub const DEFAULT_ORIGIN: &str = "airlock.local/receipts";

/// The checkpoint interval when none is configured.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The receipts log as configured.
#[derive(Debug, Clone)]
pub struct ReceiptsConfig {
    /// The signer key's text (a resolved secret), or `None` for the one
    /// kept in the data directory.
    pub signing_key: Option<String>,
    /// The checkpoints' origin: the signer key's name.
    pub origin: String,
    pub checkpoint_interval: Duration,
    /// The witness's signer key text (a resolved secret), when one
    /// cosigns each checkpoint.
    pub witness_key: Option<String>,
    /// Where checkpoints are published, and how often.
    pub anchor: Option<AnchorConfig>,
    /// How often the log's copy in the media object store catches up,
    /// when it is copied.
    pub mirror: Option<Duration>,
}

/// `[receipts.anchor]`, resolved.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    pub url: String,
    pub secret: String,
    pub interval: Duration,
}

/// How often the log's copy in the object store catches up when not
/// configured.
const DEFAULT_MIRROR_INTERVAL: Duration = Duration::from_secs(10);

/// How often checkpoints are anchored when not configured.
const DEFAULT_ANCHOR_INTERVAL: Duration = Duration::from_secs(60);

impl Resolver<'_> {
    pub(super) fn receipts(&mut self, section: &ReceiptsSection) -> Option<ReceiptsConfig> {
        if section.enabled == Some(false) {
            return None;
        }
        let origin = section
            .origin
            .as_ref()
            .map(|origin| origin.get_ref().clone());
        if let Some(field) = &section.origin
            && let Err(problem) = airlock_receipts::note::keys::check_key_name(field.get_ref())
        {
            self.problem_at(field, format!("receipts.origin: {problem}"));
        }
        let signing_key = section
            .signing_key
            .as_ref()
            .and_then(|field| Some((field, self.secret(field, "receipts.signing_key")?)));
        let mut key_name = None;
        if let Some((field, text)) = &signing_key {
            match airlock_receipts::SignerKey::parse(text.trim()) {
                Ok(key) => key_name = Some(key.name().to_string()),
                Err(error) => self.problem_at(
                    field,
                    format!(
                        "receipts.signing_key is not a signed-note signer key \
                         (PRIVATE+KEY+name+hash+key; `airlock receipts keygen` makes one): {error}"
                    ),
                ),
            }
        }
        if let (Some(name), Some(field)) = (&key_name, &section.origin)
            && name != field.get_ref()
        {
            self.problem_at(
                field,
                format!(
                    "receipts.origin is {:?}, but receipts.signing_key is named {name:?}: \
                     a checkpoint's signer is named after its origin",
                    field.get_ref()
                ),
            );
        }
        let interval = match &section.checkpoint_interval_ms {
            None => DEFAULT_INTERVAL,
            Some(field) if *field.get_ref() == 0 => {
                self.problem_at(field, "receipts.checkpoint_interval_ms must be at least 1");
                DEFAULT_INTERVAL
            }
            Some(field) => Duration::from_millis(*field.get_ref()),
        };
        let witness_key = section.witness_key.as_ref().and_then(|field| {
            let text = self
                .secret(field, "receipts.witness_key")?
                .trim()
                .to_string();
            match airlock_receipts::CosignerKey::parse(&text) {
                Ok(_) => Some(text),
                Err(error) => {
                    self.problem_at(
                        field,
                        format!(
                            "receipts.witness_key is not a signed-note signer key \
                             (`airlock receipts keygen` makes one): {error}"
                        ),
                    );
                    None
                }
            }
        });
        let mirror_interval = match &section.mirror_interval_secs {
            None => DEFAULT_MIRROR_INTERVAL,
            Some(field) if *field.get_ref() == 0 => {
                self.problem_at(field, "receipts.mirror_interval_secs must be at least 1");
                DEFAULT_MIRROR_INTERVAL
            }
            Some(field) => Duration::from_secs(*field.get_ref()),
        };
        let mirror = (section.mirror == Some(true)).then_some(mirror_interval);
        let anchor = section
            .anchor
            .as_ref()
            .and_then(|anchor| self.anchor(anchor));
        Some(ReceiptsConfig {
            witness_key,
            anchor,
            mirror,
            signing_key: signing_key.map(|(_, text)| text.trim().to_string()),
            origin: key_name
                .or(origin)
                .unwrap_or_else(|| DEFAULT_ORIGIN.to_string()),
            checkpoint_interval: interval,
        })
    }

    fn anchor(&mut self, section: &AnchorSection) -> Option<AnchorConfig> {
        let url = match section.webhook_url.get_ref() {
            text if text.starts_with("env:") || text.starts_with("file:") => {
                self.secret(&section.webhook_url, "receipts.anchor.webhook_url")?
            }
            text => text.clone(),
        };
        let secret = self.secret(&section.webhook_secret, "receipts.anchor.webhook_secret")?;
        let interval = match &section.interval_secs {
            None => DEFAULT_ANCHOR_INTERVAL,
            Some(field) => Duration::from_secs(*field.get_ref()),
        };
        match airlock_gateway::receipts::Anchor::new(&url, &secret, interval) {
            Ok(_) => Some(AnchorConfig {
                url,
                secret,
                interval,
            }),
            Err(message) => {
                self.problem_at(&section.webhook_url, format!("receipts.anchor: {message}"));
                None
            }
        }
    }
}
