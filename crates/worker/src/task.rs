//! What an app is told about its task (spec §7.5): its arguments from the deal's `params`,
//! its environment variables, and where its inputs are.

use alloy_primitives::{Address, B256};
use sha2::{Digest, Sha256};

use crate::{Error, GUEST_IN, GUEST_OUT, Result};

/// The deal's `params` (spec §7.5): a JSON object, or a plain string taken as `iexec_args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DealParams {
    /// `iexec_args`: the app's command line, split like a shell's.
    pub args: String,
    /// `iexec_input_files`: URLs of files the worker downloads into the input directory.
    pub input_files: Vec<String>,
    /// `iexec_result_encryption`.
    pub result_encryption: bool,
    /// `iexec_result_storage_provider`.
    pub storage_provider: Option<String>,
    /// `iexec_result_storage_proxy`.
    pub storage_proxy: Option<String>,
}

impl DealParams {
    /// Reads a deal's `params`. Text that is not a JSON object is the arguments themselves.
    pub fn parse(params: &str) -> Result<Self> {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(params) else {
            return Ok(Self {
                args: params.to_string(),
                ..Self::default()
            });
        };
        let text = |key: &str| -> Result<Option<String>> {
            match map.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(Error::Params(format!(
                    "{key} must be a string, got {other}"
                ))),
            }
        };
        let input_files = match map.get("iexec_input_files") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(urls)) => urls
                .iter()
                .map(|url| match url {
                    serde_json::Value::String(url) => Ok(url.clone()),
                    other => Err(Error::Params(format!(
                        "iexec_input_files must hold URLs, got {other}"
                    ))),
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(Error::Params(format!(
                    "iexec_input_files must be a list of URLs, got {other}"
                )));
            }
        };
        let result_encryption = match map.get("iexec_result_encryption") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(other) => {
                return Err(Error::Params(format!(
                    "iexec_result_encryption must be true or false, got {other}"
                )));
            }
        };
        Ok(Self {
            args: text("iexec_args")?.unwrap_or_default(),
            input_files,
            result_encryption,
            storage_provider: text("iexec_result_storage_provider")?,
            storage_proxy: text("iexec_result_storage_proxy")?,
        })
    }
}

/// Splits a command line as a POSIX shell does for words: blanks separate arguments, single
/// quotes keep everything literally, double quotes keep blanks (with `\"`, `\\` and `\$`
/// escapes inside), a backslash outside quotes keeps the next character.
pub fn split_args(line: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(unclosed(line, '\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(unclosed(line, '"')),
                        },
                        Some(c) => current.push(c),
                        None => return Err(unclosed(line, '"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => current.push(c),
                    None => {
                        return Err(Error::Params(format!(
                            "iexec_args {line:?} ends with a lone backslash"
                        )));
                    }
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

fn unclosed(line: &str, quote: char) -> Error {
    Error::Params(format!("iexec_args {line:?} has an unclosed {quote}"))
}

/// A dataset given to the task: the file lands in the input directory under `filename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    /// The dataset's address.
    pub address: Address,
    /// Its file name in the input directory (iExec names it after the address).
    pub filename: String,
}

impl DatasetInput {
    /// The dataset at `address`, named as iExec names it: its address.
    pub fn new(address: Address) -> Self {
        Self {
            address,
            filename: address.to_checksum(None),
        }
    }
}

/// What the worker knows of the task it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    /// The task.
    pub task_id: B256,
    /// Its deal.
    pub deal_id: B256,
    /// Its index in the deal (from `bot_first`).
    pub index: u64,
    /// The deal's first task index.
    pub bot_first: u64,
    /// The deal's number of tasks.
    pub bot_size: u64,
    /// The deal's start (seconds since the Unix epoch): the app's clock starts there.
    pub deal_start: u64,
    /// The deal's params.
    pub params: DealParams,
    /// The dataset, if the deal has one.
    pub dataset: Option<DatasetInput>,
}

impl TaskContext {
    /// The app's arguments: the deal's `iexec_args`, split.
    pub fn args(&self) -> Result<Vec<String>> {
        split_args(&self.params.args)
    }

    /// The name of input file `url` in the input directory: the sha256 of the URL, in hex
    /// (spec §7.5).
    pub fn input_file_name(url: &str) -> String {
        hex::encode(Sha256::digest(url.as_bytes()))
    }

    /// The environment variables of spec §7.5.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("IEXEC_TASK_ID".into(), self.task_id.to_string()),
            ("IEXEC_DEAL_ID".into(), self.deal_id.to_string()),
            ("IEXEC_TASK_INDEX".into(), self.index.to_string()),
            ("IEXEC_BOT_TASK_INDEX".into(), self.index.to_string()),
            ("IEXEC_BOT_FIRST_INDEX".into(), self.bot_first.to_string()),
            ("IEXEC_BOT_SIZE".into(), self.bot_size.to_string()),
            ("IEXEC_IN".into(), GUEST_IN.into()),
            ("IEXEC_OUT".into(), GUEST_OUT.into()),
            ("IEXEC_INPUT_FILES_FOLDER".into(), GUEST_IN.into()),
            (
                "IEXEC_INPUT_FILES_NUMBER".into(),
                self.params.input_files.len().to_string(),
            ),
        ];
        for (i, url) in self.params.input_files.iter().enumerate() {
            env.push((
                format!("IEXEC_INPUT_FILE_NAME_{}", i + 1),
                Self::input_file_name(url),
            ));
        }
        if let Some(dataset) = &self.dataset {
            env.push(("IEXEC_DATASET_ADDRESS".into(), dataset.address.to_string()));
            env.push(("IEXEC_DATASET_FILENAME".into(), dataset.filename.clone()));
        }
        env
    }

    /// The seed of the app's randomness: `sha256("agora.task.seed" ‖ taskid)`, the same for
    /// every worker of the task and different for every task.
    pub fn seed(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"agora.task.seed")
            .chain_update(self.task_id)
            .finalize()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_json_or_plain_arguments() {
        let params = DealParams::parse(
            r#"{"iexec_args":"Alice Bob","iexec_input_files":["https://x/a.txt"],"iexec_result_encryption":false,"iexec_result_storage_provider":"ipfs"}"#,
        )
        .unwrap();
        assert_eq!(params.args, "Alice Bob");
        assert_eq!(params.input_files, vec!["https://x/a.txt".to_string()]);
        assert_eq!(params.storage_provider.as_deref(), Some("ipfs"));
        assert_eq!(DealParams::parse("just words").unwrap().args, "just words");
        assert_eq!(DealParams::parse("").unwrap(), DealParams::default());
        let error = DealParams::parse(r#"{"iexec_args": 3}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad params: iexec_args must be a string, got 3"
        );
        assert!(DealParams::parse(r#"{"iexec_input_files": "x"}"#).is_err());
    }

    #[test]
    fn arguments_split_like_a_shell() {
        assert_eq!(split_args("  a b\tc ").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_args(r#"'one two' "three \"four\"" five\ six"#).unwrap(),
            ["one two", r#"three "four""#, "five six"]
        );
        assert_eq!(split_args(r#"x'' """#).unwrap(), ["x", ""]);
        assert!(split_args("'open").is_err());
        assert!(split_args("end\\").is_err());
    }

    #[test]
    fn the_environment_has_the_spec_variables() {
        let context = TaskContext {
            task_id: B256::repeat_byte(1),
            deal_id: B256::repeat_byte(2),
            index: 3,
            bot_first: 2,
            bot_size: 5,
            deal_start: 1,
            params: DealParams {
                input_files: vec!["https://example.com/a".into()],
                ..DealParams::default()
            },
            dataset: Some(DatasetInput::new(Address::repeat_byte(0xab))),
        };
        let env: std::collections::HashMap<_, _> = context.env().into_iter().collect();
        assert_eq!(env["IEXEC_TASK_ID"], format!("0x{}", "01".repeat(32)));
        assert_eq!(env["IEXEC_IN"], "/iexec_in");
        assert_eq!(env["IEXEC_OUT"], "/iexec_out");
        assert_eq!(env["IEXEC_TASK_INDEX"], "3");
        assert_eq!(env["IEXEC_BOT_SIZE"], "5");
        assert_eq!(env["IEXEC_INPUT_FILES_NUMBER"], "1");
        assert_eq!(
            env["IEXEC_INPUT_FILE_NAME_1"],
            TaskContext::input_file_name("https://example.com/a")
        );
        assert_eq!(
            env["IEXEC_DATASET_FILENAME"],
            Address::repeat_byte(0xab).to_checksum(None)
        );
        assert_ne!(context.seed(), [0; 32]);
    }
}
