//! CORS on the HTTP endpoint: what a browser asks before a page's `fetch` and what it needs
//! in the answer. (A real page in headless Chromium is in the JavaScript suite.)

use agora_chain::{Config, Cors, Handle};
use serde_json::json;

use crate::common::chain_with_cors;

/// A browser's preflight for a JSON POST from `origin`: the status and the allowed origin.
async fn preflight(handle: &Handle, origin: &str) -> (u16, Option<String>, Option<String>) {
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, handle.http_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("an answer");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    (
        response.status().as_u16(),
        header("access-control-allow-origin"),
        header("access-control-allow-headers"),
    )
}

/// A JSON-RPC POST from a page of `origin`: the allowed origin of the answer, and its result.
async fn post_from(handle: &Handle, origin: &str) -> (Option<String>, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(handle.http_url())
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).to_string())
        .send()
        .await
        .expect("an answer");
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    let body: serde_json::Value = response.json().await.expect("JSON");
    (allowed, body["result"].clone())
}

#[tokio::test]
async fn a_dev_node_answers_any_pages_preflight_and_calls() {
    let handle = agora_chain::spawn(Config::test()).await.unwrap();
    let (status, origin, headers) = preflight(&handle, "http://localhost:5173").await;
    assert_eq!(status, 200, "the preflight is answered, not 405");
    assert_eq!(origin.as_deref(), Some("*"));
    assert!(
        headers.is_some_and(|h| h.to_ascii_lowercase().contains("content-type")),
        "the page's content-type header is allowed"
    );
    let (allowed, result) = post_from(&handle, "http://localhost:5173").await;
    assert_eq!(allowed.as_deref(), Some("*"));
    assert_eq!(result, json!("0x7a69"));
    handle.shutdown().await;
}

#[tokio::test]
async fn an_origin_list_allows_only_its_pages() {
    let cors = Cors::parse("http://localhost:5173, https://portal.example").unwrap();
    let handle = chain_with_cors(cors).await;
    let (_, origin, _) = preflight(&handle, "https://portal.example").await;
    assert_eq!(origin.as_deref(), Some("https://portal.example"));
    let (allowed, _) = post_from(&handle, "http://localhost:5173").await;
    assert_eq!(allowed.as_deref(), Some("http://localhost:5173"));
    // Another page gets no allowed origin, so its browser refuses the answer.
    let (_, origin, _) = preflight(&handle, "https://evil.example").await;
    assert_eq!(origin, None);
    let (allowed, result) = post_from(&handle, "https://evil.example").await;
    assert_eq!(allowed, None);
    // A client that is not a browser is not affected.
    assert_eq!(result, json!("0x7a69"));
    handle.shutdown().await;
}

#[tokio::test]
async fn cors_off_sends_no_header() {
    let handle = chain_with_cors(Cors::Off).await;
    let (status, origin, _) = preflight(&handle, "http://localhost:5173").await;
    assert_ne!(status, 200);
    assert_eq!(origin, None);
    let (allowed, _) = post_from(&handle, "http://localhost:5173").await;
    assert_eq!(allowed, None);
    handle.shutdown().await;
}

#[test]
fn origins_are_checked_when_typed() {
    assert_eq!(Cors::parse("*"), Ok(Cors::Any));
    for bad in [
        "localhost:5173",
        "http://host/path",
        "ftp://host",
        "http://",
        "",
    ] {
        let error = Cors::parse(bad).unwrap_err();
        assert!(
            error.contains("is not scheme://host[:port]"),
            "{bad}: {error}"
        );
    }
}
