//! Where an edge probe connects: the edge's own address (IP or name, optional port), kept
//! apart from the public hostname that goes into SNI and `Host`. Pure parsing, shared by
//! the edge source and the config check that reads the same addresses.

use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeTarget {
    pub host: String,
    pub port: u16,
    /// Set when `host` is a literal address, so no DNS lookup is timed.
    pub ip: Option<IpAddr>,
}

pub const HTTPS_PORT: u16 = 443;

impl EdgeTarget {
    /// `192.0.2.10`, `192.0.2.10:8443`, `[2001:db8::1]:443`, `2001:db8::1`, `cdn-1.example`,
    /// `cdn-1.example:8443`.
    pub fn parse(address: &str) -> Result<Self, String> {
        Self::parse_with_default(address, HTTPS_PORT)
    }

    pub fn parse_with_default(address: &str, default_port: u16) -> Result<Self, String> {
        let shown = address.escape_debug();
        if address.is_empty() {
            return Err("the address is empty".into());
        }
        if let Ok(sock) = address.parse::<SocketAddr>() {
            return Ok(Self::literal(sock.ip(), sock.port()));
        }
        if let Ok(ip) = address.parse::<IpAddr>() {
            return Ok(Self::literal(ip, default_port));
        }
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{shown}` has no valid port after the `:`"))?;
                (host, port)
            }
            None => (address, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self::literal(ip, port));
        }
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(format!(
                "`{shown}` is neither an IP address nor a host name"
            ));
        }
        Ok(EdgeTarget {
            host: host.to_string(),
            port,
            ip: None,
        })
    }

    fn literal(ip: IpAddr, port: u16) -> Self {
        EdgeTarget {
            host: ip.to_string(),
            port,
            ip: Some(ip),
        }
    }

    /// For messages: `192.0.2.10:443`, `[2001:db8::1]:443`, `cdn-1.example:443`.
    pub fn shown(&self) -> String {
        match self.ip {
            Some(ip) => SocketAddr::new(ip, self.port).to_string(),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Where one request goes: the address connected to, the name presented as SNI, what
/// `Host` says, and whether TLS is spoken (object storage may be plain HTTP on a private
/// network).
#[derive(Clone, Debug)]
pub struct Route {
    pub target: EdgeTarget,
    pub host: String,
    pub host_header: String,
    pub tls: bool,
}

/// `https://files.example.social:8443/bucket` → its route and the path prefix `/bucket`.
pub fn storage_route(url: &str) -> Result<(Route, String), String> {
    let base = crate::net::service::BaseUrl::parse(url)?;
    if base.user.is_some() {
        return Err(format!(
            "`{}` names a user: the media check asks anonymously, as a visitor would",
            crate::config::mask_url(url)
        ));
    }
    let host = base.host();
    let target = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => EdgeTarget::parse_with_default(&ip.to_string(), base.port()),
        Err(_) => EdgeTarget::parse_with_default(&format!("{host}:{}", base.port()), base.port()),
    }
    .map_err(|e| format!("object_storage_url: {e}"))?;
    Ok((
        Route {
            target,
            host,
            host_header: base.authority(),
            tls: base.is_https(),
        },
        base.path.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_and_without_ports() {
        let t = EdgeTarget::parse("192.0.2.10").unwrap();
        assert_eq!((t.port, t.ip.is_some()), (443, true));
        let t = EdgeTarget::parse("192.0.2.10:8443").unwrap();
        assert_eq!(t.shown(), "192.0.2.10:8443");
        let t = EdgeTarget::parse("2001:db8::1").unwrap();
        assert_eq!(t.shown(), "[2001:db8::1]:443");
        let t = EdgeTarget::parse("[2001:db8::1]:8443").unwrap();
        assert_eq!(t.port, 8443);
        let t = EdgeTarget::parse("cdn-1.example:8443").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.ip),
            ("cdn-1.example", 8443, None)
        );
        assert!(EdgeTarget::parse("cdn-1.example:http").is_err());
        assert!(EdgeTarget::parse("cdn-1.example:0").is_err());
        assert!(EdgeTarget::parse("https://cdn-1").is_err());
        assert!(EdgeTarget::parse("").is_err());
    }
}
