//! The window of past states: what each block (and each direct state edit, `anvil_setBalance`
//! and friends) replaced, kept for the last blocks, so that the state as of an earlier block
//! can be read and a snapshot can be returned to.

use std::collections::BTreeMap;

use super::StateAtError;
use crate::state::Undo;

/// One change of the state, with what it replaced.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The block the change belongs to: a block's own number, or for an edit the head it was
    /// made on (it shows in that block's state from then on, as anvil's edits do).
    pub(crate) block: u64,
    /// A direct edit, not a block.
    pub(crate) edit: bool,
    pub(crate) undo: Undo,
}

/// The undos of the recent past, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    entries: Vec<Entry>,
    /// The position since the chain started of `entries[0]`.
    base: u64,
    /// The oldest block whose state can be read.
    floor: u64,
    /// How many blocks' undos are kept (`None`: all).
    limit: Option<usize>,
    /// How many of `entries` are blocks.
    blocks: usize,
    /// Snapshots: id → the position their undos start at, which trimming keeps.
    pins: BTreeMap<u64, u64>,
}

impl History {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            entries: Vec::new(),
            base: 0,
            floor: 0,
            limit,
            blocks: 0,
            pins: BTreeMap::new(),
        }
    }

    /// Whether changes must be recorded at all (a window, or a snapshot to return to).
    pub(crate) fn records(&self) -> bool {
        self.limit != Some(0) || !self.pins.is_empty()
    }

    /// A chain whose undos were not recorded up to `head` (a replay): nothing older is
    /// readable.
    pub(crate) fn start_at(&mut self, head: u64) {
        self.floor = head;
    }

    pub(crate) fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit;
        self.trim();
    }

    pub(crate) fn push_block(&mut self, number: u64, undo: Undo) {
        self.entries.push(Entry {
            block: number,
            edit: false,
            undo,
        });
        self.blocks += 1;
        self.trim();
    }

    pub(crate) fn push_edit(&mut self, head: u64, undo: Undo) {
        self.entries.push(Entry {
            block: head,
            edit: true,
            undo,
        });
    }

    /// A block that is not recorded moves the floor past it.
    pub(crate) fn skip_block(&mut self, number: u64) {
        if self.entries.is_empty() {
            self.floor = number;
        }
    }

    /// Drops the oldest undos beyond the window, except those a snapshot needs.
    fn trim(&mut self) {
        let Some(limit) = self.limit else { return };
        let keep_from = self.pins.values().min().copied().unwrap_or(u64::MAX);
        while self.blocks > limit && self.base < keep_from {
            let Some(first) = self.entries.first() else {
                break;
            };
            if !first.edit {
                self.blocks -= 1;
                self.floor = first.block;
            }
            self.entries.remove(0);
            self.base += 1;
        }
        // Edits made before the floor block are needed only to read below it.
        while let Some(first) = self.entries.first() {
            if first.edit && first.block < self.floor && self.base < keep_from {
                self.entries.remove(0);
                self.base += 1;
            } else {
                break;
            }
        }
    }

    /// The undos to read the state of block `number` through, the head being `head`.
    pub(crate) fn since(&self, number: u64, head: u64) -> Result<&[Entry], StateAtError> {
        if number > head {
            return Err(StateAtError::NotFound { number, head });
        }
        if number == head {
            return Ok(&[]);
        }
        if number < self.floor {
            return Err(StateAtError::Pruned {
                number,
                head,
                kept: head - self.floor,
            });
        }
        // Everything after block `number`: later blocks, and edits made on it or later.
        let start = self
            .entries
            .iter()
            .rposition(|e| !(e.block > number || (e.edit && e.block == number)))
            .map_or(0, |i| i + 1);
        Ok(&self.entries[start..])
    }

    /// The position the next change takes.
    pub(crate) fn position(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// Keeps every undo from `position` on for snapshot `id`.
    pub(crate) fn pin(&mut self, id: u64, position: u64) {
        self.pins.insert(id, position);
    }

    /// Forgets snapshot `id` and every later one; returns whether `id` was there.
    pub(crate) fn unpin_from(&mut self, id: u64) -> bool {
        let known = self.pins.contains_key(&id);
        self.pins.retain(|pin, _| *pin < id);
        self.trim();
        known
    }

    /// Where snapshot `id` starts, if it is known.
    /// Takes the undos from `position` on, newest first (to go back to that position).
    pub(crate) fn take_from(&mut self, position: u64) -> Vec<Entry> {
        let from = usize::try_from(position.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let mut taken: Vec<Entry> = self.entries.drain(from..).collect();
        self.blocks -= taken.iter().filter(|e| !e.edit).count();
        taken.reverse();
        taken
    }
}
