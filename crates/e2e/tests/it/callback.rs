//! A deal whose results go to a smart contract: the app names callback data, the worker
//! contributes its digest, the uploader reports the data, and finalize delivers it to the
//! requester's callback contract, on chain.

use agora_api::scheduler::TaskStatus;
use agora_testkit::market::REQUESTER;
use alloy::primitives::{Bytes, U256};

use crate::net::Net;

alloy::sol!(
    /// A result callback that stores what it receives (tests only).
    #[sol(rpc)]
    #[derive(Debug)]
    CallbackConsumer,
    "../../contracts/out/CallbackConsumer.json"
);

const COMPLETED: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_deal_delivers_the_apps_callback_data_to_the_contract_at_finalize() {
    let mut net = Net::start("examples/wat/callback.wat").await;
    let consumer = CallbackConsumer::deploy(net.world.provider(REQUESTER))
        .await
        .expect("the consumer deploys");
    let mut orders = net.orders(1, 1, 0x81);
    orders.request.callback = *consumer.address();
    let task = net.deal(&orders).await.task(U256::ZERO);
    net.start_worker(0, false).await;
    net.until_chain_status(task, COMPLETED).await;
    net.until_status(task, TaskStatus::Completed).await;

    let expected = Bytes::from_static(&[0x04, 0xd2]);
    assert_eq!(
        consumer.lastTask().call().await.unwrap(),
        *task.as_b256(),
        "the contract was called for this task"
    );
    assert_eq!(consumer.lastResult().call().await.unwrap(), expected);
    assert_eq!(consumer.calls().call().await.unwrap(), U256::from(1));
    let on_chain = net.world.view_task(task).await;
    assert_eq!(on_chain.resultsCallback, expected);
    assert_eq!(
        on_chain.resultDigest,
        alloy::primitives::keccak256(&expected),
        "the digest of a callback result is the keccak of its data"
    );
    net.stop().await;
}
