//! The running node: the chain behind a lock, the queue of submitted transactions, and the
//! miner thread that turns the queue into durable blocks.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use alloy_primitives::{Address, B256};
use parking_lot::{Condvar, Mutex, RwLock};
use tokio::sync::{broadcast, oneshot};

use crate::{
    accounts::DevAccount,
    chain::{Block, Chain, SignedTx},
    config::Mining,
    error::TxError,
    store::{BlockLog, ClockRecord, Record},
};

mod control;

pub(crate) use control::{Edit, MAX_MINED_AT_ONCE};

type Reply = oneshot::Sender<Result<B256, TxError>>;

#[derive(Debug)]
struct Pending {
    tx: SignedTx,
    reply: Option<Reply>,
}

/// Who writes blocks: one at a time, the log with it.
#[derive(Debug)]
struct Producer {
    log: Option<BlockLog>,
}

impl Producer {
    /// Appends `records` and waits until they are on disk.
    fn write(&mut self, records: &[Record]) -> Result<(), crate::Error> {
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        for record in records {
            log.append(record);
        }
        log.commit()
    }

    fn persist_clock(&mut self, clock: ClockRecord) -> Result<(), crate::Error> {
        self.write(&[Record::Clock(clock)])
    }
}

/// How many transactions of one sender may wait for an earlier nonce.
pub(crate) const FUTURE_PER_SENDER: usize = 64;
/// How many transactions in all may wait for an earlier nonce.
pub(crate) const FUTURE_TOTAL: usize = 4096;

#[derive(Debug, Default)]
struct Pool {
    queue: VecDeque<Pending>,
    hashes: HashSet<B256>,
    /// Next nonce of each sender that has transactions queued or being mined.
    next_nonce: HashMap<Address, u64>,
    /// Transactions whose nonce is ahead of their sender's next one: they wait until the gap
    /// is filled (`txpool_content`'s "queued").
    future: HashMap<Address, std::collections::BTreeMap<u64, SignedTx>>,
    future_count: usize,
}

/// The shared heart of a running chain.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) chain: RwLock<Chain>,
    producer: Mutex<Producer>,
    pool: Mutex<Pool>,
    wake: Condvar,
    pub(crate) mining: Mining,
    /// With [`Mining::Auto`]: whether each transaction is mined as it arrives
    /// (`evm_setAutomine(false)` queues them until `evm_mine`).
    automine: AtomicBool,
    pub(crate) heads: broadcast::Sender<Arc<Block>>,
    /// The hash of every transaction the pool accepts (`newPendingTransactions`).
    pub(crate) pending_hashes: broadcast::Sender<B256>,
    pub(crate) dev_accounts: Vec<DevAccount>,
    stopped: AtomicBool,
    /// Why the node stopped serving, if a block could not be made durable.
    failure: Mutex<Option<String>>,
    /// Snapshots taken with `evm_snapshot`, for as long as the process runs.
    snapshots: Mutex<control::Snapshots>,
    /// Addresses whose transactions `eth_sendTransaction` sends unsigned
    /// (`anvil_impersonateAccount`).
    pub(crate) impersonated: Mutex<HashSet<Address>>,
}

impl Node {
    pub(crate) fn new(
        chain: Chain,
        log: Option<BlockLog>,
        mining: Mining,
        dev_accounts: Vec<DevAccount>,
    ) -> Self {
        let (heads, _) = broadcast::channel(1024);
        let (pending_hashes, _) = broadcast::channel(4096);
        Self {
            chain: RwLock::new(chain),
            producer: Mutex::new(Producer { log }),
            pool: Mutex::new(Pool::default()),
            wake: Condvar::new(),
            automine: AtomicBool::new(matches!(mining, Mining::Auto)),
            mining,
            heads,
            pending_hashes,
            dev_accounts,
            stopped: AtomicBool::new(false),
            failure: Mutex::new(None),
            snapshots: Mutex::new(control::Snapshots::default()),
            impersonated: Mutex::new(HashSet::new()),
        }
    }

    /// Queues a decoded transaction and calls `queued` once it has its place in the queue.
    /// With automine, then waits until its block is durable.
    pub(crate) async fn submit(
        &self,
        tx: SignedTx,
        queued: impl FnOnce(),
    ) -> Result<B256, TxError> {
        let hash = tx.hash;
        let reply = {
            let chain = self.chain.read();
            let mut pool = self.pool.lock();
            if self.stopped.load(Ordering::Acquire) {
                return Err(TxError::ShutDown);
            }
            if pool.hashes.contains(&hash) {
                return Err(TxError::AlreadyKnown(hash));
            }
            let next = pool
                .next_nonce
                .get(&tx.sender)
                .copied()
                .unwrap_or_else(|| chain.state.nonce(&tx.sender));
            let nonce = alloy_consensus::Transaction::nonce(&tx.envelope);
            if nonce > next {
                // Ahead of the sender's next nonce: checked as if it were next, then it waits.
                chain.validate(&tx, nonce)?;
                let waiting = pool.future.get(&tx.sender).map_or(0, |f| f.len());
                let full = |scope: &str, waiting: usize, limit: usize| TxError::PoolFull {
                    scope: scope.into(),
                    waiting,
                    limit,
                    expected: next,
                };
                if waiting >= FUTURE_PER_SENDER {
                    return Err(full(
                        &format!("sender {}", tx.sender),
                        waiting,
                        FUTURE_PER_SENDER,
                    ));
                }
                if pool.future_count >= FUTURE_TOTAL {
                    return Err(full("the whole pool", pool.future_count, FUTURE_TOTAL));
                }
                let sender = tx.sender;
                if let Some(replaced) = pool.future.entry(sender).or_default().insert(nonce, tx) {
                    pool.hashes.remove(&replaced.hash);
                } else {
                    pool.future_count += 1;
                }
                pool.hashes.insert(hash);
                let _ = self.pending_hashes.send(hash);
                return Ok(hash);
            }
            chain.validate(&tx, next)?;
            pool.next_nonce.insert(tx.sender, next + 1);
            pool.hashes.insert(hash);
            let sender = tx.sender;
            let (reply, wait) = oneshot::channel();
            pool.queue.push_back(Pending {
                tx,
                reply: Some(reply),
            });
            Self::promote(&chain, &mut pool, sender, next + 1);
            let _ = self.pending_hashes.send(hash);
            self.wake.notify_one();
            wait
        };
        queued();
        if self.automining() {
            reply.await.unwrap_or(Err(TxError::ShutDown))
        } else {
            Ok(hash)
        }
    }

    /// Moves the sender's waiting transactions whose turn has come (nonce `next`, then the
    /// following ones) into the queue.
    fn promote(chain: &Chain, pool: &mut Pool, sender: Address, mut next: u64) {
        loop {
            let Some(waiting) = pool.future.get_mut(&sender) else {
                return;
            };
            let Some(tx) = waiting.remove(&next) else {
                return;
            };
            if waiting.is_empty() {
                pool.future.remove(&sender);
            }
            pool.future_count -= 1;
            if let Err(error) = chain.validate(&tx, next) {
                tracing::debug!(target: "agora::chain", tx = %tx.hash, %error, "a waiting transaction is dropped");
                pool.hashes.remove(&tx.hash);
                return;
            }
            pool.next_nonce.insert(sender, next + 1);
            pool.queue.push_back(Pending { tx, reply: None });
            next += 1;
        }
    }

    /// The transactions waiting to be mined (`pending`) and those waiting for an earlier
    /// nonce (`queued`), by sender and nonce.
    pub(crate) fn pool_content(&self) -> (Vec<SignedTx>, Vec<SignedTx>) {
        let pool = self.pool.lock();
        let pending = pool.queue.iter().map(|p| p.tx.clone()).collect();
        let queued = pool
            .future
            .values()
            .flat_map(|txs| txs.values().cloned())
            .collect();
        (pending, queued)
    }

    /// How many transactions wait for an earlier nonce.
    pub(crate) fn queued_count(&self) -> usize {
        self.pool.lock().future_count
    }

    /// The sender's next nonce, counting queued transactions (the `pending` tag).
    pub(crate) fn pending_nonce(&self, address: &Address) -> u64 {
        let chain = self.chain.read();
        let pool = self.pool.lock();
        pool.next_nonce
            .get(address)
            .copied()
            .unwrap_or_else(|| chain.state.nonce(address))
    }

    /// Number of transactions waiting to be mined.
    pub(crate) fn pending_count(&self) -> usize {
        self.pool.lock().queue.len()
    }

    /// Mines the queued transactions into one block now (`evm_mine`), even if there are none.
    pub(crate) fn mine_now(&self, timestamp: Option<u64>) {
        let batch: Vec<Pending> = self.pool.lock().queue.drain(..).collect();
        self.mine(batch, true, timestamp);
    }

    /// Moves the clock forward (`evm_increaseTime`) and returns the total offset.
    pub(crate) fn increase_time(&self, seconds: u64) -> Result<i64, crate::Error> {
        let mut producer = self.producer.lock();
        let mut chain = self.chain.write();
        let offset = chain.increase_time(seconds);
        producer.persist_clock(chain.clock)?;
        Ok(offset)
    }

    /// Sets the next block's timestamp (`evm_setNextBlockTimestamp`).
    pub(crate) fn set_next_timestamp(&self, timestamp: u64) -> Result<(), crate::Error> {
        let mut producer = self.producer.lock();
        let mut chain = self.chain.write();
        chain.set_next_timestamp(timestamp);
        producer.persist_clock(chain.clock)
    }

    /// The miner thread: waits for transactions (or the block interval) and mines them.
    pub(crate) fn run_miner(self: Arc<Self>) {
        let mut next_tick = match self.mining {
            Mining::Interval(d) => Some(Instant::now() + d),
            Mining::Auto => None,
        };
        loop {
            let batch: Vec<Pending> = {
                let mut pool = self.pool.lock();
                loop {
                    if self.stopped.load(Ordering::Acquire) {
                        drop(pool);
                        self.fail_queued();
                        return;
                    }
                    match (self.mining, next_tick) {
                        (Mining::Interval(d), Some(tick)) => {
                            if Instant::now() >= tick {
                                next_tick = Some(tick + d)
                                    .filter(|t| *t > Instant::now())
                                    .or(Some(Instant::now() + d));
                                break;
                            }
                            self.wake.wait_until(&mut pool, tick);
                        }
                        _ => {
                            if !pool.queue.is_empty() && self.automining() {
                                break;
                            }
                            self.wake.wait(&mut pool);
                        }
                    }
                }
                pool.queue.drain(..).collect()
            };
            let allow_empty = matches!(self.mining, Mining::Interval(_));
            self.mine(batch, allow_empty, None);
        }
    }

    /// Whether each transaction is mined as it arrives.
    pub(crate) fn automining(&self) -> bool {
        self.automine.load(Ordering::Acquire)
    }

    /// Switches automine on or off (`evm_setAutomine`); only a node started with automine
    /// can (one mining on an interval keeps it).
    pub(crate) fn set_automine(&self, on: bool) -> Result<(), String> {
        if let Mining::Interval(every) = self.mining {
            if on {
                return Err(format!(
                    "this node mines a block every {every:?} (--block-time): automine cannot be switched on"
                ));
            }
            return Ok(());
        }
        let _pool = self.pool.lock();
        self.automine.store(on, Ordering::Release);
        // Turned back on: what was queued meanwhile is mined now.
        self.wake.notify_all();
        Ok(())
    }

    /// Mines `batch`: one block per transaction with automine, one block for all otherwise.
    /// Blocks are built under a read lock, written and fsync'd with no lock held (so that
    /// transactions keep arriving and reads keep being answered), and only then published:
    /// nobody sees a block before it is durable.
    fn mine(&self, batch: Vec<Pending>, allow_empty: bool, timestamp: Option<u64>) {
        let mut producer = self.producer.lock();
        if let Some(ts) = timestamp {
            let mut chain = self.chain.write();
            chain.set_next_timestamp(ts);
            if let Err(e) = producer.persist_clock(chain.clock) {
                drop(chain);
                self.fail(&e);
            }
        }
        let mut replies: Vec<(Option<Reply>, Result<B256, TxError>)> =
            Vec::with_capacity(batch.len());
        let mut senders: Vec<Address> = Vec::with_capacity(batch.len());
        let mut requeue = Vec::new();
        let mut batch_hashes = Vec::with_capacity(batch.len());
        let mut reply_of: HashMap<B256, Option<Reply>> = HashMap::with_capacity(batch.len());
        let mut txs = Vec::with_capacity(batch.len());
        for pending in batch {
            batch_hashes.push(pending.tx.hash);
            senders.push(pending.tx.sender);
            reply_of.insert(pending.tx.hash, pending.reply);
            txs.push(pending.tx);
        }
        let (outcomes, sealed) = {
            let chain = self.chain.read();
            let mut building = chain.batch();
            let mut outcomes = Vec::new();
            if self.automining() && !txs.is_empty() {
                for tx in txs {
                    outcomes.push(building.mine_block(vec![tx], false));
                }
            } else {
                outcomes.push(building.mine_block(txs, allow_empty));
            }
            (outcomes, building.finish())
        };
        let durable = producer.write(&sealed.records);
        let mut blocks = Vec::new();
        for outcome in outcomes {
            for hash in outcome.included {
                let result = match &durable {
                    Ok(()) => Ok(hash),
                    Err(e) => Err(TxError::Rejected(format!(
                        "the block could not be written: {e}"
                    ))),
                };
                replies.push((reply_of.remove(&hash).flatten(), result));
            }
            for (hash, error) in outcome.rejected {
                tracing::debug!(target: "agora::chain", tx = %hash, %error, "transaction dropped");
                replies.push((reply_of.remove(&hash).flatten(), Err(error)));
            }
            for tx in outcome.left {
                let reply = reply_of.remove(&tx.hash).flatten();
                requeue.push(Pending { tx, reply });
            }
            blocks.extend(outcome.block);
        }
        match &durable {
            Ok(()) => self.chain.write().publish(sealed),
            Err(e) => {
                blocks.clear();
                self.fail(e);
            }
        }
        drop(producer);
        {
            let mut pool = self.pool.lock();
            for hash in &batch_hashes {
                if !requeue.iter().any(|p: &Pending| p.tx.hash == *hash) {
                    pool.hashes.remove(hash);
                }
            }
            for pending in requeue.into_iter().rev() {
                pool.queue.push_front(pending);
            }
            for sender in senders {
                if !pool.queue.iter().any(|p| p.tx.sender == sender) {
                    pool.next_nonce.remove(&sender);
                }
            }
        }
        for block in blocks {
            let _ = self.heads.send(block);
        }
        for (reply, result) in replies {
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }

    /// Stops serving after a block could not be made durable: the chain on disk ends before it.
    fn fail(&self, error: &crate::Error) {
        tracing::error!(target: "agora::chain", %error, "blocks could not be made durable; the node stops");
        *self.failure.lock() = Some(format!("blocks could not be written to disk ({error})"));
        self.stopped.store(true, Ordering::Release);
    }

    /// Why the node stopped serving, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    fn fail_queued(&self) {
        let mut pool = self.pool.lock();
        for pending in pool.queue.drain(..) {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err(TxError::ShutDown));
            }
        }
    }

    /// Stops the miner; queued transactions fail with [`TxError::ShutDown`].
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _pool = self.pool.lock();
        self.wake.notify_all();
    }
}
