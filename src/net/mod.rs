//! Shared network clients: the one HTTP client builder ([`http`]), the services read over
//! it ([`service`]), and the TLS settings every client uses ([`tls`]).

pub mod http;
pub mod route;
pub mod service;
pub mod tls;
