//! The token: supply, decimals, approveAndCall.

use agora_contracts::RLC;
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256, bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
};

use crate::common::{Net, mined};

sol! {
    function receiveApproval(address from, uint256 amount, address token, bytes data);
}

/// Deploys a contract that logs its calldata (LOG0 of the whole input) and returns.
async fn deploy_calldata_logger(provider: &impl Provider) -> Address {
    // Runtime: CALLDATACOPY(0, 0, CALLDATASIZE); LOG0(0, CALLDATASIZE); STOP.
    let runtime = bytes!("366000600037366000a000");
    // Init: CODECOPY(0, 12, len); RETURN(0, len); then the runtime.
    let mut init = vec![0x60, runtime.len() as u8, 0x60, 0x0c, 0x60, 0x00, 0x39];
    init.extend_from_slice(&[0x60, runtime.len() as u8, 0x60, 0x00, 0xf3]);
    init.extend_from_slice(&runtime);
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined");
    receipt.contract_address.expect("a contract")
}

#[tokio::test]
async fn mints_87_million_rlc_with_9_decimals_to_the_deployer() {
    let net = Net::start().await;
    let provider = net.provider(0);
    let token = RLC::new(net.deployment.token, &provider);
    let supply = U256::from(87_000_000u64) * U256::from(1_000_000_000u64);
    assert_eq!(token.decimals().call().await.unwrap(), 9);
    assert_eq!(token.symbol().call().await.unwrap(), "RLC");
    assert_eq!(token.name().call().await.unwrap(), "Agora RLC");
    assert_eq!(token.totalSupply().call().await.unwrap(), supply);
    assert_eq!(
        token.balanceOf(net.account(0)).call().await.unwrap(),
        supply
    );
    assert_eq!(
        token.balanceOf(net.account(1)).call().await.unwrap(),
        U256::ZERO
    );
    net.handle.shutdown().await;
}

#[tokio::test]
async fn approve_and_call_approves_then_calls_receive_approval_on_the_spender() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let token = RLC::new(net.deployment.token, &provider);
    let receiver = deploy_calldata_logger(&provider).await;
    let amount = U256::from(5_000_000_000u64);
    let data = Bytes::from_static(b"deposit and match");

    let receipt = mined!(token.approveAndCall(receiver, amount, data.clone()));

    let allowance = token
        .allowance(net.account(1), receiver)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, amount);
    let call = receipt
        .inner
        .logs()
        .iter()
        .find(|log| log.address() == receiver)
        .expect("the receiver was called");
    let expected = receiveApprovalCall {
        from: net.account(1),
        amount,
        token: net.deployment.token,
        data,
    };
    assert_eq!(call.data().data, Bytes::from(expected.abi_encode()));
    net.handle.shutdown().await;
}

#[tokio::test]
async fn approve_and_call_to_an_account_without_code_reverts() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let token = RLC::new(net.deployment.token, &provider);
    let result = token
        .approveAndCall(net.account(2), U256::from(1u64), Bytes::new())
        .call()
        .await;
    assert!(result.is_err(), "{result:?}");
    net.handle.shutdown().await;
}
