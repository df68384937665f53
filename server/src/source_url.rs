//! Images given by URL (`POST /shrink` with `{"source":{"url":"…"}}`), fetched with a guard against
//! server-side request forgery: http or https only; every address the host resolves to must be a
//! public one (no loopback, private, link-local, unique-local, CGNAT, multicast or reserved ranges,
//! IPv4 inside IPv6 included), and the connection goes to the address that was checked (no second
//! lookup to rebind); no redirects; 5 s to connect, 20 s in all, and no more bytes than the plan's
//! largest file. Job callbacks ([`crate::callbacks`]) go through the same check. Networks named in
//! `OUTBOUND_ALLOWED_NETWORKS` pass although private (an on-premises receiver; the tests).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use app::error::AppError;
use ipnet::IpNet;
use url::Url;

const CONNECT: Duration = Duration::from_secs(5);
const TOTAL: Duration = Duration::from_secs(20);

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) reaches an IPv4 address: judge that one.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::from(1u128)) // ::1 spelled another way
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn refused(reason: &str) -> AppError {
    AppError::BadRequest(format!("The source URL cannot be fetched: {reason}."))
}

/// The public (or explicitly allowed) address to connect to for `url`, or why it is refused.
pub async fn checked_address(url: &Url, allowed: &[IpNet]) -> Result<SocketAddr, AppError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused("only http and https URLs are fetched"));
    }
    let host = url.host_str().ok_or_else(|| refused("it names no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(CONNECT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| refused("its host name did not resolve in time"))?
            .map_err(|_| refused("its host name does not resolve"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(refused("its host name does not resolve"));
    }
    let permitted = |ip: IpAddr| is_public(ip) || allowed.iter().any(|net| net.contains(&ip));
    if addresses.iter().any(|a| !permitted(a.ip())) {
        return Err(refused(
            "it points to a private, loopback or reserved address",
        ));
    }
    Ok(addresses[0])
}

/// An HTTP client for `url` whose connections go only to the address [`checked_address`]
/// approved, without redirects, 5 s to connect and 20 s in all.
pub async fn pinned_client(
    url: &Url,
    allowed: &[IpNet],
) -> Result<reqwest_client::Client, AppError> {
    let address = checked_address(url, allowed).await?;
    app::ssr::storage::install_tls_provider();
    let host = url.host_str().unwrap_or_default().to_string();
    reqwest_client::Client::builder()
        .redirect(reqwest_client::redirect::Policy::none())
        .connect_timeout(CONNECT)
        .timeout(TOTAL)
        .resolve(&host, address)
        .build()
        .map_err(|_| AppError::Internal)
}

/// Fetches `url` (at most `max_bytes`), after [`checked_address`].
pub async fn fetch(url: &str, max_bytes: i64, allowed: &[IpNet]) -> Result<Vec<u8>, AppError> {
    let url = Url::parse(url).map_err(|_| refused("it is not a URL"))?;
    let client = pinned_client(&url, allowed).await?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|_| refused("the server did not answer"))?;
    if response.status().is_redirection() {
        return Err(refused(
            "it redirects (redirects are not followed; give the final URL)",
        ));
    }
    if !response.status().is_success() {
        return Err(refused(&format!(
            "the server answered {}",
            response.status()
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| refused("the download broke off"))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as i64 > max_bytes {
            return Err(AppError::PayloadTooLarge(format!(
                "The image at the source URL is larger than {max_bytes} bytes, the plan's largest file."
            )));
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "240.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn an_allowed_network_passes_and_only_it() {
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        let url = Url::parse("http://127.0.0.1:8080/hook").unwrap();
        let address = checked_address(&url, &allowed).await.unwrap();
        assert_eq!(address, "127.0.0.1:8080".parse().unwrap());
        let private = Url::parse("http://10.0.0.1/hook").unwrap();
        assert!(checked_address(&private, &allowed).await.is_err());
    }

    #[tokio::test]
    async fn urls_to_private_places_are_refused_before_any_connection() {
        for url in [
            "http://127.0.0.1:9/x.png",
            "http://localhost/x.png",
            "http://[::1]/x.png",
            "http://10.0.0.1/x.png",
            "http://169.254.169.254/latest/meta-data/",
            "ftp://example.com/x.png",
            "file:///etc/passwd",
        ] {
            let refused = fetch(url, 1000, &[]).await.unwrap_err();
            assert!(
                matches!(refused, AppError::BadRequest(_)),
                "{url}: {refused:?}"
            );
        }
    }
}
