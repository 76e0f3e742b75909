//! HTTP and WebSocket transport for JSON-RPC, on one port.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy_rpc_types_eth::Filter;
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{
        DefaultBodyLimit, State,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
            rejection::WebSocketUpgradeRejection,
        },
    },
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::{
    Cors,
    chain::Block,
    rpc::{Rpc, RpcError, Sequencer, Subscriber, filters, response},
};

#[derive(Debug, Clone)]
pub(crate) struct ServerState {
    pub(crate) rpc: Arc<Rpc>,
    pub(crate) max_request_size: usize,
}

pub(crate) fn router(state: ServerState, cors: &Cors) -> Router {
    let router = Router::new()
        .route("/", get(websocket).post(http))
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    match cors_layer(cors) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// The CORS answer: the preflight's `OPTIONS` is answered by the layer (any method and
/// header a JSON-RPC client sends), and every answer carries the allowed origin.
fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let origins = match cors {
        Cors::Off => return None,
        Cors::Any => AllowOrigin::any(),
        Cors::Origins(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|origin| header::HeaderValue::from_str(origin).ok()),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(std::time::Duration::from_secs(600)),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn http(State(state): State<ServerState>, body: Body) -> Response {
    let bytes = match to_bytes(body, state.max_request_size).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = RpcError::limit(format!(
                "request body exceeds the limit of {} bytes",
                state.max_request_size
            ));
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &response(Value::Null, Err(error)),
            );
        }
    };
    match state.rpc.handle_message(&bytes, None, None).await {
        Some(reply) => json_response(StatusCode::OK, &reply),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn websocket(
    State(state): State<ServerState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        // The socket reads messages up to four times the limit, so that one over the limit is
        // read whole and answered (and the socket stays usable); past that the socket is closed
        // without reading on, best effort with an error and a close frame first.
        Ok(upgrade) => upgrade
            .max_message_size(state.max_request_size.saturating_mul(4))
            .max_frame_size(state.max_request_size.saturating_mul(4))
            .on_upgrade(move |socket| serve_socket(state, socket)),
        Err(_) => json_response(
            StatusCode::OK,
            &json!({
                "service": "agora-chain",
                "usage": "POST JSON-RPC 2.0 requests to this URL, or open a WebSocket on it",
            }),
        ),
    }
}

/// Subscriptions of one WebSocket connection.
struct Connection {
    rpc: Arc<Rpc>,
    out: mpsc::UnboundedSender<String>,
    subscriptions: Mutex<HashMap<String, JoinHandle<()>>>,
    next_id: AtomicU64,
}

impl Subscriber for Connection {
    fn subscribe(&self, kind: String, filter: Option<Filter>) -> Result<String, RpcError> {
        let logs = match kind.as_str() {
            "newHeads" => None,
            "logs" => Some(filter.unwrap_or_default()),
            "newPendingTransactions" => return Ok(self.subscribe_pending()),
            other => {
                return Err(RpcError::invalid_params(format!(
                    "unsupported subscription kind {other:?}: this node offers \"newHeads\", \"logs\" and \"newPendingTransactions\""
                )));
            }
        };
        let id = self.new_id();
        let node = self.rpc.node.clone();
        let mut heads = node.heads.subscribe();
        let mut next = node.chain.read().head_number() + 1;
        let out = self.out.clone();
        let sub_id = id.clone();
        let task = tokio::spawn(async move {
            loop {
                match heads.recv().await {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
                // Read the blocks from the chain, so that a lagging receiver misses nothing.
                let blocks: Vec<Arc<Block>> = {
                    let chain = node.chain.read();
                    let head = chain.head_number();
                    let blocks = (next..=head)
                        .filter_map(|n| chain.block(n).cloned())
                        .collect();
                    next = head + 1;
                    blocks
                };
                for block in blocks {
                    let results: Vec<Value> = match &logs {
                        None => {
                            let header = alloy_rpc_types_eth::Header {
                                hash: block.hash,
                                inner: block.header.clone(),
                                total_difficulty: None,
                                size: None,
                            };
                            vec![serde_json::to_value(header).unwrap_or_default()]
                        }
                        Some(filter) => {
                            let mut found = Vec::new();
                            filters::block_logs(&block, filter, &mut found);
                            found
                                .into_iter()
                                .map(|l| serde_json::to_value(l).unwrap_or_default())
                                .collect()
                        }
                    };
                    for result in results {
                        let note = json!({
                            "jsonrpc": "2.0",
                            "method": "eth_subscription",
                            "params": { "subscription": sub_id, "result": result },
                        });
                        if out.send(note.to_string()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        self.subscriptions.lock().insert(id.clone(), task);
        Ok(id)
    }

    fn unsubscribe(&self, id: &str) -> bool {
        self.remove(id)
    }
}

impl Connection {
    fn new_id(&self) -> String {
        format!(
            "{:#x}",
            self.next_id.fetch_add(1, Ordering::Relaxed) + 0x1000
        )
    }

    /// `newPendingTransactions`: the hash of each transaction the pool accepts.
    fn subscribe_pending(&self) -> String {
        let id = self.new_id();
        let mut hashes = self.rpc.node.pending_hashes.subscribe();
        let out = self.out.clone();
        let sub_id = id.clone();
        let task = tokio::spawn(async move {
            loop {
                let hash = match hashes.recv().await {
                    Ok(hash) => hash,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let note = json!({
                    "jsonrpc": "2.0",
                    "method": "eth_subscription",
                    "params": { "subscription": sub_id, "result": hash },
                });
                if out.send(note.to_string()).is_err() {
                    return;
                }
            }
        });
        self.subscriptions.lock().insert(id.clone(), task);
        id
    }

    fn remove(&self, id: &str) -> bool {
        match self.subscriptions.lock().remove(id) {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for (_, task) in self.subscriptions.lock().drain() {
            task.abort();
        }
    }
}

async fn serve_socket(state: ServerState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let connection = Arc::new(Connection {
        rpc: state.rpc.clone(),
        out,
        subscriptions: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
    });
    let writer = tokio::spawn(async move {
        let mut close_rx = close_rx;
        loop {
            tokio::select! {
                biased;
                text = outgoing.recv() => match text {
                    Some(text) => {
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                frame = &mut close_rx => {
                    // Whatever was queued before the close goes first.
                    while let Ok(text) = outgoing.try_recv() {
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    if let Ok(frame) = frame {
                        let _ = sink.send(Message::Close(Some(frame))).await;
                    }
                    return;
                }
            }
        }
    });
    let mut close_tx = Some(close_tx);
    while let Some(message) = stream.next().await {
        let bytes = match message {
            Ok(Message::Text(text)) => text.as_bytes().to_vec(),
            Ok(Message::Binary(bytes)) => bytes.to_vec(),
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Err(error) => {
                // The socket cannot go on (an oversized or malformed frame): say why, as a
                // JSON-RPC error and in the close frame, instead of dropping the connection.
                let (error, code) = unreadable_message(&error, state.max_request_size);
                let reason = error.message.clone();
                let _ = connection
                    .out
                    .send(response(Value::Null, Err(error)).to_string());
                if let Some(close) = close_tx.take() {
                    let _ = close.send(CloseFrame {
                        code,
                        reason: truncate_reason(&reason).into(),
                    });
                }
                break;
            }
        };
        if bytes.len() > state.max_request_size {
            let error = RpcError::limit(format!(
                "WebSocket message of {} bytes exceeds the limit of {} bytes",
                bytes.len(),
                state.max_request_size
            ));
            let _ = connection
                .out
                .send(response(Value::Null, Err(error)).to_string());
            continue;
        }
        // Calls run concurrently (answers carry their ids), but each waits its turn to start:
        // the next message is read once this call is done or its transaction is queued.
        let connection = connection.clone();
        let (sequencer, turn) = Sequencer::new();
        tokio::spawn(async move {
            let reply = connection
                .rpc
                .handle_message(&bytes, Some(connection.as_ref()), Some(&sequencer))
                .await;
            sequencer.release();
            if let Some(reply) = reply {
                let _ = connection.out.send(reply.to_string());
            }
        });
        let _ = turn.await;
    }
    for (_, task) in connection.subscriptions.lock().drain() {
        task.abort();
    }
    drop(connection);
    if close_tx.is_none() {
        // Give the writer a moment to deliver the error and the close frame.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
    } else {
        writer.abort();
    }
}

/// The error a WebSocket read failure is answered with, and the close code: 1009 ("message
/// too big") for a message over the limit, 1002 (protocol error) otherwise.
fn unreadable_message(error: &axum::Error, limit: usize) -> (RpcError, u16) {
    let text = error.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        (
            RpcError::limit(format!(
                "WebSocket message exceeds the limit of {limit} bytes"
            )),
            close_code::SIZE,
        )
    } else {
        (
            RpcError::invalid_request(format!("unreadable WebSocket message: {text}")),
            close_code::PROTOCOL,
        )
    }
}

/// A close frame's reason is at most 123 bytes.
fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
