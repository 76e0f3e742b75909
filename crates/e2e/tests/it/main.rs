//! End-to-end scenarios on the embedded chain: the result store, a scheduler and its workers
//! in this process, on loopback sockets, driven through their public APIs and the chain.

mod api;
mod callback;
mod forgers;
mod inputs;
mod net;
mod pool;
mod workerpool;
