//! Process configuration, read from environment variables once at startup.
//!
//! This is the only module that reads the environment. Every variable is parsed and validated
//! here; an error names the variable and says what is wrong, and secrets are redacted in `Debug`.
//! `.env.example` documents every variable.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

mod storage;

use app::ssr::{billing::StripeConfig, db::Backend, secret::Secret, storage::StorageConfig};
use leptos::config::{Env, LeptosOptions};
use url::Url;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A configuration value that cannot be used, with the variable it came from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

/// Where cargo-leptos put the compiled site (JS, WASM, CSS, public assets).
#[derive(Debug, Clone)]
pub struct SiteFiles {
    /// `LEPTOS_OUTPUT_NAME`: base name of the JS/WASM/CSS files (default `slimage`).
    pub output_name: String,
    /// `LEPTOS_SITE_ROOT`: the directory served as static files (default `target/site`).
    pub site_root: String,
    /// `LEPTOS_SITE_PKG_DIR`: the directory under the site root with the bundle (default `pkg`).
    pub site_pkg_dir: String,
    /// `LEPTOS_ENV`: `DEV` or `PROD` (default `PROD`).
    pub env: Env,
    /// `LEPTOS_RELOAD_PORT`: live-reload port used by `cargo leptos watch` (default 3001).
    pub reload_port: u32,
}

/// The whole process configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`; default `sqlite://<DATA_DIR>/slimage.db`.
    pub database_url: Secret<String>,
    /// `DATA_DIR`: where the SQLite database and stored files live by default (default `data`).
    pub data_dir: PathBuf,
    /// `STORAGE_URL` (+ `AWS_*`): where uploads and results are stored (default
    /// `<DATA_DIR>/files`).
    pub storage: StorageConfig,
    /// `LEPTOS_SITE_ADDR`: the address to listen on (default `127.0.0.1:3000`; port 0 = any).
    pub site_addr: SocketAddr,
    /// `PUBLIC_URL`: the address users reach the service at (default `http://<LEPTOS_SITE_ADDR>`).
    pub public_url: Url,
    /// `PUBLIC_URL` was not set: it follows the port actually bound (tests listen on port 0).
    pub public_url_defaulted: bool,
    /// `TRUST_FORWARDED_FOR`: `true` when a reverse proxy sets `X-Forwarded-For` (default false).
    pub trust_forwarded_for: bool,
    /// `SMTP_URL`: e.g. `smtps://user:pass@smtp.example.com`; unset = write emails to
    /// `<DATA_DIR>/outbox/`.
    pub smtp_url: Option<Secret<String>>,
    /// `MAIL_FROM`: the sender of account emails (default `Slimage <no-reply@HOST>`).
    pub mail_from: String,
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`: the tracing filter (default `info,sqlx=warn`).
    pub log_filter: String,
    /// The Stripe settings (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`,
    /// `STRIPE_PRICE_PREMIUM`, `STRIPE_PRICE_PRO`, optional `STRIPE_API_BASE`): all or none.
    pub stripe: Option<StripeConfig>,
    /// `BILLING_GRACE_DAYS`: days a paid plan stays after a failed payment (default 7).
    pub billing_grace_days: u32,
    /// `OUTBOUND_ALLOWED_NETWORKS`: comma-separated networks (`10.0.0.0/8`, `127.0.0.1/32`) that
    /// source-URL fetches and job callbacks may reach although they are not public (default none).
    pub outbound_allowed: Vec<ipnet::IpNet>,
    /// `WORKERS`: compression workers inside `server` (default: one per core; 0 = none, for
    /// web-only processes when `server worker` runs elsewhere).
    pub workers: usize,
    /// `MAX_MEGAPIXELS`: the largest image a worker compresses, in millions of pixels (default
    /// 100, 1 to 1000). The engine needs about 130 bytes a pixel at its peak, so a worker's
    /// memory bounds it: 100 MP is about 13 GB per worker.
    pub max_megapixels: u32,
    /// The compiled site's location.
    pub site: SiteFiles,
}

/// The Stripe variables that must be set together.
pub const STRIPE_VARIABLES: [&str; 4] = [
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PRICE_PREMIUM",
    "STRIPE_PRICE_PRO",
];

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.into_string()))
    }

    /// Reads the configuration through `lookup` (tests pass a map). A variable set to the empty
    /// string counts as unset, so a blank line in an env file falls back to the default.
    pub fn from_lookup<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&'static str) -> Option<Result<String, std::ffi::OsString>>,
    {
        let var = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(name) {
                None => Ok(None),
                Some(Err(_)) => Err(ConfigError::new(name, "is not valid UTF-8")),
                Some(Ok(value)) if value.trim().is_empty() => Ok(None),
                Some(Ok(value)) => Ok(Some(value.trim().to_string())),
            }
        };

        let data_dir = PathBuf::from(var("DATA_DIR")?.unwrap_or_else(|| "data".into()));

        let database_url = match var("DATABASE_URL")? {
            Some(url) => {
                Backend::from_url(&url)
                    .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
                url
            }
            None => format!("sqlite://{}", data_dir.join("slimage.db").display()),
        };

        let site_addr: SocketAddr = match var("LEPTOS_SITE_ADDR")? {
            Some(addr) => addr.parse().map_err(|_| {
                ConfigError::new(
                    "LEPTOS_SITE_ADDR",
                    format!("{addr:?} is not an IP address and port, e.g. 127.0.0.1:3000"),
                )
            })?,
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
        };

        let public_url_defaulted = var("PUBLIC_URL")?.is_none();
        let public_url = match var("PUBLIC_URL")? {
            Some(url) => parse_public_url(&url)?,
            None => default_public_url(site_addr),
        };
        let trust_forwarded_for = match var("TRUST_FORWARDED_FOR")?.as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "TRUST_FORWARDED_FOR",
                    format!("{other:?} is not true or false"),
                ))
            }
        };
        let smtp_url = var("SMTP_URL")?;
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(ConfigError::new(
                    "SMTP_URL",
                    "must start with smtp:// or smtps://, e.g. smtps://user:password@smtp.example.com",
                ));
            }
        }
        let mail_from = var("MAIL_FROM")?.unwrap_or_else(|| {
            let host = public_url.host_str().unwrap_or("localhost");
            let host = if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
                "localhost"
            } else {
                host
            };
            format!("Slimage <no-reply@{host}>")
        });

        let log_format = match var("LOG_FORMAT")?.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?} is not one of: pretty, json"),
                ))
            }
        };

        let env = match var("LEPTOS_ENV")?
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("PROD") | Some("PRODUCTION") => Env::PROD,
            Some("DEV") | Some("DEVELOPMENT") => Env::DEV,
            Some(_) => return Err(ConfigError::new("LEPTOS_ENV", "must be DEV or PROD")),
        };
        let reload_port = match var("LEPTOS_RELOAD_PORT")? {
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| ConfigError::new("LEPTOS_RELOAD_PORT", "must be a port number"))?
                .into(),
            None => 3001,
        };

        let stripe = stripe_config(&var)?;
        let billing_grace_days = match var("BILLING_GRACE_DAYS")? {
            Some(days) => whole_number(&days, "BILLING_GRACE_DAYS", 0..=90, "days")?,
            None => 7,
        };
        let storage = storage::storage_config(&var, &data_dir)?;
        let outbound_allowed = match var("OUTBOUND_ALLOWED_NETWORKS")? {
            Some(list) => parse_networks(&list)?,
            None => Vec::new(),
        };
        let workers = match var("WORKERS")? {
            Some(count) => whole_number(&count, "WORKERS", 0..=256, "workers")? as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let max_megapixels = match var("MAX_MEGAPIXELS")? {
            Some(count) => whole_number(&count, "MAX_MEGAPIXELS", 1..=1000, "megapixels")?,
            // The engine's own default limit.
            None => (engine::Limits::default().max_pixels / 1_000_000) as u32,
        };

        Ok(Self {
            database_url: Secret::new(database_url),
            data_dir,
            storage,
            site_addr,
            public_url,
            public_url_defaulted,
            trust_forwarded_for,
            smtp_url: smtp_url.map(Secret::new),
            mail_from,
            log_format,
            log_filter: var("RUST_LOG")?.unwrap_or_else(|| "info,sqlx=warn".into()),
            stripe,
            billing_grace_days,
            outbound_allowed,
            workers,
            max_megapixels,
            site: SiteFiles {
                output_name: var("LEPTOS_OUTPUT_NAME")?.unwrap_or_else(|| "slimage".into()),
                site_root: var("LEPTOS_SITE_ROOT")?.unwrap_or_else(|| "target/site".into()),
                site_pkg_dir: var("LEPTOS_SITE_PKG_DIR")?.unwrap_or_else(|| "pkg".into()),
                env,
                reload_port,
            },
        })
    }

    /// The directory uploaded and compressed files are stored in.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    /// The directory emails are written to when no SMTP server is configured.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// Leptos' options for rendering and serving the site, listening on `site_addr`.
    pub fn leptos_options(&self, site_addr: SocketAddr) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.site.output_name.as_str())
            .site_root(self.site.site_root.as_str())
            .site_pkg_dir(self.site.site_pkg_dir.as_str())
            .env(self.site.env.clone())
            .site_addr(site_addr)
            .reload_port(self.site.reload_port)
            .build()
    }
}

/// `value` as a whole number of `unit` within `range`, or an error naming `variable`.
fn whole_number(
    value: &str,
    variable: &'static str,
    range: std::ops::RangeInclusive<u32>,
    unit: &str,
) -> Result<u32, ConfigError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                format!(
                    "must be a whole number of {unit}, {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// All four Stripe variables, or none; a partial set names what is missing.
fn stripe_config(
    var: &dyn Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<Option<StripeConfig>, ConfigError> {
    let mut values = Vec::new();
    for name in STRIPE_VARIABLES {
        values.push((name, var(name)?));
    }
    let api_base = var("STRIPE_API_BASE")?;
    let missing: Vec<&'static str> = values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.len() == STRIPE_VARIABLES.len() {
        if api_base.is_some() {
            return Err(ConfigError::new(
                "STRIPE_API_BASE",
                "is set but billing is not: also set STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, \
                 STRIPE_PRICE_PREMIUM and STRIPE_PRICE_PRO",
            ));
        }
        return Ok(None);
    }
    if let Some(first) = missing.first() {
        return Err(ConfigError::new(
            first,
            format!(
                "billing is half configured: {} missing (set all four Stripe variables, or none \
                 to run without billing)",
                missing.join(", ")
            ),
        ));
    }
    let value = |i: usize| values[i].1.clone().unwrap_or_default();
    for (i, prefix) in [(2, "price_"), (3, "price_")] {
        if !value(i).starts_with(prefix) {
            return Err(ConfigError::new(
                STRIPE_VARIABLES[i],
                "must be a Stripe price id (price_…), not a product id or an amount",
            ));
        }
    }
    if value(2) == value(3) {
        return Err(ConfigError::new(
            "STRIPE_PRICE_PRO",
            "must differ from STRIPE_PRICE_PREMIUM",
        ));
    }
    if let Some(base) = &api_base {
        let ok = Url::parse(base).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(ConfigError::new(
                "STRIPE_API_BASE",
                "must be an http:// or https:// URL, e.g. https://api.stripe.com/",
            ));
        }
    }
    Ok(Some(StripeConfig {
        secret_key: Secret::new(value(0)),
        webhook_secret: Secret::new(value(1)),
        price_premium: value(2),
        price_pro: value(3),
        api_base,
    }))
}

fn parse_public_url(value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| {
        ConfigError::new(
            "PUBLIC_URL",
            format!("{value:?} is not a URL ({e}), e.g. https://slimage.example"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            "must be an http:// or https:// URL with a host",
        ));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            "must not have a path or query: Slimage is served at the root",
        ));
    }
    Ok(url)
}

fn default_public_url(addr: SocketAddr) -> Url {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    Url::parse(&format!("http://{host}:{}", addr.port()))
        .expect("a socket address makes a valid URL")
}

/// `10.0.0.0/8, 127.0.0.1` → networks (a bare address is a network of one).
fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "OUTBOUND_ALLOWED_NETWORKS",
                        format!("{part:?} is not a network like 10.0.0.0/8 or an IP address"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned().map(Ok))
    }

    #[test]
    fn defaults_serve_sqlite_under_data_on_localhost_3000() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database_url.expose(), "sqlite://data/slimage.db");
        assert_eq!(config.files_dir(), PathBuf::from("data/files"));
        assert_eq!(config.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.site.site_root, "target/site");
    }

    #[test]
    fn variables_override_the_defaults() {
        let config = config(&[
            ("DATA_DIR", "/srv/slimage"),
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
            ("LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(
            config.database_url.expose(),
            "sqlite:///srv/slimage/slimage.db"
        );
        assert_eq!(config.files_dir(), PathBuf::from("/srv/slimage/files"));
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(config.log_format, LogFormat::Json);

        let config = config_with_pg();
        assert_eq!(config.public_url.as_str(), "https://img.example/");
    }

    #[test]
    fn stripe_settings_are_all_or_nothing() {
        assert!(config(&[]).unwrap().stripe.is_none());
        let full = [
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_PRICE_PREMIUM", "price_premium"),
            ("STRIPE_PRICE_PRO", "price_pro"),
        ];
        let stripe = config(&full).unwrap().stripe.unwrap();
        assert_eq!(stripe.price_pro, "price_pro");
        assert_eq!(format!("{:?}", stripe.secret_key), "[redacted]");

        let error = config(&full[..2]).unwrap_err();
        assert_eq!(error.variable, "STRIPE_PRICE_PREMIUM");
        assert!(
            error
                .reason
                .contains("STRIPE_PRICE_PREMIUM, STRIPE_PRICE_PRO missing"),
            "{error}"
        );
        let error = config(&[("STRIPE_API_BASE", "http://127.0.0.1:1")]).unwrap_err();
        assert_eq!(error.variable, "STRIPE_API_BASE");
        let mut bad = full.to_vec();
        bad[2] = ("STRIPE_PRICE_PREMIUM", "prod_123");
        assert_eq!(config(&bad).unwrap_err().variable, "STRIPE_PRICE_PREMIUM");
        assert_eq!(
            config(&[("BILLING_GRACE_DAYS", "3")])
                .unwrap()
                .billing_grace_days,
            3
        );
    }

    #[test]
    fn the_pixel_limit_defaults_to_the_engines_and_takes_1_to_1000_megapixels() {
        assert_eq!(config(&[]).unwrap().max_megapixels, 100);
        assert_eq!(
            config(&[("MAX_MEGAPIXELS", "24")]).unwrap().max_megapixels,
            24
        );
        for bad in ["0", "1001", "lots", "2.5"] {
            let error = config(&[("MAX_MEGAPIXELS", bad)]).unwrap_err();
            assert_eq!(
                error.to_string(),
                "MAX_MEGAPIXELS: must be a whole number of megapixels, 1 to 1000",
                "{bad}"
            );
        }
    }

    fn config_with_pg() -> Config {
        config(&[
            ("DATABASE_URL", "postgres://slimage:pw@db/slimage"),
            ("PUBLIC_URL", "https://img.example"),
        ])
        .unwrap()
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_variable() {
        let cases: [(&'static str, &str); 13] = [
            ("WORKERS", "many"),
            ("MAX_MEGAPIXELS", "unlimited"),
            ("OUTBOUND_ALLOWED_NETWORKS", "10.0.0.0/8, intranet"),
            ("BILLING_GRACE_DAYS", "a week"),
            ("SMTP_URL", "mail.example.com"),
            ("TRUST_FORWARDED_FOR", "maybe"),
            ("DATABASE_URL", "mysql://localhost/slimage"),
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("LEPTOS_SITE_ADDR", "127.0.0.1:99999"),
            ("PUBLIC_URL", "slimage.example"),
            ("PUBLIC_URL", "https://slimage.example/app"),
            ("LOG_FORMAT", "xml"),
            ("LEPTOS_ENV", "staging"),
        ];
        for (variable, value) in cases {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
            assert!(error.to_string().starts_with(&format!("{variable}: ")));
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn outbound_networks_take_cidrs_and_bare_addresses() {
        let config =
            config(&[("OUTBOUND_ALLOWED_NETWORKS", "10.0.0.0/8, 127.0.0.1,,::1")]).unwrap();
        let allowed = &config.outbound_allowed;
        assert_eq!(allowed.len(), 3);
        assert!(allowed[0].contains(&"10.200.3.4".parse::<IpAddr>().unwrap()));
        assert!(allowed[1].contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(!allowed[1].contains(&"127.0.0.2".parse::<IpAddr>().unwrap()));
    }

    #[test]
    fn a_non_utf8_value_is_refused_naming_its_variable() {
        let error = Config::from_lookup(|name| {
            (name == "DATA_DIR").then(|| Err(std::ffi::OsString::from("x")))
        })
        .unwrap_err();
        assert_eq!(error.variable, "DATA_DIR");
    }

    #[test]
    fn debug_output_never_shows_the_database_password() {
        let shown = format!("{:?}", config_with_pg());
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
