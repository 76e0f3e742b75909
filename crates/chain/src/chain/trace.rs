//! Tracing on revm's inspector API (`revm-inspectors`, geth's tracers for revm):
//! `debug_traceTransaction` and `debug_traceCall` with the struct logger, `callTracer`,
//! `prestateTracer` and `noopTracer`, and `eth_createAccessList`.

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, NoopFrame,
};
use revm::{
    Context, ExecuteCommitEvm, InspectEvm, MainBuilder, MainContext, database::CacheDB,
    database_interface::WrapDatabaseRef,
};
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{TracingInspector, TracingInspectorConfig},
};
use serde_json::Value;

use super::{CallError, CallRequest, Chain, Prepared, StateAtError};

/// Why a trace cannot be made.
#[derive(Debug)]
pub(crate) enum TraceError {
    /// No transaction with this hash is mined.
    UnknownTransaction(B256),
    /// The state before the transaction's block is no longer kept.
    Pruned(StateAtError),
    /// A tracer this node does not have, or options it cannot read.
    Options(String),
    /// The call could not run.
    Call(CallError),
}

/// The tracer the options ask for.
enum Tracer {
    StructLogger,
    Call(alloy_rpc_types_trace::geth::CallConfig),
    PreState(alloy_rpc_types_trace::geth::PreStateConfig),
    Noop,
}

fn tracer(options: &GethDebugTracingOptions) -> Result<Tracer, TraceError> {
    let config = options.tracer_config.clone();
    let bad = |e: serde_json::Error| TraceError::Options(format!("tracerConfig: {e}"));
    match &options.tracer {
        None => Ok(Tracer::StructLogger),
        Some(GethDebugTracerType::BuiltInTracer(kind)) => match kind {
            GethDebugBuiltInTracerType::CallTracer => {
                Ok(Tracer::Call(config.into_call_config().map_err(bad)?))
            }
            GethDebugBuiltInTracerType::PreStateTracer => {
                Ok(Tracer::PreState(config.into_pre_state_config().map_err(bad)?))
            }
            GethDebugBuiltInTracerType::NoopTracer => Ok(Tracer::Noop),
            other => Err(TraceError::Options(format!(
                "the tracer {other:?} is not supported: use the default struct logger, callTracer, prestateTracer or noopTracer"
            ))),
        },
        Some(GethDebugTracerType::JsTracer(_)) => Err(TraceError::Options(
            "JavaScript tracers are not supported: use the default struct logger, callTracer, prestateTracer or noopTracer".into(),
        )),
    }
}

impl Chain {
    /// `debug_traceCall`: the call run as `eth_call` would, traced.
    pub(crate) fn trace_call(
        &self,
        request: &CallRequest,
        options: &GethDebugTracingOptions,
    ) -> Result<Value, TraceError> {
        let prepared = self.prepare_call(request, None).map_err(TraceError::Call)?;
        trace(prepared, &[], options)
    }

    /// `debug_traceTransaction`: the mined transaction run again on the state before it (its
    /// block's parent state, then the transactions before it in the block), traced.
    pub(crate) fn trace_transaction(
        &self,
        hash: &B256,
        options: &GethDebugTracingOptions,
    ) -> Result<Value, TraceError> {
        let (block, index) = self
            .transaction(hash)
            .ok_or(TraceError::UnknownTransaction(*hash))?;
        let number = block.number();
        let db = self
            .state_at(number.saturating_sub(1))
            .map_err(TraceError::Pruned)?;
        let header = &block.header;
        let env = self.block_env(number, header.timestamp, header.mix_hash);
        let before: Vec<_> = block.txs[..index].iter().map(|t| t.to_tx_env()).collect();
        let prepared = Prepared {
            cfg: self.cfg(),
            block: env,
            tx: block.txs[index].to_tx_env(),
            db,
        };
        trace(prepared, &before, options)
    }

    /// `eth_createAccessList`: the addresses and slots the call touches (its sender, target
    /// and the precompiles left out), and the gas it uses with that list.
    pub(crate) fn create_access_list(
        &self,
        request: &CallRequest,
    ) -> Result<(AccessList, u64, Option<String>), CallError> {
        let Prepared { cfg, block, tx, db } = self.prepare_call(request, None)?;
        let mut inspector = AccessListInspector::new(tx.access_list.clone());
        {
            let mut evm = Context::mainnet()
                .with_cfg(cfg.clone())
                .with_block(block.clone())
                .with_db(CacheDB::new(WrapDatabaseRef(&db)))
                .build_mainnet_with_inspector(&mut inspector);
            let _ = evm.inspect_tx(tx.clone());
        }
        let list = inspector.into_access_list();
        // The gas with the list itself (it changes the cost of what it lists).
        let mut with_list = request.clone();
        with_list.access_list = Some(list.clone());
        let outcome = self.call(&with_list, None);
        let (gas, error) = match outcome {
            Ok((_, gas)) => (gas, None),
            Err(CallError::Revert(data)) => (0, Some(format!("execution reverted: {data}"))),
            Err(CallError::Halt(reason)) => (0, Some(reason)),
            Err(e @ CallError::Invalid(_)) => return Err(e),
        };
        Ok((list, gas, error))
    }
}

fn trace(
    prepared: Prepared<'_>,
    before: &[revm::context::TxEnv],
    options: &GethDebugTracingOptions,
) -> Result<Value, TraceError> {
    let tracer = tracer(options)?;
    let Prepared { cfg, block, tx, db } = prepared;
    let config = match &tracer {
        Tracer::StructLogger => TracingInspectorConfig::from_geth_config(&options.config),
        Tracer::Call(call) => TracingInspectorConfig::from_geth_call_config(call),
        Tracer::PreState(pre) => TracingInspectorConfig::from_geth_prestate_config(pre),
        Tracer::Noop => TracingInspectorConfig::none(),
    };
    let mut cache = CacheDB::new(WrapDatabaseRef(&db));
    let mut inspector = TracingInspector::new(config);
    let result = {
        let mut evm = Context::mainnet()
            .with_cfg(cfg)
            .with_block(block)
            .with_db(&mut cache)
            .build_mainnet_with_inspector(&mut inspector);
        for earlier in before {
            evm.transact_commit(earlier.clone())
                .map_err(|e| TraceError::Call(CallError::Invalid(e.to_string())))?;
        }
        evm.inspect_tx(tx)
            .map_err(|e| TraceError::Call(CallError::Invalid(e.to_string())))?
    };
    let gas_used = result.result.tx_gas_used();
    let output: Bytes = result.result.output().cloned().unwrap_or_default();
    let frame = match tracer {
        Tracer::StructLogger => serde_json::to_value(inspector.into_geth_builder().geth_traces(
            gas_used,
            output,
            options.config,
        )),
        Tracer::Call(call) => serde_json::to_value(
            inspector
                .into_geth_builder()
                .geth_call_traces(call, gas_used),
        ),
        Tracer::PreState(pre) => {
            let frame = inspector
                .into_geth_builder()
                .geth_prestate_traces(&result, &pre, &cache)
                .map_err(|e| TraceError::Call(CallError::Invalid(format!("{e:?}"))))?;
            serde_json::to_value(frame)
        }
        Tracer::Noop => serde_json::to_value(NoopFrame::default()),
    };
    frame.map_err(|e| TraceError::Options(e.to_string()))
}
