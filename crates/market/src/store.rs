//! The order book's database: one SQLite file (WAL) with a row per published order and the last
//! block whose events were applied.
//!
//! Besides the signed order itself (its JSON, `body`), a row holds what the lists filter and
//! sort on, in columns an index can use: the order's own asset, the four parties as
//! `matchOrders` compares them, category, trust, the tag as four 64-bit words (SQLite's bitwise
//! operators work on 64-bit integers), the sort key `rank` and the remaining volume. Every
//! index starts with `(kind, status)`, so the open orders of one kind are read without
//! touching the others, and goes on with `(rank, id)`, the list order, so a page is read in
//! order and stops at its limit. The indexes end with the remaining volume, the tag's low word
//! and the trust: SQLite checks those filters on the index entry and reads the row only of the
//! entries that pass.

use std::path::{Path, PathBuf};

use agora_api::market::{
    Cursor, MAX_PRICE, MarketOrder, OrderKind, OrderPage, OrderQuery, OrderStatus, SignedOrder,
};
use agora_primitives::{Address, OrderHash, Signed, Tag, U256};
use parking_lot::Mutex;
use rusqlite::{
    Connection, OptionalExtension, Transaction, TransactionBehavior, params, types::Value,
};

use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    kind INTEGER NOT NULL,
    status INTEGER NOT NULL,
    asset BLOB NOT NULL,
    app BLOB NOT NULL,
    dataset BLOB NOT NULL,
    workerpool BLOB NOT NULL,
    requester BLOB NOT NULL,
    category INTEGER,
    trust INTEGER,
    tag0 INTEGER NOT NULL,
    tag1 INTEGER NOT NULL,
    tag2 INTEGER NOT NULL,
    tag3 INTEGER NOT NULL,
    rank BLOB NOT NULL,
    volume BLOB NOT NULL,
    consumed BLOB NOT NULL,
    remaining INTEGER NOT NULL,
    signer BLOB NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    stale INTEGER NOT NULL DEFAULT 0,
    published_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_rank
    ON orders (kind, status, rank, id, remaining, tag0, trust);
CREATE INDEX IF NOT EXISTS orders_by_asset
    ON orders (kind, status, asset, rank, id, remaining, tag0, trust);
CREATE INDEX IF NOT EXISTS orders_by_category
    ON orders (kind, status, category, rank, id, remaining, tag0, trust)
    WHERE category IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_by_asset_category
    ON orders (kind, status, asset, category, rank, id, remaining, tag0, trust)
    WHERE category IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_by_requester
    ON orders (status, requester, rank, id, remaining, tag0, trust) WHERE kind = 3;
CREATE INDEX IF NOT EXISTS requests_by_dataset
    ON orders (status, dataset, rank, id, remaining, tag0, trust) WHERE kind = 3;
";

/// Bytes of the sort key: prices are below 2^96 (see [`MAX_PRICE`]).
const RANK_BYTES: usize = 12;

/// The most readers kept open between queries.
const READERS: usize = 4;

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// The log's length (frames, one page each: 64 MiB) past which the checkpointer resets it.
const RESTART_FRAMES: i64 = 16_384;
/// The largest log kept on disk once it is reset, in bytes.
const LOG_LIMIT: i64 = 64 << 20;

/// An order to store: the signed order and what publishing learnt of it on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The signed order.
    pub order: SignedOrder,
    /// Its hash under the market's domain.
    pub hash: OrderHash,
    /// Who signed or presigned it: the asset's owner, or the requester.
    pub signer: Address,
    /// Its volume consumed on chain when it was checked.
    pub consumed: U256,
    /// When it is published (milliseconds since the Unix epoch).
    pub published_at_ms: u64,
}

/// A change the chain made to stored orders, in the order the chain made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Deals consumed the order: its consumed volume is now `consumed`.
    Consumed { hash: OrderHash, consumed: U256 },
    /// The order was closed (`Closed<X>Order`).
    Closed(OrderHash),
    /// The asset now belongs to `owner` (an ERC-721 `Transfer` of its registry).
    Owner {
        kind: OrderKind,
        asset: Address,
        owner: Address,
    },
}

/// The order book's database.
///
/// Writes go through one connection; reads take one of a few others (WAL: they do not wait
/// for the writer). A thread of its own checkpoints the write-ahead log, so that no write
/// waits for the copy into the database file and its `fsync` (SQLite would otherwise run them
/// in the commit that fills the log).
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Option<Checkpointer>,
}

/// The checkpointing thread; it stops, after a last checkpoint, when this is dropped.
#[derive(Debug)]
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|source| Error::Database {
            path: path.to_path_buf(),
            source,
        })?;
        conn.execute_batch(&format!(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_size_limit = {LOG_LIMIT};"
        ))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("market-checkpoint".into())
            .spawn(move || {
                // The log's frames after the checkpoint, or `None` if it failed.
                let checkpoint = |mode: &str| -> Option<i64> {
                    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                        r.get::<_, i64>(1)
                    })
                    .inspect_err(|e| {
                        tracing::warn!(target: "agora::market", error = %e, "checkpoint failed");
                    })
                    .ok()
                };
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // A passive checkpoint never waits, but under writes that do not pause it
                    // never catches up, and the log is never started again: past a bound, a
                    // restart checkpoint waits for the current write and resets the log.
                    if checkpoint("PASSIVE").is_some_and(|frames| frames > RESTART_FRAMES) {
                        checkpoint("RESTART");
                    }
                }
                checkpoint("TRUNCATE");
            })
            .map_err(|e| Error::Stopped(format!("cannot start the checkpointer: {e}")))?;
        Ok(Self { stop, thread })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(Checkpointer { stop, thread }) = self.checkpointer.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl Store {
    /// Opens (creating it if needed) the order book at `path` for the market of `identity`
    /// (its chain and hub): a book made for another is refused and left as it is.
    pub fn open(path: &Path, identity: &str) -> Result<Self> {
        let fail = |source| Error::Database {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| Error::Directory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {LOG_LIMIT};"
        ))
        .map_err(fail)?;
        // One plan per statement: the bundled SQLite (STAT4) would otherwise compile a
        // statement again whenever a value bound against an indexed column changes.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(fail)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute_batch(SCHEMA).map_err(fail)?;
        let found = meta(&tx, "identity").map_err(fail)?;
        match found {
            Some(found) if found != identity => {
                return Err(Error::WrongDatabase {
                    path: path.to_path_buf(),
                    found,
                    expected: identity.into(),
                });
            }
            Some(_) => {}
            None => set_meta(&tx, "identity", identity).map_err(fail)?,
        }
        tx.commit().map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self {
            checkpointer: Some(Checkpointer::start(path)?),
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction, committed if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on a reader (WAL: readers do not wait for the writer).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().pop();
        let conn = match conn {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path).map_err(|source| Error::Database {
                    path: self.path.clone(),
                    source,
                })?;
                conn.execute_batch("PRAGMA query_only = 1; PRAGMA busy_timeout = 5000;")?;
                conn.set_prepared_statement_cache_capacity(64);
                conn.set_db_config(
                    rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                    true,
                )?;
                conn
            }
        };
        let value = f(&conn);
        let mut readers = self.readers.lock();
        if readers.len() < READERS {
            readers.push(conn);
        }
        value
    }

    /// Stores `order` unless an order with its hash is stored already; returns the stored
    /// entry and whether it is new. An existing entry is returned as it is, unchanged.
    pub fn insert(&self, order: &NewOrder) -> Result<(MarketOrder, bool)> {
        self.write(|tx| {
            let inserted = insert(tx, order)?;
            let entry = get(tx, order.hash)?.ok_or_else(|| {
                Error::Corrupt(format!("order {} vanished as it was stored", order.hash))
            })?;
            Ok((entry, inserted))
        })
    }

    /// Stores many orders in one transaction (filling a book); returns how many were new.
    pub fn insert_batch(&self, orders: &[NewOrder]) -> Result<usize> {
        self.write(|tx| {
            let mut new = 0;
            for order in orders {
                new += usize::from(insert(tx, order)?);
            }
            Ok(new)
        })
    }

    /// The order `hash`, if it is stored.
    pub fn get(&self, hash: OrderHash) -> Result<Option<MarketOrder>> {
        self.read(|conn| get(conn, hash))
    }

    /// How many orders are stored.
    pub fn count(&self) -> Result<u64> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))?;
            Ok(n as u64)
        })
    }

    /// One page of the orders `query` selects, best first (see [`OrderQuery`]).
    pub fn list(&self, query: &OrderQuery) -> Result<OrderPage> {
        let (sql, values) = list_sql(query)?;
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
            let mut orders = Vec::new();
            let mut last = None;
            while let Some(row) = rows.next()? {
                if orders.len() == query.limit as usize {
                    let next = last.map(|(rank, id): (Vec<u8>, i64)| encode_cursor(&rank, id));
                    return Ok(OrderPage { orders, next });
                }
                let rank: Vec<u8> = row.get("rank")?;
                let id: i64 = row.get("id")?;
                orders.push(entry(row)?);
                last = Some((rank, id));
            }
            Ok(OrderPage { orders, next: None })
        })
    }

    /// The query plan SQLite chooses for `query`, one step a line (to check that it uses an
    /// index).
    pub fn explain(&self, query: &OrderQuery) -> Result<String> {
        let (sql, values) = list_sql(query)?;
        self.read(|conn| {
            let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
            let mut plan = Vec::new();
            while let Some(row) = rows.next()? {
                plan.push(row.get::<_, String>(3)?);
            }
            Ok(plan.join("\n"))
        })
    }

    /// The last block whose events are applied, if the book has one yet.
    pub fn last_block(&self) -> Result<Option<u64>> {
        self.read(|conn| {
            let text = meta(conn, "last_block")?;
            text.map(|t| {
                t.parse()
                    .map_err(|_| Error::Corrupt(format!("last_block is {t:?}")))
            })
            .transpose()
        })
    }

    /// Sets the last block whose events are applied (a new book starts at the chain's head).
    pub(crate) fn set_last_block(&self, block: u64) -> Result<()> {
        self.write(|tx| Ok(set_meta(tx, "last_block", &block.to_string())?))
    }

    /// Which of `hashes` are stored.
    pub(crate) fn known(&self, hashes: &[OrderHash]) -> Result<Vec<OrderHash>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT 1 FROM orders WHERE hash = ?1")?;
            let mut known = Vec::new();
            for hash in hashes {
                if statement.exists([hash.as_b256().as_slice()])? {
                    known.push(*hash);
                }
            }
            Ok(known)
        })
    }

    /// Applies the chain's `changes` and records `block` as the last block applied, in one
    /// transaction.
    pub(crate) fn apply(&self, changes: &[Change], block: u64) -> Result<()> {
        self.write(|tx| {
            for change in changes {
                apply(tx, change)?;
            }
            set_meta(tx, "last_block", &block.to_string())?;
            Ok(())
        })
    }
}

fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn kind_code(kind: OrderKind) -> i64 {
    match kind {
        OrderKind::App => 0,
        OrderKind::Dataset => 1,
        OrderKind::Workerpool => 2,
        OrderKind::Request => 3,
    }
}

fn kind_of(code: i64) -> Result<OrderKind> {
    OrderKind::ALL
        .into_iter()
        .find(|kind| kind_code(*kind) == code)
        .ok_or_else(|| Error::Corrupt(format!("order kind {code}")))
}

fn status_code(status: OrderStatus) -> i64 {
    match status {
        OrderStatus::Open => 0,
        OrderStatus::Filled => 1,
        OrderStatus::Cancelled => 2,
        OrderStatus::Stale => 3,
    }
}

fn status_of(code: i64) -> Result<OrderStatus> {
    OrderStatus::ALL
        .into_iter()
        .find(|status| status_code(*status) == code)
        .ok_or_else(|| Error::Corrupt(format!("order status {code}")))
}

/// The status SQL computes from a row's facts (`cancelled`, `remaining` and `stale` as they are
/// written by the statement).
fn status_sql(cancelled: &str, remaining: &str, stale: &str) -> String {
    format!(
        "CASE WHEN {cancelled} = 1 THEN 2 WHEN {remaining} = 0 THEN 1 WHEN {stale} = 1 THEN 3 \
         ELSE 0 END"
    )
}

/// A count as the database compares it: capped at `i64::MAX`.
fn clamp(value: U256) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The tag as four 64-bit words, bits 0–63 first.
fn tag_words(tag: Tag) -> [i64; 4] {
    let bytes = tag.as_b256().0;
    let word = |i: usize| {
        let start = 32 - 8 * (i + 1);
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[start..start + 8]);
        i64::from_be_bytes(w)
    };
    [word(0), word(1), word(2), word(3)]
}

/// The sort key of `price` for `kind`: the price, in 96 bits (prices above are capped: no
/// offer above is published, and a request paying more pays any workerpool), inverted for a
/// request so that the best-paying comes first.
fn rank(kind: OrderKind, price: U256) -> [u8; RANK_BYTES] {
    let bytes: [u8; 32] = price.min(MAX_PRICE).to_be_bytes();
    let mut rank = [0u8; RANK_BYTES];
    rank.copy_from_slice(&bytes[32 - RANK_BYTES..]);
    if kind == OrderKind::Request {
        for byte in &mut rank {
            *byte = !*byte;
        }
    }
    rank
}

fn encode_cursor(rank: &[u8], id: i64) -> Cursor {
    let mut bytes = rank.to_vec();
    bytes.extend_from_slice(&id.to_be_bytes());
    Cursor(hex::encode(bytes))
}

fn decode_cursor(cursor: &Cursor) -> Result<(Vec<u8>, i64)> {
    let bad = || Error::Cursor(cursor.0.clone());
    let bytes = hex::decode(&cursor.0).map_err(|_| bad())?;
    if bytes.len() != RANK_BYTES + 8 {
        return Err(bad());
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[RANK_BYTES..]);
    Ok((bytes[..RANK_BYTES].to_vec(), i64::from_be_bytes(id)))
}

/// The row's columns for `order`: (app, dataset, workerpool, requester, category, trust).
type Parties = (Address, Address, Address, Address, Option<i64>, Option<i64>);

fn parties(order: &SignedOrder) -> Parties {
    match order {
        SignedOrder::App(o) => {
            let o = &o.order;
            (
                o.app,
                o.datasetrestrict,
                o.workerpoolrestrict,
                o.requesterrestrict,
                None,
                None,
            )
        }
        SignedOrder::Dataset(o) => {
            let o = &o.order;
            (
                o.apprestrict,
                o.dataset,
                o.workerpoolrestrict,
                o.requesterrestrict,
                None,
                None,
            )
        }
        SignedOrder::Workerpool(o) => {
            let o = &o.order;
            (
                o.apprestrict,
                o.datasetrestrict,
                o.workerpool,
                o.requesterrestrict,
                Some(clamp(o.category)),
                Some(clamp(o.trust)),
            )
        }
        SignedOrder::Request(o) => {
            let o = &o.order;
            (
                o.app,
                o.dataset,
                o.workerpool,
                o.requester,
                Some(clamp(o.category)),
                Some(clamp(o.trust)),
            )
        }
    }
}

fn body(order: &SignedOrder) -> Result<String> {
    let json = match order {
        SignedOrder::App(o) => serde_json::to_string(o),
        SignedOrder::Dataset(o) => serde_json::to_string(o),
        SignedOrder::Workerpool(o) => serde_json::to_string(o),
        SignedOrder::Request(o) => serde_json::to_string(o),
    };
    json.map_err(|e| Error::Corrupt(format!("an order does not serialize: {e}")))
}

fn order_of(kind: OrderKind, body: &str) -> Result<SignedOrder> {
    fn parse<O: serde::de::DeserializeOwned>(body: &str) -> Result<Signed<O>> {
        serde_json::from_str(body).map_err(|e| Error::Corrupt(format!("a stored order: {e}")))
    }
    Ok(match kind {
        OrderKind::App => SignedOrder::App(parse(body)?),
        OrderKind::Dataset => SignedOrder::Dataset(parse(body)?),
        OrderKind::Workerpool => SignedOrder::Workerpool(parse(body)?),
        OrderKind::Request => SignedOrder::Request(parse(body)?),
    })
}

/// Inserts `order` unless its hash is stored; returns whether it did.
fn insert(tx: &Transaction<'_>, order: &NewOrder) -> Result<bool> {
    let kind = order.order.kind();
    let (app, dataset, workerpool, requester, category, trust) = parties(&order.order);
    let volume = order.order.volume();
    let remaining = volume.saturating_sub(order.consumed);
    let status = if remaining.is_zero() {
        OrderStatus::Filled
    } else {
        OrderStatus::Open
    };
    let tag = tag_words(order.order.tag());
    let mut statement = tx.prepare_cached(
        "INSERT INTO orders (hash, kind, status, asset, app, dataset, workerpool, requester,
             category, trust, tag0, tag1, tag2, tag3, rank, volume, consumed, remaining, signer,
             published_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21)
         ON CONFLICT (hash) DO NOTHING",
    )?;
    let changed = statement.execute(params![
        order.hash.as_b256().as_slice(),
        kind_code(kind),
        status_code(status),
        order.order.asset().as_slice(),
        app.as_slice(),
        dataset.as_slice(),
        workerpool.as_slice(),
        requester.as_slice(),
        category,
        trust,
        tag[0],
        tag[1],
        tag[2],
        tag[3],
        &rank(kind, order.order.price().get())[..],
        &volume.to_be_bytes::<32>()[..],
        &order.consumed.to_be_bytes::<32>()[..],
        clamp(remaining),
        order.signer.as_slice(),
        order.published_at_ms as i64,
        body(&order.order)?,
    ])?;
    Ok(changed == 1)
}

const ENTRY_COLUMNS: &str = "id, hash, kind, status, rank, consumed, signer, published_ms, body";

fn get(conn: &Connection, hash: OrderHash) -> Result<Option<MarketOrder>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM orders WHERE hash = ?1"
    ))?;
    let mut rows = statement.query([hash.as_b256().as_slice()])?;
    match rows.next()? {
        Some(row) => Ok(Some(entry(row)?)),
        None => Ok(None),
    }
}

fn blob<const N: usize>(row: &rusqlite::Row<'_>, column: &str) -> Result<[u8; N]> {
    let bytes: Vec<u8> = row.get(column)?;
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("column {column} is not {N} bytes")))
}

fn entry(row: &rusqlite::Row<'_>) -> Result<MarketOrder> {
    let kind = kind_of(row.get("kind")?)?;
    let order = order_of(kind, &row.get::<_, String>("body")?)?;
    let consumed = U256::from_be_bytes(blob::<32>(row, "consumed")?);
    Ok(MarketOrder {
        hash: OrderHash::new(blob::<32>(row, "hash")?.into()),
        remaining: order.volume().saturating_sub(consumed),
        order,
        signer: Address::from(blob::<20>(row, "signer")?),
        status: status_of(row.get("status")?)?,
        published_at_ms: row.get::<_, i64>("published_ms")? as u64,
    })
}

fn apply(tx: &Transaction<'_>, change: &Change) -> Result<()> {
    match change {
        Change::Consumed { hash, consumed } => {
            let stored: Option<(Vec<u8>, Vec<u8>)> = tx
                .prepare_cached("SELECT volume, consumed FROM orders WHERE hash = ?1")?
                .query_row([hash.as_b256().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((volume, stored)) = stored else {
                return Ok(());
            };
            let word = |bytes: Vec<u8>| {
                <[u8; 32]>::try_from(bytes)
                    .map(U256::from_be_bytes)
                    .map_err(|_| Error::Corrupt(format!("order {hash}'s volume")))
            };
            let volume = word(volume)?;
            // The chain's consumed volume only grows.
            let consumed = (*consumed).max(word(stored)?);
            let remaining = clamp(volume.saturating_sub(consumed));
            tx.prepare_cached(&format!(
                "UPDATE orders SET consumed = ?2, remaining = ?3, status = {}
                 WHERE hash = ?1",
                status_sql("cancelled", "?3", "stale")
            ))?
            .execute(params![
                hash.as_b256().as_slice(),
                &consumed.to_be_bytes::<32>()[..],
                remaining
            ])?;
        }
        Change::Closed(hash) => {
            tx.prepare_cached(
                "UPDATE orders SET cancelled = 1, consumed = volume, remaining = 0, status = 2
                 WHERE hash = ?1",
            )?
            .execute([hash.as_b256().as_slice()])?;
        }
        Change::Owner { kind, asset, owner } => {
            tx.prepare_cached(&format!(
                "UPDATE orders SET stale = (signer != ?3), status = {}
                 WHERE kind = ?1 AND status IN (0, 1, 2, 3) AND asset = ?2",
                status_sql("cancelled", "remaining", "(signer != ?3)")
            ))?
            .execute(params![
                kind_code(*kind),
                asset.as_slice(),
                owner.as_slice()
            ])?;
        }
    }
    Ok(())
}

/// Adds a parameter; returns its placeholder.
fn bind(values: &mut Vec<Value>, value: Value) -> String {
    values.push(value);
    format!("?{}", values.len())
}

/// The SQL of a list query and its parameters. The kind and the status are written as
/// literals, so that SQLite can use the partial index of request orders by requester.
fn list_sql(query: &OrderQuery) -> Result<(String, Vec<Value>)> {
    let kind = query.kind;
    // The index to read, named: SQLite's planner, without statistics, may take another that
    // reads the same order but skips more rows. The most selective equalities win: a request's
    // requester, then its dataset (if it has one), then the order's own asset (with the
    // category if given), then the category.
    let own_asset = match kind {
        OrderKind::App | OrderKind::Request => query.app,
        OrderKind::Dataset => query.dataset,
        OrderKind::Workerpool => query.workerpool,
    };
    let request = kind == OrderKind::Request;
    let index = if request && query.requester.is_some() {
        "requests_by_requester"
    } else if request && query.dataset.is_some_and(|d| d != Address::ZERO) {
        "requests_by_dataset"
    } else if own_asset.is_some() && query.category.is_some() {
        // Workerpool and request orders: a requester looks for pools in its category.
        "orders_by_asset_category"
    } else if own_asset.is_some() {
        "orders_by_asset"
    } else if query.category.is_some() {
        "orders_by_category"
    } else {
        "orders_by_rank"
    };
    let mut sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM orders INDEXED BY {index} WHERE kind = {} AND status = {}",
        kind_code(kind),
        status_code(query.status)
    );
    let mut values: Vec<Value> = Vec::new();
    let zero = Value::Blob(Address::ZERO.to_vec());
    // Each party is the order's own field (compared for equality, and for the order's own
    // asset through an index) or a restriction (none, or the value). A restriction term is
    // written `+column` so that no index is used for it: most orders have no restriction, and
    // reading them in rank order and skipping the few others is faster than sorting them.
    let own = |column: &str| match (kind, column) {
        (OrderKind::App, "app") => Some("asset"),
        (OrderKind::Dataset, "dataset") => Some("asset"),
        (OrderKind::Workerpool, "workerpool") => Some("asset"),
        (OrderKind::Request, "app") => Some("asset"),
        (OrderKind::Request, "dataset") => Some("dataset"),
        (OrderKind::Request, "requester") => Some("requester"),
        _ => None,
    };
    let filters = [
        ("app", query.app),
        ("dataset", query.dataset),
        ("workerpool", query.workerpool),
        ("requester", query.requester),
    ];
    for (column, value) in filters {
        let Some(value) = value else { continue };
        let value = Value::Blob(value.to_vec());
        match own(column) {
            Some(expression) => {
                let p = bind(&mut values, value);
                sql.push_str(&format!(" AND {expression} = {p}"));
            }
            None => {
                let z = bind(&mut values, zero.clone());
                let p = bind(&mut values, value);
                sql.push_str(&format!(" AND +{column} IN ({z}, {p})"));
            }
        }
    }
    if let Some(category) = query.category {
        let p = bind(&mut values, Value::Integer(category as i64));
        sql.push_str(&format!(" AND category = {p}"));
    }
    if let Some(trust) = query.min_trust {
        let p = bind(&mut values, Value::Integer(trust as i64));
        sql.push_str(&format!(" AND trust >= {p}"));
    }
    if let Some(trust) = query.max_trust {
        let p = bind(&mut values, Value::Integer(trust as i64));
        sql.push_str(&format!(" AND trust <= {p}"));
    }
    if let Some(tag) = query.min_tag {
        for (i, word) in tag_words(tag).into_iter().enumerate() {
            if word != 0 {
                let p = bind(&mut values, Value::Integer(word));
                sql.push_str(&format!(" AND (tag{i} & {p}) = {p}"));
            }
        }
    }
    if let Some(tag) = query.max_tag {
        let mut allowed = tag_words(tag);
        if kind == OrderKind::Dataset {
            // matchOrders ignores a dataset order's TEE framework bits (1 to 3).
            allowed[0] |= 0x0e;
        }
        for (i, word) in allowed.into_iter().enumerate() {
            if word == -1 {
                continue;
            }
            let p = bind(&mut values, Value::Integer(!word));
            sql.push_str(&format!(" AND (tag{i} & {p}) = 0"));
        }
    }
    if let Some(volume) = query.min_volume {
        let p = bind(&mut values, Value::Integer(volume as i64));
        sql.push_str(&format!(" AND remaining >= {p}"));
    }
    // Price bounds as rank bounds: a request's rank is its price inverted.
    let bounds = [(query.min_price, true), (query.max_price, false)];
    for (price, is_min) in bounds {
        let Some(price) = price else { continue };
        let p = bind(&mut values, Value::Blob(rank(kind, price.get()).to_vec()));
        let operator = if is_min == (kind == OrderKind::Request) {
            "<="
        } else {
            ">="
        };
        sql.push_str(&format!(" AND rank {operator} {p}"));
    }
    if let Some(cursor) = &query.cursor {
        let (after_rank, after_id) = decode_cursor(cursor)?;
        let r = bind(&mut values, Value::Blob(after_rank));
        let i = bind(&mut values, Value::Integer(after_id));
        sql.push_str(&format!(" AND (rank, id) > ({r}, {i})"));
    }
    let limit = bind(&mut values, Value::Integer(i64::from(query.limit) + 1));
    sql.push_str(&format!(" ORDER BY rank, id LIMIT {limit}"));
    Ok((sql, values))
}

#[cfg(test)]
mod tests {
    use agora_primitives::{AppOrder, B256, Bytes, DatasetOrder, Nrlc, RequestOrder};

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("market.db"), "chain 1 hub 0x01").unwrap();
        (dir, store)
    }

    fn app_order(salt: u8, price: u64, volume: u64) -> NewOrder {
        NewOrder {
            order: SignedOrder::App(Signed {
                order: AppOrder {
                    app: Address::repeat_byte(0xa1),
                    appprice: Nrlc::from(price),
                    volume: U256::from(volume),
                    salt: B256::repeat_byte(salt),
                    ..AppOrder::default()
                },
                sign: Bytes::from(vec![salt; 65]),
            }),
            hash: OrderHash::new(B256::repeat_byte(salt)),
            signer: Address::repeat_byte(0x01),
            consumed: U256::ZERO,
            published_at_ms: 1_000 + u64::from(salt),
        }
    }

    fn hashes(page: &OrderPage) -> Vec<u8> {
        page.orders
            .iter()
            .map(|o| o.hash.as_b256().as_slice()[0])
            .collect()
    }

    #[test]
    fn a_book_of_another_market_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("market.db");
        let store = Store::open(&path, "chain 1 hub a").unwrap();
        store.insert(&app_order(1, 5, 1)).unwrap();
        drop(store);
        let error = Store::open(&path, "chain 1 hub b").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("belongs to chain 1 hub a, not chain 1 hub b"),
            "{error}"
        );
        let store = Store::open(&path, "chain 1 hub a").unwrap();
        assert_eq!(store.count().unwrap(), 1);
    }

    #[test]
    fn an_order_stored_twice_keeps_its_first_entry() {
        let (_dir, store) = store();
        let first = app_order(1, 5, 3);
        let (entry, new) = store.insert(&first).unwrap();
        assert!(new);
        assert_eq!(entry.remaining, U256::from(3));
        assert_eq!(entry.status, OrderStatus::Open);
        let mut again = first.clone();
        again.published_at_ms += 10;
        again.signer = Address::repeat_byte(0x02);
        let (kept, new) = store.insert(&again).unwrap();
        assert!(!new);
        assert_eq!(kept, entry);
        assert_eq!(store.count().unwrap(), 1);
    }

    #[test]
    fn offers_list_cheapest_then_oldest_first_and_page_with_a_cursor() {
        let (_dir, store) = store();
        for (salt, price) in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 40)] {
            store.insert(&app_order(salt, price, 1)).unwrap();
        }
        let mut query = OrderQuery::new(OrderKind::App);
        query.limit = 2;
        let page = store.list(&query).unwrap();
        assert_eq!(hashes(&page), [2, 4]);
        query.cursor = page.next;
        let page = store.list(&query).unwrap();
        assert_eq!(hashes(&page), [3, 1]);
        query.cursor = page.next;
        let page = store.list(&query).unwrap();
        assert_eq!(hashes(&page), [5]);
        assert_eq!(page.next, None);
        query.cursor = Some(Cursor("zz".into()));
        assert!(matches!(store.list(&query), Err(Error::Cursor(_))));
    }

    #[test]
    fn requests_list_best_paying_first_and_price_bounds_follow() {
        let (_dir, store) = store();
        for (salt, price) in [(1u8, 30u64), (2, 10), (3, 50)] {
            store
                .insert(&NewOrder {
                    order: SignedOrder::Request(Signed {
                        order: RequestOrder {
                            app: Address::repeat_byte(0xa1),
                            requester: Address::repeat_byte(0x04),
                            workerpoolmaxprice: Nrlc::from(price),
                            volume: U256::from(1),
                            salt: B256::repeat_byte(salt),
                            ..RequestOrder::default()
                        },
                        sign: Bytes::new(),
                    }),
                    hash: OrderHash::new(B256::repeat_byte(salt)),
                    signer: Address::repeat_byte(0x04),
                    consumed: U256::ZERO,
                    published_at_ms: 1,
                })
                .unwrap();
        }
        let mut query = OrderQuery::new(OrderKind::Request);
        assert_eq!(hashes(&store.list(&query).unwrap()), [3, 1, 2]);
        query.min_price = Some(Nrlc::from(20));
        assert_eq!(hashes(&store.list(&query).unwrap()), [3, 1]);
        query.max_price = Some(Nrlc::from(40));
        assert_eq!(hashes(&store.list(&query).unwrap()), [1]);
        query.requester = Some(Address::repeat_byte(0x04));
        assert_eq!(hashes(&store.list(&query).unwrap()), [1]);
        query.requester = Some(Address::repeat_byte(0x05));
        assert!(store.list(&query).unwrap().orders.is_empty());
    }

    #[test]
    fn tags_filter_by_their_bits_with_the_dataset_framework_bits_ignored() {
        let (_dir, store) = store();
        let tee_scone = Tag::TEE | Tag::SCONE;
        for (salt, tag) in [
            (1u8, Tag::NONE),
            (2, Tag::TEE),
            (3, tee_scone),
            (4, Tag::GPU),
        ] {
            store
                .insert(&NewOrder {
                    order: SignedOrder::Dataset(Signed {
                        order: DatasetOrder {
                            dataset: Address::repeat_byte(0xd1),
                            volume: U256::from(1),
                            tag,
                            salt: B256::repeat_byte(salt),
                            ..DatasetOrder::default()
                        },
                        sign: Bytes::new(),
                    }),
                    hash: OrderHash::new(B256::repeat_byte(salt)),
                    signer: Address::repeat_byte(0x02),
                    consumed: U256::ZERO,
                    published_at_ms: u64::from(salt),
                })
                .unwrap();
        }
        let mut query = OrderQuery::new(OrderKind::Dataset);
        query.min_tag = Some(Tag::TEE);
        assert_eq!(hashes(&store.list(&query).unwrap()), [2, 3]);
        query.min_tag = None;
        // A pool offering TEE alone serves the Scone-tagged dataset order.
        query.max_tag = Some(Tag::TEE);
        assert_eq!(hashes(&store.list(&query).unwrap()), [1, 2, 3]);
        query.max_tag = Some(Tag::NONE);
        assert_eq!(hashes(&store.list(&query).unwrap()), [1]);
        query.max_tag = Some(Tag::GPU);
        assert_eq!(hashes(&store.list(&query).unwrap()), [1, 4]);
    }

    #[test]
    fn chain_changes_move_statuses_and_a_closed_order_stays_cancelled() {
        let (_dir, store) = store();
        store.insert(&app_order(1, 5, 3)).unwrap();
        store.insert(&app_order(2, 5, 3)).unwrap();
        let one = OrderHash::new(B256::repeat_byte(1));
        let two = OrderHash::new(B256::repeat_byte(2));
        let status = |hash| store.get(hash).unwrap().unwrap();
        store
            .apply(
                &[Change::Consumed {
                    hash: one,
                    consumed: U256::from(2),
                }],
                10,
            )
            .unwrap();
        assert_eq!(status(one).remaining, U256::from(1));
        assert_eq!(status(one).status, OrderStatus::Open);
        assert_eq!(store.last_block().unwrap(), Some(10));
        let asset = Address::repeat_byte(0xa1);
        let owner = |owner| Change::Owner {
            kind: OrderKind::App,
            asset,
            owner,
        };
        store.apply(&[owner(Address::repeat_byte(9))], 11).unwrap();
        assert_eq!(status(one).status, OrderStatus::Stale);
        assert_eq!(status(two).status, OrderStatus::Stale);
        store.apply(&[owner(Address::repeat_byte(1))], 12).unwrap();
        assert_eq!(status(one).status, OrderStatus::Open);
        store
            .apply(
                &[
                    Change::Consumed {
                        hash: one,
                        consumed: U256::from(3),
                    },
                    Change::Closed(two),
                ],
                13,
            )
            .unwrap();
        assert_eq!(status(one).status, OrderStatus::Filled);
        assert_eq!(status(one).remaining, U256::ZERO);
        assert_eq!(status(two).status, OrderStatus::Cancelled);
        assert_eq!(status(two).remaining, U256::ZERO);
        // A consumed volume read earlier does not lower it, and a transfer does not reopen a
        // filled or closed order.
        store
            .apply(
                &[
                    Change::Consumed {
                        hash: one,
                        consumed: U256::from(1),
                    },
                    owner(Address::repeat_byte(1)),
                ],
                14,
            )
            .unwrap();
        assert_eq!(status(one).status, OrderStatus::Filled);
        assert_eq!(status(two).status, OrderStatus::Cancelled);
        let mut query = OrderQuery::new(OrderKind::App);
        assert!(store.list(&query).unwrap().orders.is_empty());
        query.status = OrderStatus::Filled;
        assert_eq!(hashes(&store.list(&query).unwrap()), [1]);
    }

    #[test]
    fn restriction_filters_keep_unrestricted_orders_and_the_exact_ones() {
        let (_dir, store) = store();
        let pool = Address::repeat_byte(0xb1);
        for (salt, restrict) in [
            (1u8, Address::ZERO),
            (2, pool),
            (3, Address::repeat_byte(9)),
        ] {
            let mut order = app_order(salt, 5, 1);
            if let SignedOrder::App(o) = &mut order.order {
                o.order.workerpoolrestrict = restrict;
            }
            store.insert(&order).unwrap();
        }
        let mut query = OrderQuery::new(OrderKind::App);
        query.workerpool = Some(pool);
        assert_eq!(hashes(&store.list(&query).unwrap()), [1, 2]);
        query.app = Some(Address::repeat_byte(0xa1));
        assert_eq!(hashes(&store.list(&query).unwrap()), [1, 2]);
        query.app = Some(Address::repeat_byte(0xa2));
        assert!(store.list(&query).unwrap().orders.is_empty());
    }

    #[test]
    fn filtered_lists_read_an_index_in_order() {
        let (_dir, store) = store();
        let mut query = OrderQuery::new(OrderKind::App);
        query.app = Some(Address::repeat_byte(0xa1));
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("orders_by_asset"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let mut query = OrderQuery::new(OrderKind::Request);
        query.app = Some(Address::repeat_byte(0xa1));
        query.requester = Some(Address::repeat_byte(4));
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("requests_by_requester"), "{plan}");
        query.requester = None;
        query.dataset = Some(Address::repeat_byte(0xd1));
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("requests_by_dataset"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        // Most requests have no dataset: the app's index is the better one.
        query.dataset = Some(Address::ZERO);
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("orders_by_asset"), "{plan}");
        let mut query = OrderQuery::new(OrderKind::Workerpool);
        query.category = Some(1);
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("orders_by_category"), "{plan}");
        query.workerpool = Some(Address::repeat_byte(0xb1));
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("orders_by_asset_category"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let mut query = OrderQuery::new(OrderKind::Workerpool);
        query.min_tag = Some(Tag::TEE);
        query.requester = Some(Address::repeat_byte(4));
        let plan = store.explain(&query).unwrap();
        assert!(plan.contains("orders_by_rank"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
