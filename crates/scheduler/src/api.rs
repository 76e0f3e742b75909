//! The worker API over HTTP (types in `agora_api::scheduler`).

use std::{sync::Arc, time::Duration};

use agora_api::{
    ApiError,
    results::ResultLink,
    scheduler::{
        ActionReply, Ask, Challenge, Heartbeat, Login, ReplicateStatus, Session, StatusUpdate,
        TaskStatus,
    },
};
use agora_primitives::{LoginChallenge, TaskId};
use alloy::primitives::Address;
use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, FromRequestParts, Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    Shared,
    db::{hx, now_ms},
    state::{self, Refused},
};

/// The longest a long poll is held.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// The largest request body accepted.
const MAX_BODY: usize = 1 << 20;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    use agora_api::scheduler as paths;
    Router::new()
        .route(paths::CHALLENGE, get(challenge))
        .route(paths::LOGIN, post(login))
        .route(paths::HEARTBEAT, post(heartbeat))
        .route(paths::ASK, post(ask))
        .route("/v1/replicates/{task}/status", post(status))
        .route("/v1/replicates/{task}/action", get(action))
        .route(paths::TASKS, get(tasks))
        .route("/v1/tasks/{task}", get(task))
        .route(agora_api::openapi::PATH, get(openapi))
        .fallback(unknown_path)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

async fn unknown_path(uri: axum::http::Uri) -> Refusal {
    refuse(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {}", uri.path()),
    )
}

/// A JSON body that could not be read: too large (413), or not what the endpoint takes (400,
/// as documented, where axum would say 415 or 422).
fn bad_body(e: JsonRejection) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the {MAX_BODY} bytes a request may carry"),
        );
    }
    refuse(StatusCode::BAD_REQUEST, e.body_text())
}

/// A task id in the path that is not one.
fn bad_task(e: PathRejection) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        format!(
            "the task in the path must be a 32-byte hex id: {}",
            e.body_text()
        ),
    )
}

fn bad_query(e: QueryRejection) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        format!("bad query: {}", e.body_text()),
    )
}

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        agora_api::openapi::scheduler(),
    )
}

/// A refused request.
#[derive(Debug)]
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { error: self.1 })).into_response()
    }
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Refusal {
    Refusal(status, error.into())
}

impl From<crate::Error> for Refusal {
    fn from(e: crate::Error) -> Self {
        refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<Refused> for Refusal {
    fn from(e: Refused) -> Self {
        let status = match &e {
            Refused::NoReplicate { .. } => StatusCode::NOT_FOUND,
            Refused::CallbackMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Refused::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        refuse(status, e.to_string())
    }
}

fn alive(shared: &Shared) -> Result<(), Refusal> {
    if shared.is_dead() {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scheduler is stopping",
        ));
    }
    Ok(())
}

/// The worker a request's bearer token belongs to.
pub(crate) struct Worker(Address);

impl FromRequestParts<Arc<Shared>> for Worker {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Refusal> {
        alive(shared)?;
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                refuse(
                    StatusCode::UNAUTHORIZED,
                    "log in first: the authorization header must be `Bearer <token>`",
                )
            })?
            .to_string();
        let now = now_ms() / 1000;
        let worker: Option<String> = shared.db.with(|tx| {
            use rusqlite::OptionalExtension;
            Ok(tx
                .prepare_cached("SELECT worker FROM sessions WHERE token = ?1 AND expires_at > ?2")?
                .query_row(rusqlite::params![token, now], |r| r.get(0))
                .optional()?)
        })?;
        let worker = worker.and_then(|w| w.parse().ok()).ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "the session is unknown or expired: log in again",
            )
        })?;
        Ok(Self(worker))
    }
}

#[derive(Debug, Deserialize)]
struct ChallengeQuery {
    worker: Address,
}

async fn challenge(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ChallengeQuery>, QueryRejection>,
) -> Result<Json<Challenge>, Refusal> {
    alive(&shared)?;
    let Query(query) = query.map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the worker query parameter must be an address: {e}"),
        )
    })?;
    let challenge = random_hex()?;
    let now = now_ms() / 1000;
    let expires_at = now + shared.config.challenge_ttl.as_secs().max(1);
    shared
        .challenges
        .lock()
        .give(challenge.clone(), query.worker, now, expires_at);
    Ok(Json(Challenge {
        challenge,
        chain_id: shared.chain.chain_id,
        expires_at,
    }))
}

async fn login(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Json<Session>, Refusal> {
    alive(&shared)?;
    let Json(login) = body.map_err(bad_body)?;
    let worker = login.worker;
    shared
        .challenges
        .lock()
        .take(&login.challenge, worker, now_ms() / 1000)
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e.to_string()))?;
    let signer = LoginChallenge {
        chain_id: shared.chain.chain_id,
        challenge: login.challenge.clone(),
    }
    .recover_signer(&login.signature)
    .map_err(|e| refuse(StatusCode::UNAUTHORIZED, format!("bad signature: {e}")))?;
    if signer != login.worker {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            format!(
                "the challenge is signed by {signer}, not by {}",
                login.worker
            ),
        ));
    }
    if let Some(allowed) = &shared.config.workers
        && !allowed.contains(&worker)
    {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("worker {worker} is not one of this pool's workers"),
        ));
    }
    let score = shared.chain.score(worker).await?;
    let token = random_hex()?;
    let expires_at = now_ms() / 1000 + shared.config.session_ttl.as_secs();
    shared.db.with(|tx| {
        tx.prepare_cached("INSERT INTO sessions (token, worker, expires_at) VALUES (?1, ?2, ?3)")?
            .execute(rusqlite::params![token, hx(worker), expires_at])?;
        state::set_score(tx, worker, score)?;
        state::seen(tx, worker)
    })?;
    tracing::info!(target: "agora::scheduler", %worker, score, "worker logged in");
    Ok(Json(Session { token, expires_at }))
}

/// A worker saying it is alive: it is seen now, and so are the replicates it runs.
async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    Worker(worker): Worker,
    body: Result<Json<Heartbeat>, JsonRejection>,
) -> Result<StatusCode, Refusal> {
    let Json(beat) = body.map_err(bad_body)?;
    shared
        .db
        .with(|tx| state::heartbeat(tx, worker, &beat.running))?;
    Ok(StatusCode::NO_CONTENT)
}

fn random_hex() -> Result<String, Refusal> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no randomness: {e}"),
        )
    })?;
    Ok(hx(bytes))
}

fn wait_of(wait_ms: u64) -> Duration {
    Duration::from_millis(wait_ms).min(MAX_WAIT)
}

async fn ask(
    State(shared): State<Arc<Shared>>,
    Worker(worker): Worker,
    body: Result<Json<Ask>, JsonRejection>,
) -> Result<Response, Refusal> {
    let Json(ask) = body.map_err(bad_body)?;
    let deadline = tokio::time::Instant::now() + wait_of(ask.wait_ms);
    let mut work = shared.work.subscribe();
    loop {
        work.borrow_and_update();
        alive(&shared)?;
        if shared.db.with(|tx| state::score(tx, worker))?.is_none() {
            let score = shared.chain.score(worker).await?;
            shared.db.with(|tx| state::set_score(tx, worker, score))?;
        }
        shared.db.with(|tx| state::seen(tx, worker))?;
        let assignment = if ask.free_slots == 0 {
            None
        } else {
            let chain_now = shared.chain_now();
            shared.db.with(|tx| {
                state::assign(
                    tx,
                    worker,
                    &shared.config.key.0,
                    chain_now,
                    &shared.config.result_store,
                    shared.config.failure_backoff,
                    ask.holding.as_deref(),
                )
            })?
        };
        if let Some(assignment) = assignment {
            shared.changed(&[assignment.task_id]);
            // Another worker may fit where this one did not.
            shared.work_changed();
            return Ok(Json(assignment).into_response());
        }
        if tokio::time::timeout_at(deadline, work.changed())
            .await
            .is_err()
        {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Worker(worker): Worker,
    task: Result<Path<TaskId>, PathRejection>,
    body: Result<Json<StatusUpdate>, JsonRejection>,
) -> Result<Json<ActionReply>, Refusal> {
    let Path(task) = task.map_err(bad_task)?;
    let Json(update) = body.map_err(bad_body)?;
    let mut link = None;
    if update.status == ReplicateStatus::ResultUploaded {
        let uploader = shared.db.with(|tx| state::uploader(tx, task))?;
        if uploader == Some(worker) {
            let expected = ResultLink::agora(&shared.config.result_store, *task.as_b256());
            let stored = shared
                .http
                .head(&expected.location)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if !stored {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    format!("the result store has no result at {}", expected.location),
                ));
            }
            link = Some(String::from_utf8(expected.to_bytes()).unwrap_or_default());
        }
    }
    let chain_now = shared.chain_now();
    let action = shared.db.with(|tx| {
        state::seen(tx, worker)?;
        Ok(state::report(
            tx,
            worker,
            task,
            &update,
            link.as_deref(),
            chain_now,
            shared.config.failure_backoff,
        ))
    })??;
    shared.changed(&[task]);
    if update.status.failed_before_contributing() {
        shared.work_changed();
    }
    if update.status == ReplicateStatus::ResultUploaded {
        shared.wake.notify_one();
    }
    Ok(Json(ActionReply { action }))
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait_ms: u64,
}

async fn action(
    State(shared): State<Arc<Shared>>,
    Worker(worker): Worker,
    task: Result<Path<TaskId>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<ActionReply>, Refusal> {
    let Path(task) = task.map_err(bad_task)?;
    let Query(query) = query.map_err(bad_query)?;
    let deadline = tokio::time::Instant::now() + wait_of(query.wait_ms);
    let mut changes = shared.watch(task);
    loop {
        changes.borrow_and_update();
        alive(&shared)?;
        let chain_now = shared.chain_now();
        let action = shared.db.with(|tx| {
            state::seen(tx, worker)?;
            Ok(state::action(tx, worker, task, chain_now))
        })??;
        if action != agora_api::scheduler::Action::Wait {
            return Ok(Json(ActionReply { action }));
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return Ok(Json(ActionReply { action }));
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn tasks(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Refusal> {
    alive(&shared)?;
    let Query(query) = query.map_err(bad_query)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(TaskStatus::parse(text).ok_or_else(|| {
            let names: Vec<_> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
            refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown task status {text:?}: one of {}", names.join(", ")),
            )
        })?),
    };
    let list = shared.db.with(|tx| state::list(tx, status))?;
    Ok(Json(list).into_response())
}

async fn task(
    State(shared): State<Arc<Shared>>,
    task: Result<Path<TaskId>, PathRejection>,
) -> Result<Response, Refusal> {
    alive(&shared)?;
    let Path(task) = task.map_err(bad_task)?;
    match shared.db.with(|tx| state::view(tx, task))? {
        Some(view) => Ok(Json(view).into_response()),
        None => Err(refuse(
            StatusCode::NOT_FOUND,
            format!("task {task} is not one of this scheduler's"),
        )),
    }
}
