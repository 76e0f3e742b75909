//! What a worker fetches, against real HTTP servers on loopback: the URLs a hostile app
//! owner, dataset owner or requester may register (the worker's disk, its loopback, a cloud
//! metadata address, a redirect to one, a body that never ends or never stops), each refused
//! with its reason, and with nothing sent where the policy says no.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use agora_worker::{FetchError, FetchPolicy, Fetcher};
use axum::{
    Router,
    body::Body,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

const SMALL: usize = 100;

/// A server on `ip` (any of 127/8 on Linux) that counts the requests it gets.
async fn serve(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = Router::new()
        .route("/small", get(|| async { vec![7u8; SMALL] }))
        .route("/big", get(|| async { vec![1u8; 2000] }))
        .route(
            "/stream",
            get(|| async {
                // Chunked, no length announced: the cap must stop it while it is read.
                let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(vec![2u8; 100]));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/stall",
            get(|| async {
                // A first chunk, then nothing, forever.
                let first = futures::stream::once(async {
                    Ok::<_, std::io::Error>(vec![3u8; 10])
                });
                let never = futures::stream::pending();
                Body::from_stream(futures::StreamExt::chain(first, never))
            }),
        )
        .route(
            "/hop/{n}",
            get(|Path(n): Path<u32>| async move { Redirect::temporary(&format!("/hop/{}", n + 1)) }),
        )
        .route(
            "/to/{*target}",
            get(|Path(target): Path<String>| async move {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, target)
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND.into_response() }))
        .layer(axum::middleware::from_fn_with_state(
            counted,
            |State(hits): State<Arc<AtomicUsize>>, request, next: axum::middleware::Next| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                next.run(request).await
            },
        ));
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, hits)
}

fn fetcher(policy: FetchPolicy) -> Fetcher {
    Fetcher::new(policy).unwrap()
}

async fn fetch(fetcher: &Fetcher, url: &str) -> Result<Vec<u8>, FetchError> {
    fetcher.fetch(url, &mut fetcher.budget()).await
}

#[tokio::test]
async fn the_default_policy_refuses_the_workers_disk_and_local_addresses() {
    let (address, hits) = serve("127.0.0.1").await;
    let port = address.port();
    let public = fetcher(FetchPolicy::default());

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"secret").unwrap();
    let url = format!("file://{}", file.path().display());
    assert_eq!(fetch(&public, &url).await, Err(FetchError::FileUrlRefused));
    assert_eq!(
        fetch(&public, "file:///etc/passwd").await,
        Err(FetchError::FileUrlRefused)
    );

    for (url, shown, kind) in [
        (
            format!("http://{address}/small"),
            "127.0.0.1 is",
            "loopback",
        ),
        // The same address written as a number, and as an IPv4-mapped IPv6 address.
        (
            format!("http://2130706433:{port}/small"),
            "127.0.0.1 is",
            "loopback",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/small"),
            "::ffff:127.0.0.1 is",
            "loopback",
        ),
        (format!("http://[::1]:{port}/small"), "::1 is", "loopback"),
        // Cloud metadata, private networks: refused before any connection is tried.
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "169.254.169.254 is",
            "link-local",
        ),
        ("http://10.0.0.1/".into(), "10.0.0.1 is", "private"),
        (
            "http://[fd00::1]/".into(),
            "fd00::1 is",
            "private (unique local)",
        ),
        // A name is checked once resolved: localhost resolves to loopback addresses only.
        (
            format!("http://localhost:{port}/small"),
            "localhost resolves to",
            "loopback",
        ),
    ] {
        let error = fetch(&public, &url).await.unwrap_err();
        assert!(
            matches!(error, FetchError::AddressRefused { kind: k, .. } if k == kind),
            "{url}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.starts_with(shown), "{url}: {text}");
        assert!(
            text.contains("which this workerpool does not fetch from"),
            "{text}"
        );
    }
    for (url, scheme) in [
        ("ftp://example.com/app.wasm", "ftp"),
        ("gopher://x/", "gopher"),
    ] {
        assert_eq!(
            fetch(&public, url).await,
            Err(FetchError::Scheme(scheme.into()))
        );
    }
    assert!(matches!(
        fetch(&public, "not a url").await,
        Err(FetchError::BadUrl(_))
    ));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the loopback server"
    );
}

#[tokio::test]
async fn local_development_reads_files_and_loopback() {
    let (address, hits) = serve("127.0.0.1").await;
    let local = fetcher(FetchPolicy::local_development());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"module").unwrap();
    let url = format!("file://{}", file.path().display());
    assert_eq!(fetch(&local, &url).await.unwrap(), b"module");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    assert_eq!(
        fetch(&local, &url).await,
        Err(FetchError::File("not a regular file".into()))
    );
    assert_eq!(
        fetch(&local, &format!("http://{address}/small"))
            .await
            .unwrap(),
        vec![7; SMALL]
    );
    let port = address.port();
    assert_eq!(
        fetch(&local, &format!("http://localhost:{port}/small"))
            .await
            .unwrap()
            .len(),
        SMALL
    );
    assert_eq!(
        fetch(&local, &format!("http://{address}/missing")).await,
        Err(FetchError::Status(404))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // Still not the rest of the private ranges.
    let error = fetch(&local, "http://192.168.0.1/").await.unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::AddressRefused {
                kind: "private",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_checked_as_the_first_url_was() {
    // A pool's mirror on 127.0.0.2 is allowed; 127.0.0.1, where the worker's own services
    // listen, is not, and a redirect does not get there either.
    let (mirror, _) = serve("127.0.0.2").await;
    let (own, own_hits) = serve("127.0.0.1").await;
    let policy = FetchPolicy {
        allowed_networks: vec!["127.0.0.2/32".parse().unwrap()],
        max_redirects: 3,
        ..FetchPolicy::default()
    };
    let pool = fetcher(policy);
    assert_eq!(
        fetch(&pool, &format!("http://{mirror}/small"))
            .await
            .unwrap()
            .len(),
        SMALL
    );
    let to_own = format!("http://{mirror}/to/http://{own}/small");
    let error = fetch(&pool, &to_own).await.unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::AddressRefused {
                kind: "loopback",
                ..
            }
        ),
        "{error:?}"
    );
    let to_file = format!("http://{mirror}/to/file:///etc/passwd");
    assert_eq!(
        fetch(&pool, &to_file).await,
        Err(FetchError::Scheme("file".into()))
    );
    assert_eq!(
        own_hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
    // A redirect within the mirror is followed, up to the limit.
    let within = format!("http://{mirror}/to/http://{mirror}/small");
    assert_eq!(fetch(&pool, &within).await.unwrap().len(), SMALL);
    assert_eq!(
        fetch(&pool, &format!("http://{mirror}/hop/0")).await,
        Err(FetchError::TooManyRedirects(3))
    );
}

#[tokio::test]
async fn a_fetch_ends_at_its_budget_of_bytes_and_time() {
    let (address, _) = serve("127.0.0.1").await;
    let policy = FetchPolicy {
        max_bytes: 1000,
        timeout: Duration::from_secs(1),
        ..FetchPolicy::local_development()
    };
    let local = fetcher(policy);
    // Announced too long, or too long as it streams: refused at the cap either way.
    for path in ["big", "stream"] {
        let url = format!("http://{address}/{path}");
        assert_eq!(
            fetch(&local, &url).await,
            Err(FetchError::TooLarge(1000)),
            "{path}"
        );
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), vec![0u8; 1001]).unwrap();
    let url = format!("file://{}", file.path().display());
    assert_eq!(fetch(&local, &url).await, Err(FetchError::TooLarge(1000)));
    // A body that stops coming: the deadline covers the body, not only the headers.
    let error = fetch(&local, &format!("http://{address}/stall")).await;
    assert_eq!(error, Err(FetchError::Timeout(Duration::from_secs(1))));
    assert_eq!(
        error.unwrap_err().to_string(),
        "not fetched within the 1 s allowed"
    );

    // The input files of a replicate share one budget: ten of 100 bytes fit, the eleventh not.
    let mut budget = local.budget();
    let url = format!("http://{address}/small");
    for _ in 0..10 {
        assert_eq!(local.fetch(&url, &mut budget).await.unwrap().len(), SMALL);
    }
    assert_eq!(budget.bytes(), 0);
    assert_eq!(
        local.fetch(&url, &mut budget).await,
        Err(FetchError::TooLarge(0))
    );
}
