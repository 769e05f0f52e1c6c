use std::collections::HashMap;

use super::*;
use airlock_gateway::limits::WhenDown;
use airlock_gateway::resilience::Trigger;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn load_text(
    text: &str,
    overrides: &Overrides,
    env: &[(&str, &str)],
) -> Result<Settings, Vec<Problem>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.toml");
    std::fs::write(&path, text).unwrap();
    load(Some(&path), overrides, &env_of(env))
}

#[test]
fn defaults_with_nothing_configured_serve_the_simulator() {
    let settings = load(None, &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(settings.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(settings.provider_source, ProviderSource::Simulator);
    assert!(settings.providers.is_empty());
    assert_eq!(settings.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert!(settings.master_key.is_none());
}

#[test]
fn discovers_providers_from_key_variables() {
    let overrides = Overrides {
        gemini_api_key: Some("g1, g2".into()),
        openai_api_key: Some("o1".into()),
        openai_base_url: Some("http://127.0.0.1:9/v1".into()),
        master_key: Some("m".into()),
        ..Overrides::default()
    };
    let settings = load(None, &overrides, &env_of(&[])).unwrap();
    assert_eq!(settings.provider_source, ProviderSource::Environment);
    let names: Vec<_> = settings
        .providers
        .iter()
        .map(|p| (p.name.as_str(), p.keys.len()))
        .collect();
    assert_eq!(names, [("gemini", 2), ("openai", 1)]);
    assert_eq!(
        settings.providers[0].base_url.as_str(),
        "https://generativelanguage.googleapis.com/"
    );
    assert_eq!(
        settings.providers[1].base_url.as_str(),
        "http://127.0.0.1:9/v1"
    );
    assert_eq!(settings.master_key.as_deref(), Some("m"));
}

#[test]
fn reads_a_full_file_and_lets_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("openai.key");
    std::fs::write(&key_file, "sk-from-file\n").unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:9000"
max_body_bytes = 1000
master_key = "env:MY_MASTER"

[[providers]]
name = "google"
kind = "gemini"
keys = ["env:G1", "env:G2"]

[[providers]]
name = "local"
kind = "openai_compatible"
base_url = "http://127.0.0.1:11434/v1"

[[providers]]
name = "oai"
kind = "openai"
keys = ["file:{}"]

[[routes]]
model = "fast"
provider = "google"
upstream_model = "gemini-2.5-flash"

[[routes]]
model = "llama-*"
provider = "local"
"#,
        key_file.display()
    );
    let overrides = Overrides {
        listen: Some("127.0.0.1:9100".into()),
        ..Overrides::default()
    };
    let settings = load_text(
        &text,
        &overrides,
        &[("MY_MASTER", "mk"), ("G1", "a"), ("G2", "b")],
    )
    .unwrap();
    assert_eq!(settings.listen.port(), 9100);
    assert_eq!(settings.max_body_bytes, 1000);
    assert_eq!(settings.master_key.as_deref(), Some("mk"));
    assert_eq!(settings.provider_source, ProviderSource::File);
    assert_eq!(settings.providers[0].keys, ["a", "b"]);
    assert!(settings.providers[1].keys.is_empty());
    assert!(!settings.providers[1].default_routes);
    assert_eq!(settings.providers[2].keys, ["sk-from-file"]);
    assert_eq!(settings.routes.len(), 2);
    assert_eq!(
        settings.routes[0].upstream_model.as_deref(),
        Some("gemini-2.5-flash")
    );
}

#[test]
fn reports_every_problem_with_its_line() {
    let text = r#"[server]
listen = "nowhere"
max_body_bytes = "big"
[[providers]]
name = "g"
kind = "gemini"
keys = ["AIzaInlineKey", "env:UNSET_VARIABLE"]

[[providers]]
name = "x"
kind = "anthropic"
keys = ["sk-inline"]
[[routes]]
model = "a*b"
provider = "missing"

[[routes]]
model = "ok"
provider = "x"
"#;
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    // Syntax and type errors do not hide the rest, and all come in line order.
    let lines: Vec<usize> = problems.iter().map(|p| p.line.unwrap()).collect();
    assert_eq!(lines, [2, 3, 7, 7, 11, 12, 14, 15], "{rendered:?}");
    assert_eq!(
        rendered[1],
        "line 3: invalid type: string \"big\", expected usize"
    );
    // A wrong kind does not hide the section's other problems.
    assert!(
        rendered[5].starts_with("line 12: provider key: secrets must be given as"),
        "{rendered:?}"
    );
    // A route naming a provider with problems of its own is not reported again.
    assert!(
        !rendered.iter().any(|p| p.contains("provider `x`")),
        "{rendered:?}"
    );
    assert!(
        rendered.contains(&"line 2: listen address `nowhere` is not IP:PORT".to_string()),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.starts_with("line 7: provider key: secrets must be given as")),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p == "line 7: provider key: environment variable UNSET_VARIABLE is not set")
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.starts_with("line 11: unknown provider kind `anthropic`"))
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.starts_with("line 14: route model `a*b`"))
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.starts_with("line 15: route names provider `missing`"))
    );
    // No key value ever appears in a problem.
    assert!(!rendered.iter().any(|p| p.contains("AIzaInlineKey")));
}

#[test]
fn reports_syntax_and_unknown_fields_with_lines() {
    let problems = load_text(
        "[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n",
        &Overrides::default(),
        &[],
    )
    .unwrap_err();
    assert_eq!(problems[0].line, Some(3));
    assert!(
        problems[0].message.contains("unknown field `listne`"),
        "{}",
        problems[0].message
    );
    let problems = load_text("[server\n", &Overrides::default(), &[]).unwrap_err();
    assert_eq!(problems[0].line, Some(1));
}

#[test]
fn refuses_a_public_address_without_a_client_key() {
    let overrides = Overrides {
        listen: Some("0.0.0.0:8080".into()),
        ..Overrides::default()
    };
    let problems = load(None, &overrides, &env_of(&[])).unwrap_err();
    assert!(problems[0].message.contains("not a loopback address"));
    let insecure = Overrides {
        insecure_no_auth: Some(true),
        ..overrides.clone()
    };
    assert!(load(None, &insecure, &env_of(&[])).is_ok());
    let with_key = Overrides {
        master_key: Some("k".into()),
        ..overrides.clone()
    };
    assert!(load(None, &with_key, &env_of(&[])).is_ok());
    let blank_key = Overrides {
        master_key: Some("  ".into()),
        ..overrides
    };
    assert!(load(None, &blank_key, &env_of(&[])).is_err());
}

#[test]
fn documented_example_is_a_valid_configuration() {
    let doc = include_str!("../../../../docs/configuration.md");
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("docs/configuration.md has a ```toml block");
    // The example's `file:` secrets are under /run/secrets/: make them here.
    let placeholder = "file:/run/secrets/";
    assert!(
        example.contains(placeholder),
        "the example has no file: secret"
    );
    let secrets = tempfile::tempdir().unwrap();
    for name in ["airlock-master-key", "openai-key"] {
        std::fs::write(secrets.path().join(name), format!("{name}-value\n")).unwrap();
    }
    let example = example.replace(placeholder, &format!("file:{}/", secrets.path().display()));
    let env = [
        ("DATABASE_URL", "postgres://airlock@db.internal/airlock"),
        ("REDIS_URL", "redis://redis.internal:6379"),
        ("ADMIN_TOKEN", "admin"),
        ("GEMINI_KEY_1", "g1"),
        ("GEMINI_KEY_2", "g2"),
        ("ALERT_WEBHOOK_SECRET", "alert-secret"),
        ("TOOL_WEBHOOK_SECRET", "tool-secret"),
        ("MEDIA_SIGNING_KEY", "a-media-signing-key-of-32-characters"),
        ("RECEIPTS_SIGNING_KEY", TEST_RECEIPTS_KEY),
        ("S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("S3_SECRET_ACCESS_KEY", "s3-secret"),
        (
            "AIRLOCK_DATA_KEY",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
    ];
    let settings = load_text(&example, &Overrides::default(), &env).unwrap_or_else(|problems| {
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("the documented example has problems: {rendered:#?}")
    });
    // Every section was read, not merely parsed.
    assert_eq!(settings.provider_source, ProviderSource::File);
    let receipts = settings.receipts.as_ref().unwrap();
    assert_eq!(receipts.origin, "PeterNeumann");
    assert_eq!(receipts.signing_key.as_deref(), Some(TEST_RECEIPTS_KEY));
    assert!(settings.sealer.is_some());
    assert!(settings.exports.is_some() && settings.backups.is_some());
    assert!(settings.cluster.is_some() && settings.admin_listen.is_some());
    assert_eq!(
        settings.master_key.as_deref(),
        Some("airlock-master-key-value")
    );
    assert_eq!(settings.providers[1].keys, ["openai-key-value"]);
    assert!(settings.providers.iter().any(|p| p.queue.is_some()));
    assert!(!settings.routes.is_empty());
    assert!(settings.ban.is_some());
    assert!(settings.alert_webhook.is_some());
    assert!(!settings.end_user_issuers.is_empty());
    assert!(!settings.prices.is_empty());
    assert!(!settings.realtime_tools.is_empty());
    // The TLS files are only named here; `serve` reads them.
    assert!(settings.tls.is_some());
    assert_eq!(
        settings.providers[1].timeouts.connect,
        Duration::from_secs(5)
    );
    assert!(settings.routes.iter().any(|r| r.deployments.len() == 2));
    assert!(settings.routes.iter().any(|r| r.timeouts.total.is_some()));
    assert_eq!(settings.media.blobs.backend_name(), "s3");
    assert!(settings.media.urls_by_default);
    assert!(settings.media.signing_key.is_some());
}

#[test]
fn deployments_and_timeouts_are_read_over_their_defaults() {
    let text = r#"
[[routes]]
model = "assistant"
deployments = [
  { provider = "openai", upstream_model = "gpt-4o", weight = 3 },
  { provider = "gemini" },
]
balance = "weighted"
upstream_model = "gemini-2.5-pro"
timeouts = { total_secs = 90 }
"#;
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    let route = &settings.routes[0];
    assert_eq!(route.balance, Balance::Weighted);
    assert_eq!(
        route.deployments,
        [
            DeploymentSettings {
                provider: "openai".into(),
                upstream_model: Some("gpt-4o".into()),
                weight: 3
            },
            DeploymentSettings {
                provider: "gemini".into(),
                upstream_model: None,
                weight: 1
            },
        ]
    );
    assert_eq!(route.upstream_model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(route.timeouts.total, Some(Duration::from_secs(90)));
    assert_eq!(route.timeouts.first_byte, None, "the provider's");

    let providers = r#"
[[providers]]
name = "openai"
kind = "openai"
keys = ["env:K"]
timeouts = { first_byte_secs = 7 }
"#;
    let settings = load_text(providers, &Overrides::default(), &[("K", "k")]).unwrap();
    let timeouts = settings.providers[0].timeouts;
    assert_eq!(timeouts.first_byte, Duration::from_secs(7));
    assert_eq!(
        timeouts.idle,
        Duration::from_secs(300),
        "upstream_timeout_secs"
    );
    assert_eq!(timeouts.connect, Duration::from_secs(10));
    assert_eq!(timeouts.total, None);
}

#[test]
fn bad_deployments_and_timeouts_are_reported_with_their_lines() {
    let text = r#"[[routes]]
model = "a"
provider = "openai"
deployments = [{ provider = "gemini" }]

[[routes]]
model = "b"

[[routes]]
model = "c"
deployments = [{ provider = "openai", weight = 0 }, { provider = "openai" }, { provider = "nobody" }]
balance = "random"
timeouts = { total_secs = 0 }

[[routes]]
model = "d"
provider = "openai"
timeouts = { connect_secs = 1 }
"#;
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expected = [
        "line 3: a route has a provider or deployments, not both",
        "line 7: a route needs a provider or deployments",
        "line 11: a deployment's weight must be greater than zero",
        "line 11: provider `openai` is named twice in the route's deployments",
        "line 11: route names provider `nobody`, which is not defined",
        "line 12: balance `random` is not one of weighted, latency",
        "line 13: timeouts.total_secs must be greater than zero",
    ];
    for expected in expected {
        assert!(
            rendered.iter().any(|p| p == expected),
            "{expected:?} not in {rendered:#?}"
        );
    }
    assert!(
        rendered
            .iter()
            .any(|p| p.starts_with("line 18:") && p.contains("connect_secs")),
        "a route has no connect timeout: {rendered:#?}"
    );
}

#[test]
fn routes_may_name_the_simulators_providers() {
    let text = "[[routes]]\nmodel = \"fast\"\nprovider = \"gemini\"\nupstream_model = \"gemini-2.5-flash\"\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    assert_eq!(settings.provider_source, ProviderSource::Simulator);
    assert_eq!(settings.routes[0].deployments[0].provider, "gemini");
}

#[test]
fn the_flag_can_turn_off_what_the_file_turns_on() {
    let text = "[server]\nlisten = \"0.0.0.0:8080\"\ninsecure_no_auth = true\n";
    assert!(load_text(text, &Overrides::default(), &[]).is_ok());
    let off = Overrides {
        insecure_no_auth: Some(false),
        ..Overrides::default()
    };
    let problems = load_text(text, &off, &[]).unwrap_err();
    assert!(problems[0].message.contains("not a loopback address"));
}

#[test]
fn file_values_out_of_range_are_reported_at_their_line() {
    let text =
        "[server]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = 0\ndatabase_url = \"mysql://x\"\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "line 3: max_body_bytes must be greater than zero",
            "line 4: database URL must start with postgres://, postgresql:// or sqlite:",
        ]
    );
}

#[test]
fn routes_fall_back_to_routed_models_on_named_triggers() {
    let text = r#"
[[routes]]
model = "smart"
provider = "openai"
upstream_model = "gpt-4o"
fallbacks = ["gpt-4o-mini", "gemini-2.5-flash"]
fallback_on = ["errors", "context_length"]

[retries]
max_retries = 3
base_delay_ms = 50

[circuit_breaker]
failures_to_open = 7
"#;
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    let fallbacks = settings.routes[0].fallbacks.clone().unwrap();
    assert_eq!(fallbacks.models, ["gpt-4o-mini", "gemini-2.5-flash"]);
    assert_eq!(fallbacks.on, [Trigger::Errors, Trigger::ContextLength]);
    assert_eq!(settings.retries.max_retries, 3);
    assert_eq!(settings.retries.base_delay, Duration::from_millis(50));
    assert_eq!(settings.retries.max_delay, RetryPolicy::default().max_delay);
    assert_eq!(settings.breaker.failures_to_open, 7);
    assert_eq!(settings.breaker.open_for, BreakerPolicy::default().open_for);

    let bad = r#"
[[routes]]
model = "smart"
provider = "openai"
fallbacks = ["nobody-serves-this", "smart"]
fallback_on = ["sometimes"]

[retries]
base_delay_ms = 500
max_delay_ms = 100
budget_percent = 150
"#;
    let problems: Vec<String> = load_text(bad, &Overrides::default(), &[])
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "line 5: fallback `nobody-serves-this` is served by no route or provider",
        "line 5: fallback `smart` must be a model name other than the route's own",
        "line 6: fallback_on `sometimes` is not one of",
        "line 10: retries.max_delay_ms must be at least base_delay_ms",
        "line 11: retries.budget_percent must be between 0 and 100",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected}: {problems:?}"
        );
    }
}

#[test]
fn server_limits_are_read_checked_and_overridden_by_flags() {
    let text = "[server]\nmax_body_bytes = 1000\nheader_timeout_secs = 5\n\
                keep_alive_timeout_secs = 90\nbody_timeout_secs = 20\n\
                body_min_bytes_per_sec = 0\nmax_connections = 500\n\
                body_budget_bytes = 4000\nshutdown_grace_secs = 12\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    let policy = &settings.server_policy;
    assert_eq!(policy.header_timeout, Duration::from_secs(5));
    assert_eq!(policy.keep_alive_timeout, Duration::from_secs(90));
    assert_eq!(policy.body_timeout, Duration::from_secs(20));
    assert_eq!(policy.body_min_rate, 0);
    assert_eq!(policy.max_connections, Some(500));
    assert_eq!(policy.body_budget_bytes, Some(4000));
    assert_eq!(policy.shutdown_grace, Duration::from_secs(12));
    let flags = Overrides {
        max_connections: Some(7),
        body_budget_bytes: Some(3000),
        shutdown_grace_secs: Some(0),
        ..Overrides::default()
    };
    let policy = load_text(text, &flags, &[]).unwrap().server_policy;
    assert_eq!(policy.max_connections, Some(7));
    assert_eq!(policy.body_budget_bytes, Some(3000));
    assert_eq!(policy.shutdown_grace, Duration::ZERO);
    // Defaults: the cap is left to `serve` (the open-files limit).
    let defaults = load(None, &Overrides::default(), &env_of(&[]))
        .unwrap()
        .server_policy;
    assert_eq!(defaults.max_connections, None);
    assert_eq!(defaults.body_budget_bytes, None);
}

#[test]
fn server_limits_that_cannot_work_are_problems_with_their_lines() {
    let text = "[server]\nmax_body_bytes = 1000\nheader_timeout_secs = 0\n\
                max_connections = 0\nbody_budget_bytes = 999\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let lines: Vec<_> = problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(lines.len(), 3, "{problems:?}");
    assert_eq!(lines[0].0, Some(3));
    assert!(lines[0].1.contains("header_timeout_secs"));
    assert_eq!(lines[1].0, Some(4));
    assert!(lines[1].1.contains("max_connections"));
    assert_eq!(lines[2].0, Some(5));
    assert!(lines[2].1.contains("body_budget_bytes"));
    let flags = Overrides {
        body_budget_bytes: Some(10),
        ..Overrides::default()
    };
    let problems = load_text("[server]\nmax_body_bytes = 1000\n", &flags, &[]).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, None, "a flag's problem has no line");
}

#[test]
fn the_files_section_sets_the_limit_and_types_and_reports_bad_ones() {
    let defaults = load(None, &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(
        defaults.files.max_bytes,
        airlock_gateway::files::DEFAULT_MAX_BYTES
    );
    let text = "[files]\nmax_mb = 5\naccepted_types = [\"application/pdf\", \"text/*\"]\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    assert_eq!(settings.files.max_bytes, 5 << 20);
    assert_eq!(
        settings.files.accepted.rules(),
        ["application/pdf", "text/*"]
    );

    let text = "[files]\nmax_mb = 0\naccepted_types = [\"pdf\"]\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "line 2: files.max_mb must be at least 1",
            "line 3: files.accepted_types: `pdf` is not a MIME type (`application/pdf`) or pattern (`image/*`, `*/*`)",
        ]
    );
}

#[test]
fn the_jobs_section_bounds_the_runner_and_refuses_zero() {
    let defaults = load(None, &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(defaults.jobs, airlock_jobs::RunnerLimits::default());
    let text = "[jobs]\nconcurrency = 32\nper_job = 16\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    assert_eq!((settings.jobs.concurrency, settings.jobs.per_job), (32, 16));

    let text = "[jobs]\nconcurrency = 0\nper_job = 0\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "line 2: jobs.concurrency must be a whole number from 1",
            "line 3: jobs.per_job must be a whole number from 1",
        ]
    );
}

#[test]
fn content_log_patterns_must_be_valid_regexes() {
    let text = "[content_log]\nredact_patterns = [\"ORDER-\\\\d+\"]\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    assert_eq!(
        settings.content_redactor.redact("ORDER-42 for a@b.example"),
        "[redacted] for [email]"
    );
    let text = "[content_log]\nredact_patterns = [\"(unclosed\"]\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(rendered.len(), 1);
    assert!(
        rendered[0]
            .starts_with("line 2: content_log.redact_patterns: `(unclosed` is not a valid regex"),
        "{rendered:?}"
    );
}

#[test]
fn exports_and_backups_run_on_a_schedule_from_a_time_of_day() {
    let text = "[exports]\nevery_hours = 24\nat = \"02:30\"\nprojects = [\"story\"]\nkinds = [\"request_log\", \"content\"]\n\n[backups]\ndir = \"/var/backups/airlock\"\nevery_hours = 12\nkeep = 3\n";
    let settings = load_text(text, &Overrides::default(), &[]).unwrap();
    let exports = settings.exports.unwrap();
    assert_eq!(exports.every, Duration::from_secs(24 * 3600));
    assert_eq!(exports.offset, Duration::from_secs(2 * 3600 + 30 * 60));
    assert_eq!(exports.projects, ["story"]);
    assert_eq!(
        exports.kinds,
        [
            airlock_store::UserDataKind::RequestLog,
            airlock_store::UserDataKind::Content
        ]
    );
    let backups = settings.backups.unwrap();
    assert_eq!(backups.dir, PathBuf::from("/var/backups/airlock"));
    assert_eq!(
        (backups.every, backups.offset, backups.keep),
        (Duration::from_secs(12 * 3600), Duration::ZERO, 3)
    );
    let defaults = load_text("", &Overrides::default(), &[]).unwrap();
    assert_eq!((defaults.exports, defaults.backups), (None, None));
}

#[test]
fn a_schedule_without_its_period_or_folder_or_with_a_bad_time_is_refused() {
    let text = "[exports]\nat = \"25:00\"\nevery_hours = 24\nkinds = [\"media\"]\n\n[backups]\nevery_hours = 0\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expected = [
        "line 2: exports.at must be a time of day, HH:MM (UTC)",
        "backups.dir is required",
    ];
    for expected in expected {
        assert!(
            rendered.iter().any(|p| p.contains(expected)),
            "{expected}: {rendered:?}"
        );
    }
    let text = "[backups]\ndir = \"b\"\nevery_hours = 0\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    assert!(
        problems[0]
            .to_string()
            .contains("backups.every_hours must be from 1"),
        "{problems:?}"
    );
    let text = "[exports]\nevery_hours = 24\nkinds = [\"media\"]\n";
    let problems = load_text(text, &Overrides::default(), &[]).unwrap_err();
    assert!(
        problems[0].to_string().contains("exports.kinds: \"media\""),
        "{problems:?}"
    );
}

#[test]
fn a_data_key_is_a_secret_reference_to_32_bytes_and_previous_keys_open_old_rows() {
    let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="; // 32 bytes of 1
    let old = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="; // 32 bytes of 2
    let text = "[encryption]\nkey = \"env:DATA_KEY\"\nprevious_keys = [\"env:OLD_KEY\"]\n";
    let env = [("DATA_KEY", key), ("OLD_KEY", old)];
    let settings = load_text(text, &Overrides::default(), &env).unwrap();
    let sealer = settings.sealer.expect("a sealer");
    let old_sealer = airlock_store::Sealer::new(&[2; 32], &[]).unwrap();
    let sealed = old_sealer.seal(airlock_store::SealedColumn::Transcript, "hi");
    assert_eq!(
        sealer
            .open(airlock_store::SealedColumn::Transcript, sealed)
            .unwrap(),
        "hi"
    );
    assert!(
        load_text("", &Overrides::default(), &[])
            .unwrap()
            .sealer
            .is_none()
    );

    let short = [("DATA_KEY", "c2hvcnQ=")];
    let problems = load_text(
        "[encryption]\nkey = \"env:DATA_KEY\"\n",
        &Overrides::default(),
        &short,
    )
    .unwrap_err();
    assert!(
        problems[0]
            .to_string()
            .contains("line 2: encryption.key: a data key is base64 of 32 random bytes"),
        "{problems:?}"
    );
    let inline =
        load_text("[encryption]\nkey = \"AQEB\"\n", &Overrides::default(), &[]).unwrap_err();
    assert!(
        inline[0].to_string().contains("encryption.key"),
        "{inline:?}"
    );
}

#[test]
fn cluster_mode_is_read_with_its_defaults_and_the_flag_wins() {
    let text = r#"
[cluster]
redis_url = "env:REDIS"
key_prefix = "gw1"
limits_when_redis_down = "refuse"

[media]
signing_key = "env:MEDIA_KEY"

[receipts]
signing_key = "env:RECEIPTS_KEY"
"#;
    let env = [
        ("REDIS", "redis://:pw@redis.internal:6379/2"),
        ("MEDIA_KEY", "a-media-signing-key-of-32-characters"),
        ("RECEIPTS_KEY", TEST_RECEIPTS_KEY),
    ];
    let settings = load_text(text, &Overrides::default(), &env).unwrap();
    let cluster = settings.cluster.unwrap();
    assert_eq!(cluster.settings.url, "redis://:pw@redis.internal:6379/2");
    assert_eq!(cluster.settings.key_prefix, "gw1");
    assert_eq!(cluster.settings.lease, Duration::from_secs(30));
    assert_eq!(cluster.policy.limits, WhenDown::Refuse);
    assert_eq!(cluster.policy.budgets, WhenDown::Refuse);
    let flagged = Overrides {
        redis_url: Some("rediss://other:6380".into()),
        admin_listen: Some("127.0.0.1:9090".into()),
        ..Overrides::default()
    };
    let settings = load_text(text, &flagged, &env).unwrap();
    assert_eq!(
        settings.cluster.unwrap().settings.url,
        "rediss://other:6380"
    );
    assert_eq!(
        settings.admin_listen,
        Some("127.0.0.1:9090".parse().unwrap())
    );
    assert!(
        load_text("", &Overrides::default(), &env)
            .unwrap()
            .cluster
            .is_none()
    );
}

#[test]
fn bad_cluster_settings_are_reported_without_the_url() {
    let text = r#"
[server]
admin_listen = "127.0.0.1:8080"

[cluster]
redis_url = "http://:hunter2@redis"
lease_secs = 0
limits_when_redis_down = "maybe"
"#;
    let problems: Vec<String> = load_text(text, &Overrides::default(), &[])
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let all = problems.join("\n");
    for expected in [
        "admin listen address `127.0.0.1:8080` is the listen address",
        "cluster.redis_url: must start with redis:// or rediss://",
        "cluster.lease_secs must be a whole number from 1",
        "cluster.limits_when_redis_down must be \"local\" or \"refuse\"",
        "cluster mode needs [media] signing_key",
        "cluster mode needs [receipts] signing_key",
    ] {
        assert!(all.contains(expected), "{expected}: {all}");
    }
    assert!(!all.contains("hunter2"), "{all}");
    let orphan = "[cluster]\nkey_prefix = \"x\"\n";
    let problems = load_text(orphan, &Overrides::default(), &[]).unwrap_err();
    assert!(problems[0].to_string().contains("need cluster.redis_url"));
}

/// Go's note package's published example signer key (its secret is public:
/// for tests only).
const TEST_RECEIPTS_KEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

#[test]
fn receipts_are_on_by_default_and_their_settings_are_checked() {
    let settings = load_text("", &Overrides::default(), &[]).unwrap();
    let receipts = settings.receipts.unwrap();
    assert_eq!(receipts.origin, "airlock.local/receipts");
    assert_eq!(receipts.signing_key, None);
    assert_eq!(receipts.checkpoint_interval, Duration::from_secs(1));
    assert_eq!(
        receipts.mirror, None,
        "the log is copied to the object store on request"
    );

    let off = load_text("[receipts]\nenabled = false\n", &Overrides::default(), &[]).unwrap();
    assert!(off.receipts.is_none());
    let mirrored = load_text("[receipts]\nmirror = true\n", &Overrides::default(), &[]).unwrap();
    assert_eq!(
        mirrored.receipts.unwrap().mirror,
        Some(Duration::from_secs(10))
    );
    let every_minute = "[receipts]\nmirror = true\nmirror_interval_secs = 60\n";
    let settings = load_text(every_minute, &Overrides::default(), &[]).unwrap();
    assert_eq!(
        settings.receipts.unwrap().mirror,
        Some(Duration::from_secs(60))
    );
    let zero = "[receipts]\nmirror = true\nmirror_interval_secs = 0\n";
    let problems = load_text(zero, &Overrides::default(), &[]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 3") && p.contains("mirror_interval_secs")),
        "{rendered:#?}"
    );

    let named = "[receipts]\norigin = \"story.example/log\"\ncheckpoint_interval_ms = 250\n";
    let settings = load_text(named, &Overrides::default(), &[]).unwrap();
    let receipts = settings.receipts.unwrap();
    assert_eq!(receipts.origin, "story.example/log");
    assert_eq!(receipts.checkpoint_interval, Duration::from_millis(250));

    // The key names the origin; a different origin, a key that is not one,
    // a name with a space and a zero interval are each reported on their line.
    let keyed = "[receipts]\nsigning_key = \"env:K\"\n";
    let settings = load_text(keyed, &Overrides::default(), &[("K", TEST_RECEIPTS_KEY)]).unwrap();
    assert_eq!(settings.receipts.unwrap().origin, "PeterNeumann");
    let text =
        "[receipts]\nsigning_key = \"env:K\"\norigin = \"other\"\ncheckpoint_interval_ms = 0\n";
    let problems = load_text(text, &Overrides::default(), &[("K", TEST_RECEIPTS_KEY)]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 3") && p.contains("named \"PeterNeumann\"")),
        "{rendered:#?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 4") && p.contains("at least 1")),
        "{rendered:#?}"
    );
    let problems = load_text(keyed, &Overrides::default(), &[("K", "not-a-key")]).unwrap_err();
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 2") && p.contains("not a signed-note signer key")),
        "{rendered:#?}"
    );
    assert!(
        !rendered.iter().any(|p| p.contains("not-a-key")),
        "a secret is never echoed: {rendered:#?}"
    );
    // A witness and an anchor: each checked, the anchor's interval a minute by default.
    let witnessed = "[receipts]\nwitness_key = \"env:W\"\n\n[receipts.anchor]\nwebhook_url = \"https://ledger.example/checkpoints\"\nwebhook_secret = \"env:S\"\n";
    let env = [("W", TEST_RECEIPTS_KEY), ("S", "anchor-secret")];
    let receipts = load_text(witnessed, &Overrides::default(), &env)
        .unwrap()
        .receipts
        .unwrap();
    assert_eq!(receipts.witness_key.as_deref(), Some(TEST_RECEIPTS_KEY));
    let anchor = receipts.anchor.unwrap();
    assert_eq!(anchor.url, "https://ledger.example/checkpoints");
    assert_eq!(anchor.interval, Duration::from_secs(60));
    let broken = "[receipts]\nwitness_key = \"env:W\"\n\n[receipts.anchor]\nwebhook_url = \"ftp://ledger.example\"\nwebhook_secret = \"env:S\"\n";
    let env = [("W", "not-a-key"), ("S", "anchor-secret")];
    let rendered: Vec<String> = load_text(broken, &Overrides::default(), &env)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 2") && p.contains("witness_key")),
        "{rendered:#?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("line 5") && p.contains("http or https")),
        "{rendered:#?}"
    );
    let problems =
        load_text("[receipts]\norigin = \"a b\"\n", &Overrides::default(), &[]).unwrap_err();
    assert!(problems.iter().any(|p| p.line == Some(2)), "{problems:?}");
}
