//! The HTTP server.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use agora_api::{
    ApiError,
    results::{ResultLink, Stored, headers},
};
use agora_contracts::{Hub, IexecLibCore};
use agora_primitives::{ResultUpload, TaskId, WorkerpoolAuthorization, archive::TaskResult};
use alloy::{
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

/// How the result store runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the archives are kept.
    pub dir: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The chain's JSON-RPC endpoint, to read who schedules a task.
    pub rpc_url: String,
    /// The hub.
    pub hub: Address,
    /// The URL clients reach the store at (for result links); default: the listen address.
    pub public_url: Option<String>,
    /// The largest archive accepted, in bytes.
    pub max_bytes: usize,
}

/// A running result store.
#[derive(Debug)]
pub struct Handle {
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// The store's base URL, `http://host:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }
}

/// What can stop the store from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store's directory.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The RPC URL.
    #[error("bad RPC URL {0:?}")]
    RpcUrl(String),
}

struct Shared {
    store: Store,
    hub: Hub::HubInstance<DynProvider>,
    public_url: String,
    /// The most bytes an archive may unpack to (its entries' total).
    max_unpacked: u64,
}

/// Starts the result store.
pub async fn serve(config: Config) -> Result<Handle, ServeError> {
    let store = Store::open(&config.dir)?;
    let url = config
        .rpc_url
        .parse()
        .map_err(|_| ServeError::RpcUrl(config.rpc_url.clone()))?;
    let provider = ProviderBuilder::new().connect_http(url).erased();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen {
        address: config.listen,
        source,
    })?;
    let url = format!("http://{local}");
    let shared = Arc::new(Shared {
        store,
        hub: Hub::new(config.hub, provider),
        public_url: config.public_url.unwrap_or_else(|| url.clone()),
        max_unpacked: config.max_bytes as u64,
    });
    let router = Router::new()
        .route(
            "/v1/results/{task}",
            get(download).put(upload).fallback(|| async {
                refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "a result is downloaded with GET and uploaded with PUT".into(),
                )
            }),
        )
        .route(
            agora_api::openapi::PATH,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    agora_api::openapi::results(),
                )
            }),
        )
        .fallback(|uri: axum::http::Uri| async move {
            refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "no such path {}: results are at /v1/results/{{task id}}",
                    uri.path()
                ),
            )
        })
        .layer(DefaultBodyLimit::max(config.max_bytes))
        .with_state(shared);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Handle {
        url,
        shutdown: Some(stop),
        server,
    })
}

/// A refused request: its status and what is wrong.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(ApiError { error: self.error })).into_response()
    }
}

fn refuse(status: StatusCode, error: String) -> Refusal {
    Refusal { status, error }
}

fn header_bytes(headers: &HeaderMap, name: &str) -> Result<Vec<u8>, Refusal> {
    let value = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("the {name} header is missing"),
            )
        })?;
    hex::decode(value.trim_start_matches("0x")).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the {name} header is not hex: {e}"),
        )
    })
}

/// The task id of a request's path; a path that is not one is refused in JSON.
fn task_of(path: &str) -> Result<B256, Refusal> {
    let digits = path.strip_prefix("0x").unwrap_or(path);
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("{path:?} is not a task id (32 bytes in hex)"),
        )
    })?;
    Ok(B256::from(bytes))
}

async fn download(State(shared): State<Arc<Shared>>, Path(task): Path<String>) -> Response {
    let task = match task_of(&task) {
        Ok(task) => task,
        Err(refusal) => return refusal.into_response(),
    };
    match shared.store.get(task) {
        Ok(Some(bytes)) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        Ok(None) => refuse(
            StatusCode::NOT_FOUND,
            format!("task {task} has no result here"),
        )
        .into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let task = match task_of(&task) {
        Ok(task) => task,
        Err(refusal) => return refusal.into_response(),
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return refuse(rejection.status(), rejection.body_text()).into_response();
        }
    };
    match accept(&shared, task, &headers, &body).await {
        Ok(stored) => (StatusCode::OK, Json(stored)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn accept(
    shared: &Shared,
    task: B256,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Stored, Refusal> {
    let worker: Address = headers
        .get(headers::WORKER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "the {} header must be the worker's address",
                    headers::WORKER
                ),
            )
        })?;
    let authorization = header_bytes(headers, headers::AUTHORIZATION)?;
    let signature = header_bytes(headers, headers::SIGNATURE)?;
    let (view, scheduler) = task_and_scheduler(&shared.hub, task).await?;
    let task_id = TaskId::new(task);
    let authorized = WorkerpoolAuthorization {
        worker,
        task_id,
        enclave_challenge: Address::ZERO,
    }
    .recover_signer(&authorization)
    .is_ok_and(|signer| signer == scheduler);
    if !authorized {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "the authorization is not the scheduler's ({scheduler}) for worker {worker} and task {task}"
            ),
        ));
    }
    let sha256 = B256::from(<[u8; 32]>::from(Sha256::digest(body)));
    let signed = ResultUpload {
        task_id,
        archive_sha256: sha256,
    }
    .recover_signer(&signature)
    .is_ok_and(|signer| signer == worker);
    if !signed {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("the upload is not signed by worker {worker}"),
        ));
    }
    let certified = winner_digest(&shared.hub, &view, task, worker).await?;
    let bytes = body.to_vec();
    let limit = shared.max_unpacked;
    let result = tokio::task::spawn_blocking(move || TaskResult::of_archive(&bytes, limit))
        .await
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if *result.digest.as_b256() != certified {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the archive's result digest {} is not task {task}'s on-chain result digest {certified}",
                result.digest
            ),
        ));
    }
    match shared.store.put(task, body) {
        Ok(sha256) => Ok(Stored {
            task_id: task,
            sha256,
            size: body.len() as u64,
            link: ResultLink::agora(&shared.public_url, task),
        }),
        Err(e @ StoreError::Conflict { .. }) => Err(refuse(StatusCode::CONFLICT, e.to_string())),
        Err(e) => Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Task `task` and the owner of its workerpool, read from the chain.
async fn task_and_scheduler(
    hub: &Hub::HubInstance<DynProvider>,
    task: B256,
) -> Result<(IexecLibCore::Task, Address), Refusal> {
    let view = hub.viewTask(task).call().await.map_err(chain(task))?;
    if view.dealid == B256::ZERO {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            format!("task {task} is not initialized on chain"),
        ));
    }
    let deal = hub
        .viewDeal(view.dealid)
        .call()
        .await
        .map_err(chain(task))?;
    Ok((view, deal.workerpool.owner))
}

fn chain(task: B256) -> impl FnOnce(alloy::contract::Error) -> Refusal {
    move |e| {
        refuse(
            StatusCode::BAD_GATEWAY,
            format!("cannot read task {task} from the chain: {e}"),
        )
    }
}

/// The task statuses and contribution statuses of the hub (`IexecLibCore`).
const ACTIVE: u8 = 1;
const REVEALING: u8 = 2;
const CONTRIBUTED: u8 = 1;
const PROVED: u8 = 2;

/// The result digest `worker` may upload an archive of: the task's on-chain `resultDigest`
/// once the worker's contribution is PROVED (revealed, or `contributeAndFinalize`). A winner
/// whose reveal is not mined yet gets a 425 (retry); anyone else a final 403.
async fn winner_digest(
    hub: &Hub::HubInstance<DynProvider>,
    view: &IexecLibCore::Task,
    task: B256,
    worker: Address,
) -> Result<B256, Refusal> {
    let contribution = hub
        .viewContribution(task, worker)
        .call()
        .await
        .map_err(chain(task))?;
    match contribution.status {
        PROVED if view.resultDigest != B256::ZERO => Ok(view.resultDigest),
        CONTRIBUTED if view.status == ACTIVE => Err(refuse(
            StatusCode::TOO_EARLY,
            format!(
                "task {task} has no consensus yet: worker {worker} may upload once it has revealed"
            ),
        )),
        CONTRIBUTED
            if view.status == REVEALING && contribution.resultHash == view.consensusValue =>
        {
            Err(refuse(
                StatusCode::TOO_EARLY,
                format!(
                    "worker {worker} has not revealed its result of task {task} yet: retry once its reveal is mined"
                ),
            ))
        }
        CONTRIBUTED | PROVED => Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "worker {worker} is not a revealed winner of task {task}: its contribution is not the consensus or was never revealed"
            ),
        )),
        _ => Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "worker {worker} is not a revealed winner of task {task}: it has no winning contribution on chain"
            ),
        )),
    }
}
