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
    results::{ResultLink, Stored},
    scheduler::{
        Action, ActionReply, Ask, Assignment, Challenge, Event, Login, ReplicateStatus,
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
    responses((status = 200, body = Session), (status = 401, body = ApiError),
        (status = 403, description = "Not one of the pool's workers", body = ApiError)))]
fn login() {}

#[utoipa::path(post, path = "/v1/replicates/ask", tag = "replicates", request_body = Ask,
    security(("session" = [])),
    responses((status = 200, description = "A replicate to run", body = Assignment),
        (status = 204, description = "Nothing to do within the wait"),
        (status = 401, body = ApiError)))]
fn ask() {}

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
    paths(challenge, login, ask, status, action, tasks, task),
    components(schemas(ApiError, Challenge, Login, Session, Ask, Assignment, StatusUpdate,
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

/// The scheduler's document, as pretty JSON.
pub fn scheduler() -> String {
    SchedulerApi::openapi().to_pretty_json().unwrap_or_default()
}

/// The result store's document, as pretty JSON.
pub fn results() -> String {
    ResultsApi::openapi().to_pretty_json().unwrap_or_default()
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
    }

    #[test]
    fn the_scheduler_document_describes_every_endpoint_and_type() {
        let document: serde_json::Value = serde_json::from_str(&super::scheduler()).unwrap();
        for path in [
            "/v1/workers/challenge",
            "/v1/workers/login",
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
}
