//! An app's result (spec §7.3): `computed.json`, the digest workers agree on, and the archive
//! of the output directory.

use std::{io::Write, path::Path};

use agora_primitives::archive::{Entry, OutputTree};
use alloy_primitives::B256;

pub use agora_primitives::archive::{COMPUTED_JSON, ComputedFile};

use crate::{Error, Result};

/// What the protocol certifies of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// `computed.json`.
    pub computed: ComputedFile,
    /// The callback data, decoded, if the app gave some.
    pub callback_data: Option<Vec<u8>>,
    /// The result digest: `keccak(callback data)` when there is callback data, else the sha256
    /// of the deterministic file, or the tree hash of the deterministic folder.
    pub digest: B256,
}

impl TaskResult {
    /// Reads `computed.json` from `output_dir` and computes the digest, with the code the
    /// result store and the command line use on the archive
    /// ([`agora_primitives::archive::TaskResult::of`]).
    pub fn read(output_dir: &Path) -> Result<Self> {
        let computed = output_dir.join(COMPUTED_JSON);
        if let Err(e) = std::fs::metadata(&computed) {
            return Err(Error::BadResult(format!(
                "the app wrote no {}/{COMPUTED_JSON} ({e})",
                agora_primitives::archive::OUTPUT_ROOT
            )));
        }
        let tree = tree_of(output_dir)?;
        let result = agora_primitives::archive::TaskResult::of(&tree)
            .map_err(|e| Error::BadResult(e.to_string()))?;
        Ok(Self {
            computed: result.computed,
            callback_data: result.callback_data,
            digest: *result.digest.as_b256(),
        })
    }
}

/// The output folder `output_dir` in memory: its files, folders and other entries (links).
pub fn tree_of(output_dir: &Path) -> Result<OutputTree> {
    let mut tree = OutputTree::new();
    add(output_dir, output_dir, &mut tree)?;
    Ok(tree)
}

fn add(root: &Path, dir: &Path, tree: &mut OutputTree) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(Error::io(&path))?;
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if kind.is_dir() {
            tree.insert(relative, Entry::Folder);
            add(root, &path, tree)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
            tree.insert(relative, Entry::File(bytes));
        } else {
            tree.insert(relative, Entry::Other);
        }
    }
    Ok(())
}

/// Writes the output directory as a zip archive to `archive`: every file, sorted by path,
/// stored with fixed times and modes, so that the same output gives the same bytes.
pub fn write_archive(output_dir: &Path, archive: &Path) -> Result<()> {
    let bytes = archive_of(output_dir)?;
    std::fs::write(archive, bytes).map_err(Error::io(archive))
}

/// The result archive of `output_dir`, in memory: the same bytes [`write_archive`] writes.
pub fn archive_of(output_dir: &Path) -> Result<Vec<u8>> {
    let mut files = Vec::new();
    collect(output_dir, output_dir, &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let zip_error = |e: zip::result::ZipError| Error::Io {
        path: output_dir.to_path_buf(),
        source: std::io::Error::other(e),
    };
    for relative in files {
        let path = output_dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        zip.start_file(relative, options).map_err(zip_error)?;
        zip.write_all(&bytes).map_err(Error::io(&path))?;
    }
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(Error::io(&path))?;
        if kind.is_dir() {
            collect(root, &path, files)?;
        } else if kind.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            files.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;
    use sha2::{Digest, Sha256};

    use super::*;

    fn out_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        dir
    }

    #[test]
    fn a_file_digest_is_its_sha256() {
        let dir = out_dir(&[
            ("result.txt", b"abc"),
            (
                "computed.json",
                br#"{"deterministic-output-path":"/iexec_out/result.txt"}"#,
            ),
        ]);
        let result = TaskResult::read(dir.path()).unwrap();
        assert_eq!(
            result.digest.to_string(),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_folder_digest_is_the_keccak_of_its_sorted_file_hashes() {
        let dir = out_dir(&[
            ("res/b", b"2"),
            ("res/a", b"1"),
            (
                "computed.json",
                br#"{"deterministic-output-path":"/iexec_out/res"}"#,
            ),
        ]);
        let result = TaskResult::read(dir.path()).unwrap();
        let mut both = Sha256::digest(b"1").to_vec();
        both.extend(Sha256::digest(b"2"));
        assert_eq!(result.digest, keccak256(&both));
    }

    #[test]
    fn callback_data_is_digested_with_keccak() {
        let dir = out_dir(&[("computed.json", br#"{"callback-data":"0x04d2"}"#)]);
        let result = TaskResult::read(dir.path()).unwrap();
        assert_eq!(result.callback_data, Some(vec![0x04, 0xd2]));
        assert_eq!(result.digest, keccak256([0x04, 0xd2]));
    }

    #[test]
    fn bad_computed_files_are_named() {
        let cases: [(&[u8], &str); 5] = [
            (b"{", "is not valid"),
            (b"{}", "names neither"),
            (
                br#"{"deterministic-output-path":"/etc/passwd"}"#,
                "is not under /iexec_out",
            ),
            (
                br#"{"deterministic-output-path":"/iexec_out/../x"}"#,
                "is not under /iexec_out",
            ),
            (br#"{"callback-data":"zz"}"#, "is not hex bytes"),
        ];
        for (json, expected) in cases {
            let dir = out_dir(&[("computed.json", json)]);
            let error = TaskResult::read(dir.path()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        let empty = tempfile::tempdir().unwrap();
        let error = TaskResult::read(empty.path()).unwrap_err().to_string();
        assert!(
            error.contains("wrote no /iexec_out/computed.json"),
            "{error}"
        );
    }

    #[test]
    fn the_archive_is_the_same_bytes_for_the_same_output() {
        let files: [(&str, &[u8]); 3] = [
            ("result.txt", b"abc"),
            ("sub/x.bin", &[0, 1, 2]),
            ("computed.json", b"{}"),
        ];
        let (a, b) = (out_dir(&files), out_dir(&files));
        let target = tempfile::tempdir().unwrap();
        let (za, zb) = (target.path().join("a.zip"), target.path().join("b.zip"));
        write_archive(a.path(), &za).unwrap();
        write_archive(b.path(), &zb).unwrap();
        let bytes = std::fs::read(&za).unwrap();
        assert_eq!(bytes, std::fs::read(&zb).unwrap());
        let mut reader = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<_> = reader.file_names().map(String::from).collect();
        assert_eq!(names.len(), 3);
        let mut content = |name: &str| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut reader.by_name(name).unwrap(), &mut bytes).unwrap();
            bytes
        };
        assert_eq!(content("result.txt"), b"abc");
        assert_eq!(content("sub/x.bin"), [0, 1, 2]);
        assert_eq!(content("computed.json"), b"{}");
    }
}
