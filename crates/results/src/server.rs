//! The HTTP server.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use agora_api::{
    ApiError,
    results::{ResultLink, Stored, headers},
};
use agora_contracts::Hub;
use agora_primitives::{ResultUpload, TaskId, WorkerpoolAuthorization};
use alloy::{
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
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
    });
    let router = Router::new()
        .route("/v1/results/{task}", get(download).put(upload))
        .route(
            agora_api::openapi::PATH,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    agora_api::openapi::results(),
                )
            }),
        )
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

async fn download(State(shared): State<Arc<Shared>>, Path(task): Path<B256>) -> Response {
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
    Path(task): Path<B256>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let scheduler = scheduler_of(&shared.hub, task).await?;
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

/// The owner of the workerpool of task `task`, read from the chain.
async fn scheduler_of(hub: &Hub::HubInstance<DynProvider>, task: B256) -> Result<Address, Refusal> {
    let chain = |e: alloy::contract::Error| {
        refuse(
            StatusCode::BAD_GATEWAY,
            format!("cannot read task {task} from the chain: {e}"),
        )
    };
    let view = hub.viewTask(task).call().await.map_err(chain)?;
    if view.dealid == B256::ZERO {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            format!("task {task} is not initialized on chain"),
        ));
    }
    let deal = hub.viewDeal(view.dealid).call().await.map_err(chain)?;
    Ok(deal.workerpool.owner)
}
