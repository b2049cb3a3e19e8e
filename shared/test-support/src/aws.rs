//! The test stack's moto server: its endpoint, and the SDK configuration pointed at it.

use std::time::Duration;

use encore_platform::config::{keys, Env};

use crate::START_THE_STACK;

/// The test stack's moto server when `ENCORE_TEST_AWS_ENDPOINT` is not set.
pub const DEFAULT_AWS_ENDPOINT: &str = "http://127.0.0.1:5055";

/// How long the moto server may take to accept a connection.
const PATIENCE: Duration = Duration::from_secs(5);

/// The moto server's endpoint: `ENCORE_TEST_AWS_ENDPOINT`, or [`DEFAULT_AWS_ENDPOINT`].
pub fn aws_endpoint() -> String {
    Env::process()
        .optional(keys::TEST_AWS_ENDPOINT)
        .unwrap_or_else(|| DEFAULT_AWS_ENDPOINT.to_owned())
}

/// The SDK configuration every AWS adapter of a test is built from: every call to the
/// moto server at [`aws_endpoint`], with throw-away credentials
/// ([`encore_platform::aws::for_endpoint`]).
///
/// # Panics
/// When nothing accepts connections at the endpoint, naming the variable, the endpoint
/// and how to start the stack.
pub async fn aws_config() -> aws_config::SdkConfig {
    let endpoint = aws_endpoint();
    let address = socket_address(&endpoint);
    let answered = tokio::time::timeout(PATIENCE, tokio::net::TcpStream::connect(&address)).await;
    match answered {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!(
            "the moto server is not answering at {endpoint} ({}): {e}; {START_THE_STACK}",
            keys::TEST_AWS_ENDPOINT
        ),
        Err(_) => panic!(
            "the moto server is not answering at {endpoint} ({}) within {PATIENCE:?}; \
             {START_THE_STACK}",
            keys::TEST_AWS_ENDPOINT
        ),
    }
    encore_platform::aws::for_endpoint(&endpoint).await
}

/// `host:port` of an endpoint URL, the port from the scheme when the URL has none.
fn socket_address(endpoint: &str) -> String {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("http", endpoint));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = host_and_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        host_and_port.to_owned()
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{host_and_port}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::socket_address;

    #[test]
    fn the_address_comes_from_the_endpoint() {
        assert_eq!(socket_address("http://127.0.0.1:5055"), "127.0.0.1:5055");
        assert_eq!(socket_address("http://localhost:5055/"), "localhost:5055");
        assert_eq!(socket_address("https://moto.example"), "moto.example:443");
        assert_eq!(socket_address("http://[::1]:5055/x"), "[::1]:5055");
        assert_eq!(socket_address("http://[::1]"), "[::1]:80");
    }
}
