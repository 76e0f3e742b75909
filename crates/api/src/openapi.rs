//! The OpenAPI documents of the services' HTTP APIs, derived from the types of this crate.
//! The committed copies (`docs/openapi/*.json`) are checked against them by a test; each
//! service also serves its own at `GET /v1/openapi.json`.
//!
//! The functions below only carry the description of each endpoint for the derive; the
//! services implement them.

#![allow(dead_code, reason = "endpoint descriptions for the OpenAPI derive")]

use utoipa::OpenApi;

use crate::{
    ApiError,
    market::{
        Cursor, MarketInfo, MarketOrder, OrderKind, OrderPage, OrderQuery, OrderStatus,
        SignedOrder,
        schema::{SignedAppOrder, SignedDatasetOrder, SignedRequestOrder, SignedWorkerpoolOrder},
    },
    results::{ResultLink, Stored},
    scheduler::{
        Action, ActionReply, Ask, Assignment, Challenge, Event, Heartbeat, Login, ReplicateStatus,
        ReplicateView, Session, StatusUpdate, TaskStatus, TaskSummary, TaskView,
    },
};

/// Where a service serves its document.
pub const PATH: &str = "/v1/openapi.json";

#[utoipa::path(get, path = "/v1/workers/challenge", tag = "workers",
    params(("worker" = String, Query, description = "The worker's address")),
    responses((status = 200, body = Challenge), (status = 400, body = ApiError)))]
fn challenge() {}

#[utoipa::path(post, path = "/v1/workers/login", tag = "workers", request_body = Login,
    responses((status = 200, body = Session), (status = 400, body = ApiError),
        (status = 401, body = ApiError),
        (status = 403, description = "Not one of the pool's workers", body = ApiError),
        (status = 413, description = "Body over 1 MiB", body = ApiError)))]
fn login() {}

#[utoipa::path(post, path = "/v1/replicates/ask", tag = "replicates", request_body = Ask,
    security(("session" = [])),
    responses((status = 200, description = "A replicate to run", body = Assignment),
        (status = 204, description = "Nothing to do within the wait"),
        (status = 401, body = ApiError)))]
fn ask() {}

#[utoipa::path(post, path = "/v1/workers/heartbeat", tag = "workers", request_body = Heartbeat,
    security(("session" = [])),
    responses((status = 204, description = "Heard: the worker and its running replicates are alive"),
        (status = 400, body = ApiError), (status = 401, body = ApiError)))]
fn heartbeat() {}

#[utoipa::path(post, path = "/v1/replicates/{task}/status", tag = "replicates",
    request_body = StatusUpdate, security(("session" = [])),
    params(("task" = String, Path, description = "The task id")),
    responses((status = 200, body = ActionReply), (status = 401, body = ApiError),
        (status = 404, description = "The worker has no replicate of this task", body = ApiError),
        (status = 409, description = "The result store has no result for the task", body = ApiError),
        (status = 422, description = "Callback data that is not the revealed digest's", body = ApiError)))]
fn status() {}

#[utoipa::path(get, path = "/v1/replicates/{task}/action", tag = "replicates",
    security(("session" = [])),
    params(("task" = String, Path, description = "The task id"),
        ("wait_ms" = Option<u64>, Query, description = "Hold the request this long (at most 30 s) while the action is WAIT")),
    responses((status = 200, body = ActionReply), (status = 404, body = ApiError)))]
fn action() {}

#[utoipa::path(get, path = "/v1/tasks", tag = "tasks",
    params(("status" = Option<TaskStatus>, Query, description = "Only tasks with this status")),
    responses((status = 200, body = [TaskSummary]), (status = 400, body = ApiError)))]
fn tasks() {}

#[utoipa::path(get, path = "/v1/tasks/{task}", tag = "tasks",
    params(("task" = String, Path, description = "The task id")),
    responses((status = 200, body = TaskView), (status = 404, body = ApiError)))]
fn task() {}

struct Session_;

impl utoipa::Modify for Session_ {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The scheduler's worker API (`agora scheduler`).
#[derive(OpenApi)]
#[openapi(
    info(title = "Agora scheduler", version = "1",
        description = "A workerpool's scheduler: workers log in, ask for replicates, report their statuses and learn what to do next; anyone reads the tasks' histories."),
    paths(challenge, login, heartbeat, ask, status, action, tasks, task),
    components(schemas(ApiError, Challenge, Login, Session, Heartbeat, Ask, Assignment, StatusUpdate,
        ReplicateStatus, Action, ActionReply, TaskStatus, TaskSummary, TaskView, ReplicateView, Event)),
    modifiers(&Session_)
)]
struct SchedulerApi;

#[utoipa::path(put, path = "/v1/results/{task}", tag = "results",
    params(("task" = String, Path, description = "The task id"),
        ("agora-worker" = String, Header, description = "The uploading worker's address"),
        ("agora-authorization" = String, Header, description = "The scheduler's authorization of the worker for the task (hex)"),
        ("agora-signature" = String, Header, description = "The worker's ResultUpload signature of the archive (hex)")),
    request_body(content = Vec<u8>, content_type = "application/zip"),
    responses((status = 200, body = Stored), (status = 400, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, description = "The task has another result", body = ApiError),
        (status = 413, description = "Over the size limit")))]
fn upload() {}

#[utoipa::path(get, path = "/v1/results/{task}", tag = "results",
    params(("task" = String, Path, description = "The task id")),
    responses((status = 200, description = "The archive", content_type = "application/zip", body = Vec<u8>),
        (status = 404, body = ApiError)))]
fn download() {}

/// The result store's API (`agora results`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agora result store",
        version = "1",
        description = "Task results: uploaded by the workers a scheduler authorized, downloaded by task id."
    ),
    paths(upload, download),
    components(schemas(ApiError, Stored, ResultLink))
)]
struct ResultsApi;

#[utoipa::path(post, path = "/v1/orders/app", tag = "orders", request_body = SignedAppOrder,
    responses((status = 201, description = "Published", body = MarketOrder),
        (status = 200, description = "Published already: the stored entry, unchanged", body = MarketOrder),
        (status = 400, description = "Not a well-formed app order (the message names the field)", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 422, description = "Refused as matchOrders would refuse it: asset not registered, signature not the owner's, no volume left, price above the hub's limit", body = ApiError),
        (status = 502, description = "The chain could not be read", body = ApiError),
        (status = 504, description = "The chain did not answer the checks within 30 s", body = ApiError)))]
fn publish_app() {}

#[utoipa::path(post, path = "/v1/orders/dataset", tag = "orders", request_body = SignedDatasetOrder,
    responses((status = 201, description = "Published", body = MarketOrder),
        (status = 200, description = "Published already: the stored entry, unchanged", body = MarketOrder),
        (status = 400, description = "Not a well-formed dataset order", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 422, description = "Refused as matchOrders would refuse it", body = ApiError),
        (status = 502, description = "The chain could not be read", body = ApiError),
        (status = 504, description = "The chain did not answer the checks within 30 s", body = ApiError)))]
fn publish_dataset() {}

#[utoipa::path(post, path = "/v1/orders/workerpool", tag = "orders", request_body = SignedWorkerpoolOrder,
    responses((status = 201, description = "Published", body = MarketOrder),
        (status = 200, description = "Published already: the stored entry, unchanged", body = MarketOrder),
        (status = 400, description = "Not a well-formed workerpool order", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 422, description = "Refused as matchOrders would refuse it (also: a category the hub does not have)", body = ApiError),
        (status = 502, description = "The chain could not be read", body = ApiError),
        (status = 504, description = "The chain did not answer the checks within 30 s", body = ApiError)))]
fn publish_workerpool() {}

#[utoipa::path(post, path = "/v1/orders/request", tag = "orders", request_body = SignedRequestOrder,
    responses((status = 201, description = "Published", body = MarketOrder),
        (status = 200, description = "Published already: the stored entry, unchanged", body = MarketOrder),
        (status = 400, description = "Not a well-formed request order", body = ApiError),
        (status = 413, description = "Body over 64 KiB", body = ApiError),
        (status = 422, description = "Refused as matchOrders would refuse it: app or dataset not registered, not the requester's signature, no volume left, unknown category", body = ApiError),
        (status = 502, description = "The chain could not be read", body = ApiError),
        (status = 504, description = "The chain did not answer the checks within 30 s", body = ApiError)))]
fn publish_request() {}

#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, description = "Offers cheapest first, requests best-paying first (highest workerpoolmaxprice), then oldest first", body = OrderPage),
        (status = 400, description = "A parameter is unknown, malformed or does not apply to the kind (the message names it)", body = ApiError)))]
fn list() {}

#[utoipa::path(get, path = "/v1/orders/{hash}", tag = "orders",
    params(("hash" = String, Path, description = "The order hash")),
    responses((status = 200, body = MarketOrder), (status = 400, body = ApiError),
        (status = 404, description = "Not published here", body = ApiError)))]
fn order() {}

#[utoipa::path(get, path = "/v1/market", tag = "market",
    responses((status = 200, body = MarketInfo)))]
fn info() {}

/// The market's API (`agora market`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agora market",
        version = "1",
        description = "The off-chain order book: owners publish signed app, dataset, workerpool and request orders, checked as matchOrders would check them; anyone lists and filters them. Remaining volumes and statuses follow the chain's events (deals, closed orders, asset transfers)."
    ),
    paths(
        publish_app,
        publish_dataset,
        publish_workerpool,
        publish_request,
        list,
        order,
        info
    ),
    components(schemas(
        ApiError,
        MarketOrder,
        SignedOrder,
        OrderKind,
        OrderStatus,
        OrderPage,
        Cursor,
        MarketInfo,
        SignedAppOrder,
        SignedDatasetOrder,
        SignedWorkerpoolOrder,
        SignedRequestOrder
    ))
)]
struct MarketApi;

/// The scheduler's document, as pretty JSON.
pub fn scheduler() -> String {
    SchedulerApi::openapi().to_pretty_json().unwrap_or_default()
}

/// The result store's document, as pretty JSON.
pub fn results() -> String {
    ResultsApi::openapi().to_pretty_json().unwrap_or_default()
}

/// The market's document, as pretty JSON.
pub fn market() -> String {
    MarketApi::openapi().to_pretty_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn check(name: &str, document: String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/openapi")
            .join(format!("{name}.json"));
        if std::env::var_os("AGORA_WRITE_OPENAPI").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("{document}\n")).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == format!("{document}\n"),
            "{} is not the document of the code: regenerate it with \
             `AGORA_WRITE_OPENAPI=1 cargo test -p agora-api openapi`",
            path.display()
        );
    }

    #[test]
    fn the_committed_openapi_documents_are_those_of_the_code() {
        check("scheduler", super::scheduler());
        check("results", super::results());
        check("market", super::market());
    }

    #[test]
    fn the_scheduler_document_describes_every_endpoint_and_type() {
        let document: serde_json::Value = serde_json::from_str(&super::scheduler()).unwrap();
        for path in [
            "/v1/workers/challenge",
            "/v1/workers/login",
            "/v1/workers/heartbeat",
            "/v1/replicates/ask",
            "/v1/replicates/{task}/status",
            "/v1/replicates/{task}/action",
            "/v1/tasks",
            "/v1/tasks/{task}",
        ] {
            assert!(document["paths"][path].is_object(), "{path} is missing");
        }
        let statuses = &document["components"]["schemas"]["TaskStatus"]["enum"];
        assert!(
            statuses
                .as_array()
                .is_some_and(|s| s.contains(&serde_json::json!("CONSENSUS_REACHED"))),
            "{statuses}"
        );
    }
    #[test]
    fn the_market_document_describes_every_endpoint_and_type() {
        let document: serde_json::Value = serde_json::from_str(&super::market()).unwrap();
        for (path, method) in [
            ("/v1/orders/app", "post"),
            ("/v1/orders/dataset", "post"),
            ("/v1/orders/workerpool", "post"),
            ("/v1/orders/request", "post"),
            ("/v1/orders", "get"),
            ("/v1/orders/{hash}", "get"),
            ("/v1/market", "get"),
        ] {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is missing"
            );
        }
        let parameters = document["paths"]["/v1/orders"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = parameters
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, crate::market::QUERY_PARAMETERS);
        let statuses = &document["components"]["schemas"]["OrderStatus"]["enum"];
        assert_eq!(
            *statuses,
            serde_json::json!(["OPEN", "FILLED", "CANCELLED", "STALE"])
        );
        let request = &document["components"]["schemas"]["SignedRequestOrder"]["properties"];
        assert!(request["workerpoolmaxprice"].is_object(), "{request}");
        assert!(request["sign"].is_object(), "{request}");
    }
}
