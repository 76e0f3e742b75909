//! A workerpool that keeps track of its workers: a worker whose every slot is busy keeps its
//! scheduler informed, so its replicates are not handed to others; the login refuses what it
//! must and says why; bad requests get a JSON error with the right status.

use std::{
    sync::OnceLock,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use agora_api::{
    ApiError,
    scheduler::{self as api, Challenge, Heartbeat, Login, ReplicateStatus, Session, TaskStatus},
};
use agora_primitives::LoginChallenge;
use agora_testkit::market::WORKERS;
use alloy::primitives::{Address, U256};
use std::sync::atomic::Ordering::Relaxed;

use crate::net::Net;

/// About 40 s of computing: longer than the scheduler's default 30 s before a silent worker
/// is lost.
const LONG: &str = "crates/e2e/tests/fixtures/long.wat";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_40_s_app_on_a_worker_with_every_slot_busy_is_computed_once() {
    // The scheduler as configured by default: a worker unheard of for 30 s is lost.
    let mut net = Net::start(LONG).await;
    let lost_after = agora_scheduler::Config::new(
        "http://127.0.0.1:1",
        Address::ZERO,
        Address::ZERO,
        alloy::signers::local::PrivateKeySigner::random(),
        "unused.db".into(),
        "http://127.0.0.1:1",
    )
    .worker_lost_after;
    assert_eq!(lost_after, Duration::from_secs(30));
    // One slot each: the worker given the task has every slot busy; the other one waits,
    // ready to take a replicate the scheduler thinks lost.
    for i in 0..2 {
        net.start_worker_with(i, |config| config.slots = 1).await;
    }
    let deal = net.deal(&net.orders(1, 1, 0x61)).await;
    let task = deal.task(U256::ZERO);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let view = loop {
        if let Some(view) = net.view(task).await
            && view.status == TaskStatus::Completed
            && view
                .replicates
                .iter()
                .all(|r| r.status == ReplicateStatus::Completed)
        {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not completed in 10 minutes: {:#?}",
            net.view(task).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let computed: u64 = (0..2)
        .map(|i| net.worker(i).stats().computed.load(Relaxed))
        .sum();
    assert_eq!(computed, 1, "computed once: {view:#?}");
    assert_eq!(view.replicates.len(), 1, "{view:#?}");
    assert!(
        view.history
            .iter()
            .all(|e| e.status != ReplicateStatus::WorkerLost.as_str()),
        "no replicate lost: {view:#?}"
    );
    // The app did outlast the scheduler's patience.
    let at = |status: ReplicateStatus| {
        view.history
            .iter()
            .find(|e| e.status == status.as_str())
            .map(|e| e.at_ms)
            .unwrap_or_else(|| panic!("no {status} in {view:#?}"))
    };
    let computing = at(ReplicateStatus::Computed) - at(ReplicateStatus::Computing);
    assert!(
        computing > lost_after.as_millis() as u64,
        "the app computed for {computing} ms only: it must run longer than {lost_after:?}"
    );
    net.stop().await;
}

static ALLOWED: OnceLock<Address> = OnceLock::new();

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Waits (polling the clock) until the wall clock is past `at` (seconds since the epoch).
async fn until_past(at: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while now_s() <= at {
        assert!(tokio::time::Instant::now() < deadline, "the clock is stuck");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: ApiError = response.json().await.expect("a JSON error body");
    (status, body.error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_refuses_another_workers_expired_and_unlisted_challenges_and_sessions_expire() {
    let mut net = Net::start("examples/hello/hello.wasm").await;
    let allowed = net.world.address(WORKERS[0]);
    let other = net.world.address(WORKERS[1]);
    ALLOWED.get_or_init(|| allowed);
    net.kill_scheduler().await;
    net.tune = |config| {
        config.workers = ALLOWED.get().map(|a| vec![*a]);
        config.challenge_ttl = Duration::from_secs(1);
        config.session_ttl = Duration::from_secs(1);
    };
    net.start_scheduler().await;
    let base = net.scheduler_url();
    let http = net.http.clone();
    let challenge_for = |worker: Address| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}{}?worker={worker}", api::CHALLENGE))
                .send()
                .await
                .unwrap()
                .json::<Challenge>()
                .await
                .unwrap()
        }
    };
    let login = |worker: Address, signer: usize, challenge: Challenge| {
        let signature = LoginChallenge {
            chain_id: challenge.chain_id,
            challenge: challenge.challenge.clone(),
        }
        .sign(&net.world.signer(signer))
        .unwrap();
        http.post(format!("{base}{}", api::LOGIN))
            .json(&Login {
                worker,
                challenge: challenge.challenge,
                signature,
            })
            .send()
    };

    // A worker not on the list.
    let challenge = challenge_for(other).await;
    let (status, error) = error_of(login(other, WORKERS[1], challenge).await.unwrap()).await;
    assert_eq!(status, 403);
    assert!(
        error.contains(&format!("worker {other} is not one of this pool's workers")),
        "{error}"
    );

    // A challenge given to another worker, used by this one (with its own signature).
    let challenge = challenge_for(allowed).await;
    let (status, error) = error_of(login(other, WORKERS[1], challenge).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(
        error.contains(&format!("given to worker {allowed}, not to this one")),
        "{error}"
    );

    // An expired challenge.
    let challenge = challenge_for(allowed).await;
    until_past(challenge.expires_at).await;
    let (status, error) = error_of(login(allowed, WORKERS[0], challenge).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(error.contains("the challenge expired at"), "{error}");

    // A session, good until it expires.
    let challenge = challenge_for(allowed).await;
    let response = login(allowed, WORKERS[0], challenge).await.unwrap();
    assert_eq!(response.status(), 200);
    let session: Session = response.json().await.unwrap();
    let beat = |token: String| {
        http.post(format!("{base}{}", api::HEARTBEAT))
            .bearer_auth(token)
            .json(&Heartbeat { running: vec![] })
            .send()
    };
    let response = beat(session.token.clone()).await.unwrap();
    assert_eq!(response.status(), 204);
    until_past(session.expires_at).await;
    let (status, error) = error_of(beat(session.token.clone()).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(error.contains("unknown or expired"), "{error}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_queries_and_bodies_get_a_json_error_with_their_status() {
    let net = Net::start("examples/hello/hello.wasm").await;
    let base = net.scheduler_url();
    let http = &net.http;

    let response = http
        .get(format!("{base}/v1/tasks/0x12"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(
        error.contains("the task in the path must be a 32-byte hex id"),
        "{error}"
    );

    let response = http.get(format!("{base}/v1/nowhere")).send().await.unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 404);
    assert!(error.contains("no such endpoint: /v1/nowhere"), "{error}");

    let response = http
        .get(format!("{base}{}?status=1&status=2", api::TASKS))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(error.starts_with("bad query"), "{error}");

    // A body one byte over the limit, sent whole before the answer is read: the server reads
    // all of it, so its answer is not lost to a connection reset (a client still writing a
    // much larger body may see the connection closed under it instead of the 413).
    let limit = 1usize << 20;
    let mut socket = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut request = format!(
        "POST {} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        api::LOGIN,
        limit + 1
    )
    .into_bytes();
    request.resize(request.len() + limit + 1, b' ');
    tokio::io::AsyncWriteExt::write_all(&mut socket, &request)
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut answer),
    )
    .await
    .expect("answered within 30 s")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_default();
    let error = answer.rsplit("\r\n\r\n").next().unwrap_or_default();
    assert_eq!(status, 413, "{answer}");
    assert!(error.contains("larger than the 1048576 bytes"), "{error}");
    net.stop().await;
}
