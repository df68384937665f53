//! `STORAGE_URL` and the AWS variables: where files are stored.

use std::path::Path;

use app::ssr::{
    secret::Secret,
    storage::{S3Config, StorageConfig},
};
use url::Url;

use super::ConfigError;

/// The store `STORAGE_URL` names: unset = `<DATA_DIR>/files`; `file:///path` or a plain path = a
/// local directory; `s3://bucket?endpoint=…&region=…` = an S3-compatible bucket, with credentials
/// from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
pub fn storage_config(
    var: &dyn Fn(&'static str) -> Result<Option<String>, ConfigError>,
    data_dir: &Path,
) -> Result<StorageConfig, ConfigError> {
    let Some(raw) = var("STORAGE_URL")? else {
        return Ok(StorageConfig::Local(data_dir.join("files")));
    };
    let invalid = |reason: String| ConfigError::new("STORAGE_URL", reason);
    if !raw.contains("://") {
        return Ok(StorageConfig::Local(raw.into()));
    }
    let url = Url::parse(&raw).map_err(|e| invalid(format!("is not a URL ({e})")))?;
    match url.scheme() {
        "file" => Ok(StorageConfig::Local(url.path().into())),
        "s3" => {
            let bucket = url
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| invalid("names no bucket: s3://BUCKET?endpoint=…".into()))?
                .to_string();
            let mut endpoint = None;
            let mut region = None;
            for (key, value) in url.query_pairs() {
                match key.as_ref() {
                    "endpoint" => {
                        let parsed = Url::parse(&value)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https"));
                        if parsed.is_none() {
                            return Err(invalid(format!(
                                "endpoint {value:?} is not an http:// or https:// URL"
                            )));
                        }
                        endpoint = Some(value.trim_end_matches('/').to_string());
                    }
                    "region" => region = Some(value.to_string()),
                    other => {
                        return Err(invalid(format!(
                            "unknown option {other:?}; s3:// URLs take endpoint and region"
                        )))
                    }
                }
            }
            let access_key_id = var("AWS_ACCESS_KEY_ID")?;
            let secret_access_key = var("AWS_SECRET_ACCESS_KEY")?;
            if access_key_id.is_some() != secret_access_key.is_some() {
                return Err(ConfigError::new(
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set together, or neither",
                ));
            }
            Ok(StorageConfig::S3(S3Config {
                bucket,
                endpoint,
                region: region
                    .or(var("AWS_REGION")?)
                    .unwrap_or_else(|| "us-east-1".into()),
                access_key_id,
                secret_access_key: secret_access_key.map(Secret::new),
                session_token: var("AWS_SESSION_TOKEN")?.map(Secret::new),
            }))
        }
        other => Err(invalid(format!(
            "scheme {other}:// is not supported; use a directory, file:///path or s3://bucket"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&'static str, &str)]) -> Result<StorageConfig, ConfigError> {
        let map: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        storage_config(&|name| Ok(map.get(name).cloned()), Path::new("data"))
    }

    #[test]
    fn storage_defaults_to_the_data_directory() {
        assert!(
            matches!(parse(&[]).unwrap(), StorageConfig::Local(p) if p == Path::new("data/files"))
        );
        assert!(
            matches!(parse(&[("STORAGE_URL", "/srv/files")]).unwrap(), StorageConfig::Local(p) if p == Path::new("/srv/files"))
        );
        assert!(
            matches!(parse(&[("STORAGE_URL", "file:///srv/x")]).unwrap(), StorageConfig::Local(p) if p == Path::new("/srv/x"))
        );
    }

    #[test]
    fn s3_urls_name_bucket_endpoint_region_and_credentials() {
        let config = parse(&[
            (
                "STORAGE_URL",
                "s3://images?endpoint=http://127.0.0.1:9000/&region=eu-west-1",
            ),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "shh"),
        ])
        .unwrap();
        let StorageConfig::S3(s3) = config else {
            panic!("not s3")
        };
        assert_eq!(s3.bucket, "images");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "eu-west-1");
        assert!(!format!("{s3:?}").contains("shh"), "the secret is redacted");
    }

    #[test]
    fn bad_storage_urls_say_what_is_wrong() {
        for (url, says) in [
            ("s3://?endpoint=http://x", "names no bucket"),
            ("s3://b?endpoint=ftp://x", "not an http"),
            ("s3://b?colour=red", "unknown option"),
            ("gs://bucket", "not supported"),
        ] {
            let error = parse(&[("STORAGE_URL", url)]).unwrap_err();
            assert_eq!(error.variable, "STORAGE_URL");
            assert!(error.reason.contains(says), "{url}: {}", error.reason);
        }
        let half = parse(&[("STORAGE_URL", "s3://b"), ("AWS_ACCESS_KEY_ID", "AKIA")]).unwrap_err();
        assert_eq!(half.variable, "AWS_SECRET_ACCESS_KEY");
    }
}
