//! Shared network clients: the one HTTP client builder ([`http`]), the services read over
//! it ([`service`]), the TLS settings every client uses ([`tls`]), and
//! opening a PostgreSQL session with them ([`postgres`]) or a websocket ([`websocket`]).

pub mod http;
pub mod postgres;
pub mod route;
pub mod service;
pub mod tls;
pub mod websocket;
