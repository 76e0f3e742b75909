//! A task's result as files (spec §7.3): `computed.json`, the result digest it designates,
//! and the result archive (a zip of the output folder) read back into those files.
//!
//! The worker computes the digest it contributes from its output folder, the result store the
//! digest of an uploaded archive, the command line the digest of a downloaded one: all three
//! go through [`TaskResult::of`] over an [`OutputTree`], so they cannot disagree.

use std::{collections::BTreeMap, io::Read};

use alloy_primitives::keccak256;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ResultDigest;

/// The file every app writes into its output folder.
pub const COMPUTED_JSON: &str = "computed.json";

/// The output folder as the app sees it; `deterministic-output-path` is a path under it.
pub const OUTPUT_ROOT: &str = "/iexec_out";

/// `computed.json` as the app wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ComputedFile {
    /// The file or folder (a path under `/iexec_out`) on which workers reach consensus.
    #[serde(rename = "deterministic-output-path", default)]
    pub deterministic_output_path: Option<String>,
    /// Bytes (hex) for the task's callback contract.
    #[serde(rename = "callback-data", default)]
    pub callback_data: Option<String>,
}

/// One entry of an output tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A folder (its content are the entries under its path).
    Folder,
    /// Anything else (a symbolic link, a device): never part of a digest.
    Other,
}

/// An output folder in memory: its entries by relative path (`/`-separated, no `.` or `..`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputTree {
    entries: BTreeMap<String, Entry>,
}

/// What a result archive can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a zip archive, or a damaged one.
    #[error("the result archive is not a readable zip archive: {0}")]
    Unreadable(String),
    /// An entry whose name leaves the output folder or is not a plain relative path.
    #[error("the result archive's entry {name:?} {reason}")]
    BadName {
        /// The entry's name as the archive gives it.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two entries with the same path: which one is the result would be ambiguous.
    #[error("the result archive holds {0:?} twice")]
    Duplicate(String),
    /// A symbolic link entry.
    #[error("the result archive's entry {0:?} is a symbolic link")]
    Symlink(String),
    /// An entry that cannot be decompressed.
    #[error("the result archive's entry {name:?} cannot be read: {reason}")]
    Entry {
        /// The entry.
        name: String,
        /// Why.
        reason: String,
    },
    /// More bytes once unpacked than the reader accepts.
    #[error("the result archive unpacks to more than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// What keeps an output tree from having a result digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    /// No `computed.json`.
    #[error("the app wrote no {OUTPUT_ROOT}/{COMPUTED_JSON}")]
    NoComputedJson,
    /// `computed.json` is not the JSON object of spec §7.3.
    #[error("{OUTPUT_ROOT}/{COMPUTED_JSON} is not valid: {0}")]
    BadComputedJson(String),
    /// Neither field.
    #[error(
        "{OUTPUT_ROOT}/{COMPUTED_JSON} names neither deterministic-output-path nor callback-data"
    )]
    NothingDesignated,
    /// `callback-data` is not hex.
    #[error("callback-data {data:?} is not hex bytes: {reason}")]
    CallbackNotHex {
        /// The field.
        data: String,
        /// Why.
        reason: String,
    },
    /// `deterministic-output-path` outside `/iexec_out`.
    #[error("deterministic-output-path {0:?} is not under {OUTPUT_ROOT}")]
    Outside(String),
    /// The designated path is absent.
    #[error("the deterministic output {0} does not exist")]
    Missing(String),
    /// The designated path is a link or a device.
    #[error("the deterministic output {0} is neither a file nor a folder")]
    NotFileNorFolder(String),
    /// The designated folder holds a folder or a link.
    #[error("the deterministic folder {folder} holds {name}, which is not a file")]
    NotAFile {
        /// The folder.
        folder: String,
        /// The entry.
        name: String,
    },
}

/// What the protocol certifies of a run: `computed.json`, the callback data, the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// `computed.json`.
    pub computed: ComputedFile,
    /// The callback data, decoded, if the app gave some.
    pub callback_data: Option<Vec<u8>>,
    /// The result digest: `keccak(callback data)` when there is callback data, else the sha256
    /// of the deterministic file, or the tree hash of the deterministic folder.
    pub digest: ResultDigest,
}

impl OutputTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `entry` at `path` (relative, `/`-separated); a later entry at the same path
    /// replaces the earlier one.
    pub fn insert(&mut self, path: impl Into<String>, entry: Entry) {
        self.entries.insert(path.into(), entry);
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    /// The tree a zip archive holds. Refused: entry names that are absolute or climb out
    /// (`..`), that hold a backslash or a NUL, the same path twice, symbolic links, entries
    /// that cannot be decompressed (stored and deflate entries are read), and archives that
    /// unpack to more than `limit` bytes.
    pub fn from_archive(bytes: &[u8], limit: u64) -> Result<Self, ArchiveError> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        let mut tree = Self::new();
        let mut total = 0u64;
        for index in 0..zip.len() {
            let mut file = zip
                .by_index(index)
                .map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
            let name = file.name().to_string();
            let path = relative_path(&name)?;
            if file.is_symlink() {
                return Err(ArchiveError::Symlink(name));
            }
            let entry = if file.is_dir() {
                Entry::Folder
            } else {
                let room = limit.saturating_sub(total);
                let mut content = Vec::new();
                (&mut file)
                    .take(room.saturating_add(1))
                    .read_to_end(&mut content)
                    .map_err(|e| ArchiveError::Entry {
                        name: name.clone(),
                        reason: e.to_string(),
                    })?;
                total = total.saturating_add(content.len() as u64);
                if total > limit {
                    return Err(ArchiveError::TooLarge { limit });
                }
                Entry::File(content)
            };
            if path.is_empty() {
                // The archive's root folder itself.
                continue;
            }
            if tree.entries.insert(path.clone(), entry).is_some() {
                return Err(ArchiveError::Duplicate(path));
            }
        }
        Ok(tree)
    }

    /// Whether some entry lies under `path` (which is then a folder).
    fn has_children(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(key, _)| key.starts_with(&prefix))
    }

    /// The names directly under folder `path` ("" is the root), each with its entry (a
    /// folder implied by deeper entries counts as a folder).
    fn children(&self, path: &str) -> BTreeMap<&str, &Entry> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut children = BTreeMap::new();
        for (key, entry) in self.entries.range(prefix.clone()..) {
            let Some(rest) = key.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((name, _)) => {
                    children.insert(name, &Entry::Folder);
                }
                None => {
                    children.insert(rest, entry);
                }
            }
        }
        children
    }
}

/// The normalized relative path of archive entry `name` ("" for the root folder).
fn relative_path(name: &str) -> Result<String, ArchiveError> {
    let bad = |reason| ArchiveError::BadName {
        name: name.to_string(),
        reason,
    };
    if name.starts_with('/') {
        return Err(bad("is an absolute path"));
    }
    if name.contains('\\') || name.contains('\0') || name.contains(':') {
        return Err(bad("holds a backslash, a colon or a NUL"));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad("leaves the output folder")),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

impl TaskResult {
    /// Reads `computed.json` from `tree` and computes the result digest it designates.
    pub fn of(tree: &OutputTree) -> Result<Self, ResultError> {
        let Some(Entry::File(text)) = tree.entries.get(COMPUTED_JSON) else {
            return Err(ResultError::NoComputedJson);
        };
        let computed: ComputedFile = serde_json::from_slice(text)
            .map_err(|e| ResultError::BadComputedJson(e.to_string()))?;
        if let Some(data) = &computed.callback_data {
            let digits = data.strip_prefix("0x").unwrap_or(data);
            let bytes = hex::decode(digits).map_err(|e| ResultError::CallbackNotHex {
                data: data.clone(),
                reason: e.to_string(),
            })?;
            return Ok(Self {
                digest: ResultDigest::of_callback_data(&bytes),
                callback_data: Some(bytes),
                computed,
            });
        }
        let Some(guest) = &computed.deterministic_output_path else {
            return Err(ResultError::NothingDesignated);
        };
        let path = designated(guest)?;
        Ok(Self {
            digest: digest_at(tree, &path, guest)?,
            callback_data: None,
            computed,
        })
    }

    /// The result of a zip archive (see [`OutputTree::from_archive`] for `limit`).
    pub fn of_archive(bytes: &[u8], limit: u64) -> Result<Self, ResultOfArchiveError> {
        let tree = OutputTree::from_archive(bytes, limit)?;
        Ok(Self::of(&tree)?)
    }
}

/// Why a zip archive has no result digest.
#[derive(Debug, thiserror::Error)]
pub enum ResultOfArchiveError {
    /// The archive itself.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// What it holds.
    #[error("the result archive holds no result: {0}")]
    Result(#[from] ResultError),
}

/// The tree path of the guest path `guest` (under `/iexec_out`; "" is the folder itself).
fn designated(guest: &str) -> Result<String, ResultError> {
    let outside = || ResultError::Outside(guest.to_string());
    let relative = guest.strip_prefix(OUTPUT_ROOT).ok_or_else(outside)?;
    if !(relative.is_empty() || relative.starts_with('/')) {
        return Err(outside());
    }
    let mut parts = Vec::new();
    for part in relative.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(outside());
        }
        parts.push(part);
    }
    Ok(parts.join("/"))
}

/// The digest of the deterministic output at `path`: the sha256 of a file; for a folder, the
/// keccak of the concatenated sha256 of its files, sorted by name (iExec's file-tree hash).
fn digest_at(tree: &OutputTree, path: &str, guest: &str) -> Result<ResultDigest, ResultError> {
    let entry = if path.is_empty() || tree.has_children(path) {
        Some(&Entry::Folder)
    } else {
        tree.entries.get(path)
    };
    match entry {
        None => Err(ResultError::Missing(guest.to_string())),
        Some(Entry::Other) => Err(ResultError::NotFileNorFolder(guest.to_string())),
        Some(Entry::File(bytes)) => Ok(ResultDigest::new(sha256(bytes).into())),
        Some(Entry::Folder) => {
            let mut hashes = Vec::new();
            for (name, child) in tree.children(path) {
                let Entry::File(bytes) = child else {
                    return Err(ResultError::NotAFile {
                        folder: guest.to_string(),
                        name: name.to_string(),
                    });
                };
                hashes.extend_from_slice(&sha256(bytes));
            }
            Ok(ResultDigest::new(keccak256(&hashes)))
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use alloy_primitives::b256;

    use super::*;

    fn tree(files: &[(&str, &[u8])]) -> OutputTree {
        let mut tree = OutputTree::new();
        for (path, bytes) in files {
            tree.insert(*path, Entry::File(bytes.to_vec()));
        }
        tree
    }

    fn zip_of(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_file_digest_is_its_sha256() {
        let result = TaskResult::of(&tree(&[
            ("result.txt", b"abc"),
            (
                COMPUTED_JSON,
                br#"{"deterministic-output-path":"/iexec_out/result.txt"}"#,
            ),
        ]))
        .unwrap();
        assert_eq!(
            result.digest.as_b256(),
            &b256!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    #[test]
    fn a_folder_digest_is_the_keccak_of_its_sorted_file_hashes_and_refuses_subfolders() {
        let json: &[u8] = br#"{"deterministic-output-path":"/iexec_out/res"}"#;
        let result = TaskResult::of(&tree(&[
            ("res/b", b"2"),
            ("res/a", b"1"),
            (COMPUTED_JSON, json),
        ]))
        .unwrap();
        let mut both = sha256(b"1").to_vec();
        both.extend(sha256(b"2"));
        assert_eq!(result.digest.as_b256(), &keccak256(&both));
        let error = TaskResult::of(&tree(&[("res/sub/a", b"1"), (COMPUTED_JSON, json)]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "the deterministic folder /iexec_out/res holds sub, which is not a file"
        );
    }

    #[test]
    fn callback_data_is_digested_with_keccak_as_in_the_spec_vectors() {
        // Spec §11.2: the digest of the callback data "result".
        let result = TaskResult::of(&tree(&[(
            COMPUTED_JSON,
            br#"{"callback-data":"0x726573756c74"}"#,
        )]))
        .unwrap();
        assert_eq!(result.callback_data.as_deref(), Some(&b"result"[..]));
        assert_eq!(
            result.digest.as_b256(),
            &b256!("06b0a4f426f6713234b2d4b2468640bc4e0bb72657a920ad24c5087153c593c8")
        );
    }

    #[test]
    fn an_archive_has_the_digest_of_the_tree_it_holds_stored_or_deflated() {
        let files: [(&str, &[u8]); 2] = [
            (
                COMPUTED_JSON,
                br#"{"deterministic-output-path":"/iexec_out/r"}"#,
            ),
            ("r", b"abc"),
        ];
        let expected = TaskResult::of(&tree(&files)).unwrap().digest;
        for method in [
            zip::CompressionMethod::Stored,
            zip::CompressionMethod::Deflated,
        ] {
            let bytes = zip_of(&files, method);
            assert_eq!(
                TaskResult::of_archive(&bytes, 1 << 20).unwrap().digest,
                expected
            );
        }
    }

    #[test]
    fn archives_that_leave_the_folder_repeat_a_path_or_link_are_refused() {
        let stored = zip::CompressionMethod::Stored;
        type Case<'a> = (&'a [(&'a str, &'a [u8])], &'a str);
        let cases: [Case<'_>; 4] = [
            (&[("../x", b"1")], "\"../x\" leaves the output folder"),
            (&[("a/../../x", b"1")], "leaves the output folder"),
            (&[("/etc/x", b"1")], "\"/etc/x\" is an absolute path"),
            (&[("a", b"1"), ("./a", b"2")], "holds \"a\" twice"),
        ];
        for (entries, expected) in cases {
            let error = OutputTree::from_archive(&zip_of(entries, stored), 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.add_symlink(
            "link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let error = OutputTree::from_archive(&bytes, 1 << 20)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "the result archive's entry \"link\" is a symbolic link"
        );
        let error = OutputTree::from_archive(b"not a zip", 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("the result archive is not a readable zip archive"));
    }

    #[test]
    fn an_archive_that_unpacks_past_the_limit_is_refused() {
        let big = vec![0u8; 10_000];
        let bytes = zip_of(&[("a", &big)], zip::CompressionMethod::Deflated);
        assert!(bytes.len() < 1_000);
        assert!(matches!(
            OutputTree::from_archive(&bytes, 9_999),
            Err(ArchiveError::TooLarge { limit: 9_999 })
        ));
        assert!(OutputTree::from_archive(&bytes, 10_000).is_ok());
    }
}
