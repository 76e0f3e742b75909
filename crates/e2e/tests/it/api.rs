//! The scheduler's worker API refuses bad requests with an error that says what is wrong,
//! and serves its OpenAPI document.

use agora_api::{
    ApiError,
    scheduler::{self as api, Challenge, Login},
};
use agora_primitives::{LoginChallenge, TaskId};
use agora_testkit::market::{STRANGER, WORKERS};
use alloy::primitives::B256;
use serde_json::json;

use crate::net::Net;

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: ApiError = response.json().await.expect("an error body");
    (status, body.error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_what_is_wrong() {
    let net = Net::start("examples/hello/hello.wasm").await;
    let base = net.scheduler_url();
    let http = &net.http;
    let worker = net.world.address(WORKERS[0]);

    // No session.
    let response = http
        .post(format!("{base}{}", api::ASK))
        .json(&json!({"freeSlots": 1, "waitMs": 0}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 401);
    assert!(error.contains("log in first"), "{error}");

    // A challenge for a malformed address.
    let response = http
        .get(format!("{base}{}?worker=0x12", api::CHALLENGE))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(error.contains("worker"), "{error}");

    // A challenge signed by someone else, then the same challenge again.
    let challenge: Challenge = http
        .get(format!("{base}{}?worker={worker}", api::CHALLENGE))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed_by = |who: usize| {
        LoginChallenge {
            chain_id: challenge.chain_id,
            challenge: challenge.challenge.clone(),
        }
        .sign(&net.world.signer(who))
        .unwrap()
    };
    let login = |signature| Login {
        worker,
        challenge: challenge.challenge.clone(),
        signature,
    };
    let response = http
        .post(format!("{base}{}", api::LOGIN))
        .json(&login(signed_by(STRANGER)))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 401);
    assert!(
        error.contains(&format!("signed by {}", net.world.address(STRANGER))),
        "{error}"
    );
    let response = http
        .post(format!("{base}{}", api::LOGIN))
        .json(&login(signed_by(WORKERS[0])))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 401, "a challenge is used once");
    assert!(error.contains("unknown or used challenge"), "{error}");

    // A proper login, then a malformed body and a replicate the worker does not have.
    let session = net.session(0).await;
    let response = http
        .post(format!("{base}{}", api::ASK))
        .bearer_auth(&session.token)
        .json(&json!({"freeSlots": "one"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(error.contains("freeSlots"), "{error}");
    let task = TaskId::new(B256::repeat_byte(9));
    let response = http
        .post(format!("{base}{}", api::status_path(task)))
        .bearer_auth(&session.token)
        .json(&json!({"status": "COMPUTING"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 404);
    assert!(
        error.contains(&format!("has no replicate of task {task}")),
        "{error}"
    );
    let response = http
        .post(format!("{base}{}", api::status_path(task)))
        .bearer_auth(&session.token)
        .json(&json!({"status": "DONE"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(error.contains("unknown variant `DONE`"), "{error}");

    // The task views.
    let response = http
        .get(format!("{base}{}", api::task_path(task)))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 404);
    assert!(error.contains("not one of this scheduler's"), "{error}");
    let response = http
        .get(format!("{base}{}?status=DONE", api::TASKS))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(error.contains("one of RECEIVED"), "{error}");

    // The document.
    let document = http
        .get(format!("{base}{}", agora_api::openapi::PATH))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(document, agora_api::openapi::scheduler());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_whose_key_does_not_own_the_workerpool_does_not_start() {
    let net = Net::start("examples/hello/hello.wasm").await;
    let config = agora_scheduler::Config::test(
        net.world.url(),
        net.world.hub,
        net.world.assets.workerpool,
        net.world.signer(STRANGER),
        net.dir.path().join("stranger.db"),
        net.results_url(),
    );
    let error = agora_scheduler::spawn(config)
        .await
        .expect_err("a stranger cannot schedule the pool");
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "{} does not own workerpool {}",
            net.world.address(STRANGER),
            net.world.assets.workerpool
        )),
        "{text}"
    );
    assert!(
        !net.dir.path().join("stranger.db").exists(),
        "nothing is created"
    );
    net.stop().await;
}
