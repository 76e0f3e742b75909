//! The network starts, says where everything is, keeps its state across a restart and
//! refuses a busy port before writing anything.

use agora_network::{Config, Error, Ports};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_with_a_data_dir_restarts_with_what_it_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::test(dir.path())
    };
    let network = agora_network::spawn(config()).await.unwrap();
    let first = network.info.clone();
    assert!(!first.restored);
    assert_eq!(first.workers.len(), 3);
    assert!(network.worker(2).is_some(), "every worker started");
    for url in [&first.market_url, &first.results_url, &first.scheduler_url] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
    assert_eq!(
        first.accounts[2].role,
        "workerpool owner (runs the scheduler)"
    );
    network.stop().await;

    let network = agora_network::spawn(config()).await.unwrap();
    assert!(network.info.restored);
    assert_eq!(network.info.app, first.app, "the same app, not a new one");
    assert_eq!(network.info.workerpool, first.workerpool);
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_named_and_nothing_is_written() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("net");
    let error = agora_network::spawn(Config {
        ports: Ports {
            scheduler: port,
            ..Ports::ANY
        },
        ..Config::test(&work)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::PortTaken { port: p, service: "the scheduler", .. } if p == port),
        "{error}"
    );
    assert!(error.to_string().contains("--scheduler-port"), "{error}");
    assert!(!work.exists(), "nothing written");
}
